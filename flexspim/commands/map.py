"""``flexspim map``: map a network onto macros, choose WS/OS per layer, report energy."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..cli import HARDWARE_TABLES, geometry_args
from ..config import MacroConfig
from ..inputs import MAX_EVENTS, check_tonic, load_config, read_events, stream_events
from ..mapper.fit import DEFAULT_MACRO
from .nir_options import add_nir_args, import_from_args, nir_given

#: Defaults of the input options (None in argparse, so that a given option is detectable).
DEFAULTS = {"dt_us": 5000, "rate": 0.05, "seed": 0, "downsample": 1}
RANDOM_STEPS, EXAMPLE_STEPS = 20, 40
#: Longest generated gesture (µs): it is rendered frame by frame, so --dt-us x --steps beyond
#: this would run for hours.
MAX_EXAMPLE_US = 60_000_000
#: Tables of map's --config file ([core] feeds the check of what ``flexspim run`` can run).
CONFIG_TABLES = {"macro": HARDWARE_TABLES["macro"], "core": HARDWARE_TABLES["core"],
                 "energy": None}


def register(sub) -> None:
    c = sub.add_parser("map", help="map a network onto the macros and report energy",
                       description="Place a network on CIM macros, choose weight- or "
                                   "output-stationary dataflow per layer, and report the "
                                   "energy of a run on input events. An option that does not "
                                   "apply to the chosen network or input is an error.")
    c.add_argument("network", nargs="?", type=Path, metavar="NETWORK",
                   help="network description (.toml + .npz, see docs/mapper.md) or a NIR "
                        "graph (.nir, quantized with --bw/--bv/--dt)")
    c.add_argument("--example", choices=["dvs-gesture", "fc-8b16b"],
                   help="use a shipped example network (fixed weights) and its generated "
                        "input: dvs-gesture (a synthetic gesture) or fc-8b16b (the workload "
                        "of the FlexSpIM chip's published pJ/SOP, see frontend/examples.py)")
    geometry_args(c)
    c.add_argument("--cores", type=int, default=64, help="macros on the chip (default 64)")
    c.add_argument("--buffer-bits", type=int, default=8 * 1024 * 1024,
                   help="on-chip buffer size in bits (default 8 Mbit = 1 MB)")
    c.add_argument("--dataflow", default="hybrid",
                   help="hybrid (default), ws, os, or a comma-separated ws/os/auto per layer "
                        "(reported as 'selected', beside the true hybrid)")
    c.add_argument("--energy", type=Path, metavar="FILE.toml",
                   help="TOML with an [energy] table overriding per-operation energies")
    c.add_argument("--energy-preset", metavar="NAME",
                   help="named per-operation energies (energy/presets.py): flexspim-40nm "
                        "(fitted to the FlexSpIM chip; also its 512 x 256, P = 1 macro unless "
                        "--rows/--cols/--batch or [macro] say otherwise) or horowitz-40nm "
                        "(the defaults); [energy] and --energy override single costs")
    g = c.add_argument_group("input")
    g.add_argument("--events", type=Path, metavar="FILE.npy",
                   help="input events: a 1-D integer stream (-1 = tick) or tonic-format "
                        "structured events (x, y, p, t), binned with --dt-us")
    g.add_argument("--dt-us", type=int,
                   help="time step (µs) for tonic-format --events and the --example gesture "
                        "(default 5000)")
    g.add_argument("--downsample", type=int, metavar="N",
                   help="tonic-format --events only: pixel (x, y) -> (x // N, y // N), e.g. "
                        "2 for DVS Gesture's 128 x 128 sensor on the 64 x 64 example "
                        "(default 1; the error for events outside the input names the N "
                        "needed)")
    g.add_argument("--steps", type=int,
                   help=f"time steps of generated input: random input (default "
                        f"{RANDOM_STEPS}) or the --example gesture (default {EXAMPLE_STEPS})")
    g.add_argument("--rate", type=float,
                   help="spike probability per input and step of random input (NETWORK "
                        "without --events; default 0.05)")
    g.add_argument("--seed", type=int,
                   help="seed of generated input: random input or the --example gesture "
                        "(default 0); never changes a network")
    c.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_nir_args(c, "NIR import (a .nir NETWORK only)")
    c.set_defaults(func=run)


def _macro(args, preset=None) -> tuple[MacroConfig, dict]:
    d = dict(DEFAULT_MACRO)
    if preset is not None and preset.macro is not None:
        d.update(preset.macro)
    doc = load_config(args.config, "--config", CONFIG_TABLES, ("macro",))
    d.update(doc.get("macro", {}))
    for k in ("rows", "cols", "batch_max", "max_operand_cols"):
        if getattr(args, k) is not None:
            d[k] = getattr(args, k)
    return MacroConfig.from_dict(d), doc


def _input_kind(args) -> str:
    """"example", "random" or "events" (refined to "tonic"/"stream" once loaded)."""
    if args.events is not None:
        return "events"
    return "example" if args.example else "random"


def _check_options(args) -> None:
    """Ranges of the input options, and options that do not apply are errors."""
    for name, lo, hi in (("steps", 1, 1 << 20), ("dt_us", 1, 1 << 40), ("seed", 0, 1 << 63),
                         ("downsample", 1, 1 << 12)):
        v = getattr(args, name)
        if v is not None and not lo <= v <= hi:
            raise ValueError(f"`--{name.replace('_', '-')}` must be an integer in "
                             f"[{lo}, {hi}], not {v}")
    if args.example == "fc-8b16b" and args.dt_us is not None:
        raise ValueError("`--dt-us` does not apply here: the fc-8b16b example's input is "
                         "generated per time step, not binned")
    if args.example == "dvs-gesture":
        dt_us = DEFAULTS["dt_us"] if args.dt_us is None else args.dt_us
        steps = EXAMPLE_STEPS if args.steps is None else args.steps
        if dt_us * steps > MAX_EXAMPLE_US:
            raise ValueError(f"the --example gesture would last `--dt-us` {dt_us} x `--steps` "
                             f"{steps} = {dt_us * steps} µs; the limit is {MAX_EXAMPLE_US} µs")
    if args.rate is not None and not 0 <= args.rate <= 1:
        raise ValueError(f"`--rate` must be a probability in [0, 1], not {args.rate}")
    nir = args.network is not None and args.network.suffix == ".nir"
    kind = _input_kind(args)
    if not nir and nir_given(args):
        raise ValueError(f"`{nir_given(args)[0]}` does not apply here: only a .nir NETWORK "
                         f"is quantized")
    unused = {
        "--rate": kind != "random" and args.rate is not None,
        "--steps": kind == "events" and args.steps is not None,
        "--seed": kind == "events" and args.seed is not None,
        "--dt-us": kind == "random" and args.dt_us is not None,
        "--downsample": kind != "events" and args.downsample is not None,
    }
    bad = [k for k, v in unused.items() if v]
    if bad:
        why = {"--rate": "only random input (a NETWORK without --events) has a rate",
               "--steps": "--events fixes the time steps",
               "--seed": "--events are not generated",
               "--dt-us": "only tonic-format --events and the --example gesture are binned",
               "--downsample": "only tonic-format --events are downsampled"}
        raise ValueError(f"`{bad[0]}` does not apply here: {why[bad[0]]}")


def _events(args, network) -> np.ndarray:
    from ..frontend.dvs import events_to_stream
    from ..frontend.randnet import random_events

    n_in = network.layers[0].n_in
    if args.events is None:
        rate = DEFAULTS["rate"] if args.rate is None else args.rate
        steps = RANDOM_STEPS if args.steps is None else args.steps
        if n_in * steps > MAX_EVENTS:
            raise ValueError(f"random input of `--steps` {steps} x {n_in} inputs is "
                             f"{n_in * steps} draws; the limit is {MAX_EVENTS}")
        seed = DEFAULTS["seed"] if args.seed is None else args.seed
        return random_events(np.random.default_rng(seed), n_in, steps, rate, repeat=0.0)
    ev = read_events(args.events, "--events")
    if ev.dtype.names:
        return _tonic(args, network, ev, events_to_stream)
    for opt in ("dt_us", "downsample"):
        if getattr(args, opt) is not None:
            raise ValueError(f"`--{opt.replace('_', '-')}` does not apply here: `--events` "
                             f"{args.events} is an integer stream, not tonic-format events")
    return stream_events(ev, n_in, "--events", args.events)


def _tonic(args, network, ev, events_to_stream) -> np.ndarray:
    """Bin tonic-format events for a first conv layer with ``in_shape = (2, H, W)``."""
    shape = getattr(network.layers[0], "in_shape", None)
    if shape is None or shape[0] != 2:
        raise ValueError(f"tonic-format `--events` {args.events} need a first conv layer with "
                         f"in_shape (2, H, W); this network's first layer has "
                         f"n_in={network.layers[0].n_in}")
    dt_us = DEFAULTS["dt_us"] if args.dt_us is None else args.dt_us
    check_tonic(ev, "--events", args.events, dt_us)
    d = DEFAULTS["downsample"] if args.downsample is None else args.downsample
    _, h, w = shape
    if ev.size:
        mx, my = int(ev["x"].max()), int(ev["y"].max())
        if mx >= w * d or my >= h * d:
            need = max(-(-(mx + 1) // w), -(-(my + 1) // h))
            raise ValueError(f"tonic-format `--events` reach x={mx}, y={my}, outside the "
                             f"network input {w} x {h} with `--downsample` {d}; pass "
                             f"--downsample {need} (a {need * w} x {need * h} sensor)")
    return events_to_stream(ev, (w * d, h * d, 2), dt_us, downsample=d)


def _from_nir(args, macro):
    """Import, quantize and report (on stderr, so --json output stays clean)."""
    from ..frontend.nir_import import compare

    imp = import_from_args(args, args.network)
    events = _events(args, imp.network)
    if imp.input_bias:      # the framework's input, plus the always-active bias source
        events = imp.hardware_events(events[events < imp.network.layers[0].n_in - 1])
    compare(imp, events[events < imp.network.layers[0].n_in - int(imp.input_bias)],
            macro.batch_max)
    print("quantization report (measured against the framework-semantics float model):\n"
          + imp.report_text(), file=sys.stderr)
    return imp.network, events


def _dataflow(text: str, names: list[str]):
    """``--dataflow``: a strategy, or one of ws/os/auto per layer."""
    from ..mapper.plan import STRATEGIES

    if text in STRATEGIES:
        return text
    per_layer = text.split(",")
    if len(per_layer) != len(names) or any(d not in ("ws", "os", "auto") for d in per_layer):
        raise ValueError(f"`--dataflow` must be one of {', '.join(STRATEGIES)}, or one of "
                         f"ws/os/auto per layer, comma-separated ({len(names)} layers: "
                         f"{', '.join(names)}); not {text!r}")
    return per_layer


def _energy(args, doc):
    """Per-operation costs: the preset (or the defaults), then --config's [energy], then
    --energy, each overriding single costs."""
    from ..energy.costs import EnergyCosts
    from ..energy.presets import preset

    pre = None if args.energy_preset is None else preset(args.energy_preset)
    costs = EnergyCosts() if pre is None else pre.costs
    tables = [doc.get("energy", {})]
    if args.energy is not None:
        edoc = load_config(args.energy, "--energy", {"energy": None})
        if "energy" not in edoc:
            raise ValueError(f"`--energy` {args.energy} has no [energy] table")
        tables.append(edoc["energy"])
    for t in tables:
        EnergyCosts.from_toml({"energy": t})       # validates the table on its own
        costs = EnergyCosts.from_dict({**costs.to_dict(), **t})
    return pre, costs


def clamp_free_cycles(plan) -> int:
    """The plan's cycles (layers added serially) if no accumulate pays the clamp pass: the
    dry run charges every saturating accumulate the worst case, ``bv`` clamp cycles instead
    of the 1-cycle decision (`golden.cycles.accumulate_cycles`)."""
    total = 0
    for i, layer in enumerate(plan.network.layers):
        c = plan.option(i).counts
        total += c.cycles - (c.accumulates * (layer.config.bv - 1)
                             if layer.config.saturate else 0)
    return total


def _chip_lines(pre, plan, cycles: int) -> list[str]:
    """Beside a preset with a published clock: the run's throughput at that clock, and the
    chip's published figures (`energy.presets`)."""
    from ..energy import presets as P

    sops, free = plan.sops(), clamp_free_cycles(plan)
    if pre is None or pre.clock_mhz is None or not sops or not cycles:
        return []
    lo, hi = (sops / free * f / 1e3 for f in pre.clock_mhz)
    return [f"throughput: {sops / free:.2f} SOP/cycle if no pass clamps ({sops / cycles:.2f} "
            f"if every pass does; golden cycle formulas, layers added serially), "
            f"{lo:.2f}-{hi:.2f} GSOPS at {pre.clock_mhz[0]}-{pre.clock_mhz[1]} MHz",
            f"FlexSpIM chip (40 nm, bw=8, bv=16; arXiv 2410.23082 as noted in "
            f"architecture.md): {P.FLEXSPIM_PJ_PER_SOP[0]}-{P.FLEXSPIM_PJ_PER_SOP[1]} pJ/SOP, "
            f"{P.FLEXSPIM_GSOPS[0]}-{P.FLEXSPIM_GSOPS[1]} GSOPS at "
            f"{P.FLEXSPIM_CLOCK_MHZ[0]}-{P.FLEXSPIM_CLOCK_MHZ[1]} MHz; costs fitted to "
            f"{P.FIT_POINT} pJ/SOP (held out: the throughput; energy/presets.py)"]


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x / 1e6:.3f}"


