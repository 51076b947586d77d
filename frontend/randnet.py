"""Random integer networks and event streams, for tests and benchmarks.

Every draw comes from the caller's `numpy.random.Generator`, so a seed reproduces it.
"""

from __future__ import annotations

import numpy as np

from flexspim.config import LayerConfig
from flexspim.golden.batching import TICK
from flexspim.golden.layers import ConvLayer, FCLayer, conv_output_hw
from flexspim.golden.network import Network

__all__ = ["random_config", "random_network", "random_events"]


def random_config(rng: np.random.Generator, max_bits: int = 12,
                  saturate: bool | None = None) -> LayerConfig:
    """A random `LayerConfig` with ``bv <= max_bits``; thresholds kept small and positive
    so layers spike now and then."""
    bv = int(rng.integers(2, max_bits + 1))
    bw = int(rng.integers(1, bv + 1))
    mode = str(rng.choice(["none", "sub", "shift"]))
    leak = {"none": 0, "sub": int(rng.integers(0, 1 << (bv - 2) if bv > 2 else 1)),
            "shift": int(rng.integers(0, bv))}[mode]
    hi = (1 << (bv - 1)) - 1
    return LayerConfig(bw=bw, bv=bv,
                       saturate=bool(rng.integers(0, 2)) if saturate is None else saturate,
                       leak_mode=mode, leak=leak, threshold=int(rng.integers(0, hi // 2 + 1)),
                       threshold_source=str(rng.choice(["register", "array"])),
                       reset=str(rng.choice(["hard", "soft"])))


def _thresholds(rng, cfg: LayerConfig, n: int):
    if cfg.threshold_source != "array":
        return None
    hi = cfg.v_range[1]
    return rng.integers(-1, hi // 2 + 1, size=n)


def _weights(rng, cfg: LayerConfig, shape) -> np.ndarray:
    lo, hi = cfg.w_range
    return rng.integers(lo, hi + 1, size=shape)


def random_network(rng: np.random.Generator, kinds: str = "fc", n_layers: int = 2,
                   max_width: int = 24, in_shape=None, max_bits: int = 12,
                   saturate: bool | None = None) -> Network:
    """A random chain of layers.

    Parameters:
        kinds: "fc" (fully connected only) or "conv" (conv layers then one fc layer).
        n_layers: number of layers (>= 1; with "conv" the last one is fc when >= 2).
        max_width: largest fc layer width / conv image side.
        in_shape: conv input ``(c, H, W)``; drawn when None.
        saturate: force the mode of every layer; mixed when None.

    Raises:
        ValueError: an unknown ``kinds`` or ``n_layers < 1``.
    """
    if kinds not in ("fc", "conv"):
        raise ValueError(f"`kinds` must be one of fc, conv; not {kinds!r}")
    if n_layers < 1:
        raise ValueError(f"`n_layers` must be >= 1, not {n_layers}")
    layers = []
    if kinds == "fc":
        n_in = int(rng.integers(1, max_width + 1))
        for i in range(n_layers):
            n_out = int(rng.integers(1, max_width + 1))
            cfg = random_config(rng, max_bits, saturate)
            layers.append(FCLayer(_weights(rng, cfg, (n_out, n_in)), cfg,
                                  _thresholds(rng, cfg, n_out), name=f"fc{i}"))
            n_in = n_out
        return Network(layers)
    shape = tuple(in_shape) if in_shape is not None else (
        int(rng.integers(1, 3)), int(rng.integers(4, max(5, max_width // 2))),
        int(rng.integers(4, max(5, max_width // 2))))
    n_conv = n_layers - 1 if n_layers >= 2 else 1
    for i in range(n_conv):
        cfg = random_config(rng, max_bits, saturate)
        k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        k = (min(k[0], shape[1]), min(k[1], shape[2]))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        padding = (int(rng.integers(0, k[0])), int(rng.integers(0, k[1])))
        c_out = int(rng.integers(1, 5))
        ho, wo = conv_output_hw(shape[1:], k, stride, padding, (1, 1))
        layer = ConvLayer(_weights(rng, cfg, (c_out, shape[0]) + k), shape, cfg, stride,
                          padding, thresholds=_thresholds(rng, cfg, c_out * ho * wo),
                          name=f"conv{i}")
        layers.append(layer)
        shape = layer.out_shape
    if n_layers >= 2:
        cfg = random_config(rng, max_bits, saturate)
        n_in, n_out = int(np.prod(shape)), int(rng.integers(1, max_width + 1))
        layers.append(FCLayer(_weights(rng, cfg, (n_out, n_in)), cfg,
                              _thresholds(rng, cfg, n_out), name="fc"))
    return Network(layers)


def random_events(rng: np.random.Generator, n_in: int, steps: int, rate: float,
                  repeat: float = 0.1) -> np.ndarray:
    """``steps`` time steps of Bernoulli(``rate``) input events in random order; a fraction
    ``repeat`` of each step's events is repeated (same source twice, which starts a new
    batch). Each step ends with a tick."""
    out = []
    for _ in range(steps):
        src = np.flatnonzero(rng.random(n_in) < rate)
        extra = src[rng.random(src.size) < repeat]
        step = rng.permutation(np.concatenate([src, extra]))
        out.append(step)
        out.append([TICK])
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)
