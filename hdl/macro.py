"""The CIM macro: array + bit-serial column adders + the accumulate sequencer.

Timing and arithmetic follow `flexspim.golden.cycles` and `flexspim.golden.macro` exactly
(the cocotb tests check both, bit for bit and cycle for cycle):

* ``IDLE``: the row port works; an accumulate command is accepted (``acc.valid`` and
  ``acc.ready``) and checked. An invalid command (a field outside what
  `flexspim.config.AccumulateOp.check_fits` allows) is not executed: ``acc.done`` and
  ``acc.error`` pulse in the next cycle and the array is untouched.
* ``ADD`` (``bv`` cycles): cycle ``k`` activates row ``w + min(k, bw-1)`` of every enabled
  weight slot and row ``v_row + k``, and writes bit 0 of the column sums back to row
  ``v_row + k`` of the enabled columns.
* ``GUARD`` (saturate only, ``guard_cycles``): the sums go on with sign-extended operands (V's
  sign comes from a register: its row was just overwritten) and nothing is written; a column
  overflowed if any guard bit differs from the bit written last in ``ADD``.
* ``CLAMP`` (saturate only, ``bv`` cycles): writes the maximum, or the minimum when the last
  guard bit (the sign of the exact total) is 1, into the overflowed enabled columns.

``acc.done`` pulses for one cycle when the macro is back in ``IDLE``; ``acc.overflow`` holds
the overflow flags of the last accumulate until the next one is accepted.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from flexspim.config import MacroConfig

from .adder import BitSerialAdderArray
from .array import CimArray

__all__ = ["RowPortSignature", "AccumulateSignature", "CimMacro"]


def _check(config) -> MacroConfig:
    if not isinstance(config, MacroConfig):
        raise ValueError(f"`config` must be a MacroConfig, not {config!r}")
    return config


class RowPortSignature(wiring.Signature):
    """Host row port, seen from the macro (``AW`` = ``row_addr_width``).

    * ``addr``: in, AW. Row to read or write.
    * ``rdata``: out, cols. Row ``addr``, combinationally; valid while ``ready``.
    * ``wdata``: in, cols; ``wmask``: in, cols (columns to write); ``we``: in, 1. The write
      happens at the clock edge if ``we`` and ``ready``; while ``ready`` is low the host must
      hold the write (nothing is dropped: the write simply waits).
    * ``ready``: out, 1. No operation is running.
    """

    def __init__(self, config: MacroConfig):
        c = _check(config)
        super().__init__({
            "addr": In(c.row_addr_width),
            "rdata": Out(c.cols),
            "wdata": In(c.cols),
            "wmask": In(c.cols),
            "we": In(1),
            "ready": Out(1),
        })


class AccumulateSignature(wiring.Signature):
    """Accumulate command port, seen from the macro (``BW`` = ``bits_width``).

    * ``valid``: in, 1; ``ready``: out, 1. Handshake: the command is taken at the clock edge
      where both are high.
    * ``v_row``: in, AW. Lowest row of the potential; ``bv``: in, BW. Its resolution.
    * ``w_rows``: in, ``P * AW``. Slot ``i``'s weight base row at ``i*AW``; ``w_en``: in, P.
      Slots taking part (their rows must be distinct); ``bw``: in, BW.
    * ``col_en``: in, cols. Columns to update; ``saturate``: in, 1 (0 = wrap).
    * ``done``: out, 1. One-cycle pulse when the command has finished (or was rejected).
    * ``error``: out, 1. With ``done``: the command was invalid and nothing was written.
    * ``overflow``: out, cols. Columns the last accumulate clamped.
    """

    def __init__(self, config: MacroConfig):
        c = _check(config)
        aw, bw, P = c.row_addr_width, c.bits_width, c.batch_max
        super().__init__({
            "valid": In(1),
            "ready": Out(1),
            "v_row": In(aw),
            "bv": In(bw),
            "w_rows": In(P * aw),
            "w_en": In(P),
            "bw": In(bw),
            "col_en": In(c.cols),
            "saturate": In(1),
            "done": Out(1),
            "error": Out(1),
            "overflow": Out(c.cols),
        })


class CimMacro(wiring.Component):
    """One CIM macro for geometry ``config``: `CimArray` + `BitSerialAdderArray` + sequencer.

    Ports: ``row`` (`RowPortSignature`), ``acc`` (`AccumulateSignature`), ``busy`` (out, 1:
    an operation is running), plus the ``clk``/``rst`` of the sync domain. In Verilog the
    members are flattened as ``row__addr``, ``acc__valid``, ...
    """

    def __init__(self, config: MacroConfig):
        self.config = _check(config)
        super().__init__({
            "row": Out(RowPortSignature(config)),
            "acc": Out(AccumulateSignature(config)),
            "busy": Out(1),
        })

    def _valid_command(self, m: Module) -> Signal:
        """The checks of `AccumulateOp.check_fits`, on the command port's fields."""
        cfg, acc = self.config, self.acc
        aw, P = cfg.row_addr_width, cfg.batch_max
        w = [acc.w_rows[i * aw:(i + 1) * aw] for i in range(P)]
        ok = [acc.bv >= 1, acc.bw >= 1, acc.bw <= acc.bv, acc.v_row + acc.bv <= cfg.rows]
        if (1 << cfg.bits_width) - 1 > cfg.max_bits:   # else the field cannot exceed it
            ok.append(acc.bv <= cfg.max_bits)
        for i in range(P):
            fits = (w[i] + acc.bw <= cfg.rows) & (
                (w[i] + acc.bw <= acc.v_row) | (acc.v_row + acc.bv <= w[i]))
            ok.append(~acc.w_en[i] | fits)
            for j in range(i + 1, P):
                ok.append(~(acc.w_en[i] & acc.w_en[j]) | (w[i] != w[j]))
        valid = Signal(name="cmd_ok")
        m.d.comb += valid.eq(Cat(*ok).all())
        return valid

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        cols, P, aw = cfg.cols, cfg.batch_max, cfg.row_addr_width
        acc, row = self.acc, self.row

        m.submodules.array = array = CimArray(cfg)
        m.submodules.adders = adders = BitSerialAdderArray(cfg)

        # -- command registers (latched at acceptance) ------------------------------------
        v_row = Signal(aw)
        bv = Signal(cfg.bits_width)
        bw = Signal(cfg.bits_width)
        w_rows = [Signal(aw, name=f"w_row{i}") for i in range(P)]
        w_en = Signal(P)
        col_en = Signal(cols)
        saturate = Signal()
        cmd_ok = self._valid_command(m)

        # -- bit-serial state ---------------------------------------------------------------
        k = Signal(range(cfg.max_bits + 1))        # bit index in ADD / CLAMP
        g = Signal(range(cfg.guard_cycles + 1))    # guard cycle index
        kw = Signal(range(cfg.max_bits + 1))       # min(k, bw - 1): the weights' active bit
        msb = Signal(cols)                         # bit bv-1 of the written sum
        vsign = Signal(cols)                       # V's original sign bit
        last = Signal(cols)                        # latest guard bit: sign of the exact total
        overflow = Signal(cols)
        m.d.comb += acc.overflow.eq(overflow)

        rd = [array.rd_data[i * cols:(i + 1) * cols] for i in range(P + 1)]
        v_port = P                                 # the last read port reads V (or the row port)
        m.d.comb += row.rdata.eq(rd[v_port])

        # weights' read addresses: base + min(k, bw-1); disabled slots contribute 0
        for i in range(P):
            m.d.comb += array.rd_addr[i * aw:(i + 1) * aw].eq(w_rows[i] + kw)
            m.d.comb += adders.operands[i * cols:(i + 1) * cols].eq(
                rd[i] & w_en[i].replicate(cols))

        m.d.sync += [acc.done.eq(0), acc.error.eq(0)]

        with m.FSM(name="seq"):
            with m.State("IDLE"):
                m.d.comb += [
                    row.ready.eq(1),
                    acc.ready.eq(1),
                    array.rd_addr[v_port * aw:(v_port + 1) * aw].eq(row.addr),
                    array.wr_addr.eq(row.addr),
                    array.wr_data.eq(row.wdata),
                    array.wr_en.eq(row.wmask & row.we.replicate(cols)),
                ]
                with m.If(acc.valid):
                    with m.If(cmd_ok):
                        m.d.sync += [
                            v_row.eq(acc.v_row), bv.eq(acc.bv), bw.eq(acc.bw),
                            w_en.eq(acc.w_en), col_en.eq(acc.col_en),
                            saturate.eq(acc.saturate),
                            k.eq(0), kw.eq(0), g.eq(0), overflow.eq(0),
                        ]
                        m.d.sync += [w_rows[i].eq(acc.w_rows[i * aw:(i + 1) * aw])
                                     for i in range(P)]
                        m.next = "ADD"
                    with m.Else():
                        m.d.sync += [acc.done.eq(1), acc.error.eq(1)]

            with m.State("ADD"):
                m.d.comb += [
                    self.busy.eq(1),
                    array.rd_addr[v_port * aw:(v_port + 1) * aw].eq(v_row + k),
                    adders.operands[v_port * cols:].eq(rd[v_port]),
                    adders.first.eq(k == 0),
                    adders.en.eq(1),
                    array.wr_addr.eq(v_row + k),
                    array.wr_data.eq(adders.sum),
                    array.wr_en.eq(col_en),
                ]
                m.d.sync += k.eq(k + 1)
                with m.If(kw + 1 < bw):
                    m.d.sync += kw.eq(kw + 1)
                with m.If(k + 1 == bv):
                    m.d.sync += [msb.eq(adders.sum), vsign.eq(rd[v_port])]
                    with m.If(saturate):
                        m.next = "GUARD"
                    with m.Else():
                        m.d.sync += acc.done.eq(1)
                        m.next = "IDLE"

            with m.State("GUARD"):
                m.d.comb += [
                    self.busy.eq(1),
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
                    self.busy.eq(1),
                    array.wr_addr.eq(v_row + k),
                    # max = 0111..1, min = 1000..0: bit k is (k < bv-1) xor sign
                    array.wr_data.eq(last ^ (~top).replicate(cols)),
                    array.wr_en.eq(overflow),
                ]
                m.d.sync += k.eq(k + 1)
                with m.If(top):
                    m.d.sync += acc.done.eq(1)
                    m.next = "IDLE"
        return m
