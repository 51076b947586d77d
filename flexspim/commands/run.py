"""``flexspim run NETWORK INPUT``: run a network on the accelerator, golden model or RTL.

NETWORK is a network description (``.toml`` + ``.npz``, see `flexspim.frontend.netfile`)
of fully connected layers, or a NIR graph (``.nir``, imported with the NIR options as
``flexspim import`` does); layer ``i`` goes to core ``i``.

INPUT is either a **dataset** (``.npz``, see `flexspim.frontend.dataset`: many samples,
optional labels) for batched inference, or one **event file** (``.npy``).

Batched inference runs every sample on one loaded system (the RTL: one build, one simulator
process). Between samples the neuron state is reset by the host: it writes 0 into every
potential row through the row port (``bv`` rows per neuron slot and layer, one row-port
write each, while the cores are idle; weights and thresholds stay), counted in
``summary.json`` (``reset``). The prediction is the output neuron with the most spikes
(ties: the lowest index; no output spike at all: -1, counted wrong). ``-o DIR`` receives
``summary.json`` (``accuracy``, ``samples``, ``agree_golden`` with ``--rtl``, confusion
matrix, per-class accuracy, footprint, activation sparsity, synaptic operations, cycles),
``outputs.npz`` (per sample: output spike counts per class, prediction, label, the output
layer's events), ``output_events.npy`` (the output layer's events, sample after sample),
``layers.npz`` (every layer's events and per-sample offsets) and ``confusion.csv``.

An event file (``.npy``) holds
either a 1-D integer stream (source indices, -1 ends a time step) or tonic-format events (a
structured array with fields x, y, t, p), binned into time steps of ``--dt-us`` and
numbered ``(p, y, x)`` over a ``--sensor W,H`` sensor (square by default).

By default the register-level golden system model runs (no simulator); ``--rtl`` generates
the system's Verilog and runs the same driver on it under Verilator. Both write, into
``-o DIR``: ``output_events.npy`` (the output layer's events), ``layers.npz`` (every layer's
events and final potentials), ``raster.png`` and ``summary.json`` (input events, time steps,
spikes per layer, the stored ``footprint`` and ``neurobench``: NeuroBench's metrics of the
stream as for a dataset of one sample, `flexspim.frontend.neurobench`).
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
from ..mapper.fit import DEFAULT_MACRO, DoesNotFit, SystemFit, system_fit
from ..outputs import build_lock, check_out_dir, out_dir_arg, staged, stderr_to
from ..progress import bar
from .nir_options import add_nir_args, import_from_args, nir_given
from .selfcheck import add_strict_arg, check_reading, run_agreement


def register(sub) -> None:
    p = sub.add_parser("run", help="run a network on the golden system model or the RTL",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("network", type=Path, help="network description (.toml) or NIR graph (.nir)")
    p.add_argument("events", type=Path, metavar="INPUT",
                   help="dataset (.npz, batched inference) or one event file (.npy)")
    p.add_argument("-o", "--out", type=out_dir_arg, default=Path("run-out"), metavar="DIR",
                   help="output folder (default run-out)")
    p.add_argument("--rtl", action="store_true", help="run the generated Verilog (Verilator)")
    g = p.add_argument_group("hardware (defaults: 2048 x 64 and P = 8 as in map; as many cores "
                             "as the network needs)")
    g.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="TOML with [macro], [core] and [system] tables")
    g.add_argument("--rows", type=int)
    g.add_argument("--cols", type=int)
    g.add_argument("--batch", type=int, dest="batch_max")
    g.add_argument("--max-operand-cols", type=int, dest="max_operand_cols",
                   help="widest operand group the macro is generated with (power of two, "
                        "default 1)")
    g.add_argument("--operand-cols", type=_shape_arg, metavar="N|auto",
                   help="operand shape of every layer (N columns per operand, at most "
                        "--max-operand-cols), or auto: the mapper's rule per layer "
                        "(flexspim.mapper.shape); default: each layer's operand_cols in the "
                        "network file (1 if absent)")
    g.add_argument("--cores", type=int,
                   help="number of cores (default: as many as the layers need; a layer "
                        "wider than a core is split across several)")
    g.add_argument("--fifo-depth", type=int)
    g.add_argument("--index-bits", type=int)
    e = p.add_argument_group("tonic-format events")
    e.add_argument("--dt-us", type=int, help="time step in µs (default 1000)")
    e.add_argument("--sensor", help="W,H of the sensor (default: square, from the network)")
    p.add_argument("--limit", type=int, metavar="N",
                   help="dataset: run only the first N samples")
    add_nir_args(p)
    add_strict_arg(p)
    p.set_defaults(func=run)


def _shape_arg(text: str):
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer or auto, not {text!r}") from None


def system_from_args(args: argparse.Namespace) -> tuple[SystemConfig, bool]:
    """The system of the options, and whether its core count was given (``--cores`` or
    ``n_cores`` in ``--config``; else it is 1 here and `system_for` sizes it)."""
    t = load_config(args.config, "--config", HARDWARE_TABLES, tuple(HARDWARE_TABLES))
    macro = {**DEFAULT_MACRO, **t.get("macro", {})}
    for k in ("rows", "cols", "batch_max", "max_operand_cols"):
        if getattr(args, k, None) is not None:
            macro[k] = getattr(args, k)
    core = dict(t.get("core", {}))
    if args.fifo_depth is not None:
        core["fifo_depth"] = args.fifo_depth
    if args.index_bits is not None:
        core["index_bits"] = args.index_bits
    system = dict(t.get("system", {}))
    given = args.cores is not None or "n_cores" in system
    system.setdefault("n_cores", 1)
    if args.cores is not None:
        system["n_cores"] = args.cores
    return SystemConfig.from_dict({
        "core": CoreConfig.from_dict({"macro": MacroConfig.from_dict(macro), **core}),
        **system}), given


def system_for(args: argparse.Namespace, net) -> tuple[SystemConfig, SystemFit]:
    """The system of the options and the network's placement on it (`system_fit`, the
    check ``flexspim map`` reports too); without ``--cores`` (or ``n_cores`` in
    ``--config``), as many cores as the network needs, a layer wider than a core taking
    several. Raises `DoesNotFit` naming the layer and the resource."""
    import dataclasses

    from ..mapper.suggest import suggest, suggestion_lines
    from .nir_options import rebuild_with_bw

    system, given = system_from_args(args)
    n_cores = system.n_cores if given else None
    try:
        fit = system_fit(net, system.core, n_cores)
    except DoesNotFit as e:     # the refusal, then what would fit (computed: mapper.suggest)
        found = suggest(net, system.core, n_cores, rebuild_with_bw(args), e.layer)
        raise DoesNotFit(f"{e}\n{suggestion_lines(found)}", e.resource, e.layer) from None
    if not given:
        system = dataclasses.replace(system, n_cores=fit.cores)
    return system, fit


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
        return stream, split_monitor(stream, mapping), await drv.potentials_by_layer()
    stream, layers, pots = asyncio.run(go())
    return {"output": stream, "layers": layers, "potentials": pots}


def _simulate(system: SystemConfig, job_files) -> dict:
    """Build (if needed) and simulate the system on the job files that ``job_files(folder)``
    writes. The job lives in a private temporary folder (never in ``-o``); runs of the same
    hardware share the build folder under a lock; the simulator's stderr goes to a log."""
    from ..hdl.system import FlexSpimSystem
    from ..testbench.sim import CocotbFailure, build_dir_for, emit_verilog, run_cocotb

    build = build_dir_for("run-system", system)
    with tempfile.TemporaryDirectory(prefix="flexspim-run-") as tmp, build_lock(build):
        job = Path(tmp)
        print(f"generating and building the system ({build}) ...", file=sys.stderr,
              flush=True)
        src = emit_verilog(FlexSpimSystem(system), "flexspim_system", build)
        job_files(job)
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
            return {k: f[k] for k in f.files}


