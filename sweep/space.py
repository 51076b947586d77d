"""The sweep's design space: value lists and ranges, the TOML file, the points.

Value syntax (command line and TOML strings), items separated by commas:

* ``16`` one value;
* ``a:b`` every integer from ``a`` to ``b`` inclusive (step 1), e.g. ``1:8``;
* ``a:b:kx`` geometric, ``a, a*k, a*k*k, ...`` up to ``b`` inclusive (integer ``k >= 2``),
  e.g. ``16:128:2x`` = 16, 32, 64, 128;
* ``a:b:+k`` arithmetic, ``a, a+k, ...`` up to ``b`` inclusive (``k >= 1``), e.g.
  ``8:32:+8`` = 8, 16, 24, 32.

Items combine (``1:4,8,16``); duplicates are dropped and values sorted. ``--dataflow`` takes
names (``ws,os,hybrid``). In a TOML file (``[sweep]`` table) an axis is an integer, a list of
integers or one of the strings above.

``operand_cols`` (``--operand-cols``, issue 20) is the operand shape ``N_C``: a point with
``operand_cols = N`` is a macro generated with ``max_operand_cols = N`` (so its area and Fmax
include the N-column carry chain) running its layer at ``N_C = N`` (`sweep.point`). Values
are powers of two up to ``min(cols, 16)``; e.g. ``1:8:2x`` = 1, 2, 4, 8. Default 1 (every
operand vertical: the sweep of before issue 20).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from flexspim.config import MAX_OPERAND_COLS, LayerConfig, check_operand_cols
from flexspim.mapper.plan import STRATEGIES

from .point import Point

__all__ = ["AXES", "DEFAULTS", "MAX_POINTS", "parse_values", "parse_dataflows", "axes_from",
           "expand"]

#: Swept axes: name in the CLI and TOML -> `Point` field.
AXES = {"rows": "rows", "cols": "cols", "batch": "batch", "bw": "bw", "bv": "bv",
        "operand_cols": "operand_cols", "dataflow": "dataflow"}
#: Values of the axes not given. bw=2, bv=8 and P=4 fit a 16-row array (P*bw + bv = 16), so
#: the smallest geometries still map the example network (OS streaming).
DEFAULTS = {"batch": [4], "bw": [2], "bv": [8], "operand_cols": [1], "dataflow": ["hybrid"]}
#: A larger cross product is almost certainly a typo (and would run for days).
MAX_POINTS = 4096

_ITEM = re.compile(r"^\s*(-?\d+)\s*(?::\s*(-?\d+)\s*(?::\s*(\+?)(\d+)(x?)\s*)?)?$")


def _range_error(name: str, item: str, why: str) -> ValueError:
    return ValueError(f"`{name}` value {item!r} {why}; use N, A:B (inclusive), A:B:Kx "
                      f"(geometric, K >= 2) or A:B:+K (arithmetic, K >= 1), comma-separated")


def _item(name: str, item: str) -> list[int]:
    m = _ITEM.match(item)
    if m is None:
        raise _range_error(name, item, "is not a number or a range")
    a, b, plus, k, times = m.groups()
    a = int(a)
    if b is None:
        return [a]
    b = int(b)
    if b < a:
        raise _range_error(name, item, f"runs backwards ({b} < {a})")
    if k is None:
        k, plus, times = "1", "+", ""
    k = int(k)
    if plus and not times:
        if k < 1:
            raise _range_error(name, item, "has an arithmetic step below 1")
        n = (b - a) // k + 1         # counted before any list is built
        if n > MAX_POINTS:
            raise ValueError(f"`{name}` value {item!r} has {n} values; a sweep has at most "
                             f"{MAX_POINTS} points (narrow the range or add a step)")
        return list(range(a, b + 1, k))
    if times and not plus:
        if k < 2 or a < 1:
            raise _range_error(name, item, "needs a factor K >= 2 and a start >= 1")
        out, v = [], a
        while v <= b:
            out.append(v)
            v *= k
        return out
    raise _range_error(name, item, "has a step that is neither +K nor Kx")


def parse_values(name: str, value: Any) -> list[int]:
    """Sorted distinct integers of an axis given as text, an int or a list (TOML).

    Raises:
        ValueError: naming ``name``, the bad item and the accepted syntax.
    """
    if isinstance(value, bool):
        raise ValueError(f"`{name}` must be integers, not {value!r}")
    if isinstance(value, int):
        return [value]
    if isinstance(value, list):
        out: list[int] = []
        for v in value:
            out += parse_values(name, v)
        if not out:
            raise ValueError(f"`{name}` must list at least one value, not []")
        return sorted(set(out))
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"`{name}` must be a value list such as 16,32 or 16:128:2x, "
                         f"not {value!r}")
    out = []
    for item in value.split(","):
        try:
            out += _item(name, item)
        except ValueError as e:
            if item == value:
                raise
            raise ValueError(f"{e}".replace(f"value {item!r}", f"item {item!r} of {value!r}",
                                            1)) from None
    return sorted(set(out))


def parse_dataflows(value: Any) -> list[str]:
    """Dataflow names (``ws``, ``os``, ``hybrid``) from text or a TOML list, in that order."""
    items = value if isinstance(value, list) else str(value).split(",")
    names = [str(v).strip() for v in items]
    bad = [n for n in names if n not in STRATEGIES]
    if bad or not names:
        raise ValueError(f"`dataflow` must be among {', '.join(STRATEGIES)}; not "
                         f"{', '.join(bad) or repr(value)}")
    return [s for s in STRATEGIES if s in names]


@dataclass(frozen=True)
class Axes:
    """Values of every axis, plus the settings shared by all points."""

    rows: tuple[int, ...]
    cols: tuple[int, ...]
    batch: tuple[int, ...]
    bw: tuple[int, ...]
    bv: tuple[int, ...]
    dataflow: tuple[str, ...]
    operand_cols: tuple[int, ...] = (1,)
    saturate: bool = True
    leak_mode: str = "none"
    reset: str = "hard"

    @property
    def size(self) -> int:
        return (len(self.rows) * len(self.cols) * len(self.batch) * len(self.bw)
                * len(self.bv) * len(self.operand_cols) * len(self.dataflow))


def axes_from(table: dict, overrides: dict) -> Axes:
    """Axes from a TOML ``[sweep]`` table, overridden by command-line values (text or None).

    Raises:
        ValueError: an unknown key, a bad value, a missing ``rows``/``cols``, or more than
            `MAX_POINTS` points.
    """
    fixed = {"saturate", "leak_mode", "reset"}
    unknown = sorted(set(table) - set(AXES) - fixed)
    if unknown:
        raise ValueError(f"unknown [sweep] key(s) {', '.join(unknown)}; allowed: "
                         f"{', '.join(sorted(set(AXES) | fixed))}")
    for k, v in table.items():      # every value of the file is checked, overridden or not
        if k in AXES:
            parse_dataflows(v) if k == "dataflow" else parse_values(k, v)
    merged = {**DEFAULTS, **{k: v for k, v in table.items() if k in AXES},
              **{k: v for k, v in overrides.items() if k in AXES and v is not None}}
    missing = [k for k in ("rows", "cols") if k not in merged]
    if missing:
        raise ValueError(f"missing axis: give {', '.join('--' + m for m in missing)} or "
                         f"put {' and '.join(missing)} in the [sweep] table of --config")
    vals = {k: tuple(parse_dataflows(v) if k == "dataflow" else parse_values(k, v))
            for k, v in merged.items()}
    for n in vals["operand_cols"]:      # never valid at any geometry: refused up front
        check_operand_cols(n, MAX_OPERAND_COLS)
    settings = {k: table[k] for k in fixed if k in table}
    LayerConfig(bw=1, bv=1, **settings)
    settings.update({k: v for k, v in overrides.items() if k in fixed and v is not None})
    # shared settings are checked once, up front: a bad one would invalidate every point
    LayerConfig(bw=1, bv=1, **settings)
    axes = Axes(**vals, **settings)
    if axes.size > MAX_POINTS:
        raise ValueError(f"the sweep has {axes.size} points; the limit is {MAX_POINTS} "
                         f"(narrow an axis)")
    return axes


def expand(axes: Axes) -> list[Point]:
    """Every point of the cross product, sorted (rows, cols, batch, bw, bv, operand_cols,
    dataflow).

    Points are not validated here: `Point.check` does it when evaluating, so an invalid
    combination is reported with its reason instead of aborting the sweep.
    """
    return [Point(rows=r, cols=c, batch=p, bw=w, bv=v, dataflow=d, saturate=axes.saturate,
                  leak_mode=axes.leak_mode, reset=axes.reset, operand_cols=n)
            for r, c, p, w, v, n, d in itertools.product(axes.rows, axes.cols, axes.batch,
                                                         axes.bw, axes.bv, axes.operand_cols,
                                                         axes.dataflow)]
