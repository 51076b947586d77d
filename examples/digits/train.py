"""Train a small SNN on scikit-learn's digits with snnTorch (CPU), export it to NIR.

Writes, beside this file:

* ``model.nir``: the trained 64 -> 48 -> 10 network (snnTorch ``export_to_nir``; the graph's
  metadata carries ``dt`` = 1e-4, snnTorch's export step, so ``flexspim run``/``import`` need
  no ``--dt``);
* ``test.npz``: the held-out test set as the exact input spikes the float accuracy was
  measured on (``events``/``offsets``/``labels``, see ``flexspim.frontend.dataset``);
* ``float.json``: the float (snnTorch) accuracy on that test set, and the settings.

Run it in a separate environment (torch stays out of flexspim's dependencies)::

    python3 -m venv .venv-train
    .venv-train/bin/pip install torch==2.13.0 snntorch scikit-learn nir
    .venv-train/bin/python examples/digits/train.py

Network: Linear (with bias) -> Leaky -> Linear (with bias) -> Leaky, beta = 0.875 (= 1 - 2**-3,
which the macro's shift leak represents exactly), threshold 1, reset to zero
(``reset_mechanism="zero"``, imported with the default hard reset). Input: each pixel
(0..16) spikes in each of ``STEPS`` time steps with probability ``pixel / 16``. Output: the
class with the most spikes. Loss: cross-entropy on the output spike counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import nir
import nirtorch
import numpy as np
import snntorch as snn
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from snntorch import surrogate
from snntorch.export_nir import _extract_snntorch_module

HERE = Path(__file__).resolve().parent
STEPS = 20
BETA = 0.875
HIDDEN = 48
SEED = 0
EPOCHS = 30
TEST_SIZE = 0.2


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        grad = surrogate.fast_sigmoid()
        self.fc1 = torch.nn.Linear(64, HIDDEN)
        self.lif1 = snn.Leaky(beta=BETA, spike_grad=grad, reset_mechanism="zero",
                              init_hidden=True)
        self.fc2 = torch.nn.Linear(HIDDEN, 10)
        self.lif2 = snn.Leaky(beta=BETA, spike_grad=grad, reset_mechanism="zero",
                              init_hidden=True, output=True)

    def forward(self, x):                       # x: (steps, batch, 64)
        self.lif1.reset_hidden()
        self.lif2.reset_hidden()
        counts = 0
        for t in range(x.shape[0]):
            s1 = self.lif1(self.fc1(x[t]))
            s2, _ = self.lif2(self.fc2(s1))
            counts = counts + s2
        return counts


def export(net: Net) -> nir.NIRGraph:
    """snnTorch's export, with two repairs: a scalar beta gives 0-d LIF parameters that
    nir 1.0.8's type inference rejects (so ``export_to_nir`` fails), broadcast here to the
    layer size; nodes get readable names. The graph's metadata records dt = 1e-4, the step
    snnTorch's exporter assumes (tau = dt / (1 - beta), r = tau / dt)."""
    seq = torch.nn.Sequential(net.fc1, net.lif1, net.fc2, net.lif2)
    g = nirtorch.extract_nir_graph(seq, _extract_snntorch_module, torch.zeros(1, 64),
                                   model_name="snntorch", ignore_dims=[0],
                                   ignore_submodules_of=[snn.RLeaky, snn.RSynaptic])
    names = {"input": "input", "0": "fc1", "1": "lif1", "2": "fc2", "3": "lif2",
             "output": "output"}
    nodes = {}
    for old, node in g.nodes.items():
        if isinstance(node, nir.LIF):
            n = {"1": HIDDEN, "3": 10}[old]
            full = lambda a: np.broadcast_to(np.asarray(a, np.float32).ravel(), (n,)).copy()  # noqa
            node = nir.LIF(tau=full(node.tau), r=full(node.r), v_leak=full(node.v_leak),
                           v_threshold=full(node.v_threshold), v_reset=full(node.v_reset))
        nodes[names[old]] = node
    edges = [(names[a], names[b]) for a, b in g.edges]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1e-4})
    graph.infer_types()
    return graph


def encode(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 64) pixels 0..16 -> (n, STEPS, 64) spikes, Bernoulli(pixel / 16) per step."""
    p = images / 16.0
    return (rng.random((len(images), STEPS, 64)) < p[:, None, :]).astype(np.uint8)


def main():
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    d = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(d.data, d.target, test_size=TEST_SIZE,
                                              random_state=SEED, stratify=d.target)
    s_te = encode(x_te, rng)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(EPOCHS):
        s_tr = torch.tensor(encode(x_tr, rng), dtype=torch.float32).transpose(0, 1)
        order = torch.randperm(len(y_tr))
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            counts = net(s_tr[:, idx])
            loss = loss_fn(counts, torch.tensor(y_tr[idx.numpy()]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % 10 == 9:
            print(f"epoch {epoch + 1}: loss {loss.item():.3f}")
    with torch.no_grad():
        counts = net(torch.tensor(s_te, dtype=torch.float32).transpose(0, 1)).numpy()
    has = counts.max(axis=1) > 0
    pred = np.where(has, counts.argmax(axis=1), -1)     # flexspim's rule
    acc = float((pred == y_te).mean())
    print(f"float accuracy on the {len(y_te)} test samples: {acc:.4f}")
    nir.write(HERE / "model.nir", export(net))
    # the test set as event streams: per step the spiking pixels in ascending index, a tick
    samples = []
    for sample in s_te:
        parts = []
        for step in sample:
            parts += np.flatnonzero(step).tolist() + [-1]
        samples.append(np.array(parts, np.int64))
    offsets = np.r_[0, np.cumsum([len(s) for s in samples])].astype(np.int64)
    np.savez_compressed(HERE / "test.npz", events=np.concatenate(samples).astype(np.int16),
                        offsets=offsets, labels=y_te.astype(np.int64))
    (HERE / "float.json").write_text(json.dumps({
        "float_accuracy": acc, "samples": int(len(y_te)), "steps": STEPS, "beta": BETA,
        "hidden": HIDDEN, "seed": SEED, "epochs": EPOCHS, "torch": torch.__version__,
        "snntorch": snn.__version__}, indent=1) + "\n")


if __name__ == "__main__":
    main()
