"""Operand buffer under Verilator, cycle by cycle against `golden.mover.BufferModel`.

Both the cocotb test module (top) and the pytest entry (bottom). Every cycle the bits of
``rd_data`` that the contract defines (docs/buffer.md) are compared with the golden model;
the harness's buffer makes the undefined ones wrong on purpose (`OperandBuffer(poison=True)`),
which `buffer_poison` checks, so a user that relied on them would fail its regressions.
"""

from __future__ import annotations

import json
import os

import pytest

from flexspim.config import BufferConfig
from flexspim.golden.mover import BufferModel

try:
    import cocotb
except ImportError:  # pragma: no cover
    cocotb = None


def _setup():
    import numpy as np

    cfg = BufferConfig.from_dict(json.loads(os.environ["FLEXSPIM_BUFFER"]))
    seed = int(os.environ["FLEXSPIM_SEED"])
    return cfg, np.random.default_rng(seed), int(os.environ.get("FLEXSPIM_CYCLES", "2000")), seed


class Lockstep:
    """Drives the DUT and the golden model with the same inputs, one cycle at a time
    (inputs change at the falling edge; outputs are compared there, mid-cycle)."""

    def __init__(self, dut, cfg: BufferConfig):
        self.dut, self.cfg, self.golden, self.cycle = dut, cfg, BufferModel(cfg), 0

    async def start(self):
        from cocotb.clock import Clock
        from cocotb.triggers import FallingEdge

        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        self.dut.rst.value = 0
        self.drive()
        await FallingEdge(self.dut.clk)

    def drive(self, rd_en=0, rd_addr=0, wr_en=0, wr_addr=0, wr_data=0, wr_mask=0):
        d = self.dut
        d.rd_en.value, d.rd_addr.value = rd_en, rd_addr
        d.wr_en.value, d.wr_addr.value = wr_en, wr_addr
        d.wr_data.value, d.wr_mask.value = wr_data, wr_mask
        return dict(rd_en=rd_en, rd_addr=rd_addr, wr_en=wr_en, wr_addr=wr_addr,
                    wr_data=wr_data, wr_mask=wr_mask)

    async def cycle_with(self, tag="", **inputs):
        """One cycle: drive ``inputs``, step both, compare the defined bits of rd_data."""
        from cocotb.triggers import FallingEdge

        ins = self.drive(**inputs)
        self.golden.tick(**ins)
        await FallingEdge(self.dut.clk)
        self.cycle += 1
        want, defined = self.golden.outputs()
        got = int(self.dut.rd_data.value)
        bad = (got ^ want) & defined
        if bad:
            bit = (bad & -bad).bit_length() - 1
            raise AssertionError(
                f"cycle {self.cycle} {tag}: rd_data bit {bit} is {got >> bit & 1}, golden "
                f"{want >> bit & 1} (after {ins}; rd_data {got:#x}, golden {want:#x}, "
                f"defined {defined:#x})")
        return got

    async def fill(self, rng):
        """Write every word with random bits (whole words: the golden knows them all)."""
        full = (1 << self.cfg.width) - 1
        for a in range(self.cfg.words):
            await self.cycle_with("fill", wr_en=1, wr_addr=a, wr_mask=full,
                                  wr_data=_rand_word(rng, self.cfg.width))


