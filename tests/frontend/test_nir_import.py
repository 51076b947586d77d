"""NIR import: graphs built in code, integer network against the float reference."""

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from flexspim.frontend.nir_import import compare, float_run, import_nir  # noqa: E402
from flexspim.frontend.randnet import random_events  # noqa: E402
from flexspim.golden.batching import TICK, split_steps  # noqa: E402
from flexspim.golden.network import run_layer  # noqa: E402


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
        nir.IF(r=np.full(10, 1000.0), v_threshold=np.full(10, 2.0)),   # gain r dt = 1
    )


def fc_graph(rng, sizes=(20, 12, 6)):
    nodes = [nir.Input(input_type={"input": np.array([sizes[0]])})]
    for a, b in zip(sizes, sizes[1:]):
        nodes += [nir.Linear(weight=rng.normal(0.1, 1, (b, a))), lif((b,), th=0.5)]
    return nir.NIRGraph.from_list(*nodes)


def direct_conv(image, kernel, stride, padding):
    """Cross-correlation by loops over a zero-padded image (written here, not imported)."""
    c_out, c_in, kh, kw = kernel.shape
    p = np.pad(image, ((0, 0), (padding, padding), (padding, padding)))
    ho = (p.shape[1] - kh) // stride + 1
    wo = (p.shape[2] - kw) // stride + 1
    out = np.zeros((c_out, ho, wo))
    for oy in range(ho):
        for ox in range(wo):
            patch = p[:, oy * stride:oy * stride + kh, ox * stride:ox * stride + kw]
            out[:, oy, ox] = (kernel * patch).sum(axis=(1, 2, 3))
    return out.ravel()


@pytest.mark.parametrize("make", [conv_graph, fc_graph])
def test_potentials_within_the_reported_weight_error(rng, make):
    # Everything the test compares with is computed here from the NIR nodes: the gains
    # (LIF r dt / tau = 8 * 1e-3 / 8e-3 = 1; the IF of conv_graph r dt = 1000 * 1e-3 = 1),
    # the scale, the float potentials at the first tick (input-first: d * g W x, with
    # d = 1 - dt/tau = 7/8 = the integer leak V - (V >> 3)); only the integer potentials
    # come from the imported network (run by the golden model).
    g = make(rng)
    bw = 7
    imp = import_nir(g, bw=bw, bv=16, dt=1e-3, leak_order="input-first")
    synapses = [n for n in g.nodes.values() if type(n).__name__ in ("Conv2d", "Linear",
                                                                    "Affine")]
    neurons = [n for n in g.nodes.values() if type(n).__name__ in ("IF", "LIF")]
    assert len(synapses) == len(imp.network.layers) == 2
    ev = random_events(rng, imp.network.layers[0].n_in, 10, 0.25)
    compare(imp, ev)
    run = imp.network.run(ev)
    inputs = [ev] + run.outputs[:-1]
    for node, neuron, rep, layer, stream in zip(synapses, neurons, imp.report,
                                                imp.network.layers, inputs):
        w = np.asarray(node.weight, dtype=float)           # gain 1 in both graphs
        s = np.abs(w).max() / (2 ** (bw - 1) - 1)
        assert rep.scale == pytest.approx(s, rel=1e-12)
        first = split_steps(stream)[0][0] if split_steps(stream) else np.zeros(0, int)
        x = np.bincount(first, minlength=layer.n_in).astype(float)
        if type(node).__name__ == "Conv2d":
            v_float = direct_conv(x.reshape(layer.in_shape), w, 2, 1)
        else:
            v_float = w @ x
        _, v_int = run_layer(layer, first)                  # no tick: before any fire
        leaky = type(neuron).__name__ == "LIF"
        if leaky:
            v_float, v_int = 0.875 * v_float, v_int - (v_int >> 3)
        err = float(np.abs(s * v_int - v_float).max()) if v_float.size else 0.0
        assert rep.potential_max_err == pytest.approx(err, abs=1e-9)
        # each weight off by <= s/2, and the floor of the shift by < 1
        assert err <= len(first) * s / 2 + (s if leaky else 0) + 1e-9
        assert rep.weight_max_err <= s / 2 + 1e-12            # rounding to nearest
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
        nir.Linear(weight=w1),
        nir.IF(r=np.full(6, 1000.0), v_threshold=np.array([3., 4, 5, 6, 7, 8])),  # gain 1
        nir.Linear(weight=w2), lif((3,), tau=0.004, r=4.0, th=6.0))
    imp = import_nir(g, bw=4, bv=12, dt=0.001, leak_order="input-first")
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
    assert imp.network.layers[0].thresholds.tolist() == [4, 5, 6, 7, 8, 9]   # strict: +1