def run_rtl(system: SystemConfig, network_path: Path, events: np.ndarray,
            out: Path | None = None) -> dict:
    """One event stream on the generated Verilog (``out`` is unused: nothing is staged
    in the output folder)."""
    def job_files(job: Path) -> None:
        np.save(job / "events.npy", events)
        (job / "job.json").write_text(json.dumps({"system": system.to_dict(),
                                                  "network": str(network_path.resolve())}))

    r = _simulate(system, job_files)
    n = sum(1 for k in r if k.startswith("layer"))
    return {"output": r["output"], "layers": [r[f"layer{i}"] for i in range(n)],
            "potentials": [r[f"potentials{i}"] for i in range(n)]}


def load_net(args, tmp: Path):
    """``(network, path of its TOML, import settings)``; a ``.nir`` is imported with the NIR
    options and written to ``tmp/network.toml`` (a private folder: the RTL test bench reads
    it from there, and `keep_import` stages it into ``-o`` with the other outputs, so a
    failed run leaves ``-o`` as it was)."""
    from ..frontend.netfile import import_settings, load_network, save_network

    if args.network.suffix == ".nir":
        from ..frontend.nir_import import import_table

        imp = import_from_args(args, args.network)
        path = tmp / "network.toml"
        save_network(imp.network, path, name=args.network.stem,
                     extra=import_table(imp, args.network.name))
        print("imported " + str(args.network) + ":\n" + imp.report_text(), file=sys.stderr)
        return imp.network, path, import_settings(path)
    if nir_given(args):
        raise ValueError(f"`{nir_given(args)[0]}` does not apply here: only a .nir NETWORK is "
                         f"imported")
    return load_network(args.network), args.network, import_settings(args.network)


