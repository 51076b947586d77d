"""`flexspim run`: the shipped example gives the same output on the golden model and the RTL."""

from pathlib import Path

import numpy as np
import pytest

from flexspim.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fc2"


def run(tmp_path, name, *extra):
    out = tmp_path / name
    assert main(["run", str(EXAMPLE / "net.toml"), str(EXAMPLE / "events.npy"), "-o", str(out),
                 *extra]) == 0
    return out


def test_run_golden_writes_outputs_and_a_raster(tmp_path):
    out = run(tmp_path, "golden")
    ev = np.load(out / "output_events.npy")
    layers = np.load(out / "layers.npz")
    assert (ev == -1).sum() == 20                       # one tick per 1 ms step
    assert {"fc0.events", "fc1.events", "fc0.potentials", "fc1.potentials"} <= set(layers.files)
    assert (layers["fc1.events"] != -1).sum() > 0       # the example does spike
    assert (out / "raster.png").read_bytes()[:4] == b"\x89PNG"


def test_run_on_one_stream_writes_neurobench_metrics(tmp_path):
    """A single event stream gets the dataset path's NeuroBench metrics (a dataset of one
    sample), each recounted here from the written spikes and the network file."""
    import json

    from flexspim.commands.run import load_events
    from flexspim.frontend.netfile import load_network

    out = run(tmp_path, "golden")
    s = json.loads((out / "summary.json").read_text())
    net = load_network(EXAMPLE / "net.toml")
    # the example is tonic-format events: binned as run bins them (1 ms steps)
    events = load_events(EXAMPLE / "events.npy", net.layers[0].n_in, None, None)
    layers = np.load(out / "layers.npz")
    fc0, fc1 = layers["fc0.events"], layers["fc1.events"]
    assert s["model"] == "golden" and s["steps"] == 20
    assert s["input_events"] == int((events >= 0).sum())
    assert s["spikes_per_layer"] == {"fc0": int((fc0 >= 0).sum()), "fc1": int((fc1 >= 0).sum())}
    nb = s["neurobench"]
    w0, w1 = (layer.weights for layer in net.layers)
    # no biases (a .toml network): parameters = weights; zero weights / weights
    assert nb["parameter_count"] == w0.size + w1.size
    assert nb["connection_sparsity"] == pytest.approx(
        ((w0 == 0).sum() + (w1 == 0).sum()) / (w0.size + w1.size))
    # effective ACs: per input event its non-zero weights in fc0, per fc0 spike in fc1
    eff = sum(int((w0[:, e] != 0).sum()) for e in events[events >= 0]) \
        + sum(int((w1[:, e] != 0).sum()) for e in fc0[fc0 >= 0])
    assert nb["effective_acs_per_sample"] == eff and nb["totals"]["samples"] == 1
    # dense: every connection every step
    assert nb["dense_ops_per_sample"] == (w0.size + w1.size) * 20
    spikes = (fc0 >= 0).sum() + (fc1 >= 0).sum()
    assert nb["activation_sparsity"] == pytest.approx(
        1 - spikes / ((w0.shape[0] + w1.shape[0]) * 20))
    # NeuroBench's footprint: float32 parameters + snnTorch Leaky buffers per layer: 16
    # bytes (beta, graded_spikes_factor, int64 reset_mechanism_val) + the threshold, 4 bytes
    # or 4 per neuron (fc1's thresholds are per neuron, in the array)
    assert [layer.config.threshold_source for layer in net.layers] == ["register", "array"]
    assert nb["footprint_bytes"] == 4 * (w0.size + w1.size) + (16 + 4) + (16 + 4 * 4)
    # flexspim's own stored size stays beside it
    assert s["footprint"]["weight_bits"] == sum(
        layer.weights.size * layer.config.bw for layer in net.layers)


@pytest.mark.rtl
@pytest.mark.parametrize("geometry", [("--rows", "128", "--cols", "8", "--batch", "2",
                                       "--fifo-depth", "2", "--index-bits", "6"), ()],
                         ids=["128x8_P2", "2048x64"])
