"""Regenerates the shipped example (``python examples/fc2/make_example.py``).

A two-layer fully connected SNN for a 3 x 3 two-polarity sensor (18 inputs -> 16 -> 4):
layer ``fc0`` saturates (bw=3, bv=8, shift leak), layer ``fc1`` wraps (bw=3, bv=8, soft reset,
per-neuron thresholds). ``events.npy`` holds tonic-format events (x, y, t, p) of a dot that
sweeps the sensor, plus background noise, 20 ms long: with ``--dt-us 1000``, 20 time steps.
"""

from pathlib import Path

import numpy as np

from flexspim.config import LayerConfig
from flexspim.frontend.dvs import make_events
from flexspim.frontend.netfile import save_network
from flexspim.golden.layers import FCLayer
from flexspim.golden.network import Network

HERE = Path(__file__).resolve().parent


def main() -> None:
    rng = np.random.default_rng(2024)
    l0 = LayerConfig(bw=3, bv=8, saturate=True, leak_mode="shift", leak=2, threshold=6)
    l1 = LayerConfig(bw=3, bv=8, saturate=False, threshold_source="array", reset="soft")
    w0 = np.where(rng.random((16, 18)) < 0.6, rng.integers(0, 4, (16, 18)),
                  rng.integers(-4, 1, (16, 18)))
    w1 = np.where(rng.random((4, 16)) < 0.7, rng.integers(0, 4, (4, 16)),
                  rng.integers(-4, 1, (4, 16)))
    net = Network([FCLayer(w0, l0, name="fc0"),
                   FCLayer(w1, l1, thresholds=rng.integers(3, 8, 4), name="fc1")])
    save_network(net, HERE / "net.toml", name="fc2 example")

    xs, ys, ts, ps = [], [], [], []
    for i in range(200):                       # a dot sweeping left to right, top to bottom
        t = int(i * 100)
        pos = (i // 22) % 9
        xs.append(pos % 3)
        ys.append(pos // 3)
        ts.append(t)
        ps.append(bool(i % 3))
    for _ in range(60):                        # background noise
        xs.append(int(rng.integers(0, 3)))
        ys.append(int(rng.integers(0, 3)))
        ts.append(int(rng.integers(0, 20_000)))
        ps.append(bool(rng.integers(0, 2)))
    order = np.argsort(ts, kind="stable")
    ev = make_events(np.array(xs)[order], np.array(ys)[order], np.array(ps)[order],
                     np.array(ts)[order])
    np.save(HERE / "events.npy", ev)


if __name__ == "__main__":
    main()
