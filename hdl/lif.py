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
    return {"v_row": In(aw), "bv": In(bw), "leak_mode": In(2), "leak": In(mb),
            "threshold": In(mb), "theta_src": In(1), "theta_row": In(aw),
            "soft_reset": In(1), "col_en": In(c.cols)}


class FireUnit(wiring.Component):
    """Ports: the command fields (`FireFields`, sampled when ``start``), ``start`` (in),
    ``ok`` (out: the fields form a valid command), ``done`` (out: pulses in the last cycle),
    ``spikes`` (out, cols: held until the next start) and ``array`` (see `ArraySignature`)."""

    def __init__(self, config: MacroConfig):
        self.config = check_config(config)
        super().__init__({
            **FireFields(config),
            "start": In(1),
            "ok": Out(1),
            "done": Out(1),
            "spikes": Out(config.cols),
            "array": In(ArraySignature(config)),
        })

    def _check_fields(self, m: Module) -> None:
        """The checks of `FireOp` / `LayerConfig` / `check_fits`, on the fields."""
        cfg = self.config
        bv = self.bv
        ok = [bv >= 1, self.v_row + bv <= cfg.rows, self.leak_mode != 3]
        if (1 << cfg.bits_width) - 1 > cfg.max_bits:
            ok.append(bv <= cfg.max_bits)
        # threshold within the bv-bit signed range: bits bv-1 .. up are all sign copies
        th_hi = Signal(cfg.max_bits, name="th_hi")
        m.d.comb += th_hi.eq(self.threshold.as_signed() >> (bv - 1).as_unsigned())
        ok.append((th_hi == 0) | (th_hi == (1 << cfg.max_bits) - 1))
        ok.append(Mux(self.leak_mode == LEAK_NONE, self.leak == 0,
                      Mux(self.leak_mode == LEAK_SUB, (self.leak >> (bv - 1).as_unsigned()) == 0,
                          self.leak < bv)))
        t_fits = (self.theta_row + bv <= cfg.rows) & (
            (self.theta_row + bv <= self.v_row) | (self.v_row + bv <= self.theta_row))
        ok.append(~self.theta_src | t_fits)
        m.d.comb += self.ok.eq(Cat(*ok).all())

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        cols, P, aw, mb = cfg.cols, cfg.batch_max, cfg.row_addr_width, cfg.max_bits
        arr = self.array
        self._check_fields(m)

        # -- command registers ------------------------------------------------------------
        v_row = Signal(aw)
        bv = Signal(cfg.bits_width)
        leak_mode = Signal(2)
        leak = Signal(mb)
        threshold = Signal(mb)
        theta_src = Signal()
        theta_row = Signal(aw)
        soft = Signal()
        col_en = Signal(cols)

        k = Signal(range(mb + 1))
        carry = Signal(cols)
        nonzero = Signal(cols)     # OR of the leak result's bits ("sub")
        flag = Signal(cols)        # crossed zero / overflowed: columns the next pass writes
        spikes = Signal(cols)
        m.d.comb += self.spikes.eq(spikes)

        v_port, x_port = P, 0
        # only port 0 and V's port are used; the others are tied to row 0
        addr_x, addr_v = Signal(aw), Signal(aw)
        m.d.comb += arr.rd_addr.eq(Cat(addr_x, Const(0, (P - 1) * aw), addr_v))
        rd_v = arr.rd_data[v_port * cols:(v_port + 1) * cols]
        rd_x = arr.rd_data[x_port * cols:(x_port + 1) * cols]
        last = Signal()
        m.d.comb += last.eq(k + 1 == bv)

        # one full adder per column: a + b + carry (carry-in given on the first cycle)
        a, b, cin = Signal(cols), Signal(cols), Signal(cols)
        s, cout = Signal(cols), Signal(cols)
        m.d.comb += [s.eq(a ^ b ^ cin), cout.eq((a & b) | (cin & (a ^ b)))]
        ones = (1 << cols) - 1

        def theta_bit():
            return Mux(theta_src, rd_x, threshold.bit_select(k, 1).replicate(cols))

        def read_v_and_theta():
            m.d.comb += [addr_v.eq(v_row + k),
                         addr_x.eq(theta_row + k),
                         a.eq(rd_v), b.eq(~theta_bit()),
                         cin.eq(Mux(k == 0, ones, carry))]   # V + ~theta + 1
            m.d.sync += [carry.eq(cout), k.eq(k + 1)]

        def zero_pass(mask, data, next_state):
            m.d.comb += [arr.wr_addr.eq(v_row + k), arr.wr_data.eq(data),
                         arr.wr_en.eq(mask)]
            m.d.sync += k.eq(k + 1)
            with m.If(last):
                m.d.sync += k.eq(0)
                m.next = next_state

        with m.FSM(name="fire"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [
                        v_row.eq(self.v_row), bv.eq(self.bv), leak_mode.eq(self.leak_mode),
                        leak.eq(self.leak), threshold.eq(self.threshold),
                        theta_src.eq(self.theta_src), theta_row.eq(self.theta_row),
                        soft.eq(self.soft_reset), col_en.eq(self.col_en),
                        k.eq(0), nonzero.eq(0), spikes.eq(0),
                    ]
                    with m.If(self.leak_mode == LEAK_NONE):
                        m.next = "COMPARE"
                    with m.Else():
                        m.next = "LEAK"

            with m.State("LEAK"):
                shifted = Signal(range(2 * mb + 1))
                m.d.comb += [
                    shifted.eq(k + leak),
                    addr_v.eq(v_row + k),
                    a.eq(rd_v),
                    arr.wr_addr.eq(v_row + k), arr.wr_data.eq(s), arr.wr_en.eq(col_en),
                ]
                with m.If(leak_mode == LEAK_SHIFT):
                    m.d.comb += [
                        addr_x.eq(v_row + Mux(shifted < bv, shifted, bv - 1)),
                        b.eq(~rd_x),
                        cin.eq(Mux(k == 0, ones, carry)),
                    ]
                with m.Else():   # sub: V < 0 adds the leak, V >= 0 subtracts it
                    m.d.comb += [
                        addr_x.eq(v_row + bv - 1),
                        b.eq(leak.bit_select(k, 1).replicate(cols) ^ ~rd_x),
                        cin.eq(Mux(k == 0, ~rd_x, carry)),
                    ]
                    m.d.sync += nonzero.eq(nonzero | s)
                m.d.sync += [carry.eq(cout), k.eq(k + 1)]
                with m.If(last):
                    m.d.sync += [k.eq(0),
                                 flag.eq((~rd_x & s) | (rd_x & ~s & (nonzero | s)))]
                    with m.If(leak_mode == LEAK_SHIFT):
                        m.next = "COMPARE"
                    with m.Else():
                        m.next = "UNCROSS"

            with m.State("UNCROSS"):
                zero_pass(flag & col_en, 0, "COMPARE")

            with m.State("COMPARE"):
                read_v_and_theta()
                with m.If(last):
                    # bit bv of V - theta (both sign-extended once more) is the sign
                    d_sign = a ^ b ^ cout
                    m.d.sync += [spikes.eq(~d_sign & col_en), k.eq(0)]
                    m.next = "RESET"

            with m.State("RESET"):
                with m.If(soft):
                    read_v_and_theta()
                    m.d.comb += [arr.wr_addr.eq(v_row + k), arr.wr_data.eq(s),
                                 arr.wr_en.eq(spikes)]
                    with m.If(last):
                        m.d.sync += [flag.eq(s & spikes), k.eq(0)]
                        m.next = "CLAMP"
                with m.Else():
                    m.d.comb += [arr.wr_addr.eq(v_row + k), arr.wr_data.eq(0),
                                 arr.wr_en.eq(spikes)]
                    m.d.sync += k.eq(k + 1)
                    with m.If(last):
                        m.d.comb += self.done.eq(1)
                        m.next = "IDLE"

            with m.State("CLAMP"):
                m.d.comb += [arr.wr_addr.eq(v_row + k),
                             arr.wr_data.eq(Mux(last, 0, ones)),
                             arr.wr_en.eq(flag)]
                m.d.sync += k.eq(k + 1)
                with m.If(last):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"
        return m
