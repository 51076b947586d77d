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
from pathlib import Path

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


def test_sinabs_refused_conv_lists_configurations_run_accepts(tmp_path, capsys):
    # issue 25: conv -> IAF -> SumPool -> Linear(128 -> 10) reads 512 conv neurons after the
    # fold: 512 x 8 + 16 = 4112 rows > 2048 (and > 4096 = MAX_ROWS); the refusal is followed
    # by what would fit, and run accepts each
    import subprocess

    from flexspim.cli import main
    from flexspim.frontend.dataset import save_dataset

    r = subprocess.run([PY, str(Path(__file__).parent / "sinabs_conv_export.py"),
                        str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    save_dataset(tmp_path / "d.npz", [np.array([0, 5, 9, -1, 3, -1])], [1])
    args = ["run", str(tmp_path / "model.nir"), str(tmp_path / "d.npz"), "--from", "sinabs"]
    capsys.readouterr()
    assert main([*args, "-o", str(tmp_path / "no")]) == 2
    err = capsys.readouterr().err.splitlines()
    at = next(i for i, e in enumerate(err) if e.startswith("error: "))
    assert "one neuron slot needs 4112 rows" in err[at], err
    flags = [e.split("...")[1].split("(")[0].split() for e in err[at + 1:]]
    assert flags == [["--bw", "8,3"], ["--rows", "4096", "--bw", "8,7"]], err
    for k, f in enumerate(flags):
        assert main([*args, "-o", str(tmp_path / f"ok{k}"), *f]) == 0
