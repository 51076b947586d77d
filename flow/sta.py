"""Static timing of a synthesized netlist with OpenSTA (``sta``).

One clock on the top's ``clk`` port (ideal: no clock tree), inputs arriving and outputs
required at the clock edge (zero external delay), so register-to-register, input-to-register
and register-to-output paths all count. Delays from the Liberty's NLDM tables with pin
capacitances only: the synthesized netlist has no wires yet (post-route figures: `pnr`), and
no buffering of high-fanout nets beyond what ABC did.

The critical path is the worst ``report_checks`` path: its minimum period is the clock
period minus its slack (the period is arbitrary; the slack moves with it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .liberty import Liberty
from .netlist import parse_netlist, register_name
from .tools import FlowError, require, run_logged

__all__ = ["sta_script", "parse_report", "run_sta"]

PERIOD_NS = 10.0

_POINT = re.compile(r"^(Startpoint|Endpoint):\s+(\S+)(?:\s+\((.*)\))?", re.M)
_SLACK = re.compile(r"^\s*(-?[0-9.]+)\s+slack\s+\((MET|VIOLATED)\)", re.M)
_ARRIVAL = re.compile(r"^\s*(-?[0-9.]+)\s+data arrival time", re.M)
_STEP = re.compile(r"^\s*-?[0-9.]+\s+-?[0-9.]+\s+[\^v]\s+(\S+)\s+\((\S+)\)", re.M)


def sta_script(liberty: Path, netlist: str, top: str, clock: str, period: float,
               spef: str | None = None, propagated: bool = False,
               coupling_factor: float | None = None) -> str:
    """OpenSTA commands; ``spef``: read these parasitics (post-route); ``propagated``: time
    the clock through its buffer tree instead of as an ideal clock; ``coupling_factor``:
    each coupling capacitor of the SPEF counts as a grounded one this many times its value
    (``read_spef -coupling_reduction_factor``; OpenSTA's default is 1, 0 drops them)."""
    opt = "" if coupling_factor is None else f"-coupling_reduction_factor {coupling_factor:g} "
    return (f"read_liberty {liberty}\n"
            f"read_verilog {netlist}\n"
            f"link_design {top}\n"
            f"create_clock -name {clock} -period {period} [get_ports {clock}]\n"
            f"set_input_delay 0 -clock {clock} "
            f"[delete_from_list [all_inputs] [get_ports {clock}]]\n"
            f"set_output_delay 0 -clock {clock} [all_outputs]\n"
            + ("set_propagated_clock [all_clocks]\n" if propagated else "")
            + (f"read_spef {opt}{spef}\n" if spef else "")
            + "report_checks -path_delay max -digits 3\n"
            "exit\n")


def parse_report(text: str, period: float) -> dict[str, Any]:
    """Start and end points, arrival, slack and minimum period of the first path of a
    ``report_checks`` report."""
    points = {m.group(1): (m.group(2), m.group(3) or "") for m in _POINT.finditer(text)}
    slack, arrival = _SLACK.search(text), _ARRIVAL.search(text)
    if "Startpoint" not in points or "Endpoint" not in points or not slack or not arrival:
        tail = " | ".join(s.strip() for s in text.strip().splitlines()[-3:])
        raise FlowError(f"OpenSTA reported no timing path (is `clk` a port?): {tail}")
    # pins on the path, in order (first: the launching clock pin or input port)
    pins = [m.group(1) for m in _STEP.finditer(text[:arrival.end()])]
    insts = [p.rsplit("/", 1)[0] for p in pins if "/" in p]
    critical = period - float(slack.group(1))
    return {"start": points["Startpoint"][0], "start_kind": points["Startpoint"][1],
            "end": points["Endpoint"][0], "end_kind": points["Endpoint"][1],
            "arrival_ns": float(arrival.group(1)), "slack_ns": float(slack.group(1)),
            "critical_path_ns": critical, "fmax_mhz": 1000.0 / critical,
            "cells_on_path": len(dict.fromkeys(insts))}


def run_sta(work: Path, top: str, lib: Liberty, clock: str = "clk",
            period: float = PERIOD_NS) -> dict[str, Any]:
    """Time ``work/netlist.v``; writes ``sta.tcl`` and ``sta.log``. Adds ``start_register``
    and ``end_register`` (the registers' output nets, `netlist.register_name`)."""
    sta = require("sta")
    (work / "sta.tcl").write_text(sta_script(lib.path, "netlist.v", top, clock, period))
    text = run_logged([sta, "-no_splash", "-exit", "sta.tcl"], work, work / "sta.log",
                      "OpenSTA (sta)")
    if re.search(r"^Error", text, re.M):
        line = next(s for s in text.splitlines() if s.startswith("Error"))
        raise FlowError(f"OpenSTA (sta): {line} (log: {work / 'sta.log'})")
    out = parse_report(text, period)
    netlist = parse_netlist((work / "netlist.v").read_text())
    out["start_register"] = register_name(netlist, top, out["start"], lib.sequential)
    out["end_register"] = register_name(netlist, top, out["end"], lib.sequential)
    return out
