"""Command line: ``flexspim <command> ...`` (also ``python -m flexspim``).

Every configuration error is printed as one line (``error: ...``) with exit status 2, never as
a traceback.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from . import __version__
from .config import LayerConfig, MacroConfig

__all__ = ["main"]


def _geometry_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("geometry")
    g.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="TOML file with a [macro] table (rows, cols, batch_max); command-line "
                        "values override it")
    g.add_argument("--rows", type=int, help="bit rows of the array")
    g.add_argument("--cols", type=int, help="columns of the array")
    g.add_argument("--batch", type=int, dest="batch_max", help="P, weights per accumulate")


def load_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ValueError(f"cannot read `--config` {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"`--config` {path} is not valid TOML: {e}") from None


def macro_from_args(args: argparse.Namespace) -> MacroConfig:
    """Geometry from ``--config`` (its ``[macro]`` table) overridden by explicit flags."""
    d: dict = {}
    if args.config is not None:
        d.update(load_toml(args.config).get("macro", {}))
    for k in ("rows", "cols", "batch_max"):
        if getattr(args, k) is not None:
            d[k] = getattr(args, k)
    missing = [k for k in ("rows", "cols") if k not in d]
    if missing:
        raise ValueError(f"missing geometry: give {', '.join('--' + m for m in missing)} "
                         f"or a --config file with them in its [macro] table")
    return MacroConfig.from_dict(d)


def _cmd_cycles(args: argparse.Namespace) -> int:
    from .golden.cycles import accumulate_cycles, fire_cycles

    macro = macro_from_args(args)
    layer = LayerConfig(bw=min(args.bw, args.bv), bv=args.bv, saturate=not args.wrap,
                        leak_mode=args.leak_mode, leak=args.leak, reset=args.reset)
    layer.check_fits(macro)
    acc = accumulate_cycles(macro, layer.bv, layer.saturate)
    print(f"geometry: rows={macro.rows} cols={macro.cols} P={macro.batch_max} "
          f"(guard cycles {macro.guard_cycles}, carry register {macro.carry_width} bits)")
    print(f"accumulate (bv={layer.bv}, {'saturate' if layer.saturate else 'wrap'}): "
          f"{acc} cycles for up to {macro.batch_max * macro.cols} synaptic operations")
    print(f"fire (leak={layer.leak_mode}, reset={layer.reset}): "
          f"{fire_cycles(layer)} cycles per neuron slot")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flexspim",
        description="Generator and verification kit for event-based digital CIM SNN "
                    "accelerators (FlexSpIM architecture).")
    p.add_argument("--version", action="version", version=f"flexspim {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("cycles", help="print the golden model's cycle counts for a geometry")
    _geometry_args(c)
    c.add_argument("--bv", type=int, default=16, help="potential bits (default 16)")
    c.add_argument("--bw", type=int, default=8, help="weight bits (default 8)")
    c.add_argument("--wrap", action="store_true", help="wrap instead of saturate")
    c.add_argument("--leak-mode", default="none", choices=["none", "sub", "shift"])
    c.add_argument("--leak", type=int, default=0)
    c.add_argument("--reset", default="hard", choices=["hard", "soft"])
    c.set_defaults(func=_cmd_cycles)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