def _rand_word(rng, width: int) -> int:
    return int.from_bytes(rng.bytes((width + 7) // 8), "little") & ((1 << width) - 1)


def _rand_mask(rng, width: int) -> int:
    r = rng.random()
    full = (1 << width) - 1
    return full if r < 0.3 else 0 if r < 0.4 else _rand_word(rng, width)


BUDGET_NS = 10 * (int(os.environ.get("FLEXSPIM_CYCLES", "2000")) * 3 + 20000)

if cocotb is not None:
    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def buffer_random(dut):
        """Random reads and masked writes, both in one cycle, back to back, idle gaps; one
        read in ten of the word written at the same edge (undefined bits not compared)."""
        cfg, rng, cycles, seed = _setup()
        dut._log.info("seed=%d buffer=%s", seed, cfg)
        ls = Lockstep(dut, cfg)
        await ls.start()
        await ls.fill(rng)
        words, w = cfg.words, cfg.width
        for _ in range(cycles):
            rd = rng.random() < 0.7
            wr = rng.random() < 0.6
            ra = int(rng.integers(words)) if rng.random() < 0.8 else \
                int(rng.choice([0, words - 1]))
            wa = ra if rng.random() < 0.1 else int(rng.integers(words))
            await ls.cycle_with("random", rd_en=int(rd), rd_addr=ra, wr_en=int(wr), wr_addr=wa,
                                wr_data=_rand_word(rng, w), wr_mask=_rand_mask(rng, w))
        for a in range(words):        # read everything back
            await ls.cycle_with("read back", rd_en=1, rd_addr=a)

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def buffer_directed(dut):
        """Corners: first and last word, empty and full masks, a write then a read of the
        same word at the next edge (new data), read-during-write of other words (old data),
        a word written twice in a row, alternating all-0 and all-1 words."""
        cfg, rng, cycles, seed = _setup()
        ls = Lockstep(dut, cfg)
        await ls.start()
        await ls.fill(rng)
        full, last = (1 << cfg.width) - 1, cfg.words - 1
        for a in sorted({0, last}):
            for data, mask in ((full, full), (0, full), (full, 0), (0, 1), (full, full >> 1)):
                await ls.cycle_with("write", wr_en=1, wr_addr=a, wr_data=data, wr_mask=mask)
                await ls.cycle_with("read after write", rd_en=1, rd_addr=a)
            await ls.cycle_with("twice 1", wr_en=1, wr_addr=a, wr_data=0, wr_mask=full)
            await ls.cycle_with("twice 2", wr_en=1, wr_addr=a, wr_data=full, wr_mask=full)
            await ls.cycle_with("read", rd_en=1, rd_addr=a)
        if cfg.words > 1:
            for a in range(cfg.words):
                other = (a + 1) % cfg.words
                await ls.cycle_with("rdw other", rd_en=1, rd_addr=a, wr_en=1, wr_addr=other,
                                    wr_data=full * (a & 1), wr_mask=full)
            for a in range(cfg.words):
                await ls.cycle_with("back to back", rd_en=1, rd_addr=a)

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def buffer_poison(dut):
        """The harness's buffer breaks what the contract leaves undefined: rd_data in a cycle
        that follows no read is inverted, and so are the written bits of a word read at the
        edge that writes it."""
        cfg, rng, cycles, seed = _setup()
        ls = Lockstep(dut, cfg)
        await ls.start()
        full = (1 << cfg.width) - 1
        word = _rand_word(rng, cfg.width)
        await ls.cycle_with("write", wr_en=1, wr_addr=0, wr_data=word, wr_mask=full)
        got = await ls.cycle_with("read", rd_en=1, rd_addr=0)
        assert got == word
        held = await ls.cycle_with("no read")
        assert held == word ^ full, f"rd_data held after a cycle without read: {held:#x}"
        mask = _rand_mask(rng, cfg.width)
        rdw = await ls.cycle_with("rdw", rd_en=1, rd_addr=0, wr_en=1, wr_addr=0,
                                  wr_data=~word & full, wr_mask=mask)
        assert rdw == word ^ mask, f"read-during-write gave {rdw:#x}, poison {word ^ mask:#x}"


# -- pytest side ---------------------------------------------------------------------------

GEOMETRIES = [BufferConfig(words=1, width=1), BufferConfig(words=37, width=13),
              BufferConfig(words=256, width=64)]


def run_buffer_tests(cfg: BufferConfig, seed: int, cycles: int, array: str = "behavioural",
                     testcase=None):
    from flexspim.hdl.buffer import BufferTop
    from flexspim.testbench.sim import run_design

    return run_design(BufferTop(cfg), top="flexspim_buffer", name="buffer", config=cfg,
                      test_module="test_rtl_buffer", seed=seed, testcase=testcase,
                      array=array,
                      env={"FLEXSPIM_BUFFER": json.dumps(cfg.to_dict()),
                           "FLEXSPIM_SEED": str(seed), "FLEXSPIM_CYCLES": str(cycles)})


@pytest.mark.rtl
@pytest.mark.parametrize("cfg", GEOMETRIES, ids=lambda c: f"{c.words}x{c.width}")
def test_buffer(cfg, seed, regress):
    run_buffer_tests(cfg, seed, 20000 if regress else 2000)


@pytest.mark.rtl
def test_buffer_with_blackbox_and_model_file(seed, regress):
    """`generate --array blackbox`: the buffer left empty, its model file plugged in."""
    run_buffer_tests(BufferConfig(words=37, width=13), seed, 5000 if regress else 1000,
                     array="blackbox")
