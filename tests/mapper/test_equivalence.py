"""Level 3: mapper programs run on the level-2 macro model equal the level-1 reference,
bit for bit (every output event, the potentials before and after every fire, the final
potentials)."""

import numpy as np
import pytest

from flexspim.config import LayerConfig, MacroConfig
from flexspim.frontend.randnet import random_events, random_network
from flexspim.golden.batching import TICK
from flexspim.golden.layers import ConvLayer, FCLayer
from flexspim.golden.network import Network
from flexspim.mapper.executor import (
    MacroSink,
    RecordingSink,
    Trace,
    dry_run,
    execute,
    first_mismatch,
    reference_trace,
    replay,
)
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
        ref = reference_trace(net, ev, P)
        got = execute(pls, hw.macro, ev)
        msg = first_mismatch(ref, got.trace, [layer.name for layer in net.layers])
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


@pytest.mark.parametrize("source", ["register", "array"])
def test_ws_swaps_are_exercised(rng, source):
    # WS conv, 1 x 6 x 6 input, 3 channels on 4 columns: 36 tiles share one 9-operand table
    # (27 rows of 3-bit weights); rows for the table and exactly two slots: tiles are swapped
    cfg = LayerConfig(bw=3, bv=8, saturate=True, leak_mode="shift", leak=2, threshold=5,
                      threshold_source=source)
    th = rng.integers(1, 8, size=3 * 36) if source == "array" else None
    layer = ConvLayer(rng.integers(-4, 4, size=(3, 1, 3, 3)), (1, 6, 6), cfg, padding=1,
                      thresholds=th, name="c")
    slot = 8 * (2 if source == "array" else 1)
    hw = HardwareConfig(MacroConfig(rows=27 + 2 * slot, cols=4, batch_max=3))
    pl = place_layer(tile_layer(layer, 4), hw, "ws")
    assert pl.mode == "swap" and pl.macros[0].n_slots == 2
    ev = random_events(rng, layer.n_in, 6, 0.4)
    got = execute([pl], hw.macro, ev)
    assert first_mismatch(reference_trace(Network([layer]), ev, 3), got.trace, ["c"]) is None
    assert got.counts[0].swaps > 0 and got.counts[0].stream_ops == 0


def test_os_streams_are_exercised(rng):
    # OS fc, 20 inputs x 3-bit weights = 60 rows of table, but 14 rows: one 8-row slot and a
    # 2 x 3-row staging area, so every accumulate streams its weights in
    cfg = LayerConfig(bw=3, bv=8, saturate=True, threshold=6)
    layer = FCLayer(rng.integers(-4, 4, size=(7, 20)), cfg, name="f")
    hw = HardwareConfig(MacroConfig(rows=14, cols=3, batch_max=2))
    pl = place_layer(tile_layer(layer, 3), hw, "os")
    assert pl.mode == "stream"
    ev = random_events(rng, layer.n_in, 5, 0.5)
    got = execute([pl], hw.macro, ev)
    assert first_mismatch(reference_trace(Network([layer]), ev, 2), got.trace, ["f"]) is None
    c = got.counts[0]
    assert c.stream_ops > 0 and c.swaps == 0
    assert c.moved_bits == c.sops * cfg.bw      # every streamed weight is used once


def test_dry_run_counts_equal_executed_counts(rng):
    checked = 0
    for _ in range(30):
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
        checked += 1
        if checked == 6:
            return
    pytest.fail(f"only {checked} of 6 random networks could be placed")


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
    z = np.zeros((2, 4), np.int64)
    ref = Trace([np.array([1, 2, TICK, 3, TICK])], [z], [z], [np.zeros(4, np.int64)])
    got = ref._replace(outputs=[np.array([1, 2, TICK, TICK])])
    assert first_mismatch(ref, got, ["L"]) == \
        "layer 'L', time step 1, neuron 3: spikes only in the reference run"
    pre = z.copy()
    pre[1, 2] = 7
    assert first_mismatch(ref, ref._replace(pre_fire=[pre]), ["L"]) == \
        "layer 'L', time step 1, neuron 2: potential before the fire 0 in the reference, " \
        "7 in the program"
    assert first_mismatch(ref, ref._replace(potentials=[np.array([0, 4, 0, 0])]), ["L"]) == \
        "layer 'L', time step 2 (events after the last tick), neuron 1: final potential 0 " \
        "in the reference, 4 in the program"
    assert first_mismatch(ref, ref, ["L"]) is None


class DropOneAccumulate(MacroSink):
    """A faulty macro: accumulate number ``k`` (0-based, program order) is not executed."""

    def __init__(self, macro, n_macros, k):
        super().__init__(macro, n_macros)
        self.k, self.seen = k, 0

    def accumulate(self, macro, op, mask):
        if self.seen != self.k:
            super().accumulate(macro, op, mask)
        self.seen += 1


