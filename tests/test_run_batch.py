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
