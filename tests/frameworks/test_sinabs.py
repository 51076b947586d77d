"""Optional tier (`make test-frameworks`): export from Sinabs itself, import, compare.

Skipped unless ``FLEXSPIM_SINABS_PYTHON`` names a Python with torch and Sinabs. Sinabs 3.1.3
pins ``nir<=1.0.4`` and snnTorch 1.0.0 needs ``nir>=1.0.6``, so the make target gives Sinabs
a venv of its own; the graphs it writes read fine with flexspim's nir 1.0.8.

Sinabs' IAF adds its input (dt = 1, r = 1) and resets by subtracting the threshold
(MembraneSubtract), the ``sinabs`` preset. Its default ``MultiSpike`` emits several spikes
in one step where the potential holds several thresholds; the macro fires once, so that
case is close, not exact. Its LIF decays by ``exp(-1/tau)`` with normalized input
(``1 - exp(-1/tau)``), while the NIR graph it writes (``tau``, ``r = 1``) reads, with NIR's
Euler step, as ``1 - 1/tau``: the preset sets ``discretization = "exp"``."""

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

PY = os.environ.get("FLEXSPIM_SINABS_PYTHON")
pytestmark = pytest.mark.skipif(not PY, reason="set FLEXSPIM_SINABS_PYTHON "
                                                "(make test-frameworks)")

#: neuron -> (float reference, integer network) agreement floors, with the soft reset
FLOORS = {"iaf-single": (0.999, 0.97), "iaf-multi": (0.95, 0.94), "lif": (0.995, 0.97)}


@pytest.mark.parametrize("neuron", list(FLOORS))
def test_sinabs_export_import_run(tmp_path, neuron):
    g, evs, s1, s2 = export(PY, "sinabs_export.py", tmp_path, neuron)
    with pytest.raises(ValueError, match="`dt` is required"):
        import_nir(g)
    imp = import_nir(g, preset="sinabs", bw=8, bv=16)
    assert imp.settings["reset"] == "soft"
    f, q = agreement(imp, evs, s1, s2)
    lo_f, lo_q = FLOORS[neuron]
    assert f >= lo_f and q >= lo_q, (f, q)
    # the reset case: Sinabs subtracts; reading the graph as a hard reset runs differently
    hard = import_nir(g, preset="sinabs", reset="hard", bw=8, bv=16)
    fh, qh = agreement(hard, evs, s1, s2)
    assert fh < f and qh < q, (fh, f, qh, q)
    if neuron == "lif":             # and its LIF read with NIR's Euler step
        fe, qe = agreement(import_nir(g, preset="sinabs", discretization="euler", bw=8,
                                      bv=16), evs, s1, s2)
        assert fe < f and qe < q, (fe, f, qe, q)
    summary, counts = run_command(tmp_path, evs, s2, "--from", "sinabs")
    np.testing.assert_array_equal(counts, level1_counts(imp, evs, 4))
    assert summary["accuracy"] >= 0.8, summary["accuracy"]


def test_sinabs_reset_to_zero_warns_and_the_suggested_option_removes_it(tmp_path, capsys):
    # issue 25: NIR records no reset; the sinabs preset assumes a soft one. With the
    # framework's spike counts as reference outputs, run names the likely cause and the
    # option, found by trying the readings the graph leaves open; with it, no warning.
    g, evs, s1, s2 = export(PY, "sinabs_export.py", tmp_path, "iaf-zero")
    warns = self_check_warnings(tmp_path, capsys, evs, s1, s2, "--from", "sinabs")
    assert len(warns) == 1 and "try --reset hard" in warns[0], warns
    assert self_check_warnings(tmp_path, capsys, evs, s1, s2, "--from", "sinabs",
                               "--reset", "hard") == []
