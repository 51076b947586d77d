"""Proof (c): one column's bit-serial accumulate is the arithmetic sum, with the saturation
rule of `flexspim.golden.macro`, for every operand value.

The harness drives `BitSerialAdderArray` (one column, batch ``P``) the way the macro's
sequencer does, as `flexspim.golden.macro.accumulate_bitserial` documents it:

* first ``junk`` cycles of free operands with a free ``en``, so the carry register holds an
  arbitrary leftover when the addition starts (``first`` must discard it);
* then ``bv + guard_cycles`` cycles: cycle ``k`` presents bit ``min(k, bw - 1)`` of every
  enabled weight (disabled slots present 0) and bit ``k`` of ``V``; in the guard cycles
  (``k >= bv``) ``V``'s sign bit, held in a register, as its row was overwritten.

From the ``sum`` bits it reconstructs what the macro writes: the ``bv`` result bits; the
overflow flag (some guard bit differs from bit ``bv - 1``); the clamp value (the last guard
bit is the sign: 1 selects the minimum, 0 the maximum). The property, against integer
arithmetic on the free operands ``V`` (``bv`` bits), ``W_1..W_P`` (``bw`` bits) and their
enables: the result is ``T mod 2**bv`` with ``T = V + sum of enabled W``; overflow is set
exactly when ``T`` is outside ``[-2**(bv-1), 2**(bv-1) - 1]``, and then the clamp is the
bound on ``T``'s side. Every cycle the carry stays ``<= P`` (its register width assumes it).
"""

from __future__ import annotations

from amaranth.hdl import Assert, Assume, Cat, Const, Module, Mux, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from flexspim.config import MacroConfig

__all__ = ["AdderHarness"]


class AdderHarness(wiring.Component):
    """``adder_cls(config)`` (default `flexspim.hdl.adder.BitSerialAdderArray`), one column,
    batch ``P``, operands of ``bv`` (potential) and ``bw`` (weights) bits."""

    def __init__(self, *, P: int, bv: int, bw: int, junk: int = 2, adder_cls=None):
        if not 1 <= bw <= bv:
            raise ValueError(f"`bw` must be in [1, bv={bv}], not {bw}")
        if adder_cls is None:
            from flexspim.hdl.adder import BitSerialAdderArray
            adder_cls = BitSerialAdderArray
        self.macro = MacroConfig(rows=max(2, bv + P * bw), cols=1, batch_max=P)
        self.P, self.bv, self.bw, self.junk, self.adder_cls = P, bv, bw, junk, adder_cls
        super().__init__({
            "v": In(bv), "w": In(P * bw), "w_en": In(P),   # constants
            "junk_ops": In(P + 1), "junk_en": In(1),        # free every cycle
        })

    def elaborate(self, platform):
        m = Module()
        P, bv, bw, junk = self.P, self.bv, self.bw, self.junk
        guard = self.macro.guard_cycles
        m.submodules.dut = dut = self.adder_cls(self.macro)

        started = Signal()
        m.d.sync += started.eq(1)
        for port in (self.v, self.w, self.w_en):
            held = Signal(len(port), name=f"{port.name}_q")
            m.d.sync += held.eq(port)
            with m.If(started):
                m.d.comb += Assume(port == held)
        m.d.comb += Assume(~ResetSignal())

        w = [self.w[s * bw:(s + 1) * bw] for s in range(P)]
        last_cycle = junk + bv + guard
        k = Signal(range(last_cycle + 1))
        with m.If(k < last_cycle):
            m.d.sync += k.eq(k + 1)
        i = Signal(range(last_cycle + 1))    # cycle of the addition
        m.d.comb += i.eq(k - junk)
        adding = Signal()
        m.d.comb += adding.eq((k >= junk) & (k < last_cycle))

        # operand bits of addition cycle i (weights saturate at their sign bit)
        wbits = [Signal(name=f"wbit{s}") for s in range(P)]
        vbit = Signal()
        for s in range(P):
            m.d.comb += wbits[s].eq(self.w_en[s] & w[s].bit_select(
                Mux(i < bw - 1, i, bw - 1)[:max(1, (bw - 1).bit_length())], 1))
        vsign = Signal()      # V's sign, kept in a register like the sequencer does
        with m.If(adding & (i == bv - 1)):
            m.d.sync += vsign.eq(self.v[bv - 1])
        m.d.comb += vbit.eq(Mux(i < bv, self.v.bit_select(i[:max(1, (bv - 1).bit_length())], 1),
                                vsign))
        with m.If(adding):
            m.d.comb += [dut.operands.eq(Cat(*wbits, vbit)), dut.first.eq(i == 0),
                         dut.en.eq(1)]
        with m.Elif(k < junk):
            m.d.comb += [dut.operands.eq(self.junk_ops), dut.en.eq(self.junk_en)]

        # what the macro makes of the sum bits
        result = Signal(bv)
        msb = Signal()
        overflow = Signal()
        last = Signal()
        with m.If(adding):
            with m.If(i < bv):
                m.d.sync += result.bit_select(i[:max(1, (bv - 1).bit_length())], 1).eq(dut.sum)
            with m.If(i == bv - 1):
                m.d.sync += msb.eq(dut.sum)
            with m.If(i >= bv):
                with m.If(dut.sum != msb):
                    m.d.sync += overflow.eq(1)
                m.d.sync += last.eq(dut.sum)

        # the arithmetic reference
        total = Signal(range(-(P + 1) << bv, (P + 1) << bv))
        m.d.comb += total.eq(sum([self.v.as_signed()]
                                 + [Mux(self.w_en[s], w[s].as_signed(), 0) for s in range(P)]))
        lo, hi = -(1 << (bv - 1)), (1 << (bv - 1)) - 1
        out_of_range = (total < lo) | (total > hi)
        clamp = Mux(last, Const(lo, range(lo, hi + 1)), Const(hi, range(lo, hi + 1)))
        m.d.comb += Assert(dut.carry <= P, "the carry register exceeded P")
        with m.If(k == last_cycle):
            m.d.comb += [
                Assert(result == total[:bv], "result bits differ from (V + sum W) mod 2**bv"),
                Assert(overflow == out_of_range, "overflow flag differs from 'T out of range'"),
            ]
            with m.If(overflow):
                m.d.comb += Assert(clamp == Mux(total < 0, lo, hi),
                                   "clamp value is not the bound on T's side")
        return m
