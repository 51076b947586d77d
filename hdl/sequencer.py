"""The sequencer: the WS swap and OS stream rules of docs/dataflow.md 5.4 in hardware, the
row transfers they need (array <-> buffer on its own ports, buffer <-> backing store through
the row mover) and the counters of 5.5.

Behaviour and cycle costs are `flexspim.golden.sequencer.SequencerMachine`'s, cycle for
cycle (its docstring holds the rules; decisions 155-157); the transfers of an op are those
of `golden.sequencer.SequencerModel`. Two components:

* `Sequencer`: the sequencer alone, a master of the buffer's ports (``buf``, every enable 0
  while idle or while the mover works) and of a mover's command port (``mcmd``, with the
  mover's ``done`` back), so that a core can put it beside its own array and mover;
* `SequencerUnit`: the sequencer with a `hdl.mover.RowMover` and the operand buffer
  (instantiated by name, as in `hdl.mover.MoverUnit`), a host port onto the buffer while
  both are idle, the array's row port and the backing-store port as its own ports:
  ``flexspim generate --top sequencer``.

Datapath: the descriptor (words 0..6 as registers; 7 is RESERVED and never stored), one tag
register per slot, the op's registers (tile, table, operands, mask), a phase register
naming the transfer under way (`PHASES`), a row counter ``k``, an operand index ``i`` and a
slot index. A transfer's fields (rows, buffer word, array row, backing-store row) are
combinational from these registers (one multiplier for the area offset ``X *
TILE_STRIDE``, one for ``op_i * BW``, one for ``i * BW``, one for ``slot * V_STRIDE``), at
full width, so its range check (in its first cycle) sees any overflow. The one path from
an input to a decision is the take: ``op.tile mod N_SLOTS`` and the tag compare decide, at
the edge that takes the op, whether anything moves.
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Instance, Module, Mux, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from flexspim.config import SequencerConfig

from .buffer import BUFFER_MODULE, BufferSignature
from .mover import BackingStoreSignature, MoverCommandSignature, RowMover

__all__ = ["SeqOpSignature", "ProgSignature", "LayoutSignature", "ArrayPortSignature",
           "Sequencer", "SequencerUnit", "OWN_COUNTERS", "UNIT_COUNTERS", "PHASES",
           "PROG_ADDR_BITS"]

#: The sequencer's own counters (the others are the mover's), port names.
OWN_COUNTERS = ("ROWS_ARR_BUF", "ROWS_BUF_ARR", "MOVE_WAIT", "SWAPS", "STREAM_OPS", "ERRORS")
#: The unit's counters (= `golden.sequencer.UNIT_COUNTERS`): registers 22..31, then ERRORS.
UNIT_COUNTERS = ("ROWS_ARR_BUF", "ROWS_BUF_ARR", "ROWS_BUF_BS", "ROWS_BS_BUF", "BS_REQUESTS",
                 "BS_STALL", "MOVE_WAIT", "SWAPS", "STREAM_OPS", "MOVER_BUSY", "ERRORS")
_FROM_MOVER = {"ROWS_BUF_BS": "rows_stored", "ROWS_BS_BUF": "rows_loaded",
               "BS_REQUESTS": "requests", "BS_STALL": "stall_cycles",
               "MOVER_BUSY": "busy_cycles"}
#: The transfers, in the phase register's encoding.
PHASES = ("SAVE", "STORE", "LOAD", "REST_V", "REST_T", "LOAD_OP", "STREAM")
_P = {n: i for i, n in enumerate(PHASES)}
#: Width of the descriptor word address (``PROG_PTR``): words 8.. are past the window.
PROG_ADDR_BITS = 8
_ACC, _FIRE, _FLUSH = 0, 1, 2


def _check(config) -> SequencerConfig:
    if not isinstance(config, SequencerConfig):
        raise ValueError(f"`config` must be a SequencerConfig, not {config!r}")
    return config


def _rb(cfg: SequencerConfig) -> int:
    """Width of a layout row value 0..rows."""
    return cfg.rows.bit_length()


def SeqOpSignature(cfg: SequencerConfig) -> wiring.Signature:
    """An operation, seen from its sender (valid/ready, taken at an edge where both; ``ready``
    = idle): ``kind`` 2 (0 accumulate, 1 fire, 2 flush, 3 refused), ``tile`` and ``table``
    ``tile_bits`` (local indices), ``n_ops`` 0..batch and ``ops`` ``batch * op_bits``
    (operand ``j`` in bits ``j*op_bits ..``), ``mask`` W (the tile's columns: array rows are
    written under it)."""
    _check(cfg)
    return wiring.Signature({
        "valid": Out(1), "ready": In(1), "kind": Out(2), "tile": Out(cfg.tile_bits),
        "table": Out(cfg.tile_bits), "n_ops": Out(range(cfg.batch + 1)),
        "ops": Out(cfg.batch * cfg.op_bits), "mask": Out(cfg.buffer.width)})


def ProgSignature() -> wiring.Signature:
    """A descriptor word write, seen from the host: ``en`` 1, ``addr`` `PROG_ADDR_BITS`
    (0..7 the window), ``data`` 32. Taken while idle and no op is offered; refused (and
    counted in ``ERRORS``) past the window, out of its field, or while busy or with an op."""
    return wiring.Signature({"en": Out(1), "addr": Out(PROG_ADDR_BITS), "data": Out(32)})


def LayoutSignature(cfg: SequencerConfig) -> wiring.Signature:
    """The core's layout registers the sequencer reads (docs/dataflow.md 4.4), seen from the
    core (``RB`` = bits of 0..rows): ``bv``, ``bw``, ``v_base``, ``v_stride``,
    ``theta_base`` RB; ``theta_en`` 1 (thresholds in the array); ``bs_base``
    ``addr_bits`` (the core's ``BS_BASE``)."""
    rb = _rb(_check(cfg))
    return wiring.Signature({
        "bv": Out(rb), "bw": Out(rb), "v_base": Out(rb), "v_stride": Out(rb),
        "theta_base": Out(rb), "theta_en": Out(1), "bs_base": Out(cfg.mover.addr_bits)})


def ArrayPortSignature(cfg: SequencerConfig) -> wiring.Signature:
    """The array's row port, seen from the sequencer (``RW`` = `SequencerConfig.row_width`):
    ``rd_en``, ``rd_addr`` out (read at the edge; ``rd_data`` in the next cycle), ``rd_data``
    in W; ``wr_en``, ``wr_addr``, ``wr_data``, ``wr_mask`` out (the bits of ``wr_mask``
    written at the edge)."""
    rw, w = _check(cfg).row_width, cfg.buffer.width
    return wiring.Signature({
        "rd_en": Out(1), "rd_addr": Out(rw), "rd_data": In(w),
        "wr_en": Out(1), "wr_addr": Out(rw), "wr_data": Out(w), "wr_mask": Out(w)})


def _common(cfg: SequencerConfig) -> dict:
    return {"op": In(SeqOpSignature(cfg)), "prog": In(ProgSignature()),
            "layout": In(LayoutSignature(cfg)), "arr": Out(ArrayPortSignature(cfg)),
            "busy": Out(1), "done": Out(1), "error": Out(1), "clear": In(1)}


class Sequencer(wiring.Component):
    """The sequencer alone (clock domain ``sync``).

    Ports: ``op`` (`SeqOpSignature`, flipped), ``prog`` (`ProgSignature`, flipped),
    ``layout`` (`LayoutSignature`, flipped), ``arr`` (`ArrayPortSignature`), ``busy``,
    ``done`` (one-cycle pulse after an op), ``error`` (with ``done``: the op was refused or
    a transfer left its range), ``clear`` (zero the counters at this edge); ``buf``
    (`BufferSignature`, flipped: the sequencer drives the buffer); ``mcmd``
    (`MoverCommandSignature`: the mover's command port, offered for one cycle while the
    mover is idle) and ``mover_done`` in; ``counters``: `OWN_COUNTERS`, 32 bits each.
    """

    def __init__(self, config: SequencerConfig):
        self.config = _check(config)
        super().__init__({**_common(config), "buf": In(BufferSignature(config.buffer)),
                          "mcmd": Out(MoverCommandSignature(config.mover)),
                          "mover_done": In(1),
                          "counters": Out(wiring.Signature({n: Out(32)
                                                            for n in OWN_COUNTERS}))})

    def elaborate(self, platform):
        m = Module()
        cfg, b = self.config, self.config.buffer
        w, tb, ob, P = b.width, cfg.tile_bits, cfg.op_bits, cfg.batch
        op, lay, arr, buf, mc = self.op, self.layout, self.arr, self.buf, self.mcmd
        full = (1 << w) - 1

        # -- descriptor and tags -------------------------------------------------------------
        words = [Signal(32, name=f"desc_{i}") for i in range(7)]
        mode, dram = words[0][0:2], words[0][2]
        # N_SLOTS <= max_slots (a larger word is refused), so its low bits are the value
        n_slots = words[1][:cfg.max_slots.bit_length()]
        slot_rows, buf_base = words[2], words[3]
        bs_l, stride, stage_row = words[4], words[5], words[6]
        tags = [Signal(tb, name=f"tag_{s}", init=s) for s in range(cfg.max_slots)]
        sb = max(1, (cfg.max_slots - 1).bit_length())

        def tag(index):
            v = tags[0]
            for s in range(1, cfg.max_slots):
                v = Mux(index == s, tags[s], v)
            return v

        # -- op state ------------------------------------------------------------------------
        busy, waiting, flush = Signal(name="busy_r"), Signal(name="waiting"), Signal(name="flush_r")
        phase = Signal(range(len(PHASES)), name="phase")
        k = Signal(_rb(cfg) + 1, name="k")
        i = Signal(range(max(P, 2)), name="op_i")
        slot = Signal(sb, name="slot")
        old, tile, table = (Signal(tb, name=n) for n in ("old_tile", "tile_r", "table_r"))
        ops = Signal(P * ob, name="ops_r")
        n_ops = Signal(range(P + 1), name="n_ops_r")
        mask = Signal(w, name="mask_r")
        done, error = Signal(name="done_r"), Signal(name="error_r")
        counters = {n: Signal(32, name=f"count_{n.lower()}") for n in OWN_COUNTERS}
        inc = {n: Signal(32 if n == "STREAM_OPS" else 1, name=f"inc_{n.lower()}")
               for n in OWN_COUNTERS}

        m.d.comb += [op.ready.eq(~busy), self.busy.eq(busy), self.done.eq(done),
                     self.error.eq(error)]
        m.d.comb += [getattr(self.counters, n).eq(s) for n, s in counters.items()]
        m.d.sync += [done.eq(0), error.eq(0)]

        # -- the transfer under way: its fields, combinational from registers ---------------
        is_swap, is_stream = mode == 1, mode == 2
        x = Signal(tb, name="area_index")
        m.d.comb += x.eq(Mux(phase <= _P["STORE"], old,
                             Mux(phase <= _P["REST_T"], tile, table)))
        off = Signal(32 + tb, name="area_off")               # X * TILE_STRIDE
        op_i = Signal(ob, name="operand")
        opoff = Signal(ob + _rb(cfg), name="operand_off")    # op_i * BW
        ibw = Signal(i.shape().width + _rb(cfg), name="stage_off")   # i * BW
        vrow = Signal(_rb(cfg) + sb + _rb(cfg) + 1, name="v_row")
        trow = Signal(len(vrow), name="theta_row")
        m.d.comb += [off.eq(x * stride), op_i.eq(ops.word_select(i, ob)),
                     opoff.eq(op_i * lay.bw), ibw.eq(i * lay.bw),
                     vrow.eq(lay.v_base + slot * lay.v_stride),
                     trow.eq(lay.theta_base + slot * lay.v_stride)]
        wide = 34 + tb + ob + 2 * _rb(cfg) + cfg.mover.addr_bits
        n = Signal(32, name="xfer_rows")
        baddr = Signal(wide, name="xfer_buf")
        row = Signal(wide, name="xfer_row")
        bsaddr = Signal(wide, name="xfer_bs")
        arr_side = Signal(name="xfer_array_side")
        save = Signal(name="xfer_save")
        bsb = lay.bs_base + bs_l
        own = buf_base + off                                 # the tile's / table's own words
        with m.Switch(phase):
            with m.Case(_P["SAVE"]):
                m.d.comb += [n.eq(lay.bv), row.eq(vrow), baddr.eq(Mux(dram, buf_base, own)),
                             arr_side.eq(1), save.eq(1)]
            with m.Case(_P["STORE"]):
                m.d.comb += [n.eq(lay.bv), baddr.eq(buf_base), bsaddr.eq(bsb + off)]
            with m.Case(_P["LOAD"]):
                m.d.comb += [n.eq(slot_rows), baddr.eq(buf_base), bsaddr.eq(bsb + off)]
            with m.Case(_P["REST_V"]):
                m.d.comb += [n.eq(lay.bv), row.eq(vrow), baddr.eq(Mux(dram, buf_base, own)),
                             arr_side.eq(1)]
            with m.Case(_P["REST_T"]):
                m.d.comb += [n.eq(lay.bv), row.eq(trow),
                             baddr.eq(Mux(dram, buf_base, own) + lay.bv), arr_side.eq(1)]
            with m.Case(_P["LOAD_OP"]):
                m.d.comb += [n.eq(lay.bw), baddr.eq(buf_base + ibw),
                             bsaddr.eq(bsb + off + opoff)]
            with m.Case(_P["STREAM"]):
                m.d.comb += [n.eq(lay.bw), row.eq(stage_row + ibw), arr_side.eq(1),
                             baddr.eq(Mux(dram, buf_base + ibw, own + opoff))]
        ok = Signal(name="xfer_in_range")
        m.d.comb += ok.eq((baddr + n <= b.words) &
                          Mux(arr_side, row + n <= cfg.rows,
                              bsaddr + n <= (1 << cfg.mover.addr_bits)))

        # -- array side: cycle k reads row k, writes row k - 1 ------------------------------
        go = Signal(name="xfer_go")                           # a transfer's cycle, in range
        m.d.comb += go.eq(busy & ~waiting & ((k != 0) | ok))
        reading, writing = Signal(name="reading"), Signal(name="writing")
        m.d.comb += [reading.eq(go & arr_side & (k < n)),
                     writing.eq(go & arr_side & (k != 0))]
        m.d.comb += [arr.rd_en.eq(reading & save), arr.rd_addr.eq(row + k),
                     buf.wr_en.eq(writing & save), buf.wr_addr.eq(baddr + k - 1),
                     buf.wr_data.eq(arr.rd_data), buf.wr_mask.eq(full),
                     buf.rd_en.eq(reading & ~save), buf.rd_addr.eq(baddr + k),
                     arr.wr_en.eq(writing & ~save), arr.wr_addr.eq(row + k - 1),
                     arr.wr_data.eq(buf.rd_data), arr.wr_mask.eq(mask)]
        m.d.comb += [inc["ROWS_ARR_BUF"].eq(writing & save),
                     inc["ROWS_BUF_ARR"].eq(writing & ~save),
                     inc["MOVE_WAIT"].eq(busy & ~flush)]
        # -- mover transfers: one cycle offers the command -----------------------------------
        m.d.comb += [mc.valid.eq(go & ~arr_side), mc.kind.eq(phase == _P["STORE"]),
                     mc.buf_addr.eq(baddr), mc.bs_addr.eq(bsaddr), mc.rows.eq(n),
                     mc.mask.eq(full)]

        # -- the next transfer -----------------------------------------------------------------
        def finish():
            m.d.sync += [busy.eq(0), done.eq(1)]

        def next_flush_slot():
            with m.If(slot + 1 < n_slots):
                m.d.sync += [slot.eq(slot + 1), old.eq(tag(slot + 1)), phase.eq(_P["SAVE"])]
            with m.Else():
                finish()

        def advance():
            m.d.sync += [k.eq(0), waiting.eq(0)]
            with m.Switch(phase):
                with m.Case(_P["SAVE"]):
                    with m.If(dram):
                        m.d.sync += phase.eq(_P["STORE"])
                    with m.Elif(flush):
                        next_flush_slot()
                    with m.Else():
                        m.d.sync += phase.eq(_P["REST_V"])
                with m.Case(_P["STORE"]):
                    with m.If(flush):
                        next_flush_slot()
                    with m.Else():
                        m.d.sync += phase.eq(_P["LOAD"])
                with m.Case(_P["LOAD"]):
                    m.d.sync += phase.eq(_P["REST_V"])
                with m.Case(_P["REST_V"]):
                    with m.If(lay.theta_en):
                        m.d.sync += phase.eq(_P["REST_T"])
                    with m.Else():
                        finish()
                with m.Case(_P["REST_T"]):
                    finish()
                with m.Case(_P["LOAD_OP"]):
                    m.d.sync += phase.eq(_P["STREAM"])
                with m.Case(_P["STREAM"]):
                    with m.If(i + 1 < n_ops):
                        m.d.sync += [i.eq(i + 1),
                                     phase.eq(Mux(dram, _P["LOAD_OP"], _P["STREAM"]))]
                    with m.Else():
                        finish()

        abort = Signal(name="abort")
        with m.If(busy):
            with m.If(waiting):
                with m.If(self.mover_done):
                    advance()
            with m.Elif((k == 0) & ~ok):
                m.d.comb += abort.eq(1)
                m.d.sync += [busy.eq(0), done.eq(1), error.eq(1)]
            with m.Elif(arr_side):
                with m.If(k == n):
                    advance()
                with m.Else():
                    m.d.sync += k.eq(k + 1)
            with m.Else():
                m.d.sync += waiting.eq(1)

        # -- idle: a descriptor word, or take an op --------------------------------------------
        take_slot = Signal(sb + tb, name="take_slot")
        take_old = Signal(tb, name="take_old")
        m.d.comb += [take_slot.eq(op.tile % n_slots), take_old.eq(tag(take_slot))]
        refused, prog_ok, prog_bad = (Signal(name=n) for n in ("op_refused", "prog_ok",
                                                               "prog_bad"))
        a, dat = self.prog.addr, self.prog.data
        field_bad = Signal(name="prog_field_bad")
        m.d.comb += field_bad.eq(
            (a >= 8) | ((a == 0) & ((dat[3:] != 0) | (dat[0:2] == 3))) |
            ((a == 1) & (dat > cfg.max_slots)) | ((a == 7) & (dat != 0)))
        m.d.comb += [prog_ok.eq(self.prog.en & ~busy & ~op.valid & ~field_bad),
                     prog_bad.eq(self.prog.en & ~prog_ok)]
        with m.If(prog_ok):
            for j in range(7):
                with m.If(a == j):
                    m.d.sync += words[j].eq(dat)
            m.d.sync += [t.eq(s) for s, t in enumerate(tags)]
        m.d.comb += refused.eq(~busy & op.valid &
                               ((op.kind == 3) | (is_swap & (op.kind != _FLUSH) &
                                                  (n_slots == 0))))
        with m.If(~busy & op.valid):
            m.d.sync += [k.eq(0), waiting.eq(0), i.eq(0), tile.eq(op.tile),
                         table.eq(op.table), ops.eq(op.ops), n_ops.eq(op.n_ops),
                         mask.eq(op.mask), flush.eq(op.kind == _FLUSH)]
            with m.If(refused):
                m.d.sync += [done.eq(1), error.eq(1)]
            with m.Elif(is_swap & (op.kind == _FLUSH)):
                with m.If(n_slots != 0):
                    m.d.sync += [busy.eq(1), phase.eq(_P["SAVE"]), slot.eq(0),
                                 old.eq(tags[0])]
                with m.Else():
                    m.d.sync += done.eq(1)
            with m.Elif(is_swap & (take_old != op.tile)):
                m.d.comb += inc["SWAPS"].eq(1)
                m.d.sync += [busy.eq(1), phase.eq(_P["SAVE"]), slot.eq(take_slot),
                             old.eq(take_old)]
                for s, t in enumerate(tags):
                    with m.If(take_slot == s):
                        m.d.sync += t.eq(op.tile)
            with m.Elif(is_stream & (op.kind == _ACC) & (op.n_ops != 0)):
                m.d.comb += inc["STREAM_OPS"].eq(op.n_ops)
                m.d.sync += [busy.eq(1),
                             phase.eq(Mux(dram, _P["LOAD_OP"], _P["STREAM"]))]
            with m.Else():
                m.d.sync += done.eq(1)
        m.d.comb += inc["ERRORS"].eq(abort | refused | prog_bad)

        with m.If(self.clear):
            m.d.sync += [s.eq(0) for s in counters.values()]
        with m.Else():
            m.d.sync += [s.eq(s + inc[n]) for n, s in counters.items()]
        return m


class SequencerUnit(wiring.Component):
    """The sequencer with its row mover and operand buffer:
    `golden.sequencer.SequencerMachine` as a design top (``flexspim generate --top
    sequencer``), clock domain ``sync`` (ports ``clk``, ``rst``).

    Ports: those of `Sequencer` but ``buf``, ``mcmd`` and ``mover_done`` (inside), plus
    ``bs`` (`hdl.mover.BackingStoreSignature`: the backing-store port), ``host``
    (`BufferSignature`: the buffer's own ports, reaching it while the sequencer and the
    mover are idle) and ``counters``: `UNIT_COUNTERS`, 32 bits each (registers 22..31 of
    docs/dataflow.md 5.5, then ``ERRORS``). At an edge where ``rst`` is 1 neither the buffer
    nor the array is accessed.
    """

    def __init__(self, config: SequencerConfig):
        self.config = _check(config)
        self.buffer_config = config.buffer
        super().__init__({**_common(config), "bs": Out(BackingStoreSignature(config.mover)),
                          "host": Out(BufferSignature(config.buffer)),
                          "counters": Out(wiring.Signature({n: Out(32)
                                                            for n in UNIT_COUNTERS}))})

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.sequencer = seq = Sequencer(cfg)
        m.submodules.mover = mover = RowMover(cfg.mover)
        for name in ("busy", "done", "error"):
            m.d.comb += getattr(self, name).eq(getattr(seq, name))
        m.d.comb += [seq.clear.eq(self.clear), mover.clear.eq(self.clear),
                     seq.mover_done.eq(mover.done)]
        wiring.connect(m, wiring.flipped(self.op), seq.op)
        wiring.connect(m, wiring.flipped(self.prog), seq.prog)
        wiring.connect(m, wiring.flipped(self.layout), seq.layout)
        wiring.connect(m, seq.mcmd, mover.cmd)
        wiring.connect(m, wiring.flipped(self.bs), mover.bs)
        for n in UNIT_COUNTERS:
            src = getattr(mover.counters, _FROM_MOVER[n]) if n in _FROM_MOVER \
                else getattr(seq.counters, n)
            m.d.comb += getattr(self.counters, n).eq(src)

        live = Signal(name="no_reset")
        m.d.comb += live.eq(~ResetSignal("sync"))
        # the array: the sequencer's, nobody's during reset
        a, sa = self.arr, seq.arr
        m.d.comb += [a.rd_en.eq(live & sa.rd_en), a.wr_en.eq(live & sa.wr_en),
                     a.rd_addr.eq(sa.rd_addr), a.wr_addr.eq(sa.wr_addr),
                     a.wr_data.eq(sa.wr_data), a.wr_mask.eq(sa.wr_mask),
                     sa.rd_data.eq(a.rd_data)]
        # the buffer: the mover's while it is busy, else the sequencer's while it is busy,
        # else the host's; nobody's during reset
        w = cfg.buffer.width
        host, mb, sb = self.host, mover.buf, seq.buf
        rd_data = Signal(w, name="buf_rd_data")
        names = ("rd_en", "rd_addr", "wr_en", "wr_addr", "wr_data", "wr_mask")
        port = {n: Signal(len(getattr(host, n)), name=f"buf_{n}") for n in names}
        for n in names:
            v = Mux(mover.busy, getattr(mb, n), Mux(seq.busy, getattr(sb, n),
                                                    getattr(host, n)))
            m.d.comb += port[n].eq(live & v if n.endswith("_en") else v)
        m.submodules.buffer = Instance(
            BUFFER_MODULE, i_clk=ClockSignal("sync"), o_rd_data=rd_data,
            **{f"i_{n}": s for n, s in port.items()})
        m.d.comb += [host.rd_data.eq(rd_data), mb.rd_data.eq(rd_data), sb.rd_data.eq(rd_data)]
        return m
