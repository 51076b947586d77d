"""Place and route: the DEF readers on a hand-written DEF and ``--collect``'s input checks
(fast), and ``flexspim pnr`` on a tiny macro (minutes of GrayWolf annealing: long tier only,
``make regress``). The extraction and post-route timing: tests/flow/test_extract.py."""

import json
import os
import shutil

import pytest

from flexspim.cli import main
from flexspim.flow.pnr import _set_seed, def_die_area, def_wirelength, placement_seed
from flexspim.flow.tools import FlowError

DEF = """VERSION 5.6 ;
UNITS DISTANCE MICRONS 100 ;
DIEAREA ( 0 0 ) ( 12000 5000 ) ;
COMPONENTS 1 ;
- u1 INVX1 + PLACED ( 0 0 ) N ;
END COMPONENTS
NETS 2 ;
- a ( u1 A ) ( PIN a )
  + ROUTED metal1 ( 100 200 ) ( 100 700 ) M2_M1
  NEW metal2 ( 100 700 ) ( 900 * ) ( * 1000 )
 ;
- b ( u1 Y ) ( PIN b )
  + ROUTED metal2 ( 0 0 ) ( 50 * ) ;
END NETS
END DESIGN
"""


def test_def_die_area_and_wirelength():
    assert def_die_area(DEF) == (120.0, 50.0)
    wl = def_wirelength(DEF)
    # metal1: 500; metal2: 800 + 300 + 50 (database units of 1/100 um)
    assert wl["metal1"] == pytest.approx(5.0)
    assert wl["metal2"] == pytest.approx(11.5)
    assert wl["total"] == pytest.approx(16.5)


def test_placement_seed_in_the_par_file(tmp_path):
    par = tmp_path / "t.par"
    par.write_text("*gridY\t\t      : 100\n*random.seed\t      : 12345\n*x : 1\n")
    assert placement_seed(par) == 12345
    _set_seed(par, 7)
    assert placement_seed(par) == 7
    assert par.read_text() == "*gridY\t\t      : 100\n*random.seed\t      : 7\n*x : 1\n"
    assert placement_seed(tmp_path / "none.par") is None
    par.write_text("*gridY : 100\n")
    with pytest.raises(FlowError, match="random.seed"):
        _set_seed(par, 7)


@pytest.mark.parametrize("extra, msg", [
    (["--seed", "-1"], "error: --seed -1: the placement seed must be 0 to 2**31 - 1"),
    (["--seed", str(2 ** 31)], f"error: --seed {2 ** 31}: the placement seed must be 0 to "
                               "2**31 - 1"),
    (["--seed", "3", "--collect"], "error: --seed is for a new placement; `--collect` "
                                   "re-times the project as it was placed"),
])
def test_seed_is_checked_before_anything_runs(tmp_path, capsys, extra, msg):
    out = tmp_path / "p"
    assert main(["pnr", "-o", str(out), "--rows", "4", "--cols", "4", "--batch", "2",
                 *extra]) == 2
    assert capsys.readouterr().err.strip() == msg
    assert not out.exists()


@pytest.mark.skipif(shutil.which("sta") is None, reason="needs OpenSTA (opensta)")
def test_collect_needs_a_project_of_the_same_design(tmp_path, capsys):
    out = tmp_path / "p"
    args = ["pnr", "-o", str(out), "--rows", "4", "--cols", "4", "--batch", "2", "--collect"]
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: `--collect` needs a qflow project in -o; {out} has no "
        f"source/flexspim_macro.v")
    (out / "source").mkdir(parents=True)
    (out / "source" / "flexspim_macro.v").write_text("module flexspim_macro; endmodule\n")
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: `--collect`: the project in") and "differs" in err
    assert not (out / "pnr.json").exists()


@pytest.mark.skipif(os.environ.get("FLEXSPIM_TIER") != "regress",
                    reason="place and route takes minutes: FLEXSPIM_TIER=regress (make regress)")
def test_pnr_tiny_macro_routes_and_times(tmp_path):
    out = tmp_path / "pnr"
    assert main(["pnr", "-o", str(out), "--rows", "4", "--cols", "4", "--batch", "2",
                 "--seed", "7"]) == 0
    rec = json.loads((out / "pnr.json").read_text())
    assert rec["placement_seed"] == 7      # qflow kept the seed written into its .par
    assert rec["failed_routes"] == 0
    assert rec["placed_cells"] > 100
    assert rec["die_area_um2"] > 0 and rec["wirelength_um"]["total"] > 0
    pre, post, par = rec["pre_route"], rec["post_route"], rec["parasitics"]
    assert pre["fmax_mhz"] > 0 and rec["placed_vesta"]["fmax_mhz"] > 0
    # every routed net extracted, its metal in one piece and on its pins
    assert par["nets"] > 100 and par["joined_gaps"] == 0 and par["max_pin_gap_um"] <= 0.5
    assert par["unrouted_nets"] == [] and par["mismatched_names"] == []
    assert par["wire_um"] >= rec["wirelength_um"]["total"]
    assert par["overlapping_runs"] == 0 and par["coupling_cap_pf"] > 0
    # wires only add delay (same netlist, same clock tree), coupling more
    ground, miller = rec["post_route_ground"], rec["post_route_miller"]
    assert pre["critical_path_ns"] < ground["critical_path_ns"]
    assert ground["critical_path_ns"] <= post["critical_path_ns"] <= miller["critical_path_ns"]
    assert (out / par["spef"]).is_file()


def test_summary_of_the_recorded_runs():
    """`flexspim pnr`'s table from the two records in docs/: the current one with its four
    timing rows, last round's (no coupling runs) with two."""
    from pathlib import Path

    from flexspim.commands.pnr import table
    docs = Path(__file__).resolve().parents[2] / "docs"
    new = table(json.loads((docs / "flow-pnr-16x16.json").read_text()))
    assert "10.16 pF coupling" in new
    def rows(text):
        return [s.rsplit(None, 2) for s in text.splitlines()
                if s.startswith(("routed netlist", "post-route,"))]
    assert rows(new) == [["routed netlist, no wires", "2.735", "365.6"],
                         ["post-route, ground C only", "3.285", "304.4"],
                         ["post-route, coupling x1", "3.474", "287.9"],
                         ["post-route, coupling x2 (Miller)", "3.712", "269.4"]]
    old = table(json.loads((docs / "flow-pnr-16x16-c59606b.json").read_text()))
    assert "coupling not extracted" in old
    assert rows(old) == [["routed netlist, no wires", "2.679", "373.3"],
                         ["post-route, ground C only", "3.272", "305.6"]]
