"""Run by the framework tier's Python (torch + snnTorch installed), not by flexspim's:
build a random 12 -> 10 -> 4 snnTorch network (Linear with bias, Leaky), run it on random
input spikes, export it to NIR. Writes OUT/model.nir and OUT/data.npz (input spikes
``(n, steps, 12)`` and snnTorch's output spikes of both layers).

    python snntorch_export.py OUT RESET [NEURON]   # RESET: zero | subtract

NEURON: ``leaky`` (default: ``Leaky(beta=0.875)``), ``beta1`` (``Leaky(beta=1)``: exported
as tau = r = inf, no leak), ``synaptic`` (``Synaptic(alpha=0, beta=0.875)``: a CubaLIF whose
float32 tau_syn equals dt = 1e-4 only within float32 rounding).
"""

import sys
from pathlib import Path

import nir
import nirtorch
import numpy as np
import snntorch as snn
import torch
from snntorch.export_nir import _extract_snntorch_module

out, reset = Path(sys.argv[1]), sys.argv[2]
neuron = sys.argv[3] if len(sys.argv) > 3 else "leaky"
torch.manual_seed(0)
rng = np.random.default_rng(0)
sizes, beta, steps, n = (12, 10, 4), 0.875, 15, 20
fc1, fc2 = torch.nn.Linear(12, 10), torch.nn.Linear(10, 4)
with torch.no_grad():
    fc1.weight.mul_(3.0)
    fc2.weight.mul_(3.0)


def cell():
    if neuron == "leaky":
        return snn.Leaky(beta=beta, reset_mechanism=reset, init_hidden=True)
    if neuron == "beta1":
        return snn.Leaky(beta=1.0, reset_mechanism=reset, init_hidden=True)
    if neuron == "synaptic":
        return snn.Synaptic(alpha=0.0, beta=beta, reset_mechanism=reset, init_hidden=True)
    raise SystemExit(f"unknown neuron {neuron!r}")


lif1, lif2 = cell(), cell()
x = (rng.random((n, steps, 12)) < 0.4).astype(np.float32)
s1_all, s2_all = [], []
with torch.no_grad():
    for sample in x:
        lif1.reset_hidden()
        lif2.reset_hidden()
        s1s, s2s = [], []
        for t in range(steps):
            s1 = lif1(fc1(torch.tensor(sample[t])[None]))
            s2 = lif2(fc2(s1))
            s1s.append(s1[0].numpy())
            s2s.append(s2[0].numpy())
        s1_all.append(s1s)
        s2_all.append(s2s)
seq = torch.nn.Sequential(fc1, lif1, fc2, lif2)
g = nirtorch.extract_nir_graph(seq, _extract_snntorch_module, torch.zeros(1, 12),
                               model_name="snntorch", ignore_dims=[0])
nodes = {}
for name, node in g.nodes.items():
    if isinstance(node, (nir.LIF, nir.CubaLIF)):   # scalar parameters: broadcast (train.py)
        k = {"1": 10, "3": 4}[name]
        node = type(node)(**{f: np.broadcast_to(np.asarray(v, np.float32).ravel(), (k,)).copy()
                             for f, v in vars(node).items()
                             if isinstance(v, (np.ndarray, np.generic, torch.Tensor, float))})
    nodes[name] = node
graph = nir.NIRGraph(nodes=nodes, edges=g.edges)
graph.infer_types()
nir.write(out / "model.nir", graph)
np.savez(out / "data.npz", x=x.astype(np.uint8), s1=np.array(s1_all, np.uint8),
         s2=np.array(s2_all, np.uint8))
