"""Optional tier (`make test-frameworks`): NeuroBench's metrics from the ``neurobench``
package on the float model of ``examples/digits`` equal flexspim's (`frontend.neurobench`)
computed on the same model and the same spikes: integer counts exactly, ratios to 1e-6.

Skipped unless ``FLEXSPIM_NEUROBENCH_PYTHON`` names a Python with torch, snnTorch and
neurobench 2.3.0 (the make target installs neurobench into the framework venv); the
package runs there (`neurobench_digits.py`), flexspim here, so torch never enters flexspim's
environment."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from flexspim.frontend.neurobench import neurobench_metrics

PY = os.environ.get("FLEXSPIM_NEUROBENCH_PYTHON")
pytestmark = pytest.mark.skipif(not PY, reason="set FLEXSPIM_NEUROBENCH_PYTHON "
                                                "(make test-frameworks)")
HERE = Path(__file__).resolve().parent


class _Layer:
    """A float FC layer in the shape flexspim's import gives it: weights with the bias as
    the last column (fed by an always-active source)."""

    def __init__(self, w):
        self.weights = w


def _stream(spikes) -> np.ndarray:
    """``(steps, n)`` spikes as one event stream (-1 ends a step)."""
    out = []
    for step in spikes:
        out += np.flatnonzero(step).tolist() + [-1]
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("prune", ["0", "0.3"])
def test_flexspim_metrics_equal_neurobench_on_the_digits_float_model(tmp_path, prune):
    # prune 0: the model as shipped (no weight is exactly 0); 0.3: its 30% smallest
    # weights per layer set to 0, so connection sparsity and effective ACs are not trivial
    r = subprocess.run([PY, str(HERE / "neurobench_digits.py"), str(tmp_path / "nb.json"),
                        str(tmp_path / "nb.npz"), prune], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    nb = json.loads((tmp_path / "nb.json").read_text())
    d = np.load(tmp_path / "nb.npz")
    # the import's layout: layer 0 = [w1 | b1] from the inputs and the bias source, plus
    # the always-firing bias unit (a zero row) whose spikes feed layer 1's bias column
    w1 = np.c_[d["w1"], d["b1"]]
    w1 = np.r_[w1, np.zeros((1, w1.shape[1]), w1.dtype)]
    net = type("Net", (), {"layers": [_Layer(w1), _Layer(np.c_[d["w2"], d["b2"]])]})()
    n_in, n_hid = d["w1"].shape[1], d["w1"].shape[0]
    samples, layers = [], []
    for x, h, o in zip(d["inputs"], d["hidden"], d["output"]):
        bias = np.ones((x.shape[0], 1))
        samples.append(_stream(np.c_[x, bias]))             # with the bias source
        layers.append([_stream(np.c_[h, bias]), _stream(o)])  # with the bias unit
    m = neurobench_metrics(net, samples, layers, [True, False], True)
    assert m["parameter_count"] == nb["ParameterCount"]
    # NeuroBench rounds connection sparsity to 4 decimals
    assert round(m["connection_sparsity"], 4) == nb["ConnectionSparsity"]
    assert (nb["ConnectionSparsity"] > 0.29) == (prune == "0.3")
    assert m["activation_sparsity"] == pytest.approx(nb["ActivationSparsity"], abs=1e-6)
    ops = nb["SynapticOperations"]
    n = len(samples)
    # counts: per-sample means of integers, so compare the integer totals exactly
    assert m["totals"]["effective_acs"] == round(ops["Effective_ACs"] * n)
    assert m["effective_acs_per_sample"] == pytest.approx(ops["Effective_ACs"], rel=1e-12)
    assert m["totals"]["dense_ops"] == round(ops["Dense"] * n)
    assert ops["Effective_MACs"] == 0                          # binary inputs: all ACs
    # footprint: NeuroBench's bytes of the float32 parameters and snnTorch's buffers, as
    # frontend.neurobench models them, equal to the package's
    assert m["footprint_bytes"] == nb["Footprint"]
    assert m["footprint"]["parameter_bytes"] == 4 * nb["ParameterCount"]
    assert n_in == 64 and n_hid == 48
