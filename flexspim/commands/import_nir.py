"""``flexspim import MODEL.nir -o net.toml``: quantize a NIR graph into a network file.

The TOML keeps, besides the integer network, an ``[import]`` table with every choice made:
the preset, dt and where it came from, the leak order, the reset, the bias scheme and, per
layer, the NIR nodes, gain, scale, decay before and after quantization and the threshold.
The quantization report (stderr) is measured against the framework-semantics float model on
``--events`` (a ``.npy`` stream or the first samples of a ``.npz`` dataset) or, without it,
on 20 steps of random input (rate 0.1, seed 0).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..outputs import check_out_file, staged
from .nir_options import add_nir_args, import_from_args
from .selfcheck import add_strict_arg, check_reading


def register(sub) -> None:
    p = sub.add_parser("import", help="quantize a NIR graph into a network file (.toml)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path, help="NIR graph (.nir)")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="NET.toml",
                   help="network file to write (its arrays go to the .npz beside it)")
    p.add_argument("--events", type=Path, metavar="FILE",
                   help="input for the measured report: a .npy stream or a .npz dataset")
    p.add_argument("--batch", type=int, default=8, dest="batch_max",
                   help="P used for the measured report (default 8)")
    add_nir_args(p, "quantization")
    add_strict_arg(p)
    p.set_defaults(func=run)


def report_events(path: Path | None, n_in: int, samples: int = 8) -> tuple[np.ndarray, str]:
    from ..frontend.randnet import random_events

    if path is None:
        return (random_events(np.random.default_rng(0), n_in, 20, 0.1, repeat=0.0),
                "20 steps of random input (rate 0.1, seed 0)")
    if path.suffix == ".npz":
        from ..frontend.dataset import load_dataset
        ds = load_dataset(path, n_in)
        k = min(samples, len(ds.samples))
        return np.concatenate(ds.samples[:k]), f"the first {k} samples of {path}"
    from .run import load_events
    return load_events(path, n_in, 1000, None), str(path)


def _integer_agreement(imp, ds, batch_max: int) -> None:
    """The integer network's output counts against the reference (the first samples the
    reading is checked on)."""
    from ..frontend.agreement import CHECK_SAMPLES
    from .selfcheck import layer_counts, run_agreement

    if ds.reference is None:
        return
    samples = ds.samples[:CHECK_SAMPLES]
    n = imp.n_real(len(imp.network.layers) - 1)
    outs = [imp.network.run(imp.hardware_events(s), batch_max).outputs[-1] for s in samples]
    run_agreement(ds, layer_counts(outs, n), [], [n], ds.labels, "integer network")


def run(args: argparse.Namespace) -> int:
    from ..frontend.netfile import save_network
    from ..frontend.nir_import import compare, import_table

    if args.model.suffix != ".nir":
        raise ValueError(f"MODEL must be a .nir file, not {args.model}")
    if args.out.suffix != ".toml":
        raise ValueError(f"`-o` must name a .toml file, not {args.out}")
    if not 1 <= args.batch_max <= 64:
        raise ValueError(f"`--batch` must be an integer in [1, 64], not {args.batch_max}")
    check_out_file(args.out, "-o")
    imp = import_from_args(args, args.model)
    events, what = report_events(args.events, imp.network.layers[0].n_in
                                 - int(imp.input_bias))
    if args.events is not None and args.events.suffix == ".npz":   # reference outputs?
        from ..frontend.dataset import load_dataset
        ds = load_dataset(args.events, imp.network.layers[0].n_in - int(imp.input_bias))
        check_reading(args, args.model, ds, ds.samples)              # --strict stops here
        _integer_agreement(imp, ds, args.batch_max)
    compare(imp, events, args.batch_max)
    print(f"quantization report (measured against the framework-semantics float model on "
          f"{what}):\n" + imp.report_text(), file=sys.stderr)
    # both files appear together or not at all (staged, then renamed; the TOML, which
    # names the arrays, last)
    with staged(args.out.parent) as stage:
        npz = save_network(imp.network, stage / args.out.name, name=args.model.stem,
                           extra=import_table(imp, args.model.name))
        (stage / args.out.name).touch()
    npz = args.out.parent / npz.name
    st = imp.settings
    dts = ", ".join(sorted({f"{r['dt']:g}" for r in st["layers"]}))
    print(f"wrote {args.out} and {npz}: {len(imp.network.layers)} layers, dt {dts} "
          f"({st['dt_source']}), "
          f"{st['leak_order']}, reset {st['reset']}"
          + (", bias as always-active sources" if any(r["bias"] for r in st["layers"])
             else ""))
    from ..config import MacroConfig
    from ..mapper.fit import DEFAULT_MACRO
    from .map import run_verdict

    macro = MacroConfig.from_dict(DEFAULT_MACRO)
    verdict = run_verdict(imp.network, macro, {}, None)
    print(verdict["line"] + f" [default {macro.rows} x {macro.cols} macro, P = "
                            f"{macro.batch_max}]")
    if not verdict["fits"]:         # what would fit (computed: mapper.suggest)
        from ..config import CoreConfig
        from ..mapper.suggest import suggest, suggestion_lines
        from .nir_options import rebuild_with_bw

        found = suggest(imp.network, CoreConfig(macro=macro), None,
                        rebuild_with_bw(args, args.model), verdict["layer"])
        print(suggestion_lines(found))
    return 0
