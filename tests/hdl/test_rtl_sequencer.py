"""The sequencer with its mover and buffer (`hdl.sequencer.SequencerUnit`) under Verilator,
in lock step with `golden.sequencer.SequencerMachine`.

Both the cocotb test module (top) and the pytest entry (bottom). Every cycle, mid-cycle
(falling edge), every output the golden machine defines is compared: ``op.ready``,
``busy``, ``done``, ``error``; the array port (``rd_en``, ``wr_en``, and while enabled the
address, ``wr_data``, ``wr_mask``); the backing-store port (``req_valid``, ``req_addr``,
``req_we``, ``resp_ready``, ``req_data`` while a write is offered); the eleven counters;
the bits of ``host.rd_data`` the buffer contract defines. The array is
`testbench.sequencer_env.ArrayPort`, the backing store `testbench.backing_store.BackingStore`
(random ready, latency, stall bursts), both from the printed seed.

Stimulus: random layers (`random_layer`: WS swaps with more tiles than slots, thresholds
in the array or not, OS streams of tables that do not fit the array, buffer- or
DRAM-backed) written through ``prog``, their batches (`random_ops`) offered back to back or
with gaps, random host traffic while idle; directed corners: a DRAM-backed swap and stream
under a slow, stalling server, back-to-back batches, ``clear`` mid-op, bad input (words past
the descriptor window or out of their field, a word beside an op, op kind 3, a swap with no
slot, a backing-store area past the port's rows: refused, counted in ``ERRORS``, nothing
moved); resets in the middle of transfers. Mutants of the RTL must fail (`_mutants`).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from flexspim.config import BufferConfig, MoverConfig, SequencerConfig
from flexspim.golden.sequencer import (
    ACCUMULATE,
    FIRE,
    FLUSH,
    UNIT_COUNTERS,
    CoreLayout,
    Descriptor,
    SeqOp,
    SequencerMachine,
)

try:
    import cocotb
except ImportError:  # pragma: no cover
    cocotb = None


def _setup():
    cfg = SequencerConfig.from_dict(json.loads(os.environ["FLEXSPIM_SEQ"]))
    seed = int(os.environ["FLEXSPIM_SEED"])
    return cfg, np.random.default_rng(seed), int(os.environ.get("FLEXSPIM_TRIALS", "6")), seed


_HOST = ("rd_en", "rd_addr", "wr_en", "wr_addr", "wr_data", "wr_mask")
_BS_OUT = {"req_valid": "bs__req_valid", "req_addr": "bs__req_addr", "req_we": "bs__req_we",
           "resp_ready": "bs__resp_ready"}
_TOP = {"op_ready": "op__ready", "busy": "busy", "done": "done", "error": "error"}


class Lockstep:
    """Drives the DUT, the golden machine, the array and the backing-store server with the
    same inputs, one cycle at a time (inputs change at the falling edge, outputs compared
    there)."""

    def __init__(self, dut, cfg: SequencerConfig, rng, lay: CoreLayout, bs_base: int = 0):
        from flexspim.testbench.backing_store import BackingStore, ServerTiming
        from flexspim.testbench.sequencer_env import ArrayPort

        self.dut, self.cfg, self.rng = dut, cfg, rng
        self.golden = SequencerMachine(cfg, lay, bs_base)
        self.array = ArrayPort(cfg.rows, cfg.buffer.width, rng)
        self.server = BackingStore(width=cfg.buffer.width, addr_bits=cfg.mover.addr_bits,
                                   outstanding=cfg.mover.outstanding, rng=rng,
                                   timing=ServerTiming())
        self.cycle, self.known = 0, False
        self.pending: SeqOp | None = None
        self.taken = 0
        self.host_rate = 0.3
        self.h_bs_in = {n: getattr(dut, f"bs__{n}") for n in ("req_ready", "resp_valid",
                                                              "resp_data")}
        self.h_host = {n: getattr(dut, f"host__{n}") for n in _HOST}
        self.h_count = {n: getattr(dut, f"counters__{n}") for n in UNIT_COUNTERS}
        self.kinds: dict[str, int] = {}
        self.reset_busy = 0                 # resets that hit an op under way
        from flexspim.testbench.coverage import Coverage
        self.cov = Coverage()

    def set_layout(self, lay: CoreLayout, bs_base: int) -> None:
        """New layout registers (the descriptor written next replans the golden)."""
        d = self.dut
        self.golden.layout, self.golden.bs_base = lay, bs_base
        for n in ("bv", "bw", "v_base", "v_stride"):
            getattr(d, f"layout__{n}").value = getattr(lay, n)
        d.layout__theta_en.value = int(lay.theta_base is not None)
        d.layout__theta_base.value = lay.theta_base or 0
        d.layout__bs_base.value = bs_base

    async def start(self, lay: CoreLayout, bs_base: int = 0):
        from cocotb.clock import Clock
        from cocotb.triggers import FallingEdge

        d = self.dut
        cocotb.start_soon(Clock(d.clk, 10, unit="ns").start())
        for h in (d.op__valid, d.op__kind, d.op__tile, d.op__table, d.op__n_ops, d.op__ops,
                  d.op__mask, d.prog__en, d.prog__addr, d.prog__data, d.clear,
                  d.arr__rd_data, *self.h_host.values(), *self.h_bs_in.values()):
            h.value = 0
        self.set_layout(lay, bs_base)
        await FallingEdge(d.clk)
        await self.reset_cycles(2)
        await self.fill()

    # -- one cycle -------------------------------------------------------------------------
    def _fail(self, tag, what):
        g = self.golden
        raise AssertionError(f"cycle {self.cycle} {tag}: {what}; golden busy {g.busy} "
                             f"with {g.cur} (row {g.k}, waiting {g.waiting}), descriptor "
                             f"{g.words}")

    def compare(self, tag: str) -> dict:
        d, g = self.dut, self.golden.outputs()
        for k, p in _TOP.items():
            got = int(getattr(d, p).value)
            if got != g[k]:
                self._fail(tag, f"{p} is {got}, golden {g[k]}")
        a = g["arr"]
        for en, fields in (("rd_en", ("rd_addr",)),
                           ("wr_en", ("wr_addr", "wr_mask", "wr_data"))):
            got = int(getattr(d, f"arr__{en}").value)
            if got != a[en]:
                self._fail(tag, f"arr__{en} is {got}, golden {a[en]}")
            if got:
                for f in fields:
                    v = int(getattr(d, f"arr__{f}").value)
                    if v != a[f]:
                        self._fail(tag, f"arr__{f} is {v:#x}, golden {a[f]:#x}")
        b = g["bs"]
        for k, p in _BS_OUT.items():
            got = int(getattr(d, p).value)
            if got != getattr(b, k):
                self._fail(tag, f"{p} is {got}, golden {getattr(b, k)}")
        if b.req_valid and b.req_we and int(d.bs__req_data.value) != b.req_data:
            self._fail(tag, f"bs__req_data is {int(d.bs__req_data.value):#x}, golden "
                            f"{b.req_data:#x}")
        for n, h in self.h_count.items():
            if int(h.value) != g["counters"][n]:
                self._fail(tag, f"counters__{n} is {int(h.value)}, golden "
                                f"{g['counters'][n]}")
        want, defined = self.golden.buffer.outputs()
        got = int(d.host__rd_data.value) if defined else 0
        if (got ^ want) & defined:
            self._fail(tag, f"host__rd_data is {got:#x}, golden {want:#x} (defined "
                            f"{defined:#x})")
        return g

    def _host(self, host):
        if host is not None:
            return host
        from flexspim.testbench.sequencer_env import rand_word

        b, rng = self.cfg.buffer, self.rng
        if rng.random() >= self.host_rate:
            return dict.fromkeys(_HOST, 0)
        return dict(rd_en=int(rng.random() < 0.6), rd_addr=int(rng.integers(b.words)),
                    wr_en=int(rng.random() < 0.3), wr_addr=int(rng.integers(b.words)),
                    wr_data=rand_word(rng, b.width), wr_mask=(1 << b.width) - 1)

    async def step(self, tag="", *, host=None, prog=None, clear=0, rst=0):
        from cocotb.triggers import FallingEdge

        g = self.compare(tag) if self.known else self.golden.outputs()
        d = self.dut
        if rst:
            self.reset_busy += int(bool(self.golden.busy))
            if self.golden.busy:
                self.cov.hit("sequencer op", "reset mid-op")
            d.rst.value = 1
            d.op__valid.value = 0
            d.prog__en.value = 0
            for h in self.h_bs_in.values():
                h.value = 0
            self.golden.reset()
            self.server.reset()
            self.array.rd_data = 0
            self.pending = None
        else:
            d.rst.value = 0
            host = self._host(host)
            for n, v in host.items():
                self.h_host[n].value = v
            op = self.pending
            d.op__valid.value = int(op is not None)
            if op is not None:
                f = self.cfg.op_bits
                d.op__kind.value, d.op__tile.value = op.kind, op.tile
                d.op__table.value, d.op__n_ops.value = op.table, len(op.ops)
                d.op__ops.value = sum(o << (j * f) for j, o in enumerate(op.ops))
                d.op__mask.value = op.mask
                taking = bool(g["op_ready"])
                if taking:
                    self.pending = None
                    self.taken += 1
            d.prog__en.value = int(prog is not None)
            if prog is not None:
                d.prog__addr.value, d.prog__data.value = prog
            d.clear.value = clear
            b = g["bs"]
            srv = self.server.step(b.req_valid, b.req_addr, b.req_we, b.req_data,
                                   b.resp_ready)
            for n, v in srv.items():
                self.h_bs_in[n].value = v
            d.arr__rd_data.value = self.array.rd_data
            was_busy = self.golden.busy
            self.golden.tick(op_valid=int(op is not None), op=op, prog=prog, clear=clear,
                             host=host, arr_rd_data=self.array.rd_data, **srv)
            self.array.edge(g["arr"])
            if op is not None and taking:
                self._cover(op, back_to_back=bool(g["done"]))
            elif was_busy and self.golden.error:
                self.cov.hit("sequencer op", "transfer out of range")
            if self.golden.cur is not None:
                self.kinds[self.golden.cur.kind] = self.kinds.get(self.golden.cur.kind, 0) + 1
        await FallingEdge(d.clk)
        self.cycle += 1
        self.known = self.known or bool(rst)

    def _cover(self, op, back_to_back):
        gm, d = self.golden, self.golden.plan.desc
        if gm.error:
            what = "refused"
        elif not gm.busy:
            what = "nothing to move"
        elif op.kind == FLUSH:
            what = "flush"
        else:
            what = ("WS swap" if d.mode == "swap" else "OS stream") + (", DRAM" if d.dram
                                                                       else "")
        self.cov.sequencer_op(what, back_to_back)

    async def reset_cycles(self, n: int):
        for _ in range(n):
            await self.step("reset", rst=1)

    async def fill(self):
        from flexspim.testbench.sequencer_env import rand_word

        b = self.cfg.buffer
        for a in range(b.words):
            await self.step("fill", host=dict(rd_en=0, rd_addr=0, wr_en=1, wr_addr=a,
                                              wr_data=rand_word(self.rng, b.width),
                                              wr_mask=(1 << b.width) - 1))

    async def program(self, words, tag="prog"):
        for a, w in enumerate(words):
            await self.step(tag, prog=(a, int(w)))

    async def layer(self, lay, desc, bs_base, tag="layer"):
        self.set_layout(lay, bs_base)
        await self.program(desc.words(), tag)

    async def run(self, op: SeqOp, tag: str, back_to_back: bool = False, limit=100_000):
        """Offer ``op`` and run until it is taken and done (``back_to_back``: return once
        it is taken, so the caller offers the next at once)."""
        self.pending = op
        for _ in range(limit):
            if self.pending is None and (back_to_back or not (self.golden.busy or
                                                              self.golden.done)):
                return
            await self.step(f"{tag} {op}")
        raise AssertionError(f"{tag}: {op} did not finish in {limit} cycles")

    async def idle(self, n, tag="idle"):
        for _ in range(n):
            await self.step(tag)

    async def settle(self, tag="settle"):
        while self.golden.busy or self.golden.done or self.pending is not None:
            await self.step(tag)

    def check_array(self, tag):
        """The array's rows equal on both sides by construction (one model); the counters
        and ports were compared every cycle. Here: nothing owed at the end."""
        assert not self.golden.busy and self.server.idle(), \
            f"{tag}: not idle at the end (server owes {self.server.in_flight})"


def _random_timing(rng):
    from flexspim.testbench.backing_store import ServerTiming

    if rng.random() < 0.3:
        return ServerTiming(latency=(1, 1))
    lo = int(rng.integers(1, 4))
    return ServerTiming(ready=float(rng.choice([1.0, 0.7, 0.3])),
                        latency=(lo, lo + int(rng.integers(0, 8))),
                        burst=float(rng.choice([0.0, 0.05])), burst_len=(1, 6),
                        resp_gap=float(rng.choice([0.0, 0.2])))


BUDGET_NS = 10 * 5_000_000

if cocotb is not None:
    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def sequencer_random(dut):
        """Random layers and batches, server timings, gaps or back to back, host traffic."""
        from flexspim.testbench.sequencer_env import random_layer, random_ops

        cfg, rng, trials, seed = _setup()
        dut._log.info("seed=%d sequencer=%s", seed, cfg)
        lay, desc, bs_base, n_local = random_layer(rng, cfg)
        ls = Lockstep(dut, cfg, rng, lay, bs_base)
        await ls.start(lay, bs_base)
        combos = [("swap", False), ("swap", True), ("stream", False), ("stream", True)]
        for trial in range(trials):
            mode, dram = combos[trial % 4] if trial % 5 != 4 else (None, None)
            lay, desc, bs_base, n_local = random_layer(rng, cfg, mode=mode, dram=dram)
            await ls.layer(lay, desc, bs_base, f"layer {trial}")
            ls.server.timing = _random_timing(rng)
            ls.host_rate = float(rng.choice([0.0, 0.5]))
            for j, op in enumerate(random_ops(rng, cfg, lay, desc, n_local, batches=4)):
                b2b = rng.random() < 0.5
                await ls.run(op, f"layer {trial} {desc.mode} op {j}", back_to_back=b2b)
                if not b2b and rng.random() < 0.3:
                    await ls.idle(int(rng.integers(1, 3)))
            await ls.settle()
        ls.check_array("random")
        ls.cov.save()
        dut._log.info("ops %d, transfer cycles by kind %s, counters %s", ls.taken,
                      ls.kinds, ls.golden.outputs()["counters"])
        assert {"save", "restore", "stream", "load", "store"} <= set(ls.kinds), ls.kinds

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def sequencer_directed(dut):
        """More tiles than slots (DRAM-backed swaps with array thresholds), a table that
        does not fit (DRAM-backed streams of the whole batch), both under a slow, stalling
        server; back-to-back batches; clear mid-op; bad input refused and counted."""
        from flexspim.testbench.backing_store import ServerTiming

        cfg, rng, trials, seed = _setup()
        dut._log.info("seed=%d sequencer=%s", seed, cfg)
        full = (1 << cfg.buffer.width) - 1
        bv, P = 2, cfg.batch
        slots = min(cfg.max_slots, 2)
        lay = CoreLayout(cfg.rows, bv, 2, 1, 2 * bv, 1 + bv, P)
        ls = Lockstep(dut, cfg, rng, lay, 3)
        await ls.start(lay, 3)
        swap = Descriptor("swap", True, n_slots=slots, slot_rows=2 * bv, buf_base=1,
                          bs_base=5, tile_stride=2 * bv)
        await ls.layer(lay, swap, 3, "swap")
        ls.server.timing = ServerTiming(ready=0.4, latency=(2, 9), burst=0.1,
                                        burst_len=(2, 6), resp_gap=0.3)
        tiles = min(1 << cfg.tile_bits, slots + 3)
        for batch in range(3):                 # back to back: every op offered at once
            for t in range(tiles):
                await ls.run(SeqOp(ACCUMULATE, t, 0, (0,), full), f"swap b{batch} t{t}",
                             back_to_back=True)
            for t in reversed(range(tiles)):
                await ls.run(SeqOp(FIRE, t, 0, (), full >> 1), f"swap fire {t}",
                             back_to_back=True)
        await ls.run(SeqOp(FLUSH), "flush")
        assert ls.golden.own["SWAPS"] > tiles, ls.golden.own
        # a table that does not fit: stream every operand from the backing store
        lay2 = CoreLayout(cfg.rows, 2, 2, 0, 2, None, P)
        stream = Descriptor("stream", True, buf_base=0, bs_base=9, tile_stride=8,
                            stage_row=cfg.rows - 2 * P)
        await ls.layer(lay2, stream, 0, "stream")
        for j in range(6):
            ops = tuple(int(o) for o in rng.integers(0, 4, P))
            await ls.run(SeqOp(ACCUMULATE, j % 3, j % 3, ops, full), f"stream {j}",
                         back_to_back=j % 2 == 0)
        await ls.settle()
        # clear in the middle of an op
        ls.pending = SeqOp(ACCUMULATE, 1, 1, (1,) * P, full)
        for c in range(6):
            await ls.step("clear", clear=int(c == 4))
        await ls.settle()
        # bad input: each refused and counted, nothing moved
        errors = ls.golden.own["ERRORS"]
        ls.pending = SeqOp(ACCUMULATE, 2, 2, (3,) * P, full)
        await ls.step("an op to be busy with")
        assert ls.golden.busy
        await ls.step("word while busy", prog=(3, 1))
        await ls.settle()
        await ls.program([0] * 9, "past the window")               # word 8
        await ls.step("bad mode", prog=(0, 3))
        await ls.step("bad mode bits", prog=(0, 1 << 5))
        await ls.step("too many slots", prog=(1, cfg.max_slots + 1))
        await ls.step("reserved", prog=(7, 1))
        ls.pending = SeqOp(ACCUMULATE, 0, 0, (0,), full)
        await ls.step("word beside an op", prog=(3, 1))
        await ls.settle()
        await ls.run(SeqOp(3), "op kind 3")
        await ls.program([1, 0], "swap with no slot")
        await ls.run(SeqOp(FIRE, 1), "swap with no slot")
        # a backing-store area past the port's rows (the host check would refuse it)
        top = 1 << cfg.mover.addr_bits
        bad = Descriptor("swap", True, n_slots=1, slot_rows=bv, buf_base=0,
                         bs_base=top - bv - 3, tile_stride=bv)
        await ls.layer(CoreLayout(cfg.rows, bv, 1, 0, bv, None, P), bad, 3, "bad area")
        await ls.run(SeqOp(FIRE, 1), "store past the backing store")
        assert ls.golden.own["ERRORS"] - errors == 10, ls.golden.own
        await ls.idle(2)
        ls.check_array("directed")
        ls.cov.save()

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def sequencer_reset_mid_transfer(dut):
        """A reset (1-3 cycles) at a random cycle of an op under random server timing: idle
        at once, descriptor and tags back to reset, and what follows is exact."""
        from flexspim.testbench.sequencer_env import random_layer, random_ops

        cfg, rng, trials, seed = _setup()
        dut._log.info("seed=%d sequencer=%s", seed, cfg)
        lay, desc, bs_base, n_local = random_layer(rng, cfg, mode="swap")
        ls = Lockstep(dut, cfg, rng, lay, bs_base)
        await ls.start(lay, bs_base)
        for i in range(max(3, trials)):
            lay, desc, bs_base, n_local = random_layer(rng, cfg, mode=str(
                rng.choice(["swap", "stream"])))
            await ls.layer(lay, desc, bs_base, f"reset {i} layer")
            ls.server.timing = _random_timing(rng)
            ops = random_ops(rng, cfg, lay, desc, n_local, batches=3)
            for op in ops[:int(rng.integers(1, len(ops) + 1))]:
                await ls.run(op, f"reset {i} before", back_to_back=True)
            for _ in range(int(rng.integers(0, 12))):
                await ls.step(f"reset {i} mid")
            await ls.reset_cycles(int(rng.integers(1, 4)))
            assert ls.server.idle()
            await ls.step(f"reset {i} after")
        ls.check_array("reset")
        ls.cov.save()
        dut._log.info("resets %d, %d of them mid-op", max(3, trials), ls.reset_busy)
        assert ls.reset_busy > 0


# -- pytest side -----------------------------------------------------------------------------

GEOMETRIES = [
    SequencerConfig(MoverConfig(BufferConfig(24, 9), addr_bits=6, outstanding=3), rows=40,
                    max_slots=3, tile_bits=3, batch=2, op_bits=3),
    SequencerConfig(MoverConfig(BufferConfig(64, 16), addr_bits=12, outstanding=8),
                    rows=96, max_slots=4, tile_bits=4, batch=4, op_bits=4),
]


def _id(c: SequencerConfig) -> str:
    return f"{c.rows}r_{c.buffer.words}x{c.buffer.width}_s{c.max_slots}_p{c.batch}"


def run_sequencer_tests(cfg, seed, trials, testcase=None, unit=None, name="sequencer",
                        array="behavioural"):
    from flexspim.hdl.sequencer import SequencerUnit
    from flexspim.testbench.sim import run_design

    unit = unit or SequencerUnit
    return run_design(unit(cfg), top="flexspim_sequencer", name=name, config=cfg,
                      test_module="test_rtl_sequencer", seed=seed, testcase=testcase,
                      array=array,
                      env={"FLEXSPIM_SEQ": json.dumps(cfg.to_dict()),
                           "FLEXSPIM_SEED": str(seed), "FLEXSPIM_TRIALS": str(trials)})


@pytest.mark.rtl
@pytest.mark.parametrize("cfg", GEOMETRIES, ids=_id)
def test_sequencer(cfg, seed, regress):
    run_sequencer_tests(cfg, seed, 200 if regress else 30)


@pytest.mark.rtl
def test_sequencer_with_blackbox_buffer_and_model_file(seed, regress):
    """`generate --array blackbox`: the buffer left empty, its model file plugged in."""
    run_sequencer_tests(GEOMETRIES[0], seed, 60 if regress else 10, array="blackbox")


def _mutants():
    """``(mutant, cocotb test that must fail, text its failure must hold)``."""
    from flexspim.formal.mutants import Mutant

    return [
        (Mutant("sequencer_tag_not_updated", "flexspim.hdl.sequencer", "SequencerUnit",
                "                        m.d.sync += t.eq(op.tile)\n",
                "                        pass\n",
                "a swap never updates its slot's tag (every op swaps again)"),
         "sequencer_random", "golden"),
        (Mutant("sequencer_no_mover_wait", "flexspim.hdl.sequencer", "SequencerUnit",
                "with m.If(self.mover_done):", "with m.If(1):",
                "the sequencer does not wait for the mover's done"),
         "sequencer_directed", "golden"),
        (Mutant("sequencer_range_unchecked", "flexspim.hdl.sequencer", "SequencerUnit",
                "m.d.comb += go.eq(busy & ~waiting & ((k != 0) | ok))",
                "m.d.comb += go.eq(busy & ~waiting)",
                "a transfer out of range still accesses the array"),
         "sequencer_directed", "golden"),
        (Mutant("sequencer_window_unchecked", "flexspim.hdl.sequencer", "SequencerUnit",
                "(a >= 8) | ((a == 0)", "((a == 0)",
                "a descriptor word past the window is dropped without counting it"),
         "sequencer_directed", "golden"),
    ]


@pytest.mark.rtl
@pytest.mark.parametrize("which", range(4), ids=lambda i: _mutants()[i][0].name)
def test_sequencer_mutants_are_caught(which, seed):
    from flexspim.formal.mutants import mutate
    from flexspim.testbench.sim import CocotbFailure

    mutant, testcase, text = _mutants()[which]
    with pytest.raises(CocotbFailure, match="cocotb tests failed") as err:
        run_sequencer_tests(GEOMETRIES[0], seed, 3, testcase=testcase, unit=mutate(mutant),
                            name=f"sequencer-mutant-{mutant.name}")
    assert text in str(err.value), str(err.value)


def test_sequencer_mutants_still_apply_to_the_source():
    from flexspim.formal.mutants import mutate

    for m, _, _ in _mutants():
        mutate(m)
