"""The NIR import options shared by ``flexspim import``, ``run`` and ``map`` (a ``.nir``
NETWORK), and the one function that turns them into an imported network."""

from __future__ import annotations

import argparse
import math

__all__ = ["add_nir_args", "nir_given", "import_from_args", "rebuild_with_bw", "NIR_OPTIONS"]

#: (dest, flag) of every import option, to reject them for a network that is not a .nir.
NIR_OPTIONS = (("bw", "--bw"), ("bv", "--bv"), ("dt", "--dt"), ("preset", "--from"),
               ("reset", "--reset"), ("leak_order", "--leak-order"), ("clip", "--clip"),
               ("discretization", "--discretization"))


def add_nir_args(p: argparse.ArgumentParser, title: str = "NIR import (a .nir NETWORK)"):
    from ..frontend.nir_import import DISCRETIZATIONS, LEAK_ORDERS, PRESETS, RESETS

    q = p.add_argument_group(title)
    q.add_argument("--from", dest="preset", choices=list(PRESETS),
                   help="the exporting framework: sets dt, leak order and reset to its "
                        "conventions (explicit options override)")
    q.add_argument("--dt", type=float,
                   help="time step in the unit of the graph's time constants (the "
                        "exporter's; required unless --from or the graph gives it)")
    q.add_argument("--bw", help="weight bits (2..32), one or comma-separated per layer "
                                "(default 8)")
    q.add_argument("--bv", help="potential bits, one or comma-separated per layer "
                                "(default 16)")
    q.add_argument("--reset", choices=list(RESETS),
                   help="reset after a spike (default: the preset's, else hard)")
    q.add_argument("--leak-order", choices=list(LEAK_ORDERS),
                   help="leak-first: v = d v + g I (NIR's Euler step, every framework); "
                        "input-first: v = d (v + g I) (default: leak-first)")
    q.add_argument("--discretization", choices=list(DISCRETIZATIONS),
                   help="euler: decay 1 - dt/tau, gain r dt/tau (NIR's step); exp: decay "
                        "exp(-dt/tau), gain r (1 - decay) (Sinabs' LIF) (default: the "
                        "preset's, else euler)")
    q.add_argument("--clip", help="weight scale: max (default) or a percentile of |w| per "
                                  "layer, e.g. 99.9 (larger weights saturate)")


def nir_given(args) -> list[str]:
    """The import options given on the command line (flags)."""
    return [flag for dest, flag in NIR_OPTIONS if getattr(args, dest, None) is not None]


def _bits(text, name: str):
    text = "8" if text is None and name == "bw" else "16" if text is None else text
    try:
        vals = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise ValueError(f"`--{name}` must be an integer or comma-separated integers, "
                         f"not {text!r}") from None
    return vals[0] if len(vals) == 1 else vals


def _clip(text):
    if text is None or text == "max":
        return "max"
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not 0 < v <= 100:
        raise ValueError(f"`--clip` must be 'max' or a percentile in (0, 100], not {text!r}")
    return v


def import_from_args(args, path):
    """Read and quantize the NIR graph ``path`` with the command's options."""
    from ..frontend.nir_import import import_nir, read_graph

    if args.dt is not None and not (math.isfinite(args.dt) and args.dt > 0):
        raise ValueError(f"`--dt` must be a finite number > 0, not {args.dt}")
    from ..inputs import check_nir

    graph = read_graph(path)
    check_nir(graph, path)          # finite parameters, time constants > 0
    try:
        return import_nir(graph, bw=_bits(args.bw, "bw"), bv=_bits(args.bv, "bv"),
                          dt=args.dt, preset=args.preset, reset=args.reset,
                          leak_order=args.leak_order, clip=_clip(args.clip),
                          discretization=args.discretization)
    except ValueError as e:
        msg = str(e).replace("`dt` is required", "`--dt` is required")
        raise ValueError(msg) from None


def rebuild_with_bw(args, path=None):
    """For a ``.nir`` graph (``path``, default the NETWORK): ``bws -> network`` re-imported
    with one ``bw`` per layer and the command's other options (what
    `flexspim.mapper.suggest` tries); None for a network file."""
    import copy

    path = path if path is not None else getattr(args, "network", None)
    if path is None or path.suffix != ".nir":
        return None

    def rebuild(bws):
        a = copy.copy(args)
        a.bw = ",".join(map(str, bws))
        return import_from_args(a, path).network
    return rebuild
