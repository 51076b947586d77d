"""Synthesis and timing of one generated design: Verilog from the configuration, then
`synth.run_synth` and `sta.run_sta`, combined into the ``synth.json`` record."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .liberty import Liberty
from .sta import run_sta
from .synth import run_synth
from .tools import tool_version

__all__ = ["FORMAT", "verilog_of", "synth_design"]

FORMAT = {"format": "flexspim-synth", "version": 1}


def verilog_of(kind: str, config) -> tuple[str, str]:
    """(Verilog, top module name) of a ``macro`` (`MacroConfig`), ``core`` (`CoreConfig`) or
    ``system`` (`SystemConfig`)."""
    from flexspim.commands.generate import TOPS
    from flexspim.hdl.emit import to_verilog

    if kind == "macro":
        from flexspim.hdl.macro import CimMacro as Top
    elif kind == "core":
        from flexspim.hdl.core import NeuronCore as Top
    elif kind == "system":
        from flexspim.hdl.system import FlexSpimSystem as Top
    else:
        raise ValueError(f"`top` must be one of macro, core, system, not {kind!r}")
    return to_verilog(Top(config), TOPS[kind]), TOPS[kind]


def synth_design(kind: str, config, lib: Liberty, work: Path,
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The ``synth.json`` record of ``config`` (see `verilog_of`), synthesized and timed in
    folder ``work`` (which keeps the netlist and logs)."""
    say = progress or (lambda s: None)
    say(f"generating Verilog of the {kind}")
    verilog, top = verilog_of(kind, config)
    say(f"yosys: synthesizing {top} to {lib.name}")
    last = [0.0]

    def step(line: str, t: float) -> None:
        # Yosys's top-level steps, and its sub-steps at most every 10 s (long ABC runs)
        if line.split(".", 1)[1].startswith(" ") or t - last[0] >= 10:
            last[0] = t
            say(f"yosys {t:6.1f}s  {line}")

    area = run_synth(verilog, top, lib, work, step)
    say("OpenSTA: timing the netlist")
    timing = run_sta(work, top, lib)
    return {
        **FORMAT,
        "top": top, "kind": kind, "params": config.to_dict(),
        "liberty": lib.summary(),
        "tools": {"yosys": tool_version("yosys"), "sta": tool_version("sta")},
        "area_um2": area["area_um2"],
        "cells": area["cells"], "flops": area["flops"],
        "storage": area["storage"], "periphery": area["periphery"],
        "critical_path_ns": timing["critical_path_ns"], "fmax_mhz": timing["fmax_mhz"],
        "critical_path": {k: timing[k] for k in (
            "start", "start_kind", "start_register", "end", "end_kind", "end_register",
            "arrival_ns", "slack_ns", "cells_on_path")},
        "clock": {"port": "clk", "period_ns": 10.0, "ideal": True,
                  "io_delay_ns": 0.0, "wires": "none (pin capacitance only)"},
        "cells_by_type": area["cells_by_type"],
    }
