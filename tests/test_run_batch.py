"""`flexspim run NET DATASET.npz`: batched inference, checked against the level-1 network
run sample by sample from a fresh state."""

import json
from pathlib import Path

import numpy as np
import pytest

from flexspim.cli import main
from flexspim.frontend.dataset import load_dataset, save_dataset
from flexspim.frontend.netfile import load_network
from flexspim.frontend.randnet import random_events

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fc2"


@pytest.fixture
def dataset(tmp_path, rng):
    net = load_network(EXAMPLE / "net.toml")
    samples = [random_events(rng, net.layers[0].n_in, 8, 0.3) for _ in range(6)]
    samples.append(samples[0])                   # the same sample again: state was reset
    labels = rng.integers(0, net.layers[-1].n_out, len(samples))
    path = tmp_path / "ds.npz"
    save_dataset(path, samples, labels)
    return net, samples, labels, path


def test_batch_golden_equals_level1_per_sample(tmp_path, dataset):
    net, samples, labels, path = dataset
    out = tmp_path / "out"
    assert main(["run", str(EXAMPLE / "net.toml"), str(path), "-o", str(out),
                 "--rows", "64"]) == 0
    s = json.loads((out / "summary.json").read_text())
    o = np.load(out / "outputs.npz")
    n_cls = net.layers[-1].n_out
    expect_counts = []
    for ev in samples:                                  # a fresh network per sample
        last = net.run(ev, batch_max=8).outputs[-1]
        expect_counts.append(np.bincount(last[last >= 0], minlength=n_cls))
    expect_counts = np.array(expect_counts)
    np.testing.assert_array_equal(o["counts"], expect_counts)
    pred = np.where(expect_counts.max(1) > 0, expect_counts.argmax(1), -1)
    assert s["samples"] == len(samples)
    assert s["accuracy"] == pytest.approx(float((pred == labels).mean()))
    assert np.array(s["confusion"]).sum() == len(samples)
    np.testing.assert_array_equal(o["counts"][0], o["counts"][-1])    # reset between samples
    ev = np.load(out / "output_events.npy")
    assert ev.max() < n_cls and (ev == -1).sum() == sum((x == -1).sum() for x in samples)
    assert s["reset"]["rows_per_reset"] == sum(layer.config.bv for layer in net.layers)
    assert 0 < s["activation_sparsity"]["network"] < 1
    assert s["synaptic_ops"]["effective_per_sample"] > 0
    # NeuroBench's metrics (frontend.neurobench): a network without import biases, so its
    # effective ACs are the synaptic ops counted above, and its activation sparsity the same
    nb = s["neurobench"]
    assert nb["effective_acs_per_sample"] == s["synaptic_ops"]["effective_per_sample"]
    assert nb["activation_sparsity"] == pytest.approx(s["activation_sparsity"]["network"])
    steps = sum(int((x == -1).sum()) for x in samples)
    conns = sum(layer.n_in * layer.n_out for layer in net.layers)       # FC layers only
    assert nb["totals"]["dense_ops"] == conns * steps
    assert nb["parameter_count"] == sum(layer.weights.size for layer in net.layers)
    assert (out / "confusion.csv").read_text().startswith("true\\pred,0,1,2,3,none")


