"""Neuron core: one macro running one fully connected layer from an address-event stream.

Behaviour, cycle costs included, is specified by `flexspim.golden.core` (read its docstring)
and, for the end-to-end timing, `flexspim.golden.core_timeline`: events are taken from an
input FIFO in order, grouped into batches by the batching rule, each batch runs one
accumulate per neuron slot, and a tick fires every slot and sends its spikes (ascending
neuron index) and then a tick on the output stream. The controller is a pipeline: a
collector, a runner that keeps the macro busy, and an encoder. With ``max_operand_cols > 1``
the layer's ``OPERAND_COLS`` sets the operand shape: a slot holds ``cols >> t`` neurons at
``N_C = 2**t`` (docs/dataflow.md section 3).

Configuration registers (``cfg`` bus, 32-bit data, word addresses). A write
is taken when ``cfg.we`` and ``cfg.ready`` (the core is idle: nothing in the FIFO, no closed
batch waiting, the runner, the macro and the encoder idle); a value that does not fit its
register, a write to a read-only or unknown address, sets the sticky error bit and counts in
``ERRORS`` instead of being truncated. Reads are combinational. The map is
`flexspim.regmap.core_registers`. The status counters are exact whenever ``idle`` is high
(an event dropped or a command refused inside the pipeline is counted one cycle after it
happens, and ``idle`` waits for it). An input event taken at the edge that takes a write
runs after the write, with its settings: a counter clear (``STATUS`` bit 2) counts it.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from flexspim.config import CoreConfig
from flexspim.regmap import ROW_REG_BITS, core_registers, reset_values

from .arith import below, carry_save, carry_save_sum, less_than, prefix_sum, thermometer
from .fifo import EventFIFO
from .groups import one_hot_select
from .macro import CimMacro, RowPortSignature

__all__ = ["EventLayout", "ConfigBusSignature", "NeuronCore"]

def lowest_one(vec: Value) -> Value:
    """Index of the lowest set bit of ``vec`` (0 if none), as a balanced tree of muxes: depth
    grows with log2(width), where a priority chain would grow with the width."""
    if len(vec) == 1:
        return Const(0, 1)
    half = 1 << ((len(vec) - 1).bit_length() - 1)
    lo, hi = vec[:half], vec[half:]
    return Mux(lo.any(), lowest_one(lo), half + lowest_one(hi))


def any_and_many(vec: Value) -> tuple[Value, Value]:
    """(at least one bit of ``vec`` set, at least two set), as a balanced tree."""
    if len(vec) == 1:
        return vec[0], Const(0, 1)
    half = len(vec) // 2
    (a1, m1), (a2, m2) = any_and_many(vec[:half]), any_and_many(vec[half:])
    return a1 | a2, m1 | m2 | (a1 & a2)


def EventLayout(index_bits: int) -> data.StructLayout:
    """An address-event: ``index`` (bits ``0..index_bits-1``) and ``tick`` (the top bit)."""
    return data.StructLayout({"index": index_bits, "tick": 1})


class ConfigBusSignature(wiring.Signature):
    """Register bus, seen from the core: ``addr`` (in, 5), ``wdata`` (in, 32), ``we`` (in, 1),
    ``ready`` (out, 1: a write is taken at the clock edge), ``rdata`` (out, 32: register
    ``addr``, combinationally)."""

    def __init__(self):
        super().__init__({"addr": In(5), "wdata": In(32), "we": In(1), "ready": Out(1),
                          "rdata": Out(32)})


class NeuronCore(wiring.Component):
    """Ports:

    * ``ev_in``: in, stream of `EventLayout` (``valid``/``ready``/``payload``): input events.
    * ``ev_out``: out, stream of `EventLayout`: output spikes and ticks.
    * ``cfg``: `ConfigBusSignature`; ``row``: the macro's `RowPortSignature` (loading
      weights, reading potentials), whose ``ready`` is high only while the core is idle.
    * ``idle``: out, 1 (see ``cfg``); ``error``: out, 1 (the sticky error bit).
    """

    def __init__(self, config: CoreConfig):
        if not isinstance(config, CoreConfig):
            raise ValueError(f"`config` must be a CoreConfig, not {config!r}")
        self.config = config
        ev = stream.Signature(EventLayout(config.index_bits))
        super().__init__({
            "ev_in": In(ev),
            "ev_out": Out(ev),
            "cfg": Out(ConfigBusSignature()),
            "row": Out(RowPortSignature(config.macro)),
            "idle": Out(1),
            "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        core = self.config
        mc = core.macro
        cols, P, aw, ib = mc.cols, mc.batch_max, mc.row_addr_width, core.index_bits
        m.submodules.macro = macro = CimMacro(mc)
        m.submodules.fifo = fifo = EventFIFO(width=ib + 1, depth=core.fifo_depth)

        # -- input FIFO: back-pressure when full ------------------------------------------
        m.d.comb += [fifo.w_data.eq(self.ev_in.payload.as_value()),
                     fifo.w_en.eq(self.ev_in.valid), self.ev_in.ready.eq(fifo.w_rdy)]
        head = data.View(EventLayout(ib), fifo.r_data)

        # -- registers ----------------------------------------------------------------------
        regs = core_registers(core)
        init = reset_values(core)
        r = {name: Signal(w, name=f"reg_{name.lower()}", init=init[name])
             for name, (_, w, acc) in regs.items()
             if acc == "rw" and name not in ("STATUS", "FLAGS")}
        # FLAGS as one register per field: bits of one register that feed several macro
        # inputs would cross into the macro as one unnamed port (`port$n$0` in Verilog)
        flags = [Signal(name="reg_flags_saturate"), Signal(2, name="reg_flags_leak_mode"),
                 Signal(name="reg_flags_soft_reset"), Signal(name="reg_flags_theta_src")]
        r["FLAGS"] = Cat(*flags)
        cnt = {name: Signal(32, name=f"cnt_{name.lower()}")
               for name, (_, _, acc) in regs.items() if acc == "ro"}
        sticky = Signal()
        m.d.comb += self.error.eq(sticky)

        # counter + 1 with log-depth carries (built here, outside any condition)
        plus_one = {name: prefix_sum(m, c, 1, 32, f"{name.lower()}_next")
                    for name, c in cnt.items()}

        def bump(name):
            return cnt[name].eq(plus_one[name])
        saturate, leak_mode, soft, theta_src = flags
        # operand shape (issue 20): OPERAND_COLS holds 2**t, so its bits are the one-hot mode
        M = mc.max_operand_cols
        modes = M.bit_length()
        shape_sel = [r["OPERAND_COLS"][t] for t in range(modes)] if M > 1 else []

        idle = Signal()
        m.d.comb += [self.idle.eq(idle), self.cfg.ready.eq(idle)]
        with m.Switch(self.cfg.addr):
            for name, (addr, w, acc) in regs.items():
                with m.Case(addr):
                    if name == "STATUS":
                        m.d.comb += self.cfg.rdata.eq(Cat(idle, sticky))
                    else:
                        src = r[name] if acc == "rw" else cnt[name]
                        m.d.comb += self.cfg.rdata.eq(src)
        cfg_err = Signal()
        clear_cnt = Signal()                       # applied last: it wins over increments
        with m.If(self.cfg.we & idle):
            with m.Switch(self.cfg.addr):
                for name, (addr, w, acc) in regs.items():
                    with m.Case(addr):
                        if name == "STATUS":
                            with m.If(self.cfg.wdata[1]):
                                m.d.sync += sticky.eq(0)
                            m.d.comb += clear_cnt.eq(self.cfg.wdata[2])
                        elif acc == "ro":
                            m.d.comb += cfg_err.eq(1)
                        elif name in ("N_IN", "N_OUT"):   # at most 2**index_bits
                            with m.If(below(self.cfg.wdata, (1 << ib) + 1)):
                                m.d.sync += r[name].eq(self.cfg.wdata)
                            with m.Else():
                                m.d.comb += cfg_err.eq(1)
                        elif name == "OPERAND_COLS":    # a power of two, 1..max
                            with m.If(Cat(*[self.cfg.wdata == 1 << t
                                            for t in range(w)]).any()):
                                m.d.sync += r[name].eq(self.cfg.wdata)
                            with m.Else():
                                m.d.comb += cfg_err.eq(1)
                        elif name == "THRESHOLD":   # signed: upper bits copy the sign
                            top = self.cfg.wdata[w - 1:]
                            with m.If((top == 0) | (top == (1 << (33 - w)) - 1)):
                                m.d.sync += r[name].eq(self.cfg.wdata)
                            with m.Else():
                                m.d.comb += cfg_err.eq(1)
                        else:
                            with m.If(self.cfg.wdata[w:] == 0):
                                m.d.sync += r[name].eq(self.cfg.wdata)
                            with m.Else():
                                m.d.comb += cfg_err.eq(1)
                with m.Default():
                    m.d.comb += cfg_err.eq(1)

        # -- row port: the host's, while idle ------------------------------------------------
        # (the gated strobes first: Amaranth names signals in order of use, and the core's own
        # `row__we` must be named before the macro's, or the core's port is `row__we$n`)
        host_we, host_re = Signal(name="host_we"), Signal(name="host_re")
        m.d.comb += [host_we.eq(self.row.we & idle), host_re.eq(self.row.re & idle)]
        m.d.comb += [
            macro.row.addr.eq(self.row.addr), macro.row.wdata.eq(self.row.wdata),
            macro.row.wmask.eq(self.row.wmask), macro.row.we.eq(host_we),
            macro.row.re.eq(host_re), self.row.rvalid.eq(macro.row.rvalid),
            self.row.rdata.eq(macro.row.rdata), self.row.ready.eq(idle & macro.row.ready),
        ]

        # -- the pipeline (`flexspim.golden.core`): a collector fills batch buffer C from the
        # FIFO while a runner issues the previous batch's commands back to back, and an
        # encoder sends the last fire pass's spikes while the runner goes on.
        errors = Signal(3)       # drops, skipped slots, rejected commands: may coincide
        work = Signal()          # an engine cycle: the CYCLES counter (see golden.core)
        # the pipeline's errors are counted a cycle late (`idle` waits for them): the sum of
        # up to three flags is registered first, so the decisions that raise them stay off
        # the 32-bit counter's carry path. A refused register write (only while idle, so
        # never with them) counts at once.
        errors_q = Signal(2)
        m.d.sync += errors_q.eq(errors[0] + errors[1] + errors[2])
        errors_next = prefix_sum(m, cnt["ERRORS"], errors_q, 32, "errors_next")

        # collector: the sources of the open batch (sources, not rows: a batch left open while
        # the host rewrites BW or the bases runs with the new values, computed at hand-off)
        c_src = [Signal(ib, name=f"c_src{i}") for i in range(P)]
        c_count = Signal(range(P + 1))
        c_closed = Signal()                        # C is complete, waiting for the runner
        handoff = Signal()                         # the runner takes C this cycle
        dup = Signal()
        m.d.comb += dup.eq(Cat(*[(i < c_count) & (c_src[i] == head.index)
                                 for i in range(P)]).any())
        src_ok = less_than(m, head.index, r["N_IN"], "src_ok")
        tick_wait = Signal()                       # a tick at the head, C empty: runner's
        m.d.comb += tick_wait.eq(fifo.r_rdy & head.tick & (c_count == 0))
        # A repeated source is popped too, into K, the first entry of the next batch: so the
        # FIFO's read never waits for the comparison with C (P comparators and an OR).
        k_src, k_valid = Signal(ib), Signal()
        # (a hand-over needs C closed, so it never meets the collector acting: no priority)
        with m.If(~c_closed & fifo.r_rdy & ~tick_wait):
            with m.If(head.tick):
                m.d.sync += c_closed.eq(1)         # close: the tick fires after the batch
            with m.Else():
                m.d.comb += fifo.r_en.eq(1)
                with m.If(~src_ok):                # dropped, counted
                    m.d.comb += errors[0].eq(1)
                with m.Elif(dup):                  # close: the source opens the next batch
                    m.d.sync += [c_closed.eq(1), k_src.eq(head.index), k_valid.eq(1)]
                with m.Else():
                    with m.Switch(c_count):
                        for i in range(P):
                            with m.Case(i):
                                m.d.sync += c_src[i].eq(head.index)
                    m.d.sync += [c_count.eq(c_count + 1), c_closed.eq(c_count + 1 == P)]
        with m.If(handoff):
            m.d.sync += [c_count.eq(k_valid), c_src[0].eq(k_src), k_valid.eq(0),
                         c_closed.eq(0)]

        # runner: the batch being run (sources, then row offsets, then command fields)
        r_src = [Signal(ib, name=f"r_src{i}") for i in range(P)]
        r_en = Signal(P)
        sw = ROW_REG_BITS + ib + 2                 # addresses computed without wrapping
        # source * BW as two carry-save vectors (registered), added to W_BASE a cycle later
        r_off = [[Signal(sw, name=f"r_off{i}_{j}") for j in range(2)] for i in range(P)]
        slot_v, slot_t = Signal(sw), Signal(sw)
        slot_w = [Signal(sw, name=f"slot_w{i}") for i in range(P)]
        slot_base = Signal(ib + 2)                 # s * cols, the slot's first neuron
        rem = Signal(ib + 2)                       # N_OUT - slot_base: neurons left
        mask = Signal(cols)
        last_slot = Signal()
        if M == 1:
            m.d.comb += mask.eq(thermometer(rem, cols))     # column c: rem > c
            m.d.comb += last_slot.eq(below(rem, cols + 1))
        else:
            # a slot holds G = cols >> t neurons at N_C = 2**t; group g is enabled when
            # rem > g, on all its columns; the columns past the last group never are
            G = [cols >> t for t in range(modes)]
            m.d.comb += mask.eq(one_hot_select(shape_sel, [
                Cat(*[b.replicate(1 << t) for b in thermometer(rem, G[t])])
                for t in range(modes)]))
            m.d.comb += last_slot.eq(one_hot_select(shape_sel,
                                                    [below(rem, G[t] + 1) for t in range(modes)]))
        acc_in_range = Signal()
        m.d.comb += acc_in_range.eq(below(slot_v, mc.rows) & Cat(
            *[~r_en[i] | below(slot_w[i], mc.rows) for i in range(P)]).all())
        fire_in_range = Signal()
        m.d.comb += fire_in_range.eq(below(slot_v, mc.rows) &
                                     (~theta_src | below(slot_t, mc.rows)))
        # the verdicts a cycle late: the slot registers change only when a command is issued,
        # and the next one cannot be taken within two cycles (each takes at least three)
        acc_ok, fire_ok = Signal(), Signal()
        m.d.sync += [acc_ok.eq(acc_in_range), fire_ok.eq(fire_in_range)]
        m.d.comb += [
            macro.acc.v_row.eq(slot_v), macro.acc.bv.eq(r["BV"]), macro.acc.bw.eq(r["BW"]),
            macro.acc.w_rows.eq(Cat(*[w[:aw] for w in slot_w])), macro.acc.w_en.eq(r_en),
            macro.acc.col_en.eq(mask), macro.acc.saturate.eq(saturate),
            macro.fire.v_row.eq(slot_v), macro.fire.bv.eq(r["BV"]),
            macro.fire.leak_mode.eq(leak_mode), macro.fire.leak.eq(r["LEAK"]),
            macro.fire.threshold.eq(r["THRESHOLD"]), macro.fire.theta_src.eq(theta_src),
            macro.fire.theta_row.eq(slot_t), macro.fire.soft_reset.eq(soft),
            macro.fire.col_en.eq(mask),
        ]
        if M > 1:
            m.d.comb += [macro.acc.operand_cols.eq(r["OPERAND_COLS"]),
                         macro.fire.operand_cols.eq(r["OPERAND_COLS"])]

        nxt = [prefix_sum(m, slot_v, r["V_STRIDE"], sw, "next_v"),
               prefix_sum(m, slot_t, r["V_STRIDE"], sw, "next_t"),
               prefix_sum(m, slot_base, cols if M == 1 else
                          one_hot_select(shape_sel, G), ib + 2, "next_base"),
               prefix_sum(m, rem, (1 << (ib + 2)) - cols if M == 1 else
                          one_hot_select(shape_sel, [(1 << (ib + 2)) - g for g in G]),
                          ib + 2, "next_rem")] + \
            [prefix_sum(m, w, r["W_STRIDE"], sw, f"next_w{i}") for i, w in enumerate(slot_w)]

        def next_slot():
            return [reg.eq(v) for reg, v in zip([slot_v, slot_t, slot_base, rem, *slot_w], nxt)]

        def first_slot():
            return [slot_v.eq(r["V_BASE"]), slot_t.eq(r["THETA_BASE"]), slot_base.eq(0),
                    rem.eq(r["N_OUT"])]

        def take_batch():                          # C -> runner
            m.d.comb += handoff.eq(1)
            m.d.sync += [r_src[i].eq(c_src[i]) for i in range(P)]
            m.d.sync += r_en.eq(Cat(*[i < c_count for i in range(P)]))
            m.next = "OFFSETS"

        # encoder: the spikes of one fire pass (and the tick after the last slot's)
        pending = Signal(cols)
        e_base = Signal(ib + 2)
        e_tick = Signal()
        has_spikes = Signal()                      # pending.any(), kept in a register
        enc_free = Signal()
        m.d.comb += enc_free.eq(~has_spikes & ~e_tick)
        low = Signal(range(max(cols, 2)))
        m.d.comb += low.eq(lowest_one(pending))
        out = data.View(EventLayout(ib), self.ev_out.payload)
        # spikes sit on each group's lowest column: column low is neuron low >> t of the slot
        spike_index = prefix_sum(m, e_base, low if M == 1 else
                                 one_hot_select(shape_sel, [low >> t for t in range(modes)]),
                                 ib, "spike_index")
        more = any_and_many(pending)[1]            # still one after this send
        with m.If(has_spikes):
            m.d.comb += [self.ev_out.valid.eq(1), out.index.eq(spike_index)]
            with m.If(self.ev_out.ready):
                m.d.sync += [pending.bit_select(low, 1).eq(0), has_spikes.eq(more),
                             bump("SPIKES_OUT")]
        with m.Elif(e_tick):
            m.d.comb += [self.ev_out.valid.eq(1), out.tick.eq(1)]
            with m.If(self.ev_out.ready):
                m.d.sync += [e_tick.eq(0), bump("TICKS")]

        # a fire pass's spikes are taken into the encoder when it is free; the macro holds
        # them until its next fire starts, which waits for that
        f_out = Signal()                           # a fire pass issued, spikes not yet taken
        f_base, f_last = Signal(ib + 2), Signal()
        f_done, f_err = Signal(), Signal()         # ... and it has finished (rejected)
        take = Signal()
        m.d.comb += take.eq(f_out & (f_done | macro.fire.done) & enc_free)
        rejected = Signal()
        m.d.comb += rejected.eq(Mux(macro.fire.done, macro.fire.error, f_err))
        with m.If(macro.fire.done):
            m.d.sync += [f_done.eq(1), f_err.eq(macro.fire.error)]
            m.d.comb += errors[2].eq(macro.fire.error)
        spikes = Signal(cols)
        m.d.comb += spikes.eq(Cat(macro.fire.spikes) & ~rejected.replicate(cols))
        with m.If(take):
            m.d.sync += [pending.eq(spikes), has_spikes.eq(any_and_many(spikes)[0]),
                         e_base.eq(f_base), e_tick.eq(f_last), f_out.eq(0), f_done.eq(0)]
        with m.If(macro.acc.done):
            m.d.comb += errors[2].eq(macro.acc.error)

        m.d.comb += work.eq(macro.busy | (macro.acc.valid & macro.acc.ready) |
                            (macro.fire.valid & macro.fire.ready) | errors[1])
        # partial products as whole vectors (a Mux per vector, not one per bit) of
        # source * rows per weight (BW, or ceil(BW / N_C) for a shaped layer)
        w_step = r["BW"]
        if M > 1:
            w_step = Signal(mc.bits_width, name="w_rows_per_operand")
            m.d.comb += w_step.eq(one_hot_select(shape_sel, [
                (r["BW"] + ((1 << t) - 1)) >> t for t in range(modes)]))
        partial = [[Signal(sw, name=f"pp{i}_{j}") for j in range(mc.bits_width)]
                   for i in range(P)]
        for i in range(P):
            for j in range(mc.bits_width):
                m.d.comb += partial[i][j].eq((r_src[i] << j) & w_step[j].replicate(sw))
        offsets = [carry_save(m, partial[i], sw, f"offset{i}") for i in range(P)]
        rows0 = [carry_save_sum(m, [r["W_BASE"], *r_off[i]], sw, f"row{i}") for i in range(P)]
        r_idle = Signal()
        with m.FSM(name="run"):
            with m.State("IDLE"):
                m.d.comb += r_idle.eq(1)
                m.d.sync += first_slot()
                with m.If(c_closed):
                    take_batch()
                with m.Elif(tick_wait):
                    m.d.comb += fifo.r_en.eq(1)
                    m.next = "FIRE_CHECK"

            with m.State("FIRE_CHECK"):            # slot 0's range verdict
                m.next = "FIRE"

            with m.State("OFFSETS"):               # row offsets of the sources
                m.d.sync += [r_off[i][j].eq(offsets[i][j]) for i in range(P) for j in range(2)]
                m.next = "ROWS"

            with m.State("ROWS"):                  # slot 0's weight rows
                m.d.sync += [slot_w[i].eq(rows0[i]) for i in range(P)]
                m.d.sync += first_slot()
                m.next = "CHECK"

            with m.State("CHECK"):                 # slot 0's range verdict
                m.next = "ACC"

            with m.State("ACC"):                   # one accumulate per slot, back to back
                with m.If(macro.acc.ready):
                    m.d.comb += [macro.acc.valid.eq(acc_ok), errors[1].eq(~acc_ok)]
                    with m.If(last_slot):
                        m.d.sync += bump("BATCHES")
                        with m.If(c_closed):
                            take_batch()
                        with m.Else():
                            m.next = "IDLE"
                    with m.Else():
                        m.d.sync += next_slot()

            with m.State("FIRE"):                  # one fire pass per slot
                # a pass starts once the last one's spikes are taken; a slot out of range
                # (no pass) hands the encoder an empty set, so it waits for a free encoder
                with m.If(macro.fire.ready & Mux(fire_ok, ~f_out | take, ~f_out & enc_free)):
                    m.d.comb += [macro.fire.valid.eq(fire_ok), errors[1].eq(~fire_ok)]
                    m.d.sync += [f_base.eq(slot_base), f_last.eq(last_slot)]
                    with m.If(fire_ok):
                        m.d.sync += f_out.eq(1)
                    with m.Else():                 # no pass: its empty spike set is taken
                        m.d.sync += [e_base.eq(slot_base), e_tick.eq(last_slot)]
                    with m.If(last_slot):
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += next_slot()

        # a refused command's ``done`` comes with the macro idle again: not idle before its
        # error is counted (``errors[2]``, from the macro's registers: a short path)
        m.d.comb += idle.eq((fifo.level == 0) & ~c_closed & r_idle & macro.row.ready &
                            ~f_out & enc_free & (errors_q == 0) & ~errors[2])
        with m.If(work):
            m.d.sync += bump("CYCLES")
        with m.If(errors_q != 0):
            m.d.sync += [cnt["ERRORS"].eq(errors_next), sticky.eq(1)]
        with m.If(cfg_err):
            m.d.sync += [cnt["ERRORS"].eq(plus_one["ERRORS"]), sticky.eq(1)]
        with m.If(self.ev_in.valid & self.ev_in.ready):
            m.d.sync += bump("EVENTS_IN")

        with m.If(clear_cnt):
            m.d.sync += [c.eq(0) for c in cnt.values()]
            # an event taken at the same edge runs after the write (with its settings): the
            # counters count it
            m.d.sync += cnt["EVENTS_IN"].eq(self.ev_in.valid & self.ev_in.ready)
        return m

