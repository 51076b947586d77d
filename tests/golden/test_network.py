"""Level-1 network reference against a plain per-neuron Python oracle."""

import numpy as np
import pytest

from flexspim.config import LayerConfig
from flexspim.golden.batching import TICK, form_batches
from flexspim.golden.layers import FCLayer
from flexspim.golden.network import Network, run_layer


def oracle_layer(weights, cfg, thresholds, events, batch_max):
    """Plain Python integers, neuron by neuron: independent of the NumPy model."""
    n_out = len(weights)
    lo, hi = -(1 << (cfg.bv - 1)), (1 << (cfg.bv - 1)) - 1
    v = [0] * n_out
    out = []
    for item in form_batches(events, batch_max):
        if item == TICK:
            for j in range(n_out):
                x = v[j]
                if cfg.leak_mode == "sub":
                    x = max(x - cfg.leak, 0) if x > 0 else min(x + cfg.leak, 0)
                elif cfg.leak_mode == "shift":
                    x = x - (x >> cfg.leak)
                th = thresholds[j] if thresholds is not None else cfg.threshold
                if x >= th:
                    out.append(j)
                    x = 0 if cfg.reset == "hard" else min(x - th, hi)
                v[j] = x
            out.append(TICK)
            continue
        for j in range(n_out):
            t = v[j] + sum(int(weights[j][s]) for s in item)
            v[j] = min(max(t, lo), hi) if cfg.saturate else ((t - lo) % (1 << cfg.bv)) + lo
    return out, v


def random_layer(rng, n_in, n_out):
    bv = int(rng.integers(1, 17))
    bw = int(rng.integers(1, bv + 1))
    mode = str(rng.choice(["none", "sub", "shift"]))
    leak = {"none": 0, "sub": int(rng.integers(0, 1 << (bv - 1))),
            "shift": int(rng.integers(0, bv))}[mode]
    src = str(rng.choice(["register", "array"]))
    lo, hi = -(1 << (bv - 1)), (1 << (bv - 1)) - 1
    cfg = LayerConfig(bw=bw, bv=bv, saturate=bool(rng.integers(0, 2)), leak_mode=mode,
                      leak=leak, threshold=int(rng.integers(0, hi + 1)), threshold_source=src,
                      reset=str(rng.choice(["hard", "soft"])))
    w = rng.integers(-(1 << (bw - 1)), 1 << (bw - 1), size=(n_out, n_in))
    th = rng.integers(lo, hi + 1, size=n_out) if src == "array" else None
    return FCLayer(w, cfg, th)


def random_events(rng, n_in, n):
    ev = rng.integers(0, n_in, size=n)
    ev[rng.random(n) < 0.15] = TICK
    return ev


def test_layer_matches_python_oracle(rng, regress):
    for trial in range(200 if regress else 40):
        n_in, n_out = int(rng.integers(1, 20)), int(rng.integers(1, 20))
        layer = random_layer(rng, n_in, n_out)
        ev = random_events(rng, n_in, int(rng.integers(0, 120)))
        P = int(rng.integers(1, 9))
        out, v = run_layer(layer, ev, P)
        want_out, want_v = oracle_layer(layer.weights.tolist(), layer.config,
                                        None if layer.thresholds is None
                                        else layer.thresholds.tolist(), ev.tolist(), P)
        assert out.tolist() == want_out, f"trial {trial}: {layer.config}"
        assert v.tolist() == want_v, f"trial {trial}: {layer.config}"


def test_wrap_is_independent_of_batching_but_saturate_is_not():
    w = np.array([[100, 100, -100]])
    ev = [0, 1, 2]
    wrap = FCLayer(w, LayerConfig(bw=8, bv=8, saturate=False, threshold=127))
    assert run_layer(wrap, ev, 1)[1].tolist() == run_layer(wrap, ev, 3)[1].tolist() == [100]
    sat = FCLayer(w, LayerConfig(bw=8, bv=8, saturate=True, threshold=127))
    assert run_layer(sat, ev, 1)[1].tolist() == [27]      # 100, 127 (clamped), 27
    assert run_layer(sat, ev, 3)[1].tolist() == [100]     # one batch, total 100


def test_network_chains_layers_and_orders_spikes():
    l1 = FCLayer(np.array([[1], [1], [1]]), LayerConfig(bw=2, bv=4, threshold=1))
    l2 = FCLayer(np.array([[1, 1, 1]]), LayerConfig(bw=2, bv=4, threshold=3))
    run = Network([l1, l2]).run([0, TICK, TICK, 0])
    assert run.outputs[0].tolist() == [0, 1, 2, TICK, TICK]
    assert run.outputs[1].tolist() == [0, TICK, TICK]
    assert run.potentials[0].tolist() == [1, 1, 1]     # integrated after the last tick


def test_network_rejects_bad_layers():
    with pytest.raises(ValueError, match=r"`weights`.*\[-2, 1\]"):
        FCLayer(np.array([[2]]), LayerConfig(bw=2, bv=4))
    with pytest.raises(ValueError, match="`thresholds`"):
        FCLayer(np.array([[1]]), LayerConfig(bw=2, bv=4, threshold_source="array"))
    with pytest.raises(ValueError, match="n_in=2"):
        Network([FCLayer(np.zeros((3, 1), int), LayerConfig(bw=2, bv=4)),
                 FCLayer(np.zeros((1, 2), int), LayerConfig(bw=2, bv=4))])
    with pytest.raises(ValueError, match="event source 5"):
        run_layer(FCLayer(np.zeros((1, 2), int), LayerConfig(bw=2, bv=4)), [5])
