"""Neuron core under Verilator against the core golden model (and so level 1).

Random fully connected layers (bw 1..8, bv 2..16, every leak/reset/threshold mode, saturate
and wrap) on random event streams (repeated sources, out-of-range sources, ticks) with random
idle gaps on the input and random back-pressure on the output. Compared: every output event,
the whole array afterwards (potentials included), and the status counters (events in, spikes
out, ticks, batches, errors, work cycles).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from flexspim.config import CoreConfig, MacroConfig
from flexspim.formal.mutants import Mutant, mutate
from flexspim.golden.batching import TICK
from flexspim.golden.core import CoreModel
from flexspim.testbench.sim import CocotbFailure

try:
    import cocotb
except ImportError:  # pragma: no cover
    cocotb = None


def first_difference(got: list[int], want: list[int]) -> str:
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            step = want[:i].count(TICK)
            return (f"first difference at output event {i} (time step {step}): DUT "
                    f"{'tick' if g == TICK else f'neuron {g}'}, golden "
                    f"{'tick' if w == TICK else f'neuron {w}'}")
    return f"DUT sent {len(got)} events, golden {len(want)}"


async def check_array_and_counters(drv, model, want, ev, where: str) -> None:
    """The whole array and every status counter of the DUT against the golden core run
    ``want`` of stream ``ev`` (the model after it)."""
    bits = await drv.read_array()
    bad = np.argwhere(bits != model.macro.bits)
    assert bad.size == 0, (f"{where}: array row {bad[0][0]} column {bad[0][1]} differs from "
                           f"the golden model")
    counters = await drv.counters()
    expect = {"EVENTS_IN": len(ev), "SPIKES_OUT": int((want.events != TICK).sum()),
              "TICKS": int((ev == TICK).sum()), "BATCHES": want.batches,
              "ERRORS": want.errors, "CYCLES": want.cycles}
    assert counters == expect, f"{where}: counters {counters}, golden {expect}"


async def handshake_span(dut, done: list) -> None:
    """Count cycles (at falling edges) from the first ``ev_in`` handshake; ``done[0]`` ends
    up as the cycle of the latest ``ev_out`` handshake (the watch is cancelled by the
    caller)."""
    from cocotb.triggers import FallingEdge

    cycle = None
    while True:
        await FallingEdge(dut.clk)
        if cycle is None and int(dut.ev_in__valid.value) and int(dut.ev_in__ready.value):
            cycle = 0
        if cycle is not None:
            if int(dut.ev_out__valid.value) and int(dut.ev_out__ready.value):
                done[:] = [cycle]
            cycle += 1


async def run_layer_case(drv, rng, n_events, gap, stall, bad_rate, tag):
    """One random layer and stream (see `run_stream_case`)."""
    from flexspim.testbench.core_driver import random_events, random_fc_case

    layer, layout, fc = random_fc_case(rng, drv.core)
    ev = random_events(rng, layout.n_in, n_events, tick_rate=float(rng.uniform(0.01, 0.2)),
                       bad_rate=bad_rate, index_bits=drv.core.index_bits)
    await run_stream_case(drv, rng, layer, layout, fc, ev, gap, stall, tag)


async def run_stream_case(drv, rng, layer, layout, fc, ev, gap, stall, tag):
    """Load ``fc``, run stream ``ev`` with input gaps and output stalls at the given rates,
    and compare the output, the array and the counters with the golden core; at full speed
    (no gap, no stall) the end-to-end cycles are compared with `golden.core_timeline` too."""
    import cocotb as _c

    from flexspim.testbench.coverage import Coverage, count_clamps

    core = drv.core
    model = CoreModel(core, layer, layout)
    model.load(fc)
    await drv.write_array(model.macro.bits)
    await drv.configure(layer, layout)                   # also clears error and counters
    cov = Coverage()
    with count_clamps(cov):
        want = model.run(ev)
    cov.layer(layer)
    cov.batches(ev, core.macro.batch_max, layout.n_in)
    cov.streams(gap, stall, dropped=want.errors)
    cov.save()
    ticks = int((ev == TICK).sum())
    got: list[int] = []
    last_out: list[int] = []
    span = _c.start_soon(handshake_span(drv.dut, last_out))
    sink = _c.start_soon(drv.receive(ticks, rng, stall, got))
    await drv.send(ev, rng, gap)
    await sink
    span.cancel()
    where = f"{tag}: {layer}, {layout}"
    assert got == want.events.tolist(), f"{where}: {first_difference(got, want.events.tolist())}"
    if gap == 0 and stall == 0:
        assert last_out[0] + 1 == want.elapsed, (
            f"{where}: the stream took {last_out[0] + 1} cycles end to end, golden "
            f"timeline {want.elapsed}")
    await check_array_and_counters(drv, model, want, ev, where)
    assert (await drv.read_reg("STATUS")) >> 1 & 1 == int(want.errors > 0)


def fc_case(rng, core: CoreConfig, layer, n_in: int, n_out: int):
    """A fixed layer's packed layout and random weights over the whole ``bw``-bit range."""
    from flexspim.config import FCLayout
    from flexspim.golden.layers import FCLayer

    layout = FCLayout.packed(core, layer, n_in, n_out)
    lo = -(1 << (layer.bw - 1))
    return layout, FCLayer(rng.integers(lo, -lo, size=(n_out, n_in)), layer)


