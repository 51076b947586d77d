"""Row mover with its buffer (`hdl.mover.MoverUnit`) under Verilator, in lock step with
`golden.mover.MoverModel`.

Both the cocotb test module (top) and the pytest entry (bottom). Every cycle, mid-cycle
(falling edge), every output the golden model defines is compared: ``cmd.ready``, ``busy``,
``done``, ``error``, ``bs.req_valid``, ``req_addr``, ``req_we``, ``resp_ready``, the five
counters; ``req_data`` while a write request is offered; the bits of ``host.rd_data`` the
buffer contract defines (the harness's buffer poisons the others, docs/buffer.md). The
backing store is `testbench.backing_store.BackingStore` (random ready, latency, stall
bursts; it checks the port's rules from the outside), fed with the same seed.

Stimulus: random commands (LOAD and STORE, 0 to ``words`` rows, random masks, one in ten out
of range) with random gaps or back to back (``cmd.valid`` held through the busy cycles),
random host traffic every cycle (ignored while busy), server timing redrawn every few
commands; directed corners (zero rows at both ends, the whole buffer to the top of the
backing store, one row past either end, back-to-back STORE then LOAD of the same rows,
``outstanding`` requests in flight behind a slow server, ``clear`` during a transfer, the
ideal-server cycle costs of `golden.mover.transfer_cycles`); resets in the middle of
transfers; and the server free-running (`BackingStore.serve`) without the golden model,
checking rows moved end to end. Mutants of the RTL must fail (`_mutants`).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from flexspim.config import BufferConfig, MoverConfig
from flexspim.golden.mover import COUNTERS, LOAD, STORE, MoverCommand, MoverModel

try:
    import cocotb
except ImportError:  # pragma: no cover
    cocotb = None


def _setup():
    cfg = MoverConfig.from_dict(json.loads(os.environ["FLEXSPIM_MOVER"]))
    seed = int(os.environ["FLEXSPIM_SEED"])
    return cfg, np.random.default_rng(seed), int(os.environ.get("FLEXSPIM_TRIALS", "40")), seed


def _rand_word(rng, width: int) -> int:
    return int.from_bytes(rng.bytes((width + 7) // 8), "little") & ((1 << width) - 1)


_OUTS = ("cmd_ready", "busy", "done", "error", "req_valid", "req_addr", "req_we",
         "resp_ready")
_PORT = {"cmd_ready": "cmd__ready", "req_valid": "bs__req_valid", "req_addr": "bs__req_addr",
         "req_we": "bs__req_we", "resp_ready": "bs__resp_ready", "busy": "busy",
         "done": "done", "error": "error"}
_HOST = ("rd_en", "rd_addr", "wr_en", "wr_addr", "wr_data", "wr_mask")
_CMD = ("kind", "buf_addr", "bs_addr", "rows", "mask")


class Lockstep:
    """Drives the DUT, the golden model and the backing-store server with the same inputs,
    one cycle at a time (inputs change at the falling edge; outputs are compared there)."""

    def __init__(self, dut, cfg: MoverConfig, rng, timing=None):
        from flexspim.testbench.backing_store import BackingStore, ServerTiming

        self.dut, self.cfg, self.rng = dut, cfg, rng
        self.golden = MoverModel(cfg)
        self.server = BackingStore(width=cfg.buffer.width, addr_bits=cfg.addr_bits,
                                   outstanding=cfg.outstanding, rng=rng,
                                   timing=timing or ServerTiming())
        self.cycle = 0
        self.pending: MoverCommand | None = None      # offered on cmd, not yet taken
        self.taken: list[tuple[int, MoverCommand]] = []
        self.h = {k: getattr(dut, p) for k, p in _PORT.items()}
        self.h_data = dut.bs__req_data
        self.h_rd = dut.host__rd_data
        self.h_count = {n: getattr(dut, f"counters__{n}") for n in COUNTERS}
        self.h_bs = {n: getattr(dut, f"bs__{n}") for n in ("req_ready", "resp_valid",
                                                           "resp_data")}
        self.h_cmd = {n: getattr(dut, f"cmd__{n}") for n in _CMD}
        self.h_host = {n: getattr(dut, f"host__{n}") for n in _HOST}
        self.host_rate = 0.3
        self.known = False
        from flexspim.testbench.coverage import Coverage
        self.cov = Coverage()
        self._prev_busy = 0                       # the mover was busy in the last cycle

    async def start(self):
        from cocotb.clock import Clock
        from cocotb.triggers import FallingEdge

        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        self.dut.cmd__valid.value = 0
        self.dut.clear.value = 0
        for h in (*self.h_cmd.values(), *self.h_host.values(), *self.h_bs.values()):
            h.value = 0
        await FallingEdge(self.dut.clk)
        await self.reset_cycles(2)
        await self.fill()

    # -- one cycle -----------------------------------------------------------------------
    def compare(self, tag: str):
        g = self.golden.outputs()
        for k, h in self.h.items():
            want = getattr(g, k)
            got = int(h.value)
            if got != want:
                self._fail(tag, f"{_PORT[k]} is {got}, golden {want}")
        for n, h in self.h_count.items():
            got, want = int(h.value), g.counters[n]
            if got != want:
                self._fail(tag, f"counters__{n} is {got}, golden {want}")
        if g.req_valid and g.req_we:
            got = int(self.h_data.value)
            if got != g.req_data:
                self._fail(tag, f"bs__req_data is {got:#x}, golden {g.req_data:#x} "
                                f"(row {g.req_addr})")
        want, defined = self.golden.buffer.outputs()
        # read only when defined: a 4-state simulator shows never-written words as X
        got = int(self.h_rd.value) if defined else 0
        bad = (got ^ want) & defined
        if bad:
            bit = (bad & -bad).bit_length() - 1
            self._fail(tag, f"host__rd_data bit {bit} is {got >> bit & 1}, golden "
                            f"{want >> bit & 1} (rd_data {got:#x}, golden {want:#x}, "
                            f"defined {defined:#x})")
        return g

    def _fail(self, tag, what):
        cmd = self.golden.cmd if self.golden.busy else None
        raise AssertionError(f"cycle {self.cycle} {tag}: {what}; golden busy with {cmd}, "
                             f"server in flight {self.server.in_flight}")

    def _host(self, host: dict | None) -> dict:
        if host is not None:
            return host
        cfg, rng = self.cfg.buffer, self.rng
        if rng.random() >= self.host_rate:
            return dict.fromkeys(_HOST, 0)
        rd, wr = int(rng.random() < 0.6), int(rng.random() < 0.4)
        wa = int(rng.integers(cfg.words))
        return dict(rd_en=rd, rd_addr=int(rng.integers(cfg.words)), wr_en=wr, wr_addr=wa,
                    wr_data=_rand_word(rng, cfg.width),
                    wr_mask=_rand_word(rng, cfg.width) if rng.random() < 0.5 else
                    (1 << cfg.width) - 1)

    async def step(self, tag="", *, host=None, clear=0, rst=0):
        """One cycle: compare, drive this cycle's inputs (the pending command, ``host``
        (random traffic when None), ``clear``, the server's answer), step everything."""
        from cocotb.triggers import FallingEdge

        # before the first reset edge the DUT's registers hold random power-up values
        g = self.compare(tag) if self.known else self.golden.outputs()
        d = self.dut
        if rst:
            if self.golden.busy:
                self.cov.hit("backing store", "reset mid-transfer")
            d.rst.value = 1
            d.cmd__valid.value = 0
            for h in self.h_bs.values():
                h.value = 0
            self.golden.reset()
            self.server.reset()
            self.pending = None
        else:
            d.rst.value = 0
            host = self._host(host)
            for n, v in host.items():
                self.h_host[n].value = v
            cmd = self.pending
            d.cmd__valid.value = int(cmd is not None)
            if cmd is not None:
                for n in _CMD:
                    self.h_cmd[n].value = getattr(cmd, n)
                if g.cmd_ready:
                    self.taken.append((self.cycle, cmd))
                    self.cov.mover_command(cmd, cmd.valid(self.cfg), self.cfg.buffer.words,
                                           back_to_back=bool(g.done and self._prev_busy))
                    self.pending = None
            self._prev_busy = g.busy
            d.clear.value = clear
            srv = self.server.step(g.req_valid, g.req_addr, g.req_we, g.req_data,
                                   g.resp_ready)
            for n, v in srv.items():
                self.h_bs[n].value = v
            self.golden.tick(cmd_valid=int(cmd is not None), cmd=cmd, clear=clear,
                             host=host if g.cmd_ready else None, **srv)
        await FallingEdge(d.clk)
        self.cycle += 1
        self.known = self.known or bool(rst)

    async def reset_cycles(self, n: int):
        for _ in range(n):
            await self.step("reset", rst=1, host=dict.fromkeys(_HOST, 0))

    async def fill(self):
        """Write every buffer word with random bits (whole words: the golden knows all)."""
        b = self.cfg.buffer
        for a in range(b.words):
            await self.step("fill", host=dict(rd_en=0, rd_addr=0, wr_en=1, wr_addr=a,
                                              wr_data=_rand_word(self.rng, b.width),
                                              wr_mask=(1 << b.width) - 1))

    async def run(self, cmd: MoverCommand, tag: str, back_to_back: bool = False,
                  limit: int = 200_000):
        """Offer ``cmd`` (from this cycle on) and run until it is taken and the mover is
        idle again; ``back_to_back``: return as soon as it is taken and busy (the caller
        offers the next one at once)."""
        self.pending = cmd
        n = 0
        while self.pending is not None or (self.golden.busy and not back_to_back) \
                or (not back_to_back and self.golden.done):
            await self.step(f"{tag} {cmd}")
            n += 1
            if n > limit:
                raise AssertionError(f"{tag}: {cmd} did not finish in {limit} cycles")

    async def idle(self, n: int, tag: str = "idle"):
        for _ in range(n):
            await self.step(tag)

    async def read_back(self, tag="read back"):
        for a in range(self.cfg.buffer.words):
            await self.step(tag, host=dict(rd_en=1, rd_addr=a, wr_en=0, wr_addr=0,
                                           wr_data=0, wr_mask=0))
        await self.step(tag, host=dict.fromkeys(_HOST, 0))

    def sample(self):
        """Save the coverage of this test (the server's side included)."""
        c, srv = self.golden.counters, self.server
        self.cov.hit("backing store", "request stalled", c["stall_cycles"])
        if srv.max_in_flight >= self.cfg.outstanding:
            self.cov.hit("backing store", "outstanding full")
        if srv.max_latency > self.cfg.outstanding:
            self.cov.hit("backing store", "latency > outstanding")
        self.cov.save()

    def check_quiet(self, tag: str):
        assert not self.golden.busy and self.server.idle(), \
            f"{tag}: not idle at the end (busy {self.golden.busy}, server owes " \
            f"{self.server.in_flight})"


