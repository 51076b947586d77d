"""Accumulate unit: runs one batch ``V += W_1 + ... + W_n`` bit-serially on the array.

Timing and arithmetic follow `flexspim.golden.cycles` / `flexspim.golden.macro`. The array is
read synchronously, so the unit is a two-stage pipeline:

* the **front** walks the passes below and presents, in its step ``k``, the rows that step
  ``k`` needs, from row counters (no ``base + k`` adders on the address path);
* the **back** is the front's step one cycle later: the rows have arrived, the adders run and
  the result is written (write address: the V row the front presented, registered).

The command check is pipelined too: the issue cycle registers the fields and their sums
(``w_i + bw``, ``v_row + bv``), the read-ahead cycle compares them and registers the verdict,
and a command that breaks a rule ends in the cycle after (nothing is written: that cycle's
write is suppressed) with ``done`` and ``error``.

* ``ADD`` (``bv`` steps): step ``k`` activates row ``w + min(k, bw-1)`` of every enabled
  weight slot and row ``v_row + k``, and writes bit 0 of the column sums back to row
  ``v_row + k`` of the enabled columns.
* ``GUARD`` (saturate only, ``guard_cycles``): the sums go on with sign-extended operands (V's
  sign comes from a register, its row was just overwritten; the weights' sign rows stay
  activated) and nothing is written; a column overflowed if any guard bit differs from the
  bit written last in ``ADD``.
* ``CLAMP`` (saturate only, ``bv`` steps): writes the maximum, or the minimum when the last
  guard bit (the sign of the exact total) is 1, into the overflowed enabled columns. The
  back's first clamp step sees the registered overflow flags: if none is set it writes
  nothing and ends the command there (the front, a step ahead, is stopped).

The unit drives the array only while it runs (its outputs are 0 otherwise), so the macro
combines units with an OR.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from flexspim.config import MacroConfig

from .adder import BitSerialAdderArray
from .array import ArraySignature

__all__ = ["ACC_PASSES", "AccumulateFields", "AccumulateFront", "AccumulateUnit",
           "check_config", "check_shaped_config", "unit_ports"]


def check_config(config) -> MacroConfig:
    if not isinstance(config, MacroConfig):
        raise ValueError(f"`config` must be a MacroConfig, not {config!r}")
    return config


def unit_ports(config: MacroConfig, fields: dict, flag: str) -> dict:
    """The ports of a compute unit (accumulate or fire, vertical or shaped): its command
    ``fields``, ``start``, ``done``, ``error``, the per-column result ``flag`` and ``array``."""
    return {
        **fields,
        "start": In(1),
        "done": Out(1),
        "error": Out(1),
        flag: Out(config.cols),
        "array": In(ArraySignature(config)),
    }


def check_shaped_config(config, unit: str, vertical: str) -> MacroConfig:
    """``config`` for a shaped unit: a `MacroConfig` with ``max_operand_cols >= 2``."""
    config = check_config(config)
    if config.max_operand_cols < 2:
        raise ValueError(f"`{unit}` needs `max_operand_cols` >= 2, not "
                         f"{config.max_operand_cols} (use `{vertical}`)")
    return config


def AccumulateFields(config: MacroConfig) -> dict:
    """Command fields of an accumulate (all inputs): see `CimMacro` for their meaning."""
    c = check_config(config)
    aw, bw, P = c.row_addr_width, c.bits_width, c.batch_max
    fields = {"v_row": In(aw), "bv": In(bw), "w_rows": In(P * aw), "w_en": In(P),
              "bw": In(bw), "col_en": In(c.cols), "saturate": In(1)}
    if c.max_operand_cols > 1:   # the shape N_C itself (issue 20); absent at the default
        fields["operand_cols"] = In(c.max_operand_cols.bit_length())
    return fields


class AccumulateUnit(wiring.Component):
    """Ports: the command fields (`AccumulateFields`, registered when ``start``), ``start``
    (in), ``done`` (out: pulses in the last cycle), ``error`` (out, with ``done``: the command
    broke a rule and nothing was written), ``overflow`` (out, cols: held until the next
    start) and ``array`` (drives the array's ports, see `ArraySignature`)."""

    def __init__(self, config: MacroConfig):
        self.config = check_config(config)
        super().__init__(unit_ports(config, AccumulateFields(config), "overflow"))

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        cols, P, aw = cfg.cols, cfg.batch_max, cfg.row_addr_width
        arr = self.array
        m.submodules.adders = adders = BitSerialAdderArray(cfg)

        # -- command registers (latched at start) -----------------------------------------
        # (named apart from the ports they copy: a shared name gets a `$n` suffix in Verilog)
        v_row = Signal(aw, name="cmd_v_row")
        bv = Signal(cfg.bits_width, name="cmd_bv")
        bw = Signal(cfg.bits_width, name="cmd_bw")
        w_en = Signal(P, name="cmd_w_en")
        col_en = Signal(cols, name="cmd_col_en")
        saturate = Signal(name="cmd_saturate")

        # -- front: row counters, one step ahead of the back --------------------------------
        wa = [Signal(aw, name=f"w_addr{i}") for i in range(P)]   # w_i + min(k, bw-1)
        va = Signal(aw)                            # v_row + k
        k = Signal(range(cfg.max_bits + 1))        # bit index in ADD / CLAMP
        kw = Signal(range(cfg.max_bits + 1))       # min(k, bw - 1): the weights' active bit
        g = Signal(range(cfg.guard_cycles + 1))    # guard cycle index
        check, check2 = Signal(), Signal()         # read-ahead cycle, the cycle after it
        ok, ok_q, kill = Signal(), Signal(), Signal()
        sum_w = max(aw, cfg.bits_width) + 1       # no wrap: the sum of two fields
        sw = [Signal(sum_w, name=f"w_top{i}") for i in range(P)]    # w_i + bw
        sv = Signal(sum_w)                                           # v_row + bv
        self._check_fields(m, ok, v_row, bv, bw, wa, w_en, sw, sv)
        # named per slot, as in `CimMacro` (a port with no signal is `port$n$0` in Verilog)
        w_row = [Signal(aw, name=f"w_row{i}") for i in range(P)]
        m.d.comb += [w.eq(self.w_rows[i * aw:(i + 1) * aw]) for i, w in enumerate(w_row)]
        m.d.sync += [check2.eq(check), ok_q.eq(ok)]
        m.d.comb += kill.eq(check2 & ~ok_q)

        # -- back: the front's step, one cycle later --------------------------------------
        GUARD = ACC_PASSES[1]
        front = AccumulateFront(m, cfg, arr, kill=kill, va=va, wa=wa, w_en=w_en, kw=kw,
                                w_steps=bw)
        b_first, b_top, b_fin, b_c0 = front.b_first, front.b_top, front.b_fin, front.b_c0
        no_clamp, wv = front.no_clamp, front.wv

        msb = Signal(cols)                         # bit bv-1 of the written sum
        vsign = Signal(cols)                       # V's original sign bit
        last = Signal(cols)                        # latest guard bit: sign of the exact total
        overflow = Signal(cols)
        m.d.comb += self.overflow.eq(overflow)

        rd, v_port = front.read_ports()

        with m.FSM(name="acc"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [
                        v_row.eq(self.v_row), bv.eq(self.bv), bw.eq(self.bw),
                        w_en.eq(self.w_en), col_en.eq(self.col_en),
                        saturate.eq(self.saturate), va.eq(self.v_row),
                        k.eq(0), kw.eq(0), g.eq(0), overflow.eq(0), check.eq(1),
                    ]
                    m.d.sync += [wa[i].eq(w_row[i]) for i in range(P)]
                    m.d.sync += [sw[i].eq(w_row[i] + self.bw) for i in range(P)]
                    m.d.sync += sv.eq(self.v_row + self.bv)
                    m.next = "ADD"

            def after_add():
                with m.If(saturate):
                    m.next = "GUARD"
                with m.Else():
                    m.next = "IDLE"
            front.add_state(k=k, last=lambda: k + 1 == bv, check=check, saturate=saturate,
                            v_row=v_row, after_last=after_add)

            with m.State("GUARD"):                 # the sign rows stay activated
                m.d.comb += [front.reading.eq(1), front.f_pass.eq(GUARD)]
                m.d.sync += g.eq(g + 1)
                with m.If(g + 1 == cfg.guard_cycles):
                    m.d.sync += k.eq(0)
                    m.next = "CLAMP"
                with m.If(kill):
                    m.next = "IDLE"

            front.clamp_state(k=k, rows=bv)

        # back: arithmetic and writes on the rows that arrived. The pass decodes come from
        # registers and the adders' operands are not gated by the check's verdict (only writes
        # and state are): the data path stays short.
        b_add, b_guard, b_clamp = front.back_passes()
        for i in range(P):                         # disabled slots contribute 0
            m.d.comb += adders.operands[i * cols:(i + 1) * cols].eq(
                rd[i] & w_en[i].replicate(cols))
        m.d.comb += [
            adders.operands[v_port * cols:].eq(Mux(b_guard, vsign, rd[v_port])),
            adders.first.eq(b_first),
            adders.en.eq(b_add | b_guard),
            no_clamp.eq(b_c0 & ~overflow.any()),
            self.done.eq(b_fin | kill | no_clamp), self.error.eq(kill),
        ]
        write = Signal()                           # a rejected command writes nothing
        m.d.comb += write.eq((b_add | (b_clamp & ~no_clamp)) & ~kill)
        with m.If(write):
            # clamp: max = 0111..1, min = 1000..0: bit k is (k < bv-1) xor sign
            m.d.comb += [arr.wr_en.eq(1), arr.wr_addr.eq(wv),
                         arr.wr_data.eq(Mux(b_clamp, last ^ (~b_top).replicate(cols),
                                            adders.sum)),
                         arr.wr_mask.eq(Mux(b_clamp, overflow, col_en))]
        with m.If(b_add & b_top):
            m.d.sync += [msb.eq(adders.sum), vsign.eq(rd[v_port])]
        with m.If(b_guard & ~kill):
            m.d.sync += [last.eq(adders.sum),
                         overflow.eq(overflow | ((adders.sum ^ msb) & col_en))]
        return m

    def _check_fields(self, m: Module, ok, v_row, bv, bw, w, w_en, sw, sv) -> None:
        """The checks of `AccumulateOp.check_fits`, on the registered fields (``w``: the weight
        rows, still at their base in the check cycle; ``sw``, ``sv``: the registered sums
        ``w_i + bw`` and ``v_row + bv``)."""
        cfg = self.config
        P = cfg.batch_max
        conds = [bv >= 1, bw >= 1, bw <= bv, sv <= cfg.rows]
        if (1 << cfg.bits_width) - 1 > cfg.max_bits:   # else the field cannot exceed it
            conds.append(bv <= cfg.max_bits)
        for i in range(P):
            fits = (sw[i] <= cfg.rows) & ((sw[i] <= v_row) | (sv <= w[i]))
            conds.append(~w_en[i] | fits)
        conds.append(~Cat(*self._repeated_rows(w, w_en)).any())
        m.d.comb += ok.eq(Cat(*conds).all())

    @staticmethod
    def _repeated_rows(w, w_en) -> list:
        """Per slot ``i`` (but the last): it is enabled and a later enabled slot holds the
        same row. Every pair is compared, but each slot ORs its own comparisons before the
        slots are combined: Verilator turns one reduction over all ``P (P-1) / 2`` pair
        conditions into a single expression nested that deep, which g++ compiles slowly
        (256x256 P=64 macro, one translation unit, shared 2-core machine: 21-25 s of build
        CPU with one reduction, 15-21 s grouped per slot, 14-16 s with no pair check)."""
        P = len(w)
        return [w_en[i] & Cat(*[w_en[j] & (w[i] == w[j]) for j in range(i + 1, P)]).any()
                for i in range(P - 1)]


#: Pass codes of the accumulate pipeline (0: no pass in the back stage).
ACC_PASSES = (1, 2, 3)     # ADD, GUARD, CLAMP


class AccumulateFront:
    """The front of an accumulate unit and its pipeline registers, shared by
    `AccumulateUnit` and `flexspim.hdl.accumulate_shaped.ShapedAccumulateUnit`: both walk
    ``ADD`` / ``GUARD`` / ``CLAMP`` steps (bits when vertical, rows when shaped) with the same
    registers, read ports and ``ADD`` / ``CLAMP`` states.

    Made where the unit's elaboration needs the back's registers (``b_pass``, ``b_first``,
    ``b_top``, ``b_fin``, ``b_c0``: the front's step one cycle later; ``wv``: its V row;
    ``b_k``, if ``b_k_shape`` is given: its step index) and ``no_clamp`` (the unit drives it:
    the first clamp step found no overflowed column, which stops the front). The weights'
    step ``kw`` walks up to ``w_steps - 1``. The unit writes its own ``IDLE`` and ``GUARD``
    states inside ``m.FSM(name="acc")``."""

    def __init__(self, m: Module, cfg: MacroConfig, arr, *, kill, va, wa, w_en, kw, w_steps,
                 k=None, b_k_shape=None):
        self.m, self.cfg, self.arr, self.kill = m, cfg, arr, kill
        self.va, self.wa, self.w_en, self.kw, self.w_steps = va, wa, w_en, kw, w_steps
        aw = cfg.row_addr_width
        f_pass, b_pass = Signal(2), Signal(2)
        f_first, b_first = Signal(), Signal()      # step 0 of ADD (carry starts at 0)
        f_top, b_top = Signal(), Signal()          # last step of the pass
        f_fin, b_fin = Signal(), Signal()          # last step of the command
        f_c0, b_c0 = Signal(), Signal()            # step 0 of CLAMP (the clamp decision)
        if b_k_shape is not None:
            b_k = Signal(b_k_shape, name="b_k")
            self.b_k = b_k
        no_clamp = Signal()                        # ... found no overflowed column
        wv = Signal(aw)                            # the V row of the back's step
        stop = Signal()
        m.d.comb += stop.eq(kill | no_clamp)
        regs = [b_pass.eq(Mux(stop, 0, f_pass)), b_first.eq(f_first), b_top.eq(f_top),
                b_fin.eq(f_fin & ~stop), b_c0.eq(f_c0 & ~stop), wv.eq(va)]
        if b_k_shape is not None:
            regs.append(b_k.eq(k))
        m.d.sync += regs
        self.f_pass, self.b_pass, self.f_first, self.b_first = f_pass, b_pass, f_first, b_first
        self.f_top, self.b_top, self.f_fin, self.b_fin = f_top, b_top, f_fin, b_fin
        self.f_c0, self.b_c0, self.no_clamp, self.wv = f_c0, b_c0, no_clamp, wv

    def read_ports(self):
        """Drive the read ports from the counters while ``reading``: port ``i < P`` reads
        weight slot ``i``'s row (when enabled), port ``P`` V's row. Returns the rows that
        arrived per port and V's port number."""
        m, arr, cfg = self.m, self.arr, self.cfg
        cols, P, aw = cfg.cols, cfg.batch_max, cfg.row_addr_width
        rd = [arr.rd_data[i * cols:(i + 1) * cols] for i in range(P + 1)]
        v_port = P                                 # the last read port reads V

        # front: addresses straight from the counters
        reading = Signal()
        with m.If(reading):
            for i in range(P):
                m.d.comb += arr.rd_addr[i * aw:(i + 1) * aw].eq(self.wa[i])
            m.d.comb += [arr.rd_en[:P].eq(self.w_en), arr.rd_addr[v_port * aw:].eq(self.va)]
        self.reading, self.v_port = reading, v_port
        return rd, v_port

    def step_weights(self) -> None:
        """The weights' rows move up to their last (sign) row and stay there."""
        kw = self.kw
        with self.m.If(kw + 1 < self.w_steps):
            self.m.d.sync += [kw.eq(kw + 1)] + [a.eq(a + 1) for a in self.wa]

    def add_state(self, *, k, last, check, saturate, v_row, after_last) -> None:
        """``ADD``: step ``k`` reads the weights' and V's rows; ``last()`` is "the pass's
        last step"; ``after_last()`` picks the next state there."""
        m, va = self.m, self.va
        ADD = ACC_PASSES[0]
        with m.State("ADD"):
            m.d.sync += check.eq(0)
            m.d.comb += [self.reading.eq(1), self.arr.rd_en[self.v_port].eq(1),
                         self.f_pass.eq(ADD), self.f_first.eq(k == 0), self.f_top.eq(last()),
                         self.f_fin.eq(last() & ~saturate)]
            m.d.sync += [k.eq(k + 1), va.eq(va + 1)]
            self.step_weights()
            with m.If(last()):
                m.d.sync += va.eq(v_row)
                after_last()
            with m.If(self.kill):
                m.next = "IDLE"

    def clamp_state(self, *, k, rows) -> None:
        """``CLAMP`` (writes only): ``rows`` steps, or one when no column overflowed."""
        m, va = self.m, self.va
        CLAMP = ACC_PASSES[2]
        with m.State("CLAMP"):
            m.d.comb += [self.f_pass.eq(CLAMP), self.f_top.eq(k + 1 == rows),
                         self.f_fin.eq(k + 1 == rows), self.f_c0.eq(k == 0)]
            m.d.sync += [k.eq(k + 1), va.eq(va + 1)]
            with m.If((k + 1 == rows) | self.no_clamp):
                m.next = "IDLE"

    def back_passes(self):
        """``(b_add, b_guard, b_clamp)``: the back's pass, decoded once."""
        ADD, GUARD, CLAMP = ACC_PASSES
        b_add, b_guard, b_clamp = Signal(), Signal(), Signal()
        self.m.d.comb += [b_add.eq(self.b_pass == ADD), b_guard.eq(self.b_pass == GUARD),
                          b_clamp.eq(self.b_pass == CLAMP)]
        return b_add, b_guard, b_clamp
