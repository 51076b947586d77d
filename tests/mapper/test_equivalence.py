"""Level 3: mapper programs run on the level-2 macro model equal the level-1 reference,
bit for bit (every output event, every final potential)."""

import numpy as np
import pytest

from flexspim.config import MacroConfig
from flexspim.frontend.randnet import random_events, random_network
from flexspim.golden.batching import TICK
from flexspim.golden.network import NetworkRun
from flexspim.mapper.executor import RecordingSink, dry_run, execute, first_mismatch, replay
from flexspim.mapper.hardware import HardwareConfig
from flexspim.mapper.placement import Infeasible, place_layer
from flexspim.mapper.tiling import tile_layer


def check_equal(rng, kinds, dataflow, saturate, tiled, need):
    """Draw networks and geometries until ``need`` of them place; check each one.

    Returns the placement modes seen and the largest macro count of a layer.
    """
    modes, done, most_macros = set(), 0, 0
    for attempt in range(need * 20):
        net = random_network(rng, kinds, n_layers=int(rng.integers(1, 4)), max_width=20,
                             max_bits=10, saturate=saturate)
        if tiled:   # few columns and rows: several tiles, macros, swaps or streams
            cols, rows = int(rng.integers(1, 5)), int(rng.integers(8, 120))
        else:       # every layer in one tile of one macro
            cols, rows = 64, 4096
        P = int(rng.integers(1, 7))
        hw = HardwareConfig(MacroConfig(rows=rows, cols=cols, batch_max=P))
        try:
            pls = [place_layer(tile_layer(layer, cols), hw, dataflow) for layer in net.layers]
        except Infeasible:
            continue
        if not tiled:
            assert all(len(p.macros) == 1 and p.mode == "resident" for p in pls)
        ev = random_events(rng, net.layers[0].n_in, int(rng.integers(1, 8)),
                           float(rng.uniform(0.05, 0.6)))
        if rng.random() < 0.3:        # events after the last tick: integrated, not fired
            ev = np.concatenate([ev, rng.integers(0, net.layers[0].n_in, size=3)])
        ref = net.run(ev, P)
        got = execute(pls, hw.macro, ev)
        msg = first_mismatch(ref, got.run, [layer.name for layer in net.layers])
        assert msg is None, f"{dataflow} rows={rows} cols={cols} P={P}: {msg}"
        modes |= {p.mode for p in pls}
        most_macros = max([most_macros] + [len(p.macros) for p in pls])
        done += 1
        if done == need:
            return modes, most_macros
    pytest.fail(f"only {done} of {need} random networks could be placed")


@pytest.mark.parametrize("kinds", ["fc", "conv"])
@pytest.mark.parametrize("dataflow", ["ws", "os"])
@pytest.mark.parametrize("saturate", [True, False])
@pytest.mark.parametrize("tiled", [False, True], ids=["untiled", "tiled"])
def test_program_equals_reference(rng, regress, kinds, dataflow, saturate, tiled):
    modes, most_macros = check_equal(rng, kinds, dataflow, saturate, tiled,
                                    40 if regress else 15)
    assert (most_macros > 1) == tiled


def test_swaps_and_streams_are_exercised(rng):
    # WS conv with room for one table and two slots: positions must be swapped
    net = random_network(rng, "conv", n_layers=1, in_shape=(1, 6, 6), saturate=True)
    layer = net.layers[0]
    t = tile_layer(layer, 4)
    slot = layer.config.bv * (2 if layer.config.threshold_source == "array" else 1)
    rows = t.table_ops * layer.config.bw + 2 * slot
    hw = HardwareConfig(MacroConfig(rows=max(rows, layer.config.bv), cols=4, batch_max=3))
    pl = place_layer(t, hw, "ws")
    ev = random_events(rng, layer.n_in, 6, 0.4)
    if t.n_tiles > 2:
        assert pl.mode == "swap"
    got = execute([pl], hw.macro, ev)
    assert first_mismatch(net.run(ev, 3), got.run, ["c"]) is None
    if t.n_tiles > 2:
        assert got.counts[0].swaps > 0
    # OS fc whose table (20 inputs) cannot fit 30 rows: weights are streamed
    net = random_network(rng, "fc", n_layers=1, max_width=20)
    layer = net.layers[0]
    cfg = layer.config
    slot = cfg.bv * (2 if cfg.threshold_source == "array" else 1)
    rows = 2 * cfg.bw + slot
    if layer.n_in * cfg.bw + slot > rows:
        hw = HardwareConfig(MacroConfig(rows=rows, cols=3, batch_max=2))
        pl = place_layer(tile_layer(layer, 3), hw, "os")
        assert pl.mode == "stream"
        ev = random_events(rng, layer.n_in, 5, 0.5)
        got = execute([pl], hw.macro, ev)
        assert first_mismatch(net.run(ev, 2), got.run, ["f"]) is None
        c = got.counts[0]
        assert c.stream_ops > 0 and c.swaps == 0
        assert c.moved_bits == c.sops * cfg.bw      # every streamed weight is used once


