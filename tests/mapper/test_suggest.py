"""`mapper.suggest`: a refused network gets the smallest changes that fit, each one checked by
re-running the fit (and the import, for a new ``bw``), and ``flexspim run`` accepts them.

The conv case is issue 25's Sinabs network in miniature: conv (8 x 8 x 8 neurons) -> IF ->
SumPool 2 -> Linear(128 -> 10) -> IF; the pool folds into the Linear layer, which then reads
512 inputs: 512 x 8 + 16 = 4112 rows, more than 2048 (and than MAX_ROWS = 4096)."""

import numpy as np
import pytest

from flexspim.cli import main
from flexspim.config import MAX_ROWS, CoreConfig, LayerConfig, MacroConfig
from flexspim.frontend.dataset import save_dataset
from flexspim.golden.network import FCLayer, Network
from flexspim.mapper.fit import DoesNotFit, system_fit
from flexspim.mapper.suggest import suggest, suggestion_lines

nir = pytest.importorskip("nir")

CORE = CoreConfig(macro=MacroConfig(rows=2048, cols=64, batch_max=8))


def conv_graph(rng):
    w = rng.normal(0, 1, (8, 1, 3, 3)).astype(np.float32)
    nodes = {"input": nir.Input(np.array([1, 8, 8])),
             "conv": nir.Conv2d(input_shape=(8, 8), weight=w, stride=1, padding=1,
                                dilation=1, groups=1, bias=np.zeros(8, np.float32)),
             "if1": nir.IF(r=np.ones((8, 8, 8)), v_threshold=np.ones((8, 8, 8))),
             "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                   padding=np.array([0, 0])),
             "flat": nir.Flatten(input_type={"input": np.array([8, 4, 4])}, start_dim=0),
             "fc": nir.Linear(weight=rng.normal(0, 0.3, (10, 128)).astype(np.float32)),
             "if2": nir.IF(r=np.ones(10), v_threshold=np.ones(10)),
             "output": nir.Output(np.array([10]))}
    order = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:])))


def test_conv_refusal_suggests_bw_alone_and_rows_with_bw(rng):
    from flexspim.frontend.nir_import import import_nir

    g = conv_graph(rng)
    net = import_nir(g, dt=1.0).network
    with pytest.raises(DoesNotFit) as e:
        system_fit(net, CORE)
    assert e.value.layer == 1
    found = suggest(net, CORE, None, lambda bws: import_nir(g, dt=1.0, bw=bws).network,
                    e.value.layer)
    assert [s.options for s in found] == [{"bw": [8, 3]}, {"rows": 4096, "bw": [8, 7]}]
    # each is what the fit accepts, and one bit more is refused (the smallest change)
    for s, over in zip(found, ([8, 4], [8, 8])):
        core = CoreConfig(macro=MacroConfig(rows=s.options.get("rows", 2048), cols=64,
                                            batch_max=8))
        assert system_fit(import_nir(g, dt=1.0, bw=s.options["bw"]).network, core).cores \
            == s.fit.cores
        with pytest.raises(DoesNotFit):
            system_fit(import_nir(g, dt=1.0, bw=over).network, core)
    assert "layer 1 'fc'" in suggestion_lines(found)


def test_conv_refusal_message_lists_a_configuration_run_accepts(tmp_path, rng, capsys):
    nir.write(tmp_path / "conv.nir", conv_graph(rng))
    save_dataset(tmp_path / "d.npz", [np.array([0, 5, 9, -1, 3, -1])], [1])
    args = [str(tmp_path / "conv.nir"), str(tmp_path / "d.npz"), "--dt", "1"]
    assert main(["run", *args, "-o", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.splitlines()
    refusal = [i for i, line in enumerate(err) if line.startswith("error: ")]
    assert len(refusal) == 1 and "layer 1 (fc)" in err[refusal[0]]
    lines = err[refusal[0] + 1:]
    assert [line.split("...")[1].split("(")[0].strip() for line in lines] == \
        ["--bw 8,3", "--rows 4096 --bw 8,7"]
    for k, line in enumerate(lines):
        flags = line.split("...")[1].split("(")[0].split()
        assert main(["run", *args, "-o", str(tmp_path / f"ok{k}"), *flags]) == 0


def test_a_network_file_gets_rows_and_cores_but_no_bw(rng):
    cfg = LayerConfig(bw=4, bv=12, threshold=5)
    net = Network([FCLayer(rng.integers(-7, 8, (70, 600)), cfg, name="wide")])
    with pytest.raises(DoesNotFit):               # 600 x 4 + 12 = 2412 rows > 2048
        system_fit(net, CORE)
    found = suggest(net, CORE, None)             # no rebuild: integer weights stay
    assert [s.options for s in found] == [{"rows": 4096}]
    assert found[0].fit.cores == 2               # 70 neurons, 64 columns: 2 cores
    # rows 4096 but one core: the cores dimension names the count that fits
    core = CoreConfig(macro=MacroConfig(rows=4096, cols=64, batch_max=8))
    with pytest.raises(DoesNotFit, match="needs 2 cores"):
        system_fit(net, core, 1)
    assert [s.options for s in suggest(net, core, 1)] == [{"cores": 2}]


def test_nothing_fits_is_said_in_one_line(rng):
    cfg = LayerConfig(bw=4, bv=12, threshold=5)
    net = Network([FCLayer(rng.integers(-7, 8, (4, 1100)), cfg, name="huge")])
    assert 1100 * 4 + 12 > MAX_ROWS
    found = suggest(net, CORE, None)
    assert found == []
    assert suggestion_lines(found).startswith("no single change")