def if_graph(weight, v_th, n_in=2):
    weight = np.atleast_2d(np.asarray(weight, dtype=float))
    n = weight.shape[0]
    return nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([n_in])}),
                                  nir.Linear(weight=weight),
                                  nir.IF(r=np.full(n, 1000.0), v_threshold=np.full(n, v_th)))


def test_threshold_is_strict_as_nir_defines_it():
    # gain r dt = 1, weights 1 with bw = 2: scale 1. Step 0 brings v to exactly
    # v_threshold = 2 (no spike: NIR fires on v > v_threshold), step 1 to 3 (spike).
    imp = import_nir(if_graph([[1.0, 1.0]], 2.0), bw=2, bv=8, dt=1e-3)
    assert imp.report[0].scale == 1.0
    assert imp.network.layers[0].config.threshold == 3        # V >= 3  <=>  V > 2
    ev = np.array([0, 1, TICK, 0, TICK])
    assert imp.network.run(ev).outputs[0].tolist() == [TICK, 0, TICK]
    assert float_run(imp.float_layers, ev)[0][0].tolist() == [TICK, 0, TICK]


@pytest.mark.parametrize("w, v_th, theta", [
    (0.1, 0.7, 8),     # 0.7 / 0.1 = 6.999999999999999 in floats: an exact multiple
    (0.3, 0.9, 4),     # 0.9 / 0.3 = 3.0000000000000004: an exact multiple
    (0.1, 0.75, 8),    # 7.5: V > 7.5 <=> V >= 8
    (1.0, -2.5, -2),   # negative: V > -2.5 <=> V >= -2
    (1.0, -2.0, -1),
])
def test_integer_threshold_is_floor_plus_one(w, v_th, theta):
    imp = import_nir(if_graph([[w]], v_th, n_in=1), bw=2, bv=8, dt=1e-3)
    assert imp.report[0].scale == pytest.approx(w)
    assert imp.network.layers[0].config.threshold == theta


def test_one_bit_weights_are_rejected(tmp_path, capsys):
    g = if_graph([[0.5, -0.5]], 1.0)
    with pytest.raises(ValueError, match=r"`bw` of layer 'linear' must be in \[2, 32\] for "
                                         r"NIR import .*not 1"):
        import_nir(g, bw=1, bv=8, dt=1e-3)
    from flexspim.cli import main
    nir.write(tmp_path / "m.nir", g)
    assert main(["map", str(tmp_path / "m.nir"), "--bw", "1", "--bv", "8", "--dt", "1e-3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: `bw` of layer 'linear' must be in [2, 32]")


def test_nodes_off_the_chain_are_rejected():
    nodes = {"input": nir.Input(input_type={"input": np.array([2])}),
             "linear": nir.Linear(weight=np.ones((2, 2))),
             "if": nir.IF(r=np.ones(2), v_threshold=np.ones(2)),
             "output": nir.Output(output_type={"output": np.array([2])}),
             "extra": nir.Linear(weight=np.ones((2, 2)))}
    chain = [("input", "linear"), ("linear", "if"), ("if", "output")]
    # a synapse feeding the chain that the Input does not reach
    g = nir.NIRGraph(nodes=nodes, edges=chain + [("extra", "if")], type_check=False)
    with pytest.raises(ValueError, match=r"NIR node 'if' has 2 incoming edges \(from 'linear', "
                                         r"'extra'\)"):
        import_nir(g)
    # a node connected to nothing
    g = nir.NIRGraph(nodes=nodes, edges=chain, type_check=False)
    with pytest.raises(ValueError, match=r"NIR node\(s\) 'extra' are not on the chain from "
                                         r"the Input 'input'"):
        import_nir(g)


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
                   "Flatten, SumPool2d, AvgPool2d, Linear, Affine, Conv2d, IF, LIF, CubaLIF"]


def test_cli_maps_a_nir_file(tmp_path, rng, capsys):
    from flexspim.cli import main
    nir.write(tmp_path / "m.nir", fc_graph(rng))
    assert main(["map", str(tmp_path / "m.nir"), "--bw", "8", "--bv", "14", "--steps", "4",
                 "--dt", "1e-3", "--json"]) == 0
    captured = capsys.readouterr()
    assert '"total_energy_pj"' in captured.out
    assert "weight err max" in captured.err          # the quantization report


