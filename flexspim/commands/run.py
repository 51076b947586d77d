"""``flexspim run NETWORK EVENTS``: run a network on the accelerator, golden model or RTL.

NETWORK is a network description (``.toml`` + ``.npz``, see `flexspim.frontend.netfile`)
of fully connected layers; layer ``i`` goes to core ``i``. EVENTS is a ``.npy`` file holding
either a 1-D integer stream (source indices, -1 ends a time step) or tonic-format events (a
structured array with fields x, y, t, p), binned into time steps of ``--dt-us`` and
numbered ``(p, y, x)`` over a ``--sensor W,H`` sensor (square by default).

By default the register-level golden system model runs (no simulator); ``--rtl`` generates
the system's Verilog and runs the same driver on it under Verilator. Both write, into
``-o DIR``: ``output_events.npy`` (the external output stream), ``layers.npz`` (every layer's
events and final potentials) and ``raster.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..cli import HARDWARE_TABLES
from ..config import CoreConfig, MacroConfig, SystemConfig
from ..inputs import check_range, check_tonic, load_config, read_events, stream_events
from ..outputs import build_lock, check_out_dir, out_dir_arg, staged, stderr_to
from ..progress import bar

DEFAULTS = {"rows": 64, "cols": 64, "batch_max": 8}


def register(sub) -> None:
    p = sub.add_parser("run", help="run a network on the golden system model or the RTL",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("network", type=Path, help="network description (.toml)")
    p.add_argument("events", type=Path, help="event file (.npy)")
    p.add_argument("-o", "--out", type=out_dir_arg, default=Path("run-out"), metavar="DIR",
                   help="output folder (default run-out)")
    p.add_argument("--rtl", action="store_true", help="run the generated Verilog (Verilator)")
    g = p.add_argument_group("hardware (defaults: 64 x 64, P = 8, one core per layer)")
    g.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="TOML with [macro], [core] and [system] tables")
    g.add_argument("--rows", type=int)
    g.add_argument("--cols", type=int)
    g.add_argument("--batch", type=int, dest="batch_max")
    g.add_argument("--cores", type=int, help="number of cores (default: the layer count)")
    g.add_argument("--fifo-depth", type=int)
    g.add_argument("--index-bits", type=int)
    e = p.add_argument_group("tonic-format events")
    e.add_argument("--dt-us", type=int, help="time step in µs (default 1000)")
    e.add_argument("--sensor", help="W,H of the sensor (default: square, from the network)")
    p.set_defaults(func=run)


def system_from_args(args: argparse.Namespace, n_layers: int) -> SystemConfig:
    t = load_config(args.config, "--config", HARDWARE_TABLES, tuple(HARDWARE_TABLES))
    macro = {**DEFAULTS, **t.get("macro", {})}
    for k in ("rows", "cols", "batch_max"):
        if getattr(args, k) is not None:
            macro[k] = getattr(args, k)
    core = dict(t.get("core", {}))
    if args.fifo_depth is not None:
        core["fifo_depth"] = args.fifo_depth
    if args.index_bits is not None:
        core["index_bits"] = args.index_bits
    system = dict(t.get("system", {}))
    system.setdefault("n_cores", n_layers)
    if args.cores is not None:
        system["n_cores"] = args.cores
    return SystemConfig.from_dict({
        "core": CoreConfig.from_dict({"macro": MacroConfig.from_dict(macro), **core}),
        **system})


def load_events(path: Path, n_in: int, dt_us: int | None, sensor: str | None) -> np.ndarray:
    """An event stream from a ``.npy`` file (see the module docstring), checked in full
    (`flexspim.inputs`) before any cast or allocation."""
    check_range("--dt-us", dt_us, 1, 1 << 40)
    raw = read_events(path, "EVENTS")
    if raw.dtype.names:
        from ..frontend.dvs import events_to_stream

        dt_us = 1000 if dt_us is None else dt_us
        check_tonic(raw, "EVENTS", path, dt_us)

        if sensor:
            try:
                w, h = (int(v) for v in sensor.split(","))
            except ValueError:
                raise ValueError(f"`--sensor` must be W,H (two integers), not {sensor!r}") \
                    from None
        else:
            w = h = math.isqrt(n_in // 2)
        if 2 * w * h != n_in:
            raise ValueError(f"a {w} x {h} sensor with 2 polarities gives {2 * w * h} inputs; "
                             f"the network's first layer has {n_in} (give --sensor W,H)")
        if raw.size and (raw["x"].max() >= w or raw["y"].max() >= h):
            raise ValueError(f"EVENTS {path} reach x={raw['x'].max()}, y={raw['y'].max()}, "
                             f"outside the {w} x {h} sensor")
        return events_to_stream(raw, (w, h, 2), dt_us)
    for opt, v in (("--dt-us", dt_us), ("--sensor", sensor)):
        if v is not None:
            raise ValueError(f"`{opt}` does not apply: EVENTS {path} is an integer stream, "
                             f"not tonic-format events")
    return stream_events(raw, n_in, "EVENTS", path)


def run_golden(drv, mapping, events: np.ndarray, progress=True) -> dict:
    """Run on a golden system driver already loaded with the network (``mapping`` from its
    `load`), in chunks of time steps (for the progress bar)."""
    from ..golden.batching import TICK
    from ..testbench.system_driver import split_monitor

    ticks = np.flatnonzero(events == TICK)
    total = len(ticks)
    cuts = [int(ticks[i]) + 1 for i in np.linspace(0, total - 1, min(total, 50)).astype(int)] \
        if total else []
    out = []

    async def go():
        start = 0
        for c in cuts + [len(events)]:
            if c > start:
                out.append(await drv.backend.stream(events[start:c], 0))
                start = c
                if progress:
                    bar(int((events[:c] == TICK).sum()), total, "golden")
        stream = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
        return stream, split_monitor(stream, mapping), await drv.potentials()
    stream, layers, pots = asyncio.run(go())
    return {"output": stream, "layers": layers, "potentials": pots}


def run_rtl(system: SystemConfig, network_path: Path, events: np.ndarray) -> dict:
    """Simulate on the generated system. The job's files live in a private temporary folder
    (never in ``-o``); runs of the same hardware share the build folder under a lock."""
    from ..hdl.system import FlexSpimSystem
    from ..testbench.sim import CocotbFailure, build_dir_for, emit_verilog, run_cocotb

    build = build_dir_for("run-system", system)
    with tempfile.TemporaryDirectory(prefix="flexspim-run-") as tmp, build_lock(build):
        job = Path(tmp)
        print(f"generating and building the system ({build}) ...", file=sys.stderr,
              flush=True)
        src = emit_verilog(FlexSpimSystem(system), "flexspim_system", build)
        np.save(job / "events.npy", events)
        (job / "job.json").write_text(json.dumps({"system": system.to_dict(),
                                                  "network": str(network_path.resolve())}))
        log = build / "run-stderr.log"
        try:
            with stderr_to(log):
                run_cocotb(toplevel="flexspim_system", sources=[src],
                           test_module="flexspim.testbench.run_tb", build_dir=build,
                           extra_env={"FLEXSPIM_RUN_DIR": str(job)})
        except CocotbFailure as e:
            raise RuntimeError(f"the RTL simulation failed ({str(e).splitlines()[0]}); "
                               f"simulator messages in {log}") from None
        with np.load(job / "rtl_result.npz") as f:
            r = {k: f[k] for k in f.files}
    n = sum(1 for k in r if k.startswith("layer"))
    return {"output": r["output"], "layers": [r[f"layer{i}"] for i in range(n)],
            "potentials": [r[f"potentials{i}"] for i in range(n)]}


def run(args: argparse.Namespace) -> int:
    from ..frontend.netfile import layer_names, load_network
    from ..raster import raster_png

    net = load_network(args.network)
    system = system_from_args(args, len(net.layers))
    events = load_events(args.events, net.layers[0].n_in, args.dt_us, args.sensor)
    check_out_dir(args.out)
    # loading on the golden model checks the network against the hardware before any
    # simulation; the golden run then uses that loaded model
    from ..testbench.system_driver import GoldenBackend, SystemDriver
    golden = SystemDriver(GoldenBackend(system), system)
    mapping = asyncio.run(golden.load(net, monitor=True))

    res = run_rtl(system, args.network, events) if args.rtl \
        else run_golden(golden, mapping, events)
    names = layer_names(net)
    with staged(args.out) as stage:     # the three files appear together, or none
        np.save(stage / "output_events.npy", res["output"])
        np.savez(stage / "layers.npz",
                 **{f"{n}.events": e for n, e in zip(names, res["layers"])},
                 **{f"{n}.potentials": v for n, v in zip(names, res["potentials"])})
        raster_png(res["layers"], names, stage / "raster.png",
                   title=f"{args.network.name} on {'RTL' if args.rtl else 'golden model'}")
    steps = int((events == -1).sum())
    spikes = [int((e != -1).sum()) for e in res["layers"]]
    print(f"{'RTL' if args.rtl else 'golden'}: {int((events != -1).sum())} input events, "
          f"{steps} time steps; spikes per layer: "
          + ", ".join(f"{n} {s}" for n, s in zip(names, spikes)))
    print(f"wrote {args.out / 'output_events.npy'}, {args.out / 'layers.npz'}, "
          f"{args.out / 'raster.png'}")
    return 0
