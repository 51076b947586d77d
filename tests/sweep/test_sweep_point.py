"""Figures of one point: validation, cycles against the golden core, energy, network replay."""

import dataclasses

import numpy as np
import pytest

from flexspim.config import CoreConfig, FCLayout, LayerConfig, MacroConfig
from flexspim.energy.costs import EnergyCosts
from flexspim.golden.core import CoreModel
from flexspim.golden.core_timeline import ROW_SETUP_CYCLES
from flexspim.golden.layers import ConvLayer, FCLayer
from flexspim.golden.network import Network
from flexspim.mapper.hardware import HardwareConfig
from flexspim.mapper.plan import plan_network
from flexspim.sweep.network import _Replay, at_resolution
from flexspim.sweep.point import Options, Point, evaluate_point, figures

NO_NET = Options(network=False).to_dict()


@pytest.mark.parametrize("point, reason", [
    (Point(4, 4, 1, 2, 8), "`bv` must be an integer in [1, 4], not 8"),
    (Point(16, 4, 1, 4, 2), "`bw` must be in [1, bv=2]"),
    (Point(8, 4, 2, 4, 6), "a full batch needs bv + P*bw = 6 + 2*4 = 14 rows"),
    (Point(0, 4, 1, 1, 1), "`rows` must be an integer in [1, 4096], not 0"),
    (Point(8, 4, 65, 1, 1), "`batch_max` must be an integer in [1, 64], not 65"),
    (Point(8, 4, 1, 1, 1, "xs"), "`dataflow` must be one of hybrid, ws, os; not 'xs'"),
])
def test_invalid_points_give_the_config_reason(point, reason):
    row = evaluate_point(point.to_dict(), NO_NET)
    assert row["status"] == "invalid"
    assert reason in row["reason"]
    assert "acc_cycles" not in row


def test_a_point_without_room_for_p_weights_is_invalid():
    # 8 rows, bv=4, bw=2: two separate weights fit beside V, not P=8; its P-wide figures
    # would describe batches the array cannot hold
    row = evaluate_point(Point(8, 4, 8, 2, 4).to_dict(), NO_NET)
    assert row["status"] == "invalid"
    assert "bv + P*bw = 4 + 8*2 = 20 rows" in row["reason"]
    assert evaluate_point(Point(8, 4, 2, 2, 4).to_dict(), NO_NET)["status"] == "ok"


@pytest.mark.parametrize("P, bw, bv, saturate", [(1, 1, 4, True), (4, 2, 8, True),
                                                 (3, 3, 6, False), (8, 1, 5, True)])
def test_cycles_per_event_is_what_the_golden_core_spends(rng, P, bw, bv, saturate):
    """Full batches of distinct sources on one neuron slot, counted by `CoreModel` (its
    engine cycles: equal in wrap mode, at most the worst case when saturating)."""
    macro = MacroConfig(64, 8, P)
    layer = LayerConfig(bw=bw, bv=bv, saturate=saturate)
    core = CoreConfig(macro)
    n_in = 8
    layout = FCLayout.packed(core, layer, n_in=n_in, n_out=8)
    model = CoreModel(core, layer, layout)
    lo, hi = layer.w_range
    model.load(FCLayer(rng.integers(lo, hi + 1, size=(8, n_in)), layer))
    batches = 12
    events = np.concatenate([rng.permutation(n_in)[:P] for _ in range(batches)])
    run = model.run(events)
    assert run.batches == batches and run.errors == 0
    f = figures(Point(64, 8, P, bw, bv, saturate=saturate), EnergyCosts())
    assert f["cycles_per_event"] * P == max(f["acc_cycles"], P + 1, ROW_SETUP_CYCLES)
    if saturate:
        assert run.cycles <= batches * f["acc_cycles"]
    else:
        assert run.cycles == batches * f["acc_cycles"]
        # the steady state of the pipeline's timeline: 12 more batches, 12 more periods
        more = model.run(np.concatenate([events, events]))
        assert (more.elapsed - run.elapsed) / events.size == \
            pytest.approx(f["cycles_per_event"])


