"""A conv SNN on scikit-learn's digits with snnTorch (CPU), exported to NIR.

Conv2d(1 -> 3, 3 x 3, padding 1, bias) -> Leaky -> AvgPool2d(2) -> Flatten -> Linear(48 -> 10,
no bias) -> Leaky, beta = 0.875, threshold 1, reset to zero; input and test set as in
``../digits/train.py`` (same encoding, split and seed). The import folds the average pool
into the Linear layer (``W @ P / 4``, exact) and, since the conv layer has a bias, runs the
conv layer as its dense FC layer with an always-active input source. Writes ``model.nir``,
``test.npz`` and ``float.json`` beside this file. Run as ``../digits/train.py`` says.
"""

from __future__ import annotations

import importlib.util
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
_spec = importlib.util.spec_from_file_location("digits_train", HERE.parent / "digits" / "train.py")
_digits = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_digits)
BETA, SEED, STEPS, TEST_SIZE, encode = (_digits.BETA, _digits.SEED, _digits.STEPS,
                                        _digits.TEST_SIZE, _digits.encode)

EPOCHS = 20
CH = 3


def build():
    grad = surrogate.fast_sigmoid()
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, CH, 3, padding=1),
        snn.Leaky(beta=BETA, spike_grad=grad, reset_mechanism="zero", init_hidden=True),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(CH * 16, 10, bias=False),
        snn.Leaky(beta=BETA, spike_grad=grad, reset_mechanism="zero", init_hidden=True,
                  output=True))


def forward(net, x):                    # x: (steps, batch, 1, 8, 8)
    for m in net:
        if isinstance(m, snn.Leaky):
            m.reset_hidden()
    counts = 0
    for t in range(x.shape[0]):
        h = x[t]
        for m in net:
            h = m(h)
            if isinstance(h, tuple):
                h = h[0]
        counts = counts + h
    return counts


def export(net) -> nir.NIRGraph:
    """snnTorch's export with the repairs of ``../digits/train.py`` (0-d LIF parameters
    broadcast to the layer shape), plus the conv node's input shape."""
    g = nirtorch.extract_nir_graph(net, _extract_snntorch_module, torch.zeros(1, 1, 8, 8),
                                   model_name="snntorch", ignore_dims=[0])
    shapes = {"1": (CH, 8, 8), "5": (10,)}
    names = {"input": "input", "0": "conv1", "1": "lif1", "2": "pool", "3": "flatten",
             "4": "fc2", "5": "lif2", "output": "output"}
    nodes = {}
    for name, node in g.nodes.items():
        if isinstance(node, nir.LIF):
            shp = shapes[name]
            full = lambda a: np.broadcast_to(np.asarray(a, np.float32).ravel()[0], shp).copy()  # noqa
            node = nir.LIF(tau=full(node.tau), r=full(node.r), v_leak=full(node.v_leak),
                           v_threshold=full(node.v_threshold), v_reset=full(node.v_reset))
        elif isinstance(node, nir.Conv2d):
            node = nir.Conv2d(input_shape=(8, 8), weight=np.asarray(node.weight),
                              stride=node.stride, padding=node.padding,
                              dilation=node.dilation, groups=node.groups,
                              bias=np.asarray(node.bias))
        elif isinstance(node, nir.AvgPool2d):
            node = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                 padding=np.array([0, 0]))
            node.input_type = {"input": np.array([CH, 8, 8])}
            node.output_type = {"output": np.array([CH, 4, 4])}
        elif isinstance(node, nir.Flatten):
            node = nir.Flatten(input_type={"input": np.array([CH, 4, 4])}, start_dim=0)
        elif isinstance(node, nir.Linear):
            node = nir.Linear(weight=np.asarray(node.weight))
        nodes[names[name]] = node
    edges = [(names[a], names[b]) for a, b in g.edges]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 1e-4}, type_check=False)
    return graph


def main():
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    d = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(d.data, d.target, test_size=TEST_SIZE,
                                              random_state=SEED, stratify=d.target)
    s_te = encode(x_te, rng)
    net = build()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    shape = lambda s: torch.tensor(s, dtype=torch.float32).transpose(0, 1).reshape(  # noqa
        s.shape[1], len(s), 1, 8, 8)
    for epoch in range(EPOCHS):
        s_tr = shape(encode(x_tr, rng))
        order = torch.randperm(len(y_tr))
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            loss = loss_fn(forward(net, s_tr[:, idx]), torch.tensor(y_tr[idx.numpy()]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}", flush=True)
    with torch.no_grad():
        counts = forward(net, shape(s_te)).numpy()
    pred = np.where(counts.max(axis=1) > 0, counts.argmax(axis=1), -1)
    acc = float((pred == y_te).mean())
    print(f"float accuracy on the {len(y_te)} test samples: {acc:.4f}")
    nir.write(HERE / "model.nir", export(net))
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
        "channels": CH, "seed": SEED, "epochs": EPOCHS, "torch": torch.__version__,
        "snntorch": snn.__version__}, indent=1) + "\n")


if __name__ == "__main__":
    main()
