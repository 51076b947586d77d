"""Old (generic-gate) versus new (Liberty flow) sweep area, per geometry, as a Markdown table.

    python bench/compare_sweep_area.py OLD.csv NEW.csv

OLD.csv: a ``sweep.csv`` of the old model (generic Yosys cells weighted as NanGate 45 nm NAND2
equivalents, storage at 0.5 NAND2 per bit), e.g. ``git show d99d06f:docs/sweep/sweep.csv``;
NEW.csv: one of the Liberty flow (``make sweep-demo``). Both in NAND2 equivalents (the new
one in the Liberty's own NAND2), the only unit they share.
"""

from __future__ import annotations

import csv
import sys


def geometries(path: str) -> dict:
    out = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r.get("total_nand2"):
                out.setdefault((int(r["rows"]), int(r["cols"]), int(r["batch"])), r)
    return out


def main(old_csv: str, new_csv: str) -> int:
    old, new = geometries(old_csv), geometries(new_csv)
    print("| geometry | old periphery | old storage | old total | new periphery | new storage "
          "| new total | new / old | new area (mm2) | Fmax (MHz) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key in sorted(set(old) & set(new)):
        o, n = old[key], new[key]
        ot, nt = float(o["total_nand2"]), float(n["total_nand2"])
        print(f"| {key[0]}x{key[1]} P={key[2]} | {float(o['periph_nand2']):,.0f} | "
              f"{float(o['array_nand2']):,.0f} | {ot:,.0f} | {float(n['periph_nand2']):,.0f} | "
              f"{float(n['storage_nand2']):,.0f} | {nt:,.0f} | {nt / ot:.1f}x | "
              f"{float(n['area_um2']) * 1e-6:.3f} | {float(n['fmax_mhz']):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
