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
from amaranth.lib.wiring import In

from flexspim.config import LEAK_MODES, MacroConfig

from .accumulate import check_config, unit_ports

__all__ = ["LEAK_NONE", "LEAK_SUB", "LEAK_SHIFT", "FIRE_PASSES", "FireFields", "FireFront",
           "FireUnit", "check_fire_inputs"]

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


def check_fire_inputs(unit, m: Module, pre, rows_in) -> None:
    """The checks on a fire unit's command inputs that need a shift or a sum, registered at
    issue (``pre``: dict of signals); V and the thresholds are ``rows_in`` rows tall (``bv``
    when vertical)."""
    bv = unit.bv
    # threshold within the bv-bit signed range: bits bv-1 .. up are all sign copies.
    # hi = ones from bit bv-1 up (a thermometer code: shallower than a shifter)
    mb = unit.config.max_bits
    hi = Signal(mb, name="hi_bits")
    top = (1 << len(bv)) - 1                  # largest value the field can hold
    m.d.comb += hi.eq(Cat(*[Const(1, 1) if top <= j + 1 else bv <= j + 1
                            for j in range(mb)]))
    th, leak = unit.threshold, unit.leak
    m.d.sync += [
        pre["th_ok"].eq(((th & hi) == 0) | ((th & hi) == hi)),
        pre["leak_ok"].eq(Mux(unit.leak_mode == LEAK_NONE, leak == 0,
                              Mux(unit.leak_mode == LEAK_SUB, (leak & hi) == 0,
                                  leak < bv))),
        pre["v_top"].eq(unit.v_row + rows_in), pre["t_top"].eq(unit.theta_row + rows_in),
    ]


class FireUnit(wiring.Component):
    """Ports: the command fields (`FireFields`, registered when ``start``), ``start`` (in),
    ``done`` (out: pulses in the last cycle), ``error`` (out, with ``done``: the command broke
    a rule and nothing was written), ``spikes`` (out, cols: held until the next start) and
    ``array`` (see `ArraySignature`)."""

    def __init__(self, config: MacroConfig):
        self.config = check_config(config)
        super().__init__(unit_ports(config, FireFields(config), "spikes"))

    def _check_inputs(self, m: Module, pre) -> None:
        check_fire_inputs(self, m, pre, self.bv)

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
        cols, aw, mb = cfg.cols, cfg.row_addr_width, cfg.max_bits
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

        LEAK, UNCROSS, COMPARE, RESET, CLAMP = FIRE_PASSES
        front = FireFront(m, cfg, arr, rows=bv, k=k, k_shape=range(mb + 1), va=va, xa=xa,
                          kx=kx, f_last=f_last, kill=kill, check=check, v_row=v_row,
                          theta_row=theta_row)
        b_pass, b_first, b_top, b_fin, b_k, wv = (front.b_pass, front.b_first, front.b_top,
                                                  front.b_fin, front.b_k, front.wv)
        rd_v, rd_x = front.rd_v, front.rd_x

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
            front.states(leak_mode, theta_src, soft)

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


#: Pass codes of the fire pipeline (0: no pass in the back stage).
FIRE_PASSES = (1, 2, 3, 4, 5)     # LEAK, UNCROSS, COMPARE, RESET, CLAMP


