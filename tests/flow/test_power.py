"""`flexspim power`: the VCD reader on a hand-written dump, OpenSTA's power on a hand-computed
netlist (the defects `flow.power` works around), and the whole flow on a tiny macro.

Skipped, saying why, when yosys, iverilog or OpenSTA or the OSU 0.18 files are missing."""

import json
import shutil
import subprocess

import pytest

from flexspim.flow.libcosts import read_power
from flexspim.flow.power import CELL_MODELS, activity_script, parse_instance_power
from flexspim.flow.tools import DEFAULT_LIBERTY
from flexspim.flow.vcd import toggle_counts


def need(*tools):
    missing = [t for t in tools if shutil.which(t) is None]
    missing += [str(p) for p in (DEFAULT_LIBERTY, CELL_MODELS) if not p.is_file()]
    if missing:
        pytest.skip(f"power flow needs {', '.join(missing)} (make install as root: apt-get "
                    f"install yosys opensta iverilog qflow-tech-osu018)")


VCD = """$timescale 1ns $end
$scope module top $end
$var wire 1 ! a $end
$var wire 2 " v [1:0] $end
$scope module sub $end
$var wire 1 # \\b[3] $end
$upscope $end
$upscope $end
$enddefinitions $end
#0
x!
bxx "
0#
#10
0!
b01 "
#20
1!
b10 "
1#
#25
0#
1#
#30
0!
#40
1!
"""


def test_vcd_toggles_by_hand(tmp_path):
    p = tmp_path / "d.vcd"
    p.write_text(VCD)
    act = toggle_counts(p, 10, 40)
    t = act.toggles
    # a: x->0 at 10 is outside (t0 < t), 0->1 at 20, 1->0 at 30, 0->1 at 40: 3
    assert t[("top", "a")] == 3
    # v: 01 -> 10 at 20: both bits toggle once
    assert t[("top", "v[0]")] == 1 and t[("top", "v[1]")] == 1
    # b[3]: 0->1 at 20; at 25 a 1->0->1 inside one time stamp counts nothing
    assert t[("top.sub", "b[3]")] == 1
    assert act.duty(("top", "a")) == pytest.approx(10 / 30)       # high 20..30
    assert act.duty(("top.sub", "b[3]")) == pytest.approx(20 / 30)
    only = toggle_counts(p, 0, 40, {"top.sub"})
    assert set(only.toggles) == {("top.sub", "b[3]")}


NETLIST = """module t(clk, a, y);
  input clk; input a; output y;
  wire n1, n2;
  DFFPOSX1 f1 (.CLK(clk), .D(a), .Q(n1));
  INVX1 i1 (.A(a), .Y(n2));
  DFFPOSX1 f2 (.CLK(clk), .D(n2), .Q(y));
endmodule
"""


