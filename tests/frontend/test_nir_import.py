"""NIR import: graphs built in code, integer network against the float reference."""

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from flexspim.frontend.nir_import import compare, float_run, import_nir  # noqa: E402
from flexspim.frontend.randnet import random_events  # noqa: E402
from flexspim.golden.batching import split_steps  # noqa: E402


def lif(shape, tau=0.008, r=8.0, th=1.0):
    return nir.LIF(tau=np.full(shape, tau), r=np.full(shape, r), v_leak=np.zeros(shape),
                   v_threshold=np.full(shape, th))


def conv_graph(rng, c_out=4, k=3):
    return nir.NIRGraph.from_list(
        nir.Input(input_type={"input": np.array([2, 8, 8])}),
        nir.Conv2d(input_shape=(8, 8), weight=rng.normal(0.3, 1, (c_out, 2, k, k)), stride=2,
                   padding=1, dilation=1, groups=1, bias=np.zeros(c_out)),
        lif((c_out, 4, 4)),
        nir.Flatten(input_type={"input": np.array([c_out, 4, 4])}, start_dim=0),
        nir.Affine(weight=rng.normal(0.2, 1, (10, c_out * 16)), bias=np.zeros(10)),
        nir.IF(r=np.ones(10), v_threshold=np.full(10, 2.0)),
    )


def fc_graph(rng, sizes=(20, 12, 6)):
    nodes = [nir.Input(input_type={"input": np.array([sizes[0]])})]
    for a, b in zip(sizes, sizes[1:]):
        nodes += [nir.Linear(weight=rng.normal(0.1, 1, (b, a))), lif((b,), th=0.5)]
    return nir.NIRGraph.from_list(*nodes)


@pytest.mark.parametrize("make", [conv_graph, fc_graph])
def test_potentials_within_the_reported_weight_error(rng, make):
    imp = import_nir(make(rng), bw=5, bv=16)
    n_in = imp.network.layers[0].n_in
    ev = random_events(rng, n_in, 10, 0.25)
    compare(imp, ev)
    run = imp.network.run(ev)
    inputs = [ev] + run.outputs[:-1]
    for rep, layer, stream in zip(imp.report, imp.network.layers, inputs):
        first = split_steps(stream)[0][0] if split_steps(stream) else np.zeros(0, int)
        # one event moves a potential by at most the largest weight error
        bound = len(first) * rep.weight_max_err
        assert rep.potential_max_err <= bound + 1e-9, rep
        assert rep.weight_max_err <= rep.scale / 2 + 1e-12        # rounding to nearest
        assert rep.threshold_max_err <= rep.scale / 2 + 1e-12
        assert 0 < rep.weight_rel_rms < 0.2
        assert rep.spike_agreement >= 0.8, rep.line()


def test_exactly_representable_graph_matches_float_reference_exactly(rng):
    # integer-valued weights with max |w| = 2**(bw-1) - 1 give scale 1: no error at all
    w1 = rng.integers(-7, 8, size=(6, 10)).astype(float)
    w1[0, 0] = 7
    w2 = rng.integers(-7, 8, size=(3, 6)).astype(float)
    w2[0, 0] = -7
    g = nir.NIRGraph.from_list(
        nir.Input(input_type={"input": np.array([10])}),
        nir.Linear(weight=w1), nir.IF(r=np.ones(6), v_threshold=np.array([3., 4, 5, 6, 7, 8])),
        nir.Linear(weight=w2), lif((3,), tau=0.004, r=4.0, th=2.0))
    imp = import_nir(g, bw=4, bv=12, dt=0.001)
    assert [r.scale for r in imp.report] == [1.0, 1.0]
    assert imp.network.layers[0].config.threshold_source == "array"     # per-neuron theta
    assert imp.network.layers[1].config.leak_mode == "shift"
    assert imp.network.layers[1].config.leak == 2                       # tau = 4 dt -> 1/4
    assert imp.report[1].leak_float == imp.report[1].leak_int == 0.75
    ev = random_events(rng, 10, 15, 0.3)
    f = float_run(imp.float_layers, ev)
    run = imp.network.run(ev)
    assert run.outputs[0].tolist() == f[0][0].tolist()
    assert np.array_equal(run.potentials[0], f[0][2])
    # layer 2 leaks V - (V >> 2) (floor) against V * 0.75: equal only where V % 4 == 0,
    # so compare spikes through the report's measured agreement
    compare(imp, ev)
    assert imp.report[0].spike_agreement == 1.0 and imp.report[0].potential_max_err == 0.0


