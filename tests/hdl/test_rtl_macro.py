"""CIM macro under Verilator, bit for bit and cycle for cycle against the golden MacroModel.

Both the cocotb test module (top) and the pytest entry (bottom). Every accumulate's cycles,
overflow flags and error flag are compared with the golden model; the potential's rows are
read back after every operation and the whole array periodically and at the end.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from flexspim.config import MacroConfig, Operand, signed_range
from flexspim.golden.cycles import REJECT_CYCLES, accumulate_cycles, fire_cycles
from flexspim.golden.macro import MacroModel

try:
    import cocotb
except ImportError:  # pragma: no cover
    cocotb = None


def _setup():
    cfg = MacroConfig.from_dict(json.loads(os.environ["FLEXSPIM_MACRO"]))
    seed = int(os.environ["FLEXSPIM_SEED"])
    trials = int(os.environ.get("FLEXSPIM_TRIALS", "100"))
    return cfg, np.random.default_rng(seed), trials, seed


class Checker:
    """Runs one command on the DUT and the golden model and compares everything."""

    def __init__(self, drv, golden: MacroModel):
        self.drv, self.golden, self.n = drv, golden, 0

    async def _issue(self, f, run):
        """Run command ``f`` on the DUT; returns ``(golden op or None, DUT result, tag)``
        after checking the error flag (invalid commands: error and 1 cycle)."""
        try:
            op = f.golden_op()
            op.check_fits(self.golden.config)
        except ValueError as e:
            op, why = None, str(e)
        result = await run(f)
        cycles, _, error = result
        tag = f"op {self.n} {f._replace(col_en=None)}"
        self.n += 1
        if op is None:
            assert error, f"{tag}: invalid ({why}) but the DUT did not flag an error"
            assert cycles == REJECT_CYCLES, \
                f"{tag}: rejected command took {cycles} cycles, not {REJECT_CYCLES}"
        else:
            assert not error, f"{tag}: valid command flagged as an error"
        return op, result, tag

    async def accumulate(self, f, check_rows=True):
        cfg = self.golden.config
        op, (cycles, overflow, _), tag = await self._issue(f, self.drv.accumulate)
        if op is None:
            return
        want = self.golden.accumulate(op, col_mask=f.col_en.astype(bool))
        clamp = bool(want.overflow.any())
        assert cycles == want.cycles == accumulate_cycles(cfg, op.bv, op.saturate, clamp), (
            f"{tag}: {cycles} cycles, golden {want.cycles}")
        bad = np.flatnonzero(overflow != want.overflow)
        assert bad.size == 0, (f"{tag}: overflow flag of column {bad[0]} is {overflow[bad[0]]}, "
                               f"golden {want.overflow[bad[0]]}")
        if check_rows:
            for r in range(op.v_row, op.v_row + op.bv):
                await self.compare_row(r, tag)

    async def fire(self, f, check_rows=True):
        op, (cycles, spikes, _), tag = await self._issue(f, self.drv.fire)
        if op is None:
            return
        before = self.golden.peek(Operand(op.v_row, op.layer.bv))
        want = self.golden.fire(op, col_mask=f.col_en.astype(bool))
        assert cycles == want.cycles == fire_cycles(op.layer), (
            f"{tag}: {cycles} cycles, golden {want.cycles}")
        bad = np.flatnonzero(spikes != want.spikes)
        assert bad.size == 0, (f"{tag}: spike of column {bad[0]} is {spikes[bad[0]]}, golden "
                               f"{want.spikes[bad[0]]} (V before: {before[bad[0]]})")
        if check_rows:
            for r in range(op.v_row, op.v_row + op.layer.bv):
                await self.compare_row(r, f"{tag} (V before: {before})")

    async def compare_row(self, r, tag):
        got = await self.drv.read_row(r)
        bad = np.flatnonzero(got != self.golden.bits[r])
        assert bad.size == 0, (f"{tag}: row {r} column {bad[0]} is {got[bad[0]]}, golden "
                               f"{self.golden.bits[r, bad[0]]} (row {got} vs "
                               f"{self.golden.bits[r]})")

    async def compare_array(self, tag):
        for r in range(self.golden.config.rows):
            await self.compare_row(r, tag)

    async def sync_rows(self, rows):
        for r in rows:
            await self.drv.write_row(r, self.golden.bits[r])


async def _bring_up(dut):
    from flexspim.testbench.macro_driver import MacroDriver

    cfg, rng, trials, seed = _setup()
    dut._log.info("seed=%d geometry=%s", seed, cfg)
    drv = MacroDriver(dut, cfg)
    await drv.start()
    golden = MacroModel(cfg)
    golden.bits[:] = rng.integers(0, 2, size=golden.bits.shape)
    await drv.write_array(golden.bits)
    chk = Checker(drv, golden)
    await chk.compare_array("after loading")
    return cfg, rng, trials, drv, golden, chk


# A hang must fail the test: a generous budget of simulated time (3000 cycles per trial).
BUDGET_NS = (int(os.environ.get("FLEXSPIM_TRIALS", "100")) + 50) * 30000

if cocotb is not None:
    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def macro_random(dut):
        """Random commands back to back (5% invalid), random masks, saturate and wrap."""
        from flexspim.testbench.macro_driver import random_accumulate

        cfg, rng, trials, drv, golden, chk = await _bring_up(dut)
        for t in range(trials):
            if rng.random() < 0.1:   # extreme operands: all rows 0 or all 1 in places
                rows = rng.permutation(cfg.rows)[:max(1, cfg.rows // 4)]
                golden.bits[rows] = rng.integers(0, 2, size=(len(rows), 1))
                await chk.sync_rows(rows)
            await chk.accumulate(random_accumulate(rng, cfg, invalid_rate=0.05),
                                 check_rows=t % 4 == 0)
            if t % 25 == 24:
                await chk.compare_array(f"after op {t}")
        await chk.compare_array("at the end")

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def macro_directed(dut):
        """Corners: 1-bit operands, overflow by one both ways, all-max/all-min batches, empty
        batch, no enabled column, and each kind of invalid command."""
        from flexspim.testbench.macro_driver import AccFields

        cfg, rng, trials, drv, golden, chk = await _bring_up(dut)
        P, cols = cfg.batch_max, cfg.cols
        ones = np.ones(cols, dtype=np.uint8)

        def fields(v_row, bv, w, bw, sat, col_en=ones):
            w_rows = (list(w) + [0] * P)[:P]
            return AccFields(v_row, bv, tuple(w_rows), tuple(([True] * len(w) +
                             [False] * P)[:P]), bw, col_en, sat)

        async def case(bv, bw, v, ws, sat):
            """V at row 0, weights above it; loads the values, runs, checks."""
            if bv + len(ws) * bw > cfg.rows or len(ws) > P:
                return
            golden.load(Operand(0, bv), np.full(cols, v))
            rows = [bv + i * bw for i in range(len(ws))]
            for r, w in zip(rows, ws):
                golden.load(Operand(r, bw), np.full(cols, w))
            await chk.sync_rows(range(bv + len(ws) * bw))
            await chk.accumulate(fields(0, bv, rows, bw, sat))

        for sat in (True, False):
            await case(1, 1, -1, [-1], sat)                       # 1-bit: -2 overflows
            await case(1, 1, 0, [], sat)                          # empty batch
            for bv in sorted({2, min(8, cfg.max_bits), cfg.max_bits // 2}):
                if bv < 2:
                    continue
                lo, hi = signed_range(bv)
                await case(bv, 2, hi, [1], sat)                   # max + 1
                await case(bv, 2, hi - 1, [1], sat)               # reaches max exactly
                await case(bv, 2, lo, [-1], sat)                  # min - 1
                await case(bv, bv, lo, [lo] * P, sat)             # all-minimum batch
                await case(bv, bv, hi, [hi] * P, sat)             # all-maximum batch
                await case(bv, 1, hi, [-1, 0] * (P // 2), sat)    # 1-bit weights
        # no enabled column: nothing changes, cycles still spent
        await chk.accumulate(fields(0, 1, [], 1, True, col_en=np.zeros(cols, np.uint8)))
        # invalid commands: each rejected with error, array untouched
        mb = cfg.max_bits
        for bad in (fields(0, 0, [], 1, True),                    # bv = 0
                    fields(0, 1, [], 0, True),                    # bw = 0
                    fields(0, 1, [], 2, True),                    # bw > bv
                    fields(cfg.rows - 1, 2, [], 1, True),         # V off the array
                    fields(0, min(mb, 2), [0], 1, True),          # weight overlaps V
                    fields(0, 1, [cfg.rows], 1, True),            # weight off the array
                    fields(0, 1, [1, 1], 1, True)):               # duplicate slots
            if bad.fits_ports(cfg):
                await chk.accumulate(bad)
        await chk.compare_array("after the directed cases")

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def macro_fire_random(dut):
        """Fire passes (all leak modes, both resets, register and array thresholds, 5%
        invalid) interleaved with accumulates, back to back."""
        from flexspim.testbench.macro_driver import random_accumulate, random_fire

        cfg, rng, trials, drv, golden, chk = await _bring_up(dut)
        for t in range(trials):
            if rng.random() < 0.3:
                await chk.accumulate(random_accumulate(rng, cfg), check_rows=False)
            await chk.fire(random_fire(rng, cfg, invalid_rate=0.05), check_rows=t % 3 == 0)
            if t % 25 == 24:
                await chk.compare_array(f"after op {t}")
        await chk.compare_array("at the end")

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def macro_fire_directed(dut):
        """Fire corners: leak crossing zero both ways, 0 staying 0, shift leak of negative
        values and by 0, V == theta, negative thresholds with soft reset (overflow), per-neuron
        thresholds, 1-bit potentials (with and without a leak pass), no enabled column."""
        from flexspim.testbench.macro_driver import FireCmd

        cfg, rng, trials, drv, golden, chk = await _bring_up(dut)
        cols = cfg.cols
        ones = np.ones(cols, dtype=np.uint8)

        async def case(bv, values, mode, leak, theta, soft, thetas=None):
            if bv > cfg.max_bits or (thetas is not None and 2 * bv > cfg.rows):
                return
            for start in range(0, len(values), cols):   # narrow macros: several passes
                chunk = (list(values[start:start + cols]) * cols)[:cols]
                golden.load(Operand(0, bv), chunk)
                rows = list(range(bv))
                if thetas is not None:
                    tchunk = (list(thetas[start:start + cols]) * cols)[:cols]
                    golden.load(Operand(bv, bv), tchunk)
                    rows += list(range(bv, 2 * bv))
                await chk.sync_rows(rows)
                await chk.fire(FireCmd(0, bv, mode, leak, theta, thetas is not None,
                                       bv if thetas is not None else 0, soft, ones))

        for soft in (False, True):
            await case(8, [10, 3, 2, 0, -2, -3, -10, -128, 127], 1, 3, 127, soft)  # sub leak
            await case(8, [100, 3, 1, 0, -1, -3, -128, 126], 2, 1, 127, soft)      # shift 1
            await case(8, [100, -128, 5], 2, 0, 127, soft)                         # shift 0
            await case(8, [126, -1, -128], 2, 7, 127, soft)                        # shift 7
            await case(8, [9, 10, 11, -128, 127], 0, 0, 10, soft)                  # V == theta
            await case(8, [127, 0, -6, -128], 0, 0, -5, soft)                      # theta < 0
            await case(8, [127, 0, -6, -128], 0, 0, -128, soft)                    # theta = min
            await case(4, [3, 3, -8, 7], 0, 0, 0, soft, thetas=[3, 4, -8, -1])     # per neuron
            await case(1, [0, -1], 0, 0, 0, soft)                                  # 1-bit V
            await case(1, [0, -1], 0, 0, -1, soft)
            # 1-bit V with a leak pass: the bubble before the compare. Shift by 0 writes
            # V - V = 0 in every column; without the bubble the compare's read of row 0 meets
            # that write, and the harness's array returns it inverted (-1: no spike).
            await case(1, [0, -1], 2, 0, 0, soft)                                  # shift 0
            await case(1, [0, -1], 1, 0, 0, soft)                                  # sub leak
        await chk.fire(FireCmd(0, 1, 0, 0, 0, False, 0, False, np.zeros(cols, np.uint8)))
        await chk.compare_array("after the directed cases")

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def macro_reset_mid_run(dut):
        """Reset in the middle of operations: the macro returns to idle at once with no
        done pulse; after reloading the array it runs on correctly."""
        from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

        from flexspim.testbench.macro_driver import random_accumulate

        cfg, rng, trials, drv, golden, chk = await _bring_up(dut)
        for t in range(max(3, trials // 10)):
            f = random_accumulate(rng, cfg)
            drv._drive(f)
            await RisingEdge(dut.clk)
            dut.acc__valid.value = 0
            await ClockCycles(dut.clk, int(rng.integers(1, 4)))
            dut.rst.value = 1
            await RisingEdge(dut.clk)
            dut.rst.value = 0
            await ReadOnly()
            assert int(dut.acc__ready.value) == 1 and int(dut.busy.value) == 0, \
                f"reset {t}: macro not idle after reset"
            assert int(dut.acc__done.value) == 0, f"reset {t}: done pulse after reset"
            await RisingEdge(dut.clk)
            # the interrupted operation left V partly written: reload, then go on
            await drv.write_array(golden.bits)
            for _ in range(3):
                await chk.accumulate(random_accumulate(rng, cfg))
        await chk.compare_array("at the end")


# -- pytest side ---------------------------------------------------------------------------

GEOMETRIES = [
    MacroConfig(rows=1, cols=1, batch_max=1),
    MacroConfig(rows=8, cols=4, batch_max=1),
    MacroConfig(rows=16, cols=16, batch_max=1),
    MacroConfig(rows=37, cols=13, batch_max=3),
    MacroConfig(rows=64, cols=64, batch_max=8),
    MacroConfig(rows=80, cols=8, batch_max=64),     # the largest batch (MAX_BATCH)
]


def run_macro_tests(cfg: MacroConfig, seed: int, trials: int, testcase=None,
                    array: str = "behavioural"):
    from flexspim.hdl.macro import CimMacro
    from flexspim.testbench.sim import run_design

    return run_design(CimMacro(cfg), top="flexspim_macro", name="macro", config=cfg,
                      test_module="test_rtl_macro", seed=seed, testcase=testcase, array=array,
                      env={"FLEXSPIM_MACRO": json.dumps(cfg.to_dict()),
                           "FLEXSPIM_SEED": str(seed), "FLEXSPIM_TRIALS": str(trials)})


@pytest.mark.rtl
@pytest.mark.parametrize("cfg", GEOMETRIES,
                         ids=lambda c: f"{c.rows}x{c.cols}_P{c.batch_max}")
def test_macro(cfg, seed, regress):
    run_macro_tests(cfg, seed, 600 if regress else 150)


@pytest.mark.rtl
def test_macro_with_blackbox_array_and_model_file(seed, regress):
    """`generate --array blackbox`: the design with an empty array module, simulated with the
    separate behavioural model plugged in, as a flow that drops in a macro would."""
    run_macro_tests(MacroConfig(rows=37, cols=13, batch_max=3), seed, 300 if regress else 150,
                    array="blackbox")
