"""Reference outputs: the framework's own spike counts, stored beside the samples of a dataset.

A dataset (`flexspim.frontend.dataset`) may hold, besides its samples and labels,

* ``reference``: ``(samples, n_out)`` non-negative integers, the spike count of every
  output neuron per sample, as the framework (snnTorch, Norse, Sinabs, ...) computed it on
  the same input spikes;
* ``reference_layer<i>`` (optional, ``i`` = 0, 1, ...: the layer index of the imported
  network, bias units left out): the same for a hidden layer.

``flexspim run`` and ``flexspim import --events`` then measure how closely flexspim follows
the framework (`flexspim.frontend.agreement`). The counts are per sample over all its time
steps; the input spikes must be exactly those of the dataset's samples.

Producing them (in the framework's environment, where torch is; flexspim needs none of it).
``x`` is the input ``(samples, steps, inputs)`` 0/1 array the dataset was made from
(`flexspim.frontend.dataset.spikes_to_streams` or ``save_dataset``), ``out`` the output
spikes the framework computed, ``(samples, steps, n_out)``:

snnTorch (an ``nn.Sequential`` of layers and ``snn.Leaky(..., init_hidden=True)``, the
last with ``output=True``)::

    snntorch.utils.reset(net)
    rec = []
    for t in range(steps):
        spk, _ = net(x_t[t])            # x_t: (steps, samples, inputs) float tensor
        rec.append(spk)
    out = torch.stack(rec, 1)           # (samples, steps, n_out)

Norse (a ``SequentialState`` of layers and ``*Cell`` neurons, which take one step)::

    state, rec = None, []
    for t in range(steps):
        o, state = net(x_t[t], state)
        rec.append(o)
    out = torch.stack(rec, 1)

Sinabs (an ``nn.Sequential`` of layers and ``sinabs.layers.IAF``/``LIF``, which take
``(samples, steps, ...)``)::

    sinabs.reset_states(net)
    out = net(torch.tensor(x, dtype=torch.float32))   # (samples, steps, n_out)

(each run in the framework tier's environments, torch 2.13.0 CPU, snnTorch 1.0.0, Norse
1.1.0, Sinabs 3.1.3, for the shapes shown), then, in any Python with numpy::

    from flexspim.frontend.reference import add_reference
    add_reference("test.npz", out.detach().numpy().sum(axis=1))   # or counts_of(out)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Reference", "reference_from", "counts_of", "add_reference", "layer_key"]


@dataclass
class Reference:
    """The framework's spike counts: ``output`` ``(samples, n_out)``; ``layers`` maps a
    layer index to ``(samples, neurons)`` for the hidden layers given."""

    output: np.ndarray
    layers: dict = field(default_factory=dict)

    def head(self, k: int) -> "Reference":
        return Reference(self.output[:k], {i: a[:k] for i, a in self.layers.items()})


def layer_key(i: int) -> str:
    return f"reference_layer{i}"


def counts_of(spikes) -> np.ndarray:
    """``(samples, steps, neurons)`` spikes -> ``(samples, neurons)`` int64 counts."""
    s = np.asarray(spikes)
    if s.ndim != 3:
        raise ValueError(f"spikes must be (samples, steps, neurons), not shape {s.shape}")
    return np.rint(s.sum(axis=1)).astype(np.int64)


def _check(a: np.ndarray, path, key: str, n: int) -> np.ndarray:
    if a.ndim != 2 or a.shape[0] != n or not (np.issubdtype(a.dtype, np.integer)
                                               or a.dtype == bool) or (a.size and a.min() < 0):
        raise ValueError(f"dataset {path}: `{key}` must be non-negative integer spike counts "
                         f"of shape ({n}, neurons), one row per sample, not {a.dtype} "
                         f"{a.shape}")
    return a.astype(np.int64)


def reference_from(data: dict, path, n_samples: int) -> Reference | None:
    """The reference arrays of a loaded ``.npz`` (module docstring), checked; None when it
    has none."""
    layers = {}
    for k in data:
        if k.startswith("reference_layer"):
            idx = k[len("reference_layer"):]
            if not idx.isdigit():
                raise ValueError(f"dataset {path}: `{k}` is not `reference_layer<i>` with a "
                                 f"layer index i")
            layers[int(idx)] = _check(data[k], path, k, n_samples)
    if "reference" not in data:
        if layers:
            raise ValueError(f"dataset {path}: `reference_layer...` given without `reference` "
                             f"(the output layer's counts)")
        return None
    return Reference(_check(data["reference"], path, "reference", n_samples), layers)


def add_reference(path, output_counts, layer_counts: dict | None = None) -> None:
    """Add (or replace) the reference counts in the dataset ``path`` (rewritten in place;
    the samples and labels are kept as they are)."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files if not k.startswith("reference")}
    data["reference"] = np.asarray(output_counts, np.int64)
    for i, c in (layer_counts or {}).items():
        data[layer_key(int(i))] = np.asarray(c, np.int64)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **data)
    tmp.replace(path)
