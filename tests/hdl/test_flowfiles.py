"""Flow files from `flexspim generate`: SDC, file list, FuseSoC core, manifest extras."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from flexspim.cli import main
from flexspim.flowfiles import array_info, comb_paths, instances, module_names
from flexspim.hdl.emit import to_verilog
from flexspim.testbench.sim import setup_verilator


@pytest.fixture(scope="module")
def generated(generate_once):
    """The lint gate's reference designs (16x8, P=2), generated once per session."""
    from flexspim.lintgate import CASES

    out = {}
    for top, case in (("macro", "macro_16x8_P2"), ("core", "core_16x8_P2"),
                      ("system", "system_16x8_P2_2cores")):
        d = generate_once(CASES[case])
        out[top] = (d, json.loads((d / "manifest.json").read_text()))
    return out


class _Paths(wiring.Component):
    """``a -> y`` combinational, ``b -> z`` through a register, ``c`` unused."""

    def __init__(self):
        super().__init__({"a": In(4), "b": In(4), "c": In(1), "y": Out(4), "z": Out(4)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(self.a + 1)
        m.d.sync += self.z.eq(self.b)
        return m


def test_comb_paths_finds_exactly_the_unregistered_ones():
    v = to_verilog(_Paths(), "paths")
    assert comb_paths(v, "paths", ["y", "z"]) == {"y": ["a"]}


@pytest.mark.parametrize("top", ["macro", "core", "system"])
def test_flow_files_and_manifest(generated, top):
    d, m = generated[top]
    name = m["top"]
    files = m["flow_files"]
    assert files == {"sdc": f"{name}.sdc", "filelist": f"{name}.f",
                     "fusesoc_core": f"{name}.core"}
    for f in files.values():
        text = (d / f).read_text()
        assert "/tmp" not in text and str(d) not in text
    verilog = (d / m["verilog"]["file"]).read_text()
    # modules: every `module` line, counted independently of the parser
    assert len(m["modules"]) == len(re.findall(r"^module ", verilog, re.M))
    assert m["modules"] == module_names(verilog) and name in m["modules"]
    assert m["clock"]["port"] == "clk" and m["reset"].startswith("rst: synchronous")
    # the storage array: one instance per macro, each path resolves through the tree
    n_arrays = {"macro": 1, "core": 1, "system": 2}[top]
    arr = m["array"]
    assert len(arr["instances"]) == n_arrays and arr["module"] in m["modules"]
    inst = instances(verilog)
    for path in arr["instances"]:
        module = name
        for part in path.split(".")[1:]:
            module = dict(inst[module])[part]
        assert module == arr["module"]
    # the SDC constrains every port and the combinational paths the manifest lists
    sdc = (d / files["sdc"]).read_text()
    assert "create_clock -name clk -period $period [get_ports clk]" in sdc
    for p in m["ports"]:
        if p["name"] != "clk":
            assert re.search(rf"[{{ ]{re.escape(p['name'])}(\[\*\])?[}} ]", sdc), p["name"]
    for path in m["comb_paths"]:
        assert re.search(rf"-from \[get_ports {{{path['from']}(\[\*\])?}}\] "
                         rf"-to \[get_ports {{{path['to']}(\[\*\])?}}\]", sdc), path
    assert (d / files["filelist"]).read_text().split() == [m["verilog"]["file"]]
    assert json.loads((d / "manifest.json").read_text())["verilog"]["sha256"]


def test_registered_reads_leave_no_path_into_row_rdata(generated, tmp_path):
    """The array's read data is registered (docs/array.md), so no input reaches
    ``row__rdata`` in the same cycle; with the array as a black box the paths are taken
    through its behavioural model and come out the same."""
    _, m = generated["macro"]
    assert not [p for p in m["comb_paths"] if p["to"] == "row__rdata"], m["comb_paths"]
    d = tmp_path / "bb"
    assert main(["generate", "-o", str(d), "--array", "blackbox", "--rows", "16", "--cols",
                 "8", "--batch", "2"]) == 0
    bb = json.loads((d / "manifest.json").read_text())
    assert bb["comb_paths"] == m["comb_paths"]
    model = bb["array"]["model"]["file"]
    assert (d / "flexspim_macro.f").read_text().split() == ["flexspim_macro.v", model]
    assert f"      - {model}\n" in (d / "flexspim_macro.core").read_text()
    assert f'-file "*{model}"' in (d / "lint.vlt").read_text()


def test_module_parser_reads_escaped_names():
    v = "module \\a.b (x);\n  input x;\nendmodule\nmodule top(x);\n  input x;\n" \
        "  \\a.b  u (\n    .x(x)\n  );\nendmodule\n"
    assert module_names(v) == ["a.b", "top"]
    assert instances(v)["top"] == [("u", "a.b")]
    assert array_info(v, "top") == []


def _fusesoc(core_dir: Path, build: Path) -> subprocess.CompletedProcess:
    setup_verilator()
    exe = Path(sys.executable).with_name("fusesoc")
    if not exe.exists():
        exe = shutil.which("fusesoc")
    name = json.loads((core_dir / "manifest.json").read_text())["top"]
    return subprocess.run([str(exe), "--cores-root", str(core_dir), "run", "--build-root",
                           str(build), "--target", "lint", f"flexspim:generated:{name}"],
                          capture_output=True, text=True, env=dict(os.environ))


def test_fusesoc_lints_the_core_with_verilator(generated, tmp_path):
    d, _ = generated["macro"]
    r = _fusesoc(d, tmp_path / "build")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    vc = next((tmp_path / "build").glob("*/lint-verilator/*.vc")).read_text()
    assert "lint.vlt" in vc and "flexspim_macro.v" in vc


def test_fusesoc_lint_fails_on_a_width_bug_in_a_wrapper(generated, tmp_path):
    """A team's wrapper around our macro, with a width bug, linted through the same core:
    the waivers (scoped to our file) must not hide it."""
    d, _ = generated["macro"]
    broken = tmp_path / "core"
    shutil.copytree(d, broken)
    (broken / "team.v").write_text(
        "module team(input wire clk, input wire rst, input wire [7:0] a,\n"
        "            output wire [3:0] y);\n"
        "  assign y = a;\n"
        "  flexspim_macro u (.clk(clk), .rst(rst));\n"
        "endmodule\n")
    core = (broken / "flexspim_macro.core").read_text()
    core = core.replace("      - flexspim_macro.v\n", "      - flexspim_macro.v\n      - team.v\n")
    core = core.replace("    filesets: [rtl, waivers]\n    toplevel: flexspim_macro",
                        "    filesets: [rtl, waivers]\n    toplevel: team")
    (broken / "flexspim_macro.core").write_text(core)
    r = _fusesoc(broken, tmp_path / "build")
    out = r.stdout + r.stderr
    assert r.returncode != 0, out[-2000:]
    assert re.search(r"%Warning-WIDTHTRUNC: \S*team\.v", out), out[-2000:]
    warnings = [ln for ln in out.splitlines() if ln.startswith("%Warning")]
    assert all("team.v:" in ln for ln in warnings), "a waived idiom of our file leaked"
