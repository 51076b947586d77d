"""NeuroBench's static and workload metrics, computed in NumPy on a flexspim network run.

Definitions are NeuroBench's (package ``neurobench`` 2.3.0, read from its source:
``neurobench/metrics/static/connection_sparsity.py``, ``static/parameter_count.py``,
``workload/activation_sparsity.py``, ``workload/synaptic_operations.py`` and
``utils/layers/macs.py``; J. Yik et al., "NeuroBench: A Framework for Benchmarking
Neuromorphic Computing Algorithms and Systems", Nature Communications 16, 1545, 2025):

* **connection sparsity**: zero weights / all weights of the Linear and Conv layers (their
  ``weight`` tensors: a conv layer's kernel, not its unrolled matrix; biases are not
  weights). NeuroBench rounds it to 4 decimals; we do not.
* **parameter count**: weights + biases (``ParameterCount``: ``numel`` of every parameter).
* **footprint** (``static/footprint.py``, ``Footprint.__call__``): bytes, ``numel x
  element_size`` of every parameter plus every buffer of the torch model. Applied to the
  float model of the network as the framework test builds it (``torch.nn.Linear`` /
  ``Conv2d`` in float32, one snnTorch 1.0.0 ``Leaky`` per layer): 4 bytes per parameter, and
  per layer the Leaky's buffers: ``threshold`` (float32; one per neuron when the layer's
  real neurons have different thresholds, else a scalar: the bias unit's own threshold
  does not count), ``beta`` and ``graded_spikes_factor`` (float32
  scalars), ``reset_mechanism_val`` (an int64 scalar, 8 bytes) and ``mem`` (empty before a
  run): 20 bytes per layer with a scalar threshold. It is not flexspim's stored size
  (``summary.json["footprint"]``, bits at bw/bv).
* **activation sparsity**: zero activations / all activations of the spiking layers, over
  all layers, time steps and samples: ``1 - spikes / (neurons x steps)``.
* **synaptic operations**, per sample: *effective ACs* = for every time step and layer,
  ``sum_j sum_i [w_ji != 0] [x_i != 0]`` (the binarized layer applied to the binarized
  input, bias suppressed), i.e. per input spike its non-zero weights; *dense* = the same with
  every weight and every input set to 1: per step, every structural connection of the layer
  (``n_in x n_out`` for FC; the kernel taps that fall inside the input for a conv, padding
  not counted), whether the input spiked or not.

flexspim's networks carry an import's biases as an always-active source (the last input of
layer 0, ``input_bias``) and an always-firing unit (the last neuron of a layer, ``units``)
whose outgoing weights are the next layer's bias (`frontend.nir_import`). They are biases,
not synapses or neurons: their column is left out of the weights and synaptic operations
(counted as biases), their neuron out of the activations.
"""

from __future__ import annotations

import numpy as np

__all__ = ["layer_weights", "neurobench_metrics", "footprint_bytes"]

#: float32, NeuroBench's ``element_size`` of a float model's parameters and float buffers.
FLOAT_BYTES = 4
#: snnTorch 1.0.0 ``Leaky`` buffers besides ``threshold``: ``beta``, ``graded_spikes_factor``
#: (float32 scalars), ``reset_mechanism_val`` (int64 scalar), ``mem`` (empty before a run).
LEAKY_OTHER_BUFFER_BYTES = 4 + 4 + 8 + 0


def footprint_bytes(net, parameters: int, neurons: list[int]) -> dict:
    """NeuroBench's footprint (module docstring) of ``net`` as a float32 model with one
    snnTorch ``Leaky`` per layer: ``parameters`` x 4 bytes + per layer the Leaky's buffers
    (``neurons[i]`` real neurons of layer ``i``, for a per-neuron threshold)."""
    buffers = 0
    for layer, n in zip(net.layers, neurons):
        cfg = getattr(layer, "config", None)
        t = getattr(layer, "thresholds", None)
        # one threshold tensor per neuron only if the real neurons' thresholds differ: an
        # import's bias unit (threshold 0) makes the array hold them, a float model does not
        per_neuron = (getattr(cfg, "threshold_source", "register") == "array"
                      and t is not None and len(np.unique(np.asarray(t)[:n])) > 1)
        buffers += FLOAT_BYTES * (n if per_neuron else 1) + LEAKY_OTHER_BUFFER_BYTES
    return {"bytes": FLOAT_BYTES * parameters + buffers,
            "parameter_bytes": FLOAT_BYTES * parameters, "buffer_bytes": buffers}


