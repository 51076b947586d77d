"""Level-2 golden model: boundaries of every arithmetic mode, and a randomized cross-check of
the integer description, the cycle-by-cycle bit-serial replay and plain Python integers."""

import numpy as np
import pytest

from flexspim.config import AccumulateOp, FireOp, LayerConfig, MacroConfig, Operand
from flexspim.golden.cycles import accumulate_cycles, fire_cycles
from flexspim.golden.macro import MacroModel, accumulate_bitserial, from_bits, to_bits


def one_column(bv, bw, v, weights, saturate, batch_max=None):
    """Run one accumulate in a 1-column macro; returns (new V, overflow, cycles)."""
    P = batch_max or max(1, len(weights))
    rows = bv + bw * len(weights)
    m = MacroModel(MacroConfig(rows=rows, cols=1, batch_max=P))
    m.load(Operand(0, bv), [v])
    w_rows = tuple(bv + i * bw for i in range(len(weights)))
    for r, w in zip(w_rows, weights):
        m.load(Operand(r, bw), [w])
    op = AccumulateOp(v_row=0, bv=bv, w_rows=w_rows, bw=bw, saturate=saturate)
    before = m.bits.copy()
    res = m.accumulate(op)
    trace = accumulate_bitserial(m.config, before, op)
    np.testing.assert_array_equal(trace.bits, m.bits)       # replay == integer description
    assert trace.cycles == res.cycles
    np.testing.assert_array_equal(trace.overflow, res.overflow)
    return int(m.peek(Operand(0, bv))[0]), bool(res.overflow[0]), res.cycles


@pytest.mark.parametrize("saturate, expect", [(True, (-1, True)), (False, (0, False))])
def test_one_bit_operands(saturate, expect):
    # 1-bit two's complement holds -1 and 0 only.
    assert one_column(1, 1, 0, [-1], saturate)[:2] == (-1, False)
    assert one_column(1, 1, -1, [0], saturate)[:2] == (-1, False)
    assert one_column(1, 1, -1, [-1], saturate)[:2] == expect       # -2 overflows


@pytest.mark.parametrize("bv", [2, 8, 16])
def test_overflow_by_exactly_one(bv):
    lo, hi = -(1 << (bv - 1)), (1 << (bv - 1)) - 1
    assert one_column(bv, 2, hi - 1, [1], True)[:2] == (hi, False)   # reaches max, no clamp
    assert one_column(bv, 2, hi, [1], True)[:2] == (hi, True)        # max + 1 -> max
    assert one_column(bv, 2, hi, [1], False)[:2] == (lo, False)      # max + 1 wraps to min
    assert one_column(bv, 2, lo + 1, [-1], True)[:2] == (lo, False)
    assert one_column(bv, 2, lo, [-1], True)[:2] == (lo, True)       # min - 1 -> min
    assert one_column(bv, 2, lo, [-1], False)[:2] == (hi, False)     # min - 1 wraps to max


@pytest.mark.parametrize("P", [1, 3, 8])
def test_all_negative_and_all_positive_batches(P):
    bv, bw = 8, 8
    assert one_column(bv, bw, -128, [-128] * P, True)[:2] == (-128, True)
    assert one_column(bv, bw, 127, [127] * P, True)[:2] == (127, True)
    # wrap keeps the low bv bits of the exact total
    total = -128 - 128 * P
    assert one_column(bv, bw, -128, [-128] * P, False)[0] == ((total + 128) % 256) - 128


def test_saturation_applies_to_the_batch_total():
    # in one batch max + 1 - 1 is exact; split over two batches the first one clamps
    assert one_column(8, 2, 127, [1, -1], True)[:2] == (127, False)
    v, ovf, cycles = one_column(8, 2, 127, [1], True)
    assert (v, ovf) == (127, True)
    # only an overflow pays for the clamp pass: 1 + 1 + 8 add + 1 guard (P = 1) + 8 clamp,
    # else + 1 (the clamp decision)
    assert cycles == 1 + 1 + 8 + 1 + 8
    assert one_column(8, 2, 126, [1], True)[1:] == (False, 1 + 1 + 8 + 1 + 1)
    # the tightest bound of the minimum guard: P + 1 = 2**k terms, all at one extreme
    for P in (1, 3, 7):
        assert one_column(4, 4, -8, [-8] * P, True)[:2] == (-8, True)
        assert one_column(4, 4, 7, [7] * P, True)[:2] == (7, True)
        assert one_column(4, 4, -8, [7] * P, True)[:2] == (min(7, 7 * P - 8), 7 * P - 8 > 7)
    assert one_column(8, 2, v, [-1], True)[:2] == (126, False)


