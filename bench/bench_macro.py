"""Macro generator and simulation benchmark (``make bench-macro``): prints a table.

Per geometry (P=8 unless ``--batch``): Amaranth-to-Verilog conversion time; the Verilator
build of the design in a fresh folder, wall time and CPU time (verilation and the C++
compile, which run in child processes, plus the simulator's start-up on one operation), with
**ccache off** (``FLEXSPIM_CCACHE=0``) and Verilator's runtime library **linked from the
shared prebuilt object** (`flexspim.testbench.sim.shared_runtime`, compiled once per
toolchain: its own CPU time is printed above the table, and it is what every build folder
would otherwise compile again); then simulated clock cycles per wall-clock second under cocotb
while running back-to-back saturating accumulates (bv=16 and bw=8 where they fit, all P
slots), and the cycles the accumulates took in simulation next to the golden formula
without and with the clamp pass (it runs only when an enabled column overflowed).
``--geometries 16,64,128`` chooses sizes; ``--build-only 256`` only converts and builds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# measured without ccache: set before the harness reads it (setup_verilator drops OBJCACHE)
os.environ["FLEXSPIM_CCACHE"] = "0"

from flexspim.config import MacroConfig  # noqa: E402
from flexspim.hdl.emit import to_verilog  # noqa: E402
from flexspim.hdl.macro import CimMacro  # noqa: E402
from flexspim.testbench.sim import (  # noqa: E402
    BUILD_ROOT,
    run_cocotb,
    setup_verilator,
    shared_runtime,
)

# the same Verilator arguments run_cocotb uses for a design without extra build_args
RUN_COCOTB_ARGS = ["-Wno-fatal", "--no-public-flat-rw", "--output-split-cfuncs", "1000",
                   "--x-initial", "unique", "--x-assign", "unique"]


def child_cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


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
    env = {"FLEXSPIM_MACRO": json.dumps(cfg.to_dict()), "FLEXSPIM_BENCH_OUT": str(out)}

    def run(n_ops):
        run_cocotb(toplevel="flexspim_macro", sources=[src], test_module="bench_macro_tb",
                   build_dir=build, extra_env={**env, "FLEXSPIM_OPS": str(n_ops)})

    t0, c0 = time.perf_counter(), child_cpu()
    run(1)                  # build + one operation
    build_wall, build_cpu = time.perf_counter() - t0, child_cpu() - c0
    row = {"geometry": f"{size}x{size}", "P": P, "convert_s": convert, "build_s": build_wall,
           "build_cpu_s": build_cpu, "lines": text.count("\n"), "cycles_per_s": None}
    if simulate:
        run(ops)            # the folder is up to date: no rebuild
    r = json.loads(out.read_text())
    row.update(cycles_per_op=r["cycles_per_op"], formula=r["formula"], bv=r["bv"], bw=r["bw"])
    if simulate:
        row["cycles_per_s"] = r["cycles"] / r["wall"]
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--geometries", default="16,64,128")
    ap.add_argument("--build-only", default="256")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--ops", type=int, default=3000)
    a = ap.parse_args()
    setup_verilator()
    t0, c0 = time.perf_counter(), child_cpu()
    runtime = shared_runtime(RUN_COCOTB_ARGS)
    rt_wall, rt_cpu = time.perf_counter() - t0, child_cpu() - c0
    print(f"shared Verilator runtime: {runtime[0] if runtime else 'off'} "
          f"({'built now' if rt_cpu > 1 else 'already built'}: {rt_wall:.1f} s wall, "
          f"{rt_cpu:.1f} s CPU; once per toolchain, not counted below)", flush=True)
    rows = []
    plan = [(int(s), True) for s in a.geometries.split(",") if s] + \
           [(int(s), False) for s in a.build_only.split(",") if s]
    for i, (size, sim) in enumerate(plan, 1):
        print(f"[{i}/{len(plan)}] {size}x{size} P={a.batch} ...", flush=True)
        rows.append(bench(size, a.batch, a.ops, sim))
    print()
    print("Verilator build: fresh folder, ccache off, shared runtime linked; CPU = child "
          "processes (verilation, C++ compile, link, simulator start-up on one operation)")
    print()
    print("| geometry | P | bv/bw | Verilog lines | convert (s) | build wall (s) | "
          "build CPU (s) | sim cycles/s | cycles/accumulate (sim) | "
          "golden: no clamp / clamp |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cps = f"{r['cycles_per_s']:,.0f}" if r["cycles_per_s"] else "(build only)"
        print(f"| {r['geometry']} | {r['P']} | {r['bv']}/{r['bw']} | {r['lines']:,} | "
              f"{r['convert_s']:.2f} | {r['build_s']:.1f} | {r['build_cpu_s']:.1f} | "
              f"{cps} | {','.join(map(str, r['cycles_per_op']))} | "
              f"{r['formula'][0]} / {r['formula'][1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
