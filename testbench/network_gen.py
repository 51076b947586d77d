"""Random networks for system tests and benchmarks (one fully connected layer per core)."""

from __future__ import annotations

import numpy as np

from flexspim.config import FCLayout, LayerConfig, SystemConfig
from flexspim.golden.network import FCLayer, Network

__all__ = ["random_fc_network"]


def random_fc_network(rng: np.random.Generator, system: SystemConfig, n_layers: int,
                      max_bw: int = 8, max_bv: int = 16) -> Network:
    """A random chain of ``n_layers`` FC layers, each fitting one core of ``system``.

    Resolutions are mixed per layer (bw 1..max_bw, bv 2..max_bv); layer 0 saturates and
    layer 1 wraps (others at random); leak, reset and threshold modes are random.
    """
    core = system.core
    mc = core.macro
    layers: list[FCLayer] = []
    n_in = int(rng.integers(2, 24))
    for i in range(n_layers):
        for _ in range(1000):
            bv = int(rng.integers(2, min(max_bv, mc.max_bits) + 1))
            # 1-bit weights are -1 or 0 (inhibitory only): draw them rarely
            bw = 1 if rng.random() < 0.1 else int(rng.integers(min(2, bv), min(max_bw, bv) + 1))
            hi = (1 << (bv - 1)) - 1
            w_hi = (1 << (bw - 1)) - 1
            th_hi = min(hi, max(1, 3 * w_hi))      # a few excitatory events make a spike
            mode = str(rng.choice(["none", "sub", "shift"]))
            leak = {"none": 0, "sub": int(rng.integers(0, max(1, hi // 8) + 1)),
                    "shift": int(rng.integers(1, bv)) if bv > 1 else 0}[mode]
            src = str(rng.choice(["register", "array"]))
            saturate = {0: True, 1: False}.get(i, bool(rng.integers(0, 2)))
            layer = LayerConfig(bw=bw, bv=bv, saturate=saturate, leak_mode=mode, leak=leak,
                                threshold=int(rng.integers(1, th_hi + 1)) if hi else 0,
                                threshold_source=src, reset=str(rng.choice(["hard", "soft"])))
            n_out = int(rng.integers(2, 2 * mc.cols + 1))
            try:
                FCLayout.packed(core, layer, n_in, n_out)
            except ValueError:
                continue
            # two thirds excitatory, so spikes reach the deeper layers
            w = np.where(rng.random((n_out, n_in)) < 2 / 3,
                         rng.integers(0, w_hi + 1, size=(n_out, n_in)),
                         rng.integers(-(1 << (bw - 1)), 1, size=(n_out, n_in)))
            th = (rng.integers(1, th_hi + 1, size=n_out) if src == "array" else None)
            layers.append(FCLayer(w, layer, th, name=f"fc{i}"))
            n_in = n_out
            break
        else:
            raise ValueError(f"no layer {i} with {n_in} inputs fits {core}")
    return Network(layers)
