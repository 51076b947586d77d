"""Proof (a): the event FIFO never drops, duplicates or reorders, under any push/pop pattern.

The harness pushes and pops at the solver's choice (and resets at its choice) and keeps a
reference queue of the same depth as a shift register of ``depth`` entries. Every cycle:

* ``w_rdy`` is high exactly when the reference holds fewer than ``depth`` items (a push is
  refused only when full, so a producer honouring ``w_rdy`` loses nothing);
* ``r_rdy`` is high exactly when the reference is not empty;
* when ``r_rdy``, ``r_data`` is the reference's oldest item.

Together, over every cycle up to the bound, the popped sequence is exactly the accepted
pushed sequence: nothing dropped, duplicated or reordered. The data are free values, so a
design that mixed up two entries is caught whatever they hold.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["FifoHarness"]


class FifoHarness(wiring.Component):
    """``fifo_cls(width=, depth=)`` (default: `flexspim.hdl.fifo.EventFIFO`) under free
    ``push``/``pop``/``data`` inputs; the sync domain's reset is free too."""

    def __init__(self, *, width: int, depth: int, fifo_cls=None):
        if fifo_cls is None:
            from flexspim.hdl.fifo import EventFIFO
            fifo_cls = EventFIFO
        self.width, self.depth, self.fifo_cls = width, depth, fifo_cls
        super().__init__({"push": In(1), "pop": In(1), "data": In(width)})

    def elaborate(self, platform):
        m = Module()
        w, d = self.width, self.depth
        m.submodules.dut = dut = self.fifo_cls(width=w, depth=d)
        m.d.comb += [dut.w_en.eq(self.push), dut.w_data.eq(self.data), dut.r_en.eq(self.pop)]

        # reference queue: entry 0 is the oldest
        ref = [Signal(w, name=f"ref{i}") for i in range(d)]
        count = Signal(range(d + 1))
        pushed = Signal()
        popped = Signal()
        m.d.comb += [pushed.eq(self.push & (count < d)), popped.eq(self.pop & (count > 0))]
        after_pop = [Signal(w, name=f"after_pop{i}") for i in range(d)]
        for i in range(d):
            m.d.comb += after_pop[i].eq(ref[i + 1] if i + 1 < d else 0)
            with m.If(popped):
                m.d.sync += ref[i].eq(after_pop[i])
        slot = count - popped
        for i in range(d):
            with m.If(pushed & (slot == i)):
                m.d.sync += ref[i].eq(self.data)
        m.d.sync += count.eq(count + pushed - popped)

        m.d.comb += [
            Assert(dut.w_rdy == (count < d), "w_rdy must be high exactly when not full"),
            Assert(dut.r_rdy == (count > 0), "r_rdy must be high exactly when not empty"),
        ]
        with m.If(count > 0):
            m.d.comb += Assert(dut.r_data == ref[0], "r_data must be the oldest item")
        return m
