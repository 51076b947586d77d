"""Energy presets (issue 23 item 1): the fit, and the published points it must reproduce.

The published figures are written here from their source, not imported from the code under
test: FlexSpIM, 40 nm (arXiv 2410.23082, ISCAS 2025, and its journal extension arXiv
2609.08446, as noted in the project's architecture document, "What is now known of the
FlexSpIM chip"): 5.7-7.2 pJ per SOP at 8-bit weights / 16-bit potentials, 75-157 MHz,
1.2-2.5 GSOPS, one 512 x 256 macro, one weight plus the potential per pass (P = 1).
"""

import contextlib
import inspect
import io
import json

import numpy as np
import pytest

import flexspim.energy.presets as presets_mod
from flexspim.cli import main
from flexspim.energy.costs import EnergyCosts
from flexspim.energy.model import layer_energy
from flexspim.energy.presets import (
    PRESET_NAMES,
    PRESETS,
    calibration_point,
    fit_scale,
    flexspim_costs,
    preset,
)

CHIP_PJ_PER_SOP = (5.7, 7.2)        # arXiv 2410.23082 (architecture.md notes), bw=8, bv=16
CHIP_MHZ = (75, 157)                # same source: system clock range
CHIP_GSOPS = (1.2, 2.5)             # same source: throughput range
CHIP_GEOMETRY = {"rows": 512, "cols": 256, "batch_max": 1}
IMPULSE_TOPS_PER_W, IMPULSE_NM, IMPULSE_BITS = 0.99, 65, 11   # architecture.md, prior work


def _map_json(*extra):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        assert main(["map", "--example", "fc-8b16b", "--json", *extra]) == 0
    return json.loads(buf.getvalue())


@pytest.fixture(scope="module")
def calibrated():
    return _map_json("--energy-preset", "flexspim-40nm")


def test_module_constants_are_the_published_figures():
    assert presets_mod.FLEXSPIM_PJ_PER_SOP == CHIP_PJ_PER_SOP
    assert presets_mod.FLEXSPIM_CLOCK_MHZ == CHIP_MHZ
    assert presets_mod.FLEXSPIM_GSOPS == CHIP_GSOPS
    assert presets_mod.FLEXSPIM_GEOMETRY == CHIP_GEOMETRY
    assert presets_mod.FLEXSPIM_BITS == (8, 16)
    p = PRESETS["flexspim-40nm"]
    assert p.node_nm == 40 and p.macro == CHIP_GEOMETRY and p.clock_mhz == CHIP_MHZ
    assert p.supply_v is None       # not in the notes: not invented
    doc = inspect.getdoc(presets_mod)
    assert (presets_mod.IMPULSE_TOPS_PER_W, presets_mod.IMPULSE_NODE_NM,
            presets_mod.IMPULSE_BITS) == (IMPULSE_TOPS_PER_W, IMPULSE_NM, IMPULSE_BITS)
    assert "pj_per_sop_high" not in presets_mod.HELD_OUT     # not a check (docstring)
    for needle in ("arXiv 2410.23082", "Horowitz", "least squares", "Held out", "IMPULSE",
                   "105 us", "3.2-6.4x high", "not a check"):
        assert needle in doc, needle


