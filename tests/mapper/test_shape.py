"""`mapper.shape`: the per-layer operand-shape rule and the shaped fit (issue 20)."""

import numpy as np
import pytest

from flexspim.config import CoreConfig, LayerConfig, MacroConfig
from flexspim.golden.layers import FCLayer
from flexspim.golden.network import Network
from flexspim.mapper.fit import DoesNotFit, system_fit
from flexspim.mapper.shape import choose_operand_cols, shape_cost, with_operand_cols

CFG = LayerConfig(bw=4, bv=16, threshold=5)


def core(M, rows=256, cols=16, P=1):
    return CoreConfig(MacroConfig(rows=rows, cols=cols, batch_max=P, max_operand_cols=M))


def net(*sizes, cfg=CFG):
    rng = np.random.default_rng(0)
    return Network([FCLayer(rng.integers(-8, 8, (o, i)), cfg, name=f"l{k}")
                    for k, (i, o) in enumerate(zip(sizes, sizes[1:]))])


def test_vertical_macro_keeps_every_layer_vertical():
    assert choose_operand_cols(net(10, 16, 4), core(1)) == [1, 1]


def test_a_layer_within_one_slot_takes_the_widest_shape():
    # 4 neurons fit one slot at every N_C <= 4: one accumulate of ceil(16/N_C) rows
    assert choose_operand_cols(net(10, 4), core(4)) == [4]


def test_the_rule_is_the_cheapest_shape_without_more_cores():
    c = core(8, rows=128)
    network = net(12, 16, 16)
    got = choose_operand_cols(network, c)
    for layer, n_c in zip(network.layers, got):
        base = system_fit(Network([layer]), c).layers[0]
        costs = {}
        for t in range(4):
            cand = with_operand_cols(Network([layer]), [1 << t]).layers[0]
            try:
                fit = system_fit(Network([cand]), c).layers[0]
            except DoesNotFit:
                continue
            if fit.cores <= base.cores:
                costs[1 << t] = shape_cost(cand, c, max(n for _, n in fit.chunks))
        best = min(costs.values())
        assert n_c == min(k for k, v in costs.items() if v == best), (costs, n_c)


def test_shaped_fit_counts_shaped_rows_and_neurons_per_slot():
    c = core(4, rows=64, cols=8)
    layer = with_operand_cols(net(6, 8), [2]).layers[0]
    fit = system_fit(Network([layer]), c).layers[0]
    # per slot: V ceil(16/2) = 8 rows + 6 inputs x ceil(4/2) = 12 -> 20 rows, 3 slots of
    # 8 // 2 = 4 neurons
    assert (fit.slot_rows, fit.slots, fit.neurons_per_core) == (20, 3, 12)


def test_a_shape_above_the_macro_maximum_is_refused_naming_the_resource():
    layer = with_operand_cols(net(6, 8), [4]).layers[0]
    with pytest.raises(DoesNotFit, match=r"operand_cols=4 but the macro's max_operand_cols "
                                         r"is 2") as e:
        system_fit(Network([layer]), core(2))
    assert e.value.resource == "operand shape" and e.value.layer == 0
