"""The hybrid choice: never above the better feasible uniform dataflow; budgets respected."""

import numpy as np
import pytest

from flexspim.config import LayerConfig, MacroConfig
from flexspim.frontend.randnet import random_events, random_network
from flexspim.golden.layers import ConvLayer, FCLayer
from flexspim.golden.network import Network
from flexspim.mapper.hardware import HardwareConfig
from flexspim.mapper.plan import NoFeasibleMapping, plan_network


def test_hybrid_never_above_the_better_uniform(rng, regress):
    checked = 0
    for _ in range(60 if regress else 20):
        net = random_network(rng, str(rng.choice(["fc", "conv"])), n_layers=int(rng.integers(1, 5)))
        hw = HardwareConfig(MacroConfig(rows=int(rng.integers(30, 300)),
                                        cols=int(rng.integers(1, 9)), batch_max=4),
                            cores=int(rng.integers(1, 12)),
                            buffer_bits=int(rng.integers(0, 4000)))
        ev = random_events(rng, net.layers[0].n_in, 4, 0.3)
        try:
            plan = plan_network(net, hw, ev, "hybrid")
        except ValueError as e:
            assert "no feasible hybrid mapping" in str(e)
            continue
        t = plan.totals()
        uniform = [x for x in (t["ws"], t["os"]) if x is not None]
        if uniform:
            assert t["hybrid"] <= min(uniform) * (1 + 1e-12)
        assert plan.choice.macros <= hw.cores
        checked += 1
    assert checked >= 5


def test_infeasible_hybrid_means_no_uniform_either(rng):
    net = random_network(rng, "conv", n_layers=3)
    ev = random_events(rng, net.layers[0].n_in, 3, 0.3)
    hw = HardwareConfig(MacroConfig(rows=4096, cols=64, batch_max=4), cores=2)
    with pytest.raises(NoFeasibleMapping, match="no feasible hybrid mapping on 2 cores"):
        plan_network(net, hw, ev)


def test_infeasible_message_names_the_layers_a_dataflow_cannot_place():
    # fc table 128 x 2 = 256 rows + a 6-row slot: WS cannot place "f" on 64-row macros, so
    # the message must not count WS macros over the other layers only
    net = small_conv_net()
    hw = HardwareConfig(MacroConfig(rows=64, cols=4, batch_max=4), cores=1)
    with pytest.raises(NoFeasibleMapping) as e:
        plan_network(net, hw, np.array([0, -1]))
    msg = str(e.value)
    assert msg.startswith("no feasible hybrid mapping on 1 cores of 64 x 4 (uniform WS is "
                          "infeasible for f; uniform OS needs ")
    assert "f: WS: " in msg
    with pytest.raises(NoFeasibleMapping, match=r"no feasible mapping for the per-layer "
                                                r"`dataflow` ws,os on 1 cores"):
        plan_network(net, hw, np.array([0, -1]), ["ws", "os"])


def small_conv_net():
    cfg = LayerConfig(bw=2, bv=6, threshold=2)
    w = np.ones((2, 1, 3, 3), int)
    conv = ConvLayer(w, (1, 8, 8), cfg, padding=1, name="c")        # 64 tiles of 2 columns
    fc = FCLayer(np.ones((3, 128), int) - 1, cfg, name="f")
    return Network([conv, fc])


def test_budget_forces_weight_stationary_and_buffer_goes_to_dram():
    net = small_conv_net()
    ev = np.array([0, 9, 18, -1, 27, 36, -1])
    # 64 rows: the conv table takes 18 rows, slots of 6 rows -> 7 slots per macro
    macro = MacroConfig(rows=64, cols=4, batch_max=4)
    roomy = plan_network(net, HardwareConfig(macro, cores=64), ev)
    assert roomy.choice.dataflows[0] == "os" and roomy.options[0]["os"].macros == 10
    assert roomy.options[0]["ws"].placement.mode == "swap"
    tight = plan_network(net, HardwareConfig(macro, cores=3, buffer_bits=0), ev)
    assert tight.choice.dataflows[0] == "ws" and tight.totals()["os"] is None
    assert tight.choice.backings[0] == "dram"              # no buffer: swaps go off chip
    buffered = plan_network(net, HardwareConfig(macro, cores=3), ev)
    assert buffered.choice.backings[0] == "buffer"
    assert buffered.choice.total < tight.choice.total


def test_user_choice_per_layer():
    net = small_conv_net()
    ev = np.array([0, 9, -1])
    hw = HardwareConfig(MacroConfig(rows=64, cols=4, batch_max=4), cores=64)
    plan = plan_network(net, hw, ev, ["ws", "auto"])
    assert plan.choice.dataflows[0] == "ws"
    with pytest.raises(ValueError, match="must list 2 values"):
        plan_network(net, hw, ev, ["ws"])
    with pytest.raises(ValueError, match="`dataflow` must be one of hybrid, ws, os"):
        plan_network(net, hw, ev, "both")
