"""Accumulate unit of a macro with operand groups (``max_operand_cols = M > 1``, issue 20).

The same two-stage pipeline, passes and command check as `flexspim.hdl.accumulate` (read
that first; the front, `AccumulateFront`, is shared), walking **rows** instead of bits:
a ``b``-bit operand of shape ``N_C`` (the command's ``operand_cols``, a power of two
``<= M``) has ``R = ceil(b / N_C)`` rows, bit ``i`` of group ``g`` at row
``base + i // N_C``, column ``g*N_C + i % N_C`` (`golden.macro`).

Per back step (row ``k``) the column adders of a group form a carry chain: position ``p``'s
carry (``carry_width`` bits, as in one column of `BitSerialAdderArray`: it never exceeds
``P``) feeds position ``p + 1`` in the same cycle, and the group's top carry is registered
into its lowest column for row ``k + 1``. Each position knows its bit index
``i = k*N_C + p``, so:

* a weight bit ``i >= bw`` is the weight's sign (the cell of bit ``bw - 1``, spread across
  the group; the front stays on the weight's last row), a V bit ``i >= bv`` is V's sign
  (spread from the last V row, then from a register in the guard rows);
* only positions ``i < bv`` are written (padding cells are never written);
* positions ``bv <= i < bv + guard_cycles`` are the guard bits: the group overflowed if any
  differs from the sum bit ``bv - 1`` (``msb``), and bit ``bv + guard_cycles - 1`` is the sign
  of the exact total (``last``), which picks the clamp value. Guard bits that fall in V's
  last row are computed in that row's cycle; the ``GUARD`` pass walks only the rows left.

Overflow is kept per group on every column of the group (the clamp pass's write mask) and
reported on each group's lowest column. Column enables must cover whole groups (and no
column past the last whole group): a command that breaks this is rejected like any other.
Nothing is decoded from the shape in the datapath's cycle (decision 119): the one-hot shape
(``shape_is<N>``), each slice's carry link (``link<j>``) and the sign's position per mode are
registered from the command's inputs in the cycle it is taken, and each position's bit-index
flags are worked out from the front's row and registered into the back with its step.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring

from flexspim.config import MacroConfig

from .accumulate import (
    ACC_PASSES,
    AccumulateFields,
    AccumulateFront,
    AccumulateUnit,
    check_shaped_config,
    unit_ports,
)
from .adder import compress
from .groups import ColumnGroups, one_hot_select

__all__ = ["ShapedAccumulateUnit", "shape_field_width"]


def shape_field_width(config: MacroConfig) -> int:
    """Width of the ``operand_cols`` command field: holds ``1 .. max_operand_cols``."""
    return config.max_operand_cols.bit_length()


class ShapedAccumulateUnit(wiring.Component):
    """Ports: as `AccumulateUnit`, plus ``operand_cols`` (in: the shape ``N_C`` itself, a
    power of two ``<= max_operand_cols``; other values are rejected)."""

    def __init__(self, config: MacroConfig):
        self.config = check_shaped_config(config, "ShapedAccumulateUnit", "AccumulateUnit")
        super().__init__(unit_ports(config, AccumulateFields(config), "overflow"))

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        cols, P, aw, M = cfg.cols, cfg.batch_max, cfg.row_addr_width, cfg.max_operand_cols
        G = cfg.guard_cycles
        grp = ColumnGroups(cols, M)
        modes = grp.modes
        arr = self.array
        mb = cfg.max_bits
        iw = (mb + G + M).bit_length() + 1         # bit indices up to bv + G + M
        rw_ = (mb + G + 1).bit_length()            # row counts

        # -- command registers ----------------------------------------------------------
        v_row = Signal(aw, name="cmd_v_row")
        bv = Signal(cfg.bits_width, name="cmd_bv")
        bw = Signal(cfg.bits_width, name="cmd_bw")
        w_en = Signal(P, name="cmd_w_en")
        col_en = Signal(cols, name="cmd_col_en")
        saturate = Signal(name="cmd_saturate")
        # the shape, decoded when the command is taken (decision 119): one flop per mode
        sel = [Signal(name=f"shape_is{1 << t}") for t in range(modes)]

        def rows_of(bits, n_sel_in):
            """ceil(bits / N_C) from input-side values (``n_sel_in[t]``: N_C == 2**t)."""
            return one_hot_select(n_sel_in, [(bits + (1 << t) - 1) >> t for t in range(modes)])

        in_sel = [self.operand_cols == (1 << t) for t in range(modes)]
        r_v = Signal(rw_, name="rows_v")           # ceil(bv / N_C)
        r_w = Signal(rw_, name="rows_w")           # ceil(bw / N_C)
        r_t = Signal(rw_, name="rows_total")       # ceil((bv + G) / N_C): with the guard bits
        # per slice: its column takes the carry of the column below (not the group's first);
        # per mode: the position of bit bw - 1 / bv - 1 in its group (the sign's cell)
        link = [Signal(name=f"link{j}") for j in range(M)]
        pos_w = [Signal(max(t, 1), name=f"sign_pos_w{1 << t}") for t in range(modes)]
        pos_v = [Signal(max(t, 1), name=f"sign_pos_v{1 << t}") for t in range(modes)]

        # -- front ------------------------------------------------------------------------
        wa = [Signal(aw, name=f"w_addr{i}") for i in range(P)]
        va = Signal(aw)
        k = Signal(rw_)                            # row index in ADD + GUARD / CLAMP
        kw = Signal(rw_)                           # min(k, r_w - 1)
        check, check2 = Signal(), Signal()
        ok, ok_q, kill = Signal(), Signal(), Signal()
        sum_w = max(aw, rw_) + 1
        sw = [Signal(sum_w, name=f"w_top{i}") for i in range(P)]    # w_i + r_w
        sv = Signal(sum_w)                                           # v_row + r_v
        w_row = [Signal(aw, name=f"w_row{i}") for i in range(P)]
        m.d.comb += [w.eq(self.w_rows[i * aw:(i + 1) * aw]) for i, w in enumerate(w_row)]
        self._check_fields(m, ok, grp, sel, v_row, bv, bw, wa, w_en, sw, sv, col_en)
        m.d.sync += [check2.eq(check), ok_q.eq(ok)]
        m.d.comb += kill.eq(check2 & ~ok_q)

        GUARD = ACC_PASSES[1]
        front = AccumulateFront(m, cfg, arr, kill=kill, va=va, wa=wa, w_en=w_en, kw=kw,
                                w_steps=r_w)
        b_first, b_top, b_fin, b_c0 = front.b_first, front.b_top, front.b_fin, front.b_c0
        no_clamp, wv = front.no_clamp, front.wv
        rd, v_port = front.read_ports()

        with m.FSM(name="acc"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [
                        v_row.eq(self.v_row), bv.eq(self.bv), bw.eq(self.bw),
                        w_en.eq(self.w_en), col_en.eq(self.col_en),
                        saturate.eq(self.saturate),
                        va.eq(self.v_row), k.eq(0), kw.eq(0), check.eq(1),
                        r_v.eq(rows_of(self.bv, in_sel)), r_w.eq(rows_of(self.bw, in_sel)),
                        r_t.eq(rows_of(self.bv + G, in_sel)),
                    ]
                    m.d.sync += [s.eq(v) for s, v in zip(sel, in_sel)]
                    m.d.sync += [link[j].eq(v) for j, v in enumerate(
                        grp.constant(in_sel, lambda t, j: j % (1 << t) != 0))]
                    m.d.sync += [p.eq((self.bw - 1) & ((1 << t) - 1)) for t, p in enumerate(pos_w)]
                    m.d.sync += [p.eq((self.bv - 1) & ((1 << t) - 1)) for t, p in enumerate(pos_v)]
                    m.d.sync += [wa[i].eq(w_row[i]) for i in range(P)]
                    m.d.sync += [sw[i].eq(w_row[i] + rows_of(self.bw, in_sel))
                                 for i in range(P)]
                    m.d.sync += sv.eq(self.v_row + rows_of(self.bv, in_sel))
                    m.next = "ADD"

            def after_add():
                with m.If(~saturate):
                    m.next = "IDLE"
                with m.Elif(r_t > r_v):
                    m.next = "GUARD"
                with m.Else():
                    m.d.sync += k.eq(0)
                    m.next = "CLAMP"
            last_row = k + 1 == r_v
            front.add_state(k=k, last=lambda: last_row, check=check, saturate=saturate,
                            v_row=v_row, after_last=after_add)

            with m.State("GUARD"):                 # the weights' last rows stay activated
                m.d.comb += [front.reading.eq(1), front.f_pass.eq(GUARD)]
                m.d.sync += k.eq(k + 1)
                with m.If(k + 1 == r_t):
                    m.d.sync += k.eq(0)
                    m.next = "CLAMP"
                with m.If(kill):
                    m.next = "IDLE"

            front.clamp_state(k=k, rows=r_v)

        # -- back -------------------------------------------------------------------------
        b_add, b_guard, b_clamp = front.back_passes()

        # per slice: the bit index of its position in the back's row, and what it is: worked
        # out from the front's row k and registered as the step passes to the back (so they
        # equal the same test on the back's row; decision 119): the back starts from flops
        idx = grp.where(sel, lambda t, j: (k << t) + (j % (1 << t)))
        flags = {}
        for name in ("ext_w", "in_v", "is_msb", "in_guard", "is_last", "below_msb"):
            flags[name] = [Signal(name=f"{name}{j}") for j in range(M)]
        for j in range(M):
            i = Signal(iw, name=f"bit_index{j}")
            m.d.comb += i.eq(idx[j])
            m.d.sync += [
                flags["ext_w"][j].eq(i >= bw),
                flags["in_v"][j].eq(i < bv),
                flags["is_msb"][j].eq(i + 1 == bv),
                flags["below_msb"][j].eq(i + 1 < bv),
                flags["in_guard"][j].eq((i >= bv) & (i < bv + G)),
                flags["is_last"][j].eq(i + 1 == bv + G),
            ]

        def rep(flag_slices):                      # scalar per slice -> blocks-wide
            return [f.replicate(grp.blocks) for f in flag_slices]

        ext_w, in_v = rep(flags["ext_w"]), rep(flags["in_v"])
        is_msb, in_guard = rep(flags["is_msb"]), rep(flags["in_guard"])
        is_last, below = rep(flags["is_last"]), rep(flags["below_msb"])

        # operands per slice
        w_bits = []                                # [weight][slice]
        for i in range(P):
            raw = grp.split(rd[i] & w_en[i].replicate(cols))
            sign = grp.pick(sel, raw, pos_w)
            w_bits.append([_named(m, Mux(ext_w[j], sign[j], raw[j]), f"w{i}_bit{j}")
                           for j in range(M)])
        v_raw = grp.split(rd[v_port])
        v_sign_now = grp.pick(sel, v_raw, pos_v)
        vsign = [Signal(grp.blocks, name=f"vsign{j}") for j in range(M)]
        v_bits = [_named(m, Mux(in_v[j], v_raw[j], Mux(b_guard, vsign[j], v_sign_now[j])),
                         f"v_bit{j}") for j in range(M)]
        with m.If(b_add & b_top):
            m.d.sync += [vsign[j].eq(v_sign_now[j]) for j in range(M)]

        # the carry chain: position j takes position j-1's carry inside a group, else the
        # group's registered carry (0 in the first row)
        cw = cfg.carry_width
        creg = [[Signal(grp.blocks, name=f"carry{j}_{b}") for b in range(cw)] for j in range(M)]
        sums, couts = [], []
        for j in range(M):
            start = [c & ~b_first.replicate(grp.blocks) for c in creg[j]]
            if j == 0:
                cin = start
            else:
                cin = [Mux(link[j], couts[j - 1][b], start[b]) for b in range(cw)]
            terms = {0: [w_bits[i][j] for i in range(P)] + [v_bits[j]]}
            for b, c in enumerate(cin):
                terms.setdefault(b, []).append(c)
            total = compress(m, terms, cw + 1, f"csa{j}")
            sums.append(total[0])
            couts.append(total[1:])
        adding = Signal()
        m.d.comb += adding.eq(b_add | b_guard)
        for j in range(M):
            for b in range(cw):
                nxt = grp.where(sel, lambda t, jj, b=b: couts[min(jj - jj % (1 << t)
                                                                  + (1 << t) - 1, M - 1)][b])
                with m.If(adding):
                    m.d.sync += creg[j][b].eq(nxt[j])

        # guard bits, overflow, clamp value
        msb = [Signal(grp.blocks, name=f"msb{j}") for j in range(M)]
        last = [Signal(grp.blocks, name=f"last{j}") for j in range(M)]
        ovf = [Signal(grp.blocks, name=f"overflow{j}") for j in range(M)]
        en = grp.split(col_en)
        msb_now = grp.group_any(sel, [s & f for s, f in zip(sums, is_msb)])
        msb_eff = [Mux(b_add & b_top, a, b) for a, b in zip(msb_now, msb)]
        bad = grp.group_any(sel, [(s ^ e) & f for s, e, f in zip(sums, msb_eff, in_guard)])
        last_now = grp.group_any(sel, [s & f for s, f in zip(sums, is_last)])
        any_last = Cat(*flags["is_last"]).any()
        with m.If(b_add & b_top):
            m.d.sync += [a.eq(b) for a, b in zip(msb, msb_now)]
        with m.If(adding & saturate & ~kill):   # wrap mode never flags
            m.d.sync += [o.eq(o | (b & e)) for o, b, e in zip(ovf, bad, en)]
            with m.If(any_last):
                m.d.sync += [a.eq(b) for a, b in zip(last, last_now)]
        with m.If(self.start):
            m.d.sync += [o.eq(0) for o in ovf]
        ovf_all = Signal(cols, name="overflow_groups")
        m.d.comb += [ovf_all.eq(grp.join(ovf)), self.overflow.eq(ovf_all & grp.lowest(sel))]

        m.d.comb += [
            no_clamp.eq(b_c0 & ~ovf_all.any()),
            self.done.eq(b_fin | kill | no_clamp), self.error.eq(kill),
        ]
        write = Signal()
        m.d.comb += write.eq((b_add | (b_clamp & ~no_clamp)) & ~kill)
        clamp_bits = grp.join([la ^ bl for la, bl in zip(last, below)])
        with m.If(write):
            m.d.comb += [arr.wr_en.eq(1), arr.wr_addr.eq(wv),
                         arr.wr_data.eq(Mux(b_clamp, clamp_bits, grp.join(sums))),
                         arr.wr_mask.eq(Mux(b_clamp, ovf_all, col_en) & grp.join(in_v))]
        return m

    def _check_fields(self, m, ok, grp, sel, v_row, bv, bw, w, w_en, sw, sv,
                      col_en) -> None:
        """`AccumulateUnit`'s checks in rows, plus: the shape is one of ``1, 2, .., M`` and
        the column enables cover whole groups."""
        cfg = self.config
        P = cfg.batch_max
        conds = [bv >= 1, bw >= 1, bw <= bv, sv <= cfg.rows, Cat(*sel).any()]
        if (1 << cfg.bits_width) - 1 > cfg.max_bits:
            conds.append(bv <= cfg.max_bits)
        for i in range(P):
            fits = (sw[i] <= cfg.rows) & ((sw[i] <= v_row) | (sv <= w[i]))
            conds.append(~w_en[i] | fits)
        conds.append(~Cat(*AccumulateUnit._repeated_rows(w, w_en)).any())
        spread = grp.join(grp.group_any(sel, grp.split(col_en)))
        trail = one_hot_select(sel, [Const(grp.trailing(t), cfg.cols) for t in range(len(sel))])
        whole = Signal(name="whole_groups")
        m.d.comb += whole.eq((spread == col_en) & ~(col_en & trail).any())
        conds.append(whole)
        m.d.comb += ok.eq(Cat(*conds).all())


def _named(m: Module, value, name: str) -> Signal:
    s = Signal(len(value), name=name)
    m.d.comb += s.eq(value)
    return s
