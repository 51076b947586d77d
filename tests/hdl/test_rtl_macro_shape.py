"""Shaped operands (issue 20) on the macro under Verilator, against the golden MacroModel.

Accumulates and fires at every shape ``N_C = 1 .. max_operand_cols`` in one run (the shape is
a run-time field), random and directed: odd resolutions that leave a partial last row,
``bw < bv``, 1-bit operands, saturate and wrap, every leak mode (shift amounts below, at and
across a row's width: the prime cycle), hard and soft reset, thresholds from the register and
from the array, the group at the array's last columns, commands the macro must reject (a shape
above the maximum or not a power of two, a mask that splits a group or reaches the columns
past the last whole group). Cycles, overflow flags, spikes and every row the command touched
(padding cells included) are compared; the whole array at the end.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from flexspim.config import MacroConfig
from flexspim.formal.mutants import Mutant, mutate
from flexspim.golden.cycles import REJECT_CYCLES
from flexspim.golden.macro import MacroModel, group_mask
from flexspim.testbench.sim import CocotbFailure

try:
    import cocotb
except ImportError:  # pragma: no cover
    cocotb = None


def _setup():
    cfg = MacroConfig.from_dict(json.loads(os.environ["FLEXSPIM_MACRO"]))
    return cfg, np.random.default_rng(int(os.environ["FLEXSPIM_SEED"])), \
        int(os.environ.get("FLEXSPIM_TRIALS", "100"))


async def _bring_up(dut):
    from flexspim.testbench.macro_driver import MacroDriver

    cfg, rng, trials = _setup()
    dut._log.info("geometry=%s", cfg)
    drv = MacroDriver(dut, cfg)
    await drv.start()
    golden = MacroModel(cfg)
    golden.bits[:] = rng.integers(0, 2, size=golden.bits.shape)
    await drv.write_array(golden.bits)
    return cfg, rng, trials, drv, golden


async def _check(drv, golden, f, tag):
    """Run ``f`` on both; compare error, cycles, overflow and the rows of V."""
    try:
        op = f.golden_op()
        op.check_fits(golden.config)
        group_mask(f.col_en.astype(bool), golden.config.cols, f.operand_cols)
    except ValueError as e:
        op, why = None, str(e)
    cycles, overflow, error = await drv.accumulate(f)
    if op is None:
        assert error, f"{tag}: invalid ({why}) but no error from the DUT"
        assert cycles == REJECT_CYCLES, f"{tag}: rejected in {cycles} cycles"
        return None
    assert not error, f"{tag}: valid command {f._replace(col_en=None)} flagged as an error"
    want = golden.accumulate(op, col_mask=f.col_en.astype(bool))
    assert cycles == want.cycles, f"{tag}: {cycles} cycles, golden {want.cycles}"
    bad = np.flatnonzero(overflow != want.overflow)
    assert bad.size == 0, (f"{tag} {f._replace(col_en=None)} mask {f.col_en}: overflow "
                           f"{overflow.astype(int)}, golden {want.overflow.astype(int)}")
    rows = -(-op.bv // op.operand_cols)
    for r in range(op.v_row, op.v_row + rows):
        got = await drv.read_row(r)
        bad = np.flatnonzero(got != golden.bits[r])
        assert bad.size == 0, (f"{tag} {f._replace(col_en=None)}: row {r} column {bad[0]} "
                               f"is {got[bad[0]]}, golden {golden.bits[r, bad[0]]}")
    return want


async def _check_fire(drv, golden, f, tag):
    """Run the fire command ``f`` on both; compare error, cycles, spikes and the rows of V."""
    try:
        op = f.golden_op()
        op.check_fits(golden.config)
        group_mask(f.col_en.astype(bool), golden.config.cols, f.operand_cols)
    except ValueError as e:
        op, why = None, str(e)
    cycles, spikes, error = await drv.fire(f)
    if op is None:
        assert error, f"{tag}: invalid ({why}) but no error from the DUT"
        assert cycles == REJECT_CYCLES, f"{tag}: rejected in {cycles} cycles"
        return None
    assert not error, f"{tag}: valid fire {f._replace(col_en=None)} flagged as an error"
    want = golden.fire(op, col_mask=f.col_en.astype(bool))
    assert cycles == want.cycles, f"{tag}: {cycles} cycles, golden {want.cycles}"
    assert np.array_equal(spikes, want.spikes), (
        f"{tag} {f._replace(col_en=None)} mask {f.col_en}: spikes {spikes.astype(int)}, "
        f"golden {want.spikes.astype(int)}")
    rows = -(-op.layer.bv // f.operand_cols)
    for r in range(op.v_row, op.v_row + rows):
        got = await drv.read_row(r)
        bad = np.flatnonzero(got != golden.bits[r])
        assert bad.size == 0, (f"{tag} {f._replace(col_en=None)}: row {r} column {bad[0]} "
                               f"is {got[bad[0]]}, golden {golden.bits[r, bad[0]]}")
    return want


def _break_fire(rng, cfg, f):
    """``f`` with one rule broken: a split group, a bad shape, a trailing column, a shift
    leak >= bv, or V past the last row at this shape."""
    kind = int(rng.integers(0, 5))
    if kind == 0 and f.operand_cols > 1:
        mask = f.col_en.copy()
        mask[int(rng.integers(0, cfg.cols // f.operand_cols * f.operand_cols))] ^= 1
        return f._replace(col_en=mask)
    if kind == 1:
        bad = [0, 3, 2 * cfg.max_operand_cols - 1]
        if 2 * cfg.max_operand_cols < 1 << cfg.max_operand_cols.bit_length():
            bad.append(2 * cfg.max_operand_cols)
        return f._replace(operand_cols=int(rng.choice(bad)))
    if kind == 2 and cfg.cols % f.operand_cols:
        mask = f.col_en.copy()
        mask[-1] = 1
        return f._replace(col_en=mask)
    if kind == 3 and f.bv < 1 << min(cfg.max_bits, 6):
        return f._replace(leak_mode=2, leak=f.bv)
    rv = -(-f.bv // f.operand_cols)
    return f._replace(v_row=min(cfg.rows - rv + 1, (1 << cfg.row_addr_width) - 1))


BUDGET_NS = (int(os.environ.get("FLEXSPIM_TRIALS", "100")) + 50) * 30000

if cocotb is not None:
    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def shaped_random(dut):
        """Random valid accumulates at random shapes, back to back, 10% invalid ones."""
        from flexspim.testbench.macro_driver import random_shaped_accumulate

        cfg, rng, trials, drv, golden = await _bring_up(dut)
        shapes = [1 << t for t in range(cfg.max_operand_cols.bit_length())]
        for n in range(trials):
            f = random_shaped_accumulate(rng, cfg, int(rng.choice(shapes)))
            if rng.random() < 0.1:                  # break one rule
                kind = int(rng.integers(0, 3))
                if kind == 0 and f.operand_cols > 1:
                    mask = f.col_en.copy()
                    mask[int(rng.integers(0, cfg.cols // f.operand_cols * f.operand_cols))] ^= 1
                    f = f._replace(col_en=mask)
                elif kind == 1:
                    f = f._replace(operand_cols=int(rng.choice(
                        [0, 3, 2 * cfg.max_operand_cols - 1]
                        + ([2 * cfg.max_operand_cols]
                           if 2 * cfg.max_operand_cols < 1 << cfg.max_operand_cols.bit_length()
                           else []))))
                elif cfg.cols % f.operand_cols:
                    mask = f.col_en.copy()
                    mask[-1] = 1
                    f = f._replace(col_en=mask)
            await _check(drv, golden, f, f"op {n}")
        for r in range(cfg.rows):
            got = await drv.read_row(r)
            assert np.array_equal(got, golden.bits[r]), f"row {r} differs at the end"

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def shaped_directed(dut):
        """Extremes per shape: max + max, min + min (clamp both ways), wrap, 1-bit operands,
        bw < bv with a partial last row, the group at the last columns alone."""
        from flexspim.testbench.macro_driver import AccFields

        cfg, rng, trials, drv, golden = await _bring_up(dut)
        P = cfg.batch_max
        for t in range(cfg.max_operand_cols.bit_length()):
            n_c = 1 << t
            groups = cfg.cols // n_c
            for bv, bw in ((min(13, cfg.rows * n_c), 5), (1, 1), (min(cfg.rows * n_c // 2, 16),
                                                                    min(cfg.rows * n_c // 2, 16))):
                rv, rw = -(-bv // n_c), -(-bw // n_c)
                if rv + P * rw > cfg.rows:
                    continue
                lo, hi = -(1 << (bv - 1)), (1 << (bv - 1)) - 1
                wlo, whi = -(1 << (bw - 1)), (1 << (bw - 1)) - 1
                from flexspim.config import Operand
                for v, w, sat in ((hi, whi, True), (lo, wlo, True), (hi, whi, False),
                                  (lo, wlo, False), (0, wlo, True), (hi, 0, True)):
                    vals = np.full(groups, v)
                    vop = Operand(0, bv, n_c)
                    golden.load(vop, vals)
                    for i in range(P):
                        golden.load(Operand(rv + i * rw, bw, n_c), np.full(groups, w))
                    for r in range(rv + P * rw):
                        await drv.write_row(r, golden.bits[r])
                    w_rows = tuple(rv + i * rw for i in range(P))
                    for mask in (np.ones(cfg.cols, np.uint8), None):
                        if mask is None:                # only the last whole group
                            mask = np.zeros(cfg.cols, np.uint8)
                            mask[(groups - 1) * n_c:groups * n_c] = 1
                        else:
                            mask[groups * n_c:] = 0
                        f = AccFields(0, bv, w_rows, (True,) * P, bw, mask, sat, n_c)
                        await _check(drv, golden, f, f"N_C={n_c} bv={bv} bw={bw} v={v} w={w}")


    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def shaped_fire_random(dut):
        """Random fires and accumulates at random shapes, interleaved, 10% invalid fires:
        layers of different shapes share the array in one run."""
        from flexspim.testbench.macro_driver import random_shaped_accumulate, random_shaped_fire

        cfg, rng, trials, drv, golden = await _bring_up(dut)
        shapes = [1 << t for t in range(cfg.max_operand_cols.bit_length())]
        for n in range(trials):
            n_c = int(rng.choice(shapes))
            if rng.random() < 0.35:
                await _check(drv, golden, random_shaped_accumulate(rng, cfg, n_c), f"acc {n}")
                continue
            f = random_shaped_fire(rng, cfg, n_c)
            if rng.random() < 0.1:
                f = _break_fire(rng, cfg, f)
            await _check_fire(drv, golden, f, f"fire {n}")
        for r in range(cfg.rows):
            got = await drv.read_row(r)
            assert np.array_equal(got, golden.bits[r]), f"row {r} differs at the end"

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def shaped_fire_directed(dut):
        """Per shape: V at max, min, 0, -1 and theta at its extremes, every leak mode with
        shifts 0, 1, N_C - 1, N_C, N_C + 1 and bv - 1 (straddling rows: the prime cycle),
        sub leaks that cross zero, hard and soft reset (a negative theta overflowing), theta
        from the array, 1-bit and odd resolutions, the last whole group alone."""
        from flexspim.config import Operand
        from flexspim.testbench.macro_driver import FireCmd

        cfg, rng, trials, drv, golden = await _bring_up(dut)
        for t in range(cfg.max_operand_cols.bit_length()):
            n_c = 1 << t
            groups = cfg.cols // n_c
            for bv in sorted({1, 2, min(13, cfg.rows // 2 * n_c, cfg.max_bits),
                              min(cfg.rows // 2 * n_c, cfg.max_bits)}):
                rv = -(-bv // n_c)
                lo, hi = -(1 << (bv - 1)), (1 << (bv - 1)) - 1
                vals = np.clip([hi, lo, 0, -1, 1, lo + 1][:groups]
                               + list(rng.integers(lo, hi + 1, size=max(0, groups - 6))), lo, hi)
                shifts = sorted({s for s in (0, 1, n_c - 1, n_c, n_c + 1, bv - 1) if s < bv})
                subs = sorted({0, 1, hi, max(0, hi // 2)})
                modes = [(0, 0)] + [(2, s) for s in shifts] + [(1, a) for a in subs]
                for mode, amount in modes:
                    for theta, soft, src in ((hi, False, False), (lo, True, False),
                                             (0, True, True), (1, False, True)):
                        golden.load(Operand(0, bv, n_c), vals)
                        golden.load(Operand(rv, bv, n_c), np.roll(vals, 1))
                        for r in range(2 * rv):
                            await drv.write_row(r, golden.bits[r])
                        mask = np.zeros(cfg.cols, np.uint8)
                        if src:                     # only the last whole group
                            mask[(groups - 1) * n_c:groups * n_c] = 1
                        else:
                            mask[:groups * n_c] = 1
                        f = FireCmd(0, bv, mode, amount, theta, src, rv, soft, mask, n_c)
                        await _check_fire(drv, golden, f, f"N_C={n_c} bv={bv} mode={mode} "
                                                          f"leak={amount} theta={theta}")


GEOMETRIES = [
    MacroConfig(rows=16, cols=9, batch_max=1, max_operand_cols=4),    # 1 trailing column
    MacroConfig(rows=12, cols=16, batch_max=8, max_operand_cols=8),
    MacroConfig(rows=8, cols=6, batch_max=3, max_operand_cols=2),
]


def run_shape_tests(cfg: MacroConfig, seed: int, trials: int, testcase=None,
                    name: str = "macro_shape"):
    from flexspim.hdl.macro import CimMacro
    from flexspim.testbench.sim import run_design

    return run_design(CimMacro(cfg), top="flexspim_macro", name=name, config=cfg,
                      test_module="test_rtl_macro_shape", seed=seed, testcase=testcase,
                      env={"FLEXSPIM_MACRO": json.dumps(cfg.to_dict()),
                           "FLEXSPIM_SEED": str(seed), "FLEXSPIM_TRIALS": str(trials)})


@pytest.mark.rtl
@pytest.mark.parametrize("cfg", GEOMETRIES,
                         ids=lambda c: f"{c.rows}x{c.cols}_P{c.batch_max}_M{c.max_operand_cols}")
def test_macro_shape(cfg, seed, regress):
    run_shape_tests(cfg, seed, 600 if regress else 150)


# Broken copies of the shaped unit that the regression must catch (fast geometry, few trials).
SHAPE_MUTANTS = [
    Mutant("shape_chain_broken", "flexspim.hdl.accumulate_shaped", "ShapedAccumulateUnit",
           "cin = [Mux(link[j], couts[j - 1][b], start[b]) for b in range(cw)]",
           "cin = start",
           "the carry does not pass from one column of a group to the next"),
    Mutant("shape_group_carry_own_column", "flexspim.hdl.accumulate_shaped",
           "ShapedAccumulateUnit",
           "m.d.sync += creg[j][b].eq(nxt[j])", "m.d.sync += creg[j][b].eq(couts[j][b])",
           "a group's lowest column takes its own carry into the next row, not the top's"),
    Mutant("shape_sign_not_spread", "flexspim.hdl.accumulate_shaped", "ShapedAccumulateUnit",
           "Mux(ext_w[j], sign[j], raw[j])", "raw[j]",
           "weight bits above bw - 1 come from padding cells instead of the sign"),
]


@pytest.mark.rtl
@pytest.mark.parametrize("mutant", SHAPE_MUTANTS, ids=lambda m: m.name)
def test_shape_mutants_are_caught(mutant, seed, monkeypatch):
    import flexspim.hdl.macro as macro

    monkeypatch.setattr(macro, "ShapedAccumulateUnit", mutate(mutant))
    with pytest.raises(CocotbFailure, match=r"cocotb tests failed") as err:
        run_shape_tests(GEOMETRIES[0], seed, 60, testcase="shaped_random",
                        name=f"macro_shape-mutant-{mutant.name}")
    assert "golden" in str(err.value), str(err.value)


FIRE_MUTANTS = [
    Mutant("fire_chain_broken", "flexspim.hdl.lif_shaped", "ShapedFireUnit",
           "cin = start if j == 0 else Mux(link[j], couts[j - 1], start)", "cin = start",
           "the fire unit's carry does not pass from one column of a group to the next"),
    Mutant("fire_funnel_one_row", "flexspim.hdl.lif_shaped", "ShapedFireUnit",
           "Array(lo[base:base + n] + xs[base:base + n])",
           "Array(lo[base:base + n] + lo[base:base + n])",
           "a shift leak that straddles two rows takes both halves from the lower one"),
    Mutant("fire_sub_sign_not_spread", "flexspim.hdl.lif_shaped", "ShapedFireUnit",
           "first[j].eq(~sign_x[j])", "first[j].eq(~xs[j])",
           "the sub leak's direction comes from each column's own cell, not the group's sign"),
]


@pytest.mark.rtl
@pytest.mark.parametrize("mutant", FIRE_MUTANTS, ids=lambda m: m.name)
def test_fire_mutants_are_caught(mutant, seed, monkeypatch):
    import flexspim.hdl.macro as macro

    monkeypatch.setattr(macro, "ShapedFireUnit", mutate(mutant))
    with pytest.raises(CocotbFailure, match=r"cocotb tests failed") as err:
        run_shape_tests(GEOMETRIES[0], seed, 60, testcase="shaped_fire_random",
                        name=f"macro_shape-mutant-{mutant.name}")
    assert "golden" in str(err.value), str(err.value)


def test_shape_mutants_still_apply_to_the_source():
    for m in SHAPE_MUTANTS + FIRE_MUTANTS:
        mutate(m)
