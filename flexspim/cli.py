"""Command line: ``flexspim <command> ...`` (also ``python -m flexspim``).

Every configuration error is printed as one line (``error: ...``) with exit status 2, never as
a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tomllib
from pathlib import Path

from . import __version__
from .config import MacroConfig

__all__ = ["main", "COMMANDS", "geometry_args", "macro_from_args", "load_toml"]

#: Sub-command modules under ``flexspim/commands/``; each has ``register(subparsers)``.
COMMANDS = ("generate", "run", "cycles", "map", "study", "sweep", "import_nir")


def geometry_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("geometry")
    g.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="TOML file with a [macro] table (rows, cols, batch_max); command-line "
                        "values override it")
    g.add_argument("--rows", type=int, help="bit rows of the array")
    g.add_argument("--cols", type=int, help="columns of the array")
    g.add_argument("--batch", type=int, dest="batch_max", help="P, weights per accumulate")


def load_toml(path: Path, option: str = "--config") -> dict:
    """Parse the TOML file given to command-line option ``option`` (named in the errors)."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ValueError(f"cannot read `{option}` {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"`{option}` {path} is not valid TOML: {e}") from None


def macro_from_args(args: argparse.Namespace) -> MacroConfig:
    """Geometry from ``--config`` (its ``[macro]`` table) overridden by explicit flags."""
    d: dict = {}
    if args.config is not None:
        d.update(load_toml(args.config).get("macro", {}))
    unknown = sorted(set(d) - {"rows", "cols", "batch_max"})
    if unknown:
        raise ValueError(f"unknown MacroConfig parameter(s) {', '.join(unknown)} in [macro] of "
                         f"{args.config}; allowed: batch_max, cols, rows")
    for k in ("rows", "cols", "batch_max"):
        if getattr(args, k) is not None:
            d[k] = getattr(args, k)
    missing = [k for k in ("rows", "cols") if k not in d]
    if missing:
        raise ValueError(f"missing geometry: give {', '.join('--' + m for m in missing)} "
                         f"or a --config file with them in its [macro] table")
    return MacroConfig.from_dict(d)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flexspim",
        description="Generator and verification kit for event-based digital CIM SNN "
                    "accelerators (FlexSpIM architecture).")
    p.add_argument("--version", action="version", version=f"flexspim {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).register(sub)
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
