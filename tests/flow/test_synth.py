"""`flexspim synth` on a small macro, checked against an independent count: Yosys's own
``stat -liberty`` of the written netlist, and the flip-flops counted in the netlist text.

The tools are Debian packages that ``make install`` installs as root (CI does); when they are
missing these tests fail saying so, they do not skip."""

import json
import re
import shutil
import subprocess

import pytest

from flexspim.cli import main
from flexspim.flow import find_storage_modules, is_storage_module, load_liberty
from flexspim.flow.sta import parse_report
from flexspim.flow.tools import DEFAULT_LIBERTY


def need_tools():
    missing = [t for t in ("yosys", "sta") if shutil.which(t) is None]
    if missing or not DEFAULT_LIBERTY.is_file():
        pytest.fail(f"flow tools missing ({', '.join(missing) or DEFAULT_LIBERTY}): run "
                    f"`make install` as root (apt-get install yosys opensta qflow-tech-osu018)")


def test_storage_module_names_old_and_new():
    assert is_storage_module("flexspim_cim_array")
    assert is_storage_module("chip0_cim_array")
    assert is_storage_module("\\flexspim_macro.array")
    assert is_storage_module("flexspim_core.macro.array")
    assert not is_storage_module("flexspim_macro")
    assert not is_storage_module("flexspim_macro.acc_unit")
    assert not is_storage_module("flexspim_array_ctl")
    assert find_storage_modules(["flexspim_macro", "flexspim_macro.array",
                                 "flexspim_macro.fire_unit"]) == ["flexspim_macro.array"]


def test_a_design_without_storage_is_an_error(tmp_path):
    need_tools()
    from flexspim.flow import FlowError
    from flexspim.flow.synth import run_synth

    lib = load_liberty(DEFAULT_LIBERTY)
    v = "module top(input clk, input a, output reg q); always @(posedge clk) q <= a; endmodule\n"
    with pytest.raises(FlowError, match="no storage module"):
        run_synth(v, "top", lib, tmp_path)


def test_bad_liberty_is_one_line(tmp_path):
    bad = tmp_path / "bad.lib"
    bad.write_text("library (x) {\n cell (INV) {\n  pin (A) { direction : input; }\n }\n}\n")
    with pytest.raises(ValueError, match=r"^`--liberty` .*bad.lib: cell INV has no `area`$"):
        load_liberty(bad)
    with pytest.raises(ValueError, match="cannot read `--liberty`"):
        load_liberty(tmp_path / "none.lib")


def test_sta_report_parsing():
    text = """Startpoint: a/_1_ (rising edge-triggered flip-flop clocked by clk)
Endpoint: _2_ (rising edge-triggered flip-flop clocked by clk)
   0.000    0.000 ^ a/_1_/CLK (DFFPOSX1)
   0.239    0.239 v a/_1_/Q (DFFPOSX1)
   0.162    0.401 ^ _3_/Y (INVX1)
   0.000    0.401 ^ _2_/D (DFFPOSX1)
            0.401   data arrival time
  -0.178    9.822   library setup time
            9.421   slack (MET)
"""
    r = parse_report(text, 10.0)
    assert r["start"] == "a/_1_" and r["end"] == "_2_"
    assert r["critical_path_ns"] == pytest.approx(10.0 - 9.421)   # arrival + setup
    assert r["fmax_mhz"] == pytest.approx(1000 / 0.579)
    assert r["cells_on_path"] == 3


def yosys_chip_areas(netlist, top, liberty):
    """Yosys's own area report of the written netlist, module by module."""
    r = subprocess.run(["yosys", "-p", f"read_verilog {netlist}; hierarchy -top {top}; "
                       f"stat -liberty {liberty}"], capture_output=True, text=True, check=True)
    areas = {k: float(v) for k, v in
             re.findall(r"Chip area for module '\\?(.*?)': ([0-9.]+)", r.stdout)}
    # no "top module" line when the storage is a black box (not in the netlist)
    top_line = re.search(r"Chip area for top module '.*?': ([0-9.]+)", r.stdout)
    return areas, float(top_line.group(1)) if top_line else areas[top]