def test_accumulate_energy_per_sop_by_hand():
    # P=4, 16 columns, bv=8, saturate: guard = ceil(log2 5) = 3 cycles. The bv = 8 add
    # cycles read P + 1 = 5 bits per column, the 3 guard cycles only the P = 4 weights' sign
    # rows (V's sign is in a register); all 11 cycles run 5 full adds; the 8 add cycles
    # write one bit per column (energy-model rules, docs/mapper.md section 5)
    costs = EnergyCosts(array_read_bit=0.5, array_write_bit=0.25, full_adder=0.01)
    f = figures(Point(16, 16, 4, 2, 8), costs)
    reads, writes, adds = 16 * (8 * 5 + 3 * 4), 16 * 8, 16 * 11 * 5
    pj = reads * 0.5 + writes * 0.25 + adds * 0.01
    assert f["acc_pj_per_sop"] == pytest.approx(pj / 64)
    assert f["acc_pj_per_1b_sop"] == pytest.approx(pj / 64 / (2 * 8))
    assert f["acc_cycles"] == 1 + 1 + 8 + 3 + 8   # issue, read-ahead, add, guard, clamp
    assert f["fire_cycles"] == 1 + 1 + 8 + 8      # no leak, compare, hard reset


def _uniform_network(rng, cfg):
    lo, hi = cfg.w_range
    conv = ConvLayer(rng.integers(lo, hi + 1, size=(3, 2, 3, 3)), (2, 6, 6), cfg, stride=2,
                     padding=1, name="conv")
    fc = FCLayer(rng.integers(lo, hi + 1, size=(5, conv.n_out)), cfg, name="fc")
    return Network([conv, fc])


@pytest.mark.parametrize("dataflow", ["ws", "os", "hybrid"])
def test_replayed_activity_prices_like_the_real_network(rng, dataflow):
    """Zero weights plus the reference run's events give the real network's energy: the
    counts depend on events, shapes and resolutions only (what `sweep.network` relies on)."""
    cfg = LayerConfig(bw=3, bv=8, leak_mode="shift", leak=2, threshold=6)
    net = _uniform_network(rng, cfg)
    events = []
    for _ in range(6):
        events += list(rng.permutation(net.layers[0].n_in)[:20]) + [-1]
    # 96 rows: the conv tables leave 5 slots for 9 tiles (swaps), the fc table fits (WS)
    hw = HardwareConfig(MacroConfig(96, 4, 4), cores=4096, buffer_bits=0)
    want = plan_network(net, hw, events, dataflow)
    replay = _Replay(at_resolution(net, 3, 8), reference=net.run(events, 4))
    got = plan_network(replay, hw, events, dataflow)
    assert got.choice.total == pytest.approx(want.choice.total)
    assert got.sops() == want.sops() > 0


def test_re_declared_layers_clip_leak_and_threshold():
    cfg = LayerConfig(bw=4, bv=12, leak_mode="shift", leak=3, threshold=40)
    layer = FCLayer(np.ones((2, 3), dtype=np.int64), cfg, name="fc")
    (out,) = at_resolution(Network([layer]), 1, 3)
    assert out.config == dataclasses.replace(cfg, bw=1, bv=3, leak=2, threshold=3)
    assert not out.weights.any()