class FireFront:
    """The front of a fire unit and its pipeline registers, shared by `FireUnit` and
    `flexspim.hdl.lif_shaped.ShapedFireUnit`: the passes walk ``rows`` steps (``bv`` bits
    when vertical, ``R = ceil(bv / N_C)`` rows when shaped) with the same counters, read
    ports and states.

    Made where the unit's elaboration needs the back's registers (``b_pass``, ``b_first``,
    ``b_top``, ``b_fin``, ``b_k``: the front's step one cycle later; ``wv``: its V row) and the
    read data (``rd_v``: V's port ``P``; ``rd_x``: port 0, the shifted V row or the threshold
    row; the other ports stay idle at row 0). The unit writes its own ``IDLE`` state (and any
    state before ``LEAK``) inside ``m.FSM(name="fire")``, then calls `states`."""

    def __init__(self, m: Module, cfg: MacroConfig, arr, *, rows, k, k_shape, va, xa, kx,
                 f_last, kill, check, v_row, theta_row):
        self.m, self.rows, self.k, self.va, self.xa, self.kx = m, rows, k, va, xa, kx
        self.f_last, self.kill, self.check = f_last, kill, check
        self.v_row, self.theta_row = v_row, theta_row
        P, aw, cols = cfg.batch_max, cfg.row_addr_width, cfg.cols
        # unnamed in the Verilog, as they were before this class was factored out
        f_pass, b_pass = (Signal(3) for _ in range(2))
        f_first, b_first, f_top, b_top, f_fin, b_fin = (Signal() for _ in range(6))
        b_k = Signal(k_shape, name="b_k")
        wv = Signal(aw, name="wv")                 # the V row of the back's step
        m.d.sync += [b_pass.eq(Mux(kill, 0, f_pass)), b_first.eq(f_first), b_top.eq(f_top),
                     b_fin.eq(f_fin & ~kill), b_k.eq(k), wv.eq(va)]
        self.f_pass, self.b_pass, self.f_first, self.b_first = f_pass, b_pass, f_first, b_first
        self.f_top, self.b_top, self.f_fin, self.b_fin = f_top, b_top, f_fin, b_fin
        self.b_k, self.wv = b_k, wv

        v_port, x_port = P, 0
        self.ax, self.av = Signal(aw, name="rd_addr_x"), Signal(aw, name="rd_addr_v")
        self.ex, self.ev = Signal(name="rd_en_x"), Signal(name="rd_en_v")
        m.d.comb += [arr.rd_addr.eq(Cat(self.ax, Const(0, (P - 1) * aw), self.av)),
                     arr.rd_en.eq(Cat(self.ex, Const(0, P - 1), self.ev))]
        self.rd_v = arr.rd_data[v_port * cols:(v_port + 1) * cols]
        self.rd_x = arr.rd_data[x_port * cols:(x_port + 1) * cols]

    def present(self, v: bool, x) -> None:
        """Activate V's row ``va`` (if ``v``) and port 0's row ``xa`` when ``x``."""
        if v:
            self.m.d.comb += [self.ev.eq(1), self.av.eq(self.va)]
        self.m.d.comb += [self.ex.eq(x), self.ax.eq(self.xa)]

    def step_x(self) -> None:
        """Port 0 walks V's rows, up to the last."""
        with self.m.If(self.kx + 1 < self.rows):
            self.m.d.sync += [self.kx.eq(self.kx + 1), self.xa.eq(self.xa + 1)]

    def advance(self, pass_id, fin, next_pass) -> None:
        """One front step of ``pass_id``; ``next_pass()`` chooses the following state."""
        m, k = self.m, self.k
        m.d.sync += self.check.eq(0)
        m.d.comb += [self.f_pass.eq(pass_id), self.f_first.eq(k == 0),
                     self.f_top.eq(self.f_last), self.f_fin.eq(self.f_last & fin)]
        m.d.sync += [k.eq(k + 1), self.va.eq(self.va + 1)]
        with m.If(self.f_last):
            m.d.sync += [k.eq(0), self.va.eq(self.v_row), self.xa.eq(self.theta_row)]
            next_pass()
        with m.If(self.kill):
            m.next = "IDLE"

    def to_compare(self) -> None:
        """One row: the bubble (see golden.cycles), else the compare pass."""
        with self.m.If(self.rows == 1):
            self.m.next = "BUBBLE"
        with self.m.Else():
            self.m.next = "COMPARE"

    def states(self, leak_mode, theta_src, soft) -> None:
        """The states ``LEAK`` .. ``CLAMP`` (inside the unit's ``m.FSM``)."""
        m, present, advance = self.m, self.present, self.advance
        LEAK, UNCROSS, COMPARE, RESET, CLAMP = FIRE_PASSES
        with m.State("LEAK"):
            present(True, 1)
            self.step_x()

            def after_leak():
                with m.If(leak_mode == LEAK_SUB):
                    m.next = "UNCROSS"
                with m.Else():
                    self.to_compare()
            advance(LEAK, 0, after_leak)

        with m.State("UNCROSS"):
            advance(UNCROSS, 0, self.to_compare)

        with m.State("BUBBLE"):
            m.d.sync += self.check.eq(0)
            m.next = "COMPARE"
            with m.If(self.kill):
                m.next = "IDLE"

        with m.State("COMPARE"):
            present(True, theta_src)
            m.d.sync += self.xa.eq(self.xa + 1)

            def after_compare():
                m.next = "RESET"
            advance(COMPARE, 0, after_compare)

        with m.State("RESET"):
            present(True, theta_src & soft)
            m.d.sync += self.xa.eq(self.xa + 1)

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
