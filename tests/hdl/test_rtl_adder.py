"""Bit-serial adder array under Verilator, against the golden bit-serial replay.

This file is both the pytest entry (bottom) and the cocotb test module (top). Stimulus: random
operands (bw 1..bv, bv 1..16, 0..P weights, a third of the trials at extreme values), driven
bit-serially with sign extension for ``bv`` + guard cycles, additions back to back, and resets
in the middle of additions. Checked per column: the ``bv`` result bits against the golden wrap
result, the guard bits against the golden saturate-mode overflow flags, the carry bound.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from flexspim.config import AccumulateOp, MacroConfig, Operand
from flexspim.golden.macro import MacroModel, accumulate_bitserial

# -- cocotb side ---------------------------------------------------------------------------

try:
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import FallingEdge, RisingEdge
except ImportError:  # pragma: no cover - cocotb is a dependency; keeps pytest collection sane
    cocotb = None


def _planes(value: int, planes: int, cols: int) -> np.ndarray:
    """Per-column integers from a plane-major vector (plane j at bits j*cols..)."""
    out = np.zeros(cols, dtype=np.int64)
    for j in range(planes):
        row = (value >> (j * cols)) & ((1 << cols) - 1)
        out |= ((row >> np.arange(cols)) & 1).astype(np.int64) << j
    return out


def _vector(bits: np.ndarray) -> int:
    return int(sum(int(b) << i for i, b in enumerate(bits)))


if cocotb is not None:
    @cocotb.test(timeout_time=(int(os.environ.get("FLEXSPIM_TRIALS", "200")) + 10) * 1000,
                 timeout_unit="ns")
    async def adder_random(dut):
        cfg = MacroConfig.from_dict(json.loads(os.environ["FLEXSPIM_MACRO"]))
        rng = np.random.default_rng(int(os.environ["FLEXSPIM_SEED"]))
        trials = int(os.environ.get("FLEXSPIM_TRIALS", "200"))
        P, cols = cfg.batch_max, cfg.cols
        dut._log.info("seed=%s geometry=%s", os.environ["FLEXSPIM_SEED"], cfg)
        Clock(dut.clk, 10, unit="ns").start()
        dut.rst.value = 1
        dut.en.value = 0
        dut.first.value = 0
        dut.operands.value = 0
        await RisingEdge(dut.clk)
        dut.rst.value = 0

        for trial in range(trials):
            bv = int(rng.integers(1, 17))
            bw = int(rng.integers(1, bv + 1))
            n = int(rng.integers(0, P + 1))
            macro = MacroConfig(rows=bv + max(1, n) * bw, cols=cols, batch_max=P)
            model = MacroModel(macro)
            w_rows = tuple(bv + i * bw for i in range(n))
            for r, b in [(0, bv)] + [(r, bw) for r in w_rows]:
                lo, hi = -(1 << (b - 1)), (1 << (b - 1)) - 1
                vals = (rng.choice([lo, hi, -1], size=cols) if rng.random() < 0.35
                        else rng.integers(lo, hi + 1, size=cols))
                model.load(Operand(r, b), vals)
            wrap = accumulate_bitserial(macro, model.bits, AccumulateOp(0, bv, w_rows, bw, False))
            sat = accumulate_bitserial(macro, model.bits, AccumulateOp(0, bv, w_rows, bw, True))
            cycles = bv + macro.guard_cycles
            abort_at = int(rng.integers(0, cycles)) if rng.random() < 0.05 else None
            got = []
            for k in range(cycles):
                ops = np.zeros((P + 1, cols), dtype=np.uint8)
                for i, r in enumerate(w_rows):
                    ops[i] = model.bits[r + min(k, bw - 1)]
                ops[P] = model.bits[min(k, bv - 1)]
                dut.operands.value = _vector(ops.ravel())
                dut.first.value = int(k == 0)
                dut.en.value = 1
                dut.rst.value = int(k == abort_at)
                await FallingEdge(dut.clk)
                got.append(np.array([(int(dut.sum.value) >> c) & 1 for c in range(cols)]))
                carry = _planes(int(dut.carry.value), macro.carry_width, cols)
                assert carry.max() <= P, f"trial {trial} cycle {k}: carry {carry} > P={P}"
                await RisingEdge(dut.clk)
                if k == abort_at:
                    break
            dut.rst.value = 0
            if abort_at is not None:
                await RisingEdge(dut.clk)
                carry = _planes(int(dut.carry.value), macro.carry_width, cols)
                assert not carry.any(), f"trial {trial}: reset left carry {carry}"
                continue
            got = np.array(got)
            want = wrap.bits[0:bv]
            for k in range(bv):
                assert np.array_equal(got[k], want[k]), (
                    f"trial {trial} (bv={bv} bw={bw} n={n}): result bit {k} is {got[k]}, "
                    f"golden {want[k]}")
            overflow = (got[bv:] != got[bv - 1]).any(axis=0)
            assert np.array_equal(overflow, sat.overflow), (
                f"trial {trial} (bv={bv} bw={bw} n={n}): overflow {overflow}, golden "
                f"{sat.overflow}")


# -- pytest side ---------------------------------------------------------------------------

GEOMETRIES = [MacroConfig(rows=1, cols=1, batch_max=1), MacroConfig(rows=8, cols=5, batch_max=3),
              MacroConfig(rows=8, cols=16, batch_max=8)]


def _run(cfg: MacroConfig, seed: int, component_cls=None, name="adder"):
    from flexspim.hdl.adder import BitSerialAdderArray
    from flexspim.testbench.sim import run_design

    cls = component_cls or BitSerialAdderArray
    run_design(cls(cfg), top="adder_array", name=name, config=cfg,
               test_module="test_rtl_adder", seed=seed,
               env={"FLEXSPIM_MACRO": json.dumps(cfg.to_dict()),
                    "FLEXSPIM_SEED": str(seed),
                    "FLEXSPIM_TRIALS": str(600 if os.environ.get("FLEXSPIM_TIER") ==
                                           "regress" else 150)})


@pytest.mark.rtl
@pytest.mark.parametrize("cfg", GEOMETRIES, ids=lambda c: f"{c.cols}c_P{c.batch_max}")
def test_adder_array(cfg, seed):
    _run(cfg, seed)


@pytest.mark.rtl
def test_adder_array_catches_a_broken_dut(seed):
    """A DUT whose sum tree drops its top plane (a width bug) must make the test fail."""
    from amaranth.hdl import Module

    from flexspim.hdl import adder
    from flexspim.testbench.sim import CocotbFailure

    class Broken(adder.BitSerialAdderArray):
        def elaborate(self, platform):
            real = adder.compress

            def short(m: Module, columns, width, name):
                planes = real(m, columns, width, name)
                return planes[:-1] + [planes[-1] & 0]
            adder.compress = short
            try:
                return super().elaborate(platform)
            finally:
                adder.compress = real

    with pytest.raises(CocotbFailure, match="adder_random"):
        _run(MacroConfig(rows=8, cols=5, batch_max=3), seed, Broken, name="adder-broken")