def test_opensta_power_against_the_liberty_by_hand(tmp_path):
    """The pins' activities reach report_power (set after a first report, through
    sta::set_power_pin_activity), switching is C V^2 / 2 per transition, and internal
    energy comes out exactly twice the Liberty's energy per transition (the double count
    `flow.power` halves)."""
    need("sta")
    (tmp_path / "t.v").write_text(NETLIST)
    act = 0.5
    pins = [("f1/D", act, 0.5), ("f1/Q", 0.0, 0.0), ("i1/A", act, 0.5), ("i1/Y", act, 0.5),
            ("f2/D", act, 0.5), ("f2/Q", 0.0, 0.0)]
    (tmp_path / "p.tcl").write_text(activity_script(DEFAULT_LIBERTY, "t.v", "t", 10.0, pins,
                                                        [("a", act, 0.5)]))
    out = subprocess.run(["sta", "-no_splash", "-exit", "p.tcl"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    inst, total = parse_instance_power(out)
    lib = read_power(DEFAULT_LIBERTY)
    f = 1e8
    load = lib.cells["DFFPOSX1"].pins["D"].capacitance
    # the inverter's switching: 0.5 C V^2 per transition, `act` transitions per cycle
    assert inst["i1"][1] == pytest.approx(0.5 * load * 1e-12 * 1.8 ** 2 * act * f, rel=1e-3)
    # its internal power: twice the mean of rise and fall at its load and input slew (an
    # input port: 0 ns, extrapolated from the table)
    e = lib.internal("INVX1", "Y", load, 0.0)
    assert inst["i1"][0] == pytest.approx(2 * e * 1e-12 * act * f, rel=1e-3)
    # f1 with Q at 0: its clock pin (rise + fall energy at the ideal clock's 0 ns, twice,
    # at 2 edges per cycle) and its D pin on the input: its own table counted once (the
    # double count is on output arcs and the clock pin only)
    clk = sum(t.lookup(input_transition_time=0.0) for t in
              lib.cells["DFFPOSX1"].pins["CLK"].internal[""].values())
    d = lib.internal("DFFPOSX1", "D", 0.0, 0.0)
    assert inst["f1"][0] == pytest.approx((2 * clk + d * act) * 1e-12 * f, rel=1e-3)
    assert inst["f1"][1] == 0.0
    assert sum(v[0] for v in inst.values()) == pytest.approx(total[0], rel=1e-6)


def test_power_flow_on_a_tiny_macro(tmp_path, capsys):
    need("yosys", "iverilog", "vvp", "sta")
    from flexspim.cli import main

    out = tmp_path / "out"
    assert main(["power", "-o", str(out), "--rows", "8", "--cols", "8", "--batch", "1",
                 "--bw", "2", "--bv", "4", "--ops", "16", "--fire-every", "8"]) == 0
    rec = json.loads((out / "power.json").read_text())
    ops = rec["operations"]
    assert ops["accumulates"] == 16 and ops["fires"] == 2
    assert ops["sops"] == 16 * 8                       # P = 1 weight x 8 columns
    w = rec["window"]
    assert w["cycles"] >= ops["busy_cycles"] > 0
    p = rec["power_mw"]
    raw = rec["opensta_raw_mw"]
    assert raw["instances_reported"] == rec["cells"]
    assert raw["internal"] / 2 < p["internal"] < raw["internal"] * 0.6
    assert p["switching"] == pytest.approx(raw["switching"], rel=1e-5)
    # the clock net: every flip-flop's CLK pin, charged and discharged once per cycle
    lib = read_power(DEFAULT_LIBERTY)
    cap = rec["flops"] * lib.cells["DFFPOSX1"].pins["CLK"].capacitance
    assert rec["clock_pin_cap_pf"] == pytest.approx(cap, rel=0.02)
    assert p["clock_net"] == pytest.approx(cap * 1.8 ** 2 * 100e6 * 1e-9, rel=0.02)
    assert p["total"] == pytest.approx(p["dynamic"] + p["leakage"])
    e = rec["pj_per_sop"]
    assert e["0.18um"] == pytest.approx(p["total"] * 1e-3 * w["cycles"] * 10e-9 * 1e12
                                        / ops["sops"], rel=1e-6)
    assert e["40nm"] == pytest.approx(e["0.18um"] * (40 / 180) * 0.25, rel=1e-3)
    assert 10 < e["0.18um"] < 1000
    printed = capsys.readouterr().out
    assert "pJ/SOP" in printed and "5.7-7.2" in printed


def test_power_bad_input_is_one_line(tmp_path, capsys):
    from flexspim.cli import main

    assert main(["power", "-o", str(tmp_path / "o"), "--rows", "8", "--cols", "8",
                 "--bv", "8", "--bw", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: `--bv` 8 + `--bw` 2 do not fit")
    assert not (tmp_path / "o").exists()


def test_power_flow_on_a_tiny_core_and_the_model_beside_it(tmp_path):
    """The core on an event stream (its output, array and counters equal the golden
    core's, else the simulation step fails), and the energy model on the same operations:
    its counts are the stream's, its clock term agrees by construction (same Liberty
    numbers), and it and the measurement are both positive and within 3x."""
    need("yosys", "iverilog", "vvp", "sta")
    from flexspim.cli import main

    out = tmp_path / "out"
    assert main(["power", "-o", str(out), "--top", "core", "--rows", "8", "--cols", "8",
                 "--batch", "1", "--bw", "2", "--bv", "4", "--events", "60"]) == 0
    rec = json.loads((out / "power.json").read_text())
    ops, m = rec["operations"], rec["model"]
    assert rec["top"] == "flexspim_core" and ops["events"] > 0 and ops["ticks"] > 0
    assert ops["sops"] == m["counts"]["sops"] > 0
    assert m["counts"]["accumulates"] == ops["accumulates"]
    assert m["term_ratio"]["clock"] == pytest.approx(1.0)
    assert 1 / 3 < m["ratio_with_clock"] < 3
