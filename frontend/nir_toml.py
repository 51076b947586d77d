"""The ``[import]`` TOML table that records an import's choices (`import_table`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .nir_import import NirImport

__all__ = ["import_table"]

def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return "inf" if v == math.inf else repr(float(v))
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    raise ValueError(f"cannot write {v!r} to TOML")


def import_table(imp: NirImport, source: str = "") -> str:
    """The ``[import]`` TOML table that records every choice of the import: the preset, dt
    and where it came from, leak order, reset, the bias scheme, and per layer the nodes,
    gain, scale, decay before and after, threshold (`flexspim.frontend.netfile` keeps it)."""
    st = imp.settings
    lines = ["", "[import]", f"source = {_toml(source)}"]
    for k in ("preset", "dt_source", "leak_order", "reset", "discretization",
              "late_subtract_in_framework", "saturate", "input_bias"):
        lines.append(f"{k} = {_toml(st[k])}")
    for row in st["layers"]:
        lines += ["", "[[import.layers]]"] + [f"{k} = {_toml(v)}" for k, v in row.items()]
    return "\n".join(lines) + "\n"
