"""The conv address generator (fan-out unit): one input event -> its entries ``(p, op)``.

Behaviour and cycle costs are `flexspim.golden.fanout`'s (read its docstring: the address
rule, the six serial phases and their step counts, one cycle per kernel tap); this module is
the hardware of docs/dataflow.md section 4.5. One event at a time: ``ev.ready`` is high only
while the unit is idle, and an event costs exactly `golden.fanout.event_cycles` cycles from
its handshake to the next handshake, plus one per cycle an entry waits on ``entry.ready``.

Datapath: one restoring divider (remainder ``N``, quotient ``Q``, shifted divisor ``DS``;
``Q`` doubles as the shift-and-add accumulator of the two multiplies), a step counter, the
results of each phase in registers, and the tap walker (row and column quotient/remainder
kept incrementally, the row's first position ``prow``, the operand counter).

A phase with no step is passed through in the cycle the phase before it ends (a divisor of 1
gives ``q = n, r = 0``; a largest quotient of 0 gives ``q = 0, r = n``; a multiplier of 1
gives the multiplicand), so the results of every phase are written in the cycle they become
known and the next phase starts with its first step in the next cycle. The axis dividends
``y + pad`` and ``x + pad`` are formed beside the divider step for both outcomes of its
comparison, so no cycle holds two carry chains in series (measured depth: docs/dataflow.md
4.5). Values derived from the geometry alone (a phase's first shifted divisor and step
count, loaded when it starts; the tap increments, kept in registers) are off the event's
path: the geometry must be stable from the cycle an event is taken until the unit is idle
again (the core writes it only while idle).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from flexspim.config import FanoutConfig

from .arith import carry_save_sum, less_than, prefix_sum

__all__ = ["GeometrySignature", "EntryLayout", "FanoutUnit", "PHASE"]

#: Phase register values (`golden.fanout.PHASES` between IDLE and TAPS).
PHASE = {"IDLE": 0, "c": 1, "y": 2, "ay": 3, "ax": 4, "op": 5, "row": 6, "TAPS": 7}
_ORDER = ("c", "y", "ay", "ax", "op", "row")
_DIVIDES = ("c", "y", "ay", "ax")


def GeometrySignature(config: FanoutConfig) -> wiring.Signature:
    """The layer's registers, seen from the unit (all in; ``IB`` = ``index_bits``, ``KB`` =
    ``kernel_bits``, ``PB`` = ``pad_bits``): ``n_in``, ``c_in``, ``plane`` (= ``h * w``),
    ``in_h``, ``in_w``, ``out_h``, ``out_w`` (IB + 1 each, the values themselves); ``kh``,
    ``kw``, ``stride_y``, ``stride_x``, ``dil_y``, ``dil_x`` (KB); ``pad_y``, ``pad_x``
    (PB); ``bias`` (1: source ``n_in - 1`` is the bias). `flexspim.testbench.fanout_driver.
    geometry_values` gives them for a `ConvGeometry`."""
    ib, kb, pb = config.index_bits + 1, config.kernel_bits, config.pad_bits
    return wiring.Signature({
        **{n: In(ib) for n in ("n_in", "c_in", "plane", "in_h", "in_w", "out_h", "out_w")},
        **{n: In(kb) for n in ("kh", "kw", "stride_y", "stride_x", "dil_y", "dil_x")},
        "pad_y": In(pb), "pad_x": In(pb), "bias": In(1)})


def EntryLayout(config: FanoutConfig) -> data.StructLayout:
    """An entry: position ``p`` (index_bits), table operand ``op`` (op_bits), ``all`` (the
    bias source's entry: every position, operand ``op``; ``p`` is 0)."""
    return data.StructLayout({"p": config.index_bits, "op": config.op_bits, "all": 1})


def top_bit(v: Value) -> Value:
    """Index of the highest set bit of ``v`` (0 if none), as a balanced tree."""
    v = Value.cast(v)
    if len(v) == 1:
        return Const(0, 1)
    half = 1 << ((len(v) - 1).bit_length() - 1)
    lo, hi = v[:half], v[half:]
    return Mux(hi.any(), half + top_bit(hi), top_bit(lo))


class FanoutUnit(wiring.Component):
    """Ports:

    * ``geom``: `GeometrySignature` (in): the layer; stable while the unit is busy.
    * ``ev``: in, stream of ``index_bits``: a source index. Taken only while idle.
    * ``entry``: out, stream of `EntryLayout`: the event's entries in tap order
      (`golden.fanout.event_entries`), or one ``all`` entry for the bias source. Held until
      taken (back-pressure stalls the unit; nothing is dropped).
    * ``idle``: out, 1: no event in the unit (``ev.ready``).
    * ``dropped``: out, 1: a source outside ``0 .. n_in - 1`` is taken (and dropped) this
      cycle.
    """

    def __init__(self, config: FanoutConfig):
        if not isinstance(config, FanoutConfig):
            raise ValueError(f"`config` must be a FanoutConfig, not {config!r}")
        self.config = config
        super().__init__({
            "geom": Out(GeometrySignature(config)),
            "ev": In(stream.Signature(config.index_bits)),
            "entry": Out(stream.Signature(EntryLayout(config))),
            "idle": Out(1),
            "dropped": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, g = self.config, self.geom
        ib, ob, kb, W = cfg.index_bits, cfg.op_bits, cfg.kernel_bits, cfg.work_bits
        QW = max(W, ib, ob)                 # quotient / multiply accumulator
        SW = W + 1                          # signed tap quotients (they go below zero)
        RB = kb + 1                         # signed tap remainders

        # -- from the geometry alone: flags and first steps (used when a phase starts, also in
        # the cycle an event is taken) and the tap increments (registered: used later) -------
        def reg(value, width, name):
            s = Signal(width, name=name)
            m.d.sync += s.eq(value)
            return s

        ymax = prefix_sum(m, g.in_h, (1 << W) - 1 + g.pad_y, W, "ymax")   # h - 1 + pad_y
        xmax = prefix_sum(m, g.in_w, (1 << W) - 1 + g.pad_x, W, "xmax")
        qm_c = Signal(ib + 1, name="qm_c")           # largest channel quotient c_in - 1 + bias
        m.d.comb += qm_c.eq(Mux(g.bias, g.c_in, g.c_in - 1))
        qm_y = Signal(ib + 1, name="qm_y")
        m.d.comb += qm_y.eq(g.in_h - 1)

        def fits(nmax, d):                  # (nmax >> k) >= d for every k: a thermometer
            return Cat(*[(nmax[k + kb:].any() if k + kb < W else Const(0, 1)) |
                         (nmax[k:k + kb] >= d) for k in range(W)])
        t_ay, t_ax = fits(ymax, g.stride_y), fits(xmax, g.stride_x)
        one = {"c": g.plane == 1, "y": g.in_w == 1, "ay": g.stride_y == 1,
               "ax": g.stride_x == 1}
        zero = {                            # no step: divisor 1 or largest quotient 0
            "c": one["c"] | (qm_c == 0), "y": one["y"] | (qm_y == 0),
            "ay": one["ay"] | ~t_ay[0], "ax": one["ax"] | ~t_ax[0],
            "op": (g.kh == 1) & (g.kw == 1), "row": g.out_w == 1}
        zf = {k: Signal(name=f"zero_{k}") for k in zero}
        m.d.comb += [zf[k].eq(v) for k, v in zero.items()]
        khkw = g.kh * g.kw
        lm1 = {"c": top_bit(qm_c), "y": top_bit(qm_y), "ay": top_bit(t_ay),
               "ax": top_bit(t_ax), "op": top_bit(khkw), "row": top_bit(g.out_w)}
        # the first step's shifted divisor and step index, loaded when a phase starts
        # (computed from the geometry alone, in parallel with the event's path)
        divisor = {"c": g.plane, "y": g.in_w, "ay": g.stride_y, "ax": g.stride_x}
        ds0 = {k: (divisor[k] << lm1[k])[:W] for k in _DIVIDES}
        k_khkw = reg(khkw, 2 * kb, "k_khkw")
        k_outw = reg(g.out_w, ib + 1, "k_outw")
        # tap increments: divmod(dil, stride) per axis (a table of kb-bit pairs), and the
        # row's position step dq_y * out_w (and + out_w with a borrow)
        dq, dr = {}, {}
        for ax, dil, st in (("y", g.dil_y, g.stride_y), ("x", g.dil_x, g.stride_x)):
            q, r = Signal(kb, name=f"dq_{ax}_c"), Signal(kb, name=f"dr_{ax}_c")
            with m.Switch(Cat(dil, st)):
                for d in range(1, 1 << kb):
                    for s in range(1, 1 << kb):
                        with m.Case(d | s << kb):
                            m.d.comb += [q.eq(d // s), r.eq(d % s)]
            dq[ax], dr[ax] = reg(q, kb, f"k_dq_{ax}"), reg(r, kb, f"k_dr_{ax}")
        pp = [Mux(dq["y"][j], g.out_w << j, 0)[:ib] for j in range(kb)]
        k_dqw = reg(carry_save_sum(m, pp, ib, "dqw"), ib, "k_dqw")
        k_dqw1 = reg(carry_save_sum(m, pp + [g.out_w], ib, "dqw1"), ib, "k_dqw1")

        # -- the event: taken while idle ---------------------------------------------------------
        ph = Signal(range(8), init=PHASE["IDLE"], name="phase")
        m.d.comb += [self.ev.ready.eq(ph == PHASE["IDLE"]), self.idle.eq(ph == PHASE["IDLE"])]
        s_in = self.ev.payload
        in_range = less_than(m, s_in, g.n_in, "in_range")
        is_bias = Signal(name="is_bias")
        m.d.comb += is_bias.eq(g.bias & (prefix_sum(m, s_in, 1, ib + 1, "s_plus_1") ==
                                         g.n_in))
        take = Signal(name="take")
        m.d.comb += [take.eq(self.ev.valid & self.ev.ready),
                     self.dropped.eq(take & ~in_range)]
        all_f = Signal(name="all_entry")
        with m.If(take):
            m.d.sync += all_f.eq(is_bias)

        # -- one divider / multiply step ---------------------------------------------------------
        N, Q, DS = Signal(W, name="div_n"), Signal(QW, name="div_q"), Signal(W, name="div_ds")
        step_i = Signal(max(1, (QW - 1).bit_length()), name="step_i")  # counts down to 0
        in_ph = {k: ph == PHASE[k] for k in _ORDER}
        is_div = Cat(*[in_ph[k] for k in _DIVIDES]).any()
        i_eff, dsel = step_i, DS
        last = Signal(name="last_step")
        m.d.comb += last.eq(i_eff == 0)
        diff = prefix_sum(m, Cat(Const(1, 1), N, Const(0, 1)),
                          Cat(Const(1, 1), ~Cat(dsel, Const(0, 1))), W + 2, "div_diff")
        ge = ~diff[W + 1]
        mbit = Mux(in_ph["op"], k_khkw.bit_select(i_eff, 1), k_outw.bit_select(i_eff, 1))
        C_r, QY_r = Signal(ib, name="res_c"), Signal(SW, name="res_qy")
        addend = Mux(mbit, Mux(in_ph["op"], C_r, QY_r[:QW]), 0)
        mul_acc = prefix_sum(m, Q << 1, addend, QW, "mul_acc")
        q_next = Signal(QW, name="q_next")
        n_next = Signal(W, name="n_next")
        m.d.comb += [q_next.eq(Mux(is_div, Cat(ge, Q), mul_acc)),
                     n_next.eq(Mux(ge, diff[1:W + 1], N))]
        stepping = Cat(*[in_ph[k] for k in _ORDER]).any()
        with m.If(stepping):
            m.d.sync += [N.eq(n_next), Q.eq(q_next), DS.eq(dsel >> 1),
                         step_i.eq(i_eff - 1)]

        reach_c, reach_y = Signal(name="reach_c"), Signal(name="reach_y")
        m.d.comb += reach_c.eq(take & in_range)

        # -- phase results and the pass-through of phases with no step ---------------------------
        # reach[k]: the chain arrives at phase k this cycle (the phase before it ended, or was
        # passed through); ends[k]: phase k's results are known this cycle.
        names = {"c": ("c", "rest"), "y": ("y", "x"), "ay": ("qy", "ry"), "ax": ("qx", "rx"),
                 "op": ("base",), "row": ("prow",)}
        widths = {"c": ib, "rest": ib, "y": ib, "x": ib, "qy": SW, "ry": RB, "qx": SW,
                  "rx": RB, "base": ob, "prow": ib}
        res = {n: Signal(widths[n], name=f"res_{n}") for n in widths if n not in ("c", "qy")}
        res["c"], res["qy"] = C_r, QY_r
        view = {n: Signal(widths[n], name=f"now_{n}") for n in widths}  # value after this cycle
        m.d.comb += [view[n].eq(res[n]) for n in widths]
        # The axis dividends y + pad_y and x + pad_x. An adder after a divider step would
        # put two carry chains in one cycle, so each is formed beside the step, from the
        # registers, for both outcomes of its comparison, and only selected after it.
        pads = {"y": g.pad_y, "x": g.pad_x}
        rest_p, plus = {}, {}
        for a, pad in pads.items():
            n_lt = prefix_sum(m, N, pad, W, f"n_pad_{a}")                       # N + pad
            n_ge = carry_save_sum(m, [N, ~DS, 1, pad], W, f"n_ds_pad_{a}")      # N - DS + pad
            q_lt = prefix_sum(m, Q << 1, pad, W, f"q_pad_{a}")
            q_ge = prefix_sum(m, Cat(Const(1, 1), Q), pad, W, f"q1_pad_{a}")
            plus[a] = (Mux(ge, q_ge, q_lt), Mux(ge, n_ge, n_lt))   # (q, r) + pad after a step
            rp = Signal(W, name=f"now_rest_pad_{a}")                # rest + pad, this cycle
            s_pad = prefix_sum(m, s_in, pad, W, f"s_pad_{a}")
            m.d.comb += rp.eq(prefix_sum(m, res["rest"], pad, W, f"rest_pad_{a}"))
            with m.If(in_ph["c"] & last):
                m.d.comb += rp.eq(plus[a][1])
            with m.Elif(reach_c & zf["c"]):
                m.d.comb += rp.eq(Mux(one["c"], pad, s_pad))
            rest_p[a] = rp
        y_p, x_p = Signal(W, name="now_y_pad"), Signal(W, name="now_x_pad")
        m.d.comb += [y_p.eq(Mux(one["y"], rest_p["y"], pads["y"])),
                     x_p.eq(prefix_sum(m, res["x"], pads["x"], W, "x_pad"))]
        with m.If(in_ph["y"] & last):
            m.d.comb += [y_p.eq(plus["y"][0]), x_p.eq(plus["x"][1])]
        with m.Elif(reach_y & zf["y"]):
            m.d.comb += x_p.eq(Mux(one["y"], pads["x"], rest_p["x"]))
        dividend = {"c": s_in, "y": view["rest"], "ay": y_p, "ax": x_p}
        reach = reach_c
        for k in _ORDER:
            ends = Signal(name=f"ends_{k}")
            step_end = in_ph[k] & last
            m.d.comb += ends.eq(step_end | (reach & zf[k]))
            outs = names[k]
            if k in _DIVIDES:
                n = dividend[k]
                passed = (Mux(one[k], n, 0), Mux(one[k], 0, n))
                stepped = (q_next, n_next)
            else:
                passed = ({"op": view["c"], "row": view["qy"]}[k],)
                stepped = (q_next,)
            with m.If(step_end):
                m.d.comb += [view[o].eq(v) for o, v in zip(outs, stepped)]
            with m.Elif(reach & zf[k]):
                m.d.comb += [view[o].eq(v) for o, v in zip(outs, passed)]
            with m.If(ends):
                m.d.sync += [res[o].eq(view[o]) for o in outs]
            with m.If(reach & ~zf[k]):      # the phase's first step is next cycle
                m.d.sync += [ph.eq(PHASE[k]), Q.eq(0), step_i.eq(lm1[k])]
                if k in _DIVIDES:
                    m.d.sync += [N.eq(dividend[k]), DS.eq(ds0[k])]
            nxt = reach_y if k == "c" else Signal(
                name=f"reach_{_ORDER[_ORDER.index(k) + 1]}" if k != "row" else "reach_taps")
            m.d.comb += nxt.eq(ends)
            reach = nxt

        # -- the tap walker ----------------------------------------------------------------------
        ty_q, tx_q = Signal(SW, name="tap_qy"), Signal(SW, name="tap_qx")
        ty_r, tx_r = Signal(RB, name="tap_ry"), Signal(RB, name="tap_rx")
        prow, op = Signal(ib, name="tap_prow"), Signal(ob, name="tap_op")
        kx_i, ky_i = Signal(kb, name="tap_kx"), Signal(kb, name="tap_ky")
        with m.If(reach):                   # every phase done: the first tap is next cycle
            m.d.sync += [ph.eq(PHASE["TAPS"]), ty_q.eq(view["qy"]), ty_r.eq(view["ry"]),
                         tx_q.eq(view["qx"]), tx_r.eq(view["rx"]), prow.eq(view["prow"]),
                         op.eq(view["base"]), kx_i.eq(0), ky_i.eq(0)]

        def axis_ok(q, r, n_out, name):
            below_n = less_than(m, q[:W], n_out, f"{name}_below")
            ok = Signal(name=f"{name}_ok")
            m.d.comb += ok.eq((r == 0) & ~q[SW - 1] & below_n)
            return ok
        valid = Signal(name="tap_valid")
        in_ph_taps = ph == PHASE["TAPS"]
        m.d.comb += valid.eq(in_ph_taps)
        with m.If(~all_f):
            m.d.comb += valid.eq(in_ph_taps & axis_ok(ty_q, ty_r, g.out_h, "tap_y") &
                                 axis_ok(tx_q, tx_r, g.out_w, "tap_x"))
        out = self.entry.payload
        m.d.comb += [self.entry.valid.eq(valid), out.op.eq(op), out.all.eq(all_f)]
        with m.If(~all_f):
            m.d.comb += out.p.eq(prefix_sum(m, prow, tx_q, ib, "tap_p"))

        def step_axis(q, r, dqv, drv, stride, name):
            """(q, r) one tap on: r -= dr, q -= dq, borrowing a stride when r < 0."""
            rn = Signal(RB, name=f"{name}_rn")
            m.d.comb += rn.eq(r - drv)
            borrow = rn[RB - 1]
            r_next = Mux(borrow, rn + stride, rn)[:RB]
            # q - dq - borrow = q + (~dq) + (1 - borrow), two's complement in SW bits
            q_next = carry_save_sum(m, [q, ~Cat(dqv, Const(0, SW - kb)), ~borrow], SW,
                                    f"{name}_qn")
            return q_next, r_next, borrow
        x_q, x_r, _ = step_axis(tx_q, tx_r, dq["x"], dr["x"], g.stride_x, "tap_x")
        y_q, y_r, by = step_axis(ty_q, ty_r, dq["y"], dr["y"], g.stride_y, "tap_y")
        # prow - (borrow ? dqw1 : dqw) = prow + ~d + 1
        p_next = carry_save_sum(m, [prow, ~Mux(by, k_dqw1, k_dqw), 1], ib, "tap_prow_n")
        advance = Signal(name="tap_advance")
        m.d.comb += advance.eq(in_ph_taps & (~valid | self.entry.ready))
        row_end = kx_i == g.kw - 1
        with m.If(advance):
            with m.If(all_f | (row_end & (ky_i == g.kh - 1))):
                m.d.sync += ph.eq(PHASE["IDLE"])
            m.d.sync += op.eq(op + 1)
            with m.If(row_end):
                m.d.sync += [kx_i.eq(0), ky_i.eq(ky_i + 1), ty_q.eq(y_q), ty_r.eq(y_r),
                             prow.eq(p_next), tx_q.eq(res["qx"]), tx_r.eq(res["rx"])]
            with m.Else():
                m.d.sync += [kx_i.eq(kx_i + 1), tx_q.eq(x_q), tx_r.eq(x_r)]
        return m
