"""Regressions at scale (long tier only, ``make regress``): at least 10^4 random macro
accumulates and 10^3 random multi-layer event streams on the RTL, every one compared with the
golden model, with functional coverage sampled (the table ends the pytest report).

* Macro: random valid and invalid accumulates back to back on three geometries of their own
  (so no build folder is shared with `test_rtl_macro` running in another worker), checked by
  `test_rtl_macro.Checker`: cycles (= the golden model's), every overflow flag, the error
  flag, the potential's rows after every 8th command and the whole array every 500.
* Event streams: `test_rtl_bulk`'s bulk system test (HDL-side source and sink memories) on a
  2-core and a 3-core system, each stream a new random multi-layer network with random idle
  gaps and output back-pressure: every layer's output events in order, the final potentials
  and every core's counters against the golden system model.

``FLEXSPIM_SCALE`` (default 1) multiplies the counts, e.g. 0.01 for a quick look.
"""

from __future__ import annotations

import json
import os

import pytest

from flexspim.config import CoreConfig, MacroConfig, SystemConfig

try:
    import cocotb
except ImportError:  # pragma: no cover
    cocotb = None

#: operations per geometry and streams per system at FLEXSPIM_SCALE=1
MACRO_OPS = 3700          # x 3 geometries, about 5% invalid: > 10^4 valid ones
STREAMS = 510             # x 2 systems, one of them through the Python drivers: > 10^3
EVENTS = 150              # input events per stream (plus ticks)

if cocotb is not None:
    BUDGET_NS = (int(os.environ.get("FLEXSPIM_TRIALS", "100")) + 50) * 30000

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def macro_accumulates_at_scale(dut):
        from test_rtl_macro import _bring_up

        from flexspim.testbench.coverage import Coverage
        from flexspim.testbench.macro_driver import random_accumulate

        cfg, rng, trials, drv, golden, chk = await _bring_up(dut)
        cov = Coverage()
        last = []                 # the golden op and result of the command just checked
        accumulate = golden.accumulate

        def capture(op, *args, **kwargs):
            res = accumulate(op, *args, **kwargs)
            last.append((op, res))
            return res

        golden.accumulate = capture
        valid = 0
        for t in range(trials):
            if rng.random() < 0.05:   # extreme operands: rows all 0 or all 1
                rows = rng.permutation(cfg.rows)[:max(1, cfg.rows // 4)]
                golden.bits[rows] = rng.integers(0, 2, size=(len(rows), 1))
                await chk.sync_rows(rows)
            last.clear()
            await chk.accumulate(random_accumulate(rng, cfg, invalid_rate=0.05),
                                 check_rows=t % 8 == 0)
            for op, res in last:  # empty for a rejected command
                valid += 1
                cov.accumulate(op, res.overflow)
            if t % 500 == 499:
                await chk.compare_array(f"after op {t}")
        await chk.compare_array("at the end")
        dut._log.info("%d random accumulates, %d valid", trials, valid)
        cov.save()


# -- pytest side ---------------------------------------------------------------------------

def _scale() -> float:
    s = float(os.environ.get("FLEXSPIM_SCALE", "1"))
    if not 0 < s <= 100:
        raise ValueError(f"`FLEXSPIM_SCALE` must be in (0, 100], not {s}")
    return s


MACROS = [MacroConfig(rows=24, cols=8, batch_max=2),
          MacroConfig(rows=48, cols=16, batch_max=5),
          MacroConfig(rows=96, cols=32, batch_max=16)]

SYSTEMS = [
    SystemConfig(CoreConfig(MacroConfig(rows=48, cols=8, batch_max=4), fifo_depth=2,
                            index_bits=9), n_cores=2, in_fifo_depth=2),
    SystemConfig(CoreConfig(MacroConfig(rows=40, cols=6, batch_max=3), fifo_depth=3,
                            index_bits=8), n_cores=3, in_fifo_depth=4),
]


@pytest.mark.slow
@pytest.mark.rtl
@pytest.mark.parametrize("cfg", MACROS, ids=lambda c: f"{c.rows}x{c.cols}_P{c.batch_max}")
def test_macro_accumulates_at_scale(cfg, seed):
    from flexspim.hdl.macro import CimMacro
    from flexspim.testbench.sim import run_design

    run_design(CimMacro(cfg), top="flexspim_macro", name="macro_scale", config=cfg,
               test_module="test_regress_scale", seed=seed,
               testcase="macro_accumulates_at_scale",
               env={"FLEXSPIM_MACRO": json.dumps(cfg.to_dict()), "FLEXSPIM_SEED": str(seed),
                    "FLEXSPIM_TRIALS": str(max(1, round(MACRO_OPS * _scale())))})


@pytest.mark.slow
@pytest.mark.rtl
@pytest.mark.parametrize("system", SYSTEMS, ids=lambda s: f"{s.n_cores}cores")
def test_event_streams_at_scale(system, seed):
    from test_rtl_bulk import _run

    from flexspim.hdl.system import FlexSpimSystem

    _run(FlexSpimSystem(system), "system_scale", system, "system_bulk_random_networks",
         {"FLEXSPIM_SYSTEM": json.dumps(system.to_dict()), "FLEXSPIM_SEED": str(seed),
          "FLEXSPIM_TRIALS": str(max(2, round(STREAMS * _scale()))),
          "FLEXSPIM_EVENTS": str(EVENTS)})