def synth_and_check(tmp_path, *options):
    """`flexspim synth` with ``options`` on an 8x8 P=2 design, checked against Yosys's own
    area of the written netlist, the flip-flops in its text and the path's own points.
    Returns the record."""
    need_tools()
    out = tmp_path / "out"
    assert main(["synth", "-o", str(out), "--rows", "8", "--cols", "8", "--batch", "2",
                 *options]) == 0
    rec = json.loads((out / "synth.json").read_text())
    assert rec["liberty"]["name"] == "osu018_stdcells"
    assert rec["liberty"]["path"] == str(DEFAULT_LIBERTY.resolve())

    # area: Yosys's stat -liberty of the same netlist (a second, independent sum)
    per_module, total = yosys_chip_areas(out / "netlist.v", rec["top"], DEFAULT_LIBERTY)
    a = rec["area_um2"]
    assert a["total"] == pytest.approx(total, abs=0.5)
    (storage,) = rec["storage"]["modules"]
    assert rec["storage"]["instances"] == 1
    assert a["storage"] == pytest.approx(per_module[storage], abs=0.5)
    assert a["periphery"] == pytest.approx(total - per_module[storage], abs=0.5)
    assert 0 < a["storage"] < a["total"]

    # flip-flops: instances of the library's flip-flop cells in the netlist text
    text = (out / "netlist.v").read_text()
    flops = len(re.findall(r"^\s+DFF(?:POSX1|NEGX1|SR)\s", text, re.M))
    assert rec["flops"] == flops
    # the storage synthesized as flip-flops: at least one per bit (8 x 8)
    assert rec["storage"]["flops"] >= 64
    assert rec["cells"] == sum(rec["cells_by_type"].values())

    # timing: a real path between two points of this netlist
    cp = rec["critical_path"]
    assert 0.5 < rec["critical_path_ns"] < 100
    assert rec["fmax_mhz"] == pytest.approx(1000 / rec["critical_path_ns"])
    assert rec["critical_path_ns"] == pytest.approx(10.0 - cp["slack_ns"])
    assert cp["cells_on_path"] >= 2
    for point in (cp["start"], cp["end"]):
        inst = point.rsplit("/", 1)[-1]
        assert re.search(rf"\s{re.escape(inst)} \(", text), point
    return rec


def test_synth_macro_against_yosys_stat_liberty(tmp_path, capsys):
    rec = synth_and_check(tmp_path)
    assert rec["top"] == "flexspim_macro"
    printed = capsys.readouterr().out
    assert "area um2" in printed and "Fmax" in printed


def test_missing_tool_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    need_tools()    # the Liberty must be there, so the first missing thing is Yosys
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "out"
    assert main(["synth", "-o", str(out), "--rows", "8", "--cols", "8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: `yosys` is not installed (not on PATH): apt-get install yosys "
                   "(make install does it as root)"]
    assert not out.exists()


def test_storage_priced_per_bit_is_black_boxed(tmp_path):
    need_tools()
    out = tmp_path / "out"
    assert main(["synth", "-o", str(out), "--rows", "8", "--cols", "8", "--batch", "2",
                 "--storage", "bitcell"]) == 0
    rec = json.loads((out / "synth.json").read_text())
    st = rec["storage"]
    assert st["mode"] == "bitcell" and st["cells"] == 0 and st["flops"] == 0
    assert st["bits"] == 64 and st["read_ports"] == 3
    assert st["bitcell_um2"] == pytest.approx(0.43 * (1 + 0.14 * 3) ** 2 * 24.0)  # NAND2X1
    assert rec["area_um2"]["storage"] == pytest.approx(64 * st["bitcell_um2"])
    # the synthesized part is the periphery alone: Yosys agrees on its area
    per_module, total = yosys_chip_areas(out / "netlist.v", rec["top"], DEFAULT_LIBERTY)
    assert rec["area_um2"]["periphery"] == pytest.approx(total, abs=0.5)


@pytest.mark.skipif(__import__("os").environ.get("FLEXSPIM_TIER") != "regress",
                    reason="a core takes ~15 s of CPU: FLEXSPIM_TIER=regress (make regress)")
def test_synth_core_times_and_splits(tmp_path):
    rec = synth_and_check(tmp_path, "--top", "core")
    assert rec["top"] == "flexspim_core" and rec["kind"] == "core"


def test_synth_fanout_is_all_periphery(tmp_path):
    """The fan-out unit has no storage array: all of it is periphery (small geometry, ~4 s
    of CPU); a `--storage bitcell` request is refused."""
    need_tools()
    out = tmp_path / "out"
    args = ["--top", "fanout", "--index-bits", "4", "--op-bits", "4", "--max-kernel", "3",
            "--max-taps", "9"]
    assert main(["synth", "-o", str(out), *args]) == 0
    rec = json.loads((out / "synth.json").read_text())
    assert rec["kind"] == "fanout" and rec["storage"]["cells"] == 0
    assert rec["area_um2"]["total"] == rec["area_um2"]["periphery"] > 0
    per_module, total = yosys_chip_areas(out / "netlist.v", rec["top"], DEFAULT_LIBERTY)
    assert rec["area_um2"]["total"] == pytest.approx(total, abs=0.5)
    assert main(["synth", "-o", str(tmp_path / "b"), *args, "--storage", "bitcell"]) == 2
