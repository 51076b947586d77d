"""The level-1 network reference, vectorized over time steps (same results, tested).

`golden.network.run_layer_reference` is the specification: it walks the stream one time step
at a time and adds every batch. This module computes the same thing with the work moved out
of the per-step loop:

1. **Step totals in bulk.** Per time step, the exact sum of the weights its events reach, for
   every neuron, and (saturating layers) the sums of the positive and of the negative weights
   alone: one BLAS product of per-step event counts with ``[W, |W|]`` for a fully connected
   layer, one weighted `np.bincount` over the kernel taps for a convolution. Computed in
   float64, which is exact while every partial sum stays below ``2**53`` (checked up front:
   ``max |w| * events in a step``; int64 otherwise).
2. **A short per-step loop** over the fire recurrence, which is nonlinear and cannot be
   vectorized across steps: ``V += total``, then wrap, or leak-compare-reset at a tick.
3. **Saturation without batches where it cannot happen.** The running potential inside a
   step lies between ``V + negatives`` and ``V + positives``; a neuron whose bounds stay in
   range never clamps, whatever the grouping, so its result is the plain sum. Only when a
   step's bounds leave the range are its batches formed (`golden.batching.batch_starts`, once
   for the whole stream) and its at-risk neurons replayed batch by batch, clamping after each,
   exactly as the reference does.

Memory stays bounded: steps are processed in chunks of at most `CHUNK_ELEMENTS` totals.
"""

from __future__ import annotations

import contextlib

import numpy as np

from flexspim.config import signed_range

from .batching import TICK, _check_batch_max, batch_starts
from .layers import ConvLayer, FCLayer, csr_gather, start_potentials
from .macro import leak, wrap

__all__ = ["run_layer_fast", "clamped_sum", "CHUNK_ELEMENTS"]

#: Largest number of per-step totals (steps x neurons x 3) held at once.
CHUNK_ELEMENTS = 1 << 22

_EXACT_FLOAT = 1 << 53
_vmax, _vmin = np.maximum.reduce, np.minimum.reduce


class _Stream:
    """An event stream cut into steps: sources, each event's step, each step's tick."""

    def __init__(self, events, n_in: int, name: str):
        ev = np.asarray(events, dtype=np.int64).ravel()
        if ev.size and ev.min() < TICK:
            raise ValueError(f"event sources must be >= 0 (or TICK = -1), not {int(ev.min())}")
        is_tick = ev == TICK
        n_ticks = int(is_tick.sum())
        step_of = np.cumsum(is_tick) - is_tick          # step index of every position
        self.sources = ev[~is_tick]
        self.step = step_of[~is_tick]
        # a last step without a tick exists when events follow the last tick
        trailing = ev.size > 0 and not is_tick[-1]
        self.n_steps = n_ticks + int(trailing)
        self.ticked = np.ones(self.n_steps, dtype=bool)
        if trailing:
            self.ticked[-1] = False
        # first event of every step (and the end): events of step k are first[k]:first[k+1]
        self.first = np.searchsorted(self.step, np.arange(self.n_steps + 1))
        if self.sources.size and self.sources.max() >= n_in:
            bad = int(self.step[np.argmax(self.sources >= n_in)])   # same message as the spec
            worst = int(self.sources[self.first[bad]:self.first[bad + 1]].max())
            raise ValueError(f"event source {worst} out of range for layer {name!r} "
                             f"with n_in={n_in}")


_blas = None


def _one_blas_thread(work: int):
    """Keep a matrix product of ``work`` multiply-adds on one BLAS thread: OpenBLAS's
    helper threads busy-wait after each call, which on a loaded machine cost more CPU than
    this small product (measured: ``make bench-golden`` under load, 0.6x against 1.1x the
    baseline). Small products are single-threaded anyway and skip the switch."""
    global _blas
    if work < 1 << 18:
        return contextlib.nullcontext()
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


