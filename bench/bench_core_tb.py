"""cocotb side of bench_core.py: a stream at full speed, no back-pressure, timed.

The DUT is the core inside `StreamHarness`. The stream is cut (after ticks) into segments
driven alternately from Python every clock (`testbench.streams`, the harness transparent) and
through the harness's memories (`testbench.bulk_streams`), so both drivers see the same load
on a shared machine; the whole output and the work-cycle counter are checked against the
golden core model.
"""

import json
import os
import time

import cocotb
import numpy as np

from flexspim.config import CoreConfig, FCLayout, LayerConfig
from flexspim.golden.batching import TICK
from flexspim.golden.core import CoreModel
from flexspim.golden.layers import FCLayer
from flexspim.testbench.bulk_streams import BulkStreams
from flexspim.testbench.core_driver import CoreDriver


async def _bench(dut):
    core = CoreConfig.from_dict(json.loads(os.environ["FLEXSPIM_CORE"]))
    n = int(os.environ["FLEXSPIM_EVENTS"])
    rng = np.random.default_rng(0)
    layer = LayerConfig.from_dict(json.loads(os.environ["FLEXSPIM_LAYER"]))
    n_in = (core.macro.rows - layer.bv) // layer.bw
    layout = FCLayout.packed(core, layer, n_in, core.macro.cols)
    lo, hi = json.loads(os.environ["FLEXSPIM_WEIGHTS"])      # weights drawn from [lo, hi]
    fc = FCLayer(rng.integers(lo, hi + 1, size=(layout.n_out, n_in)), layer)
    model = CoreModel(core, layer, layout)
    model.load(fc)
    # sources in cyclic order (n_in >= P, so every batch is full until a tick cuts it), a
    # tick every FLEXSPIM_TICK_EVERY events
    ev = np.arange(n) % n_in
    every = int(os.environ["FLEXSPIM_TICK_EVERY"])
    ev[every - 1::every] = TICK
    ev = np.append(ev, TICK)
    streams = BulkStreams(dut, core.index_bits, int(os.environ["FLEXSPIM_DEPTH"]))
    streams.idle()
    drv = CoreDriver(dut, core)
    await drv.start()
    await drv.write_array(model.macro.bits)     # before the model runs and changes them
    want = model.run(ev)
    await drv.configure(layer, layout)
    await drv.write_reg("STATUS", 0b110)
    ticks = int((ev == TICK).sum())
    got, res = await run_alternating(dut, ev, streams, drv, rng)
    w = want.events.tolist()
    if got != w:
        i = next((i for i, (a, b) in enumerate(zip(got, w)) if a != b), min(len(got), len(w)))
        raise AssertionError(f"output differs first at event {i} (step {w[:i].count(TICK)}): "
                             f"{got[i - 3:i + 3]} vs golden {w[i - 3:i + 3]}; lengths "
                             f"{len(got)}, {len(w)}")
    counters = await drv.counters()
    assert counters["CYCLES"] == want.cycles, (
        f"work cycles {counters}, golden {want.cycles} cycles, {want.batches} batches, "
        f"{len(ev)} events in")
    res.update(events=int((ev != TICK).sum()), ticks=ticks, work_cycles=want.cycles,
               batches=want.batches, spikes=int((want.events != TICK).sum()),
               elapsed=want.elapsed)
    with open(os.environ["FLEXSPIM_BENCH_OUT"], "w") as f:
        json.dump(res, f)


def segments(ev: np.ndarray, n: int) -> list[np.ndarray]:
    """``ev`` cut after ticks into about ``n`` pieces of similar length."""
    ticks = np.flatnonzero(ev == TICK)
    cuts = sorted({int(ticks[np.searchsorted(ticks, k * len(ev) // n)]) + 1
                   for k in range(1, n) if k * len(ev) // n <= ticks[-1]})
    return [p for p in np.split(ev, cuts) if p.size]


async def run_alternating(dut, ev, streams, drv, rng, n_segments: int = 8):
    """The stream in segments, driven alternately by the Python and the bulk driver, so a
    change in the machine's load hits both alike; returns the output and, per driver, its
    events, simulated cycles, wall time, CPU time of this process (the simulator and the
    Python in it: unlike wall time, not stretched by other jobs), wake-ups and memory I/O
    time."""
    from cocotb.utils import get_sim_time

    got: list[int] = []
    res = {k: {"events": 0, "sim_cycles": 0.0, "wall": 0.0, "cpu": 0.0, "wakeups": 0,
               "io_seconds": 0.0}
           for k in ("python", "bulk")}
    for i, seg in enumerate(segments(ev, n_segments)):
        kind = ("python", "bulk")[i % 2]
        ticks = int((seg == TICK).sum())
        t0, w0, c0 = get_sim_time("ns"), time.perf_counter(), time.process_time()
        if kind == "bulk":
            got += (await streams.run(seg, ticks)).tolist()
            res[kind]["wakeups"] += streams.wakeups
            res[kind]["io_seconds"] += streams.io_seconds
        else:
            sink = cocotb.start_soon(drv.receive(ticks, rng, 0.0, got))
            await drv.send(seg, rng, 0.0)
            await sink
        r = res[kind]
        r["sim_cycles"] += (get_sim_time("ns") - t0) / CoreDriver.PERIOD_NS
        r["wall"] += time.perf_counter() - w0
        r["cpu"] += time.process_time() - c0       # this process: simulator and Python
        r["events"] += int((seg != TICK).sum())
    return got, res


@cocotb.test()
async def bench_core(dut):
    await _bench(dut)