def test_sign_extension_of_narrow_weights():
    assert one_column(8, 4, 0, [-8], True)[0] == -8
    assert one_column(8, 4, 0, [-8, 7, -1], True)[0] == -2
    assert one_column(16, 1, 5, [-1], True)[0] == 4


def test_bw_equal_bv_and_empty_batch():
    assert one_column(4, 4, -8, [7], True)[:2] == (-1, False)
    v, ovf, cycles = one_column(4, 4, 5, [], True, batch_max=2)
    assert (v, ovf) == (5, False)
    assert cycles == accumulate_cycles(MacroConfig(8, 1, 2), 4, True, clamp=False)


def test_cycle_formula():
    m = MacroConfig(rows=64, cols=64, batch_max=8)
    # issue + read-ahead + passes (docs/array.md: the storage is read synchronously)
    assert accumulate_cycles(m, 16, True) == 1 + 1 + 16 + 4 + 16       # clamped
    assert accumulate_cycles(m, 16, True, clamp=False) == 1 + 1 + 16 + 4 + 1
    assert accumulate_cycles(m, 16, False) == 1 + 1 + 16
    assert fire_cycles(LayerConfig(bw=1, bv=8)) == 1 + 1 + 8 + 8
    assert fire_cycles(LayerConfig(bw=1, bv=8, leak_mode="sub", leak=1, reset="soft")) == 42
    assert fire_cycles(LayerConfig(bw=1, bv=8, leak_mode="shift", leak=1)) == 26
    # bv = 1 with a leak pass: one bubble before the compare pass
    assert fire_cycles(LayerConfig(bw=1, bv=1, leak_mode="shift", leak=0)) == 1 + 1 + 1 + 1 + 1 + 1
    assert fire_cycles(LayerConfig(bw=1, bv=1, leak_mode="sub", leak=0)) == 1 + 1 + 2 + 1 + 1 + 1
    assert fire_cycles(LayerConfig(bw=1, bv=1)) == 1 + 1 + 1 + 1


def test_column_mask_and_row_port():
    m = MacroModel(MacroConfig(rows=8, cols=4, batch_max=1))
    m.load(Operand(0, 4), [1, 2, 3, 4])
    m.load(Operand(4, 4), [1, 1, 1, 1])
    res = m.accumulate(AccumulateOp(0, 4, (4,), 4), col_mask=[True, False, True, False])
    assert m.peek(Operand(0, 4)).tolist() == [2, 2, 4, 4]
    assert not res.overflow.any()
    assert m.write_row(7, [1, 0, 1, 1], col_mask=[True, True, False, True]) == 1
    assert m.read_row(7).tolist() == [1, 0, 0, 1]
    with pytest.raises(ValueError, match=r"`row` must be an integer in \[0, 7\], not 8"):
        m.read_row(8)
    with pytest.raises(ValueError, match="`data`"):
        m.write_row(0, [2, 0, 0, 0])
    with pytest.raises(ValueError, match=r"`values` must be in \[-8, 7\]"):
        m.load(Operand(0, 4), [8, 0, 0, 0])
    with pytest.raises(ValueError, match="`col_mask`"):
        m.accumulate(AccumulateOp(0, 4, (4,), 4), col_mask=[True])


def test_bit_helpers_roundtrip(rng):
    for bits in (1, 2, 7, 16, 32):
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        v = rng.integers(lo, hi, size=100, endpoint=True)
        v[:2] = lo, hi
        np.testing.assert_array_equal(from_bits(to_bits(v, bits)), v)


def python_accumulate(v, weights, bv, saturate):
    """Plain Python integers: the independent oracle."""
    total = v + sum(weights)
    lo, hi = -(1 << (bv - 1)), (1 << (bv - 1)) - 1
    if saturate:
        return min(max(total, lo), hi), not lo <= total <= hi
    return ((total - lo) % (1 << bv)) + lo, False


