"""Fire unit of a macro with operand groups (``max_operand_cols = M > 1``, issue 20).

The same passes, two-stage pipeline and command check as `flexspim.hdl.lif` (read that
first; the front, `FireFront`, is shared), walking the ``R = ceil(bv / N_C)`` **rows** of V
(shape ``N_C``, the command's ``operand_cols``; bit ``i`` of group ``g`` at row
``v_row + i // N_C``, column ``g*N_C + i % N_C``, as in `golden.macro`). Per back step the
``N_C`` full adders of a group form a 1-bit carry chain (position ``p`` feeds ``p + 1`` in the same
cycle) and the group's top carry is registered into its lowest column for the next row, as
in `flexspim.hdl.accumulate_shaped`. Each position knows its bit index ``i = k*N_C + p``:

* only positions ``i < bv`` are written (padding cells are never written);
* the threshold and the leak constant (registers) give position ``p`` their bit ``i``: one
  shifter by ``k * N_C`` and a fixed pick per position;
* the compare's sign, the soft reset's overflow and the leak's crossing test read the sum at
  position ``(bv - 1) % N_C`` of the last row (the bit ``bv - 1``), ORed over the group and
  spread to its columns; spikes are reported on each group's lowest column;
* "sub" leak: port 0 stays on V's last row, whose bit ``bv - 1`` (picked per group) is V's sign;
* "shift" leak by ``s = q*N_C + r``: bit ``i`` of ``V >>> s`` is bit ``i + s`` of V, which is
  in row ``k + q`` at position ``p + r`` or in row ``k + q + 1`` at position ``p + r - N_C``
  (a funnel shift by ``r`` across two rows), or V's sign when ``i + s >= bv - 1``. Port 0
  reads row ``min(k + q + 1, R - 1)`` (``min(k + q, R - 1)`` when ``r = 0``); the lower row
  is V's own row when ``q = 0`` and otherwise port 0's read of the previous cycle, kept in a
  register. For ``q >= 1, r != 0`` the first such row is read one cycle before the pass: the
  prime cycle of `golden.cycles.prime_cycles`. Per cycle the array still sees two row reads
  (V's port and port 0) and one row write, as in the vertical unit.
As in `flexspim.hdl.accumulate_shaped` (decision 119), the shape is decoded when the command
is taken (one-hot ``shape_is<N>``, ``link<j>``, the sign's position) and the per-position
flags and the leak and threshold bits of each position are registered into the back with its
step, so no shape decode or constant shifter sits in front of the adders.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring

from flexspim.config import MacroConfig

from .accumulate import check_shaped_config, unit_ports
from .groups import ColumnGroups, one_hot_select
from .lif import (
    FIRE_PASSES,
    LEAK_NONE,
    LEAK_SHIFT,
    LEAK_SUB,
    FireFields,
    FireFront,
    check_fire_inputs,
)

__all__ = ["ShapedFireUnit"]


class ShapedFireUnit(wiring.Component):
    """Ports: as `FireUnit`, plus ``operand_cols`` (in: the shape ``N_C`` itself, a power of
    two ``<= max_operand_cols``; other values are rejected)."""

    def __init__(self, config: MacroConfig):
        self.config = check_shaped_config(config, "ShapedFireUnit", "FireUnit")
        super().__init__(unit_ports(config, FireFields(config), "spikes"))

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        cols, aw, mb, M = cfg.cols, cfg.row_addr_width, cfg.max_bits, cfg.max_operand_cols
        grp = ColumnGroups(cols, M)
        modes, blocks = grp.modes, grp.blocks
        arr = self.array
        rw_ = (mb + 1).bit_length()                 # row counts (R <= max_bits)
        iw = (2 * mb + M).bit_length() + 1          # bit index plus shift

        # -- command registers ----------------------------------------------------------
        f = {name: Signal(len(getattr(self, name)), name=f"cmd_{name}")
             for name in FireFields(cfg) if name != "operand_cols"}
        v_row, bv, leak_mode, leak = f["v_row"], f["bv"], f["leak_mode"], f["leak"]
        threshold, theta_src, theta_row = f["threshold"], f["theta_src"], f["theta_row"]
        soft, col_en = f["soft_reset"], f["col_en"]
        # the shape, decoded when the command is taken (decision 119): one flop per mode, the
        # group links per slice and the sign's position per mode
        sel = [Signal(name=f"shape_is{1 << t}") for t in range(modes)]
        link = [Signal(name=f"link{j}") for j in range(M)]
        pos_v = [Signal(max(t, 1), name=f"sign_pos_v{1 << t}") for t in range(modes)]
        in_sel = [self.operand_cols == (1 << t) for t in range(modes)]

        def per_mode(values):                       # input side, selected by the new shape
            return one_hot_select(in_sel, values)

        r_in = Signal(rw_, name="rows_v_in")
        m.d.comb += r_in.eq(per_mode([(self.bv + (1 << t) - 1) >> t for t in range(modes)]))
        rv = Signal(rw_, name="rows_v")             # R = ceil(bv / N_C)
        sum_w = max(aw, rw_) + 1
        pre = {"th_ok": Signal(), "leak_ok": Signal(), "v_top": Signal(sum_w),
               "t_top": Signal(sum_w)}
        ok, ok_q, check, check2, kill = Signal(), Signal(), Signal(), Signal(), Signal()
        self._check_fields(m, ok, f, pre, grp, sel)
        m.d.sync += [check2.eq(check), ok_q.eq(ok)]
        m.d.comb += kill.eq(check2 & ~ok_q)
        nonzero = Signal(cols)     # OR of the leak result's bits ("sub")
        flag = Signal(cols)        # crossed zero / overflowed, on every column of the group
        spikes = Signal(cols)      # spiked, on every column of the group

        # -- front ------------------------------------------------------------------------
        k = Signal(rw_)
        va, xa = (Signal(aw) for _ in range(2))     # (unnamed in the Verilog, as before)
        kx = Signal(rw_)                            # row offset of port 0's V row
        r_sh = Signal(max(modes - 1, 1), name="shift_r")   # s mod N_C
        q_zero, r_zero = Signal(name="shift_q_zero"), Signal(name="shift_r_zero")
        f_last = Signal()
        m.d.comb += f_last.eq(k + 1 == rv)

        LEAK, UNCROSS, COMPARE, RESET, CLAMP = FIRE_PASSES
        front = FireFront(m, cfg, arr, rows=rv, k=k, k_shape=rw_, va=va, xa=xa, kx=kx,
                          f_last=f_last, kill=kill, check=check, v_row=v_row,
                          theta_row=theta_row)
        b_pass, b_first, b_top, b_fin, wv = (front.b_pass, front.b_first, front.b_top,
                                             front.b_fin, front.wv)
        rd_v, rd_x, present = front.rd_v, front.rd_x, front.present

        with m.FSM(name="fire"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [sig.eq(getattr(self, name)) for name, sig in f.items()]
                    m.d.sync += [s.eq(v) for s, v in zip(sel, in_sel)]
                    m.d.sync += [lk.eq(v) for lk, v in zip(link, grp.constant(
                        in_sel, lambda t, j: j % (1 << t) != 0))]
                    m.d.sync += [p.eq((self.bv - 1) & ((1 << t) - 1))
                                 for t, p in enumerate(pos_v)]
                    check_fire_inputs(self, m, pre, r_in)
                    s = self.leak
                    q = per_mode([s >> t for t in range(modes)])
                    r = per_mode([s & ((1 << t) - 1) for t in range(modes)])
                    # port 0's first V row: the sign row ("sub"), row q + 1 when the shift
                    # straddles V's own row and the next, else row q (primed if q >= 1)
                    x0 = Mux(self.leak_mode == LEAK_SUB, r_in - 1,
                             Mux((r != 0) & (q == 0), 1, q))
                    x0c = Mux(x0 + 1 > r_in, r_in - 1, x0)
                    m.d.sync += [va.eq(self.v_row), kx.eq(x0c), k.eq(0), check.eq(1),
                                 nonzero.eq(0), spikes.eq(0), rv.eq(r_in),
                                 r_sh.eq(r), q_zero.eq(q == 0), r_zero.eq(r == 0),
                                 xa.eq(Mux(self.leak_mode == LEAK_NONE, self.theta_row,
                                           self.v_row + x0c))]
                    with m.If(self.leak_mode == LEAK_NONE):
                        m.next = "COMPARE"
                    with m.Elif((self.leak_mode == LEAK_SHIFT) & (q != 0) & (r != 0)):
                        m.next = "PRIME"
                    with m.Else():
                        m.next = "LEAK"

            with m.State("PRIME"):                  # read V's row q for the first step
                m.d.sync += check.eq(0)
                present(False, 1)
                front.step_x()
                m.next = "LEAK"
                with m.If(kill):
                    m.next = "IDLE"

            front.states(leak_mode, theta_src, soft)

        # -- back: per slice (position-major, see `flexspim.hdl.groups`) ------------------
        m.d.comb += [self.done.eq(b_fin | kill), self.error.eq(kill)]
        m.d.comb += self.spikes.eq(spikes & grp.lowest(sel))
        xreg = Signal(cols, name="rd_x_prev")       # port 0's row of the previous cycle
        m.d.sync += xreg.eq(rd_x)
        vs, xs, xr = grp.split(rd_v), grp.split(rd_x), grp.split(xreg)
        en = grp.split(col_en)

        # per slice: what bit i = b_k*N_C + p is, and bit i of the leak constant and of the
        # threshold: worked out from the front's row k and registered as the step passes to
        # the back (so they equal the same on b_k; decision 119): the back starts from flops
        idx = grp.where(sel, lambda t, j: (k << t) + (j % (1 << t)))
        in_v, is_msb, beyond = [], [], []
        for j in range(M):
            i = Signal(iw, name=f"bit_index{j}")
            flags = [Signal(name=f"{n}{j}") for n in ("in_v", "is_msb", "shift_sign")]
            m.d.comb += i.eq(idx[j])
            m.d.sync += [flags[0].eq(i < bv), flags[1].eq(i + 1 == bv),
                         flags[2].eq(i + leak + 1 >= bv)]
            in_v.append(flags[0].replicate(blocks))
            is_msb.append(flags[1].replicate(blocks))
            beyond.append(flags[2].replicate(blocks))
        sign_x = grp.pick(sel, xs, pos_v)           # bit bv - 1 of port 0's row, per group

        # bit k*N_C + p of the leak constant and of the threshold register, per position
        amount = Signal(range(mb * M + 1), name="const_shift")
        m.d.comb += amount.eq(one_hot_select(sel, [k << t for t in range(modes)]))
        leak_sh, theta_sh = Signal(mb, name="leak_bits"), Signal(mb, name="theta_bits")
        m.d.comb += [leak_sh.eq(leak >> amount), theta_sh.eq(threshold >> amount)]
        leak_q = [Signal(name=f"leak_bit{j}") for j in range(M)]
        theta_q = [Signal(name=f"theta_bit{j}") for j in range(M)]
        m.d.sync += [q.eq(v) for q, v in
                     zip(leak_q, grp.where(sel, lambda t, j: leak_sh[j % (1 << t)]))]
        m.d.sync += [q.eq(v) for q, v in
                     zip(theta_q, grp.where(sel, lambda t, j: theta_sh[j % (1 << t)]))]
        leak_bit = [b.replicate(blocks) for b in leak_q]
        theta_bit = [b.replicate(blocks) for b in theta_q]

        # V >>> s, per position: a funnel shift by r over (row k+q, row k+q+1), or the sign
        lo = [Mux(r_zero, xs[j], Mux(q_zero, vs[j], xr[j])) for j in range(M)]

        def funnel(t, j):
            n = 1 << t
            if n == 1:
                return lo[j]
            base, p = j - j % n, j % n
            return Array(lo[base:base + n] + xs[base:base + n])[p + r_sh[:t]]
        shifted = [Mux(b, sx, fv) for b, sx, fv in zip(beyond, sign_x, grp.where(sel, funnel))]

        # the adders: a + b + carry, chained inside a group
        a = [Signal(blocks, name=f"fa_a{j}") for j in range(M)]
        b = [Signal(blocks, name=f"fa_b{j}") for j in range(M)]
        first = [Signal(blocks, name=f"fa_first{j}") for j in range(M)]
        creg = [Signal(blocks, name=f"carry{j}") for j in range(M)]
        sums, couts = [], []
        for j in range(M):
            start = Mux(b_first, first[j], creg[j])
            cin = start if j == 0 else Mux(link[j], couts[j - 1], start)
            s_j, c_j = Signal(blocks, name=f"fa_s{j}"), Signal(blocks, name=f"fa_c{j}")
            m.d.comb += [s_j.eq(a[j] ^ b[j] ^ cin),
                         c_j.eq((a[j] & b[j]) | (cin & (a[j] ^ b[j])))]
            sums.append(s_j)
            couts.append(c_j)
        top_carry = grp.where(sel, lambda t, j: couts[j - j % (1 << t) + (1 << t) - 1])
        ones = (1 << blocks) - 1

        def chain():                                # register the group's top carry
            m.d.sync += [c.eq(n) for c, n in zip(creg, top_carry)]

        def at_msb(vals):                           # the group's value at bit bv - 1
            return grp.group_any(sel, [v & f for v, f in zip(vals, is_msb)])

        def write(mask, data):
            m.d.comb += [arr.wr_en.eq(1), arr.wr_addr.eq(wv),
                         arr.wr_data.eq(grp.join(data)),
                         arr.wr_mask.eq(grp.join([mk & iv for mk, iv in zip(mask, in_v)]))]

        def v_minus_theta():                        # V + ~theta + 1
            for j in range(M):
                theta = Mux(theta_src, xs[j], theta_bit[j])
                m.d.comb += [a[j].eq(vs[j]), b[j].eq(~theta), first[j].eq(ones)]
            chain()

        spk, flg, nz = grp.split(spikes), grp.split(flag), grp.split(nonzero)
        zeros = [Const(0, blocks)] * M
        with m.Switch(Mux(kill, 0, b_pass)):       # a rejected command writes nothing
            with m.Case(LEAK):
                write(en, sums)
                chain()
                with m.If(leak_mode == LEAK_SHIFT):
                    m.d.comb += [x.eq(y) for x, y in zip(a, vs)]
                    m.d.comb += [x.eq(~y) for x, y in zip(b, shifted)]
                    m.d.comb += [x.eq(ones) for x in first]
                with m.Else():   # sub: V < 0 adds the leak, V >= 0 subtracts it
                    for j in range(M):
                        m.d.comb += [a[j].eq(vs[j]), b[j].eq(leak_bit[j] ^ ~sign_x[j]),
                                     first[j].eq(~sign_x[j])]
                    m.d.sync += nonzero.eq(grp.join([n | (s & iv) for n, s, iv in
                                                     zip(nz, sums, in_v)]))
                with m.If(b_top):
                    msb = at_msb(sums)
                    nzg = grp.group_any(sel, [n | (s & iv) for n, s, iv in zip(nz, sums, in_v)])
                    m.d.sync += flag.eq(grp.join([(~sg & ms) | (sg & ~ms & z) for sg, ms, z in
                                                  zip(sign_x, msb, nzg)]))
            with m.Case(UNCROSS):
                write([fl & e for fl, e in zip(flg, en)], zeros)
            with m.Case(COMPARE):
                v_minus_theta()
                with m.If(b_top):
                    # bit bv of V - theta (both sign-extended once more) is the sign
                    sign = at_msb([~(x ^ y ^ c) for x, y, c in zip(a, b, couts)])
                    m.d.sync += spikes.eq(grp.join([sg & e for sg, e in zip(sign, en)]))
            with m.Case(RESET):
                with m.If(soft):
                    v_minus_theta()
                    write(spk, sums)
                    with m.If(b_top):
                        m.d.sync += flag.eq(grp.join([x & sp for x, sp in
                                                      zip(at_msb(sums), spk)]))
                with m.Else():
                    write(spk, zeros)
            with m.Case(CLAMP):
                write(flg, [~x for x in is_msb])   # the maximum: 0 in bit bv - 1, 1 below
        return m

    def _check_fields(self, m: Module, ok, f, pre, grp: ColumnGroups, sel) -> None:
        """`FireUnit`'s checks in rows, plus: the shape is one of ``1, 2, .., M`` and the
        column enables cover whole groups (none past the last whole group)."""
        cfg = self.config
        bv = f["bv"]
        conds = [bv >= 1, pre["v_top"] <= cfg.rows, f["leak_mode"] != 3, pre["th_ok"],
                 pre["leak_ok"], Cat(*sel).any()]
        if (1 << cfg.bits_width) - 1 > cfg.max_bits:
            conds.append(bv <= cfg.max_bits)
        t, v = f["theta_row"], f["v_row"]
        t_fits = (pre["t_top"] <= cfg.rows) & ((pre["t_top"] <= v) | (pre["v_top"] <= t))
        conds.append(~f["theta_src"] | t_fits)
        col_en = f["col_en"]
        spread = grp.join(grp.group_any(sel, grp.split(col_en)))
        trail = one_hot_select(sel, [Const(grp.trailing(t), cfg.cols) for t in range(len(sel))])
        whole = Signal(name="whole_groups")
        m.d.comb += whole.eq((spread == col_en) & ~(col_en & trail).any())
        conds.append(whole)
        m.d.comb += ok.eq(Cat(*conds).all())
