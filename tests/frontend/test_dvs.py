"""Synthetic DVS events: tonic's format, DVS-like physics, conversion to event streams."""

import numpy as np
import pytest

from flexspim.frontend.dvs import (
    EVENT_DTYPE,
    GESTURES,
    events_to_stream,
    input_density,
    make_events,
    synthetic_dataset,
    synthetic_gesture,
)
from flexspim.golden.batching import TICK


def test_tonic_format_and_ranges(rng):
    ev = synthetic_gesture(rng, "circle", sensor_size=(64, 48, 2), duration_us=100_000)
    assert ev.dtype == EVENT_DTYPE
    assert ev.dtype.names == ("x", "y", "p", "t")
    assert [ev.dtype[n] for n in ev.dtype.names] == [np.int16, np.int16, bool, np.int64]
    assert np.all(np.diff(ev["t"]) >= 0)
    assert ev["x"].min() >= 0 and ev["x"].max() < 64 and ev["y"].max() < 48
    assert 0 <= ev["t"].min() and ev["t"].max() < 100_000
    assert 0.2 < ev["p"].mean() < 0.8          # a moving shape makes ON and OFF edges


def test_polarity_follows_brightness(rng):
    # a bright shape that grows brightens pixels (ON); one that shrinks darkens them (OFF)
    grow = synthetic_gesture(rng, "grow", noise_hz=0)
    shrink = synthetic_gesture(rng, "shrink", noise_hz=0)
    assert grow["p"].mean() > 0.9 and shrink["p"].mean() < 0.1


@pytest.mark.parametrize("gesture, axis, sign", [("right", "x", 1), ("left", "x", -1),
                                                 ("down", "y", 1), ("up", "y", -1)])
def test_translations_move_the_events(rng, gesture, axis, sign):
    ev = synthetic_gesture(rng, gesture, noise_hz=0, duration_us=400_000)
    first = ev[axis][ev["t"] < 100_000].mean()
    last = ev[axis][ev["t"] >= 300_000].mean()
    # the shape's centre travels half the sensor (64 px); between the first and last
    # quarter-means it moves by about 3/4 of that
    assert sign * (last - first) > 32


def test_sparsity_and_noise(seed):
    ev = synthetic_gesture(np.random.default_rng(seed), "wave", duration_us=200_000,
                           noise_hz=0)
    stream = events_to_stream(ev, (128, 128, 2), 1000)
    assert input_density(stream, 2 * 128 * 128) < 0.05    # DVS-like: few pixels per ms
    # same seed: same shape and motion (noise is drawn last), so the difference is noise;
    # 50 Hz x 16384 pixels x 0.2 s = 163840 expected (Poisson, sd ~ 400)
    noisy = synthetic_gesture(np.random.default_rng(seed), "wave", duration_us=200_000,
                              noise_hz=50)
    assert abs(len(noisy) - len(ev) - 163840) < 3000


def test_reproducible_and_all_classes(seed):
    a = synthetic_gesture(np.random.default_rng(seed), 3, duration_us=50_000)
    b = synthetic_gesture(np.random.default_rng(seed), 3, duration_us=50_000)
    assert np.array_equal(a, b)
    data = synthetic_dataset(np.random.default_rng(seed), 1, sensor_size=(32, 32, 2),
                             duration_us=50_000)
    assert [label for _, label in data] == list(range(len(GESTURES)))
    assert all(len(ev) > 0 for ev, _ in data)


def test_stream_conversion_by_hand():
    ev = make_events(x=[1, 0, 3, 2], y=[0, 1, 1, 0], p=[True, False, True, True],
                     t=[5, 0, 2500, 1200])
    # sensor 4 x 2 (W x H): source = p * 8 + y * 4 + x; bins of 1000 us from t = 0
    s = events_to_stream(ev, (4, 2, 2), 1000)
    assert s.tolist() == [4, 9, TICK, 10, TICK, 15, TICK]
    assert events_to_stream(ev, (4, 2, 2), 1000, n_steps=5).tolist() == \
        [4, 9, TICK, 10, TICK, 15, TICK, TICK, TICK]
    assert events_to_stream(ev, (4, 2, 2), 1000, n_steps=1).tolist() == [4, 9, TICK]
    # downsample 2: 2 x 1 pixels per polarity, source = p * 2 + (y//2) * 2 + x//2
    assert events_to_stream(ev, (4, 2, 2), 10_000, downsample=2).tolist() == \
        [0, 2, 3, 3, TICK]


def test_bad_parameters(rng):
    with pytest.raises(ValueError, match="`gesture` must be one of"):
        synthetic_gesture(rng, "jump")
    with pytest.raises(ValueError, match=r"`gesture` index must be in \[0, 10\], not 11"):
        synthetic_gesture(rng, 11)
    with pytest.raises(ValueError, match="`contrast` must be > 0"):
        synthetic_gesture(rng, 0, contrast=0)
    with pytest.raises(ValueError, match="`sensor_size`"):
        synthetic_gesture(rng, 0, sensor_size=(64, 64))
    ev = make_events([0], [0], [True], [0])
    with pytest.raises(ValueError, match="`dt_us` must be an integer >= 1"):
        events_to_stream(ev, (4, 4, 2), 0)
    with pytest.raises(ValueError, match="inside the sensor"):
        events_to_stream(make_events([9], [0], [True], [0]), (4, 4, 2), 10)
    with pytest.raises(ValueError, match="fields x, y, p, t"):
        events_to_stream(np.zeros(3), (4, 4, 2), 10)


def test_polarity_must_be_bool_or_0_1():
    ev = np.zeros(2, dtype=[("x", np.int16), ("y", np.int16), ("p", np.int8), ("t", np.int64)])
    ev["p"] = [-1, 1]
    with pytest.raises(ValueError, match=r"polarity `p` of `events` must be bool or 0/1 "
                                         r"\(OFF/ON\), not int8 values in \[-1, 1\]"):
        events_to_stream(ev, (4, 4, 2), 10)
    ev["p"] = [0, 1]           # integer 0/1, as some tonic datasets store it
    assert events_to_stream(ev, (4, 4, 2), 10).tolist() == [0, 16, TICK]


def test_tonic_transforms_accept_the_events(rng):
    tonic = pytest.importorskip("tonic")
    ev = synthetic_gesture(rng, "right", sensor_size=(32, 32, 2), duration_us=20_000)
    frames = tonic.transforms.ToFrame(sensor_size=(32, 32, 2), n_time_bins=4)(ev)
    assert frames.shape == (4, 2, 32, 32) and frames.sum() == len(ev)
