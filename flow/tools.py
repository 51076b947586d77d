"""Finding and running the flow's external programs (Debian packages, not PyPI).

A missing program or a failing run becomes a `FlowError` with one line that says which
program, what to install, and the last lines of its log.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import time
from pathlib import Path

__all__ = ["FlowError", "DEFAULT_LIBERTY", "default_liberty", "require", "run_logged",
           "tool_version"]

#: OSU 0.18 um standard cells (NLDM delay and power tables, 1.8 V typical), from Debian's
#: ``qflow-tech-osu018`` package.
DEFAULT_LIBERTY = Path("/usr/share/qflow/tech/osu018/osu018_stdcells.lib")

#: Program -> Debian package that provides it.
PACKAGES = {"yosys": "yosys", "sta": "opensta", "graywolf": "graywolf", "qrouter": "qrouter",
            "qflow": "qflow"}


class FlowError(RuntimeError):
    """A flow step could not run or failed; the message is one line."""


def default_liberty() -> Path:
    if not DEFAULT_LIBERTY.is_file():
        raise FlowError(f"the default Liberty {DEFAULT_LIBERTY} is missing: apt-get install "
                        f"qflow-tech-osu018 (make install does it as root), or give --liberty")
    return DEFAULT_LIBERTY


def require(program: str) -> str:
    """Absolute path of ``program``; `FlowError` naming the Debian package when absent."""
    path = shutil.which(program)
    if path is None:
        pkg = PACKAGES.get(program, program)
        raise FlowError(f"`{program}` is not installed (not on PATH): apt-get install {pkg} "
                        f"(make install does it as root)")
    return path


@functools.lru_cache(maxsize=None)
def tool_version(program: str) -> str:
    """One-line version of ``yosys`` or ``sta``; "not installed" when absent."""
    path = shutil.which(program)
    if path is None:
        return "not installed"
    flag = {"yosys": "-V", "sta": "-version"}.get(program, "--version")
    try:
        r = subprocess.run([path, flag], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (r.stdout or r.stderr).strip().splitlines()
    return f"{program} {text[0]}" if text and program == "sta" else (text[0] if text else "")


def run_logged(cmd: list[str], cwd: Path, log: Path, what: str, progress=None,
               step: re.Pattern | None = None, timeout: float | None = None) -> str:
    """Run ``cmd`` in ``cwd``, writing its output to ``log``; returns the output.

    Lines that match ``step`` are passed to ``progress(line, seconds)`` as they come (progress
    of long Yosys runs). Raises `FlowError` with the log's last lines on failure.
    """
    t0 = time.perf_counter()
    lines: list[str] = []
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace")
    except OSError as e:
        raise FlowError(f"{what}: cannot start {cmd[0]}: {e.strerror}") from None
    try:
        with open(log, "w") as f:
            for line in proc.stdout:
                f.write(line)
                lines.append(line)
                if progress and step is not None and step.match(line):
                    progress(line.strip(), time.perf_counter() - t0)
                if timeout is not None and time.perf_counter() - t0 > timeout:
                    proc.kill()
                    raise FlowError(f"{what}: timed out after {timeout:.0f} s (log: {log})")
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if rc != 0:
        tail = [s.strip() for s in lines if s.strip()][-3:]
        raise FlowError(f"{what} failed (exit {rc}): {' | '.join(tail)} (log: {log})")
    return "".join(lines)