def test_least_squares_scale_by_hand():
    # one point: s = m / e
    assert fit_scale([2.0], [5.0]) == pytest.approx(2.5)
    # s minimizes (s - 1)^2 + (s - 3)^2 -> s = 2 (derivative 2(s-1) + 2(s-3) = 0)
    assert fit_scale([1.0, 1.0], [1.0, 3.0]) == pytest.approx(2.0)
    # weighted by the model: (1*2 + 2*2) / (1 + 4) = 1.2
    assert fit_scale([1.0, 2.0], [2.0, 2.0]) == pytest.approx(1.2)
    with pytest.raises(ValueError, match="one length"):
        fit_scale([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="all zero"):
        fit_scale([0.0], [1.0])


def test_calibration_point_counts_by_hand():
    # one saturating accumulate of one weight (P = 1) into 16-bit potentials on 256 columns:
    # 16 add cycles reading the weight's row and V's row (2 bits) + ceil(log2(2)) = 1 guard
    # cycle reading the weight's sign row only (V's sign is a register): 33 reads per
    # column; V written once per add cycle: 16; a popcount of weight, V and carry per cycle
    # (17 cycles) is 2 full adders: 34. Cycles: issue 1 + read-ahead 1 + 16 + guard 1 +
    # clamp decision 1 = 20 (no column overflows).
    c = calibration_point()
    assert (c.sops, c.array_read_bits, c.array_write_bits, c.adder_ops, c.cycles) == \
        (256, 33 * 256, 16 * 256, 34 * 256, 20)


def test_fit_reproduces_its_point_and_keeps_the_ratios():
    costs, s = flexspim_costs()
    base = EnergyCosts()
    c = calibration_point()
    assert layer_energy(c, costs, "none").total / c.sops == pytest.approx(CHIP_PJ_PER_SOP[0])
    for k in ("array_read_bit", "array_write_bit", "full_adder"):
        assert getattr(costs, k) == pytest.approx(getattr(base, k) * s)
    assert costs.buffer_bit == costs.array_read_bit and costs.dram_bit == base.dram_bit
    # computed, not typed: another target moves every fitted cost in proportion
    doubled, s2 = flexspim_costs(2 * CHIP_PJ_PER_SOP[0])
    assert s2 == pytest.approx(2 * s)
    assert doubled.array_read_bit == pytest.approx(2 * costs.array_read_bit)
    assert PRESETS["flexspim-40nm"].costs == costs
    assert PRESETS["horowitz-40nm"].costs == base


def test_acceptance_band_and_held_out_points_through_map(calibrated):
    e = calibrated["energy"]
    assert e["preset"] == "flexspim-40nm"
    pj = e["pj_per_sop"]
    lo, hi = CHIP_PJ_PER_SOP
    assert 0.8 * lo <= pj <= 1.2 * hi, pj                  # within 20% of the range
    # (the high end is not a held-out check: fitted to 5.7, anything in the range passes)
    # held out: throughput; the clamp-free cycles are this run's cycles (next test)
    per_cycle = e["sops"] / e["cycles_clamp_free"]
    for mhz, gsops in zip(CHIP_MHZ, CHIP_GSOPS):
        assert abs(per_cycle * mhz / 1e3 / gsops - 1) <= 0.25, (mhz, per_cycle)
    # the macro is the chip's: one macro, 512 x 256, every pass on all 256 columns
    assert e["sops"] == 40 * 62 * 256 and calibrated["run"]["cores"] == 1


def test_held_out_throughput_is_not_fitted(calibrated):
    """The throughput check can fail: SOPs per cycle come from the golden cycle formulas,
    which no cost touches. Doubling every cost (another fit target) leaves it unchanged."""
    e = calibrated["energy"]
    costs, _ = flexspim_costs(2 * CHIP_PJ_PER_SOP[0])
    assert costs.array_read_bit != PRESETS["flexspim-40nm"].costs.array_read_bit
    per_cycle = e["sops"] / e["cycles_clamp_free"]
    assert per_cycle == pytest.approx(12.46, abs=0.005)    # README, decisions 82 and 160
    assert per_cycle < 16                                 # the chip: 256 columns / 16 cycles


def test_held_out_impulse_is_not_reproduced_as_documented():
    """IMPULSE (65 nm, 0.99 TOPS/W at signed 11-bit; architecture.md): computed by hand with
    the assumptions stated in energy/presets.py (one full-column accumulate, bv = 11, P = 1;
    1 or 2 operations per SOP; energy x 65/40 from 40 nm). The model is 3.2-6.4x above the
    chip, outside 25%: the documented result, not tuned away."""
    costs, _ = flexspim_costs()
    # counts per column at bv = 11: 11 add cycles x 2 bit reads + 1 guard read = 23 reads,
    # 11 writes, (11 + 1) cycles x 2 full adders = 24
    c = calibration_point(IMPULSE_BITS, IMPULSE_BITS)
    assert (c.array_read_bits, c.array_write_bits, c.adder_ops) == \
        (23 * 256, 11 * 256, 24 * 256)
    pj40 = (23 * costs.array_read_bit + 11 * costs.array_write_bit + 24 * costs.full_adder)
    r = presets_mod.impulse_check()
    assert r["model_pj_per_sop_40nm"] == pytest.approx(pj40)
    assert r["model_pj_per_sop_40nm"] == pytest.approx(3.956, abs=1e-3)
    assert r["model_pj_per_sop_65nm"] == pytest.approx(pj40 * 65 / 40)
    assert r["chip_pj_per_sop"] == {1: pytest.approx(1 / 0.99), 2: pytest.approx(2 / 0.99)}
    assert r["ratio"][1] == pytest.approx(6.365, abs=1e-3)
    assert r["ratio"][2] == pytest.approx(3.182, abs=1e-3)
    assert r["within_25"] is False
    # the notes' figure against the chip's own normalized 44.5-56.3 fJ (bw * bv = 128):
    # IMPULSE would be better, not 2x worse as "2x better than prior CIM-SNNs" implies
    assert r["normalized_fj"][2] < CHIP_PJ_PER_SOP[0] * 1e3 / 128


def test_the_calibration_workload_never_clamps():
    """No accumulate of the fc-8b16b input overflows 16 bits, so the clamp-free cycle count
    is the exact one: the plain (unclamped) trajectory of every potential, event by event
    with P = 1 and the hard reset at each tick, stays inside [-2**15, 2**15 - 1]."""
    from flexspim.frontend.examples import example

    net, events = example("fc-8b16b")
    layer = net.layers[0]
    v = np.zeros(layer.n_out, dtype=np.int64)
    lo, hi = v.copy(), v.copy()
    for e in events:
        if e == -1:
            v[v >= layer.config.threshold] = 0
        else:
            v += layer.weights[:, e]
            lo, hi = np.minimum(lo, v), np.maximum(hi, v)
    assert lo.min() >= -(1 << 15) and hi.max() <= (1 << 15) - 1


def test_table_names_the_preset_the_chip_and_the_throughput(capsys):
    assert main(["map", "--example", "fc-8b16b", "--energy-preset", "flexspim-40nm"]) == 0
    out = capsys.readouterr().out
    assert "512 x 256, P=1" in out
    assert "preset flexspim-40nm" in out and "5.7 pJ/SOP" in out
    assert "FlexSpIM chip (40 nm, bw=8, bv=16" in out and "GSOPS at 75-157 MHz" in out


def test_explicit_geometry_and_energy_tables_override_the_preset(tmp_path):
    f = tmp_path / "e.toml"
    f.write_text("[energy]\nfull_adder = 1.0\n")
    out = _map_json("--energy-preset", "flexspim-40nm", "--energy", str(f), "--cols", "128")
    fitted = PRESETS["flexspim-40nm"].costs.to_dict()
    assert out["energy"]["costs_pj"] == {**fitted, "full_adder": 1.0}
    assert out["layers"][0]["tiles"] == 2           # 256 neurons on 128-column macros
    plain = _map_json()                             # no preset: the defaults, 2048 x 64, P=8
    assert plain["energy"]["preset"] is None
    assert plain["energy"]["costs_pj"] == EnergyCosts().to_dict()


def test_sweep_takes_the_preset(tmp_path):
    assert main(["sweep", "-o", str(tmp_path / "s"), "--rows", "512", "--cols", "256",
                 "--batch", "1", "--bw", "8", "--bv", "16", "--no-area", "--no-network",
                 "-j", "1", "--energy-preset", "flexspim-40nm"]) == 0
    row = json.loads((tmp_path / "s" / "sweep.json").read_text())["points"][0]
    # the sweep's figure is the fit's own point: one full accumulate per SOP
    assert row["acc_pj_per_sop"] == pytest.approx(CHIP_PJ_PER_SOP[0])


def test_unknown_name_lists_the_presets():
    with pytest.raises(ValueError, match=r"`--energy-preset` must be one of "
                                         r"flexspim-40nm, horowitz-40nm; not 'x'"):
        preset("x")
    assert PRESET_NAMES == ("flexspim-40nm", "horowitz-40nm")
