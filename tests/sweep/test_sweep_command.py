"""``flexspim sweep`` end to end: files and columns, the cache, errors, TOML."""

import csv
import json

import pytest

from flexspim.cli import main
from flexspim.sweep.report import COLUMNS


def _rows(out):
    with open(out / "sweep.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_acceptance_command_writes_csv_json_and_plots_and_a_rerun_does_no_work(tmp_path,
                                                                              capsys):
    """The issue's acceptance command (one test, so pytest-xdist runs it once)."""
    out = tmp_path / "out"
    args = ["sweep", "--rows", "16,32", "--cols", "16", "-o", str(out), "-j", "2"]
    assert main(args) == 0
    assert {p.name for p in out.glob("*.png")} == {"area.png", "energy.png", "cycles.png",
                                                   "pareto.png", "shape.png"}
    for p in out.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(out / "sweep.csv", newline="") as f:
        assert next(csv.reader(f)) == COLUMNS
    rows = _rows(out)
    assert [(r["rows"], r["cols"], r["batch"], r["bw"], r["bv"]) for r in rows] == \
        [("16", "16", "4", "2", "8"), ("32", "16", "4", "2", "8")]
    for r in rows:
        assert r["status"] == "ok"
        # every figure family is present: cycles, macro energy, network energy, area, tools
        for c in ("acc_cycles", "cycles_per_event", "acc_pj_per_sop", "net_pj_per_inference",
                  "net_macros", "periph_nand2", "periph_flops", "array_bits",
                  "area_um2", "storage_um2", "storage_flops", "fmax_mhz", "crit_ns",
                  "events_per_s", "gsops_per_s", "total_nand2", "chip_um2", "tool_yosys",
                  "tool_sta", "tool_amaranth"):
            assert r[c] not in ("", None), c
        assert r["rtl_acc_cycles"] == ""        # no --rtl
        assert int(r["array_bits"]) == int(r["rows"]) * 16
        assert int(r["storage_flops"]) >= int(r["array_bits"])     # one flip-flop per bit
        assert float(r["area_um2"]) == pytest.approx(float(r["storage_um2"])
                                                     + float(r["periph_um2"]))
        # events per second at the measured clock
        assert float(r["events_per_s"]) == pytest.approx(
            float(r["fmax_mhz"]) * 1e6 / float(r["cycles_per_event"]))
        assert float(r["chip_um2"]) == pytest.approx(int(r["net_macros"])
                                                     * float(r["area_um2"]))
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["columns"] == COLUMNS and len(doc["points"]) == 2
    assert doc["points"][0]["acc_cycles"] == int(rows[0]["acc_cycles"])
    assert set(doc["tools"]) >= {"flexspim", "amaranth", "yosys", "sta", "python"}
    # a twice taller array needs fewer macros for the example, each of them bigger
    assert int(rows[1]["net_macros"]) < int(rows[0]["net_macros"])
    assert float(rows[1]["area_um2"]) > float(rows[0]["area_um2"])

    # the second run does no work and writes the same rows
    before = (out / "sweep.csv").read_text()
    capsys.readouterr()
    assert main(args) == 0
    assert "0 tasks run, 4 from the cache" in capsys.readouterr().out
    assert json.loads((out / "timings.json").read_text())["evaluated_tasks"] == 0
    assert (out / "sweep.csv").read_text() == before


