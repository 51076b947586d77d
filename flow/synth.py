"""Yosys + ABC synthesis of generated Verilog to a Liberty library.

Script: ``hierarchy``; the storage modules (`storage.is_storage_module`) get
``keep_hierarchy`` so they stay separate modules; ``synth -flatten -noabc`` flattens the
rest (no generic ABC pass: the Liberty one below maps it; measured on 16x16 P=4, 27% less
CPU for the same area and delay within 1%);
``dfflibmap`` maps the registers to the library's flip-flops and ``abc -liberty`` maps the
logic to its gates, with ABC's buffering and gate sizing (``-constr``: the smallest inverter
drives the inputs, 10 fF loads the outputs; ``-D``: `TARGET_PS`). Without that step a
write-data bit drives every row of the storage through one INVX1 and the 64x64 macro's
critical path is 3.6 us instead of nanoseconds. The storage is synthesized too, as
flip-flops and read multiplexers, which is what it costs when built from standard cells.

Areas come from the cell counts of ``stat -json`` times the cell areas parsed from the Liberty
(`liberty.Liberty`), module by module through the hierarchy: ``total``, ``storage`` (every
instance of a storage module) and ``periphery`` (the rest). No wires, no placement density:
cell area only (`pnr` gives the placed and routed figure).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

from .liberty import Liberty
from .netlist import verilog_modules
from .storage import find_storage_modules
from .tools import FlowError, require, run_logged

__all__ = ["yosys_script", "run_synth", "hierarchy_area"]

#: ABC's delay target (ps) for buffering and sizing. Measured on a 16x16 P=4 macro: 2, 5 and
#: 10 ns give the same critical path and areas within 0.1%.
TARGET_PS = 10000
#: Output load (pF) in ABC's constraints.
OUTPUT_LOAD_PF = 0.01

#: Yosys's numbered steps (``3. Executing SYNTH pass.``, ``3.12. Executing ...``), shown as
#: progress.
STEP = re.compile(r"^\d+\.(\d+\.)?\s+Executing ")


def _sel(name: str) -> str:
    """A module name as a Yosys selection (escaped names keep their backslash)."""
    return name if re.fullmatch(r"[A-Za-z_][\w$]*", name) else "\\" + name


def yosys_script(design: str, top: str, liberty: Path, storage: list[str],
                 constr: str | None, blackbox: bool = False) -> str:
    """The synthesis script; ``constr`` is ABC's constraints file (None: no buffering);
    ``blackbox`` empties the storage modules instead of synthesizing them."""
    buffering = f" -constr {constr} -D {TARGET_PS}" if constr else ""
    cmd = "blackbox {}" if blackbox else "setattr -mod -set keep_hierarchy 1 {}"
    keep = "".join(cmd.format(_sel(s)) + "\n" for s in storage)
    return (f"read_verilog {design}\n"
            f"hierarchy -check -top {_sel(top)}\n"
            f"{keep}"
            f"synth -flatten -noabc -top {_sel(top)}\n"
            f"dfflibmap -liberty {liberty}\n"
            f"abc -liberty {liberty}{buffering}\n"
            # OpenSTA's Verilog reader rejects `assign {a, b} = ...` and 1'bx: one net per bit
            "setundef -zero\n"
            "splitnets\n"
            "opt_clean -purge\n"
            f"tee -q -o stat.json stat -json\n"
            "write_verilog -noattr -noexpr -nohex -nodec netlist.v\n")


def hierarchy_area(modules: dict[str, dict[str, int]], top: str, lib: Liberty,
                   storage: set[str]) -> dict[str, Any]:
    """Cell area, cell and flip-flop counts of ``top`` with its submodules expanded, split
    into storage (instances of ``storage`` modules) and periphery.

    ``modules`` maps a module to its ``num_cells_by_type`` (library cells and submodule
    instances). Raises `FlowError` for a cell that is neither (an unmapped Yosys cell).
    """
    def walk(mod: str, in_storage: bool, acc: dict[str, Any]) -> None:
        for cell, n in modules[mod].items():
            if cell in modules:
                for _ in range(n):
                    walk(cell, in_storage or cell in storage, acc)
                if cell in storage and not in_storage:
                    acc["storage_instances"] += n
                continue
            if cell not in lib.areas:
                raise FlowError(f"cell `{cell}` in module `{mod}` is not a cell of the "
                                f"Liberty {lib.name}: Yosys left it unmapped")
            part = "storage" if in_storage else "periphery"
            acc[part]["area"] += lib.areas[cell] * n
            acc[part]["cells"] += n
            acc[part]["flops"] += n if cell in lib.sequential else 0
            acc["by_type"][cell] = acc["by_type"].get(cell, 0) + n

    acc: dict[str, Any] = {"storage": {"area": 0.0, "cells": 0, "flops": 0},
                           "periphery": {"area": 0.0, "cells": 0, "flops": 0},
                           "by_type": {}, "storage_instances": 0}
    walk(top, top in storage, acc)
    s, p = acc["storage"], acc["periphery"]
    return {
        "area_um2": {"total": s["area"] + p["area"], "storage": s["area"],
                     "periphery": p["area"]},
        "cells": s["cells"] + p["cells"], "flops": s["flops"] + p["flops"],
        "storage": {"instances": acc["storage_instances"], "cells": s["cells"],
                    "flops": s["flops"]},
        "periphery": {"cells": p["cells"], "flops": p["flops"]},
        "cells_by_type": dict(sorted(acc["by_type"].items())),
    }


def run_synth(verilog: str, top: str, lib: Liberty, work: Path,
              progress: Callable[[str, float], None] | None = None,
              blackbox_storage: bool = False, no_storage_ok: bool = False
              ) -> dict[str, Any]:
    """Synthesize ``verilog`` (top module ``top``) in folder ``work``; writes ``design.v``,
    ``synth.ys``, ``yosys.log``, ``stat.json``, ``netlist.v``. Returns `hierarchy_area`'s
    figures plus ``storage.modules``. With ``blackbox_storage`` the storage is left empty
    (zero area here, priced by the caller) and only the periphery is synthesized.
    ``no_storage_ok``: a block without a storage array (the fan-out unit) is all periphery.

    Raises:
        FlowError: Yosys is missing or failed, or the design has no storage module (unless
            ``no_storage_ok``).
    """
    yosys = require("yosys")
    names = verilog_modules(verilog)
    if top not in names:
        raise FlowError(f"top module `{top}` is not in the Verilog (modules: "
                        f"{', '.join(names[:5])}...)")
    storage = find_storage_modules(names)
    if not storage and (blackbox_storage or not no_storage_ok):
        raise FlowError(f"no storage module (`<prefix>_cim_array` or `<top>.array`) among "
                        f"the modules of `{top}`: the storage/periphery split needs it")
    work.mkdir(parents=True, exist_ok=True)
    (work / "design.v").write_text(verilog)
    constr = None
    if lib.inverters:
        constr = "abc.constr"
        (work / constr).write_text(f"set_driving_cell {lib.inverters[0]}\n"
                                   f"set_load {OUTPUT_LOAD_PF}\n")
    (work / "synth.ys").write_text(yosys_script("design.v", top, lib.path, storage, constr,
                                                      blackbox_storage))
    run_logged([yosys, "-s", "synth.ys"], work, work / "yosys.log", "yosys", progress, STEP)
    stat = json.loads((work / "stat.json").read_text())
    modules = {m.lstrip("\\"): {c.lstrip("\\"): n for c, n in d["num_cells_by_type"].items()}
               for m, d in stat["modules"].items()}
    for s in storage:       # stat lists no black boxes
        modules.setdefault(s, {})
    out = hierarchy_area(modules, top, lib, set(storage))
    out["storage"]["modules"] = storage
    return out