def repeat_patterns(n_in: int, P: int) -> np.ndarray:
    """A stream of the ways a repeated source meets the batch logic (the collector parks it
    in its K register and opens the next batch with it): back-to-back repeats of one source,
    a repeat inside a batch (a b a), a repeat that would have filled the batch, a repeat just
    before a tick and before an out-of-range source, a source repeated across a tick (not a
    repeat), full batches between them (full when ``n_in >= P``). ``n_in >= 3``."""
    a, b, c, bad = 0, 1, n_in - 1, n_in
    full = [i % n_in for i in range(P)]
    pats = [
        [a, a, a, a],                       # every event closes the batch before it
        [a, b, a, b, a],                    # repeats inside a batch
        full[:-1] + full[-2:-1],            # the P-th event repeats: K instead of a full batch
        [c, c, TICK],                       # K's event is the only one before the tick
        [b, b, bad, b],                     # K then an event the core drops and counts
        [a, TICK, a],                       # across a tick: a new batch, no repeat
        full, full, [c, c], full,
    ]
    return np.array([e for p in pats for e in p] + [TICK], dtype=np.int64)


def _setup():
    core = CoreConfig.from_dict(json.loads(os.environ["FLEXSPIM_CORE"]))
    seed = int(os.environ["FLEXSPIM_SEED"])
    return core, np.random.default_rng(seed), int(os.environ.get("FLEXSPIM_TRIALS", "3")), \
        int(os.environ.get("FLEXSPIM_EVENTS", "500")), seed


# A deadlock must fail the test, not hang it: a budget of simulated time, generous (200
# cycles per event and trial) next to the ~30 cycles an event takes.
BUDGET_NS = (int(os.environ.get("FLEXSPIM_TRIALS", "3")) + 2) * \
    (int(os.environ.get("FLEXSPIM_EVENTS", "500")) + 500) * 2000

