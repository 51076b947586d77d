"""Level-1 golden model: integer SNN semantics of a network, with no hardware detail.

A network is a chain of layers; each layer has integer weights, a `LayerConfig` (resolutions,
saturate/wrap, leak, threshold, reset) and one membrane potential per neuron, starting at 0.
Input is an event stream (`golden.batching`: source indices, ``TICK`` ends a time step).

Per time step, for each layer in order:

1. **integrate**: the step's input events are grouped by the batching rule with
   ``batch_max`` events per batch; each batch adds ``W[:, sources].sum()`` to ``V``, then
   clamps (saturate) or wraps modulo ``2**bv`` (wrap). Grouping only matters when
   saturating; ``batch_max = 1`` is the textbook event-by-event semantics.
2. **fire** (only at a tick): ``V = leak(V)``, ``spike = V >= theta``, reset the spiking
   neurons (hard: 0, soft: ``V - theta`` clamped to the maximum); see
   `golden.macro.MacroModel.fire`, whose arithmetic is the same.
3. the layer's spikes become the next layer's events of the same time step, in ascending
   neuron index (the order the hardware's priority encoder emits them), then a tick.

Events after the last tick are integrated but never fired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np

from flexspim.config import LayerConfig, signed_range

from .batching import TICK, batch_starts, split_steps
from .macro import leak, wrap

__all__ = ["FCLayer", "Network", "NetworkRun", "run_layer"]


@dataclass(frozen=True, eq=False)
class FCLayer:
    """A fully connected layer.

    Attributes:
        weights: integer array ``(n_out, n_in)``, each in the ``bw``-bit signed range.
        config: the layer's `LayerConfig`.
        thresholds: per-neuron thresholds ``(n_out,)`` in the ``bv``-bit signed range,
            required when ``config.threshold_source == "array"``, else must be None.
        name: for reports.
    """

    weights: np.ndarray
    config: LayerConfig
    thresholds: np.ndarray | None = None
    name: str = ""

    def __post_init__(self):
        w = np.asarray(self.weights)
        if w.ndim != 2 or w.size == 0 or not np.issubdtype(w.dtype, np.integer):
            raise ValueError(f"`weights` of layer {self.name!r} must be a non-empty 2-D integer "
                             f"array (n_out, n_in), not {w.dtype} {w.shape}")
        lo, hi = self.config.w_range
        if w.min() < lo or w.max() > hi:
            raise ValueError(f"`weights` of layer {self.name!r} must be in [{lo}, {hi}] "
                             f"(bw={self.config.bw}), got [{w.min()}, {w.max()}]")
        object.__setattr__(self, "weights", w.astype(np.int64))
        if self.config.threshold_source == "array":
            t = np.asarray(self.thresholds)
            if t.shape != (w.shape[0],) or not np.issubdtype(t.dtype, np.integer):
                raise ValueError(f"`thresholds` of layer {self.name!r} must be {w.shape[0]} "
                                 f"integers (threshold_source='array')")
            tlo, thi = self.config.v_range
            if t.min() < tlo or t.max() > thi:
                raise ValueError(f"`thresholds` of layer {self.name!r} must be in "
                                 f"[{tlo}, {thi}] (bv={self.config.bv})")
            object.__setattr__(self, "thresholds", t.astype(np.int64))
        elif self.thresholds is not None:
            raise ValueError(f"`thresholds` of layer {self.name!r} must be None when "
                             f"threshold_source is 'register'")

    @property
    def n_in(self) -> int:
        return self.weights.shape[1]

    @property
    def n_out(self) -> int:
        return self.weights.shape[0]

    def theta(self) -> np.ndarray:
        if self.thresholds is not None:
            return self.thresholds
        return np.full(self.n_out, self.config.threshold, dtype=np.int64)


def _integrate(v: np.ndarray, w_t: np.ndarray, sources: np.ndarray, cfg: LayerConfig,
               batch_max: int) -> np.ndarray:
    lo, hi = cfg.v_range
    contrib = w_t[sources]                       # (events, n_out)
    if not cfg.saturate:
        return wrap(v + contrib.sum(axis=0), cfg.bv)
    per_batch = np.add.reduceat(contrib, batch_starts(sources, batch_max), axis=0)
    running = v + np.cumsum(per_batch, axis=0)
    if running.min() >= lo and running.max() <= hi:
        return running[-1]                       # no batch clamps: exact sum
    for b in per_batch:                          # some batch clamps: replay in order
        v = np.clip(v + b, lo, hi)
    return v


def _fire(v: np.ndarray, layer: FCLayer) -> tuple[np.ndarray, np.ndarray]:
    cfg = layer.config
    v = leak(v, cfg.leak_mode, cfg.leak)
    theta = layer.theta()
    spikes = v >= theta
    if cfg.reset == "hard":
        v = np.where(spikes, 0, v)
    else:
        v = np.where(spikes, np.minimum(v - theta, signed_range(cfg.bv)[1]), v)
    return v, spikes


def run_layer(layer: FCLayer, events, batch_max: int = 1,
              v0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run one layer on an event stream; returns ``(output events, final potentials)``."""
    v = np.zeros(layer.n_out, dtype=np.int64) if v0 is None else np.asarray(v0, np.int64)
    w_t = np.ascontiguousarray(layer.weights.T)
    out: list[np.ndarray] = []
    tick = np.array([TICK], dtype=np.int64)
    for sources, ticked in split_steps(events):
        if sources.size:
            if sources.max() >= layer.n_in:
                raise ValueError(f"event source {int(sources.max())} out of range for layer "
                                 f"{layer.name!r} with n_in={layer.n_in}")
            v = _integrate(v, w_t, sources, layer.config, batch_max)
        if ticked:
            v, spikes = _fire(v, layer)
            out.append(np.flatnonzero(spikes).astype(np.int64))
            out.append(tick)
    events_out = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    return events_out, v


class NetworkRun(NamedTuple):
    outputs: list[np.ndarray]      # per layer: its output event stream (with ticks)
    potentials: list[np.ndarray]   # per layer: final membrane potentials


@dataclass(frozen=True, eq=False)
class Network:
    """A chain of layers; ``layers[i].n_out`` must equal ``layers[i+1].n_in``."""

    layers: Sequence[FCLayer] = field(default_factory=tuple)

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ValueError("`layers` must hold at least one layer")
        for a, b in zip(self.layers, self.layers[1:]):
            if a.n_out != b.n_in:
                raise ValueError(f"layer {b.name!r} has n_in={b.n_in} but layer {a.name!r} "
                                 f"has n_out={a.n_out}")

    def run(self, events, batch_max: int = 1) -> NetworkRun:
        outputs, potentials = [], []
        ev = np.asarray(events, dtype=np.int64)
        for layer in self.layers:
            ev, v = run_layer(layer, ev, batch_max)
            outputs.append(ev)
            potentials.append(v)
        return NetworkRun(outputs, potentials)