def test_dataset_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, events=np.array([0, 1, -1, 99, -1]), offsets=np.array([0, 3, 5]))
    assert main(["run", str(EXAMPLE / "net.toml"), str(bad), "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "event 3 has source 99; sources must be in [0, 17]" in err[0]
    np.savez(bad, events=np.array([0, 1]), offsets=np.array([0, 2]))
    assert main(["run", str(EXAMPLE / "net.toml"), str(bad), "-o", str(tmp_path / "x")]) == 2
    assert "sample 0 does not end with a tick" in capsys.readouterr().err


def test_spikes_form_of_a_dataset(tmp_path):
    spikes = np.zeros((2, 3, 4), np.uint8)
    spikes[0, 0, [1, 3]] = 1
    spikes[1, 2, 0] = 2
    np.savez(tmp_path / "s.npz", spikes=spikes, labels=np.array([0, 1]))
    ds = load_dataset(tmp_path / "s.npz", 4)
    assert ds.samples[0].tolist() == [1, 3, -1, -1, -1]
    assert ds.samples[1].tolist() == [-1, -1, 0, 0, -1]


def test_options_that_do_not_apply(tmp_path, capsys, dataset):
    _, _, _, path = dataset
    assert main(["run", str(EXAMPLE / "net.toml"), str(path), "-o", str(tmp_path / "x"),
                 "--dt", "1e-3"]) == 2
    assert "`--dt` does not apply here" in capsys.readouterr().err
    assert main(["run", str(EXAMPLE / "net.toml"), str(EXAMPLE / "events.npy"), "-o",
                 str(tmp_path / "x"), "--limit", "2"]) == 2
    assert "`--limit` does not apply here" in capsys.readouterr().err


def test_nir_with_bias_runs_batched_with_the_always_active_source(tmp_path, rng):
    nir = pytest.importorskip("nir")
    from flexspim.frontend.nir_import import import_nir

    w1, b1 = rng.normal(0, 1, (6, 5)), rng.normal(0, 0.3, 6)
    w2, b2 = rng.normal(0, 1, (3, 6)), rng.normal(0, 0.3, 3)
    lif = lambda n: nir.LIF(tau=np.full(n, 8e-4), r=np.full(n, 8.0),  # noqa: E731
                            v_leak=np.zeros(n), v_threshold=np.full(n, 0.5))
    g = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([5])}),
                               nir.Affine(weight=w1, bias=b1), lif(6),
                               nir.Affine(weight=w2, bias=b2), lif(3))
    g.metadata["dt"] = 1e-4
    nir.write(tmp_path / "m.nir", g)
    samples = [random_events(rng, 5, 10, 0.4, repeat=0) for _ in range(4)]
    save_dataset(tmp_path / "d.npz", samples, [0, 1, 2, 0])
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "m.nir"), str(tmp_path / "d.npz"), "-o", str(out),
                 "--bw", "8", "--bv", "16", "--batch", "4"]) == 0
    imp = import_nir(g, bw=8, bv=16)
    counts = np.load(out / "outputs.npz")["counts"]
    hidden = 0
    for ev, c in zip(samples, counts):
        run = imp.network.run(imp.hardware_events(ev), batch_max=4)
        last = run.outputs[-1]
        np.testing.assert_array_equal(c, np.bincount(last[last >= 0], minlength=3))
        h = run.outputs[0]
        assert ((h == 6).sum()) == 10                  # the unit fires at every tick
        hidden += int(((h >= 0) & (h < 6)).sum())
    assert (out / "network.toml").exists()        # the imported network, with [import]
    s = json.loads((out / "summary.json").read_text())
    # the hidden layer's always-firing bias unit is left out of the sparsity
    assert s["activation_sparsity"]["per_layer"][0] == pytest.approx(1 - hidden / (6 * 40))


def wide_network(rng):
    from flexspim.config import LayerConfig
    from flexspim.golden.layers import FCLayer
    from flexspim.golden.network import Network

    c0 = LayerConfig(bw=3, bv=8, leak_mode="shift", leak=2, threshold=4)
    c1 = LayerConfig(bw=3, bv=8, threshold_source="array", reset="soft")
    return Network([FCLayer(rng.integers(-4, 4, (40, 6)), c0, name="wide"),
                    FCLayer(rng.integers(-4, 4, (5, 40)), c1, rng.integers(1, 6, 5),
                            name="out")])


