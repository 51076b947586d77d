"""Area and Fmax table from the real cell library (``make bench-synth``).

For each geometry and top (macro, core), ``flexspim synth``'s flow (Yosys + ABC to the OSU
0.18 um Liberty, OpenSTA): total / storage / periphery cell area, cells, flip-flops, critical
path, Fmax, and the wall time. Every run keeps its netlist, logs and ``synth.json`` under
``build/bench-synth/<top>-<R>x<C>-P<P>/<storage>/``; a run whose ``synth.json`` is there is
not redone (``--fresh`` redoes it). Prints a Markdown table (the README's).

    python bench/bench_synth.py [--geometries 64,256] [--tops macro,core] [--batch 8]
                                [--storage synth|bitcell]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from flexspim.config import CoreConfig, MacroConfig
from flexspim.flow import default_liberty, load_liberty
from flexspim.flow.design import synth_design

ROOT = Path(__file__).resolve().parent.parent / "build" / "bench-synth"


def one(top: str, size: int, batch: int, lib, fresh: bool, storage: str) -> dict:
    folder = ROOT / f"{top}-{size}x{size}-P{batch}" / storage
    done = folder / "synth.json"
    if done.is_file() and not fresh:
        return json.loads(done.read_text())
    macro = MacroConfig(rows=size, cols=size, batch_max=batch)
    cfg = macro if top == "macro" else CoreConfig(macro=macro)
    t0 = time.perf_counter()
    rec = synth_design(top, cfg, lib, folder,
                       lambda s: print(f"  [{top} {size}x{size} {time.perf_counter() - t0:7.1f}s]"
                                       f" {s}", file=sys.stderr, flush=True),
                       storage=storage)
    rec["wall_s"] = time.perf_counter() - t0
    done.write_text(json.dumps(rec, indent=2) + "\n")
    return rec


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--geometries", default="64,256", help="square sizes (default 64,256)")
    ap.add_argument("--tops", default="macro,core", help="macro and/or core")
    ap.add_argument("--batch", type=int, default=8, help="P (default 8)")
    ap.add_argument("--liberty", type=Path, help="Liberty (default OSU 0.18)")
    ap.add_argument("--storage", default="synth", choices=("synth", "bitcell"),
                    help="storage synthesized (default) or priced per bit (flow/bitcell.py)")
    ap.add_argument("--fresh", action="store_true", help="redo runs already in build/")
    a = ap.parse_args()
    lib = load_liberty(a.liberty or default_liberty())
    rows = []
    for size in (int(s) for s in a.geometries.split(",")):
        for top in a.tops.split(","):
            r = one(top, size, a.batch, lib, a.fresh, a.storage)
            rows.append((top, size, r))
    print(f"\nLiberty: {lib.name} ({lib.path}); Yosys + ABC, OpenSTA (ideal clock, no wires); "
          f"P = {a.batch}, core defaults (FIFO 16, 16-bit index); storage: "
          + ("synthesized as flip-flops" if a.storage == "synth" else
             "custom macro priced per bit (flow/bitcell.py), its access time not timed")
          + "\n")
    print("| top | geometry | area (um2) | storage (um2) | periphery (um2) | cells | flip-flops "
          "| critical path (ns) | Fmax (MHz) | synth wall time (s) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for top, size, r in rows:
        a_ = r["area_um2"]
        print(f"| {top} | {size}x{size} | {a_['total']:,.0f} | {a_['storage']:,.0f} | "
              f"{a_['periphery']:,.0f} | {r['cells']:,} | {r['flops']:,} | "
              f"{r['critical_path_ns']:.2f} | {r['fmax_mhz']:.1f} | {r.get('wall_s', 0):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
