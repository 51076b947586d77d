"""Proof (d): the shaped accumulate unit (issue 20) adds operands that span ``N_C`` columns.

The harness runs one real accumulate command of `ShapedAccumulateUnit` (a macro of
``cols = M = max_operand_cols`` columns, shape ``N_C`` dividing ``M``, batch ``P``) against an
array model of its own, and checks every group against integer arithmetic:

* the array holds free contents (chosen by the solver, every cell, padding cells included),
  loaded in cycle 0; the command starts in cycle 1 and then nothing drives the unit;
* with ``prelude`` (the catalogue's default), cycle 1 starts a first command on the same
  operands with free weight enables, ``saturate`` and group enables, and the checked command
  starts in the cycle after its ``done``: the unit's registers (row carries, sign and guard
  registers, overflow flags) and the array's read registers hold whatever it left, and the
  reference takes the array as it left it;
* layout (`flexspim.golden.macro`, "Operand shape"): V of ``bv`` bits at row 0, weight slot
  ``s`` of ``bw`` bits at row ``R_v + s * R_w`` (``R = ceil(b / N_C)``), bit ``i`` of group
  ``g`` at row ``base + i // N_C``, column ``g*N_C + i % N_C``;
* free command fields: the weight enables, ``saturate``, and one enable per group (column
  enables cover whole groups, as the unit requires);
* the array model follows the contract of `ArraySignature`: ``P + 1`` synchronous read ports
  (latency 1, data held while not read, free data before the first read), one masked write
  port; a read of a row the same edge writes returns free bits in the written columns
  (the contract says undefined).

Properties, with ``T = V + sum of enabled W`` per group: the checked command ends (``done``)
exactly after `flexspim.golden.cycles.accumulate_cycles` cycles (the clamp pass counted only
when a group overflowed), without ``error``; every read and write address is in the array;
after it an enabled group's V cells hold ``T mod 2**bv`` in wrap mode and ``T`` clamped to
the ``bv``-bit range in saturate mode; its overflow bit (on the group's lowest column, 0 on the
others) is set exactly when saturating and ``T`` is out of range; every other cell (disabled
groups, the weights, the padding cells of V's last row) keeps its initial contents.
"""

from __future__ import annotations

from amaranth.hdl import Array, Assert, Assume, Cat, Const, Module, Mux, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from flexspim.config import MacroConfig, operand_rows
from flexspim.golden.cycles import accumulate_cycles

__all__ = ["ShapedAccumulateHarness", "shaped_bound"]


def _macro(n_c: int, P: int, bv: int, bw: int, M: int) -> MacroConfig:
    rows = max(2, operand_rows(bv, n_c) + P * operand_rows(bw, n_c))
    return MacroConfig(rows=rows, cols=M, batch_max=P, max_operand_cols=M)


def shaped_bound(n_c: int, P: int, bv: int, bw: int, M: int, prelude: bool) -> int:
    """The harness's bound (steps ``0 .. bound - 1``): the checked command starts in step 1
    (with a prelude: at the latest in step ``1 + c``, after the prelude's longest run of ``c``
    cycles), runs at most ``c`` cycles, and its last write is seen one step after it ends."""
    c = accumulate_cycles(_macro(n_c, P, bv, bw, M), bv, True, True, n_c)
    return c + 2 + (c if prelude else 0)


