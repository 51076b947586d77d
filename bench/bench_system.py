"""System benchmark (``make bench-system``): a 2-core 64x64 accelerator, end to end.

A two-layer FC network (24 inputs -> 26 -> 64, see `make_network`) runs on random
input events (a tick every 100 events, input at full speed, no output back-pressure) on the
RTL under cocotb + Verilator and on the golden system model. On the RTL (the system inside
`testbench.stream_harness.StreamHarness`, clock generated in the simulator) the stream is cut
into segments driven alternately by the Python stream driver that wakes every clock
(`CocotbBackend`, the harness transparent) and by the bulk driver (`BulkCocotbBackend`: the
stream in HDL memories, Python asleep until the run ends or a memory needs service), so load
changes on a shared machine hit both alike. Reported: simulated cycles per input event, input
events per second at a 100 MHz clock, the simulator's speed with each driver and their
ratio, and the golden system model's speed. The whole output is compared with the golden
model's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flexspim.config import CoreConfig, LayerConfig, MacroConfig, SystemConfig  # noqa: E402
from flexspim.frontend.netfile import save_network  # noqa: E402
from flexspim.golden.batching import TICK  # noqa: E402
from flexspim.golden.layers import FCLayer  # noqa: E402
from flexspim.golden.network import Network  # noqa: E402
from flexspim.hdl.system import FlexSpimSystem  # noqa: E402
from flexspim.testbench.sim import BUILD_ROOT, run_cocotb  # noqa: E402
from flexspim.testbench.stream_harness import emit_harness  # noqa: E402
from flexspim.testbench.system_driver import GoldenBackend, SystemDriver  # noqa: E402

CLOCK_HZ = 100e6
DEPTH = 4096            # events per harness memory (longer streams go in chunks)


def make_network(rng) -> Network:
    """24 inputs -> 26 -> 64, 2-bit weights, 10-bit potentials: each layer fits 64 rows."""
    l0 = LayerConfig(bw=2, bv=10, threshold=6, leak_mode="shift", leak=3)
    l1 = LayerConfig(bw=2, bv=10, threshold=4, saturate=False)
    w0 = np.where(rng.random((26, 24)) < 0.6, rng.integers(0, 2, (26, 24)), -2)
    w1 = np.where(rng.random((64, 26)) < 0.6, rng.integers(0, 2, (64, 26)), -2)
    return Network([FCLayer(w0, l0, name="fc0"), FCLayer(w1, l1, name="fc1")])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=20000)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    system = SystemConfig(CoreConfig(MacroConfig(rows=64, cols=64, batch_max=8),
                                     fifo_depth=16, index_bits=12), n_cores=2)
    net = make_network(rng)
    n_in = net.layers[0].n_in
    ev = rng.integers(0, n_in, size=a.events)
    ev[99::100] = TICK
    ev = np.append(ev, TICK)
    build = BUILD_ROOT / "bench" / "system2x64"
    build.mkdir(parents=True, exist_ok=True)
    save_network(net, build / "net.toml")
    np.save(build / "events.npy", ev)

    print("[1/2] golden system model ...", flush=True)
    drv = SystemDriver(GoldenBackend(system), system)
    asyncio.run(drv.load(net, monitor=False))
    t0 = time.perf_counter()
    want = asyncio.run(drv.backend.stream(ev, 0))
    golden_s = time.perf_counter() - t0

    print("[2/2] RTL under cocotb + Verilator ...", flush=True)
    hb = emit_harness(FlexSpimSystem(system), "flexspim_system_tb", build, DEPTH)
    out = build / "out"
    run_cocotb(test_module="bench_system_tb", build_dir=build, **hb.run_kwargs(),
               extra_env={"FLEXSPIM_SYSTEM": json.dumps(system.to_dict()),
                          "FLEXSPIM_NET": str(build / "net.toml"),
                          "FLEXSPIM_EVENTS": str(build / "events.npy"),
                          "FLEXSPIM_DEPTH": str(DEPTH), "FLEXSPIM_BENCH_OUT": str(out)})
    n_ev = int((ev != TICK).sum())
    got = np.load(f"{out}.npy")
    res = json.loads(Path(f"{out}.json").read_text())
    same = got.shape == want.shape and bool((got == want).all())
    py, bk = res["python"], res["bulk"]
    cycles = py["cycles"] + bk["cycles"]
    speed_py, speed_bk = py["cycles"] / py["wall"], bk["cycles"] / bk["wall"]
    cpu_py, cpu_bk = py["cycles"] / py["cpu"], bk["cycles"] / bk["cpu"]
    print()
    print("| 2 cores, 64x64, P=8 | value |")
    print("|---|---|")
    print(f"| input events / time steps | {n_ev} / {int((ev == TICK).sum())} |")
    print(f"| simulated cycles per input event | {cycles / n_ev:.2f} |")
    print(f"| input events/s at {CLOCK_HZ / 1e6:.0f} MHz | {CLOCK_HZ * n_ev / cycles:,.0f} |")
    print(f"| simulator speed, Python driver (cycles/s) | {speed_py:,.0f} |")
    print(f"| simulator speed, bulk driver (cycles/s) | {speed_bk:,.0f} |")
    print(f"| speed-up of the bulk driver | {speed_bk / speed_py:.1f}x |")
    print(f"| simulator speed per CPU second, Python driver (cycles/s) | {cpu_py:,.0f} |")
    print(f"| simulator speed per CPU second, bulk driver (cycles/s) | {cpu_bk:,.0f} |")
    print(f"| speed-up of the bulk driver, CPU time | {cpu_bk / cpu_py:.1f}x |")
    print(f"| bulk: Python wake-ups, memory load+read time | {bk['wakeups']}, "
          f"{bk['io_seconds']:.2f} s |")
    print(f"| RTL simulation, input events/s of wall time (bulk) | "
          f"{bk['events'] / bk['wall']:,.0f} |")
    print(f"| golden system model, input events/s of wall time | {n_ev / golden_s:,.0f} |")
    print(f"| outputs equal (RTL vs golden) | {same} |")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
