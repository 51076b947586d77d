"""Accumulate unit: runs one batch ``V += W_1 + ... + W_n`` bit-serially on the array.

Timing and arithmetic follow `flexspim.golden.cycles` / `flexspim.golden.macro`:

* ``ADD`` (``bv`` cycles): cycle ``k`` activates row ``w + min(k, bw-1)`` of every enabled
  weight slot and row ``v_row + k``, and writes bit 0 of the column sums back to row
  ``v_row + k`` of the enabled columns.
* ``GUARD`` (saturate only, ``guard_cycles``): the sums go on with sign-extended operands (V's
  sign comes from a register, its row was just overwritten) and nothing is written; a column
  overflowed if any guard bit differs from the bit written last in ``ADD``.
* ``CLAMP`` (saturate only, ``bv`` cycles): writes the maximum, or the minimum when the last
  guard bit (the sign of the exact total) is 1, into the overflowed enabled columns.

The unit drives the array only while it runs (its outputs are 0 otherwise), so the macro
combines units with an OR.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from flexspim.config import MacroConfig

from .adder import BitSerialAdderArray
from .array import ArraySignature

__all__ = ["AccumulateFields", "AccumulateUnit", "check_config"]


def check_config(config) -> MacroConfig:
    if not isinstance(config, MacroConfig):
        raise ValueError(f"`config` must be a MacroConfig, not {config!r}")
    return config


def AccumulateFields(config: MacroConfig) -> dict:
    """Command fields of an accumulate (all inputs): see `CimMacro` for their meaning."""
    c = check_config(config)
    aw, bw, P = c.row_addr_width, c.bits_width, c.batch_max
    return {"v_row": In(aw), "bv": In(bw), "w_rows": In(P * aw), "w_en": In(P),
            "bw": In(bw), "col_en": In(c.cols), "saturate": In(1)}


class AccumulateUnit(wiring.Component):
    """Ports: the command fields (`AccumulateFields`, sampled when ``start``), ``start`` (in),
    ``ok`` (out: the fields form a valid command, combinationally), ``done`` (out: pulses in
    the last cycle), ``overflow`` (out, cols: held until the next start) and ``array``
    (drives the array's ports, see `ArraySignature`)."""

    def __init__(self, config: MacroConfig):
        self.config = check_config(config)
        super().__init__({
            **AccumulateFields(config),
            "start": In(1),
            "ok": Out(1),
            "done": Out(1),
            "overflow": Out(config.cols),
            "array": In(ArraySignature(config)),
        })

    def _check_fields(self, m: Module) -> None:
        """The checks of `AccumulateOp.check_fits`, on the fields."""
        cfg = self.config
        aw, P = cfg.row_addr_width, cfg.batch_max
        w = [self.w_rows[i * aw:(i + 1) * aw] for i in range(P)]
        ok = [self.bv >= 1, self.bw >= 1, self.bw <= self.bv, self.v_row + self.bv <= cfg.rows]
        if (1 << cfg.bits_width) - 1 > cfg.max_bits:   # else the field cannot exceed it
            ok.append(self.bv <= cfg.max_bits)
        for i in range(P):
            fits = (w[i] + self.bw <= cfg.rows) & (
                (w[i] + self.bw <= self.v_row) | (self.v_row + self.bv <= w[i]))
            ok.append(~self.w_en[i] | fits)
            for j in range(i + 1, P):
                ok.append(~(self.w_en[i] & self.w_en[j]) | (w[i] != w[j]))
        m.d.comb += self.ok.eq(Cat(*ok).all())

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        cols, P, aw = cfg.cols, cfg.batch_max, cfg.row_addr_width
        arr = self.array
        self._check_fields(m)
        m.submodules.adders = adders = BitSerialAdderArray(cfg)

        # -- command registers (latched at start) -----------------------------------------
        v_row = Signal(aw)
        bv = Signal(cfg.bits_width)
        bw = Signal(cfg.bits_width)
        w_rows = [Signal(aw, name=f"w_row{i}") for i in range(P)]
        w_en = Signal(P)
        col_en = Signal(cols)
        saturate = Signal()

        # -- bit-serial state -------------------------------------------------------------
        k = Signal(range(cfg.max_bits + 1))        # bit index in ADD / CLAMP
        g = Signal(range(cfg.guard_cycles + 1))    # guard cycle index
        kw = Signal(range(cfg.max_bits + 1))       # min(k, bw - 1): the weights' active bit
        msb = Signal(cols)                         # bit bv-1 of the written sum
        vsign = Signal(cols)                       # V's original sign bit
        last = Signal(cols)                        # latest guard bit: sign of the exact total
        overflow = Signal(cols)
        m.d.comb += self.overflow.eq(overflow)

        rd = [arr.rd_data[i * cols:(i + 1) * cols] for i in range(P + 1)]
        v_port = P                                 # the last read port reads V
        active = Signal()
        with m.If(active):                         # weights: base + min(k, bw-1)
            for i in range(P):
                m.d.comb += arr.rd_addr[i * aw:(i + 1) * aw].eq(w_rows[i] + kw)
        for i in range(P):                         # disabled slots contribute 0
            m.d.comb += adders.operands[i * cols:(i + 1) * cols].eq(
                rd[i] & w_en[i].replicate(cols))

        with m.FSM(name="acc"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [
                        v_row.eq(self.v_row), bv.eq(self.bv), bw.eq(self.bw),
                        w_en.eq(self.w_en), col_en.eq(self.col_en),
                        saturate.eq(self.saturate),
                        k.eq(0), kw.eq(0), g.eq(0), overflow.eq(0),
                    ]
                    m.d.sync += [w_rows[i].eq(self.w_rows[i * aw:(i + 1) * aw])
                                 for i in range(P)]
                    m.next = "ADD"

            with m.State("ADD"):
                m.d.comb += [
                    active.eq(1),
                    arr.rd_addr[v_port * aw:].eq(v_row + k),
                    adders.operands[v_port * cols:].eq(rd[v_port]),
                    adders.first.eq(k == 0),
                    adders.en.eq(1),
                    arr.wr_addr.eq(v_row + k),
                    arr.wr_data.eq(adders.sum),
                    arr.wr_en.eq(col_en),
                ]
                m.d.sync += k.eq(k + 1)
                with m.If(kw + 1 < bw):
                    m.d.sync += kw.eq(kw + 1)
                with m.If(k + 1 == bv):
                    m.d.sync += [msb.eq(adders.sum), vsign.eq(rd[v_port])]
                    with m.If(saturate):
                        m.next = "GUARD"
                    with m.Else():
                        m.d.comb += self.done.eq(1)
                        m.next = "IDLE"

            with m.State("GUARD"):
                m.d.comb += [
                    active.eq(1),
                    adders.operands[v_port * cols:].eq(vsign),
                    adders.en.eq(1),
                ]
                m.d.sync += [g.eq(g + 1), last.eq(adders.sum),
                             overflow.eq(overflow | ((adders.sum ^ msb) & col_en))]
                with m.If(g + 1 == cfg.guard_cycles):
                    m.d.sync += k.eq(0)
                    m.next = "CLAMP"

            with m.State("CLAMP"):
                top = Signal()
                m.d.comb += [
                    top.eq(k + 1 == bv),
                    arr.wr_addr.eq(v_row + k),
                    # max = 0111..1, min = 1000..0: bit k is (k < bv-1) xor sign
                    arr.wr_data.eq(last ^ (~top).replicate(cols)),
                    arr.wr_en.eq(overflow),
                ]
                m.d.sync += k.eq(k + 1)
                with m.If(top):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"
        return m
