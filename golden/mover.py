"""Golden models of the operand buffer and the row mover, cycle by cycle (docs/buffer.md,
docs/dataflow.md section 5). They are the specification the RTL (`hdl/buffer.py`,
`hdl/mover.py`) is compared with in lock step.

Both are Moore machines stepped once per clock: `outputs()` gives what the block drives
during the current cycle (a function of its state only), `tick(inputs)` applies one rising
edge. Rows are Python integers (bit ``c`` = column ``c``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flexspim.config import BufferConfig, MoverConfig

__all__ = ["BufferModel", "MoverModel", "MoverCommand", "LOAD", "STORE", "COUNTERS",
           "transfer_cycles"]


class BufferModel:
    """The buffer contract: one read and one masked write per edge, read latency 1, data
    valid only in the cycle after its read, no reset.

    `outputs()` returns ``(rd_data, defined)``: ``defined`` is the mask of bits the contract
    defines this cycle (0 when the previous edge did not read; the written bits cleared when
    it read the word it wrote). Words never written are undefined too (``None`` in `words`).
    """

    def __init__(self, config: BufferConfig):
        self.config = config
        self.words: list[int | None] = [None] * config.words
        self._out, self._defined = 0, 0

    def outputs(self) -> tuple[int, int]:
        return self._out, self._defined

    def tick(self, rd_en=0, rd_addr=0, wr_en=0, wr_addr=0, wr_data=0, wr_mask=0) -> None:
        full = (1 << self.config.width) - 1
        if rd_en:
            word = self.words[rd_addr] if rd_addr < self.config.words else None
            self._out, self._defined = (0, 0) if word is None else (word, full)
            if wr_en and wr_addr == rd_addr:
                self._defined &= ~wr_mask & full
        else:
            self._out, self._defined = 0, 0
        if wr_en:
            if wr_addr >= self.config.words:
                raise ValueError(f"buffer write to word {wr_addr}: the buffer has "
                                 f"{self.config.words} words")
            old = self.words[wr_addr]
            if old is None and wr_mask & full != full:
                old = 0        # the unwritten bits stay undefined; tests write whole words
            self.words[wr_addr] = ((old or 0) & ~wr_mask | wr_data & wr_mask) & full


LOAD, STORE = 0, 1
#: The mover's counters, in register order (docs/dataflow.md section 5).
COUNTERS = ("rows_loaded", "rows_stored", "requests", "stall_cycles", "busy_cycles")


@dataclass(frozen=True)
class MoverCommand:
    """One transfer: ``rows`` rows between buffer words ``buf_addr..`` and backing-store rows
    ``bs_addr..``; ``kind`` LOAD (backing store -> buffer, written under ``mask``) or STORE
    (buffer -> backing store, whole rows)."""

    kind: int
    buf_addr: int
    bs_addr: int
    rows: int
    mask: int

    def valid(self, config: MoverConfig) -> bool:
        return (self.kind in (LOAD, STORE) and 0 <= self.rows
                and self.buf_addr + self.rows <= config.buffer.words
                and self.bs_addr + self.rows <= 1 << config.addr_bits)


@dataclass
class _Outputs:
    cmd_ready: int
    busy: int
    done: int
    error: int
    req_valid: int
    req_addr: int
    req_we: int
    req_data: int          # defined only when req_valid and req_we
    resp_ready: int
    counters: dict = field(default_factory=dict)


class MoverModel:
    """The row mover with its buffer (the `hdl.mover.MoverUnit` top), cycle by cycle.

    Rules (the RTL is the same machine):

    * Idle (``cmd_ready``): a command is taken at an edge where ``cmd_valid``; an invalid one
      (out of the buffer or the backing store) or one of 0 rows pulses ``done`` (and
      ``error`` when invalid) in the next cycle and moves nothing; the mover stays idle.
      Otherwise it is busy from the next cycle on.
    * Requests: ``req_valid`` with ``req_addr = bs_addr + accepted`` (modulo
      ``2**addr_bits``, the port's width: after the last request of a transfer that ends at
      the top row it reads 0; 0 while idle), never more than
      ``outstanding`` requests accepted and unanswered; every request gets one response, in
      order, at least one cycle after it was accepted; ``resp_ready`` = busy.
    * STORE: buffer word ``buf_addr + i`` is read into a 2-entry queue (read at an edge, in
      the queue at the next); the request's data is the queue's head; a read is issued at an
      edge when rows remain to read and the queue, counting this edge's pop (a request that
      passes) and the word read at the previous edge, holds at most one entry after it, so
      the word has room when it lands whatever the port does next (decision 141); ``done``
      follows the edge that takes the last write response.
    * LOAD: a request is offered while rows remain to request; a response is registered at
      the edge that takes it and written into buffer word ``buf_addr + j`` (under ``mask``) at
      the next edge; ``done`` follows the edge that writes the last row.
    * Host port (idle only, as the RTL's): reads and writes of the buffer.
    * Counters (wrap at 32 bits; cleared by reset and ``clear``): rows written into the buffer
      by LOADs, write responses taken by STOREs, requests accepted, cycles ``req_valid`` waited
      for ``req_ready``, busy cycles.
    """

    def __init__(self, config: MoverConfig):
        self.config = config
        self.buffer = BufferModel(config.buffer)
        self.reset()

    def reset(self) -> None:
        """Synchronous reset: every register; not the buffer's content. A reset edge neither
        reads nor writes the buffer (the unit gates its enables with ``rst``), so ``rd_data``
        is undefined after it (decision 143)."""
        self._addr_mask = (1 << self.config.addr_bits) - 1
        self.buffer.tick()
        self.busy = 0
        self.cmd = MoverCommand(LOAD, 0, 0, 0, 0)
        self.done = self.error = 0
        self.reads = self.accepted = self.answered = self.written = 0
        self.queue: list[int] = []
        self.read_pending = 0          # a STORE's buffer read issued at the previous edge
        self.resp_reg: int | None = None
        self.counters = dict.fromkeys(COUNTERS, 0)

    # -- what the mover drives in this cycle -----------------------------------------------
    def _req_valid(self) -> int:
        if not self.busy or self.accepted - self.answered >= self.config.outstanding:
            return 0
        if self.cmd.kind == STORE:
            return int(bool(self.queue))
        return int(self.accepted < self.cmd.rows)

    def outputs(self) -> _Outputs:
        v = self._req_valid()
        return _Outputs(cmd_ready=1 - self.busy, busy=self.busy, done=self.done,
                        error=self.error, req_valid=v,
                        req_addr=(self.cmd.bs_addr + self.accepted) & self._addr_mask
                        if self.busy else 0,
                        req_we=int(self.busy and self.cmd.kind == STORE),
                        req_data=self.queue[0] if self.queue else 0,
                        resp_ready=self.busy, counters=dict(self.counters))

    # -- one rising edge -------------------------------------------------------------------
    def tick(self, *, cmd_valid=0, cmd: MoverCommand | None = None, req_ready=0,
             resp_valid=0, resp_data=0, clear=0, host: dict | None = None) -> None:
        cfg, out = self.config, self.outputs()
        mask32 = (1 << 32) - 1
        fire = out.req_valid and req_ready
        take = resp_valid and self.busy
        c = self.counters
        if self.busy:
            c["busy_cycles"] += 1
        if out.req_valid and not req_ready:
            c["stall_cycles"] += 1
        if fire:
            c["requests"] += 1
        self.done = self.error = 0
        buf = dict(rd_en=0, rd_addr=0, wr_en=0, wr_addr=0, wr_data=0, wr_mask=0)
        if not self.busy:
            if host:
                buf.update(host)
            if cmd_valid:
                if cmd is None or not cmd.valid(cfg):
                    self.done = self.error = 1
                elif cmd.rows == 0:
                    self.done = 1
                else:
                    self.cmd, self.busy = cmd, 1
                    self.reads = self.accepted = self.answered = self.written = 0
        elif self.cmd.kind == STORE:
            # the queue after this edge: + the word read at the last edge, - the head if taken
            level = len(self.queue) + self.read_pending - int(bool(fire))
            issue = self.reads < self.cmd.rows and level <= 1
            landed = self.buffer.outputs()[0] if self.read_pending else None
            if fire:
                self.queue.pop(0)
                self.accepted += 1
            if landed is not None:
                self.queue.append(landed)
            self.read_pending = int(issue)
            if issue:
                buf.update(rd_en=1, rd_addr=self.cmd.buf_addr + self.reads)
                self.reads += 1
            if take:
                self.answered += 1
                c["rows_stored"] += 1
                if self.answered == self.cmd.rows:
                    self.busy, self.done = 0, 1
        else:
            if fire:
                self.accepted += 1
            if self.resp_reg is not None:
                buf.update(wr_en=1, wr_addr=self.cmd.buf_addr + self.written,
                           wr_data=self.resp_reg, wr_mask=self.cmd.mask)
                self.written += 1
                c["rows_loaded"] += 1
                if self.written == self.cmd.rows:
                    self.busy, self.done = 0, 1
            self.resp_reg = None
            if take:
                self.resp_reg = resp_data
                self.answered += 1
        if clear:
            c.update(dict.fromkeys(COUNTERS, 0))
        for k in c:
            c[k] &= mask32
        self.buffer.tick(**buf)
        if not self.busy:
            self.queue, self.read_pending, self.resp_reg = [], 0, None


def transfer_cycles(config: MoverConfig, kind: int, rows: int, latency: int = 1) -> int:
    """Busy cycles of one transfer of ``rows`` rows against an ideal backing store (always
    ready, every response ``latency`` >= 1 cycles after its request), by running
    `MoverModel`: the cycle cost the design promises when nothing stalls. With enough
    ``outstanding`` it is ``rows + latency + 2`` for a STORE (two cycles read the first
    word into the queue) and ``rows + latency + 1`` for a LOAD (one writes the last row)."""
    if latency < 1:
        raise ValueError(f"`latency` must be at least 1, not {latency}")
    model = MoverModel(config)
    for a in range(rows):
        model.buffer.words[a] = 0
    model.tick(cmd_valid=1, cmd=MoverCommand(kind, 0, 0, rows, 0))
    due: list[int] = []
    t = 0
    while model.busy:
        out = model.outputs()
        resp = bool(due) and due[0] <= t
        if resp:
            due.pop(0)
        if out.req_valid:
            due.append(t + latency)
        model.tick(req_ready=1, resp_valid=int(resp))
        t += 1
    return t
