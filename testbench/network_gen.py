"""Random networks for system tests and benchmarks (one fully connected layer per core)."""

from __future__ import annotations

import numpy as np

from flexspim.config import CoreConfig, FCLayout, LayerConfig, SystemConfig
from flexspim.golden.layers import FCLayer
from flexspim.golden.network import Network

__all__ = ["random_fc_layer", "random_fc_network"]


def random_fc_layer(rng: np.random.Generator, core: CoreConfig, n_in: int,
                    saturate: bool | None = None, name: str = "", max_bw: int = 8,
                    max_bv: int = 16, max_out: int | None = None) -> FCLayer:
    """A random FC layer with ``n_in`` inputs that fits one core.

    Resolutions bw 1..max_bw (1-bit weights, which are inhibitory only, rarely), bv
    2..max_bv; random leak, reset and threshold modes; two thirds of the weights
    excitatory and thresholds of a few weights, so that spikes reach deeper layers.
    Raises `ValueError` if nothing fits after many draws.
    """
    mc = core.macro
    for _ in range(1000):
        bv = int(rng.integers(2, min(max_bv, mc.max_bits) + 1))
        bw = 1 if rng.random() < 0.1 else int(rng.integers(min(2, bv), min(max_bw, bv) + 1))
        hi = (1 << (bv - 1)) - 1
        w_hi = (1 << (bw - 1)) - 1
        th_hi = min(hi, max(1, 3 * w_hi))
        mode = str(rng.choice(["none", "sub", "shift"]))
        leak = {"none": 0, "sub": int(rng.integers(0, max(1, hi // 8) + 1)),
                "shift": int(rng.integers(1, bv))}[mode]
        src = str(rng.choice(["register", "array"]))
        sat = bool(rng.integers(0, 2)) if saturate is None else saturate
        layer = LayerConfig(bw=bw, bv=bv, saturate=sat, leak_mode=mode, leak=leak,
                            threshold=int(rng.integers(1, th_hi + 1)), threshold_source=src,
                            reset=str(rng.choice(["hard", "soft"])))
        n_out = int(rng.integers(2, (max_out or 2 * mc.cols) + 1))
        try:
            FCLayout.packed(core, layer, n_in, n_out)
        except ValueError:
            continue
        w = np.where(rng.random((n_out, n_in)) < 2 / 3,
                     rng.integers(0, w_hi + 1, size=(n_out, n_in)),
                     rng.integers(-(1 << (bw - 1)), 1, size=(n_out, n_in)))
        th = rng.integers(1, th_hi + 1, size=n_out) if src == "array" else None
        return FCLayer(w, layer, th, name=name)
    raise ValueError(f"no layer with {n_in} inputs fits {core}")


def random_fc_network(rng: np.random.Generator, system: SystemConfig, n_layers: int,
                      max_bw: int = 8, max_bv: int = 16) -> Network:
    """A random chain of ``n_layers`` FC layers, each fitting one core of ``system``;
    layer 0 saturates and layer 1 wraps (others at random)."""
    layers: list[FCLayer] = []
    n_in = int(rng.integers(2, 24))
    for i in range(n_layers):
        layer = random_fc_layer(rng, system.core, n_in, {0: True, 1: False}.get(i),
                                f"fc{i}", max_bw, max_bv)
        layers.append(layer)
        n_in = layer.n_out
    return Network(layers)
