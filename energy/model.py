"""Energy of counted runs: a breakdown per layer, per SOP, and bit-normalized.

Energy of one layer's run (`layer_energy`)::

    array    = (array_read_bits + port_read_bits) * array_read_bit
             + (array_write_bits + port_write_bits) * array_write_bit
    adders   = adder_ops * full_adder
    movement = moved_bits * (buffer_bit or dram_bit)   # where the backing store is
    total    = array + adders + movement

Setup (weights and thresholds loaded once, from DRAM) is reported apart and is not part of
an inference: ``setup = setup_bits * (dram_bit + array_write_bit)``.

**Bit-normalized efficiency.** FlexSpIM compares operand resolutions by normalizing to
1-bit operands. We normalize a synaptic operation (one ``bw``-bit weight added to one
``bv``-bit potential) by ``bw * bv``: ``pJ per 1b-SOP = E / sum(SOPs * bw * bv)`` over the
layers. It is our choice (the paper's exact formula is not public); it credits wider
operands in proportion to the bit-level work they imply (a ``bw x bv`` product of bit
operations, as in the usual ``TOPS/W x bits`` normalization of CIM macros).
"""

from __future__ import annotations

from dataclasses import dataclass

from .costs import EnergyCosts
from .counts import Counts

__all__ = ["BACKINGS", "EnergyBreakdown", "layer_energy"]

#: Where a layer's moved bits come from / go to.
BACKINGS = ("none", "buffer", "dram")


@dataclass(frozen=True)
class EnergyBreakdown:
    """pJ per component; ``total`` excludes ``setup``."""

    array: float = 0.0
    adders: float = 0.0
    buffer: float = 0.0
    dram: float = 0.0
    setup: float = 0.0

    @property
    def total(self) -> float:
        return self.array + self.adders + self.buffer + self.dram

    def __add__(self, o: "EnergyBreakdown") -> "EnergyBreakdown":
        return EnergyBreakdown(self.array + o.array, self.adders + o.adders,
                               self.buffer + o.buffer, self.dram + o.dram,
                               self.setup + o.setup)

    def to_dict(self) -> dict:
        return {"array": self.array, "adders": self.adders, "buffer": self.buffer,
                "dram": self.dram, "total": self.total, "setup": self.setup}


def layer_energy(c: Counts, costs: EnergyCosts, backing: str) -> EnergyBreakdown:
    """Energy of one layer's counts with its backing store in ``backing``.

    Raises:
        ValueError: an unknown ``backing``, or moved bits with backing "none".
    """
    if backing not in BACKINGS:
        raise ValueError(f"`backing` must be one of {', '.join(BACKINGS)}; not {backing!r}")
    if backing == "none" and c.moved_bits:
        raise ValueError(f"{c.moved_bits} bits moved but `backing` is 'none'")
    array = ((c.array_read_bits + c.port_read_bits) * costs.array_read_bit
             + (c.array_write_bits + c.port_write_bits) * costs.array_write_bit)
    moved = {"buffer": costs.buffer_bit, "dram": costs.dram_bit}.get(backing, 0.0)
    return EnergyBreakdown(
        array=array,
        adders=c.adder_ops * costs.full_adder,
        buffer=c.moved_bits * moved if backing == "buffer" else 0.0,
        dram=c.moved_bits * moved if backing == "dram" else 0.0,
        setup=c.setup_bits * (costs.dram_bit + costs.array_write_bit))
