"""Neuron-core benchmark (``make bench-core``): a table of events per second.

A 64x64 core at P = 1, 4, 8, 16 runs a fully connected layer (bw=2, bv=12, saturate, shift
leak, 26 inputs, 64 neurons: one neuron slot) on a stream of events in cyclic source order
(full batches) with a tick every 100 events (``--tick-every``), input at full speed and no
output back-pressure. Reported: simulated cycles per input event (end to end), the engine's cycles
per event (the RTL ``CYCLES`` counter, equal to the golden model's count), two limits and the
end-to-end cycles as a multiple of each: the macro's (one accumulate without clamp per ``P``
events, ``accumulate_cycles / P``) and the bit-serial one (``(bv + guard) / P``), input
events per second at a 100 MHz clock, and the simulator's speed with two stream drivers, in
one simulation of one
build (the core inside `testbench.stream_harness.StreamHarness`, clock generated in the
simulator): the Python driver that wakes every clock (`testbench.streams`, the harness
transparent) and the bulk driver (`testbench.bulk_streams`: the stream in HDL memories, Python
asleep until the run ends or a memory needs service), and their ratio. The stream is cut into
segments driven alternately by the two, so load changes on a shared machine hit both alike;
the whole output and the work-cycle counter are checked against the golden model.
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
DEPTH = 4096            # events per harness memory (longer streams go in chunks)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batches", default="1,4,8,16")
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--tick-every", type=int, default=100)
    a = ap.parse_args()
    rows, parts = [], []
    plan = [int(p) for p in a.batches.split(",")]
    for i, P in enumerate(plan, 1):
        print(f"[{i}/{len(plan)}] {a.size}x{a.size} core, P={P} ...", flush=True)
        core = CoreConfig(MacroConfig(rows=a.size, cols=a.size, batch_max=P), fifo_depth=16)
        build = BUILD_ROOT / "bench" / f"core{a.size}_P{P}"
        hb = emit_harness(NeuronCore(core), "flexspim_core_tb", build, DEPTH)
        out = build / "bench.json"
        run_cocotb(test_module="bench_core_tb", build_dir=build, **hb.run_kwargs(),
                   extra_env={"FLEXSPIM_CORE": json.dumps(core.to_dict()),
                              "FLEXSPIM_LAYER": json.dumps(LAYER.to_dict()),
                              "FLEXSPIM_TICK_EVERY": str(a.tick_every),
                              "FLEXSPIM_EVENTS": str(a.events), "FLEXSPIM_DEPTH": str(DEPTH),
                              "FLEXSPIM_BENCH_OUT": str(out)})
        res = json.loads(out.read_text())
        py, bk = res["python"], res["bulk"]
        n0 = accumulate_cycles(core.macro, LAYER.bv, True, clamp=False)
        macro_limit = n0 / P
        # where the engine cycles go (per input event), from the golden model's counts
        ev, fire = res["events"], res["ticks"] * fire_cycles(LAYER)
        acc = res["work_cycles"] - fire
        parts.append((P, ev / P * n0 / ev, (res["batches"] - ev / P) * n0 / ev,
                      (acc - res["batches"] * n0) / ev, fire / ev))
        serial_limit = (12 + core.macro.guard_cycles) / P
        speed_py, speed_bk = py["sim_cycles"] / py["wall"], bk["sim_cycles"] / bk["wall"]
        cycles = py["sim_cycles"] + bk["sim_cycles"]
        events = py["events"] + bk["events"]
        rows.append((P, cycles / events, res["work_cycles"] / res["events"], macro_limit,
                     serial_limit, CLOCK_HZ * events / cycles,
                     speed_py, speed_bk, bk["wakeups"], bk["io_seconds"]))
    print()
    print(f"| P | sim cycles/event | engine cycles/event (RTL = golden) | macro limit | x | "
          f"bit-serial limit | x | events/s at {CLOCK_HZ / 1e6:.0f} MHz | sim cycles/s, "
          f"Python driver | sim cycles/s, bulk driver | speed-up | bulk: wake-ups, memory I/O |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for P, c, w, lim, ser, eps, cps_py, cps_bk, wake, io in rows:
        print(f"| {P} | {c:.2f} | {w:.2f} | {lim:.2f} | {c / lim:.2f} | {ser:.2f} | "
              f"{c / ser:.2f} | {eps:,.0f} | {cps_py:,.0f} | {cps_bk:,.0f} | "
              f"{cps_bk / cps_py:.1f}x | {wake}, {io:.2f} s |")
    print()
    print("Engine cycles per input event, by cause (golden model counts; the rest of the "
          "end-to-end figure is pipeline overhead):")
    print()
    print("| P | full batches (macro limit) | extra batches cut by ticks | clamp passes | "
          "fire passes | pipeline overhead |")
    print("|---|---|---|---|---|---|")
    for (P, full, extra, clamp, fire), row in zip(parts, rows):
        print(f"| {P} | {full:.2f} | {extra:.2f} | {clamp:.2f} | {fire:.2f} | "
              f"{row[1] - row[2]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
