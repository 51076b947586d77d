"""The row mover: transfers of whole rows between the operand buffer and the backing-store
port (docs/dataflow.md section 5, port contract docs/buffer.md section 2).

Behaviour and cycle costs are `flexspim.golden.mover.MoverModel`'s, cycle for cycle (read its
docstring: the command rules, the STORE read-ahead into a 2-entry queue, the LOAD response
register, the counters); this module is its hardware. Two components:

* `RowMover`: the mover alone, a master of the buffer's ports (``buf``), so that a core can
  share the buffer with its array side later;
* `MoverUnit`: the mover with its buffer (instantiated by name as ``<prefix>_operand_buffer``,
  so ``--array blackbox`` leaves it empty) and a host port onto the buffer while the mover is
  idle: ``flexspim generate --top mover``.

Datapath: the backing-store address ``addr`` (loaded with ``bs_addr``, +1 per accepted
request), the buffer address ``baddr`` (+1 per STORE read issued or LOAD row written), two
down-counters (``left_a``: rows still to read (STORE) or to request (LOAD); ``left_b``:
responses still to take (STORE) or rows still to write (LOAD)), the requests in flight
(``inflight``, at most ``outstanding``), the STORE queue (``q0`` = the request's data,
``q1``) and the LOAD response register. Every output is a function of registers (a Moore
machine, so ``req_valid`` never depends on ``req_ready``); the one input-to-internal path is
``req_ready`` -> buffer ``rd_en``: a STORE reads ahead when the queue, after this edge's pop,
has room for the word when it lands (decision 141).
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Instance, Module, Mux, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from flexspim.config import MoverConfig

from .buffer import BUFFER_MODULE, BufferSignature

__all__ = ["MoverCommandSignature", "BackingStoreSignature", "CounterSignature", "RowMover",
           "MoverUnit", "COUNTER_NAMES"]

#: The counters, in register order (= `golden.mover.COUNTERS`).
COUNTER_NAMES = ("rows_loaded", "rows_stored", "requests", "stall_cycles", "busy_cycles")


def _check(config) -> MoverConfig:
    if not isinstance(config, MoverConfig):
        raise ValueError(f"`config` must be a MoverConfig, not {config!r}")
    return config


def MoverCommandSignature(config: MoverConfig) -> wiring.Signature:
    """A transfer command, seen from its sender (valid/ready; taken at an edge where
    ``valid & ready``; ``AW`` = ``buffer.addr_width``, ``CW`` = ``buffer.count_width``):
    ``valid`` out 1, ``ready`` in 1, ``kind`` out 1 (0 LOAD: backing store -> buffer, 1
    STORE: buffer -> backing store), ``buf_addr`` out AW (first buffer word), ``bs_addr`` out
    ``addr_bits`` (first backing-store row), ``rows`` out CW (0..words), ``mask`` out
    ``width`` (LOAD: the bits written in each buffer word; STORE ignores it)."""
    b = _check(config).buffer
    return wiring.Signature({
        "valid": Out(1), "ready": In(1), "kind": Out(1), "buf_addr": Out(b.addr_width),
        "bs_addr": Out(config.addr_bits), "rows": Out(b.count_width), "mask": Out(b.width)})


def BackingStoreSignature(config: MoverConfig) -> wiring.Signature:
    """The backing-store port, seen from the mover (docs/buffer.md section 2; ``W`` =
    ``buffer.width``): ``req_valid`` out 1, ``req_ready`` in 1, ``req_addr`` out
    ``addr_bits`` (a row address), ``req_we`` out 1 (1 write ``req_data``, 0 read),
    ``req_data`` out W; ``resp_valid`` in 1, ``resp_ready`` out 1, ``resp_data`` in W (a
    read's row). Every request gets one response, in order, at least a cycle later; at most
    ``outstanding`` requests are accepted and unanswered."""
    _check(config)
    w = config.buffer.width
    return wiring.Signature({
        "req_valid": Out(1), "req_ready": In(1), "req_addr": Out(config.addr_bits),
        "req_we": Out(1), "req_data": Out(w),
        "resp_valid": In(1), "resp_ready": Out(1), "resp_data": In(w)})


def CounterSignature() -> wiring.Signature:
    """The five 32-bit counters (`COUNTER_NAMES`), all out, wrapping; cleared by reset and
    ``clear``: rows written into the buffer by LOADs, write responses taken by STOREs,
    requests accepted, cycles ``req_valid`` waited for ``req_ready``, busy cycles."""
    return wiring.Signature({n: Out(32) for n in COUNTER_NAMES})


def _status_members(config: MoverConfig) -> dict:
    return {"cmd": In(MoverCommandSignature(config)), "busy": Out(1), "done": Out(1),
            "error": Out(1), "clear": In(1), "bs": Out(BackingStoreSignature(config)),
            "counters": Out(CounterSignature())}


class RowMover(wiring.Component):
    """The row mover (`golden.mover.MoverModel` without its buffer), clock domain ``sync``.

    Ports:

    * ``cmd`` (`MoverCommandSignature`, flipped: the mover receives): ``ready`` = idle. A
      command is taken at an edge where idle and ``valid``: one out of range (``buf_addr +
      rows > words`` or ``bs_addr + rows > 2**addr_bits``) pulses ``done`` and ``error`` in
      the next cycle, one of 0 rows pulses ``done``, others make the mover busy from the next
      cycle to the one after its last row (then ``done`` for one cycle).
    * ``busy`` out 1; ``done`` out 1 (one-cycle pulse); ``error`` out 1 (with ``done``).
    * ``clear`` in 1: zero the counters at this edge.
    * ``bs`` (`BackingStoreSignature`): the backing-store port. ``resp_ready`` = busy.
    * ``counters`` (`CounterSignature`).
    * ``buf`` (`BufferSignature`, flipped: the mover drives ``rd_*`` and ``wr_*`` and reads
      ``rd_data``): only while busy; every enable is 0 while idle.
    """

    def __init__(self, config: MoverConfig):
        self.config = _check(config)
        super().__init__({**_status_members(config),
                          "buf": In(BufferSignature(config.buffer))})

    def elaborate(self, platform):
        m = Module()
        cfg, b = self.config, self.config.buffer
        w, ab, cw = b.width, cfg.addr_bits, b.count_width
        cmd, bs, buf = self.cmd, self.bs, self.buf

        # -- state -------------------------------------------------------------------------
        busy = Signal(name="busy_r")
        kind = Signal(name="kind_r")                  # 1 = STORE
        addr = Signal(ab, name="addr_r")              # bs_addr + requests accepted
        baddr = Signal(b.addr_width, name="baddr_r")  # buf_addr + rows read / written
        left_a = Signal(cw, name="left_a")            # STORE: rows to read; LOAD: to request
        left_b = Signal(cw, name="left_b")            # STORE: responses to take; LOAD: writes
        mask = Signal(w, name="mask_r")
        inflight = Signal(range(cfg.outstanding + 1), name="inflight")
        q0, q1 = Signal(w, name="q0"), Signal(w, name="q1")     # STORE queue, q0 the head
        qn = Signal(range(3), name="qn")
        rd_pend = Signal(name="rd_pend")              # a STORE read issued at the last edge
        resp = Signal(w, name="resp_r")               # LOAD: the response taken last edge
        resp_pend = Signal(name="resp_pend")
        done, error = Signal(name="done_r"), Signal(name="error_r")
        counters = {n: Signal(32, name=f"count_{n}") for n in COUNTER_NAMES}

        # -- what the mover drives in this cycle (registers only) ---------------------------
        store, load = Signal(name="is_store"), Signal(name="is_load")
        req_valid = Signal(name="req_valid_c")
        m.d.comb += [
            store.eq(busy & kind), load.eq(busy & ~kind),
            req_valid.eq((inflight != cfg.outstanding) &
                         ((store & (qn != 0)) | (load & (left_a != 0)))),
            bs.req_valid.eq(req_valid),
            bs.req_addr.eq(Mux(busy, addr, 0)),
            bs.req_we.eq(store),
            bs.req_data.eq(q0),
            bs.resp_ready.eq(busy),
            cmd.ready.eq(~busy),
            self.busy.eq(busy), self.done.eq(done), self.error.eq(error),
        ]
        m.d.comb += [getattr(self.counters, n).eq(s) for n, s in counters.items()]

        fire = Signal(name="fire")                    # a request passes at this edge
        take = Signal(name="take")                    # a response passes at this edge
        m.d.comb += [fire.eq(req_valid & bs.req_ready), take.eq(busy & bs.resp_valid)]

        # -- requests in flight and the backing-store address -------------------------------
        m.d.sync += inflight.eq(inflight + fire - take)
        with m.If(fire):
            m.d.sync += addr.eq(addr + 1)

        m.d.sync += [done.eq(0), error.eq(0)]         # pulses; set below where they fire

        # -- STORE: read ahead into the queue, pop on a request, finish on the last answer --
        level = Signal(range(4), name="level")        # queue entries after this edge
        issue = Signal(name="issue")
        m.d.comb += [level.eq(qn + rd_pend - fire),
                     issue.eq(store & (left_a != 0) & (level <= 1)),
                     buf.rd_en.eq(issue), buf.rd_addr.eq(baddr)]
        with m.If(store):
            m.d.sync += [qn.eq(level), rd_pend.eq(issue)]
            with m.If(fire):
                with m.If(qn == 2):
                    m.d.sync += q0.eq(q1)
                    with m.If(rd_pend):
                        m.d.sync += q1.eq(buf.rd_data)
                with m.Elif(rd_pend):
                    m.d.sync += q0.eq(buf.rd_data)
            with m.Elif(rd_pend):
                with m.If(qn == 0):
                    m.d.sync += q0.eq(buf.rd_data)
                with m.Else():
                    m.d.sync += q1.eq(buf.rd_data)
            with m.If(issue):
                m.d.sync += [baddr.eq(baddr + 1), left_a.eq(left_a - 1)]
            with m.If(take):
                m.d.sync += left_b.eq(left_b - 1)
                with m.If(left_b == 1):
                    m.d.sync += [busy.eq(0), done.eq(1)]

        # -- LOAD: request, register each response, write it at the next edge ---------------
        write = Signal(name="write")
        m.d.comb += [write.eq(load & resp_pend),
                     buf.wr_en.eq(write), buf.wr_addr.eq(baddr), buf.wr_data.eq(resp),
                     buf.wr_mask.eq(mask)]
        with m.If(load):
            m.d.sync += resp_pend.eq(take)
            with m.If(take):
                m.d.sync += resp.eq(bs.resp_data)
            with m.If(fire):
                m.d.sync += left_a.eq(left_a - 1)
            with m.If(write):
                m.d.sync += [baddr.eq(baddr + 1), left_b.eq(left_b - 1)]
                with m.If(left_b == 1):
                    m.d.sync += [busy.eq(0), done.eq(1)]

        # -- idle: take a command ----------------------------------------------------------
        with m.If(~busy):
            with m.If(cmd.valid):
                buf_end = Signal(max(b.addr_width, cw) + 1, name="buf_end")
                bs_end = Signal(max(ab, cw) + 1, name="bs_end")
                m.d.comb += [buf_end.eq(cmd.buf_addr + cmd.rows),
                             bs_end.eq(cmd.bs_addr + cmd.rows)]
                with m.If((buf_end > b.words) | (bs_end > (1 << ab))):
                    m.d.sync += [done.eq(1), error.eq(1)]
                with m.Elif(cmd.rows == 0):
                    m.d.sync += done.eq(1)
                with m.Else():
                    m.d.sync += [busy.eq(1), kind.eq(cmd.kind), addr.eq(cmd.bs_addr),
                                 baddr.eq(cmd.buf_addr), left_a.eq(cmd.rows),
                                 left_b.eq(cmd.rows), mask.eq(cmd.mask)]

        # -- counters ----------------------------------------------------------------------
        inc = {"rows_loaded": write, "rows_stored": store & take, "requests": fire,
               "stall_cycles": req_valid & ~bs.req_ready, "busy_cycles": busy}
        with m.If(self.clear):
            m.d.sync += [s.eq(0) for s in counters.values()]
        with m.Else():
            m.d.sync += [s.eq(s + inc[n]) for n, s in counters.items()]
        return m


class MoverUnit(wiring.Component):
    """The row mover with its operand buffer: `golden.mover.MoverModel` as a design top
    (``flexspim generate --top mover``), clock domain ``sync`` (ports ``clk``, ``rst``).

    Ports: those of `RowMover` (``cmd``, ``busy``, ``done``, ``error``, ``clear``, ``bs``,
    ``counters``) and ``host`` (`BufferSignature`: the buffer's own ports), which reaches the
    buffer while the mover is idle (ignored while busy); ``host.rd_data`` is the buffer's
    ``rd_data`` in every cycle (defined in the cycle after a read, docs/buffer.md). At an
    edge where ``rst`` is 1 the buffer is neither read nor written.
    """

    def __init__(self, config: MoverConfig):
        self.config = _check(config)
        self.buffer_config = config.buffer
        super().__init__({**_status_members(config),
                          "host": Out(BufferSignature(config.buffer))})

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        m.submodules.mover = mover = RowMover(cfg)
        for name in ("busy", "done", "error"):
            m.d.comb += getattr(self, name).eq(getattr(mover, name))
        m.d.comb += mover.clear.eq(self.clear)
        wiring.connect(m, wiring.flipped(self.cmd), mover.cmd)
        wiring.connect(m, wiring.flipped(self.bs), mover.bs)
        wiring.connect(m, wiring.flipped(self.counters), mover.counters)

        # the buffer: the mover's while busy, the host's while idle, nobody's during reset
        w = cfg.buffer.width
        host, mb = self.host, mover.buf
        idle, live = Signal(name="host_sel"), Signal(name="no_reset")
        rd_data = Signal(w, name="buf_rd_data")
        port = {n: Signal(len(getattr(host, n)), name=f"buf_{n}")
                for n in ("rd_en", "rd_addr", "wr_en", "wr_addr", "wr_data", "wr_mask")}
        m.d.comb += [idle.eq(~mover.busy), live.eq(~ResetSignal("sync")),
                     port["rd_en"].eq(live & Mux(idle, host.rd_en, mb.rd_en)),
                     port["wr_en"].eq(live & Mux(idle, host.wr_en, mb.wr_en))]
        for n in ("rd_addr", "wr_addr", "wr_data", "wr_mask"):
            m.d.comb += port[n].eq(Mux(idle, getattr(host, n), getattr(mb, n)))
        m.submodules.buffer = Instance(
            BUFFER_MODULE, i_clk=ClockSignal("sync"), o_rd_data=rd_data,
            **{f"i_{n}": s for n, s in port.items()})
        m.d.comb += [host.rd_data.eq(rd_data), mb.rd_data.eq(rd_data)]
        return m
