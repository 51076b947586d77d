"""Core golden model against the level-1 network reference, and its controller rules."""

import numpy as np

from flexspim.config import CoreConfig, FCLayout, LayerConfig, MacroConfig
from flexspim.golden.batching import TICK
from flexspim.golden.core import CoreModel
from flexspim.golden.cycles import accumulate_cycles, fire_cycles
from flexspim.golden.layers import FCLayer
from flexspim.golden.network import run_layer


def random_case(rng, max_rows=96):
    """A random layer that fits a random core (retries until it does)."""
    while True:
        P = int(rng.integers(1, 9))
        cols = int(rng.integers(1, 17))
        rows = int(rng.integers(8, max_rows + 1))
        core = CoreConfig(MacroConfig(rows=rows, cols=cols, batch_max=P),
                          fifo_depth=int(rng.integers(1, 9)), index_bits=10)
        bv = int(rng.integers(2, 17))
        bw = int(rng.integers(1, min(8, bv) + 1))
        mode = str(rng.choice(["none", "sub", "shift"]))
        leak = {"none": 0, "sub": int(rng.integers(0, 1 << (bv - 2) if bv > 2 else 2)),
                "shift": int(rng.integers(0, bv))}[mode]
        src = str(rng.choice(["register", "array"]))
        hi = (1 << (bv - 1)) - 1
        layer = LayerConfig(bw=bw, bv=bv, saturate=bool(rng.integers(0, 2)), leak_mode=mode,
                            leak=leak, threshold=int(rng.integers(0, hi + 1) // 4),
                            threshold_source=src, reset=str(rng.choice(["hard", "soft"])))
        n_in = int(rng.integers(1, 12))
        n_out = int(rng.integers(1, 3 * cols + 1))
        try:
            layout = FCLayout.packed(core, layer, n_in, n_out)
        except ValueError:
            continue
        w = rng.integers(-(1 << (bw - 1)), 1 << (bw - 1), size=(n_out, n_in))
        th = rng.integers(-(hi + 1) // 4, hi + 1, size=n_out) if src == "array" else None
        return core, layer, layout, FCLayer(w, layer, th)


def random_stream(rng, n_in, n, tick_rate=0.1):
    ev = rng.integers(0, n_in, size=n)
    ev[rng.random(n) < tick_rate] = TICK
    return np.append(ev, TICK)          # end with a tick: nothing left pending


def test_core_model_equals_network_reference(rng, regress):
    for trial in range(150 if regress else 40):
        core, layer, layout, fc = random_case(rng)
        model = CoreModel(core, layer, layout)
        model.load(fc)
        ev = random_stream(rng, layout.n_in, int(rng.integers(1, 300)))
        got = model.run(ev)
        want, v = run_layer(fc, ev, core.macro.batch_max)
        tag = f"trial {trial}: {core} {layer} {layout}"
        assert got.events.tolist() == want.tolist(), tag
        assert model.potentials().tolist() == v.tolist(), tag
        assert got.errors == 0


def test_out_of_range_sources_are_counted_not_applied():
    core = CoreConfig(MacroConfig(rows=16, cols=2, batch_max=2))
    layer = LayerConfig(bw=2, bv=4, threshold=1)
    layout = FCLayout.packed(core, layer, 2, 2)
    m = CoreModel(core, layer, layout)
    m.load(FCLayer(np.array([[1, 1], [1, 1]]), layer))
    run = m.run([0, 5, 7, TICK])
    assert run.errors == 2 and run.events.tolist() == [0, 1, TICK]


def test_open_batch_stays_pending_until_a_tick():
    core = CoreConfig(MacroConfig(rows=16, cols=1, batch_max=4))
    layer = LayerConfig(bw=2, bv=4, threshold=7)
    layout = FCLayout.packed(core, layer, 3, 1)
    m = CoreModel(core, layer, layout)
    m.load(FCLayer(np.array([[1, 1, 1]]), layer))
    assert m.run([0, 1]).batches == 0 and m.potentials().tolist() == [0]
    assert m.run([TICK]).batches == 1 and m.potentials().tolist() == [2]


def test_work_cycles_formula():
    P = 2
    core = CoreConfig(MacroConfig(rows=32, cols=4, batch_max=P))
    layer = LayerConfig(bw=2, bv=6, threshold=1)
    layout = FCLayout.packed(core, layer, 3, 6)            # two slots
    m = CoreModel(core, layer, layout)
    m.load(FCLayer(np.ones((6, 3), dtype=int), layer))
    # work cycles are the engine's: macro commands only (potentials 0..3, no overflow)
    acc = accumulate_cycles(core.macro, 6, True, clamp=False)
    # events 0,1 (full batch), 2 (closed by the tick): 2 batches x 2 slots; the tick fires
    # both slots and all six neurons spike
    run = m.run([0, 1, 2, TICK])
    assert run.cycles == 2 * 2 * acc + 2 * fire_cycles(layer)
    assert run.events.tolist() == [0, 1, 2, 3, 4, 5, TICK]
    # dropped events cost no engine cycle; a batch whose total overflows pays the clamp
    m.load(FCLayer(np.full((6, 3), 1, dtype=int), layer))
    assert m.run([7, 7, TICK]).cycles == 2 * fire_cycles(layer)
    big = LayerConfig(bw=6, bv=6, threshold=31)
    core = CoreConfig(MacroConfig(rows=64, cols=4, batch_max=P))
    m = CoreModel(core, big, FCLayout.packed(core, big, 3, 6))
    m.load(FCLayer(np.full((6, 3), 10, dtype=int), big))
    run = m.run([0, 1, 2, 0, 1, TICK])     # batches 20, 40 -> 31 (clamped), 41 -> 31
    assert run.batches == 3
    clamped, not_clamped = (accumulate_cycles(core.macro, 6, True, clamp=c) for c in (1, 0))
    assert run.cycles == 2 * (not_clamped + clamped + clamped) + 2 * fire_cycles(big)


def test_timeline_by_hand():
    """`golden.core_timeline` on two tiny streams, cycle by cycle from its rules (P = 2, one
    slot, wrap: accumulate 1 + 1 + 4 = 6 cycles, fire 1 + 1 + 4 + 4 = 10; FIFO depth 4:
    SyncFIFOBuffered, an element is at the head 2 cycles after it entered)."""
    core = CoreConfig(MacroConfig(rows=16, cols=1, batch_max=2), fifo_depth=4)
    layer = LayerConfig(bw=1, bv=4, saturate=False, threshold=7)
    layout = FCLayout.packed(core, layer, 3, 1)

    def run(events):
        m = CoreModel(core, layer, layout)
        m.load(FCLayer(np.zeros((1, 3), dtype=int), layer))
        return m.run(events)

    # 0 at the head in cycle 2, 1 in 3 (C full, closed from 4): hand-over 4, accumulate
    # issued 4 set-up cycles later, 8..13; the runner is idle from 9 and pops the tick there,
    # checks slot 0 in 10, offers the fire pass from 11; the macro takes it in 14 (14..23),
    # its spikes are taken in 24 and the tick sent in 25: 26 cycles
    r = run([0, 1, TICK])
    assert (r.cycles, r.elapsed) == (6 + 10, 26)
    # a repeated source is popped in 3 and closes C (hand-over 4, accumulate 8..13, the
    # source is the next batch); the tick closes that batch in 5 (visible 6), the runner
    # takes it when it issues its last slot, 8: rows 9-11, accumulate 14..19; the tick is
    # popped in 15, the fire pass runs 20..29, its tick is sent in 31: 32 cycles
    r = run([0, 0, TICK])
    assert (r.cycles, r.elapsed, r.batches) == (6 + 6 + 10, 32, 2)


def test_shaped_core_model_equals_network_reference(rng, regress):
    """Issue 20: random layers at random operand shapes on cores whose macro allows them
    (level 2 against level 1)."""
    from dataclasses import replace
    for trial in range(100 if regress else 25):
        core, layer, layout, fc = random_case(rng)
        mc = core.macro
        top = 1 << (min(mc.cols, 16).bit_length() - 1)
        M = 1 << int(rng.integers(0, top.bit_length()))
        n_c = 1 << int(rng.integers(0, M.bit_length()))
        core = replace(core, macro=replace(mc, max_operand_cols=M))
        layer = replace(layer, operand_cols=n_c)
        try:
            layout = FCLayout.packed(core, layer, layout.n_in, layout.n_out)
        except ValueError:
            continue
        fc = FCLayer(fc.weights, layer, fc.thresholds)
        model = CoreModel(core, layer, layout)
        model.load(fc)
        ev = random_stream(rng, layout.n_in, int(rng.integers(1, 300)))
        got = model.run(ev)
        want, v = run_layer(fc, ev, mc.batch_max)
        tag = f"trial {trial}: {core} {layer} {layout}"
        assert got.events.tolist() == want.tolist(), tag
        assert model.potentials().tolist() == v.tolist(), tag
        assert got.errors == 0


def test_same_network_same_spikes_at_every_shape(rng):
    """Shape is a mapping choice: one layer at N_C = 1, 2, 4, 8 gives the same spikes and
    potentials (and the level-1 reference's), in fewer slots' worth of cycles per neuron."""
    from dataclasses import replace
    core = CoreConfig(MacroConfig(rows=256, cols=16, batch_max=2, max_operand_cols=8),
                      index_bits=8)
    base = LayerConfig(bw=5, bv=13, threshold=40, leak_mode="shift", leak=3, reset="soft")
    n_in, n_out = 9, 20
    w = rng.integers(-16, 16, size=(n_out, n_in))
    ev = random_stream(rng, n_in, 400, tick_rate=0.08)
    runs = {}
    for n_c in (1, 2, 4, 8):
        layer = replace(base, operand_cols=n_c)
        fc = FCLayer(w, layer)
        layout = FCLayout.packed(core, layer, n_in, n_out)
        model = CoreModel(core, layer, layout)
        model.load(fc)
        runs[n_c] = (model.run(ev), model.potentials())
        assert model.slots == -(-n_out // (16 // n_c))
    want, v = run_layer(FCLayer(w, base), ev, 2)
    assert (want != TICK).sum() > 20, "the stream should make spikes"
    for n_c, (run, pot) in runs.items():
        assert run.events.tolist() == want.tolist(), f"operand_cols={n_c}"
        assert pot.tolist() == v.tolist(), f"operand_cols={n_c}"
