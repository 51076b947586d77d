"""``--rtl``: cycles measured under cocotb + Verilator equal the golden formulas, and a
disagreement is reported loudly."""

import pytest

from flexspim.cli import main
from flexspim.sweep import point as point_mod
from flexspim.sweep.point import Options, Point, evaluate_point
from flexspim.sweep.rtl import compare
from flexspim.sweep.runner import run_sweep


@pytest.mark.rtl
def test_measured_cycles_equal_the_formulas(tmp_path):
    points = [Point(8, 4, 2, 1, 4, saturate=True, leak_mode="shift", reset="hard"),
              Point(12, 4, 3, 2, 3, saturate=False, leak_mode="sub", reset="soft")]
    res = run_sweep(points, Options(network=False, rtl=True), None, tmp_path, jobs=2,
                    progress=False)
    assert res.errors == []
    for r in res.rows:
        assert r["status"] == "ok", r["reason"]
        assert r["rtl_acc_cycles"] == r["acc_cycles"]
        assert r["rtl_fire_cycles"] == r["fire_cycles"]
    # the two points really differ (saturate's guard and clamp passes, leak and reset passes)
    assert res.rows[0]["acc_cycles"] != res.rows[1]["acc_cycles"]
    assert res.rows[0]["fire_cycles"] != res.rows[1]["fire_cycles"]


@pytest.mark.rtl
def test_measured_cycles_equal_the_formulas_at_a_shape(tmp_path):
    """Issue 20: a shaped point's macro (max_operand_cols = N) runs its accumulates and fire
    passes at N_C = N in exactly the shaped formulas' cycles (V's last row half padding at
    bv 5 / N_C 2; a partial row at bv 7 / N_C 4)."""
    points = [Point(8, 4, 2, 2, 5, saturate=True, leak_mode="shift", reset="soft",
                    operand_cols=2),
              Point(8, 8, 3, 3, 7, saturate=False, leak_mode="sub", reset="hard",
                    operand_cols=4)]
    res = run_sweep(points, Options(network=False, rtl=True), None, tmp_path, jobs=2,
                    progress=False)
    assert res.errors == []
    for r in res.rows:
        assert r["status"] == "ok", r["reason"]
        assert r["rtl_acc_cycles"] == r["acc_cycles"]
        assert r["rtl_fire_cycles"] == r["fire_cycles"]
    # shaped, hence fewer cycles than the same operands vertical (formulas; 16 rows, since
    # 8 cannot hold them vertically)
    flat = evaluate_point(Point(16, 4, 2, 2, 5, saturate=True, leak_mode="shift",
                                reset="soft").to_dict(), Options(network=False).to_dict())
    assert res.rows[0]["acc_cycles"] < flat["acc_cycles"]
    assert res.rows[0]["fire_cycles"] < flat["fire_cycles"]
    # mutant: the vertical formulas in place of the shaped ones; the RTL's cycles refute them
    r = res.rows[0]
    seen = {"acc": [r["rtl_acc_cycles"]], "fire": [r["rtl_fire_cycles"]], "errors": 0}
    assert compare(flat, seen) == (
        f"acc: RTL took [{r['acc_cycles']}] cycles, the formula says {flat['acc_cycles']}; "
        f"fire: RTL took [{r['fire_cycles']}] cycles, the formula says {flat['fire_cycles']}")


def test_compare_names_every_difference():
    f = {"acc_cycles": 12, "fire_cycles": 9}
    assert compare(f, {"acc": [12, 12], "fire": [9, 9], "errors": 0}) == ""
    assert compare(f, {"acc": [12, 13], "fire": [8], "errors": 1}) == (
        "the macro rejected 1 command(s); acc: RTL took [12, 13] cycles, the formula says 12; "
        "fire: RTL took [8] cycles, the formula says 9")


def test_a_disagreement_fails_the_sweep_loudly(tmp_path, monkeypatch, capsys):
    import flexspim.sweep.rtl as rtl

    monkeypatch.setattr(rtl, "measure_cycles",
                        lambda p: {"acc": [99], "fire": [9], "errors": 0})
    row = point_mod.evaluate_point(Point(8, 4, 2, 1, 4).to_dict(),
                                   Options(network=False, rtl=True).to_dict())
    assert row["status"] == "rtl-mismatch"
    assert "acc: RTL took [99] cycles, the formula says 12" in row["reason"]
    status = main(["sweep", "--rows", "8", "--cols", "4", "--batch", "2", "--bw", "1",
                   "--bv", "4", "--rtl", "--no-area", "--no-network", "-j", "1",
                   "-o", str(tmp_path / "o")])
    assert status == 1
    assert "RTL-MISMATCH 8x4 P=2 bw=1 bv=4 hybrid: acc: RTL took [99] cycles" in \
        capsys.readouterr().err