def test_exp_discretization_is_the_exact_step(rng, tmp_path):
    # Sinabs' LIF: v = exp(-dt/tau) v + (1 - exp(-dt/tau)) r I, computed here by hand and
    # compared with the import's float reference ("exp") and with NIR's Euler step
    w = rng.normal(0.5, 1, (3, 4))
    g = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([4])}),
                               nir.Linear(weight=w), lif((3,), tau=8.0, r=1.0, th=0.4))
    ev = random_events(rng, 4, 12, 0.5, repeat=0)
    d = np.exp(-1 / 8)

    def by_hand(decay, gain):
        v, out = np.zeros(3), []
        for step, _ in split_steps(ev):
            x = np.bincount(step, minlength=4)[:4]
            v = decay * v + gain * (w @ x)
            s = v > 0.4
            v[s] = 0.0
            out.append(np.flatnonzero(s))
        return out

    for disc, decay, gain in (("exp", d, 1 - d), ("euler", 7 / 8, 1 / 8)):
        imp = import_nir(g, dt=1.0, discretization=disc)
        assert imp.settings["discretization"] == disc
        assert imp.float_layers[0].decay == pytest.approx(decay, rel=1e-12)
        got = float_run(imp.float_layers, ev)[0][0]
        expect = by_hand(decay, gain)
        assert [list(s) for s, _ in split_steps(got)] == [list(s) for s in expect], disc
        assert imp.network.layers[0].config.leak == 3       # both round to V - (V >> 3)
    assert import_nir(g, preset="sinabs").settings["discretization"] == "exp"
    assert import_nir(g, preset="snntorch", dt=1.0).settings["discretization"] == "euler"
    with pytest.raises(ValueError, match="`discretization` must be one of euler, exp"):
        import_nir(g, dt=1.0, discretization="rk4")


def test_discretization_option_is_kept_in_the_network_file(rng, tmp_path):
    from flexspim.cli import main
    from flexspim.frontend.netfile import import_settings

    g = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([4])}),
                               nir.Linear(weight=rng.normal(0.5, 1, (3, 4))),
                               lif((3,), tau=8.0, r=1.0, th=0.4))
    nir.write(tmp_path / "m.nir", g)
    assert main(["import", str(tmp_path / "m.nir"), "-o", str(tmp_path / "n.toml"), "--dt",
                 "1", "--discretization", "exp"]) == 0
    st = import_settings(tmp_path / "n.toml")
    assert st["discretization"] == "exp"
    assert st["layers"][0]["decay_float"] == pytest.approx(np.exp(-1 / 8))


#: Every NIR node the import refuses (docs/mapper.md section 9 lists them), with a builder
UNSUPPORTED = {
    "LI": lambda n: nir.LI(tau=np.full(n, 8e-3), r=np.ones(n), v_leak=np.zeros(n)),
    "I": lambda n: nir.I(r=np.ones(n)),
    "Scale": lambda n: nir.Scale(scale=np.ones(n)),
    "Threshold": lambda n: nir.Threshold(threshold=np.ones(n)),
    "Delay": lambda n: nir.Delay(delay=np.ones(n)),
    "CubaLI": lambda n: nir.CubaLI(tau_syn=np.full(n, 1e-3), tau_mem=np.full(n, 8e-3),
                                   r=np.ones(n), v_leak=np.zeros(n)),
    "Conv1d": lambda n: nir.Conv1d(input_shape=n, weight=np.ones((1, n, 1)), stride=1,
                                   padding=0, dilation=1, groups=1, bias=np.zeros(1)),
}


def test_every_nir_node_is_supported_or_refused_in_one_line():
    import inspect

    from flexspim.frontend.nir_import import _SUPPORTED

    kinds = {k for k, c in vars(nir).items() if inspect.isclass(c)
             and issubclass(c, nir.NIRNode) and k not in ("NIRNode", "NIRGraph")}
    # a NIR release with a new node fails here until the table (and UNSUPPORTED) says
    assert kinds == set(_SUPPORTED) | set(UNSUPPORTED), kinds ^ (set(_SUPPORTED) |
                                                                 set(UNSUPPORTED))
    n = 3
    for kind, make in UNSUPPORTED.items():
        first = [nir.Input(input_type={"input": np.array([n])}),
                 nir.Linear(weight=np.ones((n, n))), lif((n,))]
        if kind == "Conv1d":           # (channels, length) in: after an Input of that shape
            first = [nir.Input(input_type={"input": np.array([n, n])})]
        g = nir.NIRGraph.from_list(*first, make(n))
        with pytest.raises(ValueError, match=rf"\({kind}\) is not supported") as e:
            import_nir(g, dt=1e-3)
        assert "\n" not in str(e.value)
