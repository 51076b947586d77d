"""cocotb side of bench_system.py: a network streamed end to end, timed.

The DUT is the system inside `StreamHarness`. The stream is cut (after ticks) into segments
driven alternately through `CocotbBackend` (Python every clock, the harness transparent) and
`BulkCocotbBackend` (the harness's memories), so both drivers see the same load on a shared
machine; the whole output is saved for the comparison with the golden model.
"""

import json
import os

import cocotb
import numpy as np
from bench_core_tb import segments

from flexspim.config import SystemConfig
from flexspim.frontend.netfile import load_network
from flexspim.golden.batching import TICK
from flexspim.testbench.system_driver import BulkCocotbBackend, CocotbBackend, SystemDriver


@cocotb.test()
async def bench_system(dut):
    import time

    from cocotb.utils import get_sim_time

    system = SystemConfig.from_dict(json.loads(os.environ["FLEXSPIM_SYSTEM"]))
    net = load_network(os.environ["FLEXSPIM_NET"])
    events = np.load(os.environ["FLEXSPIM_EVENTS"])
    backend = BulkCocotbBackend(dut, system, int(os.environ["FLEXSPIM_DEPTH"]))
    await backend.start()
    drv = SystemDriver(backend, system)
    await drv.load(net, monitor=False)
    out: list[np.ndarray] = []
    res = {k: {"events": 0, "cycles": 0.0, "wall": 0.0, "cpu": 0.0, "wakeups": 0,
               "io_seconds": 0.0}
           for k in ("python", "bulk")}
    for i, seg in enumerate(segments(events, 8)):
        kind = ("python", "bulk")[i % 2]
        ticks = int((seg == TICK).sum())
        t0, w0, c0 = get_sim_time("ns"), time.perf_counter(), time.process_time()
        if kind == "bulk":
            out.append(await backend.stream(seg, ticks))
            res[kind]["wakeups"] += backend.bulk.wakeups
            res[kind]["io_seconds"] += backend.bulk.io_seconds
        else:
            out.append(await CocotbBackend.stream(backend, seg, ticks))
        r = res[kind]
        r["cycles"] += (get_sim_time("ns") - t0) / backend.PERIOD_NS
        r["wall"] += time.perf_counter() - w0
        r["cpu"] += time.process_time() - c0
        r["events"] += int((seg != TICK).sum())
    name = os.environ["FLEXSPIM_BENCH_OUT"]
    np.save(name + ".npy", np.concatenate(out))
    with open(name + ".json", "w") as f:
        json.dump(res, f)
