"""Placement and routing of a small design with qflow (Debian ``qflow``): its own Yosys
synthesis to the OSU 0.18 um cells, GrayWolf placement, qrouter detailed routing, and
OpenSTA before routing and after it with the router's RC parasitics (``backanno``).

qflow's scripts do the format conversions (BLIF -> GrayWolf cells -> DEF -> qrouter), so this
module only lays out the project folder, runs the steps one by one (each one's log under
``log/``), and reads the results: the die area from the routed DEF, the routed wirelength
(summed over the DEF's wire segments), the router's failed-route count, and both timing
reports (qflow's own timer, vesta). Slow: minutes for a 16x16 macro (GrayWolf's annealing
dominates).

Post-route timing is qflow's ``backanno`` (qrouter's RC -> ``rc2dly`` -> vesta). On flexspim's
netlists it fails here: vesta stops on ``ERROR: Net acc_unit_array__wr_en_0_! not found in
hash table`` and ``rc2dly``'s SDF is truncated (OpenSTA: syntax error at its end), its SPEF
names internal nodes ``1_1`` that OpenSTA cannot attach; the record then carries the error
instead of a number.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Callable

from .tools import FlowError, require, run_logged

__all__ = ["STEPS", "def_die_area", "def_wirelength", "collect", "run_pnr"]

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


def _vesta(log: Path) -> dict[str, Any]:
    """qflow's static timing (vesta): its maximum clock frequency, or the error it stopped
    on."""
    if not log.is_file():
        return {"error": f"no {log.name}"}
    text = log.read_text()
    m = re.search(r"Computed maximum clock frequency \(zero margin\) = ([0-9.]+) MHz", text)
    errors = [s.strip() for s in text.splitlines() if s.startswith("ERROR")]
    if m is None or errors:
        return {"error": (errors or ["vesta printed no clock frequency"])[0]
                + f" ({log.name})"}
    f = float(m.group(1))
    return {"fmax_mhz": f, "critical_path_ns": 1000.0 / f, "tool": "vesta (qflow)"}


def collect(work: Path, top: str, wall_s: float = 0.0) -> dict[str, Any]:
    """Read a finished qflow project: die, cells, wirelength, failed routes, timing."""
    # qflow keeps the routed DEF as <top>.def (the unrouted one as <top>_unroute.def)
    routed = work / f"{top}_route.def"
    if not routed.is_file():
        routed = work / f"{top}.def"
    if not (work / f"{top}_unroute.def").is_file() and not (work / f"{top}_route.def").is_file():
        raise FlowError(f"qflow route left no routed DEF in {work}")
    text = routed.read_text()
    w, h = def_die_area(text)
    route_log = (work / "log" / "route.log").read_text()
    final = [s for s in route_log.splitlines() if s.startswith("Final")]
    failed = re.search(r"(\d+) failed routes?", final[-1]) if final else None
    cells = len(re.findall(r"^\s*-\s+\S+\s+(?!FILL)\S+\s+\+\s+(?:PLACED|FIXED)", text, re.M))
    return {
        "tech": TECH, "top": top, "def": routed.name,
        "die_um": [w, h], "die_area_um2": w * h,
        "placed_cells": cells,
        "wirelength_um": def_wirelength(text),
        "failed_routes": int(failed.group(1)) if failed else (0 if final else None),
        "route_final": final[-1] if final else "qrouter printed no Final line",
        "pre_route": _vesta(work / "log" / "sta.log"),
        "post_route": _vesta(work / "log" / "post_sta.log"),
        "wall_s": wall_s,
    }


def run_pnr(verilog: str, top: str, work: Path,
            progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Place and route ``verilog`` in folder ``work`` (a qflow project); `collect`'s record.
    A failing post-route timing step (``backanno``) is recorded in ``post_route.error``,
    not raised: the layout figures stand without it."""
    qflow = require("qflow")
    for tool in ("graywolf", "qrouter", "yosys"):
        require(tool)
    say = progress or (lambda s: None)
    (work / "source").mkdir(parents=True, exist_ok=True)
    (work / "source" / f"{top}.v").write_text(verilog)
    t0 = time.perf_counter()
    for step in STEPS:
        say(f"qflow {step} ({time.perf_counter() - t0:.0f} s so far)")
        try:
            run_logged([qflow, step, "-T", TECH, top], work, work / f"qflow_{step}.out",
                       f"qflow {step}")
        except FlowError:
            if step != "backanno":
                raise
        log = work / "log" / f"{'post_sta' if step == 'backanno' else step}.log"
        text = log.read_text() if log.is_file() else ""
        if step != "backanno" and re.search(r"(?i)premature exit|flow stopped", text):
            line = next(s for s in text.splitlines()
                        if re.search(r"(?i)premature exit|flow stopped|error", s))
            raise FlowError(f"qflow {step}: {line.strip()} (log: {log})")
    return collect(work, top, time.perf_counter() - t0)
