"""Run by the Sinabs tier's Python (torch + Sinabs, whose nir pin differs from snnTorch's),
not by flexspim's: build a random 12 -> 10 -> 4 Sinabs network (Linear with bias, then a
neuron), run it on random input spikes, export it with ``sinabs.to_nir``. Writes
OUT/model.nir and OUT/data.npz (input spikes ``(n, steps, 12)`` and Sinabs' output spikes
of both layers; with MultiSpike a neuron can emit several spikes in one step).

    python sinabs_export.py OUT NEURON   # NEURON: iaf-single | iaf-multi | lif | iaf-zero

``iaf-*``: ``IAF`` (exported as IF, r = 1) with ``SingleSpike`` or Sinabs' default
``MultiSpike``; both reset by ``MembraneSubtract`` (Sinabs' default); ``lif``: ``LIF``
(``SingleSpike``) with ``tau_mem = 8`` (exported as LIF, tau = 8: Sinabs decays by
exp(-1/8) with normalized input, NIR's Euler step by 1 - 1/8); ``iaf-zero``: ``IAF``
(``SingleSpike``) with ``MembraneReset`` (reset to zero, which NIR does not record).
"""

import sys
from pathlib import Path

import nir
import numpy as np
import sinabs
import sinabs.activation as sa
import sinabs.layers as sl
import torch

out, neuron = Path(sys.argv[1]), sys.argv[2]
torch.manual_seed(0)
rng = np.random.default_rng(0)
steps, n = 15, 20
fc1, fc2 = torch.nn.Linear(12, 10), torch.nn.Linear(10, 4)


def cell():
    if neuron == "iaf-single":
        return sl.IAF(spike_fn=sa.SingleSpike)
    if neuron == "iaf-multi":
        return sl.IAF()
    if neuron == "lif":
        return sl.LIF(tau_mem=8.0, spike_fn=sa.SingleSpike)
    if neuron == "iaf-zero":
        return sl.IAF(spike_fn=sa.SingleSpike, reset_fn=sa.MembraneReset())
    raise SystemExit(f"unknown neuron {neuron!r}")


scale = {"iaf-single": 2.5, "iaf-multi": 2.5, "lif": 24.0, "iaf-zero": 2.5}[neuron]
with torch.no_grad():
    fc1.weight.mul_(scale)
    fc2.weight.mul_(scale)
    fc1.bias.mul_(scale / 3)
    fc2.bias.mul_(scale / 3)
model = torch.nn.Sequential(fc1, cell(), fc2, cell())
x = (rng.random((n, steps, 12)) < 0.4).astype(np.float32)
s1_all, s2_all = [], []
with torch.no_grad():
    for sample in x:
        sinabs.reset_states(model)
        s1 = model[1](fc1(torch.tensor(sample)[None]))        # (1, steps, 10)
        s2 = model[3](fc2(s1))
        s1_all.append(s1[0].numpy())
        s2_all.append(s2[0].numpy())
graph = sinabs.to_nir(model, torch.zeros(1, 1, 12))    # (batch, time, features)
nodes = {}
for name, node in graph.nodes.items():
    if isinstance(node, nir.Input):
        node = nir.Input(input_type={"input": np.array([12])})
    elif isinstance(node, nir.Output):
        node = nir.Output(output_type={"output": np.array([4])})
    elif isinstance(node, (nir.LIF, nir.IF)):     # per-neuron parameter arrays
        k = {"1": 10, "3": 4}[name]
        fields = {f: np.broadcast_to(np.asarray(v, np.float32).ravel(), (k,)).copy()
                  for f, v in vars(node).items() if isinstance(v, (np.ndarray, torch.Tensor))}
        node = type(node)(**fields)
    nodes[name] = node
graph = nir.NIRGraph(nodes=nodes, edges=graph.edges)
nir.write(out / "model.nir", graph)
np.savez(out / "data.npz", x=x.astype(np.uint8), s1=np.array(s1_all).astype(np.uint8),
         s2=np.array(s2_all).astype(np.uint8))
