"""System golden model driven by the register-level driver, against the network reference."""

import asyncio

import numpy as np
import pytest

from flexspim.config import CoreConfig, MacroConfig, SystemConfig
from flexspim.golden.batching import TICK
from flexspim.golden.network import Network
from flexspim.golden.system import SystemModel, merge_streams
from flexspim.testbench.system_driver import GoldenBackend, SystemDriver

T = TICK


def random_network(rng, system: SystemConfig, n_layers: int) -> Network:
    """Random FC chain that fits one layer per core (mixed resolutions, one saturating and
    one wrapping layer at least)."""
    from flexspim.testbench.network_gen import random_fc_network

    return random_fc_network(rng, system, n_layers)


def test_merge_streams_serializes_steps_in_port_order():
    a = np.array([1, 2, T, 3, T, 9])
    b = np.array([7, T, T, 8])
    assert merge_streams([a, b]).tolist() == [1, 2, 7, T, 3, T, 9]
    assert merge_streams([b, a]).tolist() == [7, 1, 2, T, 3, T, 8]
    assert merge_streams([]).tolist() == []


@pytest.mark.parametrize("n_cores, n_layers", [(2, 2), (3, 3), (3, 2)])
def test_system_model_equals_network_reference(rng, regress, n_cores, n_layers):
    for trial in range(20 if regress else 5):
        system = SystemConfig(CoreConfig(MacroConfig(rows=64, cols=8, batch_max=4),
                                         fifo_depth=4, index_bits=10), n_cores=n_cores)
        net = random_network(rng, system, n_layers)
        ev = rng.integers(0, net.layers[0].n_in, size=400)
        ev[rng.random(ev.size) < 0.1] = TICK
        ev = np.append(ev, TICK)
        drv = SystemDriver(GoldenBackend(system), system)

        async def go():
            await drv.load(net, monitor=True)
            return await drv.run(ev)
        run = asyncio.run(go())
        ref = net.run(ev, batch_max=system.core.macro.batch_max)
        for i in range(n_layers):
            assert run.layers[i].tolist() == ref.outputs[i].tolist(), f"trial {trial} layer {i}"
            assert run.potentials[i].tolist() == ref.potentials[i].tolist()


def test_system_model_rejects_backward_routes_and_counts_drops():
    system = SystemConfig(CoreConfig(MacroConfig(rows=16, cols=2, batch_max=1), index_bits=3),
                          n_cores=2)
    m = SystemModel(system)
    m.write_reg(2, "ROUTE_1", 0b10)     # core 0 -> core 1
    m.order()
    m.write_reg(2, "ROUTE_2", 0b01)     # core 1 -> core 0: backwards
    with pytest.raises(ValueError, match="`ROUTE_2` sends core 1's events to core 0"):
        m.order()
    m = SystemModel(system)
    m.write_reg(2, "ROUTE_0", 0b100)    # external input straight to the output
    m.write_reg(2, "OFFSET_0_2", 5)
    out = m.run([1, 2, 3, T])            # 3 + 5 = 8 does not fit 3 bits: dropped
    assert out.tolist() == [6, 7, T]
    assert m.read_reg(2, "DROPPED") == 1
    assert not m.write_reg(2, "ROUTE_0", 8) and m.read_reg(2, "STATUS") >> 2 & 1
