"""cocotb module behind ``flexspim run --rtl``: runs a network on the generated system.

Reads ``FLEXSPIM_RUN_DIR/job.json`` (system config, network path, events file), programs the
DUT with `SystemDriver` and writes ``FLEXSPIM_RUN_DIR/rtl_result.npz``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cocotb
import numpy as np

from flexspim.config import SystemConfig
from flexspim.frontend.netfile import load_network
from flexspim.progress import bar

from .system_driver import CocotbBackend, SystemDriver


@cocotb.test()
async def run_network(dut):
    folder = Path(os.environ["FLEXSPIM_RUN_DIR"])
    job = json.loads((folder / "job.json").read_text())
    system = SystemConfig.from_dict(job["system"])
    net = load_network(job["network"])
    events = np.load(folder / "events.npy")

    backend = CocotbBackend(dut, system,
                            progress=lambda done, total: bar(done, total, "RTL", sys.stdout))
    await backend.start()
    drv = SystemDriver(backend, system)
    await drv.load(net, monitor=True)
    run = await drv.run(events)
    np.savez(folder / "rtl_result.npz", output=run.output,
             **{f"layer{i}": e for i, e in enumerate(run.layers)},
             **{f"potentials{i}": v for i, v in enumerate(run.potentials)})
