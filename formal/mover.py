"""Proof (e): the row mover keeps the backing-store port's rules and moves every row intact,
under any command, any buffer data, any server behaviour and any reset (issue 22).

The harness drives `flexspim.hdl.mover.RowMover` from free inputs: commands (any field
values, valid or not), ``req_ready``, responses (data free; ``resp_valid`` only while a
request is owed, the server's side of rule 2), the buffer's ``rd_data`` (free: any buffer
content), ``clear`` and the reset. Every cycle it checks (docs/buffer.md section 2):

* rule 1: a request offered and not taken is offered again, unchanged, in the next cycle;
* rule 4: a request passes only while fewer than ``outstanding`` are owed; ``resp_ready``
  is ``busy``; ``cmd.ready`` is idle; the buffer is neither read nor written while idle;
* order and integrity: the ``k``-th request of a transfer is for row ``bs_addr + k``; a
  STORE's ``k``-th read is of word ``buf_addr + k`` and its request data is the word that
  read returned (a reference queue of the words landed and not yet sent); a LOAD writes
  word ``buf_addr + j`` with the ``j``-th response's data under the command's mask, at the
  edge after it took that response;
* accounting: ``done`` follows the edge of the last row (STORE: ``rows`` responses taken;
  LOAD: ``rows`` words written), a refused command (out of the buffer or the backing store)
  pulses ``done`` and ``error`` and moves nothing.

The data are free values, so a design that mixed up two rows is caught whatever they hold.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Assume, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from flexspim.config import MoverConfig

__all__ = ["MoverHarness"]


class MoverHarness(wiring.Component):
    """``mover_cls(config)`` (default `flexspim.hdl.mover.RowMover`) under free inputs."""

    def __init__(self, config: MoverConfig, mover_cls=None):
        if mover_cls is None:
            from flexspim.hdl.mover import RowMover
            mover_cls = RowMover
        self.config, self.mover_cls = config, mover_cls
        b = config.buffer
        super().__init__({
            "cmd_valid": In(1), "cmd_kind": In(1), "cmd_buf_addr": In(b.addr_width),
            "cmd_bs_addr": In(config.addr_bits), "cmd_rows": In(b.count_width),
            "cmd_mask": In(b.width), "req_ready": In(1), "resp_valid": In(1),
            "resp_data": In(b.width), "rd_data": In(b.width), "clear": In(1)})

    def elaborate(self, platform):
        m = Module()
        cfg, b = self.config, self.config.buffer
        w, cw, out_max = b.width, b.count_width, cfg.outstanding
        m.submodules.dut = dut = self.mover_cls(cfg)
        cmd, bs, buf = dut.cmd, dut.bs, dut.buf
        m.d.comb += [cmd.valid.eq(self.cmd_valid), cmd.kind.eq(self.cmd_kind),
                     cmd.buf_addr.eq(self.cmd_buf_addr), cmd.bs_addr.eq(self.cmd_bs_addr),
                     cmd.rows.eq(self.cmd_rows), cmd.mask.eq(self.cmd_mask),
                     bs.req_ready.eq(self.req_ready), bs.resp_valid.eq(self.resp_valid),
                     bs.resp_data.eq(self.resp_data), buf.rd_data.eq(self.rd_data),
                     dut.clear.eq(self.clear)]
        fire = Signal()
        take = Signal()
        m.d.comb += [fire.eq(bs.req_valid & self.req_ready),
                     take.eq(self.resp_valid & bs.resp_ready)]

        # -- the server's side: responses only while a request is owed (reset drops them) --
        owed = Signal(range(2 * out_max + 2))
        m.d.comb += Assume(~self.resp_valid | (owed != 0))
        m.d.sync += owed.eq(owed + fire - take)
        m.d.comb += [
            Assert(~fire | (owed < out_max), "a request passed with `outstanding` owed"),
            Assert(bs.resp_ready == dut.busy, "resp_ready is not busy"),
            Assert(cmd.ready == ~dut.busy, "cmd.ready is not idle"),
            Assert(dut.busy | ~(buf.rd_en | buf.wr_en), "the buffer is used while idle"),
        ]

        # -- rule 1: a stalled request is offered again, unchanged ------------------------
        stalled = Signal()
        p_addr, p_we, p_data = Signal(cfg.addr_bits), Signal(), Signal(w)
        m.d.sync += [stalled.eq(bs.req_valid & ~self.req_ready), p_addr.eq(bs.req_addr),
                     p_we.eq(bs.req_we), p_data.eq(bs.req_data)]
        with m.If(stalled):
            m.d.comb += [Assert(bs.req_valid, "req_valid lowered before the request passed"),
                         Assert(bs.req_addr == p_addr, "req_addr changed while stalled"),
                         Assert(bs.req_we == p_we, "req_we changed while stalled")]
            with m.If(p_we):
                m.d.comb += Assert(bs.req_data == p_data, "req_data changed while stalled")

        # -- the command being executed, as the harness saw it taken ----------------------
        k_kind, k_mask = Signal(), Signal(w)
        k_buf = Signal(b.addr_width + cw + 1)
        k_bs = Signal(cfg.addr_bits + cw + 1)
        k_rows = Signal(cw)
        sent, got, reads, writes = (Signal(cw + 1, name=n) for n in
                                    ("sent", "got", "reads", "writes"))
        start, refuse, empty = Signal(), Signal(), Signal()
        in_buf = (self.cmd_buf_addr + self.cmd_rows) <= b.words
        in_bs = (self.cmd_bs_addr + self.cmd_rows) <= (1 << cfg.addr_bits)
        m.d.comb += [refuse.eq(cmd.ready & self.cmd_valid & ~(in_buf & in_bs)),
                     empty.eq(cmd.ready & self.cmd_valid & in_buf & in_bs &
                              (self.cmd_rows == 0)),
                     start.eq(cmd.ready & self.cmd_valid & in_buf & in_bs &
                              (self.cmd_rows != 0))]
        with m.If(start):
            m.d.sync += [k_kind.eq(self.cmd_kind), k_mask.eq(self.cmd_mask),
                         k_buf.eq(self.cmd_buf_addr), k_bs.eq(self.cmd_bs_addr),
                         k_rows.eq(self.cmd_rows), sent.eq(0), got.eq(0), reads.eq(0),
                         writes.eq(0)]
        busy_was = Signal()
        pulse_ok = Signal()                 # done is due in this cycle
        pulse_err = Signal()
        m.d.sync += [busy_was.eq(dut.busy), pulse_err.eq(refuse),
                     pulse_ok.eq(refuse | empty)]
        m.d.comb += [Assert(dut.done == (pulse_ok | (busy_was & ~dut.busy)),
                            "done is not the cycle after a refused or empty command or the "
                            "last row"),
                     Assert(dut.error == pulse_err, "error without a refused command")]
        with m.If(start):
            m.d.comb += Assert(~dut.busy, "a command was taken while busy")
        started = Signal()
        m.d.sync += started.eq(start)
        m.d.comb += Assert(~started | dut.busy, "a taken command did not make the mover busy")
        with m.If(pulse_ok):
            m.d.comb += Assert(~dut.busy, "a refused or empty command made the mover busy")
        with m.If(busy_was & ~dut.busy):    # a transfer just ended: every row moved
            with m.If(k_kind):
                m.d.comb += Assert((got == k_rows) & (sent == k_rows) & (reads == k_rows),
                                   "a STORE ended before its last response")
            with m.Else():
                m.d.comb += Assert((writes == k_rows) & (sent == k_rows),
                                   "a LOAD ended before its last row was written")
        with m.If(dut.busy):
            m.d.comb += Assert(bs.req_we == k_kind, "req_we is not the command's kind")
            with m.If(fire):
                m.d.comb += [Assert(sent < k_rows, "more requests than rows"),
                             Assert(bs.req_addr == (k_bs + sent)[:cfg.addr_bits],
                                    "a request out of order")]
                m.d.sync += sent.eq(sent + 1)
            with m.If(take):
                m.d.sync += got.eq(got + 1)

        # -- STORE data: the k-th request carries the word the k-th read returned ---------
        depth = 3                           # one more than the mover's queue
        ref = [Signal(w, name=f"ref{i}") for i in range(depth)]
        count = Signal(range(depth + 1))
        landed = Signal()
        m.d.sync += landed.eq(buf.rd_en)
        pop = Signal()
        m.d.comb += pop.eq(fire & k_kind)
        with m.If(buf.rd_en):
            m.d.comb += [Assert(k_kind, "a LOAD read the buffer"),
                         Assert(buf.rd_addr == (k_buf + reads)[:b.addr_width],
                                "a STORE read out of order"),
                         Assert(reads < k_rows, "more reads than rows")]
            m.d.sync += reads.eq(reads + 1)
        with m.If(dut.busy & k_kind & bs.req_valid):
            m.d.comb += [Assert(count > 0, "a STORE request before its word was read"),
                         Assert(bs.req_data == ref[0], "a STORE request with another word")]
        shifted = [Signal(w, name=f"shifted{i}") for i in range(depth)]
        for i in range(depth):
            m.d.comb += shifted[i].eq(ref[i + 1] if i + 1 < depth else 0)
            with m.If(pop):
                m.d.sync += ref[i].eq(shifted[i])
        slot = count - pop
        for i in range(depth):
            with m.If(landed & (slot == i)):
                m.d.sync += ref[i].eq(self.rd_data)
        m.d.sync += count.eq(count + landed - pop)
        m.d.comb += Assert(count <= 2, "more than two words read ahead")

        # -- LOAD data: the j-th write is the j-th response, under the mask ---------------
        took, took_data = Signal(), Signal(w)
        m.d.sync += [took.eq(take & ~k_kind), took_data.eq(self.resp_data)]
        with m.If(buf.wr_en):
            m.d.comb += [Assert(~k_kind, "a STORE wrote the buffer"),
                         Assert(took, "a LOAD write without the response of the last edge"),
                         Assert(buf.wr_data == took_data, "a LOAD wrote another row"),
                         Assert(buf.wr_mask == k_mask, "a LOAD ignored the mask"),
                         Assert(buf.wr_addr == (k_buf + writes)[:b.addr_width],
                                "a LOAD wrote out of order"),
                         Assert(writes < k_rows, "more writes than rows")]
            m.d.sync += writes.eq(writes + 1)
        with m.If(took & dut.busy):
            m.d.comb += Assert(buf.wr_en, "a LOAD response not written at the next edge")
        return m
