"""The batching rule: P limit, duplicate sources, ticks."""

import numpy as np
import pytest

from flexspim.golden.batching import TICK, batch_starts, form_batches, split_steps

T = TICK


def test_fills_up_to_P_in_arrival_order():
    assert form_batches([0, 1, 2, 3, 4], 2) == [(0, 1), (2, 3), (4,)]
    assert form_batches([4, 3, 2, 1], 8) == [(4, 3, 2, 1)]
    assert form_batches([5, 6, 7], 1) == [(5,), (6,), (7,)]


def test_duplicate_source_starts_a_new_batch():
    assert form_batches([0, 1, 0, 2], 4) == [(0, 1), (0, 2)]
    assert form_batches([3, 3, 3], 4) == [(3,), (3,), (3,)]
    assert form_batches([0, 1, 2, 1, 3], 3) == [(0, 1, 2), (1, 3)]


def test_tick_closes_the_open_batch_and_empty_batches_never_form():
    assert form_batches([0, 1, T, 1, 0, T], 4) == [(0, 1), T, (1, 0), T]
    assert form_batches([T, T, 2, T], 4) == [T, T, (2,), T]
    assert form_batches([], 3) == []
    assert form_batches([0, 1, 2, 3, T], 2) == [(0, 1), (2, 3), T]


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="batch_max"):
        form_batches([0], 0)
    with pytest.raises(ValueError, match="-2"):
        form_batches([0, -2], 2)
    with pytest.raises(ValueError, match="-5"):
        split_steps([0, -5])


def test_batch_starts_agrees_with_form_batches(rng):
    for _ in range(300):
        P = int(rng.integers(1, 9))
        src = rng.integers(0, int(rng.integers(1, 12)), size=int(rng.integers(1, 40)))
        batches = form_batches(src, P)
        starts = batch_starts(src, P)
        assert [tuple(b) for b in np.split(src, starts[1:])] == batches
        for b in batches:
            assert 1 <= len(b) <= P and len(set(b)) == len(b)


def test_split_steps():
    steps = split_steps([1, 2, T, T, 3])
    assert [(s.tolist(), t) for s, t in steps] == [([1, 2], True), ([], True), ([3], False)]
