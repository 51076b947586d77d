"""Parasitic extraction from a routed DEF (flow/extract.py) on hand-made layouts whose R and C
are worked out by hand, and post-route timing with OpenSTA on a tiny routed design (skipped
when OpenSTA or the OSU 0.18 files are not installed)."""

import re
import shutil
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
    """DFF -> INV -> DFF with a 2 mm metal1 wire on the inverter's output: OpenSTA with the
    extracted SPEF must see a longer path than without it."""
    lef = E.read_lef(OSU.read_text())

    def centre(cell, x, y, pin):
        m = lef.macros[cell]
        r = E._rect_abs(m, (cell, x, y, "N"), m.pins[pin][1][0][1])
        return round((r[0] + r[2]) / 2 * 100), round((r[1] + r[3]) / 2 * 100)
    comps = {"r1": ("DFFPOSX1", 0, 0), "u1": ("INVX1", 20, 0), "r2": ("DFFPOSX1", 2020, 0)}
    q = centre("DFFPOSX1", 0, 0, "Q")
    a = centre("INVX1", 20, 0, "A")
    y = centre("INVX1", 20, 0, "Y")
    d = centre("DFFPOSX1", 2020, 0, "D")

    def route(p0, p1):     # metal1 along x, metal2 along y, metal1 into the far pin
        return (f"+ ROUTED metal1 ( {p0[0]} {p0[1]} ) ( {p0[0] + 40} * ) M2_M1\n"
                f"  NEW metal2 ( {p0[0] + 40} {p0[1]} ) ( * {p0[1] + 300} ) M2_M1\n"
                f"  NEW metal1 ( {p0[0] + 40} {p0[1] + 300} ) ( {p1[0]} * ) M2_M1\n"
                f"  NEW metal2 ( {p1[0]} {p0[1] + 300} ) ( * {p1[1]} ) M2_M1 ;\n")
    text = ("VERSION 5.6 ;\nUNITS DISTANCE MICRONS 100 ;\nDIEAREA ( 0 0 ) ( 300000 2000 ) ;\n"
            f"COMPONENTS {len(comps)} ;\n"
            + "".join(f"- {n} {c} + PLACED ( {x * 100} {y0 * 100} ) N ;\n"
                      for n, (c, x, y0) in comps.items())
            + "END COMPONENTS\nNETS 2 ;\n"
            + "- q1\n  ( r1 Q ) ( u1 A )\n" + route(q, a)
            + "- n1\n  ( u1 Y ) ( r2 D )\n" + route(y, d)
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
    # n1 runs ~2 mm on metal1 (0.1714 fF/um): at least 0.34 pF more load on INVX1
    assert 2000 < par["wire_um"] < 2100
    assert 0.34 < par["wire_cap_pf"] < 2100 * 0.1714e-3
    pre, post = rec["pre_route"], rec["post_route"]
    assert pre["end"] == post["end"] == "r2"
    assert post["critical_path_ns"] > pre["critical_path_ns"] + 0.3
    assert (tmp_path / "t.extracted.spef").is_file()