def test_interrupted_sweep_redoes_only_the_missing_task(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["sweep", "--rows", "8", "--cols", "4,8", "--batch", "2", "--bw", "1", "--bv", "4",
            "--no-area", "--no-network", "-o", str(out), "-j", "1"]
    assert main(args) == 0
    cached = sorted((out / "cache").glob("point-*.json"))
    assert len(cached) == 2
    cached[0].unlink()                                  # as if killed before it finished
    cached[1].write_text(cached[1].read_text()[:10])    # or killed while writing (not atomic)
    capsys.readouterr()
    assert main(args) == 0
    assert "2 tasks run, 0 from the cache" in capsys.readouterr().out
    assert main(args) == 0
    assert "0 tasks run, 2 from the cache" in capsys.readouterr().out


def test_invalid_points_are_reported_and_skipped(tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["sweep", "--rows", "8", "--cols", "4", "--batch", "1", "--bw", "1",
                   "--bv", "4,16", "--no-area", "--no-network", "-o", str(out), "-j", "1"])
    assert status == 0
    text = capsys.readouterr().out
    assert "skipped 8x4 P=1 bw=1 bv=16 hybrid: `bv` must be an integer in [1, 8], not 16" in text
    # one progress line per finished point (stdout is not a terminal here)
    assert "[1/2]" in text and "[2/2]" in text
    rows = _rows(out)
    assert [r["status"] for r in rows] == ["ok", "invalid"]
    assert rows[1]["reason"] == "`bv` must be an integer in [1, 8], not 16"
    assert rows[1]["acc_cycles"] == ""


def test_a_sweep_with_no_valid_point_is_refused_with_the_reasons(tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["sweep", "--rows", "8", "--cols", "4", "--batch", "1", "--bw", "1",
                   "--bv", "16,17", "--no-area", "--no-network", "-o", str(out), "-j", "1"])
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: no valid point among the 2 of the "
                                                    "sweep: 8x4 P=1 bw=1 bv=16 hybrid: `bv` ")
    assert "bv=17" in err and not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--rows", "16:8", "--cols", "4"], "error: `rows` value '16:8' runs backwards"),
    (["--rows", "16", "--cols", "x"], "error: `cols` value 'x' is not a number or a range"),
    (["--rows", "16"], "error: missing axis: give --cols"),
    (["--rows", "16", "--cols", "4", "--dataflow", "wos"], "error: `dataflow` must be among"),
    (["--rows", "16", "--cols", "4", "-j", "0"],
     "error: `--jobs` must be an integer in [1, 1024], not 0"),
    (["--rows", "16", "--cols", "4", "--scheduler", "nowhere"],
     "error: `--scheduler` must be an address such as tcp://HOST:PORT"),
    (["--rows", "16", "--cols", "4", "--bitcell-nand2", "-1"],
     "error: `bitcell_nand2` must be a number in (0, 1000)"),
])
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, args, message):
    assert main(["sweep", "-o", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_toml_config_with_ranges_and_energy_override(tmp_path):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text('[sweep]\nrows = 8\ncols = "4:8:2x"\nbatch = [2]\nbw = 1\nbv = 4\n'
                   'leak_mode = "shift"\n\n[energy]\narray_read_bit = 1.0\n'
                   'array_write_bit = 0.0\nfull_adder = 0.0\n')
    out = tmp_path / "out"
    assert main(["sweep", "--config", str(cfg), "--no-area", "--no-network", "-o", str(out),
                 "-j", "1"]) == 0
    rows = _rows(out)
    assert [r["cols"] for r in rows] == ["4", "8"]
    assert {r["leak_mode"] for r in rows} == {"shift"}
    # reads only, 1 pJ each, per column: bv = 4 add cycles read P + 1 = 3 bits, the
    # guard = 2 cycles read only the P = 2 weights' sign rows (V's sign is in a register);
    # per P = 2 SOPs
    assert float(rows[0]["acc_pj_per_sop"]) == pytest.approx((4 * 3 + 2 * 2) / 2)
    bad = tmp_path / "bad.toml"
    bad.write_text("[sweep]\nrows = 8\ncols = 4\ncolumns = 2\n")
    assert main(["sweep", "--config", str(bad), "-o", str(out)]) == 2
    bad.write_text("[sweep]\nrows = 8\ncols = 4\n[energie]\ndram_bit = 99.0\n")
    assert main(["sweep", "--config", str(bad), "-o", str(out)]) == 2


def test_a_failing_task_is_reported_not_cached_and_does_not_stop_the_others(tmp_path, capsys,
                                                                           monkeypatch):
    import flexspim.sweep.runner as runner

    def broken(macro, options):
        if macro["cols"] == 8:
            raise RuntimeError("yosys failed: out of memory")
        return {"periph_cells": 1, "periph_flops": 0, "periph_um2": 1.0,
                "array_bits": 32, "array_read_ports": 3, "storage_um2": 2.0,
                "area_um2": 3.0, "crit_ns": 5.0, "fmax_mhz": 200.0}

    monkeypatch.setattr(runner, "evaluate_area", broken)
    out = tmp_path / "out"
    args = ["sweep", "--rows", "8", "--cols", "4,8", "--batch", "2", "--bw", "1", "--bv", "4",
            "--no-network", "-o", str(out), "-j", "1"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "ERROR 8x8 P=2 bw=1 bv=4 hybrid: area: RuntimeError: yosys failed: out of memory" \
        in err
    rows = _rows(out)
    assert [r["status"] for r in rows] == ["ok", "error"]
    # 1 issue + 1 read-ahead + bv 4 + (guard 2 for P = 2 + clamp bv 4)
    assert rows[0]["area_um2"] == "3.0" and rows[1]["acc_cycles"] == "12"
    assert len(list((out / "cache").glob("area-*.json"))) == 1      # only the good one


def test_operand_cols_axis_end_to_end(tmp_path, capsys, monkeypatch):
    """Issue 20: --operand-cols sweeps the shape; each shape is its own macro (an area task
    with max_operand_cols = N), its cycles are the shaped formulas, shape.png draws them."""
    import flexspim.sweep.runner as runner
    from flexspim.config import MacroConfig
    from flexspim.golden.cycles import accumulate_cycles

    seen = []

    def area(macro, options):           # a stand-in for the synthesis (tested on its own)
        seen.append(macro)
        m = macro["max_operand_cols"]
        return {"periph_cells": 100 * m, "periph_flops": 10, "periph_um2": 1000.0 * m,
                "array_bits": macro["rows"] * macro["cols"], "array_read_ports": 3,
                "storage_um2": 5000.0, "area_um2": 5000.0 + 1000.0 * m, "crit_ns": 2.0 + m,
                "fmax_mhz": 1000 / (2.0 + m)}

    monkeypatch.setattr(runner, "evaluate_area", area)
    out = tmp_path / "out"
    args = ["sweep", "--rows", "16", "--cols", "8", "--batch", "2", "--bw", "2", "--bv", "6",
            "--operand-cols", "1:8:2x", "--no-network", "-o", str(out), "-j", "1"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "sweep: 4 points" in text
    # 8 columns: N_C = 8 fits (one neuron per slot)
    assert sorted(m["max_operand_cols"] for m in seen) == [1, 2, 4, 8]
    rows = _rows(out)
    assert [r["operand_cols"] for r in rows] == ["1", "2", "4", "8"]
    for r in rows:
        n = int(r["operand_cols"])
        assert r["status"] == "ok"
        macro = MacroConfig(16, 8, 2, max_operand_cols=n)
        assert int(r["acc_cycles"]) == accumulate_cycles(macro, 6, True, operand_cols=n)
        assert float(r["periph_um2"]) == 1000.0 * n
        assert float(r["gsops_per_s"]) == pytest.approx(
            float(r["fmax_mhz"]) * 1e-3 * 2 * (8 // n) / int(r["acc_cycles"]))
    assert [int(r["acc_cycles"]) for r in rows] == [16, 9, 6, 4]
    png = out / "shape.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # N_C above the columns: that point is skipped with the config's reason, the rest run
    capsys.readouterr()
    assert main([*args[:-4], "--cols", "4", "-o", str(tmp_path / "o2"), "-j", "1"]) == 0
    assert ("skipped 16x4 P=2 bw=2 bv=6 N_C=8 hybrid: `max_operand_cols` must be an integer "
            "in [1, 4], not 8") in capsys.readouterr().out


def test_operand_cols_that_is_not_a_power_of_two_is_a_one_line_error(tmp_path, capsys):
    assert main(["sweep", "-o", str(tmp_path / "o"), "--rows", "16", "--cols", "8",
                 "--operand-cols", "1,3", "--no-area"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: `operand_cols` must be a power of two in [1, 16]")
    assert err.count("\n") == 1 and not (tmp_path / "o").exists()
