"""Per-operation energies (pJ), each default from a published figure.

Source of every default: M. Horowitz, "Computing's energy problem (and what we can do about
it)", ISSCC 2014, Digest of Technical Papers, pp. 10-14 (45 nm, 0.9 V): 8-bit integer add
0.03 pJ; 64-bit SRAM access 10 pJ (8 KB), 20 pJ (32 KB), 100 pJ (1 MB); 64-bit DRAM access
1.3-2.6 nJ.

Scaling to the 40-nm node of the FlexSpIM prototype: on-chip figures are multiplied by
``40 / 45`` (switched capacitance scales with feature size at the same 0.9 V supply; a
first-order assumption, stated so it can be overridden). The DRAM figure is not scaled (it
is dominated by the off-chip interface, not by the logic node) and we take its low end, which
is the conservative choice for any claim of savings from avoided off-chip traffic.

Every value can be overridden from a TOML ``[energy]`` table (`EnergyCosts.from_toml`).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from flexspim.config import _Config

__all__ = ["EnergyCosts", "NODE_SCALE"]

#: 45 nm -> 40 nm scale factor for on-chip energies (capacitance ~ feature size).
NODE_SCALE = 40 / 45

#: Horowitz ISSCC 2014: 8 KB SRAM, 10 pJ per 64-bit access -> per bit, x 40/45. A CIM macro
#: of 256 x 256 bitcells is 8 KB, so this is the per-bit cost of a row access in the array.
#: Limitation: the same figure is used for every macro size (it does not grow with longer
#: bit lines); override ``array_read_bit``/``array_write_bit`` to compare geometries.
ARRAY_BIT_PJ = 10 / 64 * NODE_SCALE
#: Horowitz ISSCC 2014: 8-bit integer add 0.03 pJ -> one full-adder evaluation is 1/8 of
#: it, x 40/45.
FULL_ADDER_PJ = 0.03 / 8 * NODE_SCALE
#: Horowitz ISSCC 2014: 1 MB SRAM, 100 pJ per 64-bit access -> per bit, x 40/45 (the
#: default buffer is 1 MB = 8 Mbit, `mapper.hardware.HardwareConfig.buffer_bits`).
BUFFER_BIT_PJ = 100 / 64 * NODE_SCALE
#: Horowitz ISSCC 2014: DRAM, 1.3 nJ (low end of 1.3-2.6 nJ) per 64-bit access -> per bit;
#: not node-scaled.
DRAM_BIT_PJ = 1300 / 64


@dataclass(frozen=True)
class EnergyCosts(_Config):
    """Energy per operation, in picojoules (all finite and >= 0).

    Attributes:
        array_read_bit: one bitcell read in a macro (compute or row port). Default
            10 pJ / 64 bit x 40/45 = 0.139 pJ (Horowitz ISSCC 2014, 8 KB SRAM).
        array_write_bit: one bitcell written. Default as ``array_read_bit`` (Horowitz gives
            one figure per access).
        full_adder: one 1-bit full-adder evaluation in a column's adder tree. Default
            0.03 pJ / 8 x 40/45 = 0.0033 pJ (Horowitz ISSCC 2014, 8-bit add).
        buffer_bit: one bit read or written in the on-chip buffer. Default 100 pJ / 64 bit
            x 40/45 = 1.39 pJ (Horowitz ISSCC 2014, 1 MB SRAM).
        dram_bit: one bit read or written off chip. Default 1.3 nJ / 64 bit = 20.3 pJ
            (Horowitz ISSCC 2014, DRAM, low end, not scaled).

    Raises:
        ValueError: a negative, non-finite or non-numeric value.
    """

    array_read_bit: float = ARRAY_BIT_PJ
    array_write_bit: float = ARRAY_BIT_PJ
    full_adder: float = FULL_ADDER_PJ
    buffer_bit: float = BUFFER_BIT_PJ
    dram_bit: float = DRAM_BIT_PJ

    def __post_init__(self):
        for name, v in self.to_dict().items():
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 <= v < 1e12:
                raise ValueError(f"`{name}` must be an energy in pJ in [0, 1e12), not {v!r}")

    @classmethod
    def from_toml(cls, doc: dict) -> "EnergyCosts":
        """From a parsed TOML document: its ``[energy]`` table (missing keys keep defaults)."""
        table = doc.get("energy", {})
        if not isinstance(table, dict):
            raise ValueError(f"`energy` must be a TOML table, not {table!r}")
        return cls.from_dict(table)