def test_random_batches_against_python_integers(rng, regress):
    """Thousands of random batches, bv 1..16, P 1..8, bw 1..bv, saturate and wrap, masks."""
    n_ops = 20000 if regress else 3000
    done = 0
    while done < n_ops:
        P = int(rng.integers(1, 9))
        cols = int(rng.integers(1, 24))
        bv = int(rng.integers(1, 17))
        bw = int(rng.integers(1, bv + 1))
        rows = bv + P * bw + int(rng.integers(0, 3))
        macro = MacroConfig(rows=rows, cols=cols, batch_max=P)
        m = MacroModel(macro)
        m.bits[:] = rng.integers(0, 2, size=m.bits.shape)
        for _ in range(8):          # several ops on the same array: back-to-back batches
            n = int(rng.integers(0, P + 1))
            w_rows = tuple(int(x) for x in bv + bw * rng.permutation(P)[:n])
            # extreme operands often: each operand max or min per column
            if rng.random() < 0.3:
                for r, b in [(0, bv)] + [(r, bw) for r in w_rows]:
                    lo, hi = -(1 << (b - 1)), (1 << (b - 1)) - 1
                    m.load(Operand(r, b), rng.choice([lo, hi], size=cols))
            op = AccumulateOp(0, bv, w_rows, bw, saturate=bool(rng.integers(0, 2)))
            mask = rng.random(cols) < 0.8
            v0 = m.peek(Operand(0, bv)).tolist()
            ws = [m.peek(Operand(r, bw)).tolist() for r in w_rows]
            before = m.bits.copy()
            res = m.accumulate(op, col_mask=mask)
            trace = accumulate_bitserial(macro, before, op, col_mask=mask)
            v1 = m.peek(Operand(0, bv)).tolist()
            for c in range(cols):
                want, ovf = python_accumulate(v0[c], [w[c] for w in ws], bv, op.saturate)
                if not mask[c]:
                    want, ovf = v0[c], False
                assert (v1[c], bool(res.overflow[c])) == (want, ovf), (
                    f"op {done}: column {c}, bv={bv} bw={bw} P={P} V={v0[c]} "
                    f"W={[w[c] for w in ws]} saturate={op.saturate}")
            np.testing.assert_array_equal(trace.bits, m.bits, err_msg=f"bit-serial op {done}")
            np.testing.assert_array_equal(trace.overflow, res.overflow)
            clamp = bool(res.overflow.any())       # the clamp pass runs only on overflow
            assert trace.cycles == res.cycles == accumulate_cycles(macro, bv, op.saturate,
                                                                   clamp)
            assert trace.max_carry < (1 << macro.carry_width)
            done += 1


# -- fire -------------------------------------------------------------------------------------

def fire_one(layer, values, theta=None):
    cols = len(values)
    m = MacroModel(MacroConfig(rows=2 * layer.bv, cols=cols))
    m.load(Operand(0, layer.bv), values)
    theta_row = None
    if theta is not None:
        m.load(Operand(layer.bv, layer.bv), theta)
        theta_row = layer.bv
    res = m.fire(FireOp(0, layer, theta_row))
    assert res.cycles == fire_cycles(layer)
    return m.peek(Operand(0, layer.bv)).tolist(), res.spikes.tolist()


def test_sub_leak_stops_at_zero():
    layer = LayerConfig(bw=1, bv=8, leak_mode="sub", leak=3, threshold=127)
    v, s = fire_one(layer, [10, 3, 2, 0, -2, -3, -10, -128, 127])
    assert v == [7, 0, 0, 0, 0, 0, -7, -125, 124]
    assert not any(s)


def test_shift_leak_rounds_towards_minus_infinity():
    layer = LayerConfig(bw=1, bv=8, leak_mode="shift", leak=1, threshold=127)
    v, _ = fire_one(layer, [100, 3, 1, 0, -1, -3, -128, 127])
    assert v == [50, 2, 1, 0, 0, -1, -64, 64]
    v, _ = fire_one(LayerConfig(bw=1, bv=8, leak_mode="shift", leak=0, threshold=127),
                    [100, -128, 5])
    assert v == [0, 0, 0]
    v, _ = fire_one(LayerConfig(bw=1, bv=8, leak_mode="shift", leak=7, threshold=127),
                    [126, -1, -128])
    assert v == [126, 0, -127]


def test_threshold_compare_and_hard_reset():
    layer = LayerConfig(bw=1, bv=8, threshold=10)
    v, s = fire_one(layer, [9, 10, 11, -128, 127])
    assert s == [False, True, True, False, True]
    assert v == [9, 0, 0, -128, 0]


def test_soft_reset_and_its_saturation():
    v, s = fire_one(LayerConfig(bw=1, bv=8, threshold=10, reset="soft"), [9, 10, 127])
    assert (v, s) == ([9, 0, 117], [False, True, True])
    # a negative threshold makes V - theta overflow: clamped to max
    v, s = fire_one(LayerConfig(bw=1, bv=8, threshold=-5, reset="soft"), [127, 0, -6])
    assert (v, s) == ([127, 5, -6], [True, True, False])


def test_per_neuron_thresholds_from_the_array():
    layer = LayerConfig(bw=1, bv=4, threshold_source="array", reset="soft")
    v, s = fire_one(layer, [3, 3, -8, 7], theta=[3, 4, -8, -1])
    assert s == [True, False, True, True]
    assert v == [0, 3, 0, 7]          # 7 - (-1) = 8 overflows 4 bits -> 7


def test_one_bit_potential_fire():
    v, s = fire_one(LayerConfig(bw=1, bv=1, threshold=0), [0, -1])
    assert (v, s) == ([0, -1], [True, False])
