"""Fire unit: the LIF update of one neuron slot, bit-serially in every column at once.

Arithmetic and timing follow `flexspim.golden.macro.MacroModel.fire` and
`flexspim.golden.cycles.fire_cycles`. Each column has a 1-bit carry register and one full
adder; rows are read through two array ports (``V``'s port and port 0):

* ``LEAK`` (``bv`` cycles), "shift": ``V - (V >>> s)``: port 0 reads row
  ``v_row + min(k + s, bv - 1)`` (the shifted, sign-extended operand), inverted, carry-in 1.
  "sub": port 0 reads V's sign row; the operand is the leak constant (added when V < 0,
  subtracted otherwise); the result is exact in ``bv`` bits.
* ``UNCROSS`` ("sub" only, ``bv`` cycles): writes 0 where the result crossed zero (V >= 0 and
  the result < 0, or V < 0 and the result > 0).
* ``COMPARE`` (``bv`` cycles): ``V - theta`` in ``bv + 1`` bits (theta from the register or,
  through port 0, from the array); nothing is written; spike = the difference is >= 0.
* ``RESET`` (``bv`` cycles): hard: zeros where spiked; soft: ``V - theta`` written where spiked.
* ``CLAMP`` (soft only, ``bv`` cycles): where ``V - theta`` (>= 0 after a spike) came out
  negative in ``bv`` bits it overflowed: the maximum is written.

As in the accumulate unit (read it first), the array is read synchronously: a front walks the
passes and presents each step's rows from counters, the back runs the step a cycle later on
the rows that arrived and writes the result. The check is pipelined as there: field sums and
the threshold/leak range tests registered at issue, the rest in the read-ahead cycle, the
verdict acted on in the cycle after (whose write is suppressed). With
``bv = 1`` a one-cycle bubble separates a leak pass from the compare pass, whose read of row
``v_row`` would otherwise meet the write of that row at the same edge.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from flexspim.config import LEAK_MODES, MacroConfig

from .accumulate import check_config
from .array import ArraySignature

__all__ = ["LEAK_NONE", "LEAK_SUB", "LEAK_SHIFT", "FireFields", "FireUnit"]

#: Encoding of the ``leak_mode`` field: the index in `flexspim.config.LEAK_MODES`.
LEAK_NONE, LEAK_SUB, LEAK_SHIFT = (LEAK_MODES.index(m) for m in ("none", "sub", "shift"))


def FireFields(config: MacroConfig) -> dict:
    """Command fields of a fire pass (all inputs): see `CimMacro` for their meaning."""
    c = check_config(config)
    aw, bw, mb = c.row_addr_width, c.bits_width, c.max_bits
    fields = {"v_row": In(aw), "bv": In(bw), "leak_mode": In(2), "leak": In(mb),
              "threshold": In(mb), "theta_src": In(1), "theta_row": In(aw),
              "soft_reset": In(1), "col_en": In(c.cols)}
    if c.max_operand_cols > 1:   # the shape N_C itself (issue 20); absent at the default
        fields["operand_cols"] = In(c.max_operand_cols.bit_length())
    return fields


class FireUnit(wiring.Component):
    """Ports: the command fields (`FireFields`, registered when ``start``), ``start`` (in),
    ``done`` (out: pulses in the last cycle), ``error`` (out, with ``done``: the command broke
    a rule and nothing was written), ``spikes`` (out, cols: held until the next start) and
    ``array`` (see `ArraySignature`)."""

    def __init__(self, config: MacroConfig):
        self.config = check_config(config)
        super().__init__({
            **FireFields(config),
            "start": In(1),
            "done": Out(1),
            "error": Out(1),
            "spikes": Out(config.cols),
            "array": In(ArraySignature(config)),
        })

    def _check_inputs(self, m: Module, pre) -> None:
        """The checks on the command inputs that need a shift or a sum, registered at issue
        (``pre``: dict of signals)."""
        cfg = self.config
        bv = self.bv
        # threshold within the bv-bit signed range: bits bv-1 .. up are all sign copies.
        # hi = ones from bit bv-1 up (a thermometer code: shallower than a shifter)
        mb = cfg.max_bits
        hi = Signal(mb, name="hi_bits")
        top = (1 << len(bv)) - 1                  # largest value the field can hold
        m.d.comb += hi.eq(Cat(*[Const(1, 1) if top <= j + 1 else bv <= j + 1
                                for j in range(mb)]))
        th, leak = self.threshold, self.leak
        m.d.sync += [
            pre["th_ok"].eq(((th & hi) == 0) | ((th & hi) == hi)),
            pre["leak_ok"].eq(Mux(self.leak_mode == LEAK_NONE, leak == 0,
                                  Mux(self.leak_mode == LEAK_SUB, (leak & hi) == 0,
                                      leak < bv))),
            pre["v_top"].eq(self.v_row + bv), pre["t_top"].eq(self.theta_row + bv),
        ]

    def _check_fields(self, m: Module, ok, f, pre) -> None:
        """The checks of `FireOp` / `LayerConfig` / `check_fits`, on the registered fields
        ``f`` and the registered partial checks ``pre``."""
        cfg = self.config
        bv = f["bv"]
        conds = [bv >= 1, pre["v_top"] <= cfg.rows, f["leak_mode"] != 3, pre["th_ok"],
                 pre["leak_ok"]]
        if (1 << cfg.bits_width) - 1 > cfg.max_bits:
            conds.append(bv <= cfg.max_bits)
        t, v = f["theta_row"], f["v_row"]
        t_fits = (pre["t_top"] <= cfg.rows) & ((pre["t_top"] <= v) | (pre["v_top"] <= t))
        conds.append(~f["theta_src"] | t_fits)
        m.d.comb += ok.eq(Cat(*conds).all())

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        cols, P, aw, mb = cfg.cols, cfg.batch_max, cfg.row_addr_width, cfg.max_bits
        arr = self.array

        # -- command registers ------------------------------------------------------------
        f = {name: Signal(len(getattr(self, name)), name=f"cmd_{name}")
             for name in FireFields(cfg)}
        v_row, bv, leak_mode, leak = f["v_row"], f["bv"], f["leak_mode"], f["leak"]
        threshold, theta_src, theta_row = f["threshold"], f["theta_src"], f["theta_row"]
        soft, col_en = f["soft_reset"], f["col_en"]
        sum_w = max(aw, cfg.bits_width) + 1       # no wrap: the sum of two fields
        pre = {"th_ok": Signal(), "leak_ok": Signal(), "v_top": Signal(sum_w),
               "t_top": Signal(sum_w)}
        ok, ok_q, check, check2, kill = Signal(), Signal(), Signal(), Signal(), Signal()
        self._check_fields(m, ok, f, pre)
        m.d.sync += [check2.eq(check), ok_q.eq(ok)]
        m.d.comb += kill.eq(check2 & ~ok_q)
        carry = Signal(cols)
        nonzero = Signal(cols)     # OR of the leak result's bits ("sub")
        flag = Signal(cols)        # crossed zero / overflowed: columns the next pass writes
        spikes = Signal(cols)

        # -- front: walks the passes, presents each step's rows from counters -------------
        k = Signal(range(mb + 1))
        va = Signal(aw)                            # v_row + k
        xa = Signal(aw)                            # port 0: shifted V row, or theta_row + k
        kx = Signal(range(2 * mb + 1))             # bit index of the shifted V row
        f_last = Signal()
        m.d.comb += f_last.eq(k + 1 == bv)

        LEAK, UNCROSS, COMPARE, RESET, CLAMP = 1, 2, 3, 4, 5
        f_pass, b_pass = Signal(3), Signal(3)
        f_first, b_first = Signal(), Signal()
        f_top, b_top = Signal(), Signal()
        f_fin, b_fin = Signal(), Signal()
        b_k = Signal(range(mb + 1))
        wv = Signal(aw)                            # the V row of the back's step
        m.d.sync += [b_pass.eq(Mux(kill, 0, f_pass)), b_first.eq(f_first), b_top.eq(f_top),
                     b_fin.eq(f_fin & ~kill), b_k.eq(k), wv.eq(va)]

        v_port, x_port = P, 0
        # only port 0 and V's port are used; the other ports stay idle at row 0
        ax, av = Signal(aw, name="rd_addr_x"), Signal(aw, name="rd_addr_v")
        ex, ev = Signal(name="rd_en_x"), Signal(name="rd_en_v")
        m.d.comb += [arr.rd_addr.eq(Cat(ax, Const(0, (P - 1) * aw), av)),
                     arr.rd_en.eq(Cat(ex, Const(0, P - 1), ev))]
        rd_v = arr.rd_data[v_port * cols:(v_port + 1) * cols]
        rd_x = arr.rd_data[x_port * cols:(x_port + 1) * cols]

        def present(v: bool, x):
            if v:
                m.d.comb += [ev.eq(1), av.eq(va)]
            m.d.comb += [ex.eq(x), ax.eq(xa)]

        def advance(pass_id, fin, next_pass):
            """One front step of ``pass_id``; ``next_pass()`` chooses the following state."""
            m.d.sync += check.eq(0)
            m.d.comb += [f_pass.eq(pass_id), f_first.eq(k == 0), f_top.eq(f_last),
                         f_fin.eq(f_last & fin)]
            m.d.sync += [k.eq(k + 1), va.eq(va + 1)]
            with m.If(f_last):
                m.d.sync += [k.eq(0), va.eq(v_row), xa.eq(theta_row)]
                next_pass()
            with m.If(kill):
                m.next = "IDLE"

        def to_compare():                          # bv = 1: the bubble (see golden.cycles)
            with m.If(bv == 1):
                m.next = "BUBBLE"
            with m.Else():
                m.next = "COMPARE"

        with m.FSM(name="fire"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [sig.eq(getattr(self, name)) for name, sig in f.items()]
                    self._check_inputs(m, pre)
                    # shift: V >>> s reads row v_row + min(k + s, bv - 1); sub: the sign row
                    off = Mux(self.leak_mode == LEAK_SUB, self.bv - 1, self.leak)
                    m.d.sync += [va.eq(self.v_row), kx.eq(off), k.eq(0), check.eq(1),
                                 nonzero.eq(0), spikes.eq(0),
                                 xa.eq(Mux(self.leak_mode == LEAK_NONE, self.theta_row,
                                           self.v_row + off))]
                    with m.If(self.leak_mode == LEAK_NONE):
                        m.next = "COMPARE"
                    with m.Else():
                        m.next = "LEAK"

            with m.State("LEAK"):
                present(True, 1)
                with m.If(kx + 1 < bv):
                    m.d.sync += [kx.eq(kx + 1), xa.eq(xa + 1)]

                def after_leak():
                    with m.If(leak_mode == LEAK_SUB):
                        m.next = "UNCROSS"
                    with m.Else():
                        to_compare()
                advance(LEAK, 0, after_leak)

            with m.State("UNCROSS"):
                advance(UNCROSS, 0, to_compare)

            with m.State("BUBBLE"):
                m.d.sync += check.eq(0)
                m.next = "COMPARE"
                with m.If(kill):
                    m.next = "IDLE"

            with m.State("COMPARE"):
                present(True, theta_src)
                m.d.sync += xa.eq(xa + 1)

                def after_compare():
                    m.next = "RESET"
                advance(COMPARE, 0, after_compare)

            with m.State("RESET"):
                present(True, theta_src & soft)
                m.d.sync += xa.eq(xa + 1)

                def after_reset():
                    with m.If(soft):
                        m.next = "CLAMP"
                    with m.Else():
                        m.next = "IDLE"
                advance(RESET, ~soft, after_reset)

            with m.State("CLAMP"):
                def after_clamp():
                    m.next = "IDLE"
                advance(CLAMP, 1, after_clamp)

        # -- back: one full adder per column on the rows that arrived ---------------------
        m.d.comb += [self.spikes.eq(spikes), self.done.eq(b_fin | kill), self.error.eq(kill)]
        a, b, cin = Signal(cols), Signal(cols), Signal(cols)
        s, cout = Signal(cols), Signal(cols)
        m.d.comb += [s.eq(a ^ b ^ cin), cout.eq((a & b) | (cin & (a ^ b)))]
        ones = (1 << cols) - 1
        # bit b_k of the leak and of the threshold, selected once and fanned out to every
        # column (a replicated bit_select would emit one shifter per column)
        leak_bit, theta_bit = Signal(), Signal()
        m.d.comb += [leak_bit.eq(leak.bit_select(b_k, 1)),
                     theta_bit.eq(threshold.bit_select(b_k, 1))]

        def v_minus_theta():                       # V + ~theta + 1
            theta = Mux(theta_src, rd_x, theta_bit.replicate(cols))
            m.d.comb += [a.eq(rd_v), b.eq(~theta), cin.eq(Mux(b_first, ones, carry))]
            m.d.sync += carry.eq(cout)

        def write(mask, data):
            m.d.comb += [arr.wr_en.eq(1), arr.wr_addr.eq(wv), arr.wr_data.eq(data),
                         arr.wr_mask.eq(mask)]

        with m.Switch(Mux(kill, 0, b_pass)):      # a rejected command writes nothing
            with m.Case(LEAK):
                m.d.comb += a.eq(rd_v)
                write(col_en, s)
                with m.If(leak_mode == LEAK_SHIFT):
                    m.d.comb += [b.eq(~rd_x), cin.eq(Mux(b_first, ones, carry))]
                with m.Else():   # sub: V < 0 adds the leak, V >= 0 subtracts it
                    m.d.comb += [b.eq(leak_bit.replicate(cols) ^ ~rd_x),
                                 cin.eq(Mux(b_first, ~rd_x, carry))]
                    m.d.sync += nonzero.eq(nonzero | s)
                m.d.sync += carry.eq(cout)
                with m.If(b_top):
                    m.d.sync += flag.eq((~rd_x & s) | (rd_x & ~s & (nonzero | s)))
            with m.Case(UNCROSS):
                write(flag & col_en, 0)
            with m.Case(COMPARE):
                v_minus_theta()
                with m.If(b_top):
                    # bit bv of V - theta (both sign-extended once more) is the sign
                    m.d.sync += spikes.eq(~(a ^ b ^ cout) & col_en)
            with m.Case(RESET):
                with m.If(soft):
                    v_minus_theta()
                    write(spikes, s)
                    with m.If(b_top):
                        m.d.sync += flag.eq(s & spikes)
                with m.Else():
                    write(spikes, 0)
            with m.Case(CLAMP):
                write(flag, Mux(b_top, 0, ones))
        return m