def test_an_injected_fault_is_reported_with_its_time_step():
    # one fc layer, all weights 1, threshold never reached, P = 1: accumulates are, in
    # order, step 0 source 0 (#0), step 1 source 1 (#1), step 2 sources 2 (#2) and 3 (#3).
    # Dropping #2 leaves every neuron at 3 instead of 4 before the fire of step 2.
    cfg = LayerConfig(bw=2, bv=8, threshold=100)
    net = Network([FCLayer(np.ones((3, 4), np.int64), cfg, name="f")])
    hw = HardwareConfig(MacroConfig(rows=64, cols=4, batch_max=1))
    pl = place_layer(tile_layer(net.layers[0], 4), hw, "ws")
    ev = np.array([0, TICK, 1, TICK, 2, 3, TICK, TICK])
    ref = reference_trace(net, ev, 1)
    assert ref.pre_fire[0][:, 0].tolist() == [1, 2, 4, 4]
    ok = execute([pl], hw.macro, ev)
    assert first_mismatch(ref, ok.trace, ["f"]) is None
    bad = execute([pl], hw.macro, ev, DropOneAccumulate(hw.macro, 1, 2))
    assert first_mismatch(ref, bad.trace, ["f"]) == \
        "layer 'f', time step 2, neuron 0: potential before the fire 4 in the reference, " \
        "3 in the program"
    # a fault in the first of two layers is reported there, not in the layer it feeds
    net2 = Network([FCLayer(np.ones((3, 4), np.int64), LayerConfig(bw=2, bv=8, threshold=2),
                            name="a"),
                    FCLayer(np.ones((2, 3), np.int64), cfg, name="b")])
    pls = [place_layer(tile_layer(layer, 4), hw, "ws") for layer in net2.layers]
    bad = execute(pls, hw.macro, ev, DropOneAccumulate(hw.macro, 2, 1))
    msg = first_mismatch(reference_trace(net2, ev, 1), bad.trace, ["a", "b"])
    assert msg.startswith("layer 'a', time step 1, neuron 0: potential before the fire 2 "), msg


def test_reference_trace_agrees_with_the_network_run(rng):
    net = random_network(rng, "conv", n_layers=2, saturate=True)
    ev = np.concatenate([random_events(rng, net.layers[0].n_in, 5, 0.4), [0, 1]])
    run, tr = net.run(ev, 3), reference_trace(net, ev, 3)
    for i in range(2):
        assert tr.outputs[i].tolist() == run.outputs[i].tolist()
        assert tr.potentials[i].tolist() == run.potentials[i].tolist()
        assert tr.pre_fire[i].shape == tr.post_fire[i].shape == (5, net.layers[i].n_out)


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
    assert first_mismatch(reference_trace(net, ev, 3), got.trace, ["a", "b"]) is None
    kinds = {op[0] for op in sink.ops}
    assert {"load", "accumulate", "fire"} <= kinds
    for a, b in zip(replay(sink.ops, hw.macro, n), sink.macros):
        assert np.array_equal(a.bits, b.bits)


def test_shaped_programs_equal_the_reference(rng, regress):
    """Issue 20: layers at random operand shapes (N_C up to the macro's maximum), tiled,
    WS and OS, swaps and streams: level 3 equals level 1 bit for bit."""
    from dataclasses import replace

    modes, done = set(), 0
    need = 40 if regress else 12
    for attempt in range(need * 30):
        net = random_network(rng, str(rng.choice(["fc", "conv"])),
                             n_layers=int(rng.integers(1, 3)), max_width=16, max_bits=10,
                             saturate=bool(rng.integers(0, 2)))
        cols = int(rng.choice([2, 4, 5, 8]))
        M = 1 << int(rng.integers(1, (min(cols, 8)).bit_length()))
        rows, P = int(rng.integers(8, 80)), int(rng.integers(1, 5))
        hw = HardwareConfig(MacroConfig(rows=rows, cols=cols, batch_max=P, max_operand_cols=M))
        try:
            net = Network([replace(la, config=replace(
                la.config, operand_cols=1 << int(rng.integers(0, M.bit_length()))))
                for la in net.layers])
        except ValueError:
            continue
        dataflow = str(rng.choice(["ws", "os"]))
        try:
            pls = [place_layer(tile_layer(layer, cols), hw, dataflow) for layer in net.layers]
        except Infeasible:
            continue
        ev = random_events(rng, net.layers[0].n_in, int(rng.integers(1, 8)),
                           float(rng.uniform(0.05, 0.6)))
        ref = reference_trace(net, ev, P)
        got = execute(pls, hw.macro, ev)
        shapes = [la.config.operand_cols for la in net.layers]
        msg = first_mismatch(ref, got.trace, [layer.name for layer in net.layers])
        assert msg is None, f"{dataflow} rows={rows} cols={cols} P={P} shapes={shapes}: {msg}"
        modes |= {(p.mode, p.tiling.operand_cols > 1) for p in pls}
        done += 1
        if done == need:
            break
    assert done == need, f"only {done} shaped networks placed"
    assert any(shaped for _, shaped in modes), modes
