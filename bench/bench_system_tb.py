"""cocotb side of bench_system.py: a network streamed end to end, timed."""

import json
import os
import time

import cocotb
import numpy as np

from flexspim.config import SystemConfig
from flexspim.frontend.netfile import load_network
from flexspim.testbench.system_driver import CocotbBackend, SystemDriver


@cocotb.test()
async def bench_system(dut):
    from cocotb.utils import get_sim_time

    system = SystemConfig.from_dict(json.loads(os.environ["FLEXSPIM_SYSTEM"]))
    net = load_network(os.environ["FLEXSPIM_NET"])
    events = np.load(os.environ["FLEXSPIM_EVENTS"])
    backend = CocotbBackend(dut, system)
    await backend.start()
    drv = SystemDriver(backend, system)
    await drv.load(net, monitor=False)
    t0, w0 = get_sim_time("ns"), time.perf_counter()
    out = await backend.stream(events, int((events == -1).sum()))
    t1, w1 = get_sim_time("ns"), time.perf_counter()
    np.save(os.environ["FLEXSPIM_BENCH_OUT"], out)
    with open(os.environ["FLEXSPIM_BENCH_OUT"] + ".json", "w") as f:
        json.dump({"cycles": (t1 - t0) / CocotbBackend.PERIOD_NS, "wall": w1 - w0}, f)
