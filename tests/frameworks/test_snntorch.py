"""Optional tier (`make test-frameworks`): export from snnTorch itself, import, compare.

Skipped unless ``FLEXSPIM_FRAMEWORK_PYTHON`` names a Python with torch and snnTorch (the
make target builds one); the export runs there, flexspim here, so torch never enters
flexspim's environment."""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from flexspim.frontend.nir_import import float_run, import_nir  # noqa: E402

PY = os.environ.get("FLEXSPIM_FRAMEWORK_PYTHON")
pytestmark = pytest.mark.skipif(not PY, reason="set FLEXSPIM_FRAMEWORK_PYTHON "
                                                "(make test-frameworks)")
HERE = Path(__file__).resolve().parent


def export(tmp_path, reset):
    subprocess.run([PY, str(HERE / "snntorch_export.py"), str(tmp_path), reset], check=True,
                   capture_output=True)
    d = np.load(tmp_path / "data.npz")
    streams = []
    for sample in d["x"]:
        parts = []
        for step in sample:
            parts += np.flatnonzero(step).tolist() + [-1]
        streams.append(np.array(parts))
    return nir.read(tmp_path / "model.nir"), streams, d["s1"], d["s2"]


def spikes(stream, n, steps):
    m = np.zeros((steps, n), np.uint8)
    t = 0
    for e in stream:
        if e < 0:
            t += 1
        elif e < n:
            m[t, e] = 1
    return m


@pytest.mark.parametrize("reset, flag", [("zero", "hard"), ("subtract", None)])
def test_snntorch_export_import_run(tmp_path, reset, flag):
    g, streams, s1, s2 = export(tmp_path, reset)
    with pytest.raises(ValueError, match="clears the potential every step"):
        import_nir(g, dt=1e-3)                   # the silent 10% case of issue 12
    imp = import_nir(g, preset="snntorch", reset=flag, bw=8, bv=16)
    steps = s1.shape[1]
    f_same = g_same = total = 0
    for ev, a1, a2 in zip(streams, s1, s2):
        f = float_run(imp.float_layers, ev)
        f_same += (spikes(f[0][0], 10, steps) == a1).sum() + (spikes(f[1][0], 4, steps)
                                                             == a2).sum()
        run = imp.network.run(imp.hardware_events(ev), batch_max=8)
        g_same += (spikes(run.outputs[0], 10, steps) == a1).sum() + \
            (spikes(run.outputs[1], 4, steps) == a2).sum()
        total += a1.size + a2.size
    # the float reference is snnTorch's semantics (float64 against float32: a potential
    # within rounding of the threshold may tip); the integer network is close to it
    assert f_same / total >= 0.995, f_same / total
    assert g_same / total >= 0.95, g_same / total