def test_a_layer_wider_than_a_core_is_split_across_cores(tmp_path, rng):
    from flexspim.frontend.netfile import save_network

    net = wide_network(rng)
    save_network(net, tmp_path / "w.toml")
    samples = [random_events(rng, 6, 12, 0.5) for _ in range(3)]
    save_dataset(tmp_path / "d.npz", samples, [0, 1, 2])
    # 64 rows x 8 columns: a slot of "wide" needs 8 + 6 x 3 = 26 rows, so 2 slots (16
    # neurons) per core and 3 cores for its 40 neurons; "out" needs 16 + 40 x 3 = 136 rows
    geo = ["--rows", "64", "--cols", "8"]
    assert main(["run", str(tmp_path / "w.toml"), str(tmp_path / "d.npz"), "-o",
                 str(tmp_path / "o"), *geo]) == 2                     # "out" does not fit
    # 140 x 4: "wide" 5 slots = 20 neurons per core (2 cores), "out" 1 slot (2 cores)
    geo = ["--rows", "140", "--cols", "4"]
    out = tmp_path / "o"
    assert main(["run", str(tmp_path / "w.toml"), str(tmp_path / "d.npz"), "-o", str(out),
                 *geo]) == 0
    lay = np.load(out / "layers.npz")
    for k, ev in enumerate(samples):
        run = net.run(ev, batch_max=8)
        for name, expect in zip(("wide", "out"), run.outputs):
            a, b = lay[f"{name}.offsets"][k:k + 2]
            np.testing.assert_array_equal(lay[f"{name}.events"][a:b], expect, err_msg=name)
    assert json.loads((out / "summary.json").read_text())["cores"] == 4


def test_split_plan_counts_and_refuses_with_the_reason(rng):
    from flexspim.config import CoreConfig, MacroConfig, SystemConfig
    from flexspim.testbench.system_driver import split_plan

    net = wide_network(rng)
    sys_ = SystemConfig(core=CoreConfig(macro=MacroConfig(rows=160, cols=8)), n_cores=4)
    # wide: 160 // 26 = 6 slots = 48 neurons >= 40: one core; out: one slot of 136 rows
    assert split_plan(net, sys_) == [(0, 0, 40), (1, 0, 5)]
    sys_ = SystemConfig(core=CoreConfig(macro=MacroConfig(rows=140, cols=4)), n_cores=4)
    # wide: 5 slots of 4 = 20 neurons per core -> 2 cores; out: 1 slot (4) per core
    assert split_plan(net, sys_) == [(0, 0, 20), (0, 20, 20), (1, 0, 4), (1, 4, 1)]
    sys_ = SystemConfig(core=CoreConfig(macro=MacroConfig(rows=100, cols=4)), n_cores=4)
    with pytest.raises(ValueError, match=r"layer 1 \(out\): one neuron slot needs 136 rows "
                                         r"\(40 inputs x bw=3 plus potential and threshold"):
        split_plan(net, sys_)


@pytest.mark.rtl
def test_split_layers_on_the_rtl_equal_the_golden_model(tmp_path, rng):
    from flexspim.frontend.netfile import save_network

    save_network(wide_network(rng), tmp_path / "w.toml")
    save_dataset(tmp_path / "d.npz", [random_events(rng, 6, 6, 0.5) for _ in range(2)])
    assert main(["run", str(tmp_path / "w.toml"), str(tmp_path / "d.npz"), "-o",
                 str(tmp_path / "o"), "--rows", "140", "--cols", "4", "--rtl"]) == 0
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["agree_golden"] is True and s["cores"] == 4 and s["accuracy"] is None


def test_conv_layer_runs_as_its_dense_fc_layer(tmp_path, rng):
    from flexspim.config import LayerConfig
    from flexspim.frontend.netfile import save_network
    from flexspim.golden.layers import ConvLayer, FCLayer
    from flexspim.golden.network import Network

    cfg = LayerConfig(bw=3, bv=8, threshold=3)
    conv = ConvLayer(rng.integers(-3, 4, (2, 1, 3, 3)), (1, 6, 6), cfg, stride=2, padding=1,
                     name="conv")
    net = Network([conv, FCLayer(rng.integers(-3, 4, (4, conv.n_out)), cfg, name="fc")])
    save_network(net, tmp_path / "c.toml")
    samples = [random_events(rng, 36, 8, 0.4) for _ in range(3)]
    save_dataset(tmp_path / "d.npz", samples, [0, 1, 2])
    out = tmp_path / "o"
    assert main(["run", str(tmp_path / "c.toml"), str(tmp_path / "d.npz"), "-o", str(out),
                 "--rows", "160", "--cols", "8"]) == 0
    lay = np.load(out / "layers.npz")
    for k, ev in enumerate(samples):
        for name, expect in zip(("conv", "fc"), net.run(ev, batch_max=8).outputs):
            a, b = lay[f"{name}.offsets"][k:k + 2]
            np.testing.assert_array_equal(lay[f"{name}.events"][a:b], expect, err_msg=name)
