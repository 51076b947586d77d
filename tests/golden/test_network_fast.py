"""The vectorized network reference (`golden.network_fast`, behind `run_layer`) against the
step-by-step specification (`run_layer_reference`), and the vectorized `batch_starts` against
its event-by-event definition."""

import dataclasses

import numpy as np
import pytest

from flexspim.config import LayerConfig
from flexspim.golden import network_fast
from flexspim.golden.batching import TICK, batch_starts, batch_starts_reference
from flexspim.golden.layers import ConvLayer, FCLayer
from flexspim.golden.network import Network, run_layer, run_layer_reference
from flexspim.golden.network_fast import clamped_sum, run_layer_fast

T = TICK


def random_config(rng, saturate=None) -> LayerConfig:
    bv = int(rng.integers(1, 17))
    bw = int(rng.integers(1, bv + 1))
    mode = str(rng.choice(["none", "sub", "shift"]))
    leak = {"none": 0, "sub": int(rng.integers(0, 1 << (bv - 1))),
            "shift": int(rng.integers(0, bv))}[mode]
    hi = (1 << (bv - 1)) - 1
    return LayerConfig(bw=bw, bv=bv, leak_mode=mode, leak=leak,
                       saturate=bool(rng.integers(0, 2)) if saturate is None else saturate,
                       threshold=int(rng.integers(-hi - 1, hi + 1)),
                       threshold_source=str(rng.choice(["register", "array"])),
                       reset=str(rng.choice(["hard", "soft"])))


def random_fc(rng, n_in, n_out, saturate=None) -> FCLayer:
    cfg = random_config(rng, saturate)
    lo, hi = cfg.w_range
    th = None
    if cfg.threshold_source == "array":
        th = rng.integers(*cfg.v_range, size=n_out, endpoint=True)
    return FCLayer(rng.integers(lo, hi + 1, size=(n_out, n_in)), cfg, th)


def random_conv(rng, saturate=None) -> ConvLayer:
    cfg = dataclasses.replace(random_config(rng, saturate), threshold_source="register")
    c_in, c_out = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    k = int(rng.integers(1, 4))
    h, w = int(rng.integers(k, 7)), int(rng.integers(k, 7))
    lo, hi = cfg.w_range
    return ConvLayer(rng.integers(lo, hi + 1, size=(c_out, c_in, k, k)), (c_in, h, w), cfg,
                     stride=int(rng.integers(1, 3)), padding=int(rng.integers(0, k)))


def random_stream(rng, n_in, n, tick_rate=None) -> np.ndarray:
    """Sources from a small pool (repeats are common), ticks, sometimes a tail without one."""
    pool = rng.integers(0, n_in, size=int(rng.integers(1, n_in + 1)))
    ev = rng.choice(pool, size=n)
    ev[rng.random(n) < (rng.uniform(0, 0.4) if tick_rate is None else tick_rate)] = TICK
    if n and rng.random() < 0.7:
        ev[-1] = TICK
    return ev


def assert_same(layer, ev, P, v0=None, what=""):
    got_ev, got_v = run_layer_fast(layer, ev, P, v0)
    want_ev, want_v = run_layer_reference(layer, ev, P, v0)
    assert got_ev.dtype == want_ev.dtype == np.int64, what
    if got_ev.tolist() != want_ev.tolist():
        i = next((i for i, (a, b) in enumerate(zip(got_ev, want_ev)) if a != b),
                 min(len(got_ev), len(want_ev)))
        pytest.fail(f"{what}: output events differ first at position {i} "
                    f"(time step {int((want_ev[:i] == TICK).sum())}), P={P}, {layer.config}")
    if got_v.tolist() != want_v.tolist():
        n = int(np.flatnonzero(got_v != want_v)[0])
        pytest.fail(f"{what}: potential of neuron {n} is {got_v[n]}, spec {want_v[n]}, "
                    f"P={P}, {layer.config}")


def test_fast_fc_equals_reference_on_random_streams(rng, regress):
    for trial in range(600 if regress else 150):
        n_in, n_out = int(rng.integers(1, 24)), int(rng.integers(1, 24))
        layer = random_fc(rng, n_in, n_out)
        ev = random_stream(rng, n_in, int(rng.integers(0, 200)))
        assert_same(layer, ev, int(rng.integers(1, 24)), what=f"trial {trial}")


def test_fast_saturating_layers_that_clamp_often(rng, regress):
    # narrow potentials, wide weights, long steps: most steps clamp somewhere
    for trial in range(300 if regress else 80):
        n_in, n_out = int(rng.integers(1, 16)), int(rng.integers(1, 16))
        layer = random_fc(rng, n_in, n_out, saturate=True)
        ev = random_stream(rng, n_in, int(rng.integers(1, 300)), tick_rate=0.02)
        assert_same(layer, ev, int(rng.integers(1, 12)), what=f"trial {trial}")


def test_fast_conv_equals_reference(rng, regress):
    for trial in range(150 if regress else 40):
        layer = random_conv(rng)
        ev = random_stream(rng, layer.n_in, int(rng.integers(0, 150)))
        assert_same(layer, ev, int(rng.integers(1, 12)), what=f"conv trial {trial}")


