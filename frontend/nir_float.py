"""The framework-semantics float model of an import, and the report's measured columns.

`float_run` runs the float layers (`_FloatLayer`: effective float weights, thresholds,
decay, bias, leak order, reset) on an event stream as the framework would; `compare` fills
each layer's potential error and spike agreement of an import against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from flexspim.golden.batching import TICK, split_steps
from flexspim.golden.network import run_layer

if TYPE_CHECKING:
    from .nir_import import NirImport

__all__ = ["float_run", "compare"]

@dataclass
class _FloatLayer:
    dense: np.ndarray          # (n_out, n_in) effective float weights g * W
    theta: np.ndarray          # (n_out,) v_threshold
    decay: float               # 1 - dt/tau (exp(-dt/tau)), or 1
    bias: np.ndarray | None = None      # (n_out,) g * b, added every step
    leak_order: str = "leak-first"
    reset: str = "hard"
    late_subtract: bool = False


def float_run(float_layers: Sequence[_FloatLayer], events):
    """The float reference (framework semantics, module docstring) on an event stream: per
    layer ``(output events, potentials at the first tick after the leak and before the
    threshold, final potentials)``. Events after the last tick are never integrated."""
    out = []
    ev = np.asarray(events, dtype=np.int64)
    for fl in float_layers:
        n_out, n_in = fl.dense.shape
        v = np.zeros(n_out)
        fired = np.zeros(n_out, bool)
        pending = np.zeros(n_out)
        first = None
        stream = []
        for sources, ticked in split_steps(ev):
            if sources.size:
                pending = pending + fl.dense @ np.bincount(sources, minlength=n_in)
            if not ticked:
                continue
            cur = pending if fl.bias is None else pending + fl.bias
            pending = np.zeros(n_out)
            v = fl.decay * v + cur if fl.leak_order == "leak-first" else fl.decay * (v + cur)
            if fl.late_subtract:
                v = v - np.where(fired, fl.theta, 0.0)
            if first is None:
                first = v.copy()
            fired = v > fl.theta                  # NIR: strictly above the threshold
            if fl.reset == "hard":
                v[fired] = 0.0
            elif not fl.late_subtract:
                v[fired] -= fl.theta[fired]
            stream += np.flatnonzero(fired).tolist() + [TICK]
        ev = np.asarray(stream, dtype=np.int64)
        out.append((ev, first if first is not None else v, v))
    return out


def compare(imp: NirImport, events, batch_max: int = 1) -> NirImport:
    """Fill the report's measured columns against the framework-semantics float model: each
    layer is driven by **the integer network's** input to that layer, in both models (so
    errors do not compound across layers); the potential error is at the first tick, after
    the leak, before the threshold (``s V`` against the float ``v``)."""
    from flexspim.golden.macro import leak

    hw_in = imp.hardware_events(events)
    run = imp.network.run(hw_in, batch_max)
    inputs = [hw_in] + run.outputs[:-1]
    for i, (rep, layer, fl, ev) in enumerate(zip(imp.report, imp.network.layers,
                                                 imp.float_layers, inputs)):
        # the float layer has no bias source: drop the always-active one
        f_in = np.asarray(events, np.int64) if i == 0 else ev[ev < imp.n_real(i - 1)]
        f_out, f_first, _ = float_run([fl], f_in)[0]
        steps = [src for src, ticked in split_steps(ev) if ticked]
        first_src = steps[0] if steps else np.zeros(0, np.int64)
        _, v_int = run_layer(layer, first_src, batch_max)     # no tick: before the leak
        v_int = leak(v_int, layer.config.leak_mode, layer.config.leak)
        n = imp.n_real(i)
        rep.potential_max_err = float(np.abs(rep.scale * v_int[:n] - f_first).max())
        a = _spike_matrix(run.outputs[i], layer.n_out)[:, :n]
        b = _spike_matrix(f_out, n)
        rep.spike_agreement = float((a == b).mean()) if a.size else 1.0
    return imp


def _spike_matrix(stream: np.ndarray, n: int) -> np.ndarray:
    rows = []
    for sources, ticked in split_steps(stream):
        if ticked:
            r = np.zeros(n, bool)
            r[sources[sources < n]] = True
            rows.append(r)
    return np.array(rows) if rows else np.zeros((0, n), bool)
