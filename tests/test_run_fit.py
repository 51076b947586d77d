"""`run` and `map` agree on what the system can run: both call `mapper.fit.system_fit`, and
a refusal is one line naming the layer and the resource (rows, index bits, cores).

Before the shared check, `map` placed every network below (OS weight streaming, shared conv
tables, 40 macros) while `run` refused it, or (the index-bits case) batched `run` accepted
a network whose output spikes beyond ``2**index_bits`` the router dropped: neurons 16..19
of a 20-neuron output layer never appeared, without a word."""

import json

import numpy as np
import pytest

from flexspim.cli import main
from flexspim.config import MAX_CORES, CoreConfig, LayerConfig, MacroConfig
from flexspim.frontend.netfile import save_network
from flexspim.golden.layers import ConvLayer, FCLayer
from flexspim.golden.network import Network
from flexspim.mapper.fit import DoesNotFit, system_fit

CFG = LayerConfig(bw=4, bv=12, threshold=5, leak_mode="shift", leak=3)


def networks(rng):
    return {
        # 600 x 4 weight rows + 12 > 2048: map streams the weights (OS), run cannot
        "rows": (Network([FCLayer(rng.integers(-7, 8, (32, 600)), CFG, name="wide")]), []),
        # dense 512 inputs: 2060 rows; map shares the 2 x 3 x 3 kernel tables
        "conv": (Network([ConvLayer(rng.integers(-7, 8, (4, 2, 3, 3)), (2, 16, 16), CFG,
                                    stride=2, padding=1, name="conv")]), []),
        # 2012-row slots: one per core, 64 neurons; 2500 neurons = 40 cores > MAX_CORES
        "cores": (Network([FCLayer(rng.integers(-7, 8, (2500, 500)), CFG, name="big")]), []),
        # a 20-neuron output layer on 4-bit indices: neurons 16..19 would be dropped
        "index bits": (Network([FCLayer(rng.integers(-7, 8, (20, 10)), CFG, name="out")]),
                       ["--index-bits", "4"]),
    }


def _map_json(tmp_path, toml, run_opts, capsys):
    extra = []
    if run_opts:                         # map takes the core's index_bits from --config
        cfg = tmp_path / "core.toml"
        cfg.write_text(f"[core]\nindex_bits = {run_opts[1]}\n")
        extra = ["--config", str(cfg)]
    assert main(["map", str(toml), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)["run"]


@pytest.mark.parametrize("case", ["rows", "conv", "cores", "index bits"])
def test_map_reports_the_refusal_run_gives(tmp_path, rng, capsys, case):
    net, run_opts = networks(rng)[case]
    toml = tmp_path / "net.toml"
    save_network(net, toml)
    verdict = _map_json(tmp_path, toml, run_opts, capsys)
    events = tmp_path / "ev.npz"       # batched: before, it dropped the index-bits case
    np.savez(events, events=np.array([0, 1, 2, -1]), offsets=np.array([0, 4]))
    assert main(["run", str(toml), str(events), "-o", str(tmp_path / "o"), *run_opts]) == 2
    err, *after = capsys.readouterr().err.splitlines()
    assert err.startswith("error: ")
    # then what would fit (mapper.suggest), one line each
    assert after and all(a.startswith(("would fit: ", "no single change")) for a in after)
    assert verdict["fits"] is False and verdict["resource"] == case.replace("conv", "rows")
    assert err == f"error: {verdict['reason']}"
    assert not (tmp_path / "o").exists()
    word = {"rows": "rows", "conv": "dense FC layer", "cores": f"at most {MAX_CORES}",
            "index bits": "index_bits=4"}[case]
    assert word in err


def test_map_and_run_agree_on_the_cores_of_a_split_layer(tmp_path, rng, capsys):
    net = Network([FCLayer(rng.integers(-7, 8, (300, 40)), CFG, name="wide"),
                   FCLayer(rng.integers(-7, 8, (5, 300)), CFG, name="out")])
    toml = tmp_path / "net.toml"
    save_network(net, toml)
    assert main(["map", str(toml), "--rows", "1400", "--cols", "16", "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)["run"]
    fit = system_fit(net, CoreConfig(macro=MacroConfig(rows=1400, cols=16)))
    assert verdict == {"fits": True, "cores": fit.cores, "resource": None, "reason": None,
                       "layer": None}
    ds = tmp_path / "d.npz"
    np.savez(ds, events=np.array([0, 3, -1, -1]), offsets=np.array([0, 4]))
    assert main(["run", str(toml), str(ds), "-o", str(tmp_path / "o"), "--rows", "1400",
                 "--cols", "16"]) == 0
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["cores"] == fit.cores
    # 300 neurons x (40 x 4 + 12) rows: 8 slots of 16 per core -> 3 cores; the output layer
    # (300 x 4 + 12 rows) one
    assert [lf.cores for lf in fit.layers] == [3, 1]
    # one core fewer than needed: both refuse, with the same line
    capsys.readouterr()
    assert main(["map", str(toml), "--rows", "1400", "--cols", "16", "--cores", "3"]) == 2
    map_err = capsys.readouterr().err
    assert main(["run", str(toml), str(ds), "-o", str(tmp_path / "p"), "--rows", "1400",
                 "--cols", "16", "--cores", "3"]) == 2
    run_err = capsys.readouterr().err
    assert run_err.startswith("error: the network needs 4 cores (layer 0 'wide' on 3, "
                              "layer 1 'out' on 1) but the system has n_cores=3")
    assert run_err.splitlines()[0][len("error: "):] in map_err


def test_index_bits_bound_the_chunk_and_the_output(rng):
    core = CoreConfig(macro=MacroConfig(rows=2048, cols=8), index_bits=4)
    net = Network([FCLayer(rng.integers(-7, 8, (40, 10)), CFG, name="h"),
                   FCLayer(rng.integers(-7, 8, (16, 40)), CFG, name="o")])
    with pytest.raises(DoesNotFit, match=r"layer 1 \(o\) has 40 inputs but index_bits=4 "
                                         r"numbers only 16") as e:
        system_fit(net, core)
    assert e.value.resource == "index bits" and e.value.layer == 1
    net = Network([FCLayer(rng.integers(-7, 8, (40, 10)), CFG, name="h")])
    with pytest.raises(DoesNotFit, match="the output layer"):
        system_fit(net, core)
    net = Network([FCLayer(rng.integers(-7, 8, (30, 10)), CFG, name="h"),
                   FCLayer(rng.integers(-7, 8, (16, 30)), CFG, name="o")])
    fit = system_fit(net, CoreConfig(macro=MacroConfig(rows=2048, cols=8), index_bits=5))
    # 2048 // 52 = 39 slots of 8 = 312 neurons, but 5 index bits cap a core at 32
    assert fit.layers[0].chunks == ((0, 30),) and fit.layers[0].bound == "index bits"
    assert fit.layers[0].neurons_per_core == 32
    assert fit.monitor is False                 # 30 + 16 outputs > 32 indices
