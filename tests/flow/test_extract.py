"""Parasitic extraction from a routed DEF (flow/extract.py) on hand-made layouts whose R and C
are worked out by hand, and post-route timing with OpenSTA on a tiny routed design (skipped
when OpenSTA or the OSU 0.18 files are not installed)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from flexspim.flow import extract as E
from flexspim.flow.pnr import TECH_DIR, qrouter_rc_cap, routed_timing

# metal1: 0.1 ohm/sq at 0.5 um = 0.2 ohm/um; 0.5 * 2e-5 + 2 * 1e-4 = 2.1e-4 pF/um
# metal2: 0.08 ohm/sq at 0.4 um = 0.2 ohm/um; 0.4 * 1e-5 + 2 * 5e-5 = 1.04e-4 pF/um
LEF = """UNITS DATABASE MICRONS 1000 ; END UNITS
LAYER metal1
  TYPE ROUTING ; WIDTH 0.5 ;
  RESISTANCE RPERSQ 0.1 ; CAPACITANCE CPERSQDIST 2e-05 ; EDGECAPACITANCE 1e-04 ;
END metal1
LAYER via
  TYPE CUT ;
END via
LAYER metal2
  TYPE ROUTING ; WIDTH 0.4 ;
  RESISTANCE RPERSQ 0.08 ; CAPACITANCE CPERSQDIST 1e-05 ; EDGECAPACITANCE 5e-05 ;
END metal2
VIA M2_M1 DEFAULT
  LAYER metal1 ; RECT -0.2 -0.2 0.2 0.2 ;
  LAYER via ; RECT -0.1 -0.1 0.1 0.1 ;
  LAYER metal2 ; RECT -0.2 -0.2 0.2 0.2 ;
END M2_M1
MACRO INVX1
  SIZE 2 BY 10 ;
  PIN A
    DIRECTION INPUT ;
    PORT
      LAYER metal1 ;
        RECT 0.2 4 0.6 5 ;
    END
  END A
  PIN Y
    DIRECTION OUTPUT ;
    PORT
      LAYER metal1 ;
        RECT 1.4 4 1.8 5 ;
    END
  END Y
END INVX1
"""

# u1.Y at (1.6, 4.5) drives u2.A at (20.4, 4.5) along metal1; a via at (10.4, 4.5) in the
# middle of that wire (a T-junction) climbs to metal2, up to u3.A, flipped (FS) at
# (10, 20): its pin is at y = 20 + 10 - 5 .. 20 + 10 - 4, centre (10.4, 25.5).
DEF = """VERSION 5.6 ;
UNITS DISTANCE MICRONS 100 ;
DIEAREA ( 0 0 ) ( 3000 3000 ) ;
COMPONENTS 3 ;
- u1 INVX1 + PLACED ( 0 0 ) N ;
- u2 INVX1 + PLACED ( 2000 0 ) N ;
- u3 INVX1 + PLACED ( 1000 2000 ) FS ;
END COMPONENTS
NETS 1 ;
- n.1
  ( u1 Y ) ( u2 A ) ( u3 A )
+ ROUTED metal1 ( 160 450 ) ( 2040 * )
  NEW metal1 ( 1040 450 ) M2_M1
  NEW metal2 ( 1040 450 ) ( * 2550 ) M2_M1 ;
