"""The study helpers on a small network (the full study is `flexspim study`)."""

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