def random_command(rng, cfg: MoverConfig, bad: float = 0.1) -> MoverCommand:
    """A random command whose fields fit the ports: mostly short transfers, now and then
    the whole buffer or 0 rows, at ``bad`` one out of range (past the buffer or the backing
    store by a little)."""
    b = cfg.buffer
    aw_max, cw_max, bs_top = (1 << b.addr_width) - 1, (1 << b.count_width) - 1, \
        1 << cfg.addr_bits
    kind = int(rng.integers(2))
    r = rng.random()
    rows = 0 if r < 0.05 else b.words if r < 0.12 else \
        int(rng.integers(1, min(b.words, 9) + 1)) if r < 0.8 else int(rng.integers(b.words + 1))
    mask = (1 << b.width) - 1 if rng.random() < 0.4 else _rand_word(rng, b.width)
    if rng.random() < bad:
        for _ in range(100):
            ba = int(rng.integers(aw_max + 1))
            rw = int(rng.integers(cw_max + 1))
            bsa = int(rng.integers(bs_top)) if rng.random() < 0.5 else \
                max(0, bs_top - int(rng.integers(0, 4)))
            bsa = min(bsa, bs_top - 1)
            cmd = MoverCommand(kind, ba, bsa, rw, mask)
            if not cmd.valid(cfg):
                return cmd
    rows = min(rows, bs_top)
    ba = min(int(rng.integers(b.words - rows + 1)), aw_max)
    hi = bs_top - rows
    bsa = int(rng.integers(hi + 1)) if rng.random() < 0.7 else \
        max(0, hi - int(rng.integers(0, 3)))
    if bsa >= bs_top:
        bsa = bs_top - 1          # 0 rows at the top: the port cannot say bs_top
    return MoverCommand(kind, ba, bsa, rows, mask)