def _step_totals(layer, src, step, n_steps, want_abs: bool):
    """``(total, absolute)``: per step and neuron, the sum of the weights the step's events
    reach, and the sum of their absolute values (None unless ``want_abs``); int64."""
    counts = np.bincount(step, minlength=n_steps)
    max_w = int(np.abs(layer.weights).max())
    exact = max_w * int(counts.max(initial=0)) < _EXACT_FLOAT
    if isinstance(layer, FCLayer):
        wt = layer._w_t                                   # (n_in, n_out) int64
        mats = [wt, np.abs(wt)] if want_abs else [wt]
        per_source = np.bincount(step * layer.n_in + src, minlength=n_steps * layer.n_in)
        per_source = per_source.reshape(n_steps, layer.n_in)
        if exact:
            with _one_blas_thread(per_source.size * len(mats) * layer.n_out):
                both = per_source.astype(np.float64) @ \
                    np.concatenate(mats, axis=1).astype(np.float64)
            both = both.astype(np.int64)
        else:
            both = per_source @ np.concatenate(mats, axis=1)
        n = layer.n_out
        return both[:, :n], (both[:, n:] if want_abs else None)
    if isinstance(layer, ConvLayer):
        indptr, dst, _, wgt = layer._csr
        idx, lens = csr_gather(indptr, src)
        slot = np.repeat(step, lens) * layer.n_out + dst[idx]
        size = n_steps * layer.n_out
        out = []
        for w in ([wgt, np.abs(wgt)] if want_abs else [wgt]):
            if exact:
                t = np.bincount(slot, weights=w[idx].astype(np.float64), minlength=size)
                t = t.astype(np.int64)
            else:
                t = np.zeros(size, dtype=np.int64)
                np.add.at(t, slot, w[idx])
            out.append(t.reshape(n_steps, layer.n_out))
        return out[0], (out[1] if want_abs else None)
    raise TypeError(f"no fast path for layer type {type(layer).__name__}")


