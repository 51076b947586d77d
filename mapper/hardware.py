"""The hardware a network is mapped onto: identical macros (cores) and an on-chip buffer."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from flexspim.config import MacroConfig, _Config

__all__ = ["HardwareConfig", "MAX_CORES"]

#: Largest number of macros the mapper plans for.
MAX_CORES = 1 << 16


@dataclass(frozen=True)
class HardwareConfig(_Config):
    """A chip: ``cores`` macros of one geometry and an on-chip buffer.

    Attributes:
        macro: geometry of every macro (rows, cols, P = batch_max).
        cores: number of macros (1..MAX_CORES). Layers get disjoint macros.
        buffer_bits: on-chip SRAM buffer (bits, >= 0) that backs swapped potentials and
            streamed weights; what does not fit there lives off chip (DRAM).

    Raises:
        ValueError: a parameter out of range.
    """

    macro: MacroConfig
    cores: int = 64
    buffer_bits: int = 8 * 1024 * 1024

    def __post_init__(self):
        if not isinstance(self.macro, MacroConfig):
            raise ValueError(f"`macro` must be a MacroConfig, not {self.macro!r}")
        for name, lo, hi in (("cores", 1, MAX_CORES), ("buffer_bits", 0, 1 << 48)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not lo <= v <= hi:
                raise ValueError(f"`{name}` must be an integer in [{lo}, {hi}], not {v!r}")
