"""Placement and routing of a small design with qflow (Debian ``qflow``): its own Yosys
synthesis to the OSU 0.18 um cells, GrayWolf placement, qrouter detailed routing, and
OpenSTA before routing and after it with the router's RC parasitics (``backanno``).

qflow's scripts do the format conversions (BLIF -> GrayWolf cells -> DEF -> qrouter), so this
module only lays out the project folder, runs the steps one by one (each one's log under
``log/``), and reads the results: the die area from the routed DEF, the routed wirelength
(summed over the DEF's wire segments), the router's failed-route count, and both timing
reports. Slow: minutes for a 16x16 macro (GrayWolf's annealing dominates).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Callable

from .tools import FlowError, require, run_logged

__all__ = ["STEPS", "def_die_area", "def_wirelength", "run_pnr"]

STEPS = ("synthesize", "place", "sta", "route", "backanno")
TECH = "osu018"


def _units(text: str) -> float:
    m = re.search(r"UNITS\s+DISTANCE\s+MICRONS\s+(\d+)", text)
    return float(m.group(1)) if m else 1000.0


def def_die_area(text: str) -> tuple[float, float]:
    """(width, height) in um of a DEF's ``DIEAREA``."""
    m = re.search(r"DIEAREA\s*\(\s*(-?\d+)\s+(-?\d+)\s*\)\s*\(\s*(-?\d+)\s+(-?\d+)\s*\)", text)
    if m is None:
        raise FlowError("no DIEAREA in the routed DEF")
    x0, y0, x1, y1 = map(int, m.groups())
    u = _units(text)
    return (x1 - x0) / u, (y1 - y0) / u


def def_wirelength(text: str) -> dict[str, float]:
    """Routed wirelength in um per layer (and ``total``) of a DEF's ``NETS`` section: the sum
    of the Manhattan lengths of every wire segment (``ROUTED``/``NEW`` point lists, ``*``
    repeating the previous coordinate)."""
    nets = text[text.find("\nNETS"):]
    nets = nets[:nets.find("END NETS")]
    u = _units(text)
    out: dict[str, float] = {}
    for m in re.finditer(r"(?:ROUTED|NEW)\s+(\S+)((?:\s+\([^)]*\)|\s+(?!NEW\b)[A-Za-z_]\w*)*)",
                         nets):
        layer, body = m.group(1), m.group(2)
        pts = re.findall(r"\(\s*(\S+)\s+(\S+)(?:\s+\S+)?\s*\)", body)
        prev = None
        for xs, ys in pts:
            x = prev[0] if xs == "*" and prev else float(xs)
            y = prev[1] if ys == "*" and prev else float(ys)
            if prev is not None:
                out[layer] = out.get(layer, 0.0) + (abs(x - prev[0]) + abs(y - prev[1])) / u
            prev = (x, y)
    out["total"] = sum(out.values())
    return out


def _sta(text: str) -> dict[str, Any]:
    """Worst path of a qflow OpenSTA log (``report_checks``)."""
    from .sta import parse_report

    period = re.search(r"clock \S+ \(rise edge\)\s*$", text, re.M)
    per = re.search(r"create_clock.*-period\s+([0-9.]+)", text)
    p = float(per.group(1)) if per else None
    if period is None or p is None:
        # qflow prints the path with the clock period as the second "rise edge" time
        m = re.findall(r"^\s*([0-9.]+)\s+([0-9.]+)\s+clock \S+ \(rise edge\)", text, re.M)
        p = float(m[1][1]) if len(m) > 1 else None
    if p is None:
        raise FlowError("no clock period found in the OpenSTA log")
    return parse_report(text, p)


def run_pnr(verilog: str, top: str, work: Path,
            progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Place and route ``verilog`` in folder ``work`` (a qflow project). Returns die size and
    area, cell count, routed wirelength, failed routes, and pre- and post-route timing."""
    qflow = require("qflow")
    for tool in ("graywolf", "qrouter", "yosys", "sta"):
        require(tool)
    say = progress or (lambda s: None)
    (work / "source").mkdir(parents=True, exist_ok=True)
    (work / "source" / f"{top}.v").write_text(verilog)
    t0 = time.perf_counter()
    for step in STEPS:
        say(f"qflow {step} ({time.perf_counter() - t0:.0f} s so far)")
        out = run_logged([qflow, step, "-T", TECH, top], work, work / f"qflow_{step}.out",
                         f"qflow {step}")
        log = work / "log" / f"{'post_sta' if step == 'backanno' else step}.log"
        text = log.read_text() if log.is_file() else out
        if re.search(r"(?i)premature exit|flow stopped", text):
            line = next(s for s in text.splitlines()
                        if re.search(r"(?i)premature exit|flow stopped|error", s))
            raise FlowError(f"qflow {step}: {line.strip()} (log: {log})")
    routed = work / f"{top}_route.def"
    if not routed.is_file():
        raise FlowError(f"qflow route wrote no {routed.name}")
    text = routed.read_text()
    w, h = def_die_area(text)
    route_log = (work / "log" / "route.log").read_text()
    failed = re.findall(r"Final:\s*(?:No failed routes|(\d+) failed routes?)", route_log)
    cells = len(re.findall(r"^\s*-\s+\S+\s+\S+\s+\+\s+(?:PLACED|FIXED)", text, re.M))
    return {
        "tech": TECH, "top": top,
        "die_um": [w, h], "die_area_um2": w * h,
        "placed_cells": cells,
        "wirelength_um": def_wirelength(text),
        "failed_routes": int(failed[-1]) if failed and failed[-1] else 0,
        "route_final": [s for s in route_log.splitlines() if s.startswith("Final")][-1:],
        "pre_route": _sta((work / "log" / "sta.log").read_text()),
        "post_route": _sta((work / "log" / "post_sta.log").read_text()),
        "wall_s": time.perf_counter() - t0,
    }
