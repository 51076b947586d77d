"""The bulk stream path (`testbench.stream_harness` + `testbench.bulk_streams`) against the
golden models, on a core and on a 2-core system, inside the clock shell.

Memories of 64 events, so every run goes through several source chunks and sink drains.
Random gaps and back-pressure are drawn in HDL (seeded from the test's seed). Compared as in
the Python-driver tests: every output event in order, the array or potentials afterwards,
and every counter (work cycles included). One trial per test also drives the same build
with the Python drivers (the harness transparent; in the core test right after a bulk run,
without anything in between), to check that the two share a build and hand over cleanly.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from flexspim.config import CoreConfig, MacroConfig, SystemConfig
from flexspim.golden.batching import TICK
from flexspim.golden.core import CoreModel

try:
    import cocotb
except ImportError:  # pragma: no cover
    cocotb = None

DEPTH = 64
MODES = [(0.0, 0.0), (0.3, 0.5), (0.0, 0.9), (0.6, 0.0)]      # (gap, stall)


def _env():
    seed = int(os.environ["FLEXSPIM_SEED"])
    return (np.random.default_rng(seed), int(os.environ["FLEXSPIM_TRIALS"]),
            int(os.environ["FLEXSPIM_EVENTS"]), seed)


BUDGET_NS = (int(os.environ.get("FLEXSPIM_TRIALS", "3")) + 2) * \
    (int(os.environ.get("FLEXSPIM_EVENTS", "500")) + 500) * 3000

if cocotb is not None:
    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def core_bulk_random_layers(dut):
        from test_rtl_core import check_array_and_counters, first_difference

        from flexspim.testbench.bulk_streams import BulkStreams
        from flexspim.testbench.core_driver import CoreDriver, random_events, random_fc_case
        from flexspim.testbench.coverage import Coverage, count_clamps

        core = CoreConfig.from_dict(json.loads(os.environ["FLEXSPIM_CORE"]))
        rng, trials, n_events, seed = _env()
        dut._log.info("seed=%d core=%s", seed, core)
        bulk = BulkStreams(dut, core.index_bits, DEPTH)
        bulk.idle()
        drv = CoreDriver(dut, core)
        await drv.start()
        for t in range(trials):
            gap, stall = MODES[t % len(MODES)]
            python = t == 1                # the same build, bulk then the Python drivers
            layer, layout, fc = random_fc_case(rng, core)
            model = CoreModel(core, layer, layout)
            model.load(fc)
            await drv.write_array(model.macro.bits)
            await drv.configure(layer, layout)
            ev = random_events(rng, layout.n_in, n_events,
                               tick_rate=float(rng.uniform(0.01, 0.2)), bad_rate=0.01,
                               index_bits=core.index_bits)
            cov = Coverage()
            with count_clamps(cov):
                want = model.run(ev)
            ticks = int((ev == TICK).sum())
            if python:
                # first part in bulk, the rest from Python right after it (no register
                # access in between: the drivers must hand over on the same clock phase)
                cut = int(np.flatnonzero(ev == TICK)[0]) + 1
                got = (await bulk.run(ev[:cut], 1, rng, gap, stall)).tolist()
                sink = cocotb.start_soon(drv.receive(ticks - 1, rng, stall, got))
                await drv.send(ev[cut:], rng, 0.0)     # no idle cycle to hide a bad phase
                await sink
            else:
                got = (await bulk.run(ev, ticks, rng, gap, stall)).tolist()
                chunks = -(-len(ev) // DEPTH)
                assert (bulk.reloads, bulk.drains) == (chunks - 1, -(-len(got) // DEPTH) - 1)
            cov.layer(layer)
            cov.batches(ev, core.macro.batch_max, layout.n_in)
            cov.streams(gap, stall, 0 if python else bulk.in_waits, dropped=want.errors)
            cov.save()
            tag = f"trial {t} ({'Python' if python else 'bulk'}, gap {gap}, stall {stall})"
            want_ev = want.events.tolist()
            assert got == want_ev, f"{tag}: {first_difference(got, want_ev)}"
            await check_array_and_counters(drv, model, want, ev, tag)

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def system_bulk_random_networks(dut):
        from test_rtl_system import first_difference

        from flexspim.testbench.coverage import Coverage, count_clamps, sample_network
        from flexspim.testbench.network_gen import random_fc_network
        from flexspim.testbench.system_driver import (
            BulkCocotbBackend,
            CocotbBackend,
            GoldenBackend,
            SystemDriver,
        )

        system = SystemConfig.from_dict(json.loads(os.environ["FLEXSPIM_SYSTEM"]))
        rng, trials, n_events, seed = _env()
        dut._log.info("seed=%d system=%s", seed, system)
        rtl = BulkCocotbBackend(dut, system, DEPTH, rng)
        await rtl.start()
        n = system.n_cores
        for t in range(trials):
            net = random_fc_network(rng, system, n)
            rtl.gap, rtl.stall = MODES[t % len(MODES)]
            python = t == 1
            ev = rng.integers(0, net.layers[0].n_in, size=n_events)
            ev[rng.random(ev.size) < float(rng.uniform(0.02, 0.15))] = TICK
            ev = np.append(ev, TICK)
            golden = SystemDriver(GoldenBackend(system), system)
            await golden.load(net)
            cov = Coverage()
            with count_clamps(cov):
                want = await golden.run(ev)
            if python:
                py = CocotbBackend(dut, system, rng, rtl.gap, rtl.stall)
                drv = SystemDriver(py, system)
            else:
                drv = SystemDriver(rtl, system)
            await drv.load(net)
            got = await drv.run(ev)
            sample_network(cov, net, ev, want, system, rtl.gap, rtl.stall,
                           0 if python else rtl.bulk.in_waits)
            tag = f"trial {t} ({'Python' if python else 'bulk'}, gap {rtl.gap}, " \
                  f"stall {rtl.stall})"
            where = first_difference(got.layers, want.layers)
            assert where is None, f"{tag}: {where}"
            assert got.output.tolist() == want.output.tolist(), f"{tag}: merged order differs"
            for i, (a, b) in enumerate(zip(got.potentials, want.potentials)):
                assert a.tolist() == b.tolist(), f"{tag}: potentials of layer {i}"
            model = golden.backend.model
            for k in range(n):
                for name in ("EVENTS_IN", "SPIKES_OUT", "TICKS", "BATCHES", "ERRORS", "CYCLES"):
                    a, b = await rtl.read_reg(k, name), model.read_reg(k, name)
                    assert a == b, f"{tag}: core {k} {name} = {a}, golden {b}"


# -- pytest side ---------------------------------------------------------------------------

def _run(component, name, config, testcase, env):
    from flexspim.testbench.sim import build_dir_for, run_cocotb
    from flexspim.testbench.stream_harness import emit_harness

    build = build_dir_for(f"{name}{DEPTH}", config)
    hb = emit_harness(component, f"flexspim_{name}", build, DEPTH)
    run_cocotb(test_module="test_rtl_bulk", build_dir=build, testcase=testcase,
               seed=int(env["FLEXSPIM_SEED"]), extra_env=env, **hb.run_kwargs())


@pytest.mark.rtl
def test_core_bulk(seed, regress):
    from flexspim.hdl.core import NeuronCore

    core = CoreConfig(MacroConfig(rows=37, cols=13, batch_max=3), fifo_depth=2, index_bits=8)
    _run(NeuronCore(core), "core_tb", core, "core_bulk_random_layers",
         {"FLEXSPIM_CORE": json.dumps(core.to_dict()), "FLEXSPIM_SEED": str(seed),
          "FLEXSPIM_TRIALS": str(12 if regress else 4),
          "FLEXSPIM_EVENTS": str(3000 if regress else 400)})


@pytest.mark.rtl
def test_system_bulk(seed, regress):
    if not regress:
        pytest.skip("long tier (make regress): one more system build; `make bench-system` "
                    "also checks the bulk path against the golden model")
    from flexspim.hdl.system import FlexSpimSystem

    system = SystemConfig(CoreConfig(MacroConfig(rows=64, cols=8, batch_max=4), fifo_depth=4,
                                     index_bits=10), n_cores=2, in_fifo_depth=4)
    _run(FlexSpimSystem(system), "system_tb", system, "system_bulk_random_networks",
         {"FLEXSPIM_SYSTEM": json.dumps(system.to_dict()), "FLEXSPIM_SEED": str(seed),
          "FLEXSPIM_TRIALS": str(8 if regress else 3),
          "FLEXSPIM_EVENTS": str(2000 if regress else 300)})


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_harness_rejects_bad_parameters():
    from flexspim.hdl.core import NeuronCore
    from flexspim.testbench.bulk_streams import BulkStreams
    from flexspim.testbench.stream_harness import StreamHarness, clock_shell

    core = NeuronCore(CoreConfig(MacroConfig(rows=16, cols=4, batch_max=2)))
    for depth in (0, 3, 100, True, 2.0):
        with pytest.raises(ValueError, match="depth"):
            StreamHarness(core, depth)
    with pytest.raises(ValueError, match="period_ns"):
        clock_shell("module m(clk);\n  input clk;\nendmodule\n", "m", "top", 5)
    with pytest.raises(ValueError, match="no 1-bit clk"):
        clock_shell("module m(a);\n  input a;\nendmodule\n", "m", "top")

    class Dut:
        pass

    bulk = BulkStreams(Dut(), 8, 64)
    with pytest.raises(ValueError, match="gap"):
        import asyncio
        asyncio.run(bulk.run([0, TICK], 1, gap=1.0))
