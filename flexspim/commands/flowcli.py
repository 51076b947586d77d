"""What the hardware-flow commands (``synth``, ``pnr``) share: the up-front tool check, the
timed progress lines on stderr, the one-line errors, and the record written whole."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

__all__ = ["FlowRun"]


class FlowRun:
    """One run of flow command ``name``: ``check`` the tools before anything is written,
    ``say`` progress (``[name  12.3s] ...``), ``error`` lines, ``write`` the JSON record."""

    def __init__(self, name: str, digits: int = 1):
        self.name, self.digits = name, digits
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def say(self, msg: str) -> None:
        print(f"[{self.name} {self.elapsed():6.{self.digits}f}s] {msg}", file=sys.stderr,
              flush=True)

    @staticmethod
    def error(e: Exception | str, status: int) -> int:
        print(f"error: {e}", file=sys.stderr)
        return status

    def check(self, tools: Iterable[str], also: Callable[[], Any] | None = None):
        """`FlowError` (one line) for the first missing program; then ``also()`` (e.g.
        loading the Liberty), whose value is returned. The clock restarts after it."""
        from ..flow.tools import require

        for tool in tools:
            require(tool)
        value = also() if also else None
        self.t0 = time.perf_counter()
        return value

    @staticmethod
    def write(path: Path, rec: dict) -> None:
        """``rec`` as JSON at ``path``, renamed into place whole."""
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(rec, indent=2) + "\n")
        os.replace(tmp, path)
