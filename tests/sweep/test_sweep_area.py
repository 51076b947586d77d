"""The sweep's area model: the per-bit cost of a custom macro, the options, the Pareto front,
and one tiny geometry through the real-library flow both ways (storage synthesized, storage
priced per bit)."""

import math

import pytest

from flexspim.sweep.area import (
    BITCELL_6T_NAND2,
    PORT_GROWTH,
    AreaOptions,
    bitcell_nand2,
    evaluate_area,
)
from flexspim.sweep.plots import pareto_front


def test_bitcell_cost_grows_with_the_read_ports():
    assert BITCELL_6T_NAND2 == pytest.approx(0.346 / 0.798, abs=0.005)     # 45 nm 6T / NAND2
    assert bitcell_nand2(0) == BITCELL_6T_NAND2
    assert bitcell_nand2(1) == pytest.approx(1.3 * BITCELL_6T_NAND2, rel=1e-3)   # 8T cell
    # quadratic: one more wordline and one more bitline track per port
    assert bitcell_nand2(9) == pytest.approx(BITCELL_6T_NAND2 * (1 + 9 * PORT_GROWTH) ** 2)
    assert PORT_GROWTH == pytest.approx(math.sqrt(1.3) - 1, abs=5e-4)
    assert bitcell_nand2(9) > bitcell_nand2(3) > bitcell_nand2(1)


def test_pareto_front():
    pts = [(1, 5), (2, 3), (3, 4), (4, 1), (2, 3), (5, 1), (0.5, 9)]
    assert pareto_front(pts) == [6, 0, 1, 3]
    assert pareto_front([]) == []


@pytest.mark.parametrize("kw, msg", [
    ({"bitcell_nand2": 0}, "`bitcell_nand2` must be a number in \\(0, 1000\\)"),
    ({"port_growth": -0.5}, "`port_growth` must be a number in \\(0, 10\\)"),
    ({"storage": "sram"}, "`storage` must be one of synth, bitcell, not 'sram'"),
])
def test_bad_area_options(kw, msg):
    with pytest.raises(ValueError, match=msg):
        AreaOptions(**kw)


def test_storage_synthesized_or_priced_per_bit():
    geo = {"rows": 4, "cols": 4, "batch_max": 2}
    syn = evaluate_area(geo, AreaOptions().to_dict())
    box = evaluate_area(geo, AreaOptions(storage="bitcell").to_dict())
    for r in (syn, box):
        assert r["array_bits"] == 16 and r["array_read_ports"] == 3
        assert r["area_um2"] == pytest.approx(r["storage_um2"] + r["periph_um2"])
        assert r["fmax_mhz"] == pytest.approx(1000 / r["crit_ns"])
        assert 0 < r["periph_flops"] < r["periph_cells"]
        assert r["total_nand2"] == pytest.approx(r["area_um2"] / 24.0)     # OSU NAND2X1
    # synthesized: one flip-flop per bit plus the read-data registers of the P + 1 = 3
    # synchronous ports (docs/array.md), and read multiplexers
    assert syn["storage_flops"] == 16 + 3 * 4
    assert syn["storage_cells"] > syn["storage_flops"]
    # per bit: 16 bits x 6T x (1 + 0.14 x 3)^2 NAND2 x 24 um^2
    assert box["bitcell_um2"] == pytest.approx(0.43 * 1.42 ** 2 * 24.0)
    assert box["storage_um2"] == pytest.approx(16 * box["bitcell_um2"])
    assert "storage_flops" not in box
    # the periphery is the same logic either way (ABC may map it a little differently)
    assert box["periph_um2"] == pytest.approx(syn["periph_um2"], rel=0.1)


def test_a_shaped_macro_is_synthesized_with_its_carry_chain():
    """Issue 20: the sweep's area task of an operand_cols = 2 point synthesizes the macro
    generated with max_operand_cols = 2 (shaped accumulate and fire units): same array,
    more periphery than the vertical macro of the same geometry."""
    flat = evaluate_area({"rows": 4, "cols": 4, "batch_max": 1}, AreaOptions().to_dict())
    shaped = evaluate_area({"rows": 4, "cols": 4, "batch_max": 1, "max_operand_cols": 2},
                           AreaOptions().to_dict())
    assert shaped["array_bits"] == flat["array_bits"] == 16
    assert shaped["storage_flops"] == flat["storage_flops"]
    assert shaped["periph_um2"] > flat["periph_um2"]
    assert shaped["periph_cells"] > flat["periph_cells"]
