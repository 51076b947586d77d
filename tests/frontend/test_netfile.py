"""The .toml + .npz network description: round trips and error messages."""

import numpy as np
import pytest

from flexspim.frontend.netfile import load_network, save_network
from flexspim.frontend.randnet import random_events, random_network


@pytest.mark.parametrize("kinds", ["fc", "conv"])
def test_round_trip_runs_identically(tmp_path, rng, kinds):
    net = random_network(rng, kinds, n_layers=3)
    npz = save_network(net, tmp_path / "net.toml", name="t")
    assert npz.exists()
    back = load_network(tmp_path / "net.toml")
    assert [type(a) for a in back.layers] == [type(a) for a in net.layers]
    for a, b in zip(net.layers, back.layers):
        assert a.config == b.config and a.name == b.name
        np.testing.assert_array_equal(a.weights, b.weights)
        if a.thresholds is None:
            assert b.thresholds is None
        else:
            np.testing.assert_array_equal(a.thresholds, b.thresholds)
        for k in ("in_shape", "stride", "padding", "dilation"):
            assert getattr(a, k, None) == getattr(b, k, None)
    ev = random_events(rng, net.layers[0].n_in, 5, 0.3)
    r1, r2 = net.run(ev, 4), back.run(ev, 4)
    for x, y in zip(r1.outputs + r1.potentials, r2.outputs + r2.potentials):
        assert x.tolist() == y.tolist()


def test_hand_written_file(tmp_path):
    np.savez(tmp_path / "a.npz", **{"c.weights": np.ones((2, 1, 3, 3), int),
                                    "f.weights": np.ones((1, 8), int)})
    (tmp_path / "n.toml").write_text(
        'format = "flexspim-network"\nversion = 1\narrays = "a.npz"\n'
        '[[layers]]\nname = "c"\ntype = "conv"\nin_shape = [1, 4, 4]\nstride = 2\n'
        'padding = 1\nbw = 2\nbv = 6\nthreshold = 2\n'
        '[[layers]]\nname = "f"\ntype = "fc"\nbw = 2\nbv = 6\n')
    net = load_network(tmp_path / "n.toml")
    assert net.layers[0].out_shape == (2, 2, 2) and net.layers[0].stride == (2, 2)
    assert net.layers[1].config.saturate is True          # LayerConfig default


@pytest.mark.parametrize("body, match", [
    ('format = "x"\nversion = 1\n', "`format` must be"),
    ('format = "flexspim-network"\nversion = 1\n', "at least one"),
    ('format = "flexspim-network"\nversion = 1\n[[layers]]\nname = "f"\ntype = "pool"\n',
     "`type` must be one of fc, conv; not 'pool'"),
    ('format = "flexspim-network"\nversion = 1\n[[layers]]\nname = "f"\ntype = "fc"\n'
     'bw = 2\nbv = 4\ncolour = 3\n', "unknown LayerConfig parameter"),
    ('format = "flexspim-network"\nversion = 1\n[[layers]]\nname = "g"\ntype = "fc"\n'
     'bw = 2\nbv = 4\n', "array 'g.weights' missing"),
    ('format = "flexspim-network"\nversion = 1\n[[layers]]\nname = "f"\ntype = "fc"\n'
     'bw = 2\nbv = 4\nstride = 2\n', "only apply to conv"),
    ('format = "flexspim-network"\nversion = 1\n[[layers]]\nname = "f"\ntype = "fc"\n'
     'bw = 9\nbv = 4\n', r"`bw` must be in \[1, bv=4\]"),
    ('format = "flexspim-network"\nversion = 1\n[[layers]]\nname = "f"\ntype = "fc"\n'
     'bw = 2\nbv = 4\noperand_cols = 3\n', r"`operand_cols` must be a power of two"),
    ('not toml [', "not valid TOML"),
])
def test_bad_files(tmp_path, body, match):
    np.savez(tmp_path / "n.npz", **{"f.weights": np.ones((1, 2), int)})
    (tmp_path / "n.toml").write_text(body)
    with pytest.raises(ValueError, match=match):
        load_network(tmp_path / "n.toml")


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read network file"):
        load_network(tmp_path / "nope.toml")


def test_operand_cols_per_layer(tmp_path):
    """Issue 20: a layer's operand shape is a key of its table (absent: 1, vertical)."""
    np.savez(tmp_path / "a.npz", **{"f.weights": np.ones((4, 3), int),
                                    "g.weights": np.ones((2, 4), int)})
    (tmp_path / "n.toml").write_text(
        'format = "flexspim-network"\nversion = 1\narrays = "a.npz"\n'
        '[[layers]]\nname = "f"\ntype = "fc"\nbw = 3\nbv = 7\noperand_cols = 4\n'
        '[[layers]]\nname = "g"\ntype = "fc"\nbw = 2\nbv = 6\n')
    net = load_network(tmp_path / "n.toml")
    assert [la.config.operand_cols for la in net.layers] == [4, 1]
    save_network(net, tmp_path / "back.toml")
    assert [la.config.operand_cols for la in load_network(tmp_path / "back.toml").layers] \
        == [4, 1]
