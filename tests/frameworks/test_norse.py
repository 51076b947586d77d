"""Optional tier (`make test-frameworks`): export from Norse itself, import, compare.

Skipped unless ``FLEXSPIM_FRAMEWORK_PYTHON`` names a Python with torch and Norse (the make
target builds one, shared with snnTorch: both work with nir 1.0.8); the export runs there,
flexspim here. Norse's exporter writes no dt: a LIFBox is ``tau = dt / tau_mem_inv`` at
Norse's dt = 1e-3, so NIR's Euler step needs dt = 1e-6 (the ``norse`` preset), and an IAF
``r = 1`` at dt = 1."""

import os

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from fw_agree import (  # noqa: E402
    agreement,
    export,
    level1_counts,
    run_command,
    self_check_warnings,
)

from flexspim.frontend.nir_import import import_nir  # noqa: E402

PY = os.environ.get("FLEXSPIM_FRAMEWORK_PYTHON")
pytestmark = pytest.mark.skipif(not PY, reason="set FLEXSPIM_FRAMEWORK_PYTHON "
                                                "(make test-frameworks)")


@pytest.mark.parametrize("neuron", ["lifbox", "iaf"])
def test_norse_export_import_run(tmp_path, neuron):
    g, evs, s1, s2 = export(PY, "norse_export.py", tmp_path, neuron)
    # the dt cases: the graph carries none, and a guessed 1e-3 is refused, not run
    with pytest.raises(ValueError, match="`dt` is required"):
        import_nir(g)
    if neuron == "lifbox":
        with pytest.raises(ValueError, match="clears the potential every step"):
            import_nir(g, dt=1e-3)
    imp = import_nir(g, preset="norse", bw=8, bv=16)
    assert imp.settings["reset"] == "hard"            # Norse resets to v_reset = 0
    f, q = agreement(imp, evs, s1, s2)
    # the float reference is Norse's arithmetic (float64 against float32); the decay
    # 1 - 1/8 and the IAF are exact on the macro, so only weight rounding remains
    assert f >= 0.995, f
    assert q >= 0.97, q
    summary, counts = run_command(tmp_path, evs, s2, "--from", "norse")
    np.testing.assert_array_equal(counts, level1_counts(imp, evs, 4))
    assert summary["accuracy"] >= 0.85, summary["accuracy"]


def test_norse_synaptic_current_is_refused_in_one_line(tmp_path):
    # LIFCell keeps a synaptic current: CubaLIF with tau_syn = dt / tau_syn_inv != dt, which
    # the macro cannot hold
    g, *_ = export(PY, "norse_export.py", tmp_path, "lif")
    with pytest.raises(ValueError, match=r"\(CubaLIF\): tau_syn=.* must equal dt=1e-06") as e:
        import_nir(g, preset="norse")
    assert "\n" not in str(e.value)


def test_norse_resets_to_zero_and_a_soft_reading_warns(tmp_path, capsys):
    # issue 25: Norse resets to zero, which its preset assumes, so the default import does
    # not warn; read as a soft reset, run names --reset hard (found by trying the readings)
    g, evs, s1, s2 = export(PY, "norse_export.py", tmp_path, "iaf")
    assert self_check_warnings(tmp_path, capsys, evs, s1, s2, "--from", "norse") == []
    warns = self_check_warnings(tmp_path, capsys, evs, s1, s2, "--from", "norse",
                                "--reset", "soft")
    assert len(warns) == 1 and "try --reset hard" in warns[0], warns
