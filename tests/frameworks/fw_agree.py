"""Shared by the framework tier's tests: run an exporter script in the framework's own
Python, read what it wrote, and measure how closely flexspim's import (its float reference,
the integer network, and ``flexspim run``) follows the framework's own spikes."""

import json
import subprocess
from pathlib import Path

import numpy as np

from flexspim.cli import main
from flexspim.frontend.dataset import save_dataset
from flexspim.frontend.nir_import import float_run

HERE = Path(__file__).resolve().parent


def export(python: str, script: str, out: Path, *args: str):
    """``(graph, input streams, spikes of layer 1, spikes of layer 2)`` from ``script``
    run by ``python`` (the framework's environment) into ``out``."""
    import nir

    r = subprocess.run([python, str(HERE / script), str(out), *args], capture_output=True,
                       text=True)
    if r.returncode:
        raise AssertionError(f"{script} {' '.join(args)} failed:\n{r.stderr[-3000:]}")
    d = np.load(out / "data.npz")
    return nir.read(out / "model.nir"), streams(d["x"]), d["s1"], d["s2"]


def streams(x) -> list[np.ndarray]:
    """Input spikes ``(n, steps, inputs)`` as event streams (-1 ends a step)."""
    out = []
    for sample in x:
        parts = []
        for step in sample:
            parts += np.flatnonzero(step).tolist() + [-1]
        out.append(np.array(parts, dtype=np.int64))
    return out


def spikes(stream, n: int, steps: int) -> np.ndarray:
    """A layer's stream as a ``(steps, n)`` 0/1 matrix (the bias unit ``n`` left out)."""
    m = np.zeros((steps, n), np.uint8)
    t = 0
    for e in stream:
        if e < 0:
            t += 1
        elif e < n:
            m[t, e] = 1
    return m


def agreement(imp, evs, s1, s2, batch_max: int = 8) -> tuple[float, float]:
    """Fraction of neuron-steps (both layers) where the import's float reference, and the
    integer network, spike as the framework did (a framework's multi-spike step counts as
    a disagreement: the hardware fires at most once per step)."""
    n1, n2, steps = s1.shape[2], s2.shape[2], s1.shape[1]
    f_same = g_same = total = 0
    for ev, a1, a2 in zip(evs, s1, s2):
        f = float_run(imp.float_layers, ev)
        f_same += (spikes(f[0][0], n1, steps) == a1).sum() + \
            (spikes(f[1][0], n2, steps) == a2).sum()
        run = imp.network.run(imp.hardware_events(ev), batch_max=batch_max)
        g_same += (spikes(run.outputs[0], n1, steps) == a1).sum() + \
            (spikes(run.outputs[1], n2, steps) == a2).sum()
        total += a1.size + a2.size
    return f_same / total, g_same / total


def run_command(tmp_path: Path, evs, s2, *options: str) -> tuple[dict, np.ndarray]:
    """``flexspim run model.nir data.npz`` with the framework's predictions (most output
    spikes) as labels: ``(summary, per-sample output counts)``; its accuracy is the class
    agreement with the framework."""
    labels = s2.sum(axis=1).argmax(axis=1)
    save_dataset(tmp_path / "data-run.npz", evs, labels)
    out = tmp_path / "run"
    assert main(["run", str(tmp_path / "model.nir"), str(tmp_path / "data-run.npz"), "-o",
                 str(out), *options]) == 0
    return (json.loads((out / "summary.json").read_text()),
            np.load(out / "outputs.npz")["counts"])


def level1_counts(imp, evs, n_out: int, batch_max: int = 8) -> np.ndarray:
    out = []
    for ev in evs:
        last = imp.network.run(imp.hardware_events(ev), batch_max=batch_max).outputs[-1]
        out.append(np.bincount(last[(last >= 0) & (last < n_out)], minlength=n_out)[:n_out])
    return np.array(out)


def self_check_warnings(tmp_path: Path, capsys, evs, s1, s2, *options: str) -> list[str]:
    """``flexspim run model.nir`` on a dataset carrying the framework's spike counts as
    reference outputs (issue 25): the ``warning:`` lines it prints."""
    from flexspim.frontend.reference import Reference, counts_of

    labels = s2.sum(axis=1).argmax(axis=1)
    ref = Reference(counts_of(s2), {0: counts_of(s1)})
    save_dataset(tmp_path / "data-ref.npz", evs, labels, ref)
    capsys.readouterr()
    assert main(["run", str(tmp_path / "model.nir"), str(tmp_path / "data-ref.npz"), "-o",
                 str(tmp_path / f"ref-{len(list(tmp_path.glob('ref-*')))}"), *options]) == 0
    err = capsys.readouterr().err
    assert "golden vs framework on" in err, err
    return [line for line in err.splitlines() if line.startswith("warning:")]
