"""The fan-out unit (conv address generator) under Verilator against `golden.fanout`.

Random geometries (FC as 1 x 1, kernels 1..5, strides and dilations 1..3, any padding,
c_in 1..4, bias sources) and the directed corner cases of issue 21 (kernel 1x1, 3x3, 5x3;
stride 2; padding 1; dilation 2; c_in = 1; positions that leave the map; a bias source), with
random idle gaps between events (and none: back to back) and random back-pressure on the
entry output. Compared per event: every entry ``(p, op, all)`` in order, the drop of an
out-of-range source, and the cycles from its handshake to the next, which must equal
`golden.fanout.event_cycles` plus the cycles an entry waited. Also: a reset while an event
is in flight, and a mutant (a tap quotient that never borrows) that the test must catch.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from flexspim.config import FanoutConfig

try:
    import cocotb
except ImportError:  # pragma: no cover
    cocotb = None


def _setup():
    cfg = FanoutConfig.from_dict(json.loads(os.environ["FLEXSPIM_FANOUT"]))
    seed = int(os.environ["FLEXSPIM_SEED"])
    return cfg, np.random.default_rng(seed), int(os.environ.get("FLEXSPIM_TRIALS", "6")), seed


def _sources(rng, g, n, bad_rate=0.05):
    """``n`` sources of ``g``: uniform, the bias source now and then, out-of-range ones
    (below ``2**index_bits``) at ``bad_rate``."""
    s = rng.integers(0, g.n_in, size=n)
    if g.bias:
        s[rng.random(n) < 0.1] = g.n_in - 1
    bad = rng.random(n) < bad_rate
    s[bad] = g.n_in + rng.integers(0, 3, size=int(bad.sum()))
    return s


async def run_case(drv, g, sources, gap, stall, where):
    from flexspim.testbench.fanout_driver import check_against_golden

    limit = (1 << drv.cfg.index_bits) - 1
    sources = [int(s) for s in sources if s <= limit]
    drv.set_geometry(g)
    drv.stall = stall
    drv.records.clear()
    await drv.send(sources, gap)
    await drv.wait_idle()
    assert [r.source for r in drv.records] == sources, f"{where}: events taken differ"
    check_against_golden(g, drv.records, f"{where} (gap {gap}, stall {stall})")


BUDGET_NS = 20_000_000

if cocotb is not None:
    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def fanout_random(dut):
        from flexspim.testbench.fanout_driver import FanoutDriver, random_geometry

        cfg, rng, trials, seed = _setup()
        dut._log.info("seed=%d config=%s", seed, cfg)
        drv = FanoutDriver(dut, cfg)
        await drv.start(rng)
        for t in range(trials):
            g = random_geometry(rng, cfg)
            gap, stall = [(0.0, 0.0), (0.3, 0.0), (0.0, 0.5), (0.4, 0.4)][t % 4]
            await run_case(drv, g, _sources(rng, g, int(rng.integers(5, 40))), gap, stall,
                           f"trial {t}")
        # maps that use the index width: every divider step count near its maximum
        if cfg.index_bits >= 16:
            from flexspim.config import ConvGeometry

            big = [ConvGeometry(c_in=1, h=200, w=300, c_out=2, kh=3, kw=3, stride=(2, 2),
                                padding=(1, 1)),
                   ConvGeometry(c_in=3, h=97, w=211, c_out=2, kh=5, kw=3, stride=(3, 1),
                                padding=(4, 1), dilation=(2, 1), bias=True),
                   ConvGeometry.fc(1 << cfg.op_bits, 4)]
            for g in big:
                cfg.check(g)
                await run_case(drv, g, _sources(rng, g, 30), 0.1, 0.3, "wide map")

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def fanout_directed(dut):
        """Every source of each corner-case geometry once (and two out of range), back to
        back with the output always ready, then again under back-pressure."""
        from flexspim.testbench.fanout_driver import FanoutDriver, directed_geometries

        cfg, rng, trials, seed = _setup()
        drv = FanoutDriver(dut, cfg)
        await drv.start(rng)
        for name, g in directed_geometries():
            cfg.check(g)
            every = list(range(g.n_in)) + [g.n_in, g.n_in + 1]
            await run_case(drv, g, every, 0.0, 0.0, name)
            await run_case(drv, g, rng.permutation(every), 0.2, 0.6, name)

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def fanout_reset_mid_run(dut):
        """A reset while an event is expanded: idle at once, no entry offered, and the next
        events run exactly."""
        from cocotb.triggers import ClockCycles, RisingEdge

        from flexspim.testbench.fanout_driver import FanoutDriver, directed_geometries

        cfg, rng, trials, seed = _setup()
        drv = FanoutDriver(dut, cfg)
        await drv.start(rng)
        g = dict(directed_geometries())["3x3 stride 2 pad 1"]
        drv.set_geometry(g)
        drv.stall = 0.5
        task = cocotb.start_soon(drv.send(_sources(rng, g, 30, 0.0)))
        await ClockCycles(dut.clk, int(rng.integers(15, 60)))
        task.cancel()
        dut.ev__valid.value = 0
        await drv.reset()
        await RisingEdge(dut.clk)
        assert int(dut.idle.value) == 1 and int(dut.entry__valid.value) == 0, \
            "the unit is busy after a reset"
        await run_case(drv, g, _sources(rng, g, 20), 0.0, 0.3, "after reset")


# -- pytest side ---------------------------------------------------------------------------

CONFIGS = [
    FanoutConfig(index_bits=8, op_bits=8, max_kernel=5, max_taps=25),
    FanoutConfig(index_bits=16, op_bits=12, max_kernel=15, max_taps=225),
]


def run_fanout_tests(cfg: FanoutConfig, seed: int, trials: int, testcase=None,
                     unit=None, name: str = "fanout"):
    from flexspim.hdl.fanout import FanoutUnit
    from flexspim.testbench.sim import run_design

    unit = unit or FanoutUnit
    return run_design(unit(cfg), top="flexspim_fanout", name=name, config=cfg,
                      test_module="test_rtl_fanout", seed=seed, testcase=testcase,
                      env={"FLEXSPIM_FANOUT": json.dumps(cfg.to_dict()),
                           "FLEXSPIM_SEED": str(seed), "FLEXSPIM_TRIALS": str(trials)})


@pytest.mark.rtl
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"ib{c.index_bits}_k{c.max_kernel}")
def test_fanout(cfg, seed, regress):
    run_fanout_tests(cfg, seed, 200 if regress else 40)


@pytest.mark.rtl
def test_fanout_mutant_without_borrow_is_caught(seed):
    """A tap quotient that never borrows (``q - dq`` instead of ``q - dq - borrow``) must
    fail the comparison with the golden model."""
    from flexspim.formal.mutants import Mutant, mutate
    from flexspim.testbench.sim import CocotbFailure

    m = Mutant("fanout_no_borrow", "flexspim.hdl.fanout", "FanoutUnit",
               "~Cat(dqv, Const(0, SW - kb)), ~borrow]", "~Cat(dqv, Const(0, SW - kb)), 1]",
               "the incremental tap rule forgets the borrow of a stride")
    with pytest.raises(CocotbFailure, match="golden") as err:
        run_fanout_tests(CONFIGS[0], seed, 4, testcase="fanout_directed",
                         unit=mutate(m), name="fanout-mutant-no-borrow")
    assert "1 of 1 cocotb tests failed" in str(err.value), str(err.value)
