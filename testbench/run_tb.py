"""cocotb module behind ``flexspim run --rtl``: runs a network on the generated system.

Reads ``FLEXSPIM_RUN_DIR/job.json`` (system config, network path, events file), programs the
DUT with `SystemDriver` and writes ``FLEXSPIM_RUN_DIR/rtl_result.npz``. A batch job
(``"batch": true``) runs every sample of ``samples.npz`` on the one loaded DUT, resetting the
neuron state between samples (`SystemDriver.clear_potentials`), and records per layer the
concatenated streams with per-sample offsets, the cores' work cycles per sample and the
simulated cycles each reset took.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import cocotb
import numpy as np

from flexspim.config import SystemConfig
from flexspim.frontend.netfile import load_network
from flexspim.progress import bar

from .system_driver import CocotbBackend, SystemDriver, SystemRun, split_monitor


@cocotb.test()
async def run_network(dut):
    folder = Path(os.environ["FLEXSPIM_RUN_DIR"])
    job = json.loads((folder / "job.json").read_text())
    system = SystemConfig.from_dict(job["system"])
    net = load_network(job["network"])
    if job.get("batch"):
        await run_batch(dut, folder, job, system, net)
        return
    events = np.load(folder / "events.npy")

    backend = CocotbBackend(dut, system,
                            progress=lambda done, total: bar(done, total, "RTL", sys.stdout))
    await backend.start()
    drv = SystemDriver(backend, system)
    await drv.load_split(net, monitor=True)
    out = await backend.stream(events, int((events == -1).sum()))
    run = SystemRun(out, split_monitor(out, drv.mapping), await drv.potentials_by_layer())
    np.savez(folder / "rtl_result.npz", output=run.output,
             **{f"layer{i}": e for i, e in enumerate(run.layers)},
             **{f"potentials{i}": v for i, v in enumerate(run.potentials)})


async def run_batch(dut, folder: Path, job: dict, system: SystemConfig, net) -> None:
    from cocotb.utils import get_sim_time

    from flexspim.frontend.dataset import load_dataset

    samples = load_dataset(folder / "samples.npz", net.layers[0].n_in).samples
    backend = CocotbBackend(dut, system)
    await backend.start()
    drv = SystemDriver(backend, system)
    mapping = await drv.load_split(net, monitor=job["monitor"])
    period = CocotbBackend.PERIOD_NS
    streams = [[] for _ in net.layers]
    cycles, resets, seconds = [], [], []
    for i, ev in enumerate(samples):
        w0 = time.perf_counter()
        c0 = sum(await drv.core_cycles())
        t0 = get_sim_time("ns")
        await drv.clear_potentials()
        resets.append((get_sim_time("ns") - t0) / period)
        out = await backend.stream(ev, int((ev == -1).sum()))
        cycles.append(sum(await drv.core_cycles()) - c0)
        seconds.append(time.perf_counter() - w0)
        for k, e in enumerate(split_monitor(out, mapping)):
            streams[k].append(e)
        bar(i + 1, len(samples), "RTL", sys.stdout, unit="sample")
    arrays = {}
    for k, ss in enumerate(streams):
        arrays[f"layer{k}"] = np.concatenate(ss) if ss else np.zeros(0, np.int64)
        arrays[f"offsets{k}"] = np.r_[0, np.cumsum([len(s) for s in ss])].astype(np.int64)
    np.savez(folder / "rtl_result.npz", cycles=np.array(cycles, np.int64),
             reset_cycles=np.array(resets), seconds=np.array(seconds), **arrays)
