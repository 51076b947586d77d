"""cocotb side of bench_system.py: a network streamed end to end, timed.

The DUT is the system inside `StreamHarness`; ``bench_system_python`` streams through
`CocotbBackend` (Python every clock, the harness transparent), ``bench_system_bulk`` through
`BulkCocotbBackend` (the harness's memories). Each saves its output for the comparison with
the golden model.
"""

import json
import os
import time

import cocotb
import numpy as np

from flexspim.config import SystemConfig
from flexspim.frontend.netfile import load_network
from flexspim.testbench.system_driver import BulkCocotbBackend, SystemDriver


async def _bench(dut, bulk: bool):
    from cocotb.utils import get_sim_time

    system = SystemConfig.from_dict(json.loads(os.environ["FLEXSPIM_SYSTEM"]))
    net = load_network(os.environ["FLEXSPIM_NET"])
    events = np.load(os.environ["FLEXSPIM_EVENTS"])
    backend = BulkCocotbBackend(dut, system, int(os.environ["FLEXSPIM_DEPTH"]))
    await backend.start()
    drv = SystemDriver(backend, system)
    await drv.load(net, monitor=False)
    ticks = int((events == -1).sum())
    t0, w0 = get_sim_time("ns"), time.perf_counter()
    if bulk:
        out = await backend.stream(events, ticks)
    else:
        out = await super(BulkCocotbBackend, backend).stream(events, ticks)
    t1, w1 = get_sim_time("ns"), time.perf_counter()
    name = os.environ["FLEXSPIM_BENCH_OUT"] + ("-bulk" if bulk else "-python")
    np.save(name + ".npy", out)
    with open(name + ".json", "w") as f:
        json.dump({"cycles": (t1 - t0) / backend.PERIOD_NS, "wall": w1 - w0,
                   "wakeups": backend.bulk.wakeups, "io_seconds": backend.bulk.io_seconds}, f)


@cocotb.test()
async def bench_system_python(dut):
    await _bench(dut, bulk=False)


@cocotb.test()
async def bench_system_bulk(dut):
    await _bench(dut, bulk=True)