if cocotb is not None:
    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def core_random_layers(dut):
        from flexspim.testbench.core_driver import CoreDriver

        core, rng, trials, n_events, seed = _setup()
        dut._log.info("seed=%d core=%s", seed, core)
        drv = CoreDriver(dut, core)
        await drv.start()
        for t in range(trials):
            gap, stall = [(0.0, 0.0), (0.3, 0.0), (0.0, 0.6), (0.5, 0.5)][t % 4]
            await run_layer_case(drv, rng, n_events, gap, stall, 0.01,
                                 f"layer {t} (gap {gap}, stall {stall})")

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def core_repeated_sources(dut):
        """Directed: `repeat_patterns` on a fixed layer, at full speed (end-to-end cycles
        checked against the golden timeline), then with input gaps and output stalls."""
        from flexspim.config import LayerConfig
        from flexspim.testbench.core_driver import CoreDriver

        core, rng, trials, n_events, seed = _setup()
        drv = CoreDriver(dut, core)
        await drv.start()
        layer = LayerConfig(bw=2, bv=5, threshold=3, leak_mode="shift", leak=2)
        n_in = min(core.macro.batch_max + 2, (core.macro.rows - layer.bv) // layer.bw)
        layout, fc = fc_case(rng, core, layer, n_in, core.macro.cols)
        ev = repeat_patterns(n_in, core.macro.batch_max)
        for gap, stall in [(0.0, 0.0), (0.4, 0.4)]:
            await run_stream_case(drv, rng, layer, layout, fc, ev, gap, stall,
                                  f"repeat patterns (gap {gap}, stall {stall})")

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def core_full_fifo(dut):
        """Input at full speed, output stalled 95% of the time: the FIFO fills and the input
        is back-pressured; nothing is lost or duplicated."""
        from cocotb.triggers import FallingEdge

        from flexspim.testbench.core_driver import CoreDriver

        core, rng, trials, n_events, seed = _setup()
        drv = CoreDriver(dut, core)
        await drv.start()
        saw_full = []

        async def watch():
            while True:
                await FallingEdge(dut.clk)
                if int(dut.ev_in__valid.value) and not int(dut.ev_in__ready.value):
                    saw_full.append(1)
                    return
        task = cocotb.start_soon(watch())
        await run_layer_case(drv, rng, n_events, 0.0, 0.95, 0.0, "full FIFO")
        task.cancel()
        assert saw_full, "the input was never back-pressured"

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def core_reset_mid_run(dut):
        """Reset while events are in flight: the core is idle at once with an empty FIFO and
        cleared registers; reconfigured and reloaded, it runs on bit-exactly."""
        from cocotb.triggers import ClockCycles, RisingEdge

        from flexspim.testbench.core_driver import CoreDriver, random_events, random_fc_case

        core, rng, trials, n_events, seed = _setup()
        drv = CoreDriver(dut, core)
        await drv.start()
        layer, layout, fc = random_fc_case(rng, core)
        model = CoreModel(core, layer, layout)
        model.load(fc)
        await drv.write_array(model.macro.bits)
        await drv.configure(layer, layout)
        dut.ev_out__ready.value = 1
        src = cocotb.start_soon(drv.send(random_events(rng, layout.n_in, 200), rng, 0.1))
        await ClockCycles(dut.clk, int(rng.integers(20, 200)))
        src.cancel()
        dut.ev_in__valid.value = 0
        dut.rst.value = 1
        await RisingEdge(dut.clk)
        dut.rst.value = 0
        await RisingEdge(dut.clk)
        assert int(dut.idle.value) == 1 and int(dut.ev_out__valid.value) == 0
        assert await drv.read_reg("N_IN") == 0, "configuration survived the reset"
        if "OPERAND_COLS" in drv.regs:
            assert await drv.read_reg("OPERAND_COLS") == 1, "OPERAND_COLS resets to 1"
        await run_layer_case(drv, rng, n_events, 0.2, 0.2, 0.0, "after reset")


    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def core_every_shape(dut):
        """Directed (issue 20): one run, a layer of each shape N_C = 1, 2, .. max in turn and
        then back to 1, each over more than one slot, reconfigured between them without a
        reset; streams with gaps and stalls."""
        from flexspim.testbench.core_driver import CoreDriver, random_events, random_fc_case

        core, rng, trials, n_events, seed = _setup()
        drv = CoreDriver(dut, core)
        await drv.start()
        M = core.macro.max_operand_cols
        for k, n_c in enumerate([1 << t for t in range(M.bit_length())] + [1]):
            for _ in range(50):            # several sources, so the weight rows step
                layer, layout, fc = random_fc_case(rng, core, max_bv=10, operand_cols=n_c,
                                                   multi_slot=True)
                if layout.n_in >= 2:
                    break
            ev = random_events(rng, layout.n_in, n_events // 2, tick_rate=0.1, bad_rate=0.01,
                               index_bits=core.index_bits)
            gap, stall = [(0.0, 0.0), (0.3, 0.3)][k % 2]
            await run_stream_case(drv, rng, layer, layout, fc, ev, gap, stall,
                                  f"operand_cols {n_c} (gap {gap}, stall {stall})")

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def core_operand_cols_register(dut):
        """Directed: OPERAND_COLS (address 13) takes exactly the powers of two up to
        ``max_operand_cols``; every other value, and any write on a vertical core (where
        the register does not exist), is refused, counted in ERRORS and leaves it as it
        was (`flexspim.regmap.register_accepts`)."""
        from flexspim.regmap import register_accepts
        from flexspim.testbench.core_driver import CoreDriver

        core, rng, trials, n_events, seed = _setup()
        drv = CoreDriver(dut, core)
        await drv.start()
        M = core.macro.max_operand_cols
        await drv.write_reg("STATUS", 0b110)
        errors, value = 0, 1
        for v in [0, 1, 2, 3, M, M + 1, 2 * M, 5, 6, 7, 8, 16, 1 << 31]:
            await drv.write_reg("13", v)
            if M > 1 and register_accepts(core, "OPERAND_COLS", v):
                value = v
            else:
                errors += 1
            assert await drv.read_reg("ERRORS") == errors, f"after writing {v} to address 13"
            if M > 1:
                assert await drv.read_reg("OPERAND_COLS") == value, f"after writing {v}"
        assert (await drv.read_reg("STATUS")) >> 1 & 1 == 1, "refused writes set the error"


# -- pytest side ---------------------------------------------------------------------------

CORES = [
    CoreConfig(MacroConfig(rows=16, cols=1, batch_max=1), fifo_depth=1, index_bits=6),
    CoreConfig(MacroConfig(rows=37, cols=13, batch_max=3), fifo_depth=2, index_bits=8),
    CoreConfig(MacroConfig(rows=64, cols=8, batch_max=8), fifo_depth=16, index_bits=12),
    # operand shape (issue 20): layers of every N_C in 1..4 in one run, a trailing column
    CoreConfig(MacroConfig(rows=32, cols=9, batch_max=2, max_operand_cols=4), fifo_depth=3,
               index_bits=7),
]
#: regress tier: shape at P = 8 up to N_C = 8
SHAPED_REGRESS = CoreConfig(MacroConfig(rows=32, cols=16, batch_max=8, max_operand_cols=8),
                            fifo_depth=8, index_bits=9)


def run_core_tests(core: CoreConfig, seed: int, trials: int, events: int, testcase=None,
                   array: str = "behavioural", test_module: str = "test_rtl_core",
                   design=None, name: str = "core"):
    from flexspim.hdl.core import NeuronCore
    from flexspim.testbench.sim import run_design

    return run_design((design or NeuronCore)(core), top="flexspim_core", name=name, config=core,
                      test_module=test_module, seed=seed, testcase=testcase, array=array,
                      env={"FLEXSPIM_CORE": json.dumps(core.to_dict()),
                           "FLEXSPIM_SEED": str(seed), "FLEXSPIM_TRIALS": str(trials),
                           "FLEXSPIM_EVENTS": str(events)})


@pytest.mark.rtl
@pytest.mark.parametrize("core", CORES, ids=lambda c: (f"{c.macro.rows}x{c.macro.cols}"
                                                       f"_P{c.macro.batch_max}_f{c.fifo_depth}"))
def test_core(core, seed, regress):
    run_core_tests(core, seed, 12 if regress else 4, 3000 if regress else 600)


@pytest.mark.rtl
def test_core_shaped_p8(seed, regress):
    if not regress:
        pytest.skip("regress tier")
    run_core_tests(SHAPED_REGRESS, seed, 12, 2000)


@pytest.mark.rtl
def test_core_with_blackbox_array_and_model_file(seed, regress):
    """The core regression with the storage from the separate model file (`--array
    blackbox`)."""
    run_core_tests(CORES[1], seed, 6 if regress else 3, 1500 if regress else 400,
                   array="blackbox")


# Broken copies of the core's shape logic (issue 20) that the shaped regression must catch.
CORE_SHAPE_MUTANTS = [
    Mutant("core_spike_index_not_shifted", "flexspim.hdl.core", "NeuronCore",
           "[low >> t for t in range(modes)]", "[low for t in range(modes)]",
           "a spike's neuron index is its column, not its group"),
    Mutant("core_weight_rows_vertical", "flexspim.hdl.core", "NeuronCore",
           "(r[\"BW\"] + ((1 << t) - 1)) >> t for t in range(modes)",
           "r[\"BW\"] for t in range(modes)",
           "the weight of source i is looked for at i * bw rows, not i * ceil(bw / N_C)"),
    Mutant("core_slot_step_cols", "flexspim.hdl.core", "NeuronCore",
           "[below(rem, G[t] + 1) for t in range(modes)]",
           "[below(rem, cols + 1) for t in range(modes)]",
           "the last slot is found as if a slot held cols neurons at every shape"),
]


@pytest.mark.rtl
@pytest.mark.parametrize("mutant", CORE_SHAPE_MUTANTS, ids=lambda m: m.name)
def test_core_shape_mutants_are_caught(mutant, seed, regress):
    if not regress and mutant is not CORE_SHAPE_MUTANTS[0]:
        pytest.skip("regress tier (the fast tier runs the first mutant)")
    with pytest.raises(CocotbFailure, match=r"cocotb tests failed") as err:
        run_core_tests(CORES[3], seed, 1, 300, testcase="core_every_shape",
                       design=mutate(mutant), name=f"core-mutant-{mutant.name}")
    assert "golden" in str(err.value), str(err.value)


def test_core_shape_mutants_still_apply_to_the_source():
    for m in CORE_SHAPE_MUTANTS:
        mutate(m)
