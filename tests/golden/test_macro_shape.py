"""Operand shape (issue 20) in the golden model: layout, arithmetic, cycles, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from flexspim.config import AccumulateOp, FireOp, LayerConfig, MacroConfig, Operand
from flexspim.golden.cycles import accumulate_cycles, fire_cycles, prime_cycles, shaped_guard_cycles
from flexspim.golden.macro import (
    MacroModel,
    accumulate_bitserial,
    group_mask,
    on_lowest,
    shaped_cells,
)


def test_layout_by_hand():
    # -5 in 4 bits is 1011b: bits 0,1,3 set. At N_C = 2, group 1 (columns 2, 3), row 3:
    # bit 0 -> (3, 2), bit 1 -> (3, 3), bit 2 -> (4, 2), bit 3 -> (4, 3).
    m = MacroModel(MacroConfig(rows=8, cols=5, max_operand_cols=2))
    op = Operand(3, 4, cols=2)
    assert op.rows == 2 and op.stop == 5
    assert m.load(op, [0, -5]) == 2                      # one row write per row
    assert sorted(zip(*np.nonzero(m.bits))) == [(3, 2), (3, 3), (4, 3)]
    assert list(m.peek(op)) == [0, -5]


def test_padding_cells_are_never_written():
    # bv = 5 at N_C = 4: rows 0 (bits 0-3) and 1 (bit 4 at position 0); positions 1-3 of
    # row 1 are padding. Fill them with ones and check every operation leaves them alone.
    cfg = MacroConfig(rows=16, cols=8, batch_max=2, max_operand_cols=4)
    m = MacroModel(cfg)
    m.bits[1, [1, 2, 3, 5, 6, 7]] = 1
    pad = m.bits[1, [1, 2, 3, 5, 6, 7]].copy()
    v = Operand(0, 5, 4)
    m.load(v, [15, -16])
    m.load(Operand(4, 3, 4), [3, -4])
    m.load(Operand(6, 3, 4), [3, -4])
    r = m.accumulate(AccumulateOp(0, 5, (4, 6), 3, saturate=True, operand_cols=4))
    assert list(m.peek(v)) == [15, -16]                  # both clamped
    assert list(r.overflow) == [1, 0, 0, 0, 1, 0, 0, 0]  # on each group's lowest column
    lay = LayerConfig(bw=3, bv=5, leak_mode="shift", leak=1, threshold=3, operand_cols=4)
    f = m.fire(FireOp(0, lay))
    assert list(f.spikes) == [1, 0, 0, 0, 0, 0, 0, 0]    # 15 - 7 = 8 >= 3; -16 + 8 = -8
    assert list(m.peek(v)) == [0, -8]
    assert np.array_equal(m.bits[1, [1, 2, 3, 5, 6, 7]], pad)


CASES = [  # (P, bv, bw, N_C, cols)
    (1, 13, 5, 4, 9), (1, 16, 16, 4, 8), (8, 8, 4, 2, 6), (8, 13, 13, 4, 12), (3, 1, 1, 2, 4),
    (2, 7, 1, 8, 16), (4, 30, 9, 16, 16), (1, 3, 3, 2, 3), (5, 9, 2, 8, 8),
]


@pytest.mark.parametrize("P,bv,bw,n_c,cols", CASES)
@pytest.mark.parametrize("saturate", [True, False])
def test_bitserial_replay_equals_the_integer_model(P, bv, bw, n_c, cols, saturate, rng):
    rows_v, rows_w = -(-bv // n_c), -(-bw // n_c)
    rows = rows_v + P * rows_w + 2
    cfg = MacroConfig(rows=rows, cols=cols, batch_max=P, max_operand_cols=n_c)
    n = cols // n_c
    for _ in range(25):
        m = MacroModel(cfg)
        m.bits[:] = rng.integers(0, 2, m.bits.shape)     # padding and spare columns random
        lo, hi = -(1 << (bv - 1)), (1 << (bv - 1)) - 1
        m.load(Operand(0, bv, n_c), rng.integers(lo, hi + 1, n))
        k = int(rng.integers(0, P + 1))
        w_rows = tuple(int(x) for x in rng.permutation(P)[:k] * rows_w + rows_v + 1)
        for r in w_rows:
            m.load(Operand(r, bw, n_c), rng.integers(-(1 << (bw - 1)), 1 << (bw - 1), n))
        groups = rng.integers(0, 2, n).astype(bool)
        mask = np.zeros(cols, dtype=bool)
        mask[:n * n_c] = np.repeat(groups, n_c)
        op = AccumulateOp(0, bv, w_rows, bw, saturate, operand_cols=n_c)
        trace = accumulate_bitserial(cfg, m.bits, op, mask)
        res = m.accumulate(op, mask)
        assert np.array_equal(trace.bits, m.bits)
        assert np.array_equal(trace.overflow, res.overflow)
        assert trace.cycles == res.cycles
        assert trace.max_carry <= P < 1 << cfg.carry_width


@pytest.mark.parametrize("n_c", [2, 4, 8])
def test_the_same_neurons_give_the_same_results_at_every_shape(n_c, rng):
    # Shape is a mapping choice: the same values, accumulated and fired vertically (N_C = 1)
    # and shaped, give the same potentials, overflow flags and spikes per neuron.
    n, P, bv, bw = 5, 3, 11, 6
    flat = MacroModel(MacroConfig(rows=bv + P * bw, cols=n, batch_max=P))
    rv, rw = -(-bv // n_c), -(-bw // n_c)
    shaped = MacroModel(MacroConfig(rows=rv + P * rw, cols=n * n_c, batch_max=P,
                                    max_operand_cols=n_c))
    lo, hi = -(1 << (bv - 1)), (1 << (bv - 1)) - 1
    v0 = rng.integers(lo, hi + 1, n)
    flat.load(Operand(0, bv), v0)
    shaped.load(Operand(0, bv, n_c), v0)
    for step in range(12):
        ws = rng.integers(-(1 << (bw - 1)), 1 << (bw - 1), (P, n))
        for i in range(P):
            flat.load(Operand(bv + i * bw, bw), ws[i])
            shaped.load(Operand(rv + i * rw, bw, n_c), ws[i])
        sat = bool(step % 3)
        a = flat.accumulate(AccumulateOp(0, bv, tuple(bv + i * bw for i in range(P)), bw, sat))
        b = shaped.accumulate(AccumulateOp(0, bv, tuple(rv + i * rw for i in range(P)), bw, sat,
                                           operand_cols=n_c))
        assert np.array_equal(flat.peek(Operand(0, bv)), shaped.peek(Operand(0, bv, n_c)))
        assert np.array_equal(on_lowest(a.overflow, n * n_c, n_c), b.overflow)
        mode, amount = [("none", 0), ("shift", 3), ("sub", 40)][step % 3]
        lay = dict(bw=bw, bv=bv, leak_mode=mode, leak=amount, threshold=int(rng.integers(-9, 300)),
                   reset="soft" if step % 2 else "hard")
        fa = flat.fire(FireOp(0, LayerConfig(**lay)))
        fb = shaped.fire(FireOp(0, LayerConfig(**lay, operand_cols=n_c)))
        assert np.array_equal(on_lowest(fa.spikes, n * n_c, n_c), fb.spikes)
        assert np.array_equal(flat.peek(Operand(0, bv)), shaped.peek(Operand(0, bv, n_c)))


def test_cycle_counts_by_hand():
    p1 = MacroConfig(rows=16, cols=16, batch_max=1, max_operand_cols=8)
    # R = 4 rows; 17 bits with the guard need ceil(17/4) = 5 rows: 1 guard cycle
    assert shaped_guard_cycles(p1, 16, 4) == 1
    assert accumulate_cycles(p1, 16, True, clamp=False, operand_cols=4) == 2 + 4 + 1 + 1
    assert accumulate_cycles(p1, 16, True, clamp=False) == 2 + 16 + 1 + 1
    assert accumulate_cycles(p1, 16, True, clamp=True, operand_cols=4) == 2 + 4 + 1 + 4
    # bv 13: R = 4, the guard bit sits in the last row's padding: no guard cycle
    assert shaped_guard_cycles(p1, 13, 4) == 0
    assert accumulate_cycles(p1, 13, True, clamp=False, operand_cols=4) == 7
    assert accumulate_cycles(p1, 13, False, operand_cols=4) == 6
    p8 = MacroConfig(rows=16, cols=16, batch_max=8, max_operand_cols=8)   # 4 guard bits
    assert shaped_guard_cycles(p8, 13, 4) == 1 and shaped_guard_cycles(p8, 8, 8) == 1
    assert shaped_guard_cycles(p8, 12, 8) == 0


def test_fire_cycles_by_hand():
    def lay(**kw):
        return LayerConfig(bw=1, bv=kw.pop("bv", 13), **kw)
    # R = 4 at N_C 4: issue + read-ahead + compare 4 + hard reset 4
    assert fire_cycles(lay(operand_cols=4)) == 2 + 4 + 4
    # shift 5 at N_C 4: straddles rows 1 and 2 -> prime cycle; shift 4: one row, no prime;
    # shift 3 < N_C: V's own row and the next, no prime
    assert prime_cycles(lay(leak_mode="shift", leak=5, operand_cols=4)) == 1
    assert prime_cycles(lay(leak_mode="shift", leak=4, operand_cols=4)) == 0
    assert prime_cycles(lay(leak_mode="shift", leak=3, operand_cols=4)) == 0
    assert prime_cycles(lay(leak_mode="shift", leak=5)) == 0
    assert fire_cycles(lay(leak_mode="shift", leak=5, operand_cols=4, reset="soft")) \
        == 2 + 1 + 4 + 4 + 8
    assert fire_cycles(lay(leak_mode="sub", leak=5, operand_cols=4)) == 2 + 8 + 4 + 4
    # one row (bv 4 at N_C 4) with a leak: the bubble of bv = 1 at N_C = 1
    assert fire_cycles(lay(bv=4, leak_mode="sub", leak=1, operand_cols=4)) == 2 + 2 + 1 + 1 + 1


def test_shaped_cells_are_the_documented_cells():
    r, c = shaped_cells(Operand(5, 7, 4), 9)             # 2 groups, column 8 in none
    assert r.shape == c.shape == (7, 2)
    for i in range(7):
        for g in range(2):
            assert (r[i, g], c[i, g]) == (5 + i // 4, g * 4 + i % 4)


def test_bad_shapes_are_refused_naming_the_parameter():
    with pytest.raises(ValueError, match=r"`max_operand_cols` must be a power of two in \[1, 8\]"):
        MacroConfig(rows=8, cols=8, max_operand_cols=3)
    with pytest.raises(ValueError, match=r"`max_operand_cols` must be an integer in \[1, 4\]"):
        MacroConfig(rows=8, cols=6, max_operand_cols=8)
    cfg = MacroConfig(rows=4, cols=10, batch_max=2, max_operand_cols=4)
    assert cfg.max_bits == 16
    with pytest.raises(ValueError, match=r"`operand_cols` must be an integer in \[1, 4\], not 8"):
        LayerConfig(bw=2, bv=4, operand_cols=8).check_fits(cfg)
    with pytest.raises(ValueError, match=r"`bv` must be an integer in \[1, 8\], not 9 \(at "):
        LayerConfig(bw=2, bv=9, operand_cols=2).check_fits(cfg)
    with pytest.raises(ValueError, match="power of two"):
        AccumulateOp(0, 4, (), 2, operand_cols=3)
    with pytest.raises(ValueError, match=r"enables column 8; .*only columns \[0, 7\]"):
        group_mask(np.arange(10) >= 8, 10, 4)
    with pytest.raises(ValueError, match=r"group 1 \(columns 4..7\) is partly enabled"):
        group_mask(np.arange(10) == 5, 10, 4)
    m = MacroModel(cfg)
    with pytest.raises(ValueError, match=r"`values` must have shape \(2,\)"):
        m.load(Operand(0, 4, 4), np.zeros(10))
    with pytest.raises(ValueError, match=r"rows 2..4 do not fit"):
        m.load(Operand(2, 9, 4), np.zeros(2))
