"""The little of a Liberty file the flow needs: library name, time unit, each cell's area and
whether it is a flip-flop or a latch. Checked up front, so a wrong ``--liberty`` is a one-line
error before Yosys runs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Liberty", "load_liberty"]

_LIBRARY = re.compile(r"\blibrary\s*\(\s*\"?([^\s\")]+)\"?\s*\)\s*\{")
_CELL = re.compile(r"\bcell\s*\(\s*\"?([^\s\")]+)\"?\s*\)\s*\{")
_AREA = re.compile(r"\barea\s*:\s*([-+0-9.eE]+)\s*;")
_SEQ = re.compile(r"\b(ff|ff_bank|latch|latch_bank|statetable)\s*\(")
_INV = re.compile(r"\bfunction\s*:\s*\"\s*(?:!\s*\(?\s*\w+\s*\)?|\(\s*!\s*\w+\s*\)|\w+\s*')\s*\"")
_FUNC = re.compile(r"\bfunction\s*:\s*\"([^\"]*)\"")
_PINS = re.compile(r"\bpin\s*\(")
_TIME = re.compile(r"\btime_unit\s*:\s*\"?\s*([0-9.]+)\s*([munp]?s)\s*\"?\s*;")
_COMMENT = re.compile(r"/\*.*?\*/", re.S)


@dataclass(frozen=True)
class Liberty:
    """One Liberty library: ``areas`` (cell -> area in the library's unit, um^2 by
    convention), ``sequential`` (cells with an ``ff``/``latch`` group), ``inverters``
    (one-input cells whose function is ``!A``, smallest first; ABC's buffering uses the
    smallest as the input driver), ``nand2`` (the smallest two-input NAND, the unit of NAND2
    equivalents; None when the library has none), ``time_unit_ns``."""

    path: Path
    name: str
    areas: dict[str, float]
    sequential: frozenset[str]
    inverters: tuple[str, ...]
    nand2: str | None
    time_unit_ns: float
    sha256: str

    def area(self, counts: dict[str, int]) -> float:
        """Area of a cell-count dict; `KeyError` for a cell not in the library."""
        return sum(self.areas[c] * n for c, n in counts.items())

    def summary(self) -> dict:
        return {"path": str(self.path), "name": self.name, "cells": len(self.areas),
                "nand2_cell": self.nand2,
                "nand2_um2": self.areas[self.nand2] if self.nand2 else None,
                "time_unit_ns": self.time_unit_ns, "sha256": self.sha256}


def load_liberty(path: Path | str) -> Liberty:
    """Parse ``path``. Raises `ValueError` (one line, naming the file) when it cannot be read
    or is not a Liberty library with cell areas."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read `--liberty` {path}: {e.strerror}") from None
    text = _COMMENT.sub(" ", raw.decode("latin-1"))
    lib = _LIBRARY.search(text)
    if lib is None:
        raise ValueError(f"`--liberty` {path} is not a Liberty file: no `library (...)` group")
    heads = list(_CELL.finditer(text))
    areas: dict[str, float] = {}
    seq: set[str] = set()
    inv: list[tuple[float, str]] = []
    nand: list[tuple[float, str]] = []
    for i, m in enumerate(heads):
        body = text[m.end():heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        a = _AREA.search(body)
        if a is None:
            raise ValueError(f"`--liberty` {path}: cell {m.group(1)} has no `area`")
        areas[m.group(1)] = float(a.group(1))
        if _SEQ.search(body):
            seq.add(m.group(1))
        elif len(_PINS.findall(body)) == 2 and _INV.search(body):
            inv.append((areas[m.group(1)], m.group(1)))
        f = _FUNC.search(body)
        if f and len(_PINS.findall(body)) == 3 and re.fullmatch(
                r"!\w\w", re.sub(r"[\s()&*]", "", f.group(1))):
            nand.append((areas[m.group(1)], m.group(1)))
    if not areas:
        raise ValueError(f"`--liberty` {path} is not a usable Liberty file: it has no cells")
    if not seq:
        raise ValueError(f"`--liberty` {path} has no flip-flop cell (no `ff` group): "
                         f"synthesis needs one for the registers")
    t = _TIME.search(text)
    scale = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0, "ps": 1e-3}
    unit = float(t.group(1)) * scale[t.group(2)] if t else 1.0
    return Liberty(path=path.resolve(), name=lib.group(1), areas=areas,
                   sequential=frozenset(seq), inverters=tuple(n for _, n in sorted(inv)),
                   nand2=min(nand)[1] if nand else None, time_unit_ns=unit,
                   sha256=hashlib.sha256(raw).hexdigest())
