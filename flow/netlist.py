"""Reading the gate-level Verilog that Yosys writes: modules, their instances, and the net on
each flip-flop's output (so timing paths can name registers instead of ``_2886_``)."""

from __future__ import annotations

import re

__all__ = ["parse_netlist", "register_name", "verilog_modules"]

_MODULE = re.compile(r"^\s*module\s+(\\\S+|[A-Za-z_][\w$]*)", re.M)
_INST = re.compile(r"^\s+(\\\S+|[A-Za-z_][\w$]*)\s+(\\\S+|[A-Za-z_][\w$]*)\s*\(\s*$")
_PIN = re.compile(r"\.(\w+)\((.*)\)")


def _plain(name: str) -> str:
    """``\\fire_unit.fire_state [1]`` -> ``fire_unit.fire_state[1]``."""
    name = name.strip()
    if name.startswith("\\"):
        name = name[1:]
    return re.sub(r"\s+\[", "[", name)


def verilog_modules(text: str) -> list[str]:
    """Module names defined in Verilog ``text`` (escaped names without the backslash)."""
    return [_plain(m) for m in _MODULE.findall(text)]


def parse_netlist(text: str) -> dict[str, dict[str, tuple[str, dict[str, str]]]]:
    """``{module: {instance: (cell type, {pin: net})}}`` of a Yosys ``write_verilog``
    netlist (one instance header per line, one ``.PIN(net)`` per line)."""
    out: dict[str, dict[str, tuple[str, dict[str, str]]]] = {}
    module = inst = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("module "):
            module = _plain(s.split(None, 1)[1].split("(")[0])
            out[module] = {}
            continue
        if s == "endmodule":
            module = inst = None
            continue
        if module is None:
            continue
        m = _INST.match(line)
        if m and m.group(1) not in ("module", "assign", "wire", "input", "output", "reg"):
            inst = _plain(m.group(2))
            out[module][inst] = (_plain(m.group(1)), {})
            continue
        if inst is not None:
            p = _PIN.search(s)
            if p:
                out[module][inst][1][p.group(1)] = _plain(p.group(2))
            if s.endswith(");"):
                inst = None
    return out


def register_name(netlist: dict, top: str, path: str, sequential) -> str:
    """The register an STA pin or instance path (``array/_869_``) belongs to: the net on the
    flip-flop's ``Q``, prefixed with the instance path above it; the path itself when it is
    not a flip-flop in the netlist or its output net has no public name."""
    parts = path.split("/")
    module = top
    for p in parts[:-1]:
        cell = netlist.get(module, {}).get(p)
        if cell is None:
            return path
        module = cell[0]
    cell = netlist.get(module, {}).get(parts[-1])
    if cell is None or cell[0] not in sequential:
        return path
    q = cell[1].get("Q")
    if not q or q.startswith("_"):
        return path
    return ".".join(parts[:-1] + [q])