def test_run_rtl_equals_golden(tmp_path, geometry):
    """The fast tier runs two small cores (one layer each: fc0 fills both neuron slots of
    its core); the default geometry (2048x64, P=8, 2 cores) runs in the long tier."""
    g = run(tmp_path, "golden", *geometry)
    r = run(tmp_path, "rtl", "--rtl", *geometry)
    np.testing.assert_array_equal(np.load(g / "output_events.npy"),
                                  np.load(r / "output_events.npy"))
    a, b = np.load(g / "layers.npz"), np.load(r / "layers.npz")
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("extra, message", [
    (["--rows", "16"], "layer 0 (fc0)"),
    (["--cores", "1"], "the network needs 2 cores (layer 0 'fc0' on 1, layer 1 'fc1' on 1) "
                       "but the system has n_cores=1"),
    (["--sensor", "3"], "`--sensor` must be W,H"),
    (["--sensor", "4,4"], "a 4 x 4 sensor with 2 polarities gives 32 inputs"),
])
def test_run_rejects_what_cannot_work(tmp_path, capsys, extra, message):
    assert main(["run", str(EXAMPLE / "net.toml"), str(EXAMPLE / "events.npy"), "-o",
                 str(tmp_path / "x"), *extra]) == 2
    err = capsys.readouterr().err.splitlines()
    # one error line; a refused fit is followed by what would fit (mapper.suggest)
    assert message in err[0] and err[0].startswith("error: "), err
    assert all(e.startswith(("would fit: ", "no single change")) for e in err[1:]), err
    if extra[0] == "--cores":
        assert err[1:] and "--cores 2" in err[1], err


def test_run_rejects_out_of_range_sources(tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array([0, 3, 18, -1]))
    assert main(["run", str(EXAMPLE / "net.toml"), str(bad), "-o", str(tmp_path / "x")]) == 2
    assert "event 2 of" in capsys.readouterr().err


SHAPED = ("--rows", "64", "--cols", "8", "--batch", "2", "--fifo-depth", "2",
          "--index-bits", "6", "--max-operand-cols", "4")


@pytest.mark.rtl
def test_run_rtl_at_operand_cols_2_equals_golden_and_the_vertical_run(tmp_path):
    """Issue 20 acceptance: every layer at operand_cols = 2 on the RTL equals the golden run
    bit for bit, and the vertical run's spikes (shape is a mapping choice)."""
    g1 = run(tmp_path, "golden1", *SHAPED, "--operand-cols", "1")
    g2 = run(tmp_path, "golden2", *SHAPED, "--operand-cols", "2")
    r2 = run(tmp_path, "rtl2", "--rtl", *SHAPED, "--operand-cols", "2")
    for other in (g2, r2):
        a, b = np.load(g1 / "layers.npz"), np.load(other / "layers.npz")
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{other.name}: {k}")


def test_run_operand_cols_auto_and_its_choice(tmp_path, capsys):
    run(tmp_path, "auto", *SHAPED, "--operand-cols", "auto")
    err = capsys.readouterr().err
    # fc0: 16 neurons, 18 inputs: two 8-neuron slots at N_C=1; auto must not take more cores
    assert "operand shape per layer (auto: mapper.shape's rule): fc0 " in err, err


@pytest.mark.parametrize("extra, message", [
    (["--operand-cols", "2"], "`--operand-cols` must be an integer in [1, 1], not 2"),
    (["--max-operand-cols", "4", "--operand-cols", "3"],
     "`--operand-cols` must be a power of two in [1, 4]"),
    (["--max-operand-cols", "3"], "`max_operand_cols`"),
    (["--operand-cols", "x"], "argument --operand-cols: must be an integer or auto, not 'x'"),
])
def test_run_rejects_bad_shapes(tmp_path, capsys, extra, message):
    out = tmp_path / "x"
    assert main(["run", str(EXAMPLE / "net.toml"), str(EXAMPLE / "events.npy"), "-o",
                 str(out), *extra]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: ") and message in err[0], err
    assert not out.exists()
