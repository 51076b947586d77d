"""cocotb driver for `testbench.stream_harness.StreamHarness`: whole event streams in bulk.

`BulkStreams.run` writes the input stream into the harness's source memory (chunks of the
memory's depth), starts it, and sleeps until ``tb_attn``: the run finished, the sink memory
is full (read it, rewind it), or a chunk was sent (load the next). Python therefore wakes a
few times per memory's worth of events instead of every clock. Idle gaps and back-pressure
are drawn in HDL with the same meaning as in `testbench.streams` (``gap``: probability of an
idle cycle before an event; ``stall``: probability that the output is not ready in a cycle).
"""

from __future__ import annotations

import time

import numpy as np

from flexspim.golden.batching import TICK

from .stream_harness import LANES

__all__ = ["BulkStreams", "encode_stream", "decode_stream"]


def encode_stream(events, index_bits: int) -> np.ndarray:
    """Event payloads: the source index, or the tick flag (bit ``index_bits``) for `TICK`."""
    ev = np.asarray(events, dtype=np.int64)
    return np.where(ev == TICK, 1 << index_bits, ev)


def decode_stream(payloads, index_bits: int) -> np.ndarray:
    p = np.asarray(payloads, dtype=np.int64)
    return np.where(p >> index_bits & 1, TICK, p & ((1 << index_bits) - 1))


def _probability(name: str, p: float) -> int:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"`{name}` must be a probability in [0, 1), not {p!r}")
    return min(int(round(p * 65536)), 65535)


class BulkStreams:
    """Streams through a `StreamHarness` top (``dut``) whose memories hold ``depth`` events.

    The harness must be built with its memories public to VPI
    (`testbench.stream_harness.harness_public_vars`).
    """

    def __init__(self, dut, index_bits: int, depth: int):
        from .stream_harness import HARNESS_INSTANCE

        self.dut, self.ib, self.depth = dut, index_bits, depth
        self.width = index_bits + 1                 # payload: index, then the tick flag
        # the memories: in the top, or in the harness instance of a clock shell
        self.mems = getattr(dut, HARNESS_INSTANCE) if hasattr(dut, "tb_hdl_clock") else dut
        self.wakeups = 0            # Python wake-ups of the last run (for the benchmarks)
        self.reloads = self.drains = 0      # source chunks loaded after the first, sink drains
        self.in_waits = self.out_waits = 0  # cycles the input / output waited (harness counts)
        self.io_seconds = 0.0       # wall time spent loading and reading the memories

    def idle(self) -> None:
        """The harness transparent (the Python drivers own the streams); call before reset."""
        d = self.dut
        for name in ("tb_bulk", "tb_start", "tb_seed", "tb_gap", "tb_stall", "tb_src_len",
                     "tb_src_more", "tb_src_reload", "tb_sink_rewind", "tb_expect_ticks"):
            getattr(d, name).value = 0

    async def _pulse(self, signal) -> None:
        from cocotb.triggers import RisingEdge

        signal.value = 1
        await RisingEdge(self.dut.clk)
        signal.value = 0

    def _load(self, payloads: np.ndarray) -> None:
        """Payloads into the source memory, `LANES` per word (event i in lane i % LANES)."""
        t0 = time.perf_counter()
        mem, w = self.mems.src_mem, self.width
        p = payloads.tolist()
        for a in range(0, len(p), LANES):
            word = 0
            for j, x in enumerate(p[a:a + LANES]):
                word |= x << (j * w)
            mem[a // LANES].value = word
        self.io_seconds += time.perf_counter() - t0

    def _read_sink(self, n: int) -> list[int]:
        """The first ``n`` events of the sink memory."""
        t0 = time.perf_counter()
        mem, w = self.mems.sink_mem, self.width
        mask = (1 << w) - 1
        out = []
        for a in range(-(-n // LANES)):
            word = int(mem[a].value)
            out += [word >> (j * w) & mask for j in range(LANES)]
        self.io_seconds += time.perf_counter() - t0
        return out[:n]

    async def run(self, events, expect_ticks: int, rng: np.random.Generator | None = None,
                  gap: float = 0.0, stall: float = 0.0, progress=None) -> np.ndarray:
        """Send ``events`` and collect the output until ``expect_ticks`` ticks came out;
        returns the output events, just after a rising edge of ``clk`` (as the Python drivers
        do). ``progress(ticks, expect_ticks)`` is called at each wake-up.
        """
        gap_q, stall_q = _probability("gap", gap), _probability("stall", stall)
        from cocotb.triggers import FallingEdge, RisingEdge

        d, depth = self.dut, self.depth
        rng = rng if rng is not None else np.random.default_rng(0)
        payloads = encode_stream(events, self.ib)
        chunks = [payloads[i:i + depth] for i in range(0, len(payloads), depth)] or \
            [payloads[:0]]
        out: list[int] = []
        self.wakeups, self.io_seconds, self.reloads, self.drains = 0, 0.0, 0, 0

        d.tb_bulk.value = 1
        d.tb_gap.value, d.tb_stall.value = gap_q, stall_q
        d.tb_seed.value = int(rng.integers(0, 1 << 63)) << 1 | 1
        d.tb_expect_ticks.value = expect_ticks
        self._load(chunks[0])
        d.tb_src_len.value = len(chunks[0])
        d.tb_src_more.value = int(len(chunks) > 1)
        await self._pulse(d.tb_start)
        next_chunk = 1
        while True:
            await FallingEdge(d.clk)                   # sample mid-cycle, values settled
            if not int(d.tb_attn.value):
                await RisingEdge(d.tb_attn)            # asleep while the DUT runs
                await FallingEdge(d.clk)
            self.wakeups += 1
            stored = int(d.tb_sink_ptr.value)
            if progress:
                progress(int(d.tb_ticks.value), expect_ticks)
            if int(d.tb_finished.value):
                out += self._read_sink(stored)
                break
            if stored == depth:                        # sink full: drain it
                out += self._read_sink(depth)
                self.drains += 1
                await self._pulse(d.tb_sink_rewind)
            if int(d.tb_src_more.value) and int(d.tb_src_ptr.value) == len(chunks[next_chunk - 1]):
                self._load(chunks[next_chunk])
                d.tb_src_len.value = len(chunks[next_chunk])
                d.tb_src_more.value = int(next_chunk + 1 < len(chunks))
                next_chunk += 1
                self.reloads += 1
                await self._pulse(d.tb_src_reload)
        self.in_waits, self.out_waits = int(d.tb_in_waits.value), int(d.tb_out_waits.value)
        d.tb_bulk.value = 0
        # return just after a rising edge, where the Python drivers expect to start (one
        # that set valid mid-cycle would see its event taken twice)
        await RisingEdge(d.clk)
        return decode_stream(out, self.ib)
