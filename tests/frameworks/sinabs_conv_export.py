"""Run by the Sinabs tier's Python: issue 25's refused conv network, exported by Sinabs.
``Conv2d(1 -> 8, 3 x 3, padding 1) -> IAF -> SumPool2d(2) -> Flatten -> Linear(128 -> 10) ->
IAF`` on 1 x 8 x 8 input, random weights (only the shapes matter: the fit). Writes
OUT/model.nir.

    python sinabs_conv_export.py OUT

Sinabs 3.1.3's ``to_nir`` leaves the conv input shape, the pooling and Flatten types empty
and keeps torch tensors, which ``nir.write`` cannot store ("One of data, shape or dtype must
be specified"); the script rebuilds those nodes with the shapes filled in, as a user would.
"""

import sys
from pathlib import Path

import nir
import numpy as np
import sinabs
import sinabs.activation as sa
import sinabs.layers as sl
import torch

out = Path(sys.argv[1])
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1, bias=False),
                            sl.IAFSqueeze(batch_size=1, spike_fn=sa.SingleSpike),
                            sl.SumPool2d(2), torch.nn.Flatten(),
                            torch.nn.Linear(128, 10, bias=False),
                            sl.IAFSqueeze(batch_size=1, spike_fn=sa.SingleSpike))
g = sinabs.to_nir(model, torch.zeros(1, 1, 8, 8))


def arr(v):
    return v.detach().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)


nodes = {}
for k, v in g.nodes.items():
    if isinstance(v, nir.Conv2d):
        v = nir.Conv2d(input_shape=(8, 8), weight=arr(v.weight), stride=v.stride,
                       padding=v.padding, dilation=v.dilation, groups=v.groups,
                       bias=arr(v.bias))
    elif isinstance(v, nir.SumPool2d):
        v = nir.SumPool2d(kernel_size=np.array(v.kernel_size), stride=np.array(v.stride),
                          padding=np.array(v.padding))
    elif isinstance(v, nir.Flatten):
        v = nir.Flatten(input_type={"input": np.array([8, 4, 4])}, start_dim=0)
    elif isinstance(v, nir.Affine):
        v = nir.Affine(weight=arr(v.weight), bias=arr(v.bias))
    elif isinstance(v, nir.IF):
        v = nir.IF(r=arr(v.r), v_threshold=arr(v.v_threshold))
    nodes[k] = v
g = nir.NIRGraph(nodes=nodes, edges=g.edges)
nir.write(out / "model.nir", g)
