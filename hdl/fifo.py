"""Event FIFO with a registered output: the head entry comes from a flip-flop, never from an
asynchronous memory read, so the logic it feeds starts a cycle at a register.

Depth 3 and more: Amaranth's `SyncFIFOBuffered` (a synchronous-read memory of ``depth - 1``
entries plus the output register). Depths 1 and 2 are written out as registers: Amaranth's
versions of those emit zero-width address wires (``wire [-1:0]``), which Verilog lint rejects.
An entry written into an empty FIFO is at the output one cycle later.
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib.fifo import SyncFIFOBuffered

__all__ = ["EventFIFO"]


class EventFIFO(Elaboratable):
    """First-word-fall-through FIFO with `SyncFIFO`'s ports: ``w_data``, ``w_en``, ``w_rdy``,
    ``r_data``, ``r_en``, ``r_rdy`` (a write when full, or a read when empty, is ignored),
    plus ``level`` (entries held, the output register included)."""

    def __init__(self, *, width: int, depth: int):
        self.width, self.depth = width, depth
        self.w_data, self.w_en, self.w_rdy = Signal(width), Signal(), Signal()
        self.r_data, self.r_en, self.r_rdy = Signal(width), Signal(), Signal()
        self.level = Signal(range(depth + 1))

    def elaborate(self, platform):
        m = Module()
        if self.depth > 2:
            m.submodules.fifo = fifo = SyncFIFOBuffered(width=self.width, depth=self.depth)
            m.d.comb += [fifo.w_data.eq(self.w_data), fifo.w_en.eq(self.w_en),
                         self.w_rdy.eq(fifo.w_rdy), self.r_data.eq(fifo.r_data),
                         fifo.r_en.eq(self.r_en), self.r_rdy.eq(fifo.r_rdy),
                         self.level.eq(fifo.level)]
            return m
        # registers: head (the output) and, for depth 2, one entry behind it
        head, spare = Signal(self.width), Signal(self.width)
        level = self.level
        push = self.w_en & self.w_rdy
        pop = self.r_en & self.r_rdy
        m.d.comb += [self.w_rdy.eq(level != self.depth), self.r_rdy.eq(level != 0),
                     self.r_data.eq(head)]
        m.d.sync += level.eq(level + push - pop)
        with m.If(push):
            with m.If((level == 0) | ((level == 1) & pop)):
                m.d.sync += head.eq(self.w_data)
            with m.Else():
                m.d.sync += spare.eq(self.w_data)
        with m.Elif(pop):
            m.d.sync += head.eq(spare)
        return m
