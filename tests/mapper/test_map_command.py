"""``flexspim map``: table, JSON contract, one-line errors."""

import json
import re

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
    assert list(example_json) == ["layers", "total_energy_pj", "run", "energy"]
    assert list(example_json["energy"]) == ["preset", "costs_pj", "sops", "cycles",
                                            "cycles_clamp_free", "pj_per_sop", "pj_per_1b_sop"]
    # what `flexspim run` would say (mapper.fit): conv1's dense FC layer (8192 inputs) does
    # not fit a 2048-row array; the mapper shares its 2 x 3 x 3 kernel tables instead
    assert example_json["run"]["fits"] is False and example_json["run"]["resource"] == "rows"
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
    (["map", "--example", "dvs-gesture", "--dataflow", "zz"],
     r"`--dataflow` must be one of hybrid, ws, os, or one of ws/os/auto per layer"),
])
def test_errors_are_one_line(argv, match, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ")
    assert re.search(match, err), err


# -- malformed input: one line `error: ...`, exit 2, naming the key, option or file --------

def one_line_error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


NET_HEAD = 'format = "flexspim-network"\nversion = 1\n'
CONV = '[[layers]]\nname = "c"\ntype = "conv"\nbw = 2\nbv = 6\n'


@pytest.mark.parametrize("body, match", [
    (NET_HEAD + CONV + "in_shape = 5\n", r"layer 'c': `in_shape` must be a list of 3 "
                                         r"integers, not 5"),
    (NET_HEAD + CONV + 'in_shape = [1, "4", 4]\n', r"`in_shape` must be a list of 3 integers"),
    (NET_HEAD + CONV + "in_shape = [1, 4, 4]\nstride = 1.5\n",
     r"layer 'c': `stride` must be an integer or a list \[y, x\] of integers, not 1.5"),
    (NET_HEAD + CONV + "in_shape = [1, 4, 4]\npadding = [1, 1, 1]\n",
     r"`padding` of layer 'c' must be an integer >= 0 or a pair"),
    (NET_HEAD + "arrays = 5\n" + CONV, r"n.toml: `arrays` must be a string, not 5"),
    (NET_HEAD + "name = []\n" + CONV, r"`name` must be a string"),
    (NET_HEAD + "layers = 5\n", r"n.toml must have at least one \[\[layers\]\] table"),
    (NET_HEAD + "layers = [1, 2]\n", r"`layers` must be an array of tables"),
    (NET_HEAD + "colour = 1\n" + CONV, r"unknown top-level key\(s\) colour"),
    (NET_HEAD + '[[layers]]\nname = 3\ntype = "fc"\n',
     r"layer 0: `name` must be a non-empty string"),
    (NET_HEAD + '[[layers]]\nname = "f"\ntype = "fc"\nbw = "2"\nbv = 6\n',
     r"`bw` must be an integer in \[1, 32\], not '2'"),
    (NET_HEAD + '[[layers]]\nname = "f"\ntype = "fc"\nbw = 2\nbv = 6\nsaturate = 1\n',
     r"`saturate` must be a bool"),
])
def test_malformed_network_files(tmp_path, capsys, body, match):
    np.savez(tmp_path / "n.npz", **{"c.weights": np.ones((1, 1, 1, 1), int),
                                    "f.weights": np.ones((1, 2), int)})
    (tmp_path / "n.toml").write_text(body)
    err = one_line_error(["map", str(tmp_path / "n.toml")], capsys)
    assert re.search(match, err), err


@pytest.mark.parametrize("content, match", [
    (None, r"the arrays .*n.npz are not a valid .npz file"),                   # truncated
    (b"hello, not a zip", r"the arrays .*n.npz are not a valid .npz file"),    # pickle path
    ("npy", r"the arrays .*n.npz are not an .npz archive"),
])
def test_malformed_npz(tmp_path, rng, capsys, content, match):
    save_network(random_network(rng, "fc", n_layers=1), tmp_path / "n.toml")
    npz = tmp_path / "n.npz"
    if content is None:
        npz.write_bytes(npz.read_bytes()[:60])
    elif content == "npy":
        with open(npz, "wb") as f:
            np.save(f, np.zeros(3))
    else:
        npz.write_bytes(content)
    err = one_line_error(["map", str(tmp_path / "n.toml")], capsys)
    assert re.search(match, err), err


@pytest.fixture
def fc_file(tmp_path, rng):
    save_network(random_network(rng, "fc", n_layers=2, max_width=8), tmp_path / "n.toml")
    return str(tmp_path / "n.toml")


@pytest.mark.parametrize("extra, files, match", [
    (["--config", "{d}/c.toml"], {"c.toml": "macro = 5\n"},
     r"`--config` .*c.toml: `macro` must be a table \(\[macro\]\), not 5"),
    (["--config", "{d}/c.toml"], {"c.toml": "[macro]\nrows = 1.5\n"},
     r"`rows` in \[macro\] must be an integer, not 1.5"),
    (["--energy", "{d}/missing.toml"], {}, r"cannot read `--energy` .*missing.toml"),
    (["--energy", "{d}/e.toml"], {"e.toml": "energy = 3\n"},
     r"`energy` must be a table \(\[energy\]\), not 3"),
    (["--energy", "{d}/e.toml"], {"e.toml": "[energy]\ndram_bit = 'x'\n"},
     r"`dram_bit` must be an energy in pJ"),
    (["--energy", "{d}/e.toml"], {"e.toml": "[energy\n"}, r"`--energy` .*e.toml is not valid "
                                                         r"TOML"),
    (["--events", "{d}/e.npy"], {"e.npy": b"\x93NUMPY garbage"},
     r"`--events` .*e.npy is not a valid .npy array"),
    (["--events", "{d}/e.npz"], {"e.npz": "npz"}, r"`--events` .*e.npz must be one .npy array"),
    (["--dataflow", "ws,zz"], {}, r"`--dataflow` must be one of hybrid, ws, os, or one of "
                                  r"ws/os/auto per layer, comma-separated \(2 layers: "),
    (["--dataflow", "ws,os,ws"], {}, r"`--dataflow` must be .*not 'ws,os,ws'"),
    (["--steps", "0"], {}, r"`--steps` must be an integer in \[1, "),
    (["--rate", "2"], {}, r"`--rate` must be a probability in \[0, 1\], not 2.0"),
    (["--seed", "-1"], {}, r"`--seed` must be an integer in \[0, "),
    (["--bw", "4"], {}, r"`--bw` does not apply here: only a .nir NETWORK is quantized"),
    (["--dt", "1"], {}, r"`--dt` does not apply here"),
    (["--dt-us", "100"], {}, r"`--dt-us` does not apply here"),
    (["--downsample", "2"], {}, r"`--downsample` does not apply here"),
    (["--events", "{d}/s.npy", "--steps", "3"], {"s.npy": np.array([0, -1])},
     r"`--steps` does not apply here: --events fixes the time steps"),
    (["--events", "{d}/s.npy", "--dt-us", "3"], {"s.npy": np.array([0, -1])},
     r"`--dt-us` does not apply here: `--events` .*s.npy is an integer stream"),
])
def test_malformed_options(tmp_path, fc_file, capsys, extra, files, match):
    for name, content in files.items():
        if isinstance(content, np.ndarray):
            np.save(tmp_path / name, content)
        elif content == "npz":
            np.savez(tmp_path / name, a=np.zeros(2))
        elif isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        else:
            (tmp_path / name).write_text(content)
    argv = ["map", fc_file] + [a.format(d=tmp_path) for a in extra]
    err = one_line_error(argv, capsys)
    assert re.search(match, err), err


@pytest.mark.parametrize("extra, match", [
    (["--steps", "0"], r"`--steps` must be an integer in \[1, "),
    (["--rate", "2"], r"`--rate` must be a probability in \[0, 1\], not 2.0"),
    (["--dt-us", "-5"], r"`--dt-us` must be an integer in \[1, "),
    (["--rate", "0.1"], r"`--rate` does not apply here: only random input"),
    (["--bv", "8"], r"`--bv` does not apply here"),
])
def test_example_options_are_validated(capsys, extra, match):
    err = one_line_error(["map", "--example", "dvs-gesture"] + extra, capsys)
    assert re.search(match, err), err


# -- the user's per-layer choice beside the true hybrid -------------------------------------

def test_per_layer_choice_is_reported_apart_from_the_hybrid(tmp_path, capsys):
    # conv: 64 tiles of 2 columns, an 18-row table and 6-row slots on 300-row macros (47
    # slots beside the table); OS keeps every potential resident (cheapest), WS swaps them:
    # forcing WS on the conv costs more. The fc table (128 x 2 rows) fits either way.
    from flexspim.config import LayerConfig
    from flexspim.golden.layers import ConvLayer, FCLayer
    from flexspim.golden.network import Network
    cfg = LayerConfig(bw=2, bv=6, threshold=2)
    net = Network([ConvLayer(np.ones((2, 1, 3, 3), int), (1, 8, 8), cfg, padding=1, name="c"),
                   FCLayer(np.zeros((3, 128), int), cfg, name="f")])
    save_network(net, tmp_path / "n.toml")
    np.save(tmp_path / "e.npy", np.array([0, 9, 18, -1, 27, 36, -1]))
    base = ["map", str(tmp_path / "n.toml"), "--rows", "300", "--cols", "4", "--batch", "4",
            "--events", str(tmp_path / "e.npy"), "--json"]
    assert main(base + ["--dataflow", "ws,auto"]) == 0
    out = json.loads(capsys.readouterr().out)
    t = out["total_energy_pj"]
    assert list(t) == ["hybrid", "ws", "os", "selected"]
    assert t["hybrid"] <= min(t["ws"], t["os"])
    assert t["selected"] > t["hybrid"]                       # WS forced on the conv costs
    assert [layer["dataflow"] for layer in out["layers"]][0] == "ws"
    assert sum(layer["energy_pj"] for layer in out["layers"]) == pytest.approx(t["selected"])
    assert main(base) == 0                                   # default: the shape
    out = json.loads(capsys.readouterr().out)
    assert list(out["total_energy_pj"]) == ["hybrid", "ws", "os"]
    assert out["total_energy_pj"]["hybrid"] == pytest.approx(t["hybrid"])
    assert out["layers"][0]["dataflow"] == "os"
    assert main(base[:-1] + ["--dataflow", "ws,auto"]) == 0  # the table says which is which
    text = capsys.readouterr().out
    assert "dataflow: selected per layer: ws,auto" in text
    assert "total (selected)" in text and "hybrid" in text


# -- the example network is fixed; --seed only changes the generated input ----------------

def captured_plan(monkeypatch, argv):
    import flexspim.mapper.plan as plan_mod
    seen = {}

    def fake(network, hw, events, *a, **k):
        seen["network"], seen["events"] = network, np.asarray(events)
        raise ValueError("stop")

    monkeypatch.setattr(plan_mod, "plan_network", fake)
    assert main(argv) == 2
    return seen


def test_seed_changes_the_input_not_the_example_network(monkeypatch, capsys):
    a = captured_plan(monkeypatch, ["map", "--example", "dvs-gesture"])
    b = captured_plan(monkeypatch, ["map", "--example", "dvs-gesture", "--seed", "3",
                                    "--steps", "12", "--dt-us", "4000"])
    for x, y in zip(a["network"].layers, b["network"].layers):
        assert np.array_equal(x.weights, y.weights)
    assert (a["events"] == -1).sum() == 40 and (b["events"] == -1).sum() == 12
    c = captured_plan(monkeypatch, ["map", "--example", "dvs-gesture", "--seed", "3"])
    assert c["events"].tolist() != a["events"].tolist()


# -- real-sensor (tonic) events on a smaller network input: --downsample --------------------

def test_downsample_tonic_events(tmp_path, monkeypatch, capsys):
    from flexspim.config import LayerConfig
    from flexspim.frontend.dvs import events_to_stream, make_events
    from flexspim.golden.layers import ConvLayer
    from flexspim.golden.network import Network
    net = Network([ConvLayer(np.ones((2, 2, 3, 3), int), (2, 8, 8), LayerConfig(bw=2, bv=6),
                             padding=1, name="c")])
    save_network(net, tmp_path / "n.toml")
    ev = make_events(x=[0, 15, 7, 9], y=[0, 15, 3, 12], p=[True, False, True, True],
                     t=[0, 100, 2500, 6000])                   # a 16 x 16 sensor
    np.save(tmp_path / "ev.npy", ev)
    argv = ["map", str(tmp_path / "n.toml"), "--events", str(tmp_path / "ev.npy"),
            "--dt-us", "5000"]
    err = one_line_error(argv, capsys)
    assert "reach x=15, y=15, outside the network input 8 x 8 with `--downsample` 1; pass " \
           "--downsample 2" in err
    seen = captured_plan(monkeypatch, argv + ["--downsample", "2"])
    # by hand: pixel (x, y, p) -> p*64 + (y//2)*8 + x//2; bins of 5 ms from t = 0
    assert seen["events"].tolist() == [64 + 0, 0 + 7 * 8 + 7, 64 + 1 * 8 + 3, -1,
                                       64 + 6 * 8 + 4, -1]
    assert seen["events"].tolist() == events_to_stream(ev, (16, 16, 2), 5000,
                                                       downsample=2).tolist()
    bad = np.zeros(len(ev), dtype=[("x", "i2"), ("y", "i2"), ("p", "i1"), ("t", "i8")])
    bad["p"] = -1
    np.save(tmp_path / "pm.npy", bad)
    capsys.readouterr()
    err = one_line_error(["map", str(tmp_path / "n.toml"), "--events",
                          str(tmp_path / "pm.npy")], capsys)
    assert "polarity `p` must be bool or 0/1" in err



def test_shaped_layers_are_placed_in_shaped_rows(tmp_path, capsys):
    """Issue 20: the placement counts a shaped layer's rows (ceil(b / N_C) per operand), and
    a shape the macro cannot run is refused."""
    from pathlib import Path

    from flexspim.frontend.netfile import load_network
    from flexspim.mapper.shape import with_operand_cols

    fc2 = Path(__file__).resolve().parents[2] / "examples" / "fc2" / "net.toml"
    save_network(with_operand_cols(load_network(fc2), [2, 1]), tmp_path / "n.toml")
    assert main(["map", str(tmp_path / "n.toml"), "--max-operand-cols", "2"]) == 0
    out = capsys.readouterr().out
    # fc0 at N_C = 2: V ceil(8/2) = 4 rows + 18 inputs x ceil(3/2) = 2 rows; fc1 vertical:
    # 2 x 8 (V and thresholds) + 16 x 3
    rows = {ln.split()[0]: int(ln.split()[6]) for ln in out.splitlines()
            if ln.startswith(("fc0 ", "fc1 "))}
    assert rows == {"fc0": 40, "fc1": 64}, out
    assert "fits on" in out.splitlines()[-1]
    assert main(["map", str(tmp_path / "n.toml")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("error: ") and "operand_cols" in err[-1], err