def random_timing(rng):
    from flexspim.testbench.backing_store import ServerTiming

    r = rng.random()
    if r < 0.2:
        return ServerTiming()                                   # ideal, latency 1
    lo = int(rng.integers(1, 4))
    return ServerTiming(ready=float(rng.choice([1.0, 0.8, 0.5, 0.2])),
                        latency=(lo, lo + int(rng.integers(0, 12))),
                        burst=float(rng.choice([0.0, 0.02, 0.1])),
                        burst_len=(1, int(rng.integers(1, 20))),
                        resp_gap=float(rng.choice([0.0, 0.1, 0.4])))


BUDGET_NS = 10 * 3_000_000

if cocotb is not None:
    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def mover_random(dut):
        """Random commands, server timings, gaps or back to back, host traffic."""
        cfg, rng, trials, seed = _setup()
        dut._log.info("seed=%d mover=%s", seed, cfg)
        ls = Lockstep(dut, cfg, rng)
        await ls.start()
        for i in range(trials):
            if i % 5 == 0:
                ls.server.timing = random_timing(rng)
                ls.host_rate = float(rng.choice([0.0, 0.3, 0.9]))
            cmd = random_command(rng, cfg)
            b2b = rng.random() < 0.3
            await ls.run(cmd, f"random {i}", back_to_back=b2b)
            if not b2b and rng.random() < 0.5:
                await ls.idle(int(rng.integers(1, 4)))
        await ls.run(MoverCommand(LOAD, 0, 0, 0, 0), "last")
        await ls.read_back()
        ls.check_quiet("random")
        ls.sample()
        kinds = {(c.kind, c.valid(cfg), c.rows > 0) for _, c in ls.taken}
        dut._log.info("commands taken %d, kinds %s, server max in flight %d",
                      len(ls.taken), sorted(kinds), ls.server.max_in_flight)

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def mover_directed(dut):
        """Zero rows at both ends, the whole buffer to the top of the backing store, one
        row past either end, back-to-back STORE then LOAD, full outstanding behind a slow
        server, clear during a transfer, ideal-server cycle costs."""
        from flexspim.golden.mover import transfer_cycles
        from flexspim.testbench.backing_store import ServerTiming

        cfg, rng, trials, seed = _setup()
        dut._log.info("seed=%d mover=%s", seed, cfg)
        b = cfg.buffer
        full, top = (1 << b.width) - 1, 1 << cfg.addr_bits
        ls = Lockstep(dut, cfg, rng)
        ls.host_rate = 0.0
        await ls.start()
        # zero rows at both ends of the buffer and the backing store: done, no error
        for ba, bsa in ((0, 0), (min(b.words, (1 << b.addr_width) - 1), top - 1)):
            for kind in (LOAD, STORE):
                await ls.run(MoverCommand(kind, ba, bsa, 0, full), "zero rows")
        # the whole buffer to the top rows of the backing store and back, ideal server
        for lat in (1, 3):
            ls.server.timing = ServerTiming(latency=(lat, lat))
            for kind in (STORE, LOAD):
                busy0 = ls.golden.counters["busy_cycles"]
                await ls.run(MoverCommand(kind, 0, top - b.words if top >= b.words else 0,
                                          min(b.words, top), full), f"max rows L={lat}")
                spent = int(dut.counters__busy_cycles.value) - busy0
                want = transfer_cycles(cfg, kind, min(b.words, top), lat)
                assert spent == want, f"max rows L={lat} kind {kind}: {spent} busy " \
                    f"cycles, transfer_cycles {want}"
        # one row past the buffer, one past the backing store (not expressible with one
        # buffer word): done + error, nothing moves; then the last row alone
        await ls.run(MoverCommand(LOAD, 1, 0, b.words, full), "past buffer")
        if b.words > 1:
            await ls.run(MoverCommand(STORE, 0, top - 1, 2, full), "past backing store")
        await ls.run(MoverCommand(LOAD, 0, top - 1, 1, full), "last row")
        # back to back: STORE then LOAD of the same rows, cmd.valid held
        n = min(b.words, 5, top)
        ls.server.timing = ServerTiming(ready=0.7, latency=(1, 4))
        for mask in (full, full >> 1, 0):
            await ls.run(MoverCommand(STORE, 0, 0, n, full), "b2b store", back_to_back=True)
            await ls.run(MoverCommand(LOAD, b.words - n, 0, n, mask), "b2b load",
                         back_to_back=True)
        await ls.run(MoverCommand(STORE, b.words - n, 0, n, full), "b2b last")
        # outstanding requests in flight: latency far above outstanding, ready always
        ls.server.timing = ServerTiming(latency=(4 * cfg.outstanding + 3,
                                                 4 * cfg.outstanding + 8))
        ls.server.max_in_flight = 0
        for kind in (LOAD, STORE):
            await ls.run(MoverCommand(kind, 0, 0, min(b.words, top), full), "full outstanding")
        assert ls.server.max_in_flight == min(cfg.outstanding, b.words, top), \
            f"at most {ls.server.max_in_flight} requests in flight, outstanding " \
            f"{cfg.outstanding}"
        # ... with request stalls and response bursts on top
        ls.server.timing = ServerTiming(ready=0.3, latency=(1, 3 * cfg.outstanding),
                                        burst=0.1, burst_len=(2, 10), resp_gap=0.3)
        for kind in (STORE, LOAD, STORE):
            await ls.run(MoverCommand(kind, 0, 1, min(b.words, top - 1), full), "stalls")
        # clear during a transfer, and at an idle edge
        ls.server.timing = ServerTiming(latency=(1, 2))
        ls.pending = MoverCommand(LOAD, 0, 0, min(b.words, top), full)
        for i in range(3):
            await ls.step("clear", clear=int(i == 2))
        await ls.run(MoverCommand(STORE, 0, 0, 1, full), "after clear")
        await ls.step("clear idle", clear=1)
        await ls.idle(2)
        await ls.read_back()
        ls.check_quiet("directed")
        ls.sample()

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def mover_reset_mid_transfer(dut):
        """A reset (1-3 cycles) at a random cycle of a LOAD or a STORE, under random
        server timing: idle at once, the server owes nothing, and what follows is exact."""
        cfg, rng, trials, seed = _setup()
        dut._log.info("seed=%d mover=%s", seed, cfg)
        ls = Lockstep(dut, cfg, rng)
        await ls.start()
        for i in range(max(4, trials // 4)):
            ls.server.timing = random_timing(rng)
            cmd = random_command(rng, cfg, bad=0.0)
            if cmd.rows == 0:
                cmd = MoverCommand(cmd.kind, 0, 0, min(cfg.buffer.words,
                                                       1 << cfg.addr_bits), cmd.mask)
            ls.pending = cmd
            for _ in range(int(rng.integers(1, 3 * cmd.rows + 6))):
                await ls.step(f"reset {i} before")
            await ls.reset_cycles(int(rng.integers(1, 4)))
            assert ls.server.idle()
            await ls.step(f"reset {i} after")
            await ls.run(random_command(rng, cfg), f"reset {i} next")
        await ls.read_back()
        ls.check_quiet("reset")
        ls.sample()

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def mover_free_running(dut):
        """The server free-running on the port (`BackingStore.serve`, which checks the
        port's rules by itself) and the mover driven by commands and ``done`` only, no
        golden model: STOREs of random buffer ranges and LOADs back into random words
        under random masks; the server's rows, the buffer (read through the host port) and
        the counters must hold exactly what the transfers moved."""
        from cocotb.clock import Clock
        from cocotb.triggers import FallingEdge

        from flexspim.testbench.backing_store import BackingStore

        cfg, rng, trials, seed = _setup()
        dut._log.info("seed=%d mover=%s", seed, cfg)
        b = cfg.buffer
        full = (1 << b.width) - 1
        server = BackingStore(width=b.width, addr_bits=cfg.addr_bits,
                              outstanding=cfg.outstanding, rng=rng, timing=random_timing(rng))
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        for h in (dut.cmd__valid, dut.clear, *(getattr(dut, f"host__{n}") for n in _HOST)):
            h.value = 0
        dut.rst.value = 1
        await FallingEdge(dut.clk)
        task = cocotb.start_soon(server.serve(dut))

        def server_ok():                       # a rule the server saw broken fails here
            if task.done():
                task.result()
                raise AssertionError("the backing-store server stopped")

        await FallingEdge(dut.clk)
        await FallingEdge(dut.clk)
        dut.rst.value = 0
        words = [_rand_word(rng, b.width) for _ in range(b.words)]
        for a, w in enumerate(words):
            dut.host__wr_en.value, dut.host__wr_addr.value = 1, a
            dut.host__wr_data.value, dut.host__wr_mask.value = w, full
            await FallingEdge(dut.clk)
        dut.host__wr_en.value = 0
        want = dict.fromkeys(COUNTERS, 0)
        for i in range(max(4, trials // 2)):
            if i % 4 == 0:
                server.timing = random_timing(rng)
            cmd = random_command(rng, cfg, bad=0.0)
            if cmd.rows == 0:
                continue
            for n in _CMD:
                getattr(dut, f"cmd__{n}").value = getattr(cmd, n)
            dut.cmd__valid.value = 1
            await FallingEdge(dut.clk)                 # idle: taken at this edge
            dut.cmd__valid.value = 0
            for _ in range(100_000):
                await FallingEdge(dut.clk)
                server_ok()
                if int(dut.done.value):
                    break
            else:
                raise AssertionError(f"free {i}: {cmd} never finished")
            assert int(dut.error.value) == 0 and int(dut.busy.value) == 0
            for j in range(cmd.rows):
                if cmd.kind == STORE:
                    got = server.rows.get(cmd.bs_addr + j)
                    assert got == words[cmd.buf_addr + j], \
                        f"free {i}: {cmd}: backing-store row {cmd.bs_addr + j} is {got}, " \
                        f"buffer word {cmd.buf_addr + j} was {words[cmd.buf_addr + j]:#x}"
                else:
                    row = server.rows[cmd.bs_addr + j]
                    a = cmd.buf_addr + j
                    words[a] = words[a] & ~cmd.mask & full | row & cmd.mask
            want["rows_stored" if cmd.kind == STORE else "rows_loaded"] += cmd.rows
            want["requests"] += cmd.rows
            assert server.idle(), f"free {i}: the server still owes {server.in_flight}"
        for n in ("rows_loaded", "rows_stored", "requests"):
            got = int(getattr(dut, f"counters__{n}").value)
            assert got == want[n], f"counters__{n} is {got}, expected {want[n]}"
        for a in range(b.words):
            dut.host__rd_en.value, dut.host__rd_addr.value = 1, a
            await FallingEdge(dut.clk)
            got = int(dut.host__rd_data.value)
            assert got == words[a], f"buffer word {a} is {got:#x}, expected {words[a]:#x}"
        dut.host__rd_en.value = 0
        server_ok()
        task.cancel()


# -- pytest side ---------------------------------------------------------------------------

GEOMETRIES = [MoverConfig(BufferConfig(37, 13), addr_bits=7, outstanding=3),
              MoverConfig(BufferConfig(1, 1), addr_bits=1, outstanding=1),
              MoverConfig(BufferConfig(64, 32), addr_bits=40, outstanding=64)]


def _id(c: MoverConfig) -> str:
    return f"{c.buffer.words}x{c.buffer.width}_a{c.addr_bits}_o{c.outstanding}"


def run_mover_tests(cfg: MoverConfig, seed: int, trials: int, testcase=None, unit=None,
                    name: str = "mover", array: str = "behavioural"):
    from flexspim.hdl.mover import MoverUnit
    from flexspim.testbench.sim import run_design

    unit = unit or MoverUnit
    return run_design(unit(cfg), top="flexspim_mover", name=name, config=cfg,
                      test_module="test_rtl_mover", seed=seed, testcase=testcase,
                      array=array,
                      env={"FLEXSPIM_MOVER": json.dumps(cfg.to_dict()),
                           "FLEXSPIM_SEED": str(seed), "FLEXSPIM_TRIALS": str(trials)})


@pytest.mark.rtl
@pytest.mark.parametrize("cfg", GEOMETRIES, ids=_id)
def test_mover(cfg, seed, regress):
    run_mover_tests(cfg, seed, 2000 if regress else 150)


@pytest.mark.rtl
def test_mover_with_blackbox_buffer_and_model_file(seed, regress):
    """`generate --array blackbox`: the buffer left empty, its model file plugged in."""
    run_mover_tests(GEOMETRIES[0], seed, 600 if regress else 60, array="blackbox")


def _mutants():
    """``(mutant, cocotb test that must fail, text its failure must hold)``."""
    from flexspim.formal.mutants import MUTANTS, Mutant

    return [
        (Mutant("mover_no_pop_room", "flexspim.hdl.mover", "RowMover",
                "level.eq(qn + rd_pend - fire)", "level.eq(qn + rd_pend)",
                "a STORE reads ahead only when the queue has room without this edge's pop "
                "(half throughput)"), "mover_random", "golden"),
        (Mutant("mover_inflight_no_take", "flexspim.hdl.mover", "RowMover",
                "inflight.eq(inflight + fire - take)", "inflight.eq(inflight + fire)",
                "a response never frees its slot in flight (the transfer stalls)"),
         "mover_random", "golden"),
        (Mutant("mover_load_mask_ignored", "flexspim.hdl.mover", "RowMover",
                "buf.wr_mask.eq(mask)", "buf.wr_mask.eq(-1)",
                "a LOAD writes whole buffer words instead of the command's mask"),
         "mover_random", "golden"),
        (MUTANTS["mover_exceeds_outstanding"], "mover_free_running", "rule 4"),
    ]


@pytest.mark.rtl
@pytest.mark.parametrize("which", range(4), ids=lambda i: _mutants()[i][0].name)
def test_mover_mutants_are_caught(which, seed, monkeypatch):
    """Each mutant must fail its test: the lock-step comparison with the golden model, or
    the free-running server's own check of the port's rules."""
    import flexspim.hdl.mover as mover
    from flexspim.formal.mutants import mutate
    from flexspim.testbench.sim import CocotbFailure

    mutant, testcase, text = _mutants()[which]
    monkeypatch.setattr(mover, "RowMover", mutate(mutant))
    with pytest.raises(CocotbFailure, match="cocotb tests failed") as err:
        run_mover_tests(GEOMETRIES[0], seed, 40, testcase=testcase,
                        name=f"mover-mutant-{mutant.name}")
    assert text in str(err.value), str(err.value)


def test_mover_mutants_still_apply_to_the_source():
    from flexspim.formal.mutants import mutate

    for m, _, _ in _mutants():
        mutate(m)
