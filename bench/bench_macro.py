"""Macro generator and simulation benchmark (``make bench-macro``): prints a table.

Per geometry (P=8): Amaranth-to-Verilog conversion time, Verilator build time (fresh folder,
ccache disabled), simulated clock cycles per wall-clock second under cocotb while running
back-to-back saturating accumulates (bv=16 and bw=8 where they fit, all P
slots), and the cycles one accumulate
took in simulation next to the golden formula. ``--geometries 16,64,128`` chooses sizes;
``--build-only 256`` only converts and builds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flexspim.config import MacroConfig  # noqa: E402
from flexspim.hdl.emit import to_verilog  # noqa: E402
from flexspim.hdl.macro import CimMacro  # noqa: E402
from flexspim.testbench.sim import BUILD_ROOT, run_cocotb, setup_verilator  # noqa: E402


def bench(size: int, P: int, ops: int, simulate: bool) -> dict:
    cfg = MacroConfig(rows=size, cols=size, batch_max=P)
    t0 = time.perf_counter()
    text = to_verilog(CimMacro(cfg), "flexspim_macro")
    convert = time.perf_counter() - t0
    build = BUILD_ROOT / "bench" / f"macro{size}_P{P}"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    src = build / "flexspim_macro.v"
    src.write_text(text)
    out = build / "bench.json"
    setup_verilator()
    os.environ["MAKEFLAGS"] = " ".join(f for f in os.environ["MAKEFLAGS"].split()
                                       if not f.startswith("OBJCACHE="))
    t0 = time.perf_counter()
    # the same build run_cocotb does, timed on its own
    run_cocotb(toplevel="flexspim_macro", sources=[src], test_module="bench_macro_tb",
               build_dir=build, extra_env={"FLEXSPIM_MACRO": json.dumps(cfg.to_dict()),
                                           "FLEXSPIM_OPS": str(ops if simulate else 1),
                                           "FLEXSPIM_BENCH_OUT": str(out)})
    total = time.perf_counter() - t0
    r = json.loads(out.read_text())
    sim = r["wall"]
    row = {"geometry": f"{size}x{size}", "P": P, "convert_s": convert,
           "build_s": total - sim, "cycles_per_op": r["cycles_per_op"],
           "formula": r["formula"], "bv": r["bv"], "bw": r["bw"]}
    row["cycles_per_s"] = (r["ops"] * r["formula"] / sim) if simulate else None
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--geometries", default="16,64,128")
    ap.add_argument("--build-only", default="256")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--ops", type=int, default=3000)
    a = ap.parse_args()
    rows = []
    plan = [(int(s), True) for s in a.geometries.split(",") if s] + \
           [(int(s), False) for s in a.build_only.split(",") if s]
    for i, (size, sim) in enumerate(plan, 1):
        print(f"[{i}/{len(plan)}] {size}x{size} P={a.batch} ...", flush=True)
        rows.append(bench(size, a.batch, a.ops, sim))
    print()
    print("| geometry | P | bv/bw | convert (s) | Verilator build (s) | sim cycles/s | "
          "cycles/accumulate (sim) | golden formula |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        cps = f"{r['cycles_per_s']:,.0f}" if r["cycles_per_s"] else "(build only)"
        print(f"| {r['geometry']} | {r['P']} | {r['bv']}/{r['bw']} | {r['convert_s']:.2f} | "
              f"{r['build_s']:.1f} | "
              f"{cps} | {','.join(map(str, r['cycles_per_op']))} | {r['formula']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
