"""`flexspim run MODEL.nir ... -o DIR`: the imported ``network.toml`` (and its ``.npz``) is
staged with every other output, so it appears only with them and a failed run leaves DIR
as it was (it used to be written into DIR before any check of the input). `flexspim import
-o net.toml` stages its two files the same way."""

from pathlib import Path

import numpy as np
import pytest

from flexspim.cli import main
from flexspim.outputs import STAGE_PREFIX

pytest.importorskip("nir")

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"


def run(out, data, *extra):
    return main(["run", str(DIGITS / "model.nir"), str(data), "-o", str(out), *extra])


@pytest.fixture
def bad_dataset(tmp_path):
    path = tmp_path / "bad.npz"            # source 64 is outside the 64 inputs
    np.savez(path, events=np.array([3, 64, -1]), offsets=np.array([0, 3]))
    return path


def test_a_failed_run_writes_no_network(tmp_path, bad_dataset, capsys):
    out = tmp_path / "new"
    assert run(out, bad_dataset) == 2
    assert "source 64" in capsys.readouterr().err
    assert not out.exists()


def test_a_failed_run_keeps_the_previous_output(tmp_path, bad_dataset):
    out = tmp_path / "out"
    assert run(out, DIGITS / "test.npz", "--limit", "2") == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"network.toml", "network.npz", "summary.json", "output_events.npy"} <= set(before)
    assert 'arrays = "network.npz"' in before["network.toml"].decode()
    # a different import (other bits) that then fails must not replace network.toml
    assert run(out, bad_dataset, "--bw", "4") == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not list(out.glob(STAGE_PREFIX + "*"))


def test_the_kept_network_is_the_one_that_ran(tmp_path):
    out = tmp_path / "out"
    assert run(out, DIGITS / "test.npz", "--limit", "2", "--bw", "6") == 0
    from flexspim.frontend.netfile import import_settings, load_network

    net = load_network(out / "network.toml")
    assert all(layer.config.bw == 6 for layer in net.layers)
    assert import_settings(out / "network.toml")["source"] == "model.nir"
    # and it runs as a network file, giving the same outputs
    again = tmp_path / "again"
    assert main(["run", str(out / "network.toml"), str(DIGITS / "test.npz"), "-o", str(again),
                 "--limit", "2"]) == 0
    np.testing.assert_array_equal(np.load(out / "outputs.npz")["counts"],
                                  np.load(again / "outputs.npz")["counts"])


def test_import_writes_the_toml_and_npz_together(tmp_path, monkeypatch, capsys):
    out = tmp_path / "nets" / "net.toml"
    assert main(["import", str(DIGITS / "model.nir"), "-o", str(out)]) == 0
    assert "fits on 2 cores" in capsys.readouterr().out        # run's verdict, default macro
    before = {p.name: p.read_bytes() for p in out.parent.iterdir()}
    assert set(before) == {"net.toml", "net.npz"}
    # a full disk while the arrays are written: the previous pair stays, nothing half-new
    import errno

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    assert main(["import", str(DIGITS / "model.nir"), "-o", str(out), "--bw", "4"]) == 1
    assert "No space left" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.parent.iterdir()} == before


def test_import_checks_the_output_before_importing(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    assert main(["import", str(DIGITS / "model.nir"), "-o",
                 str(tmp_path / "afile" / "net.toml")]) == 2
    assert "afile is a file" in capsys.readouterr().err


def test_the_kept_network_has_the_shape_that_ran(tmp_path):
    """Issue 20: with --operand-cols the staged network.toml is the reshaped one, with the
    import table, and runs to the same outputs."""
    from flexspim.frontend.netfile import import_settings, load_network

    out = tmp_path / "out"
    assert run(out, DIGITS / "test.npz", "--limit", "2", "--max-operand-cols", "2",
               "--operand-cols", "2") == 0
    net = load_network(out / "network.toml")
    assert all(layer.config.operand_cols == 2 for layer in net.layers)
    assert import_settings(out / "network.toml")["source"] == "model.nir"
    again = tmp_path / "again"
    assert main(["run", str(out / "network.toml"), str(DIGITS / "test.npz"), "-o", str(again),
                 "--limit", "2", "--max-operand-cols", "2"]) == 0
    np.testing.assert_array_equal(np.load(out / "outputs.npz")["counts"],
                                  np.load(again / "outputs.npz")["counts"])
