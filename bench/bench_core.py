"""Neuron-core benchmark (``make bench-core``): a table of events per second.

A 64x64 core at P = 1, 4, 8 runs a fully connected layer (bw=4, bv=12, 13 inputs, 64
neurons) on a stream of distinct-source events with a tick every 100 events, input at full
speed and no output back-pressure. Reported: simulated cycles per input event (end to end),
the controller's work cycles per event (the RTL counter, equal to the golden model's count),
the ideal cost of a full batch ``1 + (accumulate + 1) / P``, input events per second at a
100 MHz clock, and the simulator's speed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flexspim.config import CoreConfig, MacroConfig  # noqa: E402
from flexspim.golden.cycles import accumulate_cycles  # noqa: E402
from flexspim.hdl.core import NeuronCore  # noqa: E402
from flexspim.testbench.sim import BUILD_ROOT, emit_verilog, run_cocotb  # noqa: E402

CLOCK_HZ = 100e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batches", default="1,4,8")
    ap.add_argument("--events", type=int, default=20000)
    a = ap.parse_args()
    rows = []
    plan = [int(p) for p in a.batches.split(",")]
    for i, P in enumerate(plan, 1):
        print(f"[{i}/{len(plan)}] {a.size}x{a.size} core, P={P} ...", flush=True)
        core = CoreConfig(MacroConfig(rows=a.size, cols=a.size, batch_max=P), fifo_depth=16)
        build = BUILD_ROOT / "bench" / f"core{a.size}_P{P}"
        src = emit_verilog(NeuronCore(core), "flexspim_core", build)
        out = build / "bench.json"
        run_cocotb(toplevel="flexspim_core", sources=[src], test_module="bench_core_tb",
                   build_dir=build, extra_env={"FLEXSPIM_CORE": json.dumps(core.to_dict()),
                                               "FLEXSPIM_EVENTS": str(a.events),
                                               "FLEXSPIM_BENCH_OUT": str(out)})
        r = json.loads(out.read_text())
        acc = accumulate_cycles(core.macro, 12, True)
        rows.append((P, r["sim_cycles"] / r["events"], r["work_cycles"] / r["events"],
                     1 + (acc + 1) / P, CLOCK_HZ * r["events"] / r["sim_cycles"],
                     r["sim_cycles"] / r["wall"]))
    print()
    print(f"| P | sim cycles/event | work cycles/event (RTL = golden) | ideal full batch | "
          f"events/s at {CLOCK_HZ / 1e6:.0f} MHz | sim cycles/s |")
    print("|---|---|---|---|---|---|")
    for P, c, w, ideal, eps, cps in rows:
        print(f"| {P} | {c:.2f} | {w:.2f} | {ideal:.2f} | {eps:,.0f} | {cps:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
