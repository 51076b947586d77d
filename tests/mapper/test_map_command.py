"""``flexspim map``: table, JSON contract, one-line errors."""

import json

import numpy as np
import pytest

from flexspim.cli import main
from flexspim.frontend.netfile import save_network
from flexspim.frontend.randnet import random_network


@pytest.fixture(scope="module")
def example_json():
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        assert main(["map", "--example", "dvs-gesture", "--json"]) == 0
    return json.loads(buf.getvalue())


def test_json_contract(example_json):
    assert list(example_json) == ["layers", "total_energy_pj"]
    assert [list(layer) for layer in example_json["layers"]] == \
        [["name", "dataflow", "tiles", "energy_pj"]] * 5
    assert [layer["name"] for layer in example_json["layers"]] == \
        ["conv1", "conv2", "conv3", "conv4", "fc"]
    assert [layer["tiles"] for layer in example_json["layers"]] == [1024, 256, 64, 16, 1]
    t = example_json["total_energy_pj"]
    assert list(t) == ["hybrid", "ws", "os"]
    assert t["hybrid"] <= min(t["ws"], t["os"])
    assert sum(layer["energy_pj"] for layer in example_json["layers"]) == \
        pytest.approx(t["hybrid"])


def test_table_for_a_network_file(tmp_path, rng, capsys):
    net = random_network(rng, "conv", n_layers=2)
    save_network(net, tmp_path / "n.toml")
    assert main(["map", str(tmp_path / "n.toml"), "--rows", "256", "--cols", "8",
                 "--steps", "3", "--rate", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "conv0" in out and "fc" in out and "uniform WS" in out


def test_events_file(tmp_path, rng, capsys):
    net = random_network(rng, "fc", n_layers=1, max_width=10)
    save_network(net, tmp_path / "n.toml")
    np.save(tmp_path / "e.npy", np.array([0, -1, 0, -1]))
    assert main(["map", str(tmp_path / "n.toml"), "--events", str(tmp_path / "e.npy"),
                 "--json"]) == 0
    assert "total_energy_pj" in capsys.readouterr().out


@pytest.mark.parametrize("argv, match", [
    (["map"], "give either NETWORK.toml or --example"),
    (["map", "nope.toml"], "cannot read network file"),
    (["map", "--example", "dvs-gesture", "--rows", "0"],
     r"`rows` must be an integer in \[1, 4096\], not 0"),
    (["map", "--example", "dvs-gesture", "--cores", "2"], "no feasible hybrid mapping"),
    (["map", "--example", "dvs-gesture", "--dataflow", "zz"], "`dataflow` must be one of"),
])
def test_errors_are_one_line(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ")
    import re
    assert re.search(match, err), err
