"""Run in the framework's environment (torch, snnTorch, neurobench): NeuroBench's metrics of
the float model of ``examples/digits`` (rebuilt from ``model.nir`` as ``reference.py`` does),
and the float model's spikes, for `test_neurobench.py` to compare with flexspim's.

    python neurobench_digits.py OUT.json OUT.npz [PRUNE]

``PRUNE`` (default 0): the fraction of each layer's smallest-magnitude weights set to 0
first, so that connection sparsity and effective ACs are not trivially those of a dense
float model (whose weights are never exactly 0).
"""

import json
import sys
from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import torch
from neurobench.benchmarks import Benchmark
from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount
from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
from neurobench.models import SNNTorchModel

DIGITS = Path(__file__).resolve().parents[2] / "examples" / "digits"
DT = 1e-4          # snnTorch's export step (examples/digits/README.md)


def main(out_json, out_npz, prune="0"):
    g = nir.read(DIGITS / "model.nir")
    mods = []
    for lin, lif, last in (("fc1", "lif1", False), ("fc2", "lif2", True)):
        a = g.nodes[lin]
        fc = torch.nn.Linear(a.weight.shape[1], a.weight.shape[0])
        with torch.no_grad():
            fc.weight.copy_(torch.tensor(np.asarray(a.weight, np.float32)))
            fc.bias.copy_(torch.tensor(np.asarray(a.bias, np.float32)))
            if float(prune) > 0:
                cut = torch.quantile(fc.weight.abs().flatten(), float(prune))
                fc.weight[fc.weight.abs() <= cut] = 0.0
        beta = float(1 - DT / np.asarray(g.nodes[lif].tau).ravel()[0])
        mods += [fc, snn.Leaky(beta=beta, threshold=1.0, reset_mechanism="zero",
                               init_hidden=True, output=last)]
    net = torch.nn.Sequential(*mods)
    with np.load(DIGITS / "test.npz") as f:
        ev, off, labels = f["events"].astype(np.int64), f["offsets"], f["labels"]
    samples = [ev[a:b] for a, b in zip(off[:-1], off[1:])]
    steps = int((samples[0] == -1).sum())
    x = torch.zeros(len(samples), steps, 64)
    for k, s in enumerate(samples):
        ticks = np.flatnonzero(s == -1)
        for t, (t0, t1) in enumerate(zip(np.r_[0, ticks[:-1] + 1], ticks)):
            x[k, t, s[t0:t1]] = 1.0
    spikes = {}

    def keep(name):
        def hook(_m, _i, out):
            spikes.setdefault(name, []).append((out[0] if isinstance(out, tuple) else out)
                                                .detach().numpy().copy())
        return hook

    net[1].register_forward_hook(keep("hidden"))
    net[3].register_forward_hook(keep("output"))
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, torch.tensor(labels)), batch_size=len(samples))
    bench = Benchmark(SNNTorchModel(net), loader, [], [],
                      [[Footprint, ConnectionSparsity, ParameterCount],
                       [ActivationSparsity, SynapticOperations]])
    with torch.no_grad():
        res = bench.run(quiet=True)
    Path(out_json).write_text(json.dumps({k: v for k, v in res.items()}, default=float))
    np.savez(out_npz, inputs=x.numpy(), hidden=np.stack(spikes["hidden"], axis=1),
             output=np.stack(spikes["output"], axis=1),
             w1=net[0].weight.detach().numpy(), b1=net[0].bias.detach().numpy(),
             w2=net[2].weight.detach().numpy(), b2=net[2].bias.detach().numpy())


if __name__ == "__main__":
    main(*sys.argv[1:4])
