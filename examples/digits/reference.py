"""Add snnTorch's own spike counts to ``test.npz`` as reference outputs (issue 25).

Runs in the framework's environment (torch + snnTorch + nir; ``make test-frameworks`` builds
one in ``.venv-frameworks``)::

    .venv-frameworks/bin/python examples/digits/reference.py

It rebuilds the trained network of ``train.py`` in snnTorch from ``model.nir`` (the weights
and biases as exported; beta = 1 - dt / tau with snnTorch's dt = 1e-4; threshold 1;
``reset_mechanism="zero"``, as trained), runs it on the exact input spikes of ``test.npz``,
and writes into ``test.npz`` (samples and labels unchanged) ``reference``, the output
layer's spike counts ``(samples, 10)``, and ``reference_layer0``, the hidden layer's
``(samples, 48)`` (the format of ``flexspim.frontend.reference``). flexspim's ``run`` and
``import --events`` then report how closely they follow snnTorch, and warn when the import's
reading of the graph does not reproduce it.
"""

from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import torch

HERE = Path(__file__).resolve().parent
DT = 1e-4


def network(g):
    layers = []
    for lin, lif in (("fc1", "lif1"), ("fc2", "lif2")):
        a = g.nodes[lin]
        fc = torch.nn.Linear(a.weight.shape[1], a.weight.shape[0])
        with torch.no_grad():
            fc.weight.copy_(torch.tensor(np.asarray(a.weight, np.float32)))
            fc.bias.copy_(torch.tensor(np.asarray(a.bias, np.float32)))
        beta = float(1 - DT / np.asarray(g.nodes[lif].tau).ravel()[0])
        layers.append((fc, snn.Leaky(beta=beta, threshold=1.0, reset_mechanism="zero")))
    return layers


def main():
    g = nir.read(HERE / "model.nir")
    layers = network(g)
    with np.load(HERE / "test.npz") as f:
        data = {k: f[k] for k in f.files if not k.startswith("reference")}
    ev, off = data["events"].astype(np.int64), data["offsets"]
    counts = [[], []]
    with torch.no_grad():
        for a, b in zip(off[:-1], off[1:]):
            s = ev[a:b]
            ticks = np.flatnonzero(s == -1)
            starts = np.r_[0, ticks[:-1] + 1]
            mems = [lif.init_leaky() for _, lif in layers]
            c = [0, 0]
            for t0, t1 in zip(starts, ticks):
                x = torch.zeros(1, 64)
                x[0, s[t0:t1]] = 1.0
                for i, (fc, lif) in enumerate(layers):
                    x, mems[i] = lif(fc(x), mems[i])
                    c[i] = c[i] + x[0].numpy()
            counts[0].append(c[0])
            counts[1].append(c[1])
    data["reference"] = np.rint(np.array(counts[1])).astype(np.int64)
    data["reference_layer0"] = np.rint(np.array(counts[0])).astype(np.int64)
    np.savez_compressed(HERE / "test.npz", **data)
    pred = np.where(data["reference"].max(1) > 0, data["reference"].argmax(1), -1)
    print(f"snnTorch accuracy on {len(pred)} samples: {(pred == data['labels']).mean():.4f}")


if __name__ == "__main__":
    main()