def shape_net(args, net, net_path: Path, tmp: Path):
    """``(network, path of its TOML)`` at the shapes ``--operand-cols`` asks for (unchanged
    without it). A reshaped network is written under ``tmp`` for the RTL test bench (and
    for `keep_import`); the chosen shape per layer is printed."""
    from ..frontend.netfile import layer_names, save_network
    from ..mapper.shape import choose_operand_cols, with_operand_cols

    want = getattr(args, "operand_cols", None)
    if want is None:
        return net, net_path
    system, _ = system_from_args(args)
    if want == "auto":
        shapes, how = choose_operand_cols(net, system.core), "auto: mapper.shape's rule"
    else:
        from ..config import check_operand_cols
        check_operand_cols(want, system.core.macro.max_operand_cols, "--operand-cols")
        shapes, how = [want] * len(net.layers), "--operand-cols"
    net = with_operand_cols(net, shapes)
    # the same file name in a folder of its own, the [import] table kept: `keep_import`
    # stages this copy, so the kept network is the one that ran
    text = Path(net_path).read_text()
    extra = text[text.index("\n[import]") + 1:] if "\n[import]" in text else ""
    (tmp / "shaped").mkdir(exist_ok=True)
    path = tmp / "shaped" / net_path.name
    save_network(net, path, name=net_path.stem, extra=extra)
    print("operand shape per layer (" + how + "): " + ", ".join(
        f"{n} {c}" for n, c in zip(layer_names(net), shapes)), file=sys.stderr)
    return net, path


def keep_import(args, net_path: Path, stage: Path) -> list[str]:
    """Copy an imported network (``network.toml`` and its ``.npz``) into the staging
    folder; the names copied."""
    if args.network.suffix != ".nir":
        return []
    import shutil

    names = [net_path.name, net_path.with_suffix(".npz").name]
    for n in names:
        shutil.copyfile(net_path.parent / n, stage / n)
    return names


def bias_units(net, settings: dict) -> list[bool]:
    """Per layer: whether its last neuron is an import's always-firing bias unit."""
    rows = settings.get("layers", [])
    if len(rows) != len(net.layers):
        return [False] * len(net.layers)
    return [bool(r.get("bias_unit", False)) for r in rows]


def run(args: argparse.Namespace) -> int:
    if args.events.suffix != ".npz" and args.limit is not None:
        raise ValueError("`--limit` does not apply here: only a dataset (.npz) has samples")
    with tempfile.TemporaryDirectory(prefix="flexspim-import-") as tmp:
        if args.events.suffix == ".npz":
            return run_batch(args, Path(tmp))
        return run_single(args, Path(tmp))


