"""Proof (a): the event FIFO never drops, duplicates or reorders, under any push/pop pattern.

The harness pushes and pops at the solver's choice (and resets at its choice) and keeps a
reference queue of ``depth`` entries (a shift register) of what the FIFO accepted
(``w_en & w_rdy``) and not yet handed out (``r_en & r_rdy``). Every cycle:

* the FIFO offers an item (``r_rdy``) only when the reference holds one, and then it is the
  reference's oldest (nothing invented, duplicated or reordered);
* it accepts a write only when the reference holds fewer than ``depth`` items (nothing
  overwritten);
* it never sits on an item without offering it, nor refuses writes while not full, for more
  than ``LATENCY`` cycles (nothing lost inside; the registered head of `EventFIFO` takes one
  cycle to show a new item, Amaranth's buffered FIFO may take more).

The data are free values, so a design that mixed up two entries is caught whatever they hold.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["FifoHarness", "LATENCY"]

#: cycles an item may sit in the FIFO before it must be offered (and a free slot before it
#: must be accepted)
LATENCY = 2


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
        m.d.comb += [pushed.eq(self.push & dut.w_rdy & (count < d)),
                     popped.eq(self.pop & dut.r_rdy & (count > 0))]
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
            Assert(~dut.w_rdy | (count < d), "accepted a write while holding depth items"),
            Assert(~dut.r_rdy | (count > 0), "offered an item that was never written"),
        ]
        with m.If(dut.r_rdy):
            m.d.comb += Assert(dut.r_data == ref[0], "r_data must be the oldest item")
        # bounded latency: nothing held back or refused for long
        hold = Signal(range(LATENCY + 2))
        refuse = Signal(range(LATENCY + 2))
        m.d.sync += [hold.eq(Mux((count > 0) & ~dut.r_rdy, hold + 1, 0)),
                     refuse.eq(Mux((count < d) & ~dut.w_rdy, refuse + 1, 0))]
        m.d.comb += [
            Assert(hold <= LATENCY, "an item is held without being offered"),
            Assert(refuse <= LATENCY, "writes are refused while the FIFO is not full"),
        ]
        return m