def test_dry_run_counts_equal_executed_counts(rng):
    for _ in range(6):
        net = random_network(rng, str(rng.choice(["fc", "conv"])), n_layers=3)
        hw = HardwareConfig(MacroConfig(rows=int(rng.integers(40, 200)),
                                        cols=int(rng.integers(1, 6)), batch_max=4))
        df = str(rng.choice(["ws", "os"]))
        try:
            pls = [place_layer(tile_layer(layer, hw.macro.cols), hw, df) for layer in net.layers]
        except Infeasible:
            continue
        ev = random_events(rng, net.layers[0].n_in, 5, 0.3)
        ref = net.run(ev, 4)
        inputs = [ev] + ref.outputs[:-1]
        assert dry_run(pls, hw.macro, inputs) == execute(pls, hw.macro, ev).counts


def test_sops_count_every_synapse(rng):
    # SOPs of a run = sum over events of the neurons each event reaches (dense count)
    net = random_network(rng, "conv", n_layers=1)
    layer = net.layers[0]
    dense = layer.dense_weights()
    reach = np.zeros(layer.n_in, np.int64)
    t = tile_layer(layer, 64)
    for s in range(layer.n_in):
        tiles, _, _ = t.reach([s])
        reach[s] = t.tile_width[tiles].sum()
    # a neuron is reached through a tap even when the tap's weight is 0; never through padding
    assert np.all(reach >= (dense != 0).sum(axis=0))
    ev = random_events(rng, layer.n_in, 4, 0.5)
    hw = HardwareConfig(MacroConfig(rows=4096, cols=64, batch_max=4))
    counts = execute([place_layer(t, hw, "ws")], hw.macro, ev).counts[0]
    assert counts.sops == reach[ev[ev != TICK]].sum()


def test_mismatch_report_names_layer_step_neuron():
    ref = NetworkRun([np.array([1, 2, TICK, 3, TICK])], [np.array([0, 5, 0, 0])])
    got = NetworkRun([np.array([1, 2, TICK, TICK])], [np.array([0, 5, 0, 0])])
    assert first_mismatch(ref, got, ["L"]) == \
        "layer 'L', time step 1, neuron 3: spikes only in the reference run"
    got = NetworkRun([np.array([1, 2, TICK, 3, TICK])], [np.array([0, 4, 0, 0])])
    assert first_mismatch(ref, got, ["L"]) == \
        "layer 'L', neuron 1: final potential 5 in the reference, 4 in the program"
    assert first_mismatch(ref, ref, ["L"]) is None


def test_recorded_program_replays_to_the_same_array(rng):
    net = random_network(rng, "conv", n_layers=2, saturate=True)
    hw = HardwareConfig(MacroConfig(rows=96, cols=3, batch_max=3))
    try:
        pls = [place_layer(tile_layer(layer, 3), hw, "ws") for layer in net.layers]
    except Infeasible:
        pls = [place_layer(tile_layer(layer, 3), hw, "os") for layer in net.layers]
    n = sum(len(p.macros) for p in pls)
    sink = RecordingSink(hw.macro, n)
    ev = random_events(rng, net.layers[0].n_in, 4, 0.4)
    got = execute(pls, hw.macro, ev, sink)
    assert first_mismatch(net.run(ev, 3), got.run, ["a", "b"]) is None
    kinds = {op[0] for op in sink.ops}
    assert {"load", "accumulate", "fire"} <= kinds
    for a, b in zip(replay(sink.ops, hw.macro, n), sink.macros):
        assert np.array_equal(a.bits, b.bits)
