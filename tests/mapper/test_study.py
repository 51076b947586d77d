"""The study helpers on a small network (the full study is `flexspim study`)."""

import re

import numpy as np
import pytest

from flexspim.frontend.randnet import random_events, random_network
from flexspim.golden.batching import TICK
from flexspim.mapper.study import plot, run_study, table, thin


def test_thin_keeps_ticks_and_about_the_fraction(rng):
    ev = random_events(rng, 100, 50, 0.5)
    out = thin(ev, 0.25, seed=1)
    assert (out == TICK).sum() == (ev == TICK).sum()
    kept = (out != TICK).sum() / (ev != TICK).sum()
    assert 0.2 < kept < 0.3
    assert thin(ev, 1.0).tolist() == ev.tolist()
    with pytest.raises(ValueError, match=r"`keep` must be in \(0, 1\], not 0"):
        thin(ev, 0)


def test_small_study_table_and_plot(rng, tmp_path):
    net = random_network(rng, "conv", n_layers=3, in_shape=(2, 8, 8), saturate=True)
    ev = random_events(rng, net.layers[0].n_in, 5, 0.3)
    pts = run_study(net, ev, [(256, 4), (512, 8)], [1.0, 0.3], cores=64, batch_max=4)
    assert len(pts) == 4
    for p in pts:
        uniform = [x for x in (p.ws, p.os) if x is not None]
        if p.hybrid is not None and uniform:
            assert p.hybrid <= min(uniform) * (1 + 1e-12)
    assert pts[0].density > pts[1].density                 # thinning lowers the density
    md = table(pts)
    assert md.count("\n") == 5 and "| 256 x 4 |" in md
    plot(pts, tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_only_infeasible_points_are_recorded_as_na(rng):
    net = random_network(rng, "fc", n_layers=2, max_width=8)
    ev = random_events(rng, net.layers[0].n_in, 3, 0.5)
    pts = run_study(net, ev, [(net.layers[0].n_in * 32, 1)], [1.0], cores=1)
    assert pts[0].hybrid is None and pts[0].dataflows == "-"      # 2 layers on 1 core
    bad = np.concatenate([ev, [net.layers[0].n_in + 5]])         # any other error propagates
    with pytest.raises(ValueError, match="out of range"):
        run_study(net, bad, [(256, 4)], [1.0], cores=8)


@pytest.fixture
def no_study(monkeypatch):
    """Fail if the (long) study runs: options must be checked before it."""
    import flexspim.mapper.study as study_mod

    def boom(*a, **k):
        raise AssertionError("the study ran before the options were checked")

    monkeypatch.setattr(study_mod, "run_study", boom)


@pytest.mark.parametrize("argv, match", [
    (["--plot", "/nonexistent/dir/x.png"], r"`--plot` /nonexistent/dir/x.png: folder "
                                           r"'/nonexistent/dir' does not exist"),
    (["--plot", "{d}/x.jpg"], r"`--plot` must name a .png file, not '.*x.jpg'"),
    (["--keep", "1,0"], r"`--keep` fractions must be in \(0, 1\], not 0.0"),
    (["--keep", "1,a"], r"`--keep` is not a valid comma-separated list"),
    (["--sizes", "64x0"], r"`--sizes` entry 64x0: `cols` must be an integer in \[1, 4096\]"),
    (["--cores", "0"], r"`--cores`: `cores` must be an integer"),
    (["--gesture", "11"], r"`--gesture` must be in \[0, 10\], not 11"),
])
def test_study_options_checked_before_running(no_study, tmp_path, capsys, argv, match):
    from flexspim.cli import main
    argv = [a.format(d=tmp_path) for a in argv]
    assert main(["study"] + argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(match, err[0]), err


def test_study_without_matplotlib_fails_first(no_study, monkeypatch, tmp_path, capsys):
    import importlib.util

    from flexspim.cli import main
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["study", "--plot", str(tmp_path / "s.png")]) == 2
    assert capsys.readouterr().err.strip() == \
        "error: the study plot needs matplotlib: pip install matplotlib (or pip install " \
        "'flexspim[dev]')"


def test_study_where_nothing_fits_says_so(monkeypatch, tmp_path, capsys):
    import flexspim.mapper.study as study_mod
    from flexspim.cli import main
    from flexspim.mapper.study import StudyPoint
    monkeypatch.setattr(study_mod, "run_study", lambda *a, **k: [
        StudyPoint(64, 4, 1.0, 0.1, None, None, None, "-", 0)])
    assert main(["study", "--plot", str(tmp_path / "s.png")]) == 2
    out, err = capsys.readouterr()
    assert "| 64 x 4 | 0.100 | n/a |" in out
    assert err.strip() == "error: no study point has a feasible mapping (every array size " \
                          "is too small for the network on these cores); no plot written"
    assert not (tmp_path / "s.png").exists()