END NETS
END DESIGN
"""

VERILOG = """module t (a, y);
input a; output y;
INVX1 u1 ( .A(a), .Y(n_1) );
INVX1 u2 ( .A(n_1), .Y(y) );
INVX1 u3 ( .A(n_1), .Y(y2) );
endmodule
"""


def _dnet(spef: str):
    caps = [float(m) for m in re.findall(r"^\d+ \S+ ([0-9.e-]+)$",
                                         spef.split("*CAP")[1].split("*RES")[0], re.M)]
    res = [(a, b, float(r)) for a, b, r in re.findall(r"^\d+ (\S+) (\S+) ([0-9.e-]+)$",
                                                       spef.split("*RES")[1], re.M)]
    return caps, res


def test_extract_rc_tree_by_hand():
    spef, stats = E.extract_spef(DEF, LEF, VERILOG, "t")
    assert stats["nets"] == 1 and stats["joined_gaps"] == 0
    assert stats["unrouted_nets"] == [] and stats["mismatched_names"] == []
    assert stats["max_pin_gap_um"] == pytest.approx(0.0)
    # the netlist's name, not the DEF's; the total wire capacitance on the D_NET line
    head = re.search(r"\*D_NET (\S+) (\S+)", spef)
    assert head.group(1) == "n_1"
    c = 18.8 * 2.1e-4 + 21.0 * 1.04e-4
    assert float(head.group(2)) == pytest.approx(c, rel=1e-5)
    assert stats["wire_um"] == pytest.approx(39.8)
    caps, res = _dnet(spef)
    assert sum(caps) == pytest.approx(c, rel=1e-5)
    # metal1 split at the via: 8.8 um and 10 um; metal2 21 um; two vias; three pin stubs
    wires = sorted(r for _, _, r in res if r > 0.01)
    assert wires == pytest.approx(sorted([8.8 * 0.2, 10 * 0.2, 21 * 0.2, E.VIA_OHMS["metal1"],
                                          E.VIA_OHMS["metal1"]]))
    pins = sorted(a if ":" in a and not a.startswith("n_1:") else b
                  for a, b, r in res if r <= 0.01)
    assert pins == ["u1:Y", "u2:A", "u3:A"]
    assert "*I u1:Y O *D INVX1" in spef and "*I u3:A I *D INVX1" in spef


def test_extract_reports_a_pin_the_metal_misses():
    # without the last via, u3.A (metal1) is reached by nothing on its layer at its place
    broken = DEF.replace("( * 2550 ) M2_M1 ;", "( * 2550 ) ;")
    _, stats = E.extract_spef(broken, LEF, VERILOG, "t")
    assert stats["max_pin_gap_um"] > 20


def test_extract_lists_unrouted_and_misnamed_nets():
    # z: two pins, no wire; y: the netlist has u2.Y on net y but u1.A on net a
    extra = ("- z\n  ( u2 Y ) ( u3 Y ) ;\n"
             "- y\n  ( u2 Y ) ( u1 A )\n+ ROUTED metal2 ( 2160 450 ) ( 40 * ) ;\n")
    text = DEF.replace("NETS 1 ;", "NETS 3 ;").replace("END NETS", extra + "END NETS")
    spef, stats = E.extract_spef(text, LEF, VERILOG, "t")
    assert stats["nets"] == 1 and "*D_NET n_1 " in spef
    assert stats["unrouted_nets"] == ["z"] and stats["mismatched_names"] == ["y"]
    unrouted = DEF.split("+ ROUTED")[0] + ";\nEND NETS\nEND DESIGN\n"
    with pytest.raises(E.FlowError, match="no routed net"):
        E.extract_spef(unrouted, LEF, VERILOG, "t")


# Three nets on metal1 (0.5 um wide), each from an INVX1's Y to another's A. a: y = 4.5,
# x 1.6-20.4; b: y = 5.5, x 6.6-30.4 (centre lines 1 um apart: edges 0.5 um apart, within
# the 0.8 um halo); c: y = 7.0, x 1.6-40.4 (1.0 um from b's edge, 2.0 um from a's: no coupling).
COUPLED_DEF = """VERSION 5.6 ;
UNITS DISTANCE MICRONS 100 ;
DIEAREA ( 0 0 ) ( 5000 2000 ) ;
COMPONENTS 6 ;
- u1 INVX1 + PLACED ( 0 0 ) N ;
- u2 INVX1 + PLACED ( 2000 0 ) N ;
- u3 INVX1 + PLACED ( 500 100 ) N ;
- u4 INVX1 + PLACED ( 3000 100 ) N ;
- u5 INVX1 + PLACED ( 0 250 ) N ;
- u6 INVX1 + PLACED ( 4000 250 ) N ;
END COMPONENTS
NETS 3 ;
- a ( u1 Y ) ( u2 A )
+ ROUTED metal1 ( 160 450 ) ( 2040 * ) ;
- b ( u3 Y ) ( u4 A )
+ ROUTED metal1 ( 660 550 ) ( 3040 * ) ;
- c ( u5 Y ) ( u6 A )
+ ROUTED metal1 ( 160 700 ) ( 4040 * ) ;
END NETS
END DESIGN
"""

COUPLED_V = """module t (x);
INVX1 u1 ( .A(x), .Y(a) );
INVX1 u2 ( .A(a), .Y(y2) );
INVX1 u3 ( .A(x), .Y(b) );
INVX1 u4 ( .A(b), .Y(y4) );
INVX1 u5 ( .A(x), .Y(c) );
INVX1 u6 ( .A(c), .Y(y6) );
endmodule
"""


def _nets(spef: str) -> dict[str, tuple[float, list, list]]:
    """net -> (D_NET total, [(node, ground pF)], [(node, other node, coupling pF)])."""
    out = {}
    for m in re.finditer(r"\*D_NET (\S+) (\S+)\n(.*?)\*END", spef, re.S):
        cap = m.group(3).split("*CAP")[1].split("*RES")[0]
        ground = [(n, float(c)) for n, c in re.findall(r"^\d+ (\S+) (\S+)$", cap, re.M)]
        cc = [(a, b, float(c)) for a, b, c in re.findall(r"^\d+ (\S+) (\S+) (\S+)$", cap, re.M)]
        out[m.group(1)] = (float(m.group(2)), ground, cc)
    return out


def test_coupling_capacitance_by_hand():
    spef, stats = E.extract_spef(COUPLED_DEF, LEF, COUPLED_V, "t", sidewall={"metal1": 20.0},
                                 halo_um=0.8)
    # a and b run side by side over x 6.6-20.4 = 13.8 um at 0.5 um: 20 aF * 13.8 / 0.5
    c = 20.0 * 13.8 / 0.5 * 1e-6
    assert stats["coupling_cap_pf"] == pytest.approx(c)
    assert stats["coupled_net_pairs"] == 1 and stats["coupled_run_um"] == pytest.approx(13.8)
    assert stats["overlapping_runs"] == 0
    assert stats["coupling_cap_pf_by_layer"] == {"metal1": pytest.approx(c)}
    assert stats["most_coupled_nets"] == [["a", pytest.approx(c)], ["b", pytest.approx(c)]]
    nets = _nets(spef)
    # written in both nets; each end of a piece takes the lever-rule share at the overlap's
    # centre x = 13.5: a (1.6-20.4) 6.9/18.8 at x = 1.6, 11.9/18.8 at 20.4; b (6.6-30.4)
    # 16.9/23.8 at 6.6, 6.9/23.8 at 30.4
    for net, other, shares in (("a", "b", (6.9 / 18.8, 11.9 / 18.8)),
                               ("b", "a", (16.9 / 23.8, 6.9 / 23.8))):
        total, ground, cc = nets[net]
        assert all(x.startswith(f"{net}:") and y.startswith(f"{other}:") for x, y, _ in cc)
        local: dict[str, float] = {}
        for x, _, v in cc:
            local[x] = local.get(x, 0.0) + v
        assert sorted(local.values()) == pytest.approx(sorted(s * c for s in shares))
        assert total == pytest.approx(sum(g for _, g in ground) + c, rel=1e-5)
    # ground capacitance unchanged by the coupling: 2.1e-4 pF/um of metal1
    assert sum(g for _, g in nets["a"][1]) == pytest.approx(18.8 * 2.1e-4, rel=1e-5)
    assert nets["c"][2] == []
    # pairs of coupling lines agree between the two nets
    ab = sorted((x, y, v) for x, y, v in nets["a"][2])
    ba = sorted((y, x, v) for x, y, v in nets["b"][2])
    assert ab == ba
    # a wider halo reaches c (1.0 um from b), no sidewall table: no coupling
    _, wide = E.extract_spef(COUPLED_DEF, LEF, COUPLED_V, "t", sidewall={"metal1": 20.0},
                             halo_um=1.0)
    assert wide["coupled_net_pairs"] == 2
    assert wide["coupling_cap_pf"] == pytest.approx(c + 20.0 * (30.4 - 6.6) / 1.0 * 1e-6)
    spef0, none = E.extract_spef(COUPLED_DEF, LEF, COUPLED_V, "t", sidewall={})
    assert none["coupling_cap_pf"] == 0 and all(not v[2] for v in _nets(spef0).values())


def test_coupling_skips_a_short():
    # b moved onto a's track: different nets overlapping is a short, not a capacitor
    short = COUPLED_DEF.replace("( 660 550 ) ( 3040 * )", "( 660 450 ) ( 3040 * )")
    _, stats = E.extract_spef(short, LEF, COUPLED_V, "t", sidewall={"metal1": 20.0})
    assert stats["overlapping_runs"] == 1 and stats["coupled_net_pairs"] == 0


def test_sidewall_table_matches_the_magic_tech_file():
    tech = TECH_DIR / "SCN6M_SUBM.10.tech"
    if not tech.is_file():
        pytest.skip("needs qflow-tech-osu018")
    text = tech.read_text()
    ext = text[text.index("\nextract"):]
    found = {f"metal{n}": float(v) for n, v in re.findall(
        r"^\s*sidewall\s.*?/metal(\d)\s.*?\s([0-9.]+)\s*$", ext, re.M)}
    assert found == E.SIDEWALL_AF
    assert re.search(r"^\s*sidehalo\s+8\s*$", ext, re.M) and re.search(r"^\s*lambda\s+10\s*$",
                                                                       ext, re.M)
    assert E.HALO_UM == pytest.approx(8 * 0.1)


def test_spef_names_escape_hierarchy_but_keep_bus_bits():
    assert E.spef_name("row__wdata[0]") == "row__wdata[0]"
    assert E.spef_name("\\acc.x[3] ") == "acc\\.x[3]"
    assert E.spef_name("_197__bF$buf3") == "_197__bF\\$buf3"


def test_qrouter_rc_cap_sums_every_section():
    line = "n 1 U1/Y 2 ( 1.0 0.002 ( 0.5 0.001 U2/A ) , ( 2.0 0.003 U3/A ) )\n"
    assert qrouter_rc_cap(line) == pytest.approx(0.006)


OSU = TECH_DIR / "osu018_stdcells.lef"


@pytest.mark.skipif(shutil.which("sta") is None or not OSU.is_file(),
                    reason="needs OpenSTA (opensta) and qflow-tech-osu018")
def test_routed_timing_adds_the_wire_delay(tmp_path: Path):
    """DFF -> INV -> DFF with 2 mm metal1 wires there (q1) and back (n1), on adjacent tracks:
    OpenSTA with the extracted SPEF must see a longer path than without it, and longer
    still as the coupling between the two wires counts once, then twice."""
    lef = E.read_lef(OSU.read_text())

    def centre(cell, x, y, pin):
        m = lef.macros[cell]
        r = E._rect_abs(m, (cell, x, y, "N"), m.pins[pin][1][0][1])
        return round((r[0] + r[2]) / 2 * 100), round((r[1] + r[3]) / 2 * 100)
    comps = {"r1": ("DFFPOSX1", 0, 0), "u1": ("INVX1", 2000, 0), "r2": ("DFFPOSX1", 40, 0)}
    q = centre("DFFPOSX1", 0, 0, "Q")
    a = centre("INVX1", 2000, 0, "A")
    y = centre("INVX1", 2000, 0, "Y")
    d = centre("DFFPOSX1", 40, 0, "D")
    track = q[1] + 300     # q1's metal1 run; n1's on the next track up (pitch 1 um)

    def route(p0, p1, level):     # metal1, metal2 up to `level`, metal1 along x, down
        return (f"+ ROUTED metal1 ( {p0[0]} {p0[1]} ) ( {p0[0] + 40} * ) M2_M1\n"
                f"  NEW metal2 ( {p0[0] + 40} {p0[1]} ) ( * {level} ) M2_M1\n"
                f"  NEW metal1 ( {p0[0] + 40} {level} ) ( {p1[0]} * ) M2_M1\n"
                f"  NEW metal2 ( {p1[0]} {level} ) ( * {p1[1]} ) M2_M1 ;\n")
    text = ("VERSION 5.6 ;\nUNITS DISTANCE MICRONS 100 ;\nDIEAREA ( 0 0 ) ( 300000 2000 ) ;\n"
            f"COMPONENTS {len(comps)} ;\n"
            + "".join(f"- {n} {c} + PLACED ( {x * 100} {y0 * 100} ) N ;\n"
                      for n, (c, x, y0) in comps.items())
            + "END COMPONENTS\nNETS 2 ;\n"
            + "- q1\n  ( r1 Q ) ( u1 A )\n" + route(q, a, track)
            + "- n1\n  ( u1 Y ) ( r2 D )\n" + route(y, d, track + 100)
            + "END NETS\nEND DESIGN\n")
    (tmp_path / "t.def").write_text(text)
    (tmp_path / "t.rtlnopwr.v").write_text(
        "module t (clk, din, dout);\ninput clk; input din; output dout;\n"
        "wire q1; wire n1;\n"
        "DFFPOSX1 r1 ( .CLK(clk), .D(din), .Q(q1) );\n"
        "INVX1 u1 ( .A(q1), .Y(n1) );\n"
        "DFFPOSX1 r2 ( .CLK(clk), .D(n1), .Q(dout) );\nendmodule\n")
    rec = routed_timing(tmp_path, "t")
    par = rec["parasitics"]
    assert par["nets"] == 2 and par["joined_gaps"] == 0 and par["max_pin_gap_um"] < 0.5
    # two ~2 mm runs on metal1 (0.1714 fF/um each)
    assert 3900 < par["wire_um"] < 4100
    assert 0.65 < par["wire_cap_pf"] < 4100 * 0.1714e-3
    # side by side over ~1.95 mm, edges 0.7 um apart: 20.619 aF / 0.7 per um
    assert par["coupled_net_pairs"] == 1 and 1900 < par["coupled_run_um"] < 1960
    assert par["coupling_cap_pf"] == pytest.approx(
        par["coupled_run_um"] * 20.619 / 0.7 * 1e-6)
    pre, ground = rec["pre_route"], rec["post_route_ground"]
    post, miller = rec["post_route"], rec["post_route_miller"]
    assert pre["end"] == post["end"] == "r2"
    assert ground["critical_path_ns"] > pre["critical_path_ns"] + 0.3
    assert ground["critical_path_ns"] < post["critical_path_ns"] < miller["critical_path_ns"]
    assert [rec[k]["coupling_factor"] for k in ("post_route_ground", "post_route",
                                                "post_route_miller")] == [0, 1, 2]
    assert (tmp_path / "t.extracted.spef").is_file()


@pytest.mark.skipif(shutil.which("sta") is None or not OSU.is_file(),
                    reason="needs OpenSTA (opensta) and qflow-tech-osu018")
def test_opensta_grounds_coupling_at_the_factor(tmp_path: Path):
    """What `pnr`'s three post-route runs rely on: this OpenSTA times a SPEF coupling
    capacitor as a grounded one of ``factor`` times its value (no crosstalk analysis)."""
    (tmp_path / "t.v").write_text(
        "module t (clk, a, b, ya, yb);\ninput clk; input a; input b; output ya; output yb;\n"
        "wire qa; wire qb; wire na; wire nb;\n"
        "DFFPOSX1 ra ( .CLK(clk), .D(a), .Q(qa) );\nDFFPOSX1 rb ( .CLK(clk), .D(b), .Q(qb) );\n"
        "INVX1 ua ( .A(qa), .Y(na) );\nINVX1 ub ( .A(qb), .Y(nb) );\n"
        "DFFPOSX1 sa ( .CLK(clk), .D(na), .Q(ya) );\nDFFPOSX1 sb ( .CLK(clk), .D(nb), .Q(yb) );\n"
        "endmodule\n")
    head = "\n".join([
        '*SPEF "IEEE 1481-1998"', '*DESIGN "t"', '*DATE ""', '*VENDOR "t"', '*PROGRAM "t"',
        '*VERSION "1"', '*DESIGN_FLOW "t"', "*DIVIDER /", "*DELIMITER :",
        "*BUS_DELIMITER [ ]", "*T_UNIT 1 NS", "*C_UNIT 1 PF", "*R_UNIT 1 OHM",
        "*L_UNIT 1 HENRY", ""])

    def spef(ground: float, coupling: float) -> str:
        nets = []
        for n, o in (("a", "b"), ("b", "a")):
            cc = f"2 n{n}:1 n{o}:1 {coupling}\n" if coupling else ""
            nets.append(f"*D_NET n{n} {ground + coupling}\n*CONN\n*I u{n}:Y O *D INVX1\n"
                        f"*I s{n}:D I *D DFFPOSX1\n*CAP\n1 n{n}:1 {ground}\n{cc}*RES\n"
                        f"1 u{n}:Y n{n}:1 100\n2 n{n}:1 s{n}:D 100\n*END\n")
        return head + "\n" + "\n".join(nets)

    def arrival(name: str, text: str, factor: float | None) -> float:
        (tmp_path / f"{name}.spef").write_text(text)
        (tmp_path / f"{name}.tcl").write_text(
            f"read_liberty {TECH_DIR / 'osu018_stdcells.lib'}\nread_verilog t.v\n"
            "link_design t\ncreate_clock -name clk -period 10 [get_ports clk]\n"
            + (f"read_spef -coupling_reduction_factor {factor} {name}.spef\n"
               if factor is not None else f"read_spef {name}.spef\n")
            + "report_checks -path_delay max -digits 4 -through [get_pins ua/Y]\nexit\n")
        log = subprocess.run(
            ["sta", "-no_splash", "-exit", f"{name}.tcl"], cwd=tmp_path, capture_output=True,
            text=True).stdout
        assert "Warning" not in log and "Error" not in log, log
        return float(re.search(r"^\s*(-?[0-9.]+)\s+data arrival time", log, re.M).group(1))
    coupled = spef(0.1, 0.2)
    assert arrival("c1", coupled, None) == arrival("g3", spef(0.3, 0), None)
    assert arrival("c2", coupled, 2) == arrival("g5", spef(0.5, 0), None)
    assert arrival("c0", coupled, 0) == arrival("g1", spef(0.1, 0), None)
    assert arrival("g1", spef(0.1, 0), None) < arrival("g3", spef(0.3, 0), None)
