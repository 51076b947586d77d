"""cocotb side of bench_core.py: a stream at full speed, no back-pressure, timed.

The DUT is the core inside `StreamHarness`; ``bench_core_python`` drives the streams from
Python every clock (`testbench.streams`, the harness transparent), ``bench_core_bulk`` through
the harness's memories (`testbench.bulk_streams`). Both check every output event and the
work-cycle counter against the golden core model.
"""

import json
import os
import time

import cocotb
import numpy as np

from flexspim.config import CoreConfig, FCLayout, LayerConfig
from flexspim.golden.batching import TICK
from flexspim.golden.core import CoreModel
from flexspim.golden.network import FCLayer
from flexspim.testbench.bulk_streams import BulkStreams
from flexspim.testbench.core_driver import CoreDriver


async def _bench(dut, bulk: bool):
    from cocotb.utils import get_sim_time

    core = CoreConfig.from_dict(json.loads(os.environ["FLEXSPIM_CORE"]))
    n = int(os.environ["FLEXSPIM_EVENTS"])
    rng = np.random.default_rng(0)
    layer = LayerConfig(bw=4, bv=12, threshold=200, leak_mode="shift", leak=3)
    n_in = (core.macro.rows - layer.bv) // layer.bw
    layout = FCLayout.packed(core, layer, n_in, core.macro.cols)
    fc = FCLayer(rng.integers(-8, 8, size=(layout.n_out, n_in)), layer)
    model = CoreModel(core, layer, layout)
    model.load(fc)
    # distinct sources within each run of events, a tick every 100 events
    ev = np.concatenate([rng.permutation(n_in) for _ in range(n // n_in + 1)])[:n]
    ev[99::100] = TICK
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
    t0, w0 = get_sim_time("ns"), time.perf_counter()
    if bulk:
        got = (await streams.run(ev, ticks)).tolist()
    else:
        got = []
        sink = cocotb.start_soon(drv.receive(ticks, rng, 0.0, got))
        await drv.send(ev, rng, 0.0)
        await sink
    t1, w1 = get_sim_time("ns"), time.perf_counter()
    assert got == want.events.tolist()
    counters = await drv.counters()
    assert counters["CYCLES"] == want.cycles
    out = os.environ["FLEXSPIM_BENCH_OUT"] + ("-bulk" if bulk else "-python") + ".json"
    with open(out, "w") as f:
        json.dump({"events": int((ev != TICK).sum()), "ticks": ticks,
                   "sim_cycles": (t1 - t0) / CoreDriver.PERIOD_NS, "work_cycles": want.cycles,
                   "wall": w1 - w0, "batches": want.batches, "wakeups": streams.wakeups,
                   "io_seconds": streams.io_seconds}, f)


@cocotb.test()
async def bench_core_python(dut):
    await _bench(dut, bulk=False)


@cocotb.test()
async def bench_core_bulk(dut):
    await _bench(dut, bulk=True)