@pytest.mark.parametrize("n_c", [1, 2, 4, 8])
@pytest.mark.parametrize("saturate", [True, False])
def test_shaped_point_cycles_are_the_golden_formulas_at_its_shape(n_c, saturate):
    """Issue 20: a point at operand_cols N is a macro with max_operand_cols N running its
    layer at N_C = N; its cycles are golden/cycles.py's at that shape."""
    from flexspim.golden.cycles import accumulate_cycles, fire_cycles

    p = Point(64, 64, 8, 4, 16, saturate=saturate, leak_mode="sub", reset="soft",
              operand_cols=n_c)
    macro, layer = p.check()
    assert macro.max_operand_cols == n_c and layer.operand_cols == n_c
    f = figures(p, EnergyCosts())
    assert f["acc_cycles"] == accumulate_cycles(macro, 16, saturate, operand_cols=n_c)
    assert f["fire_cycles"] == fire_cycles(layer)
    # one neuron per group of N_C columns: P weights into each of 64 / N_C neurons
    assert f["sops_per_cycle"] == pytest.approx(8 * (64 // n_c) / f["acc_cycles"])
    if n_c == 1:     # the figures of before issue 20
        assert f == figures(Point(64, 64, 8, 4, 16, saturate=saturate, leak_mode="sub",
                                  reset="soft"), EnergyCosts())


def test_shaped_cycles_by_hand():
    # bv 16 at N_C 4, P = 1, saturate: V fills its 4 rows, so the 1 guard bit takes a 5th;
    # issue + read-ahead + 4 rows + 1 guard + clamp pass 4 rows (worst case)
    f = figures(Point(64, 64, 1, 8, 16, operand_cols=4), EnergyCosts())
    assert f["acc_cycles"] == 1 + 1 + 4 + 1 + 4
    # bv 13 at N_C 4: 4 rows, 3 padding positions hold the guard bit
    assert figures(Point(64, 64, 1, 8, 13, operand_cols=4), EnergyCosts())["acc_cycles"] \
        == 1 + 1 + 4 + 0 + 4
    # fire (no leak, hard reset): issue + read-ahead + compare 4 rows + reset 4 rows
    assert f["fire_cycles"] == 1 + 1 + 4 + 4
    f1 = figures(Point(64, 64, 1, 8, 16), EnergyCosts())
    assert (f1["acc_cycles"], f1["fire_cycles"]) == (35, 34)


def test_shaped_accumulate_energy_counts_rows_not_bits():
    # P = 4, 16 columns, bv = 8, bw = 2 at N_C = 2: V 4 rows, weights 1 row, guard 3 bits
    # -> ceil(11 / 2) - 4 = 2 guard rows. Per column: 4 add cycles read P + 1 = 5 bits, the
    # 2 guard cycles 4; 6 cycles of 5 full adds; 4 rows written. 4 x 8 neurons = 32 SOPs
    costs = EnergyCosts(array_read_bit=0.5, array_write_bit=0.25, full_adder=0.01)
    f = figures(Point(16, 16, 4, 2, 8, operand_cols=2), costs)
    reads, writes, adds = 16 * (4 * 5 + 2 * 4), 16 * 4, 16 * 6 * 5
    pj = reads * 0.5 + writes * 0.25 + adds * 0.01
    assert f["acc_pj_per_sop"] == pytest.approx(pj / 32)
    assert f["acc_cycles"] == 1 + 1 + 4 + 2 + 4


@pytest.mark.parametrize("point, reason", [
    (Point(8, 4, 2, 2, 4, operand_cols=8), "`max_operand_cols` must be an integer in [1, 4], "
                                           "not 8"),
    (Point(8, 8, 4, 4, 8, operand_cols=2),
     "a full batch needs at operand_cols=2 ceil(bv/N_C) + P*ceil(bw/N_C) = 4 + 4*2 = 12 rows"),
    (Point(2, 8, 1, 1, 9, operand_cols=4), "`bv` must be an integer in [1, 8], not 9 (at "
                                           "operand_cols=4: 2 rows x 4 columns per operand)"),
])
def test_invalid_shaped_points_give_the_reason(point, reason):
    row = evaluate_point(point.to_dict(), NO_NET)
    assert row["status"] == "invalid"
    assert reason in row["reason"]


def test_shaped_points_fit_where_vertical_ones_do_not_and_skip_the_network():
    # 8 rows: bv 16 needs N_C >= 2; P = 2 weights of 8 bits need N_C >= 4
    assert evaluate_point(Point(8, 8, 2, 8, 16).to_dict(), NO_NET)["status"] == "invalid"
    row = evaluate_point(Point(8, 8, 2, 8, 16, operand_cols=4).to_dict(), Options().to_dict())
    assert row["status"] == "ok"
    assert row["net_pj_per_inference"] is None
    assert row["net_reason"] == ("not mapped: the mapper places vertical operands only "
                                 "(operand_cols = 1), not operand_cols = 4")
    assert Point(8, 8, 2, 8, 16, operand_cols=4).label() == "8x8 P=2 bw=8 bv=16 N_C=4 hybrid"