def _bias_in(i: int, units, input_bias: bool) -> bool:
    """Whether layer ``i``'s last input is a bias source."""
    return input_bias if i == 0 else bool(units[i - 1])


def layer_weights(layer, bias_in: bool, unit: bool):
    """``(weights, biases, dense, structure)`` of one layer without its bias source and bias
    unit: the weight tensor NeuroBench sees (a conv's kernel), the bias values, the dense
    ``(n_out, n_in)`` matrix and its structural connections (1 where a weight exists)."""
    if layer.weights.ndim == 2:
        w = layer.weights
        dense, struct = w, np.ones_like(w)
    else:
        dense = layer.dense_weights()
        struct = (layer.dense_weights(np.ones_like(layer.weights)) != 0).astype(np.int64)
        w = layer.weights
    rows = slice(0, dense.shape[0] - int(unit))
    cols = slice(0, dense.shape[1] - int(bias_in))
    bias = dense[rows, dense.shape[1] - 1] if bias_in else np.zeros(0, dtype=np.int64)
    if layer.weights.ndim == 2:
        w = w[rows, cols]
    return w, bias, dense[rows, cols], struct[rows, cols]


def neurobench_metrics(net, samples: list, layers: list, units, input_bias: bool) -> dict:
    """NeuroBench's metrics (module docstring) of ``net`` run on ``samples`` (event streams,
    -1 = tick), ``layers[k][i]`` being layer ``i``'s output stream on sample ``k``."""
    per = [layer_weights(layer, _bias_in(i, units, input_bias), bool(units[i]))
           for i, layer in enumerate(net.layers)]
    zeros = sum(int((w == 0).sum()) for w, _, _, _ in per)
    n_w = sum(int(w.size) for w, _, _, _ in per)
    n_b = sum(int(b.size) for _, b, _, _ in per)
    nnz = [(d != 0).sum(axis=0) for _, _, d, _ in per]          # per real source
    struct = sum(int(s.sum()) for _, _, _, s in per)
    real_in = [d.shape[1] for _, _, d, _ in per]
    real_out = [d.shape[0] for _, _, d, _ in per]
    eff = spikes = 0
    steps = 0
    for smp, ls in zip(samples, layers):
        steps += int((np.asarray(smp) == -1).sum())
        for i, ev in enumerate([smp] + list(ls[:-1])):
            src = ev[(ev >= 0) & (ev < real_in[i])]
            eff += int(nnz[i][src].sum())
        for i, ev in enumerate(ls):
            spikes += int(((ev >= 0) & (ev < real_out[i])).sum())
    k = max(len(samples), 1)
    activations = sum(real_out) * steps
    fp = footprint_bytes(net, n_w + n_b, real_out)
    return {
        "connection_sparsity": zeros / n_w if n_w else None,
        "parameter_count": n_w + n_b,
        "footprint_bytes": fp["bytes"],
        "footprint": {**fp, "definition": "NeuroBench Footprint: numel x element_size of "
                      "the parameters and buffers of the float32 model (snnTorch Leaky per "
                      "layer: threshold, beta, graded_spikes_factor float32, "
                      "reset_mechanism_val int64, mem empty); flexspim's stored bits are "
                      "summary.json['footprint']"},
        "activation_sparsity": 1 - spikes / activations if activations else None,
        "effective_acs_per_sample": eff / k,
        "dense_ops_per_sample": struct * (steps / k),
        "totals": {"samples": len(samples), "steps": steps, "weights": n_w,
                   "zero_weights": zeros, "biases": n_b, "spikes": spikes,
                   "activations": activations, "effective_acs": eff,
                   "dense_ops": struct * steps},
        "definitions": "NeuroBench 2.3.0 (see flexspim.frontend.neurobench): connection "
                       "sparsity = zero weights / weights (conv kernels, no biases); "
                       "activation sparsity = 1 - spikes / (neurons x steps); effective "
                       "ACs = per input spike its non-zero weights; dense = every "
                       "structural connection every step; biases are not synapses",
    }
