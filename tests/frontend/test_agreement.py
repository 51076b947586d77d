"""Reference outputs in the dataset and the import's self-check (`frontend.reference`,
`frontend.agreement`, ``run``/``import`` with ``--strict``), on small synthetic networks.

The "framework" here is a plain NumPy simulation written in this file (not the import's
float model): 12 -> 10 -> 4 LIF layers, ``v = beta v + W x + b``, a spike where
``v > 1``, then reset to zero or subtract 1, exported the way snnTorch does (``tau = dt /
(1 - beta)``, ``r = tau / dt``, dt = 1e-4 in the metadata)."""

import numpy as np
import pytest

from flexspim.cli import main
from flexspim.frontend.agreement import THRESHOLD, measure, self_check
from flexspim.frontend.dataset import load_dataset, save_dataset
from flexspim.frontend.reference import Reference, add_reference, counts_of

nir = pytest.importorskip("nir")

DT, BETA, STEPS = 1e-4, 0.875, 15


def framework(rng):
    w1, b1 = rng.normal(0, 0.9, (10, 12)), rng.normal(0.1, 0.1, 10)
    w2, b2 = rng.normal(0, 0.9, (4, 10)), rng.normal(0.1, 0.1, 4)
    return [(w1, b1), (w2, b2)]


def simulate(layers, x, reset: str) -> list[np.ndarray]:
    """Per layer ``(samples, neurons)`` spike counts of the NumPy framework."""
    counts = [np.zeros((len(x), w.shape[0]), np.int64) for w, _ in layers]
    for k, sample in enumerate(x):
        v = [np.zeros(w.shape[0]) for w, _ in layers]
        for step in sample:
            s = step.astype(float)
            for i, (w, b) in enumerate(layers):
                v[i] = BETA * v[i] + w @ s + b
                s = (v[i] > 1.0).astype(float)
                v[i] = np.where(s > 0, 0.0 if reset == "zero" else v[i] - 1.0, v[i])
                counts[i][k] += s.astype(np.int64)
    return counts


def graph(layers):
    tau = DT / (1 - BETA)
    nodes, order = {"input": nir.Input(np.array([12]))}, ["input"]
    for i, (w, b) in enumerate(layers):
        n = w.shape[0]
        nodes[f"fc{i}"] = nir.Affine(weight=w.astype(np.float32), bias=b.astype(np.float32))
        nodes[f"lif{i}"] = nir.LIF(tau=np.full(n, tau), r=np.full(n, tau / DT),
                                   v_leak=np.zeros(n), v_threshold=np.ones(n),
                                   v_reset=np.zeros(n))
        order += [f"fc{i}", f"lif{i}"]
    nodes["output"] = nir.Output(np.array([4]))
    order.append("output")
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:])),
                        metadata={"dt": DT})


def streams(x):
    return [np.array([e for step in s for e in list(np.flatnonzero(step)) + [-1]], np.int64)
            for s in x]


@pytest.fixture
def case(rng):
    layers = framework(rng)
    x = (rng.random((24, STEPS, 12)) < 0.4).astype(np.uint8)
    return layers, x, graph(layers)


def test_measure_counts_ties_and_silence():
    ref = np.array([[3, 1], [0, 0], [2, 2], [0, 5]])
    ours = np.array([[3, 1], [0, 1], [2, 2], [1, 4]])
    a = measure(ours, ref, labels=np.array([0, 1, 0, 1]))
    assert a.samples == 4 and a.exact == 0.5
    assert a.mae == pytest.approx(3 / 8)
    # ours: 0, 1, 0 (tie: lowest), 1 -> all right; framework: 0, -1 (silent: wrong), 0, 1
    assert a.accuracy == 1.0 and a.accuracy_framework == 0.75
    with pytest.raises(ValueError, match="2 neurons per sample; the network's output "
                                         "layer has 3"):
        measure(np.zeros((4, 3)), ref)


def test_reference_round_trip_and_one_line_errors(tmp_path, case):
    layers, x, _ = case
    c = simulate(layers, x, "zero")
    save_dataset(tmp_path / "d.npz", streams(x), reference=Reference(c[1], {0: c[0]}))
    ds = load_dataset(tmp_path / "d.npz", 12)
    np.testing.assert_array_equal(ds.reference.output, c[1])
    np.testing.assert_array_equal(ds.reference.layers[0], c[0])
    save_dataset(tmp_path / "e.npz", streams(x))
    assert load_dataset(tmp_path / "e.npz", 12).reference is None
    add_reference(tmp_path / "e.npz", c[1])
    np.testing.assert_array_equal(load_dataset(tmp_path / "e.npz", 12).reference.output,
                                  c[1])
    np.testing.assert_array_equal(counts_of(np.ones((2, 5, 3))), np.full((2, 3), 5))
    for bad, match in ((c[1][:-1], r"shape \(24, neurons\)"), (-c[1] - 1, "non-negative"),
                       (c[1].astype(float), "integer")):
        with np.load(tmp_path / "e.npz") as f:
            np.savez(tmp_path / "b.npz", events=f["events"], offsets=f["offsets"],
                     reference=bad)
        with pytest.raises(ValueError, match="`reference` must be " + ".*" + match):
            load_dataset(tmp_path / "b.npz", 12)


