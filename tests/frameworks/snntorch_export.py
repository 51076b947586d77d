"""Run by the framework tier's Python (torch + snnTorch installed), not by flexspim's:
build a random 12 -> 10 -> 4 snnTorch network (Linear with bias, Leaky), run it on random
input spikes, export it to NIR. Writes OUT/model.nir and OUT/data.npz (input spikes
``(n, steps, 12)`` and snnTorch's output spikes of both layers).

    python snntorch_export.py OUT RESET   # RESET: zero | subtract
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
torch.manual_seed(0)
rng = np.random.default_rng(0)
sizes, beta, steps, n = (12, 10, 4), 0.875, 15, 20
fc1, fc2 = torch.nn.Linear(12, 10), torch.nn.Linear(10, 4)
with torch.no_grad():
    fc1.weight.mul_(3.0)
    fc2.weight.mul_(3.0)
lif1 = snn.Leaky(beta=beta, reset_mechanism=reset, init_hidden=True)
lif2 = snn.Leaky(beta=beta, reset_mechanism=reset, init_hidden=True)
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
    if isinstance(node, nir.LIF):     # scalar beta -> 0-d parameters: broadcast (train.py)
        k = {"1": 10, "3": 4}[name]
        full = lambda a: np.broadcast_to(np.asarray(a, np.float32).ravel(), (k,)).copy()  # noqa
        node = nir.LIF(tau=full(node.tau), r=full(node.r), v_leak=full(node.v_leak),
                       v_threshold=full(node.v_threshold), v_reset=full(node.v_reset))
    nodes[name] = node
graph = nir.NIRGraph(nodes=nodes, edges=g.edges)
graph.infer_types()
nir.write(out / "model.nir", graph)
np.savez(out / "data.npz", x=x.astype(np.uint8), s1=np.array(s1_all, np.uint8),
         s2=np.array(s2_all, np.uint8))
