"""NAND2 weights, the Pareto front and Yosys area counts (tiny geometries: Yosys is slow on
big ones, and its very first call on a machine compiles for ~75 s)."""

import pytest

from flexspim.sweep.area import AreaOptions, cell_weight, evaluate_area, weigh
from flexspim.sweep.plots import pareto_front

NAND2 = 0.798   # NanGate45 NAND2_X1 um^2


@pytest.mark.parametrize("cell, um2", [
    ("$_NAND_", 0.798), ("$_NOT_", 0.532), ("$_AND_", 1.064), ("$_ORNOT_", 1.064),
    ("$_XOR_", 1.596), ("$_MUX_", 1.862), ("$_AOI4_", 1.330),
    ("$_DFF_P_", 4.522),                       # plain flip-flop
    ("$_DFF_PP0_", 5.320),                     # asynchronous reset: DFFR
    ("$_DFFE_PP_", 4.522 + 1.862),             # enable: MUX2 in front
    ("$_SDFF_PP0_", 4.522 + 1.064),            # synchronous reset: AND2 in front
    ("$_SDFFE_PP0P_", 4.522 + 1.064 + 1.862),
    ("$_DFFSR_PPP_", 6.384),
])
def test_cell_weights_follow_the_nangate_areas(cell, um2):
    assert cell_weight(cell) == pytest.approx(um2 / NAND2)


def test_weigh_skips_the_black_box_and_counts_unknown_cells():
    w = weigh({"$_NAND_": 10, "$_DFF_P_": 2, "top.array": 1, "$scopeinfo": 3, "$_FOO_": 4},
              blackbox="top.array")
    assert w == {"cells": 16, "flipflops": 2, "unweighted_cells": 4,
                 "nand2": pytest.approx(10 + 2 * 4.522 / NAND2)}


def test_pareto_front():
    pts = [(1, 5), (2, 3), (3, 4), (4, 1), (2, 3), (5, 1), (0.5, 9)]
    assert pareto_front(pts) == [6, 0, 1, 3]
    assert pareto_front([]) == []


def test_bad_area_options():
    with pytest.raises(ValueError, match="`bitcell_nand2` must be a number in \\(0, 1000\\)"):
        AreaOptions(bitcell_nand2=0)


def test_yosys_counts_periphery_and_storage_apart():
    small = evaluate_area({"rows": 4, "cols": 4, "batch_max": 2},
                          AreaOptions(bitcell_nand2=0.5, synth_array=True).to_dict())
    wide = evaluate_area({"rows": 4, "cols": 8, "batch_max": 2}, AreaOptions().to_dict())
    assert small["array_bits"] == 16 and small["array_nand2"] == 8.0
    assert small["array_read_ports"] == 3
    # the storage synthesized alone is one flip-flop per bit: the analytic count is right
    assert small["regfile_flipflops"] == 16
    # the black-boxed periphery has registers (sequencer, carries, spikes) but no storage
    assert 0 < small["periph_flipflops"] < small["periph_cells"]
    assert small["periph_unweighted_cells"] == 0
    assert small["total_nand2"] == pytest.approx(small["periph_nand2"] + 8.0)
    # per-column adders and carries: more columns, more periphery
    assert wide["periph_flipflops"] > small["periph_flipflops"]
    assert wide["periph_nand2"] > small["periph_nand2"]


def test_the_black_box_removes_exactly_the_storage():
    from flexspim.config import MacroConfig
    from flexspim.hdl.emit import to_verilog
    from flexspim.hdl.macro import CimMacro
    from flexspim.sweep.area import synth_stat, weigh

    v = to_verilog(CimMacro(MacroConfig(8, 4, 2)), "flexspim_macro")
    whole = weigh(synth_stat(v, "flexspim_macro"))
    boxed = weigh(synth_stat(v, "flexspim_macro", "flexspim_cim_array"),
                  blackbox="flexspim_cim_array")
    # one flip-flop per bit, plus the read-data registers of the P + 1 = 3 synchronous ports
    assert whole["flipflops"] - boxed["flipflops"] == 8 * 4 + 3 * 4


def test_a_lost_black_box_is_an_error(monkeypatch):
    import flexspim.sweep.area as area

    monkeypatch.setattr(area, "synth_stat", lambda *a, **k: {"$_AND_": 3})
    with pytest.raises(RuntimeError, match="did not keep the storage"):
        area.evaluate_area({"rows": 4, "cols": 4, "batch_max": 1}, AreaOptions().to_dict())
