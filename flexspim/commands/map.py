"""``flexspim map``: map a network onto macros, choose WS/OS per layer, report energy."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..cli import geometry_args, load_toml
from ..config import MacroConfig

#: Geometry used when neither flags nor ``--config`` give one.
DEFAULT_MACRO = {"rows": 2048, "cols": 64, "batch_max": 8}


def register(sub) -> None:
    c = sub.add_parser("map", help="map a network onto the macros and report energy",
                       description="Place a network on CIM macros, choose weight- or "
                                   "output-stationary dataflow per layer, and report the "
                                   "energy of a run on input events.")
    c.add_argument("network", nargs="?", type=Path, metavar="NETWORK",
                   help="network description (.toml + .npz, see docs/mapper.md) or a NIR "
                        "graph (.nir, quantized with --bw/--bv/--dt)")
    c.add_argument("--example", choices=["dvs-gesture"],
                   help="use a shipped example network and its synthetic events")
    geometry_args(c)
    c.add_argument("--cores", type=int, default=64, help="macros on the chip (default 64)")
    c.add_argument("--buffer-bits", type=int, default=8 * 1024 * 1024,
                   help="on-chip buffer size in bits (default 8 Mbit = 1 MB)")
    c.add_argument("--dataflow", default="hybrid",
                   help="hybrid (default), ws, os, or a comma-separated ws/os/auto per layer")
    c.add_argument("--energy", type=Path, metavar="FILE.toml",
                   help="TOML with an [energy] table overriding per-operation energies")
    c.add_argument("--events", type=Path, metavar="FILE.npy",
                   help="input events: a 1-D integer stream (-1 = tick) or tonic-format "
                        "structured events (x, y, p, t), binned with --dt-us")
    c.add_argument("--dt-us", type=int, default=5000, help="time step for tonic events (µs)")
    c.add_argument("--steps", type=int, default=20,
                   help="time steps of random input when no --events (default 20)")
    c.add_argument("--rate", type=float, default=0.05,
                   help="input spike probability per step for random input (default 0.05)")
    c.add_argument("--seed", type=int, default=0, help="seed of generated input (default 0)")
    c.add_argument("--json", action="store_true", help="print JSON instead of a table")
    q = c.add_argument_group("NIR import")
    q.add_argument("--bw", default="8", help="weight bits, one or comma-separated per layer")
    q.add_argument("--bv", default="16", help="potential bits, one or comma-separated per layer")
    q.add_argument("--dt", type=float, default=1e-3, help="time step in seconds (default 1e-3)")
    c.set_defaults(func=run)


def _macro(args) -> tuple[MacroConfig, dict]:
    d = dict(DEFAULT_MACRO)
    doc = load_toml(args.config) if args.config is not None else {}
    d.update(doc.get("macro", {}))
    for k in ("rows", "cols", "batch_max"):
        if getattr(args, k) is not None:
            d[k] = getattr(args, k)
    return MacroConfig.from_dict(d), doc


def _events(args, network) -> np.ndarray:
    from ..frontend.dvs import events_to_stream
    from ..frontend.randnet import random_events

    n_in = network.layers[0].n_in
    if args.events is None:
        if not 0 <= args.rate <= 1:
            raise ValueError(f"`--rate` must be in [0, 1], not {args.rate}")
        if args.steps < 1:
            raise ValueError(f"`--steps` must be >= 1, not {args.steps}")
        return random_events(np.random.default_rng(args.seed), n_in, args.steps, args.rate,
                             repeat=0.0)
    try:
        ev = np.load(args.events, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read `--events` {args.events}: {e}") from None
    if ev.dtype.names:
        shape = getattr(network.layers[0], "in_shape", None)
        if shape is None or shape[0] != 2:
            raise ValueError("tonic-format `--events` need a first conv layer with "
                             f"in_shape (2, H, W); this network's first layer has n_in={n_in}")
        return events_to_stream(ev, (shape[2], shape[1], 2), args.dt_us)
    if ev.ndim != 1 or not np.issubdtype(ev.dtype, np.integer):
        raise ValueError(f"`--events` must be a 1-D integer stream, not {ev.dtype} {ev.shape}")
    if ev.size and (ev.min() < -1 or ev.max() >= n_in):
        raise ValueError(f"`--events` sources must be in [-1, {n_in - 1}]")
    return ev.astype(np.int64)


def _bits(text: str, name: str):
    try:
        vals = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise ValueError(f"`--{name}` must be an integer or comma-separated integers, "
                         f"not {text!r}") from None
    return vals[0] if len(vals) == 1 else vals


def _from_nir(args, macro):
    """Import, quantize and report (on stderr, so --json output stays clean)."""
    try:
        import nir
    except ImportError:
        raise ValueError("reading .nir files needs the optional dependency: "
                         "pip install 'flexspim[nir]'") from None
    from ..frontend.nir_import import compare, import_nir

    try:
        graph = nir.read(args.network)
    except Exception as e:   # h5py/nir raise many types for a bad or missing file
        raise ValueError(f"cannot read NIR file {args.network}: {e}") from None
    imp = import_nir(graph, bw=_bits(args.bw, "bw"), bv=_bits(args.bv, "bv"), dt=args.dt)
    events = _events(args, imp.network)
    compare(imp, events, macro.batch_max)
    print("quantization report (measured against the float reference):\n"
          + imp.report_text(), file=sys.stderr)
    return imp.network, events


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x / 1e6:.3f}"


def run(args: argparse.Namespace) -> int:
    from ..energy.costs import EnergyCosts
    from ..frontend.examples import example
    from ..frontend.netfile import load_network
    from ..mapper.hardware import HardwareConfig
    from ..mapper.plan import plan_network

    if (args.network is None) == (args.example is None):
        raise ValueError("give either NETWORK.toml or --example dvs-gesture (not both)")
    macro, doc = _macro(args)
    hw = HardwareConfig(macro, cores=args.cores, buffer_bits=args.buffer_bits)
    costs = EnergyCosts.from_toml(doc)
    if args.energy is not None:
        costs = EnergyCosts.from_dict({**costs.to_dict(),
                                       **EnergyCosts.from_toml(load_toml(args.energy)).to_dict()})
    if args.example:
        network, events = example(args.example, args.seed)
        if args.events is not None:
            events = _events(args, network)
    elif args.network.suffix == ".nir":
        network, events = _from_nir(args, macro)
    else:
        network = load_network(args.network)
        events = _events(args, network)
    dataflow = args.dataflow.split(",") if "," in args.dataflow else args.dataflow

    def progress(msg):
        print(msg, file=sys.stderr, flush=True)

    plan = plan_network(network, hw, events, dataflow, costs, progress=progress)
    choice = plan.choice
    if args.json:
        out = {"layers": [{"name": n, "dataflow": choice.dataflows[i],
                           "tiles": plan.option(i).placement.tiling.n_tiles,
                           "energy_pj": choice.energies[i].total}
                          for i, n in enumerate(plan.names)],
               "total_energy_pj": plan.totals()}
        print(json.dumps(out))
        return 0
    print(f"hardware: {hw.cores} cores of {macro.rows} x {macro.cols}, P={macro.batch_max}, "
          f"buffer {hw.buffer_bits} bits; {int((events == -1).sum())} time steps, "
          f"{int((events != -1).sum())} input events")
    head = (f"{'layer':<8} {'kind':<5} {'flow':<4} {'mode':<8} {'macros':>6} {'tiles':>6} "
            f"{'rows':>5} {'bits moved':>11} {'backing':<7} {'SOPs':>10} {'energy nJ':>10}")
    print(head)
    print("-" * len(head))
    for i, name in enumerate(plan.names):
        o = plan.option(i)
        kind = "conv" if hasattr(network.layers[i], "in_shape") else "fc"
        print(f"{name:<8} {kind:<5} {o.dataflow:<4} {o.placement.mode:<8} {o.macros:>6} "
              f"{o.placement.tiling.n_tiles:>6} {o.rows_used:>5} {o.counts.moved_bits:>11} "
              f"{choice.backings[i]:<7} {o.counts.sops:>10} "
              f"{choice.energies[i].total / 1e3:>10.1f}")
    t = plan.totals()
    b = choice.breakdown
    print(f"total ({plan.selected}): {choice.total / 1e6:.3f} uJ on {choice.macros} macros; "
          f"uniform WS {_fmt(t['ws'])} uJ, uniform OS {_fmt(t['os'])} uJ, "
          f"hybrid {_fmt(t['hybrid'])} uJ")
    print(f"breakdown: array {b.array / 1e6:.3f} uJ, adders {b.adders / 1e6:.3f} uJ, "
          f"buffer {b.buffer / 1e6:.3f} uJ, DRAM {b.dram / 1e6:.3f} uJ "
          f"(setup, once: {b.setup / 1e6:.3f} uJ)")
    sops = plan.sops()
    if sops:
        print(f"energy per SOP: {choice.total / sops:.3f} pJ; 1-bit normalized "
              f"(/ bw*bv): {plan.normalized_pj_per_sop() * 1e3:.3f} fJ")
    for n, bad in zip(plan.names, plan.infeasible):
        for df, why in bad.items():
            print(f"note: {df.upper()} infeasible for {n}: {why}")
    return 0