@pytest.mark.parametrize("reset, preset, expect", [
    ("zero", "snntorch", "--reset hard"),     # snnTorch preset assumes subtract
    ("subtract", None, "--reset soft"),       # no preset: hard reset assumed
])
def test_wrong_reset_warns_and_the_named_option_removes_it(case, reset, preset, expect):
    from flexspim.frontend.nir_import import import_nir

    layers, x, g = case
    c = simulate(layers, x, reset)
    ref = Reference(c[1], {0: c[0]})

    def build(over):
        return import_nir(g, preset=preset, **over)
    chk = self_check(build, g, streams(x), ref)
    assert chk.current.exact < THRESHOLD
    assert chk.warning and "likely cause" in chk.warning and expect in chk.warning, \
        chk.warning
    key, val = expect[2:].split()
    assert chk.best == {key: val}
    fixed = self_check(lambda over: build({key: val, **over}), g, streams(x), ref)
    assert fixed.warning is None and fixed.current.exact >= THRESHOLD, fixed.current


def test_what_no_reading_explains_is_said_so(case):
    from flexspim.frontend.nir_import import import_nir

    layers, x, g = case
    c = simulate([(2 * w, 2 * b) for w, b in layers], x, "zero")   # not this graph
    chk = self_check(lambda over: import_nir(g, **over), g, streams(x), Reference(c[1]))
    assert chk.warning and "no other reading" in chk.warning, chk.warning


def test_run_and_import_warn_once_and_strict_stops(tmp_path, capsys, case):
    layers, x, g = case
    nir.write(tmp_path / "m.nir", g)
    c = simulate(layers, x, "zero")
    labels = c[1].argmax(axis=1)
    save_dataset(tmp_path / "d.npz", streams(x), labels, Reference(c[1], {0: c[0]}))
    common = [str(tmp_path / "m.nir"), str(tmp_path / "d.npz"), "--from", "snntorch"]
    assert main(["run", *common, "-o", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    warns = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warns) == 1 and "try --reset hard" in warns[0], err
    assert "golden vs framework on 24 samples: exact counts" in err
    import json
    s = json.loads((tmp_path / "a" / "summary.json").read_text())["framework_agreement"]
    assert s["warning"] and s["suggested"] == {"reset": "hard"}
    assert set(s) >= {"output", "layer0", "reading"}
    assert main(["run", *common, "--reset", "hard", "-o", str(tmp_path / "b")]) == 0
    assert "warning:" not in capsys.readouterr().err
    assert main(["run", *common, "--strict", "-o", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.count("error: ") == 1 and "--reset hard" in err and "warning:" not in err
    assert not (tmp_path / "c").exists()
    imp = ["import", str(tmp_path / "m.nir"), "--from", "snntorch", "--events",
           str(tmp_path / "d.npz"), "-o"]
    assert main([*imp, str(tmp_path / "n.toml"), "--strict"]) == 2
    assert not (tmp_path / "n.toml").exists()
    capsys.readouterr()
    assert main([*imp, str(tmp_path / "n.toml"), "--reset", "hard", "--strict"]) == 0
    err = capsys.readouterr().err
    assert "warning:" not in err and "integer network vs framework on 24 samples" in err


def test_digits_from_snntorch_warns_reset_hard_and_with_it_does_not(tmp_path, capsys):
    # issue 25's acceptance: examples/digits was trained with reset to zero; its test set
    # carries snnTorch's own counts (examples/digits/reference.py)
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "examples" / "digits"
    args = ["run", str(root / "model.nir"), str(root / "test.npz"), "--limit", "40",
            "--from", "snntorch"]
    assert main([*args, "-o", str(tmp_path / "a")]) == 0
    warns = [e for e in capsys.readouterr().err.splitlines() if e.startswith("warning:")]
    assert len(warns) == 1 and "try --reset hard" in warns[0], warns
    assert main([*args, "--reset", "hard", "-o", str(tmp_path / "b")]) == 0
    assert "warning:" not in capsys.readouterr().err
