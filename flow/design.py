"""Synthesis and timing of one generated design: Verilog from the configuration, then
`synth.run_synth` and `sta.run_sta`, combined into the ``synth.json`` record."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .bitcell import bitcell_nand2
from .liberty import Liberty
from .sta import run_sta
from .synth import run_synth
from .tools import tool_version

__all__ = ["FORMAT", "verilog_of", "synth_design"]

FORMAT = {"format": "flexspim-synth", "version": 1}


def verilog_of(kind: str, config) -> tuple[str, str]:
    """(Verilog, top module name) of a ``macro`` (`MacroConfig`), ``core`` (`CoreConfig`),
    ``system`` (`SystemConfig`) or ``fanout`` (`FanoutConfig`, no storage array)."""
    from flexspim.hdl.emit import to_verilog

    if kind == "macro":
        from flexspim.hdl.macro import CimMacro as Top
    elif kind == "core":
        from flexspim.hdl.core import NeuronCore as Top
    elif kind == "system":
        from flexspim.hdl.system import FlexSpimSystem as Top
    elif kind == "fanout":
        from flexspim.hdl.fanout import FanoutUnit as Top
    else:
        raise ValueError(f"`top` must be one of macro, core, system, fanout, not {kind!r}")
    top = f"flexspim_{kind}"       # `flexspim generate`'s name with the default prefix
    return to_verilog(Top(config), top), top


def macro_of(kind: str, config):
    """The `MacroConfig` inside a macro, core or system configuration."""
    return {"macro": lambda c: c, "core": lambda c: c.macro,
            "system": lambda c: c.core.macro}[kind](config)


def synth_design(kind: str, config, lib: Liberty, work: Path,
                 progress: Callable[[str], None] | None = None,
                 storage: str = "synth") -> dict[str, Any]:
    """The ``synth.json`` record of ``config`` (see `verilog_of`), synthesized and timed in
    folder ``work`` (which keeps the netlist and logs).

    ``storage``: ``synth`` synthesizes the storage as flip-flops; ``bitcell`` black-boxes it
    and prices it per bit (`bitcell.bitcell_nand2` x the Liberty's NAND2 area); its access
    time is then not in the critical path."""
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

    box = storage == "bitcell"
    if box and kind == "fanout":
        raise ValueError("`--storage bitcell` does not apply to --top fanout (it has no "
                         "storage array)")
    if box and lib.nand2 is None:
        raise ValueError(f"`--storage bitcell` needs a two-input NAND in the Liberty "
                         f"{lib.name} (the unit of the per-bit cost); it has none")
    area = run_synth(verilog, top, lib, work, step, blackbox_storage=box,
                     no_storage_ok=kind == "fanout")
    if box:
        m = macro_of(kind, config)
        ports = m.batch_max + 1
        bit = bitcell_nand2(ports) * lib.areas[lib.nand2]
        n = area["storage"]["instances"]
        area["storage"].update(mode="bitcell", bits=n * m.rows * m.cols, read_ports=ports,
                               bitcell_um2=bit)
        a = area["area_um2"]
        a["storage"] = n * m.rows * m.cols * bit
        a["total"] = a["storage"] + a["periphery"]
    else:
        area["storage"]["mode"] = "synth"
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
