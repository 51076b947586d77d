"""Command line: ``flexspim <command> ...`` (also ``python -m flexspim``).

Every configuration error is printed as one line (``error: ...``) with exit status 2, never as
a traceback: argparse's own errors too (without the usage block; ``--help`` shows it).
Ctrl-C prints one line and exits 130 (a second Ctrl-C exits at once); a failure to write
(a full disk) prints one line and exits 1. Outputs are staged and renamed into place only
when complete (`flexspim.outputs`), so none of these leaves a half-written file.

What a command must call (see `flexspim.inputs` and `flexspim.outputs`): `load_config` for
every TOML file (its allowed tables and keys), `read_events` + `stream_events` /
`check_tonic` for event files, `check_out_dir` (or `check_out_file`) on every output path
before computing, and `staged` (or `staged_file`) around the writing.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

from . import __version__
from .config import MacroConfig

__all__ = ["main", "COMMANDS", "HARDWARE_TABLES", "geometry_args", "macro_from_args",
           "load_toml", "ArgumentParser"]

#: Sub-command modules under ``flexspim/commands/``; each has ``register(subparsers)``.
COMMANDS = ("generate", "run", "cycles", "map", "study", "sweep", "import_nir", "synth", "pnr",
            "power")

#: Tables (and their keys) of a hardware ``--config`` file.
HARDWARE_TABLES = {"macro": ("rows", "cols", "batch_max", "max_operand_cols"),
                   "core": ("fifo_depth", "index_bits"),
                   "system": ("n_cores", "in_fifo_depth"),
                   "fanout": ("index_bits", "op_bits", "max_kernel", "max_taps")}


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: ``error: <what>`` and exit status 2, no usage block."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog.split()[-1]}: {message}\n"
                     if " " in self.prog else f"error: {message}\n")


def geometry_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("geometry")
    g.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="TOML file with a [macro] table (rows, cols, batch_max); command-line "
                        "values override it")
    g.add_argument("--rows", type=int, help="bit rows of the array")
    g.add_argument("--cols", type=int, help="columns of the array")
    g.add_argument("--batch", type=int, dest="batch_max", help="P, weights per accumulate")
    g.add_argument("--max-operand-cols", type=int, dest="max_operand_cols",
                   help="widest operand group (N_C) the carry chain supports, a power of two "
                        "(default 1: vertical operands)")


def load_toml(path: Path, option: str = "--config") -> dict:
    """Parse the TOML file given to command-line option ``option`` (named in the errors)."""
    from .inputs import load_toml as _load_toml

    return _load_toml(path, option)


def macro_from_args(args: argparse.Namespace) -> MacroConfig:
    """Geometry from ``--config`` (its ``[macro]`` table) overridden by explicit flags."""
    from .inputs import load_config

    d: dict = dict(load_config(args.config, "--config", HARDWARE_TABLES,
                               tuple(HARDWARE_TABLES)).get("macro", {}))
    for k in ("rows", "cols", "batch_max", "max_operand_cols"):
        if getattr(args, k, None) is not None:
            d[k] = getattr(args, k)
    missing = [k for k in ("rows", "cols") if k not in d]
    if missing:
        raise ValueError(f"missing geometry: give {', '.join('--' + m for m in missing)} "
                         f"or a --config file with them in its [macro] table")
    return MacroConfig.from_dict(d)


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="flexspim",
        description="Generator and verification kit for event-based digital CIM SNN "
                    "accelerators (FlexSpIM architecture).")
    p.add_argument("--version", action="version", version=f"flexspim {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name in COMMANDS:
        importlib.import_module(f".commands.{name}", __package__).register(sub)
    return p


@contextlib.contextmanager
def _sigint_once(result: list[int], restore: bool):
    """First Ctrl-C: KeyboardInterrupt (staged outputs are discarded on the way out). A
    second one while that cleanup runs exits at once (130) instead of hanging. Without
    ``restore`` (the program itself, not an in-process call), a Ctrl-C after the command
    has finished exits at once with the command's status (``result[0]``): the work is done,
    and interpreter teardown must neither print a traceback nor hang."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = []

    def handler(signum, frame):
        if pressed:
            os.write(2, b"error: interrupted again; stopped\n")
            os._exit(130)
        pressed.append(1)
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        if restore:
            signal.signal(signal.SIGINT, old)
        else:
            code = result[0] if result else 130
            signal.signal(signal.SIGINT, lambda signum, frame: os._exit(code))


def _quiet_abandoned_designs() -> None:
    """A design interrupted half-way through conversion makes Amaranth warn, at exit, about
    every object never elaborated: noise after the one ``error:`` line."""
    warnings.filterwarnings("ignore", message=r".* created but never used")


def main(argv: list[str] | None = None) -> int:
    result: list[int] = []
    try:
        # first thing, so a Ctrl-C while the commands are imported is one line too
        with _sigint_once(result, restore=argv is not None):
            result.append(_run(argv))
    except KeyboardInterrupt:      # the instant between the command's end and the handler
        print("error: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    return result[0]


def _run(argv: list[str] | None) -> int:
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:       # --help, --version, or a one-line argparse error
            return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        if args.command is None:
            parser.print_help()
            return 0
        return args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _quiet_abandoned_designs()
        print("error: interrupted (Ctrl-C); no output was half-written", file=sys.stderr)
        return 130
    except OSError as e:          # a full disk, a folder removed meanwhile, ...
        _quiet_abandoned_designs()
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {where}{e.strerror or e}; no output was half-written", file=sys.stderr)
        return 1
    except Exception as e:       # noqa: BLE001 - a bug: one line, traceback on request
        if os.environ.get("FLEXSPIM_DEBUG"):
            raise
        print(f"error: internal error {type(e).__name__}: {e} (please report it; "
              f"FLEXSPIM_DEBUG=1 shows the traceback)".replace("\n", " "), file=sys.stderr)
        return 1