def run(args: argparse.Namespace) -> int:
    from ..frontend.examples import example
    from ..frontend.netfile import layer_names, load_network
    from ..mapper.hardware import HardwareConfig
    from ..mapper.plan import NoFeasibleMapping, plan_network

    if (args.network is None) == (args.example is None):
        raise ValueError("give either NETWORK.toml or --example NAME (not both)")
    _check_options(args)
    pre = None
    if args.energy_preset is not None:     # an unknown name before any file is read
        from ..energy.presets import preset
        pre = preset(args.energy_preset)
    macro, doc = _macro(args, pre)
    hw = HardwareConfig(macro, cores=args.cores, buffer_bits=args.buffer_bits)
    pre, costs = _energy(args, doc)
    if args.example:
        kw = {"dt_us": args.dt_us, "n_steps": args.steps}
        network, events = example(args.example, DEFAULTS["seed"] if args.seed is None
                                  else args.seed, **{k: v for k, v in kw.items() if v})
        if args.events is not None:
            events = _events(args, network)
    elif args.network.suffix == ".nir":
        network, events = _from_nir(args, macro)
    else:
        network = load_network(args.network)
        events = _events(args, network)
    dataflow = _dataflow(args.dataflow, layer_names(network))
    runs = run_verdict(network, macro, doc.get("core", {}), args.cores)

    def progress(msg):
        print(msg, file=sys.stderr, flush=True)

    try:
        plan = plan_network(network, hw, events, dataflow, costs, progress=progress)
    except NoFeasibleMapping as e:   # name the command-line flag
        raise ValueError(str(e).replace("`dataflow`", "`--dataflow`") + "; "
                         + runs["line"]) from None
    choice = plan.choice
    sops = plan.sops()
    cycles = sum(plan.option(i).counts.cycles for i in range(len(plan.names)))
    if args.json:
        out = {"layers": [{"name": n, "dataflow": choice.dataflows[i],
                           "tiles": plan.option(i).placement.tiling.n_tiles,
                           "energy_pj": choice.energies[i].total}
                          for i, n in enumerate(plan.names)],
               "total_energy_pj": plan.totals(),
               "run": {k: v for k, v in runs.items() if k != "line"},
               "energy": {"preset": args.energy_preset, "costs_pj": costs.to_dict(),
                          "sops": sops, "cycles": cycles,
                          "cycles_clamp_free": clamp_free_cycles(plan),
                          "pj_per_sop": choice.total / sops if sops else None,
                          "pj_per_1b_sop": plan.normalized_pj_per_sop() if sops else None}}
        print(json.dumps(out))
        return 0
    print(f"hardware: {hw.cores} cores of {macro.rows} x {macro.cols}, P={macro.batch_max}, "
          f"buffer {hw.buffer_bits} bits; {int((events == -1).sum())} time steps, "
          f"{int((events != -1).sum())} input events")
    what = (f"selected per layer: {args.dataflow}" if plan.selected == "selected"
            else plan.selected)
    print(f"dataflow: {what}")
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
          f"hybrid {_fmt(t['hybrid'])} uJ"
          + ("" if plan.choices["hybrid"] is None else
             f" ({''.join('W' if d == 'ws' else 'O' for d in plan.choices['hybrid'].dataflows)})"))
    print(f"breakdown: array {b.array / 1e6:.3f} uJ, adders {b.adders / 1e6:.3f} uJ, "
          f"buffer {b.buffer / 1e6:.3f} uJ, DRAM {b.dram / 1e6:.3f} uJ "
          f"(setup, once: {b.setup / 1e6:.3f} uJ)")
    if sops:
        print(f"energy per SOP: {choice.total / sops:.3f} pJ; 1-bit normalized "
              f"(/ bw*bv): {plan.normalized_pj_per_sop() * 1e3:.3f} fJ; costs: "
              + ("the defaults (Horowitz ISSCC 2014 x 40/45)" if pre is None
                 else f"preset {pre.name}: {pre.source}")
              + (", overridden by " + ", ".join(
                  w for w, on in (("[energy]", "energy" in doc), ("--energy", args.energy))
                  if on) if "energy" in doc or args.energy else ""))
    for line in _chip_lines(pre, plan, cycles):
        print(line)
    for n, bad in zip(plan.names, plan.infeasible):
        for df, why in bad.items():
            print(f"note: {df.upper()} infeasible for {n}: {why}")
    print(runs["line"])
    return 0


def run_verdict(network, macro: MacroConfig, core: dict, cores: int) -> dict:
    """Whether ``flexspim run`` can run ``network`` on ``cores`` cores of this macro: the
    same check `run` makes (`flexspim.mapper.fit.system_fit`). The mapper also places what
    the system cannot (OS weight streaming, potential swapping, shared conv tables), so its
    plan alone does not say."""
    from ..config import CoreConfig
    from ..mapper.fit import DoesNotFit, system_fit

    what = "flexspim run (the system RTL: weights resident, dense layers)"
    try:
        fit = system_fit(network, CoreConfig(macro=macro, **core), cores)
    except DoesNotFit as e:
        return {"fits": False, "cores": None, "resource": e.resource, "reason": str(e),
                "layer": e.layer, "line": f"{what} cannot run it: {e}"}
    return {"fits": True, "cores": fit.cores, "resource": None, "reason": None, "layer": None,
            "line": f"{what}: {fit.summary(cores)}"}