def test_cubalif_maps_when_tau_syn_is_dt(rng):
    shape = (5,)
    node = nir.CubaLIF(tau_syn=np.full(shape, 0.001), tau_mem=np.full(shape, 0.016),
                       r=np.full(shape, 16.0), v_leak=np.zeros(shape),
                       v_threshold=np.full(shape, 1.0), w_in=np.full(shape, 2.0))
    g = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([4])}),
                               nir.Linear(weight=rng.normal(0, 1, (5, 4))), node)
    imp = import_nir(g, bw=8, bv=16, dt=0.001)
    assert imp.network.layers[0].config.leak == 4             # tau_mem = 16 dt
    np.testing.assert_allclose(imp.float_layers[0].dense,
                               2.0 * 16.0 * 0.001 / 0.016 * g.nodes["linear"].weight)


def shaped(shape, **kw):
    base = dict(tau=np.full(shape, 0.01), r=np.ones(shape), v_leak=np.zeros(shape),
                v_threshold=np.ones(shape))
    base.update(kw)
    return nir.LIF(**base)


@pytest.mark.parametrize("build, match", [
    (lambda r: [nir.Linear(weight=np.ones((3, 4))),
                nir.LI(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3))],
     r"NIR node 'li' \(LI\) is not supported"),
    (lambda r: [nir.Affine(weight=np.ones((3, 4)), bias=np.ones(3)), shaped((3,))],
     r"'affine' \(Affine\): a non-zero bias"),
    (lambda r: [nir.Linear(weight=np.ones((3, 4))),
                shaped((3,), tau=np.array([0.01, 0.02, 0.01]))],
     r"'lif' \(LIF\): per-neuron `tau`"),
    (lambda r: [nir.Linear(weight=np.ones((3, 4))), shaped((3,), v_leak=np.ones(3))],
     "v_leak != 0"),
    (lambda r: [nir.Linear(weight=np.ones((3, 4))),
                nir.IF(r=np.ones(3), v_threshold=np.ones(3), v_reset=np.ones(3))],
     "v_reset != 0"),
    (lambda r: [nir.Linear(weight=np.ones((3, 4))), nir.Linear(weight=np.ones((2, 3))),
                shaped((2,))], "without a neuron"),
    (lambda r: [nir.Linear(weight=np.ones((3, 4))),
                nir.CubaLIF(tau_syn=np.full(3, 0.005), tau_mem=np.full(3, 0.01),
                            r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3))],
     r"'cubalif' \(CubaLIF\): tau_syn=0.005 must equal dt=0.001"),
    (lambda r: [nir.Linear(weight=np.ones((3, 4))), shaped((3,), v_threshold=np.full(3, 1e9))],
     "does not fit bv=16"),
])
def test_unsupported_nodes_and_parameters_are_named(build, match):
    g = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([4])}), *build(None))
    with pytest.raises(ValueError, match=match):
        import_nir(g, bw=8, bv=16, dt=0.001)


def test_conv_groups_rejected(rng):
    g = nir.NIRGraph.from_list(
        nir.Input(input_type={"input": np.array([2, 4, 4])}),
        nir.Conv2d(input_shape=(4, 4), weight=np.ones((2, 1, 3, 3)), stride=1, padding=1,
                   dilation=1, groups=2, bias=np.zeros(2)),
        shaped((2, 4, 4)), type_check=False)   # nir's own shape check rejects groups first
    with pytest.raises(ValueError, match=r"'conv2d' \(Conv2d\): groups=2 is not supported"):
        import_nir(g)


def test_cli_unsupported_node_is_one_line(tmp_path, capsys):
    from flexspim.cli import main
    g = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([4])}),
                               nir.Linear(weight=np.ones((3, 4))),
                               nir.LI(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3)))
    nir.write(tmp_path / "m.nir", g)
    assert main(["map", str(tmp_path / "m.nir")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: NIR node 'li' (LI) is not supported; supported: Input, Output, "
                   "Flatten, Linear, Affine, Conv2d, IF, LIF, CubaLIF"]


def test_cli_maps_a_nir_file(tmp_path, rng, capsys):
    from flexspim.cli import main
    nir.write(tmp_path / "m.nir", fc_graph(rng))
    assert main(["map", str(tmp_path / "m.nir"), "--bw", "6", "--bv", "14", "--steps", "4",
                 "--json"]) == 0
    captured = capsys.readouterr()
    assert '"total_energy_pj"' in captured.out
    assert "weight err max" in captured.err          # the quantization report
