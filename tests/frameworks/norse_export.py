"""Run by the framework tier's Python (torch + Norse installed), not by flexspim's: build a
random 12 -> 10 -> 4 Norse network (Linear with bias, then a neuron), run it on random input
spikes, export it with ``norse.torch.to_nir``. Writes OUT/model.nir and OUT/data.npz (input
spikes ``(n, steps, 12)`` and Norse's output spikes of both layers).

    python norse_export.py OUT NEURON   # NEURON: lifbox | iaf | lif

``lifbox``: ``LIFBoxCell`` (no synaptic current; exported as LIF with tau = dt /
tau_mem_inv at Norse's dt = 1e-3); ``iaf``: ``IAFCell`` (exported as IF, r = 1); ``lif``:
``LIFCell`` (a synaptic current: CubaLIF with tau_syn != dt, which flexspim refuses).
"""

import sys
from pathlib import Path

import nir
import norse.torch as snn
import numpy as np
import torch

out, neuron = Path(sys.argv[1]), sys.argv[2]
torch.manual_seed(0)
rng = np.random.default_rng(0)
steps, n = 15, 20
fc1, fc2 = torch.nn.Linear(12, 10), torch.nn.Linear(10, 4)


def cell():
    if neuron == "lifbox":       # dt * tau_mem_inv = 1/8: decay 0.875, exact as a shift by 3
        return snn.LIFBoxCell(snn.LIFBoxParameters(tau_mem_inv=torch.tensor(125.0)))
    if neuron == "iaf":
        return snn.IAFCell()
    if neuron == "lif":
        return snn.LIFCell()
    raise SystemExit(f"unknown neuron {neuron!r}")


scale = {"lifbox": 24.0, "iaf": 2.5, "lif": 12.0}[neuron]
with torch.no_grad():
    fc1.weight.mul_(scale)
    fc2.weight.mul_(scale)
    fc1.bias.mul_(scale / 3)
    fc2.bias.mul_(scale / 3)
model = snn.SequentialState(fc1, cell(), fc2, cell())
x = (rng.random((n, steps, 12)) < 0.4).astype(np.float32)
s1_all, s2_all = [], []
with torch.no_grad():
    for sample in x:
        st1 = st2 = None
        s1s, s2s = [], []
        for t in range(steps):
            z1, st1 = model[1](fc1(torch.tensor(sample[t])[None]), st1)
            z2, st2 = model[3](fc2(z1), st2)
            s1s.append(z1[0].numpy())
            s2s.append(z2[0].numpy())
        s1_all.append(s1s)
        s2_all.append(s2s)
graph = snn.to_nir(model, torch.zeros(1, 12))
# Norse writes 0-d torch tensors as neuron parameters, which nir.write cannot store (h5py:
# "Scalar datasets don't support chunk/filter options"): make them per-neuron arrays
sizes = {"1": 10, "3": 4}
nodes = {}
for name, node in graph.nodes.items():
    if isinstance(node, (nir.LIF, nir.IF, nir.CubaLIF)):
        fields = {k: np.broadcast_to(np.asarray(v, np.float32).ravel(), (sizes[name],)).copy()
                  for k, v in vars(node).items()
                  if isinstance(v, (torch.Tensor, np.ndarray, float, int))}
        node = type(node)(**fields)
    elif isinstance(node, nir.Input):        # to_nir keeps the sample's batch dimension
        node = nir.Input(input_type={"input": np.array([12])})
    elif isinstance(node, nir.Output):
        node = nir.Output(output_type={"output": np.array([4])})
    elif isinstance(node, (nir.Affine, nir.Linear)):
        node = type(node)(**{k: np.asarray(v, np.float32) for k, v in vars(node).items()
                             if k in ("weight", "bias")})
    nodes[name] = node
graph = nir.NIRGraph(nodes=nodes, edges=graph.edges)
graph.infer_types()
nir.write(out / "model.nir", graph)
np.savez(out / "data.npz", x=x.astype(np.uint8), s1=np.array(s1_all, np.uint8),
         s2=np.array(s2_all, np.uint8))
