"""Which module of a generated design is the storage (the CIM array), and the price of the
operand buffer (an SRAM macro, docs/buffer.md).

The storage is priced apart from the periphery because a tapeout may replace it by a bitcell
macro. Its module is ``<prefix>_cim_array`` (plain identifier, default prefix ``flexspim``);
Verilog generated before that naming has it as ``<top>.array`` (an escaped name such as
``\\flexspim_macro.array``, or ``\\flexspim_core.macro.array`` inside a core). Both are
accepted here so nothing else depends on the naming.
"""

from __future__ import annotations

import math
import re

__all__ = ["is_storage_module", "find_storage_modules", "is_buffer_module",
           "OPENRAM_MACROS", "sram_overhead", "buffer_area"]

_NEW = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*_cim_array$")
_OLD = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z0-9_$]+)*\.array$")


def is_storage_module(name: str) -> bool:
    """True for ``<prefix>_cim_array`` and the older ``<top>[.<sub>].array`` (a leading
    backslash, as Yosys and Verilog write escaped names, is ignored)."""
    name = name.lstrip("\\").strip()
    return bool(_NEW.match(name) or _OLD.match(name))


def find_storage_modules(names) -> list[str]:
    """The storage module names among ``names`` (sorted, as given)."""
    return sorted(n for n in names if is_storage_module(n))


_BUFFER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*_operand_buffer$")


def is_buffer_module(name: str) -> bool:
    """True for ``<prefix>_operand_buffer`` (the operand buffer, docs/buffer.md)."""
    return bool(_BUFFER.match(name.lstrip("\\").strip()))


# -- the operand buffer's price ---------------------------------------------------------------
#
# The buffer is an SRAM macro, never flip-flops. Its area is the bit-cell model of
# `flow.bitcell` (a 1R1W cell: one decoupled read port, ``bitcell_nand2(1)`` = 0.56 NAND2
# equivalents) times the periphery overhead of a real compiled macro: decoders, word-line
# drivers, sense amplifiers, write drivers with the per-bit mask, control, measured with
# OpenRAM (PyPI ``openram`` 1.2.48, technology scn4m_subm, the only one it ships with cells,
# lambda = 0.2 um; ``num_r_ports = 1, num_w_ports = 1, write_size = 1``, analytical
# characterization, no DRC/LVS; compiled offline in 10-200 s). The overhead is the macro's
# LEF/Liberty area over its bits times the area of OpenRAM's dual-port cell ``cell_2rw``
# (54 x 75 lambda = 162 um^2 at lambda = 0.2 um, read from its Magic layout), so the ratio
# is the same in any process that scales the cell and the periphery alike. Sizes between
# measurements interpolate the ratio log-linearly in bits; smaller or larger ones take the
# nearest measured ratio (the overhead falls with size, so larger buffers are priced high).

#: OpenRAM 1R1W macros compiled here: ``(words, width) -> macro area in um^2`` (scn4m_subm).
OPENRAM_MACROS = {
    (64, 16): 650963.52,
    (256, 64): 6373294.2,
}
#: Area of OpenRAM's scn4m_subm ``cell_2rw`` in um^2 (54 x 75 lambda, lambda = 0.2 um).
OPENRAM_CELL_UM2 = 54 * 75 * 0.2 * 0.2


def sram_overhead(bits: int) -> float:
    """Macro area over cell area for an SRAM of ``bits`` bits (see above)."""
    if bits < 1:
        raise ValueError(f"`bits` must be a positive integer, not {bits}")
    pts = sorted((d * w, a / (d * w * OPENRAM_CELL_UM2)) for (d, w), a in
                 OPENRAM_MACROS.items())
    if bits <= pts[0][0]:
        return pts[0][1]
    for (b0, r0), (b1, r1) in zip(pts, pts[1:]):
        if bits <= b1:
            t = math.log(bits / b0) / math.log(b1 / b0)
            return r0 + t * (r1 - r0)
    return pts[-1][1]


def buffer_area(config, nand2_um2: float) -> dict:
    """Area of an operand buffer (`flexspim.config.BufferConfig`) in the units of a Liberty
    whose two-input NAND is ``nand2_um2``: ``{"bits", "cell_um2", "overhead", "area_um2"}``
    (``cell_um2``: one 1R1W bit-cell by `flow.bitcell`; ``area_um2``: the whole macro)."""
    from .bitcell import bitcell_nand2

    if not nand2_um2 > 0:
        raise ValueError(f"`nand2_um2` must be positive, not {nand2_um2!r}")
    bits = config.words * config.width
    cell = bitcell_nand2(1) * nand2_um2
    over = sram_overhead(bits)
    return {"bits": bits, "cell_um2": cell, "overhead": over, "area_um2": bits * cell * over}