def run_layer_fast(layer, events, batch_max: int = 1,
                   v0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`golden.network.run_layer_reference`, vectorized: ``(output events, potentials)``."""
    _check_batch_max(batch_max)
    cfg = layer.config
    lo, hi = cfg.v_range
    v_max = signed_range(cfg.bv)[1]
    stream = _Stream(events, layer.n_in, layer.name)
    v = start_potentials(layer, v0)
    theta = layer.theta()
    hard = cfg.reset == "hard"
    theta_min = int(theta.min())
    neg_theta = theta_min < 0             # only then can v - theta pass the maximum
    shift_leak = cfg.leak_mode == "shift"
    vlo = vhi = None
    sat = cfg.saturate
    spikes_out = np.zeros((stream.n_steps, layer.n_out), dtype=bool)

    chunk = max(1, CHUNK_ELEMENTS // (3 * max(layer.n_out, layer.n_in)))
    for c0 in range(0, stream.n_steps, chunk):
        c1 = min(c0 + chunk, stream.n_steps)
        e0, e1 = stream.first[c0], stream.first[c1]
        src, step = stream.sources[e0:e1], stream.step[e0:e1] - c0
        total, absolute = _step_totals(layer, src, step, c1 - c0, sat)
        if sat:
            # per step, the largest sum of positive weights any neuron receives (total +
            # absolute is twice it), and the most negative sum of negative weights
            pos_max = ((total + absolute).max(axis=1) >> 1).tolist()
            neg_min = ((total - absolute).min(axis=1) >> 1).tolist()
        ticked = stream.ticked[c0:c1].tolist()
        busy = (np.diff(stream.first[c0:c1 + 1]) > 0).tolist()
        for j in range(c1 - c0):
            if sat:
                # (vlo, vhi): bounds on v kept in Python scalars; exact values only on doubt
                if vhi is None or vhi + pos_max[j] > hi or vlo + neg_min[j] < lo:
                    vlo, vhi = int(v.min()), int(v.max())
                if vhi + pos_max[j] > hi or vlo + neg_min[j] < lo:
                    v = _replay(layer, v, total[j], absolute[j], stream, c0 + j,
                                batch_max, lo, hi)
                    vhi = None
                else:
                    v = v + total[j]
                    vlo, vhi = vlo + neg_min[j], vhi + pos_max[j]
            elif busy[j]:                          # the spec wraps only steps with events
                v = wrap(v + total[j], cfg.bv)
            if ticked[j]:
                # leak, compare, reset: `golden.network._fire`, in place
                v = v - (v >> cfg.leak) if shift_leak else leak(v, cfg.leak_mode, cfg.leak)
                s = v >= theta
                if hard:
                    v[s] = 0
                else:
                    np.subtract(v, theta, out=v, where=s)
                    if neg_theta:
                        np.minimum(v, v_max, out=v, where=s)
                spikes_out[c0 + j] = s
                if vhi is not None:
                    # leak moves every v towards 0; a reset value lies in [0, v - theta]
                    vlo, vhi = min(vlo, 0), max(vhi, 0)
                    if neg_theta:
                        vhi = max(vhi, min(vhi - theta_min, v_max))
    return _events_out(spikes_out[stream.ticked]), v


def _replay(layer, v, total, absolute, stream, k, batch_max, lo, hi):
    """Step ``k`` of a saturating layer whose bounds leave the range: the neurons whose
    running sum at some batch boundary leaves ``[lo, hi]`` are replayed batch by batch."""
    sources = stream.sources[stream.first[k]:stream.first[k + 1]]
    out = v + total
    # neurons whose own bounds leave the range; the others cannot clamp
    doubt = np.flatnonzero((2 * v + total + absolute > 2 * hi) |
                           (2 * v + total - absolute < 2 * lo))
    if sources.size == 0 or doubt.size == 0:      # no batch: v stays as it is
        return out
    running = np.cumsum(_batch_sums(layer, sources, batch_starts(sources, batch_max), doubt),
                        axis=0)
    vd = v[doubt]
    clamps = (vd + running.max(axis=0) > hi) | (vd + running.min(axis=0) < lo)
    if clamps.any():
        per_batch = np.diff(running[:, clamps], axis=0, prepend=0)
        out[doubt[clamps]] = clamped_sum(vd[clamps], per_batch, lo, hi)
    return out


def _batch_sums(layer, sources, starts, neurons):
    """``layer.batch_sums(sources, starts)[:, neurons]``, gathering only those neurons for
    a fully connected layer."""
    if isinstance(layer, FCLayer):
        return np.add.reduceat(layer._w_t[np.ix_(sources, neurons)], starts, axis=0)
    return layer.batch_sums(sources, starts)[:, neurons]


def clamped_sum(v: np.ndarray, steps: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``clip(...clip(clip(v + steps[0]) + steps[1])..., lo, hi)`` over the rows of ``steps``,
    in ``log2(rows)`` array passes instead of a loop over rows.

    Each row is the map ``x -> clip(x + a, l, h)``; two such maps, first ``(a1, l1, h1)`` then
    ``(a2, l2, h2)``, compose into one of the same form, ``(a1 + a2, clip(l1 + a2, l2, h2),
    clip(h1 + a2, l2, h2))`` (``l <= h`` is kept), so neighbours are merged pairwise until one
    map is left. An odd row count gets ``clip(x + 0, lo, hi)`` appended, which is the identity
    on the in-range value the map before it produced.
    """
    a = np.asarray(steps, dtype=np.int64)
    if a.shape[0] == 0:
        return np.asarray(v, dtype=np.int64).copy()
    l_ = np.full(a.shape, lo, dtype=np.int64)
    h_ = np.full(a.shape, hi, dtype=np.int64)
    while a.shape[0] > 1:
        if a.shape[0] % 2:
            pad = np.zeros((1,) + a.shape[1:], dtype=np.int64)
            a = np.concatenate([a, pad])
            l_ = np.concatenate([l_, pad + lo])
            h_ = np.concatenate([h_, pad + hi])
        a2, l2, h2 = a[1::2], l_[1::2], h_[1::2]
        l_ = np.minimum(np.maximum(l_[0::2] + a2, l2), h2)
        h_ = np.minimum(np.maximum(h_[0::2] + a2, l2), h2)
        a = a[0::2] + a2
    return np.minimum(np.maximum(v + a[0], l_[0]), h_[0])


def _events_out(spikes: np.ndarray) -> np.ndarray:
    """Per fired step, its spiking neurons in ascending order, then a tick."""
    steps, neurons = np.nonzero(spikes)
    per_step = spikes.sum(axis=1)
    out = np.full(neurons.size + spikes.shape[0], TICK, dtype=np.int64)
    tick_at = np.cumsum(per_step + 1) - 1
    keep = np.ones(out.size, dtype=bool)
    keep[tick_at] = False
    out[keep] = neurons
    return out