def run_single(args: argparse.Namespace, tmp: Path) -> int:
    from ..frontend.netfile import layer_names
    from ..frontend.neurobench import neurobench_metrics
    from ..frontend.nir_import import with_bias_source
    from ..raster import raster_png

    check_out_dir(args.out)
    net, net_path, settings = load_net(args, tmp)
    net, net_path = shape_net(args, net, net_path, tmp)
    system, _ = system_for(args, net)
    bias_in = bool(settings.get("input_bias", False))
    n_in = net.layers[0].n_in - int(bias_in)
    events = load_events(args.events, n_in, args.dt_us, args.sensor)
    bad = (events < -1) | (events >= n_in)
    if bad.any():
        raise ValueError(f"event {int(np.flatnonzero(bad)[0])} of {args.events} has source "
                         f"{int(events[bad][0])}; sources must be in [0, "
                         f"{n_in - 1}] (or -1 for a tick)")
    if bias_in:
        events = with_bias_source(events, n_in)
    # loading on the golden model checks the network against the hardware before any
    # simulation; the golden run then uses that loaded model
    from ..testbench.system_driver import GoldenBackend, SystemDriver
    golden = SystemDriver(GoldenBackend(system), system)
    mapping = asyncio.run(golden.load_split(net, monitor=True))

    res = run_rtl(system, net_path, events) if args.rtl \
        else run_golden(golden, mapping, events)
    names = layer_names(net)
    units = bias_units(net, settings)
    steps = int((events == -1).sum())
    real = [layer.n_out - int(u) for layer, u in zip(net.layers, units)]
    spikes = [int(((e >= 0) & (e < n)).sum()) for e, n in zip(res["layers"], real)]
    summary = {"model": "rtl" if args.rtl else "golden",
               "input_events": int(((events >= 0) & (events < n_in)).sum()),
               "steps": steps, "spikes_per_layer": dict(zip(names, spikes)),
               "footprint": footprint(net),
               "neurobench": neurobench_metrics(net, [events], [list(res["layers"])], units,
                                                bias_in)}
    with staged(args.out) as stage:     # the four files appear together, or none
        (stage / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        np.save(stage / "output_events.npy", res["layers"][-1])
        np.savez(stage / "layers.npz",
                 **{f"{n}.events": e for n, e in zip(names, res["layers"])},
                 **{f"{n}.potentials": v for n, v in zip(names, res["potentials"])})
        raster_png(res["layers"], names, stage / "raster.png",
                   title=f"{args.network.name} on {'RTL' if args.rtl else 'golden model'}")
        kept = keep_import(args, net_path, stage)
    print(f"{'RTL' if args.rtl else 'golden'}: {int((events != -1).sum())} input events, "
          f"{steps} time steps; spikes per layer: "
          + ", ".join(f"{n} {s}" for n, s in zip(names, spikes)))
    print(f"wrote {args.out / 'output_events.npy'}, {args.out / 'layers.npz'}, "
          f"{args.out / 'raster.png'}, {args.out / 'summary.json'}"
          + "".join(f", {args.out / n}" for n in kept))
    return 0


def golden_batch(drv, mapping, samples: list, progress=True) -> dict:
    """Every sample on the loaded golden system: per sample its per-layer streams and its
    work cycles (sum of the cores' CYCLES); the reset's row count."""
    from ..testbench.system_driver import split_monitor

    async def go():
        layers, cycles, rows = [], [], 0
        for i, ev in enumerate(samples):
            c0 = sum(await drv.core_cycles())
            rows = await drv.clear_potentials()
            out = await drv.backend.stream(ev, int((ev == -1).sum()))
            cycles.append(sum(await drv.core_cycles()) - c0)
            layers.append(split_monitor(out, mapping))
            if progress:
                bar(i + 1, len(samples), "golden", unit="sample")
        return {"layers": layers, "cycles": cycles, "reset_rows": rows}
    return asyncio.run(go())


def rtl_batch(system: SystemConfig, network_path: Path, samples: list, out: Path,
              monitor: bool) -> dict:
    """Every sample on the generated Verilog: one build, one simulator process (``out`` is
    unused: the job is staged in a private temporary folder, see `_simulate`)."""
    from ..frontend.dataset import save_dataset

    def job_files(job: Path) -> None:
        save_dataset(job / "samples.npz", samples)
        (job / "job.json").write_text(json.dumps({"system": system.to_dict(), "batch": True,
                                                  "monitor": monitor,
                                                  "network": str(network_path.resolve())}))

    return _simulate(system, job_files)


def _per_sample(stream: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [stream[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def batch_stats(net, units: list[bool], samples: list, layers: list, labels) -> dict:
    """Accuracy, confusion, NeuroBench-style figures from per-sample per-layer streams."""
    n_cls = net.layers[-1].n_out
    real = [layer.n_out - int(u) for layer, u in zip(net.layers, units)]
    counts = np.array([np.bincount(ls[-1][ls[-1] >= 0], minlength=n_cls)[:n_cls]
                       for ls in layers], dtype=np.int64).reshape(len(layers), n_cls)
    pred = np.where(counts.max(axis=1) > 0, counts.argmax(axis=1), -1)
    steps = np.array([int((s == -1).sum()) for s in samples])
    out: dict = {"samples": len(samples), "classes": n_cls,
                 "prediction": "output neuron with the most spikes (ties: lowest index; "
                               "none: -1, wrong)",
                 "no_output_spike": int((pred < 0).sum())}
    if labels is not None:
        labels = np.asarray(labels[:len(samples)])
        out["accuracy"] = float((pred == labels).mean()) if len(samples) else None
        conf = np.zeros((max(n_cls, int(labels.max()) + 1), n_cls + 1), dtype=np.int64)
        for t, p in zip(labels, pred):
            conf[t, p if p >= 0 else n_cls] += 1
        out["confusion"] = conf.tolist()
        out["confusion_columns"] = "predicted class 0..C-1, then 'no output spike'"
        out["per_class_accuracy"] = [float(conf[c, c] / conf[c].sum()) if conf[c].sum()
                                     else None for c in range(conf.shape[0])]
    else:
        out["accuracy"] = None
    # activation sparsity: neuron-steps without a spike (bias units left out)
    spikes = np.zeros(len(net.layers))
    for ls in layers:
        for i, e in enumerate(ls):
            spikes[i] += int(((e >= 0) & (e < real[i])).sum())
    neuron_steps = np.array(real) * steps.sum()
    out["activation_sparsity"] = {
        "per_layer": [float(1 - s / n) if n else None for s, n in zip(spikes, neuron_steps)],
        "network": float(1 - spikes.sum() / neuron_steps.sum()) if neuron_steps.sum() else None,
        "definition": "1 - spikes / (neurons x time steps), per layer and over all layers"}
    # synaptic operations: every event delivered to a layer, times the synapses it reaches
    nnz = [(_dense(layer) != 0).sum(axis=0) for layer in net.layers]
    eff = dense = 0
    for smp, ls in zip(samples, layers):
        ins = [smp] + list(ls[:-1])
        for i, ev in enumerate(ins):
            src = ev[ev >= 0]
            dense += src.size * net.layers[i].n_out
            eff += int(nnz[i][src].sum())
    k = max(len(samples), 1)
    out["synaptic_ops"] = {"effective_per_sample": eff / k, "dense_per_sample": dense / k,
                           "definition": "per input event of a layer: its non-zero weights "
                                         "(effective) or the layer's neurons (dense)"}
    out["footprint"] = footprint(net)
    out["steps_per_sample"] = float(steps.mean()) if len(steps) else 0.0
    return out, counts, pred


def _dense(layer) -> np.ndarray:
    """The weights as the system stores them (a conv layer as its dense FC matrix)."""
    return layer.weights if layer.weights.ndim == 2 else layer.dense_weights()


def footprint(net) -> dict:
    """Bits the network occupies in the arrays (weights, potentials, array thresholds); a
    conv layer runs as its dense FC layer, so its dense matrix is what is stored."""
    w = sum(layer.n_in * layer.n_out * layer.config.bw for layer in net.layers)
    v = sum(layer.n_out * layer.config.bv for layer in net.layers)
    t = sum(layer.n_out * layer.config.bv for layer in net.layers
            if layer.config.threshold_source == "array")
    return {"weight_bits": w, "potential_bits": v, "threshold_bits": t,
            "total_bytes": (w + v + t) / 8,
            "source": "stored operands (weights bw bits each, potentials and per-neuron "
                      "thresholds bv bits each)"}


def run_batch(args: argparse.Namespace, tmp: Path) -> int:
    import time

    from ..frontend.dataset import load_dataset
    from ..frontend.neurobench import neurobench_metrics
    from ..frontend.nir_import import with_bias_source
    from ..testbench.system_driver import GoldenBackend, SystemDriver

    if args.limit is not None and args.limit < 1:
        raise ValueError(f"`--limit` must be an integer >= 1, not {args.limit}")
    check_out_dir(args.out)
    net, net_path, settings = load_net(args, tmp)
    net, net_path = shape_net(args, net, net_path, tmp)
    system, fit = system_for(args, net)
    units = bias_units(net, settings)
    bias_in = bool(settings.get("input_bias", False))
    n_in = net.layers[0].n_in - int(bias_in)
    ds = load_dataset(args.events, n_in)
    samples = ds.samples[:args.limit] if args.limit else ds.samples
    reading = check_reading(args, args.network, ds, samples)    # --strict stops here
    hw = [with_bias_source(s, n_in) if bias_in else s for s in samples]
    golden = SystemDriver(GoldenBackend(system), system)
    monitor = fit.monitor
    mapping = asyncio.run(golden.load_split(net, monitor=monitor))
    t0 = time.perf_counter()
    g = golden_batch(golden, mapping, hw)
    t_golden = time.perf_counter() - t0
    summary: dict = {}
    if args.rtl:
        t0 = time.perf_counter()
        r = rtl_batch(system, net_path, hw, args.out, monitor)
        t_rtl = time.perf_counter() - t0
        streams = []
        for i in range(len(net.layers)):
            streams.append(_per_sample(r[f"layer{i}"], r[f"offsets{i}"]))
        layers = [[streams[i][k] for i in range(len(net.layers))] for k in range(len(hw))]
        same = [all(np.array_equal(a, b) for a, b in zip(layers[k], g["layers"][k]))
                for k in range(len(hw))]
        summary["agree_golden"] = bool(all(same))
        summary["samples_differing_from_golden"] = [k for k, ok in enumerate(same) if not ok]
        summary["rtl_seconds"] = {"total": t_rtl,
                                  "simulation_per_sample": float(np.mean(r["seconds"])),
                                  "note": "wall clock; total includes generating and "
                                          "building the Verilog and loading the network"}
        summary["rtl_reset_cycles"] = {"per_reset": float(np.mean(r["reset_cycles"])),
                                       "note": "measured in simulated clock cycles"}
        cycles = r["cycles"].tolist()
    else:
        layers, cycles = g["layers"], g["cycles"]
    stats, counts, pred = batch_stats(net, units, hw, layers, ds.labels)
    stats["neurobench"] = neurobench_metrics(net, hw, layers, units, bias_in)
    summary = {"accuracy": stats.pop("accuracy"), "samples": stats.pop("samples"),
               "model": "rtl" if args.rtl else "golden", **summary, **stats}
    summary["golden_seconds"] = {"total": t_golden, "per_sample": t_golden / max(len(hw), 1)}
    summary["reset"] = {"operation": "host writes 0 into every potential row through the row "
                                     "port (one row-port write per row)",
                        "rows_per_reset": g["reset_rows"]}
    summary["core_cycles_per_sample"] = float(np.mean(cycles)) if cycles else 0.0
    summary["monitored_layers"] = "all" if monitor else "output only (index_bits too small)"
    summary["cores"] = system.n_cores
    agree = run_agreement(ds, counts, layers, [layer.n_out - int(u) for layer, u in
                                               zip(net.layers, units)], ds.labels, summary["model"])
    if agree is not None:
        summary["framework_agreement"] = {**agree, **(reading or {})}
    with staged(args.out) as stage:     # every file appears together, or none
        write_batch(stage, net, summary, counts, pred, ds.labels, layers)
        kept = keep_import(args, net_path, stage)
    acc = summary["accuracy"]
    print(f"{'RTL' if args.rtl else 'golden'}: {summary['samples']} samples"
          + (f", accuracy {acc:.2%}" if acc is not None else ", no labels")
          + (f", RTL = golden on {'every' if summary['agree_golden'] else 'NOT every'} "
             f"sample" if args.rtl else "")
          + f"; activation sparsity {summary['activation_sparsity']['network']:.3f}, "
          f"{summary['synaptic_ops']['effective_per_sample']:.0f} synaptic ops per sample")
    print(f"wrote {args.out / 'summary.json'}, outputs.npz, output_events.npy, layers.npz, "
          f"confusion.csv" + "".join(f", {n}" for n in kept))
    return 0 if not args.rtl or summary["agree_golden"] else 1


def write_batch(out: Path, net, summary: dict, counts, pred, labels, layers) -> None:
    from ..frontend.netfile import layer_names

    out.mkdir(parents=True, exist_ok=True)
    names = layer_names(net)
    per_layer = list(zip(*layers)) if layers else [[] for _ in names]
    cat = {}
    for name, streams in zip(names, per_layer):
        offs = np.r_[0, np.cumsum([len(s) for s in streams])].astype(np.int64)
        cat[f"{name}.events"] = np.concatenate(streams) if len(streams) else np.zeros(0, int)
        cat[f"{name}.offsets"] = offs
    last = names[-1]
    np.save(out / "output_events.npy", cat[f"{last}.events"])
    np.savez(out / "layers.npz", **cat)
    extra = {} if labels is None else {"labels": np.asarray(labels[:len(pred)])}
    np.savez(out / "outputs.npz", counts=counts, predicted=pred, events=cat[f"{last}.events"],
             offsets=cat[f"{last}.offsets"], **extra)
    if "confusion" in summary:
        rows = ["true\\pred," + ",".join(str(c) for c in range(summary["classes"])) + ",none"]
        rows += [f"{t}," + ",".join(map(str, r)) for t, r in enumerate(summary["confusion"])]
        (out / "confusion.csv").write_text("\n".join(rows) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