class ShapedAccumulateHarness(wiring.Component):
    """``unit_cls(config)`` (default `flexspim.hdl.accumulate_shaped.ShapedAccumulateUnit`)
    on a ``rows x M`` array, one command of shape ``n_c``, operands of ``bv`` / ``bw`` bits."""

    def __init__(self, *, n_c: int, P: int, bv: int, bw: int, M: int | None = None,
                 prelude: bool = False, unit_cls=None):
        M = n_c if M is None else M
        if not (n_c >= 1 and M >= 2 and M % n_c == 0 and M & (M - 1) == 0):
            raise ValueError(f"need a power-of-two M >= 2 that n_c divides, not M={M}, "
                             f"n_c={n_c}")
        if not 1 <= bw <= bv:
            raise ValueError(f"`bw` must be in [1, bv={bv}], not {bw}")
        if unit_cls is None:
            from flexspim.hdl.accumulate_shaped import ShapedAccumulateUnit
            unit_cls = ShapedAccumulateUnit
        self.r_v, self.r_w = operand_rows(bv, n_c), operand_rows(bw, n_c)
        self.macro = _macro(n_c, P, bv, bw, M)
        rows = self.macro.rows
        self.n_c, self.P, self.bv, self.bw, self.M = n_c, P, bv, bw, M
        self.groups, self.prelude, self.unit_cls = M // n_c, prelude, unit_cls
        self.cycles_clamp = accumulate_cycles(self.macro, bv, True, True, n_c)
        self.cycles_plain = accumulate_cycles(self.macro, bv, True, False, n_c)
        self.cycles_wrap = accumulate_cycles(self.macro, bv, False, False, n_c)
        #: the checked command's cycle of the final checks (it starts in its cycle 1 and
        #: ends by cycle ``cycles_clamp``; its last write is seen one cycle later)
        self.check_cycle = self.cycles_clamp + 1
        self.depth = shaped_bound(n_c, P, bv, bw, M, prelude)
        ports = {
            # constants (held from cycle 0)
            "init": In(rows * M), "w_en": In(P), "saturate": In(1), "grp_en": In(self.groups),
            # free every cycle
            "rd_junk": In((P + 1) * M),
        }
        if prelude:   # the first command's free fields
            ports |= {"a_w_en": In(P), "a_saturate": In(1), "a_grp_en": In(self.groups)}
        super().__init__(ports)

    def cell(self, base: int, i: int, g: int) -> tuple[int, int]:
        """(row, column) of bit ``i`` of the operand at row ``base`` in group ``g``."""
        return base + i // self.n_c, g * self.n_c + i % self.n_c

    def elaborate(self, platform):
        m = Module()
        cfg, P, M, n_c, bv, bw = self.macro, self.P, self.M, self.n_c, self.bv, self.bw
        rows, aw = cfg.rows, cfg.row_addr_width
        m.submodules.dut = dut = self.unit_cls(cfg)
        arr = dut.array

        t = Signal(range(self.depth + 1))
        with m.If(t < self.depth):
            m.d.sync += t.eq(t + 1)
        held_ports = [self.init, self.w_en, self.saturate, self.grp_en]
        if self.prelude:
            held_ports += [self.a_w_en, self.a_saturate, self.a_grp_en]
        for port in held_ports:
            held = Signal(len(port), name=f"{port.name}_q")
            m.d.sync += held.eq(port)
            with m.If(t != 0):
                m.d.comb += Assume(port == held)
        m.d.comb += Assume(~ResetSignal())

        # -- the array ----------------------------------------------------------------------
        mem = Array(Signal(M, name=f"row{r}") for r in range(rows))
        init = [self.init[r * M:(r + 1) * M] for r in range(rows)]
        rdata = [Signal(M, name=f"rd_data{p}") for p in range(P + 1)]
        m.d.comb += arr.rd_data.eq(Cat(*rdata))
        junk = [self.rd_junk[p * M:(p + 1) * M] for p in range(P + 1)]
        with m.If(t == 0):
            m.d.sync += [mem[r].eq(init[r]) for r in range(rows)]
            m.d.sync += [rdata[p].eq(junk[p]) for p in range(P + 1)]
        with m.Else():
            for p in range(P + 1):
                addr = arr.rd_addr[p * aw:(p + 1) * aw]
                with m.If(arr.rd_en[p]):
                    m.d.comb += Assert(addr < rows, f"read port {p} addresses a missing row")
                    hit = Mux(arr.wr_en & (arr.wr_addr == addr), arr.wr_mask, 0)
                    m.d.sync += rdata[p].eq((mem[addr] & ~hit) | (junk[p] & hit))
            with m.If(arr.wr_en):
                m.d.comb += Assert(arr.wr_addr < rows, "a write addresses a missing row")
                old = mem[arr.wr_addr]
                m.d.sync += old.eq((old & ~arr.wr_mask) | (arr.wr_data & arr.wr_mask))

        # -- the commands: the prelude (free fields, same operands) then the checked one -------
        w_rows = [self.r_v + s * self.r_w for s in range(P)]

        def issue(w_en, saturate, grp_en):
            return [dut.start.eq(1), dut.v_row.eq(0), dut.bv.eq(bv), dut.bw.eq(bw),
                    dut.w_rows.eq(Cat(*(Const(r, aw) for r in w_rows))), dut.w_en.eq(w_en),
                    dut.col_en.eq(Cat(*(grp_en[c // n_c] for c in range(M)))),
                    dut.saturate.eq(saturate), dut.operand_cols.eq(n_c)]

        go = Signal()             # the checked command starts in this cycle
        issued = Signal()         # ... and has started
        u_q = Signal(range(self.check_cycle + 2))
        u = Signal(range(self.check_cycle + 2))    # its cycle: 1 when it starts, 0 before
        with m.If(go):
            m.d.sync += [issued.eq(1), u_q.eq(2)]
        with m.Elif(issued & (u_q <= self.check_cycle)):
            m.d.sync += u_q.eq(u_q + 1)
        m.d.comb += u.eq(Mux(go, 1, u_q))
        if self.prelude:
            a_done = Signal()     # the prelude has ended (its done was seen)
            with m.If((t >= 1) & dut.done & ~issued):
                m.d.sync += a_done.eq(1)
            with m.If(t == 1):
                m.d.comb += issue(self.a_w_en, self.a_saturate, self.a_grp_en)
            m.d.comb += go.eq(a_done & ~issued)
            with m.If(t == self.cycles_clamp + 1):
                m.d.comb += Assert(a_done | go, "the prelude command did not end in time")
            # the checked command's operands: the array as the prelude left it
            snap = [Signal(M, name=f"snap{r}") for r in range(rows)]
            with m.If(go):
                m.d.sync += [snap[r].eq(mem[r]) for r in range(rows)]
            start_bits = snap
        else:
            m.d.comb += go.eq(t == 1)
            start_bits = init
        with m.If(go):
            m.d.comb += issue(self.w_en, self.saturate, self.grp_en)

        # -- the reference --------------------------------------------------------------------
        def value(base, bits, g):
            return Cat(*(start_bits[r][c] for r, c in (self.cell(base, i, g)
                                                 for i in range(bits)))).as_signed()

        lo, hi = -(1 << (bv - 1)), (1 << (bv - 1)) - 1
        totals, out_of_range = [], []
        for g in range(self.groups):
            tot = Signal(range(-(P + 1) << bv, (P + 1) << bv), name=f"total{g}")
            m.d.comb += tot.eq(sum([value(0, bv, g)]
                                   + [Mux(self.w_en[s], value(w_rows[s], bw, g), 0)
                                      for s in range(P)]))
            oor = Signal(name=f"out_of_range{g}")
            m.d.comb += oor.eq((tot < lo) | (tot > hi))
            totals.append(tot)
            out_of_range.append(oor)
        clamps = Signal()
        m.d.comb += clamps.eq(self.saturate & Cat(*(o & self.grp_en[g]
                                                   for g, o in enumerate(out_of_range))).any())
        want_cycles = Mux(self.saturate, Mux(clamps, self.cycles_clamp, self.cycles_plain),
                          self.cycles_wrap)

        # -- the properties -------------------------------------------------------------------
        ended = Signal()
        with m.If(dut.done & issued):
            m.d.sync += ended.eq(1)
        m.d.comb += Assert(~dut.error, "a valid command was rejected")
        with m.If(u >= 1):
            # done pulses once, in the command's cycle `cycles` (it starts in cycle 1)
            m.d.comb += Assert(dut.done == (~ended & (u == want_cycles)),
                               "done is not in the golden model's last cycle")
        with m.If(u == self.check_cycle):
            final = Signal(rows * M)
            m.d.comb += final.eq(Cat(*(mem[r] for r in range(rows))))
            owned = set()
            for g in range(self.groups):
                tot = totals[g]
                sat = Mux(tot < lo, Const(lo, range(lo, hi + 1)),
                          Mux(tot > hi, Const(hi, range(lo, hi + 1)), tot[:bv].as_signed()))
                want = Mux(self.saturate, sat.as_unsigned()[:bv], tot[:bv])
                cells = [self.cell(0, i, g) for i in range(bv)]
                owned.update(cells)
                got = Cat(*(final[r * M + c] for r, c in cells))
                with m.If(self.grp_en[g]):
                    m.d.comb += Assert(got == want, "V is not (V + sum W) mod 2**bv "
                                       "(saturate: T clamped to the bv-bit range)")
                with m.Else():
                    m.d.comb += Assert(got == Cat(*(start_bits[r][c] for r, c in cells)),
                                       "a disabled group's V was written")
                flag = self.saturate & self.grp_en[g] & out_of_range[g]
                m.d.comb += Assert(dut.overflow[g * n_c] == flag,
                                   "overflow flag differs from 'saturate and T out of range'")
                for c in range(g * n_c + 1, (g + 1) * n_c):
                    m.d.comb += Assert(~dut.overflow[c], "overflow set off a group's lowest "
                                       "column")
            for r in range(rows):
                for c in range(M):
                    if (r, c) not in owned:
                        m.d.comb += Assert(final[r * M + c] == start_bits[r][c],
                                           "a cell outside V (weight or padding) changed")
        return m
