"""Neuron-core benchmark (``make bench-core``): cycles per event against the macro's limits.

A 64x64 core at P = 1, 4, 8, 16 runs a fully connected layer (bw=2, bv=12, saturate, shift
leak, 26 inputs, 64 neurons: one neuron slot) on a stream of events in cyclic source order
(full batches) with a tick every N events (``--ticks``, default 100 and 1000: a fire pass per
100 or per 1000 events), input at full speed and no output back-pressure. Two weight
workloads (``--workloads``):

* ``balanced``: weights drawn from {-1, 0, 1} (mean 0), threshold 24: the potentials wander
  around 0 and neurons fire; the few whose weights sum far from 0 reach a bound between
  sparse ticks (2-6% of the batches clamp at a tick every 1000 events). The default.
* ``saturating``: weights from {-2, -1, 0, 1} (mean -1/2), threshold 100: the potentials
  drift to the negative bound and sit there, nothing fires, and many batches pay the clamp
  pass. A stress case for the data-dependent clamp (it was this bench's only workload before
  issue 13 was closed).

Reported per P: simulated cycles per input event (end to end, first input handshake to the
last output), the engine's cycles per event (the RTL ``CYCLES`` counter, equal to the golden
model's count) and three limits, with the end-to-end figure as a multiple of each:

* the **macro limit**, one accumulate without clamp per ``P`` events (``accumulate_cycles /
  P``): the issue's target is within 1.3x of it;
* the **stream's work**: what this macro must spend on this exact stream however well it is
  fed: the batches the batching rule makes (a tick closes a batch, so each time step ends with
  a partial one) at one clamp-free accumulate each, plus one fire pass per tick. End to end
  over this is the cost of the core's pipeline and of the clamps;
* the **bit-serial limit** ``(bv + guard) / P``.

Also input events per second at a 100 MHz clock, the output spikes, the batches that paid the
clamp pass, and the simulator's speed with two stream drivers, in one simulation of one build
(the core inside `testbench.stream_harness.StreamHarness`, clock generated in the simulator):
the Python driver that wakes every clock (`testbench.streams`, the harness transparent) and
the bulk driver (`testbench.bulk_streams`: the stream in HDL memories, Python asleep until the
run ends or a memory needs service), and their ratio. The stream is cut into segments driven
alternately by the two, so load changes on a shared machine hit both alike; the whole output
and the work-cycle counter are checked against the golden model. A segment ends when its last
output is out, so the simulated pipeline drains 8 times per run; the breakdown's pipeline
overhead is therefore taken from the golden timeline of the whole stream at full speed
(`golden.core_timeline`, which the RTL core test matches cycle for cycle), and the drains
are shown apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flexspim.config import CoreConfig, LayerConfig, MacroConfig  # noqa: E402
from flexspim.golden.cycles import accumulate_cycles, fire_cycles  # noqa: E402
from flexspim.hdl.core import NeuronCore  # noqa: E402
from flexspim.testbench.sim import BUILD_ROOT, run_cocotb  # noqa: E402
from flexspim.testbench.stream_harness import emit_harness  # noqa: E402

CLOCK_HZ = 100e6
LAYER = LayerConfig(bw=2, bv=12, threshold=100, leak_mode="shift", leak=3)
#: name -> (weights' range [lo, hi], threshold)
WORKLOADS = {"balanced": ((-1, 1), 24), "saturating": ((-2, 1), 100)}
DEPTH = 4096            # events per harness memory (longer streams go in chunks)


def run_point(size: int, P: int, layer: LayerConfig, weights, events: int, tick: int) -> dict:
    """One simulation: the bench_core_tb result plus the golden cycle breakdown."""
    core = CoreConfig(MacroConfig(rows=size, cols=size, batch_max=P), fifo_depth=16)
    build = BUILD_ROOT / "bench" / f"core{size}_P{P}"
    hb = emit_harness(NeuronCore(core), "flexspim_core_tb", build, DEPTH)
    out = build / "bench.json"
    run_cocotb(test_module="bench_core_tb", build_dir=build, **hb.run_kwargs(),
               extra_env={"FLEXSPIM_CORE": json.dumps(core.to_dict()),
                          "FLEXSPIM_LAYER": json.dumps(layer.to_dict()),
                          "FLEXSPIM_WEIGHTS": json.dumps(list(weights)),
                          "FLEXSPIM_TICK_EVERY": str(tick),
                          "FLEXSPIM_EVENTS": str(events), "FLEXSPIM_DEPTH": str(DEPTH),
                          "FLEXSPIM_BENCH_OUT": str(out)})
    res = json.loads(out.read_text())
    n0 = accumulate_cycles(core.macro, layer.bv, True, clamp=False)
    n1 = accumulate_cycles(core.macro, layer.bv, True, clamp=True)
    ev = res["events"]
    fire = res["ticks"] * fire_cycles(layer)          # one neuron slot: one fire per tick
    clamp = res["work_cycles"] - fire - res["batches"] * n0
    py, bk = res["python"], res["bulk"]
    cycles = py["sim_cycles"] + bk["sim_cycles"]
    return {
        "P": P, "end_to_end": cycles / (py["events"] + bk["events"]),
        "engine": res["work_cycles"] / ev,
        "macro_limit": n0 / P,
        "work": (res["batches"] * n0 + fire) / ev,
        "serial_limit": (layer.bv + core.macro.guard_cycles) / P,
        "full": n0 / P, "extra": (res["batches"] - ev / P) * n0 / ev,
        "clamp": clamp / ev, "fire": fire / ev,
        "clamped_batches": clamp // (n1 - n0), "batches": res["batches"],
        "spikes": res["spikes"], "timeline": res["elapsed"] / ev,
        "cps_py": py["sim_cycles"] / py["wall"], "cps_bk": bk["sim_cycles"] / bk["wall"],
        "cpu_py": py["sim_cycles"] / py["cpu"], "cpu_bk": bk["sim_cycles"] / bk["cpu"],
        "wakeups": bk["wakeups"], "io": bk["io_seconds"],
    }


def print_tables(rows: list[dict]) -> None:
    print(f"| P | sim cycles/event | engine cycles/event (RTL = golden) | macro limit | x | "
          f"stream's work | x | bit-serial limit | x | events/s at {CLOCK_HZ / 1e6:.0f} MHz | "
          f"spikes out | clamped batches |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        c = r["end_to_end"]
        print(f"| {r['P']} | {c:.2f} | {r['engine']:.2f} | {r['macro_limit']:.2f} | "
              f"{c / r['macro_limit']:.2f} | {r['work']:.2f} | {c / r['work']:.2f} | "
              f"{r['serial_limit']:.2f} | {c / r['serial_limit']:.2f} | "
              f"{CLOCK_HZ / c:,.0f} | {r['spikes']:,} | "
              f"{r['clamped_batches']:,} of {r['batches']:,} |")
    print()
    print("Cycles per input event, by cause (golden-model counts; the pipeline overhead is "
          "the golden timeline of the whole stream at full speed minus the engine's cycles; "
          "the drains are the simulation's 8 segment ends):")
    print()
    print("| P | full batches (macro limit) | extra batches cut by ticks | fire passes | "
          "clamp passes | pipeline overhead | segment drains |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['P']} | {r['full']:.2f} | {r['extra']:.2f} | {r['fire']:.2f} | "
              f"{r['clamp']:.2f} | {r['timeline'] - r['engine']:.2f} | "
              f"{r['end_to_end'] - r['timeline']:.2f} |")
    print()
    print("Simulator speed, same simulation (simulated cycles per second of wall time, and "
          "per second of the simulation process's CPU time, which other jobs do not stretch):")
    print()
    print("| P | Python driver, wall | bulk driver, wall | speed-up | Python driver, CPU | "
          "bulk driver, CPU | speed-up | bulk: wake-ups, memory I/O |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['P']} | {r['cps_py']:,.0f} | {r['cps_bk']:,.0f} | "
              f"{r['cps_bk'] / r['cps_py']:.1f}x | {r['cpu_py']:,.0f} | {r['cpu_bk']:,.0f} | "
              f"{r['cpu_bk'] / r['cpu_py']:.1f}x | {r['wakeups']}, {r['io']:.2f} s |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batches", default="1,4,8,16")
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--ticks", default="100,1000", help="tick every N events (a list)")
    ap.add_argument("--workloads", default="balanced",
                    help=f"comma list of {', '.join(WORKLOADS)}")
    a = ap.parse_args()
    plan = [int(p) for p in a.batches.split(",")]
    ticks = [int(t) for t in a.ticks.split(",")]
    loads = a.workloads.split(",")
    for w in loads:
        if w not in WORKLOADS:
            ap.error(f"--workloads: {w!r} is not one of {', '.join(WORKLOADS)}")
    cases = [(w, t) for w in loads for t in ticks]
    results = {}
    n, i = len(cases) * len(plan), 0
    for w, t in cases:
        weights, theta = WORKLOADS[w]
        layer = LayerConfig(**{**LAYER.to_dict(), "threshold": theta})
        for P in plan:
            i += 1
            print(f"[{i}/{n}] {w}, tick every {t}: {a.size}x{a.size} core, P={P} ...",
                  flush=True)
            results.setdefault((w, t), []).append(
                run_point(a.size, P, layer, weights, a.events, t))
    for (w, t), rows in results.items():
        (lo, hi), theta = WORKLOADS[w]
        print(f"\n### {w} workload (weights {lo}..{hi}, threshold {theta}), a tick every {t} "
              f"events, {a.events} events\n")
        print_tables(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
