"""Which module of a generated design is the storage (the CIM array).

The storage is priced apart from the periphery because a tapeout may replace it by a bitcell
macro. Its module is ``<prefix>_cim_array`` (plain identifier, default prefix ``flexspim``);
Verilog generated before that naming has it as ``<top>.array`` (an escaped name such as
``\\flexspim_macro.array``, or ``\\flexspim_core.macro.array`` inside a core). Both are
accepted here so nothing else depends on the naming.
"""

from __future__ import annotations

import re

__all__ = ["is_storage_module", "find_storage_modules"]

_NEW = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*_cim_array$")
_OLD = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z0-9_$]+)*\.array$")


def is_storage_module(name: str) -> bool:
    """True for ``<prefix>_cim_array`` and the older ``<top>[.<sub>].array`` (a leading
    backslash, as Yosys and Verilog write escaped names, is ignored)."""
    name = name.lstrip("\\").strip()
    return bool(_NEW.match(name) or _OLD.match(name))


def find_storage_modules(names) -> list[str]:
    """The storage module names among ``names`` (sorted, as given)."""
    return sorted(n for n in names if is_storage_module(n))
