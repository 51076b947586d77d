"""A one-line text progress bar for long jobs (time steps of a run, points of a sweep)."""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["bar"]


def bar(done: int, total: int, label: str, stream: TextIO | None = None, width: int = 30,
        unit: str = "step"):
    """Redraw ``label [#####.....] <unit> done/total`` in place; a newline when finished.

    When the stream is not a terminal, only every tenth step and the last are printed, each on
    its own line, so logs stay short.
    """
    out = stream or sys.stderr
    tty = out.isatty()
    if not tty and done != total and done % max(1, total // 10):
        return
    fill = width * done // max(total, 1)
    text = f"{label} [{'#' * fill}{'.' * (width - fill)}] {unit} {done}/{total}"
    out.write(("\r" + text) if tty else (text + "\n"))
    if tty and done == total:
        out.write("\n")
    out.flush()
