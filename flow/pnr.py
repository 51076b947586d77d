"""Placement and routing of a small design with qflow (Debian ``qflow``): its own Yosys
synthesis to the OSU 0.18 um cells, GrayWolf placement, qrouter detailed routing; then
OpenSTA on the routed netlist, without wires and with the parasitics that `extract` takes
from the routed DEF.

qflow's scripts do the format conversions (BLIF -> GrayWolf cells -> DEF -> qrouter), so this
module only lays out the project folder, runs the steps one by one (each one's log under
``log/``), and reads the results: the die area from the routed DEF, the routed wirelength
(summed over the DEF's wire segments), the router's failed-route count, and the timing.
Slow: minutes to an hour for a 16x16 macro (GrayWolf's annealing dominates).

Timing, all on qflow's routed netlist (``<top>.rtlnopwr.v``: the placed cells with the
clock tree and fanout buffers qflow inserted), clocked through that clock tree
(``set_propagated_clock``):

* ``pre_route``: OpenSTA, pin capacitances only (no wires);
* ``post_route_ground``, ``post_route``, ``post_route_miller``: OpenSTA with
  ``<top>.extracted.spef`` (`extract`: wire R and ground C per unit length from the LEF, via
  resistances and sidewall coupling from the magic tech file), the coupling capacitors
  grounded 0, 1 and 2 times (`POST_ROUTE`: no coupling; quiet neighbours; neighbours switching
  the other way, the Miller worst case);
* ``placed_vesta``: qflow's own timer (vesta) after placement, as qflow reports it.

qflow's own post-route step (``backanno``: qrouter's RC file -> ``rc2dly`` -> vesta) is not
used: on flexspim's netlists (qflow 1.3.17) vesta stops on ``ERROR: Net
acc_unit_array__wr_en_0_! not found in hash table``, and ``rc2dly``'s SDF and SPEF are cut
off mid-file (OpenSTA: syntax error at the end).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Callable

from .extract import HALO_UM, SIDEWALL_AF, TOUCH_UM, VIA_OHMS, read_lef, verilog_pins, write_spef
from .sta import parse_report, sta_script
from .tools import FlowError, require, run_logged

__all__ = ["STEPS", "def_die_area", "def_wirelength", "collect", "routed_timing", "qrouter_rc_cap",
           "placement_seed", "run_pnr"]

STEPS = ("synthesize", "place", "sta", "route")
TECH = "osu018"
TECH_DIR = Path("/usr/share/qflow/tech") / TECH
PERIOD_NS = 10.0


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


def qrouter_rc_cap(text: str) -> float:
    """Total wire capacitance (pF) of qrouter's ``write_delays`` RC file: the sum of the
    ``C`` of every ``( R C ...`` tree section. qrouter counts one edge's fringe per wire
    (its metal2 section is ``0.3 * CPERSQDIST + EDGECAPACITANCE`` per um), `extract` both
    edges, as the LEF definition of EDGECAPACITANCE has it."""
    return sum(float(c) for c in re.findall(r"\(\s*[-+0-9.eE]+\s+([-+0-9.eE]+)", text))


def _opensta(work: Path, top: str, name: str, spef: str | None,
             coupling_factor: float | None = None) -> dict[str, Any]:
    """One OpenSTA run on the routed netlist (``name``: its script and log)."""
    lib = TECH_DIR / f"{TECH}_stdcells.lib"
    netlist = f"{top}.rtlnopwr.v"
    (work / "log").mkdir(exist_ok=True)
    (work / f"{name}.tcl").write_text(sta_script(lib, netlist, top, "clk", PERIOD_NS,
                                                 spef=spef, propagated=True,
                                                 coupling_factor=coupling_factor))
    text = run_logged([require("sta"), "-no_splash", "-exit", f"{name}.tcl"], work,
                      work / "log" / f"{name}.log", "OpenSTA (sta)")
    bad = [s for s in text.splitlines()
           if s.startswith("Error") or (s.startswith("Warning") and "FILL" not in s)]
    if bad:     # a SPEF net or pin OpenSTA cannot attach is a warning: refuse it too
        raise FlowError(f"OpenSTA (sta): {bad[0]} (log: {work / 'log' / (name + '.log')})")
    out = parse_report(text, PERIOD_NS)
    pins = verilog_pins((work / netlist).read_text())
    for end in ("start", "end"):    # a flip-flop instance -> the net on its Q
        out[f"{end}_register"] = pins.get((out[end], "Q"), out[end])
    out["tool"] = f"OpenSTA ({name}.tcl)"
    return out


#: The post-route OpenSTA runs: record key, script name, coupling factor, what it means.
#: OpenSTA (this 2019 snapshot, no crosstalk analysis) grounds each coupling capacitor at the
#: net being timed, times ``-coupling_reduction_factor``: a 0.2 pF coupling capacitor times
#: exactly as a 0.2 pF grounded one at 1, 0.4 pF at 2, nothing at 0
#: (tests/flow/test_extract.py, ``test_opensta_grounds_coupling_at_the_factor``).
POST_ROUTE = (
    ("post_route_ground", "sta_postroute_ground", 0.0,
     "wire R and ground C only (coupling factor 0)"),
    ("post_route", "sta_postroute", 1.0,
     "wire R, ground C and coupling C grounded at face value (factor 1: neighbours quiet)"),
    ("post_route_miller", "sta_postroute_miller", 2.0,
     "coupling C doubled (Miller factor 2: neighbours switching the other way, the "
     "worst case)"),
)


def routed_timing(work: Path, top: str) -> dict[str, Any]:
    """Extract ``<top>.extracted.spef`` from the routed DEF and time the routed netlist
    without it and with it at each coupling factor of `POST_ROUTE` (module docstring)."""
    lef_path = TECH_DIR / f"{TECH}_stdcells.lef"
    spef = f"{top}.extracted.spef"
    lef = read_lef(lef_path.read_text())
    stats = write_spef(_routed_def(work, top), lef, work / f"{top}.rtlnopwr.v", top,
                       work / spef)
    rc = work / f"{top}.rc"
    if rc.is_file():    # qrouter's own RC estimate, for comparison
        stats["qrouter_rc_wire_cap_pf"] = qrouter_rc_cap(rc.read_text())
    pre = _opensta(work, top, "sta_noparasitics", None)
    out: dict[str, Any] = {"pre_route": {**pre, "wires": "none (pin capacitances only)"}}
    for key, name, factor, what in POST_ROUTE:
        post = _opensta(work, top, name, spef, factor)
        post["slowdown_pct"] = 100.0 * (post["critical_path_ns"] / pre["critical_path_ns"] - 1)
        out[key] = {**post, "coupling_factor": factor,
                    "wires": f"{spef} (flow/extract.py): {what}"}
    out["parasitics"] = {
        "spef": spef, **stats,
        "per_um": {n: {"ohm": round(L.r_per_um, 4), "ff": round(L.c_per_um * 1e3, 4),
                       "coupling_ff_adjacent_track": round(_adjacent_ff(lef, n), 4)}
                   for n, L in lef.layers.items()},
        "source": f"{lef_path.name}: RESISTANCE RPERSQ, CAPACITANCE CPERSQDIST, "
                  f"EDGECAPACITANCE, WIDTH of each routing layer",
        "coupling_source": "SCN6M_SUBM.10.tech (magic extract: sidewall values, aF, applied "
                           "as value * run / separation within sidehalo 8 lambda = "
                           f"{HALO_UM} um)",
        "sidewall_af": SIDEWALL_AF,
        "via_ohm": VIA_OHMS,
        "via_source": "SCN6M_SUBM.10.tech (magic extract: contact m2c/m3c/m4c); "
                      "m5c, m6c taken as m4c",
        "touch_um": TOUCH_UM,
    }
    out["clock"] = {"port": "clk", "period_ns": PERIOD_NS, "propagated": True,
                    "io_delay_ns": 0.0}
    return out


def _adjacent_ff(lef, layer: str) -> float:
    """Coupling per um of run (fF) to one wire on the adjacent track of a layer's LEF pitch
    (0 beyond the halo)."""
    L = lef.layers[layer]
    s = (lef.pitch.get(layer) or 0.0) - L.width_um
    return SIDEWALL_AF.get(layer, 0.0) / s * 1e-3 if 0 < s <= HALO_UM + 1e-9 else 0.0


def _routed_def(work: Path, top: str) -> Path:
    # qflow keeps the routed DEF as <top>.def (the unrouted one as <top>_unroute.def)
    routed = work / f"{top}_route.def"
    return routed if routed.is_file() else work / f"{top}.def"


def collect(work: Path, top: str, wall_s: float = 0.0) -> dict[str, Any]:
    """Read a finished qflow project: die, cells, wirelength, failed routes, timing."""
    routed = _routed_def(work, top)
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
        **routed_timing(work, top),
        "placed_vesta": _vesta(work / "log" / "sta.log"),
        "placement_seed": placement_seed(work / f"{top}.par"),
        "wall_s": wall_s,
    }


_SEED = re.compile(r"^(\*random\.seed\s*:\s*)(-?\d+)", re.M)


def placement_seed(par: Path) -> int | None:
    """GrayWolf's random seed in a qflow project's ``<top>.par`` (``*random.seed``)."""
    m = _SEED.search(par.read_text()) if par.is_file() else None
    return int(m.group(2)) if m else None


def _set_seed(par: Path, seed: int) -> None:
    text = par.read_text()
    if _SEED.search(text) is None:
        raise FlowError(f"{par} has no `*random.seed` line to set the placement seed in")
    par.write_text(_SEED.sub(lambda m: f"{m.group(1)}{seed}", text, count=1))


def run_pnr(verilog: str, top: str, work: Path,
            progress: Callable[[str], None] | None = None,
            seed: int | None = None) -> dict[str, Any]:
    """Place and route ``verilog`` in folder ``work`` (a qflow project); `collect`'s
    record. ``seed``: GrayWolf's random seed (qflow's OSU 0.18 default, 12345, if None),
    written into the project's ``<top>.par`` before placement (qflow keeps a project's
    ``.par`` that is newer than its technology's)."""
    qflow = require("qflow")
    for tool in ("graywolf", "qrouter", "yosys", "sta"):
        require(tool)
    say = progress or (lambda s: None)
    (work / "source").mkdir(parents=True, exist_ok=True)
    (work / "source" / f"{top}.v").write_text(verilog)
    t0 = time.perf_counter()
    for step in STEPS:
        if step == "place" and seed is not None:
            _set_seed(work / f"{top}.par", seed)
        say(f"qflow {step} ({time.perf_counter() - t0:.0f} s so far)")
        run_logged([qflow, step, "-T", TECH, top], work, work / f"qflow_{step}.out",
                   f"qflow {step}")
        log = work / "log" / f"{step}.log"
        text = log.read_text() if log.is_file() else ""
        if re.search(r"(?i)premature exit|flow stopped", text):
            line = next(s for s in text.splitlines()
                        if re.search(r"(?i)premature exit|flow stopped|error", s))
            raise FlowError(f"qflow {step}: {line.strip()} (log: {log})")
    say("extracting parasitics from the routed DEF, OpenSTA before and after routing")
    return collect(work, top, time.perf_counter() - t0)
