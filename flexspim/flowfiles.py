"""Flow files written next to the generated Verilog: timing constraints (SDC), a file list
(``.f``), a FuseSoC core (``.core``), and the manifest's clock, reset, module list and
storage array.

Everything is derived from the generated Verilog text and the manifest's port list (module
names are parsed from ``module X`` lines, not assumed), so it follows whatever names and
hierarchy the generator produces. Same inputs, same bytes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_PERIOD_NS", "IO_FRACTION", "module_names", "instances", "array_info",
           "comb_paths", "sdc_text", "core_text", "write_flow_files"]

#: clock period the SDC targets unless edited: the 100 MHz the README's throughput figures
#: assume. A target, not a measured Fmax (`flexspim synth` measures one).
DEFAULT_PERIOD_NS = 10.0
#: share of the period given to the environment on each side of an I/O port
IO_FRACTION = 0.2

_NAME = r"(\\\S+|[A-Za-z_][\w$]*)"
_MODULE_RE = re.compile(rf"^module\s+{_NAME}\s*\(", re.M)
_PORT_RE = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?"
                      r"(?:\[(\d+):(\d+)\]\s*)?(\\\S+|[A-Za-z_][\w$]*)\s*;", re.M)
#: the storage module: ``<prefix>_cim_array`` (or a sub-module called ``array``)
_ARRAY_RE = re.compile(r"(^|[._])(cim_)?array$")


def _plain(name: str) -> str:
    return name[1:] if name.startswith("\\") else name


def _bodies(verilog: str) -> dict[str, str]:
    """Module name -> its text (``module`` .. ``endmodule``)."""
    out = {}
    for m in _MODULE_RE.finditer(verilog):
        end = verilog.index("endmodule", m.end())
        out[_plain(m.group(1))] = verilog[m.start():end]
    return out


def module_names(verilog: str) -> list[str]:
    """Every module the Verilog defines, in file order (escaped names unescaped)."""
    return [_plain(m.group(1)) for m in _MODULE_RE.finditer(verilog)]


def instances(verilog: str, extra: list[str] = ()) -> dict[str, list[tuple[str, str]]]:
    """Module -> ``[(instance name, module instantiated)]``, for the modules the text
    defines plus ``extra`` ones instantiated but defined elsewhere (a black box)."""
    bodies = _bodies(verilog)
    out: dict[str, list[tuple[str, str]]] = {}
    for parent, body in bodies.items():
        found = []
        for child in list(bodies) + [e for e in extra if e not in bodies]:
            esc = re.escape("\\" + child + " ") if not re.fullmatch(r"[A-Za-z_][\w$]*", child) \
                else re.escape(child) + r"\s"
            for m in re.finditer(rf"^\s*{esc}\s*{_NAME}\s*\(", body, re.M):
                found.append((_plain(m.group(1)), child))
        out[parent] = found
    return out


def _ports(body: str) -> list[dict[str, Any]]:
    return [{"name": _plain(name), "direction": d,
             "width": int(hi) - int(lo) + 1 if hi else 1}
            for d, hi, lo, name in _PORT_RE.findall(body)]


def array_info(verilog: str, top: str) -> list[dict[str, Any]]:
    """The storage array instances under ``top``: hierarchical path, module and ports."""
    bodies, inst = _bodies(verilog), instances(verilog)
    found = []

    def walk(module: str, path: list[str]) -> None:
        for name, child in inst.get(module, []):
            if _ARRAY_RE.search(child):
                found.append({"path": ".".join(path + [name]), "module": child,
                              "ports": _ports(bodies[child])})
            else:
                walk(child, path + [name])
    walk(top, [top])
    return found


_FLOPS = ("$dff,$adff,$dffe,$adffe,$sdff,$sdffe,$sdffce,$aldff,$aldffe,$dffsr,$dffsre,"
          "$dlatch")


def comb_paths(verilog: str, top: str, outputs: list[str],
               models: list[str] = ()) -> dict[str, list[str]]:
    """Output port -> the input ports that reach it without a register (Yosys input cone of
    each output, not traversed through flip-flops or memory write ports). ``models``:
    Verilog that replaces black-box modules of ``verilog`` (the storage array's behavioural
    model), so paths through the box are those of the model. Uses the Yosys that Amaranth
    itself runs, so no extra tool is needed."""
    from amaranth._toolchain.yosys import find_yosys

    yosys = find_yosys(lambda ver: ver >= (0, 10))
    script = [f"read_verilog -sv <<FLEXSPIM_EOT\n{verilog}\nFLEXSPIM_EOT",
              *[f"read_verilog -sv -overwrite <<FLEXSPIM_EOT\n{t}\nFLEXSPIM_EOT" for t in models],
              f"hierarchy -top {top}", "proc", "flatten", "opt_clean", "memory_collect"]
    for o in outputs:
        script += [f"log @@{o}", f"select -list o:{o} %ci*:-{_FLOPS}"
                                 f":-$mem_v2[WR_ADDR,WR_DATA,WR_EN,WR_CLK] i:* %i"]
    log = yosys.run(["-s", "/dev/stdin"], stdin="\n".join(script) + "\n",
                    ignore_warnings=True)
    out: dict[str, list[str]] = {}
    current = None
    prefix = _plain(top) + "/"
    for line in log.splitlines():
        if line.startswith("@@"):
            current = line[2:].strip()
        elif current and line.startswith(prefix):
            out.setdefault(current, []).append(_plain(line[len(prefix):].strip()))
    return {o: sorted(i) for o, i in sorted(out.items())}


def _port_ref(p: dict[str, Any]) -> str:
    return f"{p['name']}[*]" if p["width"] > 1 else p["name"]


def sdc_text(manifest: dict[str, Any], comb: dict[str, list[str]],
             period_ns: float = DEFAULT_PERIOD_NS) -> str:
    """Timing constraints for the generated top (SDC as OpenSTA and the usual tools read)."""
    ports = manifest["ports"]
    clock, reset = manifest["clock"]["port"], "rst"
    ins = [p for p in ports if p["direction"] == "input" and p["name"] not in (clock, reset)]
    outs = [p for p in ports if p["direction"] == "output"]
    by_name = {p["name"]: p for p in ports}
    lines = [
        f"# {manifest['top']}: timing constraints written by `flexspim generate`.",
        f"# The period is a target ({period_ns:g} ns, the 100 MHz the README's figures assume),",
        "# not a measured Fmax: edit `period` for your technology (`flexspim synth` reports one).",
        f"# Each side of an I/O port gets {IO_FRACTION:g} of the period for the logic outside.",
        f"set period {period_ns:g}",
        f"set io_delay [expr {{{IO_FRACTION:g} * $period}}]",
        f"create_clock -name clk -period $period [get_ports {clock}]",
        f"# {reset}: synchronous, active high; it is timed like any other input",
        f"set_input_delay $io_delay -clock clk [get_ports {{{reset}}}]",
    ]
    if ins:
        lines.append("set_input_delay $io_delay -clock clk [get_ports {"
                     + " ".join(_port_ref(p) for p in ins) + "}]")
    if outs:
        lines.append("set_output_delay $io_delay -clock clk [get_ports {"
                     + " ".join(_port_ref(p) for p in outs) + "}]")
    if comb:
        lines.append("# Combinational input -> output paths (no register in between): they share")
        lines.append("# one cycle with the logic on both sides. Budgeted explicitly so the limit")
        lines.append("# holds even where the I/O delays above are replaced.")
        for o, srcs in comb.items():
            for i in srcs:
                lines.append(f"set_max_delay [expr {{$period - 2 * $io_delay}}] -from "
                             f"[get_ports {{{_port_ref(by_name[i])}}}] "
                             f"-to [get_ports {{{_port_ref(by_name[o])}}}]")
    else:
        lines.append("# No combinational input -> output path: every output is registered.")
    return "\n".join(lines) + "\n"


def core_text(manifest: dict[str, Any], files: dict[str, str], sources: list[str]) -> str:
    """FuseSoC CAPI2 core: the RTL, the SDC, the waivers, and a Verilator lint target."""
    top = manifest["top"]
    version = manifest.get("tools", {}).get("flexspim", "0.0.0")
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        version = "0.0.0"
    params = json.dumps(manifest["parameters"], sort_keys=True).replace("'", "")
    return "\n".join([
        "CAPI=2:",
        f"name: flexspim:generated:{top}:{version}",
        f"description: 'flexspim {top} generated with {params}'",
        "filesets:",
        "  rtl:",
        "    files:",
        *[f"      - {f}" for f in sources],
        "    file_type: verilogSource",
        "  constraints:",
        "    files:",
        f"      - {files['sdc']}",
        "    file_type: SDC",
        "  waivers:",
        "    files:",
        f"      - {manifest['lint_waivers']}",
        "    file_type: vlt",
        "targets:",
        "  default:",
        "    filesets: [rtl, constraints]",
        f"    toplevel: {top}",
        "  lint:",
        "    default_tool: verilator",
        "    filesets: [rtl, waivers]",
        f"    toplevel: {top}",
        "    tools:",
        "      verilator:",
        "        mode: lint-only",
        "        verilator_options: [-Wall]",
        ""])


def write_flow_files(out_dir: Path, manifest: dict[str, Any],
                     period_ns: float = DEFAULT_PERIOD_NS) -> dict[str, Any]:
    """Write ``<top>.sdc``, ``<top>.f`` and ``<top>.core`` next to ``<top>.v``, scope
    ``lint.vlt`` to every generated Verilog file, and add to ``manifest.json`` the clock,
    the storage array's instance paths, the combinational paths and these files (the
    module list, reset and array ports come from `flexspim.hdl.emit`). Returns the updated
    manifest."""
    from flexspim.lintgate import lint_waivers

    out_dir = Path(out_dir)
    top = manifest["top"]
    verilog = (out_dir / manifest["verilog"]["file"]).read_text()
    names = {p["name"] for p in manifest["ports"]}
    m = dict(manifest)
    m["clock"] = {"port": "clk", "edge": "rising", "domain": "sync",
                  "sdc_period_ns": period_ns,
                  "meaning": "the single clock: every register and the storage array's "
                             "read and write ports act on its rising edge"}
    if "clk" not in names or "rst" not in names:
        raise ValueError(f"{top} must have ports clk and rst, not {sorted(names)}")
    if "modules" not in m:
        m["modules"] = module_names(verilog)
    if isinstance(m.get("array"), dict):
        arr = dict(m["array"])
        paths = _paths_to(verilog, top, arr["module"])
        arr["instances"] = paths
        m["array"] = arr
    else:
        found = array_info(verilog, top)
        if found:
            m["array"] = {"module": found[0]["module"], "ports": found[0]["ports"],
                          "instances": [a["path"] for a in found]}
    sources = [m["verilog"]["file"]]
    if isinstance(m.get("array"), dict) and "model" in m["array"]:
        sources.append(m["array"]["model"]["file"])
    if isinstance(m.get("buffer"), dict):
        m["buffer"] = {**m["buffer"], "instances": _paths_to(verilog, top,
                                                             m["buffer"]["module"])}
        if "model" in m["buffer"]:
            sources.append(m["buffer"]["model"]["file"])
    outputs = [p["name"] for p in manifest["ports"] if p["direction"] == "output"]
    comb = comb_paths(verilog, top, outputs, [(out_dir / f).read_text() for f in sources[1:]])
    m["comb_paths"] = [{"from": i, "to": o} for o, ins in comb.items() for i in ins]
    files = {"sdc": f"{top}.sdc", "filelist": f"{top}.f", "fusesoc_core": f"{top}.core"}
    m["flow_files"] = files
    (out_dir / m["lint_waivers"]).write_text(lint_waivers(*sources))
    (out_dir / files["sdc"]).write_text(sdc_text(m, comb, period_ns))
    (out_dir / files["filelist"]).write_text("\n".join(sources) + "\n")
    (out_dir / files["fusesoc_core"]).write_text(core_text(m, files, sources))
    (out_dir / "manifest.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
    return m


def _paths_to(verilog: str, top: str, module: str) -> list[str]:
    """Hierarchical instance paths (``top.inst.inst``) of ``module`` under ``top``."""
    inst = instances(verilog, extra=[module])
    found: list[str] = []

    def walk(mod: str, path: list[str]) -> None:
        for name, child in inst.get(mod, []):
            if child == module:
                found.append(".".join(path + [name]))
            else:
                walk(child, path + [name])
    walk(top, [top])
    return found