def test_fast_start_potentials(rng):
    for trial in range(40):
        layer = random_fc(rng, 5, 6)
        v0 = rng.integers(*layer.config.v_range, size=6, endpoint=True)
        ev = random_stream(rng, 5, int(rng.integers(0, 30)))
        assert_same(layer, ev, 3, v0, what=f"trial {trial}")
        v0_before = v0.copy()
        run_layer_fast(layer, ev, 3, v0)
        assert v0.tolist() == v0_before.tolist(), "v0 must not be modified"
    layer = FCLayer(np.zeros((2, 2), int), LayerConfig(bw=2, bv=4))
    for bad, match in (([0, 8], r"v0.*\[-8, 7\].*got \[0, 8\]"), ([0], "2 integers"),
                       ([0.5, 1], "2 integers")):
        for run in (run_layer_fast, run_layer_reference):
            with pytest.raises(ValueError, match=match):
                run(layer, [0, T], 1, np.array(bad))


@pytest.mark.parametrize("ev", [
    [], [T], [T, T, T], [0, T, T, 1, T], [3, 3, 3, 3, T], [0, 1, 2],   # tail without tick
    [0, 1, 0, 1, 0, 1, T, T], [5, 4, 3, 2, 1, 0, T], [0, T, 0, T, 0],
])
@pytest.mark.parametrize("P", [1, 2, 3, 50])                 # 50 > events
@pytest.mark.parametrize("saturate", [False, True])
def test_fast_corner_cases(ev, P, saturate):
    w = np.array([[7, -8, 7, 7, -8, 7], [1, 2, 3, -1, -2, -3], [-8, -8, 7, 0, 7, -8]])
    cfg = LayerConfig(bw=4, bv=5, saturate=saturate, threshold=9, reset="soft",
                      leak_mode="sub", leak=1)
    assert_same(FCLayer(w, cfg), np.array(ev, dtype=np.int64), P, what=str(ev))


def test_fast_paths_for_chunks_and_wide_sums(rng, monkeypatch):
    # tiny step chunks, and the int64 path used when float sums could be inexact
    monkeypatch.setattr(network_fast, "CHUNK_ELEMENTS", 50)
    layers = [random_fc(rng, 9, 7) for _ in range(20)] + [random_conv(rng) for _ in range(10)]
    for i, layer in enumerate(layers):
        ev = random_stream(rng, layer.n_in, 120)
        assert_same(layer, ev, 4, what=f"chunked, layer {i}")
    monkeypatch.setattr(network_fast, "_EXACT_FLOAT", 1)
    for i, layer in enumerate(layers):
        ev = random_stream(rng, layer.n_in, 120)
        assert_same(layer, ev, 4, what=f"int64 sums, layer {i}")


def test_run_layer_uses_the_fast_path_and_network_agrees(rng):
    l1, l2 = random_fc(rng, 12, 10), random_fc(rng, 10, 4)
    ev = random_stream(rng, 12, 200)
    run = Network([l1, l2]).run(ev, 3)
    out1, v1 = run_layer_reference(l1, ev, 3)
    out2, v2 = run_layer_reference(l2, out1, 3)
    assert [o.tolist() for o in run.outputs] == [out1.tolist(), out2.tolist()]
    assert [v.tolist() for v in run.potentials] == [v1.tolist(), v2.tolist()]
    assert run_layer(l1, ev, 3)[0].tolist() == out1.tolist()


def test_fast_rejects_what_the_reference_rejects():
    layer = FCLayer(np.zeros((1, 2), int), LayerConfig(bw=2, bv=4))
    for ev, match in (([0, T, 1, 5, 3, T, 9], "event source 5 out of range"),
                      ([0, -3], "-3")):
        with pytest.raises(ValueError, match=match):
            run_layer_reference(layer, ev)
        with pytest.raises(ValueError, match=match):
            run_layer_fast(layer, ev)
    with pytest.raises(ValueError, match="batch_max"):
        run_layer_fast(layer, [0], 0)


def test_clamped_sum_equals_the_loop(rng):
    for rows in list(range(0, 9)) + [31, 64, 100]:
        lo, hi = -20, 19
        steps = rng.integers(-15, 16, size=(rows, 6))
        v = rng.integers(-40, 40, size=6)
        want = v.copy()
        for s in steps:
            want = np.clip(want + s, lo, hi)
        assert clamped_sum(v, steps, lo, hi).tolist() == want.tolist(), rows


def test_fast_batch_starts_equals_the_rule(rng, regress):
    for _ in range(3000 if regress else 600):
        P = int(rng.integers(1, 40))                 # both the window and the sort path
        src = rng.integers(0, int(rng.integers(1, 30)), size=int(rng.integers(0, 80)))
        assert batch_starts(src, P).tolist() == batch_starts_reference(src, P).tolist()


def test_batch_starts_over_steps_equals_per_step(rng):
    for _ in range(200):
        P = int(rng.integers(1, 20))
        lens = rng.integers(0, 15, size=int(rng.integers(1, 8)))
        parts = [rng.integers(0, 6, size=n) for n in lens]
        src = np.concatenate(parts)
        steps = np.repeat(np.arange(len(lens)), lens)
        want, offset = [], 0
        for p in parts:
            want += (batch_starts_reference(p, P) + offset).tolist()
            offset += len(p)
        assert batch_starts(src, P, steps).tolist() == want


def test_batch_starts_corner_cases():
    assert batch_starts([], 4).tolist() == []
    assert batch_starts([7, 7, 7], 4).tolist() == [0, 1, 2]
    assert batch_starts([1, 2, 3], 1).tolist() == [0, 1, 2]
    assert batch_starts([1, 2, 3], 99).tolist() == [0]
    assert batch_starts([70000, 1, 70000], 30).tolist() == [0, 2]     # beyond 16-bit sort key
    with pytest.raises(ValueError, match="steps"):
        batch_starts([1, 2], 2, steps=[0])
