"""Event FIFO: Amaranth's `SyncFIFO`, or a single register when the depth is 1.

`SyncFIFO` of depth 1 emits zero-width address wires (``wire [-1:0]``), which Verilog lint
rejects; a one-entry FIFO is simply a full flag and a data register.
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib.fifo import SyncFIFO

__all__ = ["EventFIFO"]


class EventFIFO(Elaboratable):
    """First-word-fall-through FIFO with `SyncFIFO`'s ports: ``w_data``, ``w_en``, ``w_rdy``,
    ``r_data``, ``r_en``, ``r_rdy`` (a write when full, or a read when empty, is ignored)."""

    def __init__(self, *, width: int, depth: int):
        self.width, self.depth = width, depth
        self.w_data, self.w_en, self.w_rdy = Signal(width), Signal(), Signal()
        self.r_data, self.r_en, self.r_rdy = Signal(width), Signal(), Signal()

    def elaborate(self, platform):
        m = Module()
        if self.depth > 1:
            m.submodules.fifo = fifo = SyncFIFO(width=self.width, depth=self.depth)
            m.d.comb += [fifo.w_data.eq(self.w_data), fifo.w_en.eq(self.w_en),
                         self.w_rdy.eq(fifo.w_rdy), self.r_data.eq(fifo.r_data),
                         fifo.r_en.eq(self.r_en), self.r_rdy.eq(fifo.r_rdy)]
            return m
        full = Signal()
        data = Signal(self.width)
        m.d.comb += [self.w_rdy.eq(~full), self.r_rdy.eq(full), self.r_data.eq(data)]
        with m.If(self.r_en & full):
            m.d.sync += full.eq(0)
        with m.If(self.w_en & ~full):
            m.d.sync += [full.eq(1), data.eq(self.w_data)]
        return m
