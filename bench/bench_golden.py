"""Golden-model throughput (``make bench-golden``): a table, measured in one run.

* the level-2 macro model's accumulate on a 128x128 macro, P=8, bv=16, bw=8, saturating,
  against a naive per-column Python loop doing the same operation on the same bit array;
* the level-1 network reference on a 128-input, 128-neuron fully connected layer (`run_layer`,
  vectorized; and `run_layer_reference`, its step-by-step specification), against a plain
  NumPy loop over time steps doing one dense int64 matrix-vector product per step on the same
  spikes. That baseline clamps per step, not per batch, so it is the same computation only
  while nothing saturates, which holds for this case and is checked.

A synaptic operation (SOP) is one weight added to one potential. Times are the best of
several runs (the machine is shared), all in this one run.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from flexspim.config import AccumulateOp, LayerConfig, MacroConfig
from flexspim.golden.batching import TICK, split_steps
from flexspim.golden.layers import FCLayer
from flexspim.golden.macro import MacroModel, leak
from flexspim.golden.network import run_layer, run_layer_reference


def naive_accumulate(bits: np.ndarray, op: AccumulateOp) -> None:
    """The same accumulate, one column at a time in plain Python."""
    lo, hi = -(1 << (op.bv - 1)), (1 << (op.bv - 1)) - 1

    def value(c, row, b):
        u = 0
        for i in range(b):
            u |= int(bits[row + i, c]) << i
        return u - (1 << b) if u >> (b - 1) else u

    for c in range(bits.shape[1]):
        total = value(c, op.v_row, op.bv) + sum(value(c, r, op.bw) for r in op.w_rows)
        total = min(max(total, lo), hi) if op.saturate else ((total - lo) % (1 << op.bv)) + lo
        for i in range(op.bv):
            bits[op.v_row + i, c] = (total >> i) & 1


def dense_per_step(layer: FCLayer, events: np.ndarray):
    """Plain NumPy: per time step, spike counts times the dense weights, clamp, fire."""
    cfg = layer.config
    lo, hi = cfg.v_range
    w, theta = layer.weights, layer.theta()
    v = np.zeros(layer.n_out, dtype=np.int64)
    out = []
    for sources, ticked in split_steps(events):
        v = np.clip(v + w @ np.bincount(sources, minlength=layer.n_in), lo, hi)
        if ticked:
            v = leak(v, cfg.leak_mode, cfg.leak)
            spikes = v >= theta
            v = np.where(spikes, np.minimum(v - theta, hi), v)
            out += [np.flatnonzero(spikes), [TICK]]
    return np.concatenate(out), v


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def timed(fn, min_seconds=1.0):
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= min_seconds:
            return n, dt


def main() -> int:
    rng = np.random.default_rng(1)
    macro = MacroConfig(rows=128, cols=128, batch_max=8)
    bv, bw, P = 16, 8, 8
    model = MacroModel(macro)
    model.bits[:] = rng.integers(0, 2, size=model.bits.shape)
    ops = [AccumulateOp(0, bv, tuple(bv + bw * rng.permutation(12)[:P]), bw, True)
           for _ in range(64)]
    it = iter(range(10**12))
    n, dt = timed(lambda: model.accumulate(ops[next(it) % 64]))
    fast = n * P * macro.cols / dt

    bits = model.bits.copy()
    it = iter(range(10**12))
    n2, dt2 = timed(lambda: naive_accumulate(bits, ops[next(it) % 64]))
    naive = n2 * P * macro.cols / dt2

    # check both did the same thing once, so the comparison is of equal work
    a = MacroModel(macro)
    a.bits[:] = bits
    b = a.bits.copy()
    a.accumulate(ops[0])
    naive_accumulate(b, ops[0])
    assert np.array_equal(a.bits, b), "naive and vectorized accumulate disagree"

    layer = FCLayer(rng.integers(-128, 128, size=(128, 128)),
                    LayerConfig(bw=8, bv=16, saturate=True, threshold=2000, reset="soft",
                                leak_mode="shift", leak=3))
    ev = rng.integers(0, 128, size=200_000)
    ev[rng.random(ev.size) < 0.01] = TICK
    n_events = int((ev != TICK).sum())
    fast_out = run_layer(layer, ev, batch_max=8)
    base_out = dense_per_step(layer, ev)
    spec_out = run_layer_reference(layer, ev, batch_max=8)
    for name, got in (("dense-per-step baseline", base_out), ("run_layer", fast_out)):
        if not all(np.array_equal(a, b) for a, b in zip(got, spec_out)):
            raise SystemExit(f"{name} disagrees with run_layer_reference on the bench case")
    # interleaved, so load changes on the shared machine hit all three alike
    times = {"fast": [], "base": [], "spec": []}
    for _ in range(5):
        times["fast"].append(best_time(lambda: run_layer(layer, ev, batch_max=8), 2))
        times["base"].append(best_time(lambda: dense_per_step(layer, ev), 2))
        times["spec"].append(best_time(lambda: run_layer_reference(layer, ev, batch_max=8), 1))
    t_fast, t_base, t_spec = (min(times[k]) for k in ("fast", "base", "spec"))
    sops = n_events * layer.n_out

    rows = [
        ("macro model accumulate, 128x128, P=8, bv=16", f"{fast:,.0f}"),
        ("naive per-column Python loop, same op", f"{naive:,.0f}"),
        ("ratio (vectorized / naive)", f"{fast / naive:,.0f}x"),
        (f"network reference run_layer, 128 -> 128 FC, P=8, {ev.size // 1000}k events",
         f"{sops / t_fast:,.0f}"),
        ("  its specification, run_layer_reference (step by step)", f"{sops / t_spec:,.0f}"),
        ("  plain NumPy dense matvec per step, same spikes", f"{sops / t_base:,.0f}"),
        ("  ratio golden / NumPy baseline", f"{t_base / t_fast:.2f}x"),
    ]
    w = max(len(r[0]) for r in rows)
    print(f"{'golden model':<{w}}  SOP/s")
    for name, val in rows:
        print(f"{name:<{w}}  {val}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
