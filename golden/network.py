"""Level-1 golden model: integer SNN semantics of a network, with no hardware detail.

A network is a chain of layers; each layer has integer weights, a `LayerConfig` (resolutions,
saturate/wrap, leak, threshold, reset) and one membrane potential per neuron, starting at 0.
Input is an event stream (`golden.batching`: source indices, ``TICK`` ends a time step).

Two layer kinds exist (`golden.layers`). `FCLayer` holds a dense ``(n_out, n_in)`` matrix.
`ConvLayer` is a 2-D convolution and is, by definition, the fully connected layer whose dense
matrix `ConvLayer.dense_weights` builds from its kernel (see there for padding, stride,
dilation and the ``(c, y, x)`` flattening of sources and neurons): every rule below
(batching, per-batch saturation, fire, output order) applies to it unchanged. A kernel tap
that falls on the zero padding connects nothing; a source outside a neuron's receptive field
adds 0 to it.

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

from flexspim.config import signed_range

from .batching import TICK, batch_starts, split_steps
from .layers import ConvLayer, FCLayer, start_potentials
from .macro import leak, wrap
from .network_fast import run_layer_fast

# FCLayer and ConvLayer are re-exported: code written before `golden.layers` imports them
# from here
__all__ = ["FCLayer", "ConvLayer", "Network", "NetworkRun", "run_layer", "run_layer_reference"]


def _integrate(v: np.ndarray, layer, sources: np.ndarray, batch_max: int) -> np.ndarray:
    """Add one time step's events to ``v`` batch by batch (clamp per batch, or wrap).

    Per-batch totals are exact int64 sums. A neuron whose running potential cannot leave
    the range (``v`` plus all positive totals, and plus all negative ones, stay inside)
    never clamps, so its result is the plain sum; the others are replayed batch by batch.
    """
    cfg = layer.config
    lo, hi = cfg.v_range
    per_batch = layer.batch_sums(sources, batch_starts(sources, batch_max))
    total = v + per_batch.sum(axis=0)
    if not cfg.saturate:   # wrap: modular sums do not depend on the grouping
        return wrap(total, cfg.bv)
    risky = (v + np.maximum(per_batch, 0).sum(axis=0) > hi) | \
            (v + np.minimum(per_batch, 0).sum(axis=0) < lo)
    if risky.any():
        r = v[risky]
        for b in per_batch[:, risky]:            # replay in order, clamping every batch
            r = np.clip(r + b, lo, hi)
        total[risky] = r
    return total


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


def run_layer_reference(layer, events, batch_max: int = 1,
                        v0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run one layer (`FCLayer` or `ConvLayer`) on an event stream, step by step and batch
    by batch: the specification `run_layer` is tested against.

    Returns ``(output events, final potentials)``.
    """
    v = start_potentials(layer, v0)
    out: list[np.ndarray] = []
    tick = np.array([TICK], dtype=np.int64)
    for sources, ticked in split_steps(events):
        if sources.size:
            if sources.max() >= layer.n_in:
                raise ValueError(f"event source {int(sources.max())} out of range for layer "
                                 f"{layer.name!r} with n_in={layer.n_in}")
            v = _integrate(v, layer, sources, batch_max)
        if ticked:
            v, spikes = _fire(v, layer)
            out.append(np.flatnonzero(spikes).astype(np.int64))
            out.append(tick)
    events_out = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    return events_out, v


def run_layer(layer, events, batch_max: int = 1,
              v0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run one layer on an event stream: ``(output events, final potentials)``.

    `run_layer_reference` computed without per-batch work where it cannot change the result
    (`golden.network_fast`; equal results are tested). Layers the fast path does not know
    (another class, or a layer with a ``bias``) run the reference.
    """
    if type(layer) in (FCLayer, ConvLayer) and getattr(layer, "bias", None) is None:
        return run_layer_fast(layer, events, batch_max, v0)
    return run_layer_reference(layer, events, batch_max, v0)


class NetworkRun(NamedTuple):
    outputs: list[np.ndarray]      # per layer: its output event stream (with ticks)
    potentials: list[np.ndarray]   # per layer: final membrane potentials


@dataclass(frozen=True, eq=False)
class Network:
    """A chain of layers (`FCLayer`, `ConvLayer`); ``layers[i].n_out`` must equal
    ``layers[i+1].n_in`` (a conv layer after a conv layer must also match its ``in_shape``
    to the previous ``out_shape``)."""

    layers: Sequence = field(default_factory=tuple)

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ValueError("`layers` must hold at least one layer")
        for a, b in zip(self.layers, self.layers[1:]):
            if a.n_out != b.n_in:
                raise ValueError(f"layer {b.name!r} has n_in={b.n_in} but layer {a.name!r} "
                                 f"has n_out={a.n_out}")
            if isinstance(a, ConvLayer) and isinstance(b, ConvLayer) \
                    and a.out_shape != b.in_shape:
                raise ValueError(f"layer {b.name!r} has in_shape={b.in_shape} but layer "
                                 f"{a.name!r} has out_shape={a.out_shape}")

    def run(self, events, batch_max: int = 1) -> NetworkRun:
        outputs, potentials = [], []
        ev = np.asarray(events, dtype=np.int64)
        for layer in self.layers:
            ev, v = run_layer(layer, ev, batch_max)
            outputs.append(ev)
            potentials.append(v)
        return NetworkRun(outputs, potentials)
