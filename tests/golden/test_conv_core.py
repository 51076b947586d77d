"""The level-2 model of a core holding a tile range of a conv or FC layer (`golden.conv_core`):
several cores of one layer against the level-1 reference, against the mapper's program
(level 3) for the same placement, and the kernel stored once per core."""

from __future__ import annotations

import numpy as np
import pytest

from flexspim.config import (
    ConvGeometry,
    CoreConfig,
    FanoutConfig,
    FCLayout,
    LayerConfig,
    MacroConfig,
)
from flexspim.golden.batching import TICK, split_steps
from flexspim.golden.conv_core import ConvCoreLayout, ConvCoreModel
from flexspim.golden.cycles import accumulate_cycles, fire_cycles
from flexspim.golden.fanout import batch_accumulates, batch_cycles, event_cycles, geometry
from flexspim.golden.layers import ConvLayer, FCLayer
from flexspim.golden.network import run_layer
from flexspim.mapper.executor import RecordingSink
from flexspim.mapper.hardware import HardwareConfig
from flexspim.mapper.placement import Infeasible, place_layer
from flexspim.mapper.program import LayerProgram
from flexspim.mapper.tiling import tile_layer

#: (c_in, h, w, c_out, kh, kw, stride, padding, dilation): the odd shapes of the brief
SHAPES = [
    (3, 4, 5, 5, 1, 1, (1, 1), (0, 0), (1, 1)),     # 1x1
    (2, 5, 6, 3, 3, 3, (1, 1), (1, 1), (1, 1)),     # 3x3, padding 1
    (1, 7, 6, 4, 5, 3, (2, 2), (2, 1), (1, 1)),     # 5x3, stride 2, c_in = 1
    (2, 6, 7, 3, 3, 3, (1, 2), (2, 0), (2, 2)),     # dilation 2, positions that leave the map
    (1, 5, 5, 2, 3, 3, (2, 2), (0, 0), (1, 1)),     # stride 2, no padding: rows never reached
    (2, 1, 1, 7, 1, 1, (1, 1), (0, 0), (1, 1)),     # a 1 x 1 map
]


def _config(rng, n_c: int = 1) -> LayerConfig:
    bv = int(rng.integers(4, 11))
    bw = int(rng.integers(2, min(5, bv) + 1))
    hi = (1 << (bv - 1)) - 1
    mode = str(rng.choice(["none", "sub", "shift"]))
    leak = {"none": 0, "sub": int(rng.integers(0, 4)), "shift": int(rng.integers(0, bv))}[mode]
    return LayerConfig(bw=bw, bv=bv, saturate=bool(rng.integers(0, 2)), leak_mode=mode,
                       leak=leak, threshold=int(rng.integers(0, hi // 2 + 1)),
                       threshold_source=str(rng.choice(["register", "array"])),
                       reset=str(rng.choice(["hard", "soft"])), operand_cols=n_c)


def _weights(rng, cfg, shape):
    return rng.integers(-(1 << (cfg.bw - 1)), 1 << (cfg.bw - 1), size=shape)


def _thresholds(rng, cfg, n_out):
    if cfg.threshold_source != "array":
        return None
    hi = (1 << (cfg.bv - 1)) - 1
    return rng.integers(-2, hi // 2 + 1, size=n_out)


def _conv(rng, cfg, shape):
    c_in, h, w, c_out, kh, kw, stride, pad, dil = shape
    return ConvLayer(_weights(rng, cfg, (c_out, c_in, kh, kw)), (c_in, h, w), cfg,
                     stride=stride, padding=pad, dilation=dil,
                     thresholds=_thresholds(rng, cfg, c_out * np.prod(
                         ConvGeometry(c_in=c_in, h=h, w=w, c_out=c_out, kh=kh, kw=kw,
                                      stride=stride, padding=pad, dilation=dil).out_hw)))


def _random_shape(rng):
    while True:
        kh, kw = (int(v) for v in rng.integers(1, 6, 2))
        dil = tuple(int(v) for v in rng.integers(1, 3, 2))
        pad = tuple(int(rng.integers(0, d * (k - 1) + 1)) for d, k in zip(dil, (kh, kw)))
        h, w = (int(v) for v in rng.integers(1, 8, 2))
        shape = (int(rng.integers(1, 4)), h, w, int(rng.integers(1, 7)), kh, kw,
                 tuple(int(v) for v in rng.integers(1, 3, 2)), pad, dil)
        try:
            ConvGeometry(*shape[:4], kh=kh, kw=kw, stride=shape[6], padding=pad, dilation=dil)
        except ValueError:
            continue
        return shape


def _ranges(rng, n_tiles: int, n_cores: int) -> list[tuple[int, int]]:
    """A random split of tiles ``0 .. n_tiles - 1`` into at most ``n_cores`` ranges."""
    k = min(n_cores, n_tiles)
    cuts = sorted(rng.choice(np.arange(1, n_tiles), size=k - 1, replace=False).tolist()) \
        if k > 1 else []
    bounds = [0] + cuts + [n_tiles]
    return [(a, b - a) for a, b in zip(bounds, bounds[1:])]


def _packed(cfg, g, t_first, t_count, gap=0) -> tuple[ConvCoreLayout, int]:
    """Potentials (and thresholds) first, then the tables: the layout and the rows used."""
    per_v = cfg.v_rows * (2 if cfg.threshold_source == "array" else 1)
    lay = ConvCoreLayout(t_first, t_count, v_base=0, v_stride=per_v, theta_base=cfg.v_rows,
                         w_base=t_count * per_v + gap, w_stride=g.table_ops * cfg.w_rows)
    return lay, lay.w_base + len(lay.tables(g)) * lay.w_stride


def _stream(rng, n_in, n, tick_rate=0.12):
    ev = rng.integers(0, n_in, size=n)
    ev[rng.random(n) < tick_rate] = TICK
    return np.append(ev, TICK)


def _cores(rng, layer, g, cols, P, n_cores, fanout=None):
    """Cores holding a random split of the layer's tiles (each its own macro)."""
    cfg = layer.config
    G = cols // cfg.operand_cols
    models = []
    for t_first, t_count in _ranges(rng, g.n_tiles(G), n_cores):
        lay, rows = _packed(cfg, g, t_first, t_count, gap=int(rng.integers(0, 3)))
        core = CoreConfig(MacroConfig(rows=max(rows, cfg.v_rows + 1), cols=cols, batch_max=P,
                                      max_operand_cols=cfg.operand_cols))
        models.append(ConvCoreModel(core, cfg, g, lay, fanout=fanout))
    return models


def _union(runs, n_out):
    """Per tick, the sorted union of the cores' spikes: the level-1 stream."""
    per_core = [[s for s, _ in split_steps(r.events)] for r in runs]
    out = []
    for step in zip(*per_core):
        spikes = np.concatenate(step)
        assert len(set(spikes.tolist())) == spikes.size      # every neuron on one core
        out.extend(sorted(spikes.tolist()) + [TICK])
    return out


def _check_against_level1(rng, layer, g, cols, P, n_cores, tag, ref=None, bias=None):
    models = _cores(rng, layer, g, cols, P, n_cores)
    for m in models:
        m.load(layer, bias)
    ev = _stream(rng, g.n_in, int(rng.integers(20, 200)))
    runs = [m.run(ev) for m in models]
    want, v = run_layer(layer if ref is None else ref, ev, P)
    tag = f"{tag} cols={cols} P={P} cores={[(m.layout.t_first, m.layout.t_count) for m in models]}"
    assert _union(runs, g.n_out) == want.tolist(), tag
    got = np.zeros(g.n_out, dtype=np.int64)
    seen = np.zeros(g.n_out, dtype=bool)
    for m in models:
        n, val = m.potentials()
        got[n], seen[n] = val, True
    assert seen.all(), tag
    assert got.tolist() == v.tolist(), tag
    G = cols // layer.config.operand_cols
    for m, r in zip(models, runs):          # ascending tile, then column, within a tick
        assert r.errors == 0, tag
        for step, _ in split_steps(r.events):
            co, p = np.divmod(step, g.n_pos)
            key = list(zip(((co // G) * g.n_pos + p).tolist(), (co % G).tolist()))
            assert key == sorted(key), tag
    return models, runs, ev


@pytest.mark.parametrize("shape", SHAPES, ids=[f"k{s[4]}x{s[5]}s{s[6][0]}p{s[7][0]}d{s[8][0]}"
                                               for s in SHAPES])
def test_cores_of_a_conv_layer_equal_level1(rng, shape):
    for trial in range(6):
        cfg = _config(rng)
        layer = _conv(rng, cfg, shape)
        cols = int(rng.integers(1, 5))
        _check_against_level1(rng, layer, geometry(layer), cols, int(rng.integers(1, 6)),
                              int(rng.integers(1, 5)), f"{shape} trial {trial} {cfg}")


def test_cores_of_random_conv_layers_equal_level1(rng, regress):
    for trial in range(60 if regress else 15):
        cfg = _config(rng)
        shape = _random_shape(rng)
        layer = _conv(rng, cfg, shape)
        _check_against_level1(rng, layer, geometry(layer), int(rng.integers(1, 6)),
                              int(rng.integers(1, 9)), int(rng.integers(1, 6)),
                              f"{shape} trial {trial} {cfg}")


def test_cores_of_an_fc_layer_equal_level1(rng):
    """FC: the 1 x 1 conv of an n_in x 1 x 1 map (table = tile, operand = source)."""
    for trial in range(10):
        cfg = _config(rng)
        n_in, n_out = int(rng.integers(1, 12)), int(rng.integers(1, 20))
        fc = FCLayer(_weights(rng, cfg, (n_out, n_in)), cfg, _thresholds(rng, cfg, n_out))
        g = geometry(fc)
        assert g == ConvGeometry.fc(n_in, n_out) and g.n_pos == 1
        _check_against_level1(rng, fc, g, int(rng.integers(1, 6)), int(rng.integers(1, 9)),
                              int(rng.integers(1, 5)), f"fc {n_in}->{n_out} trial {trial}")


def test_shaped_cores_equal_level1(rng):
    """Operand shape N_C = 2 and 4: G = cols // N_C neurons per tile, one per group."""
    for trial in range(6):
        n_c = int(rng.choice([2, 4]))
        cfg = _config(rng, n_c)
        layer = _conv(rng, cfg, SHAPES[int(rng.integers(0, len(SHAPES)))])
        _check_against_level1(rng, layer, geometry(layer), n_c * int(rng.integers(1, 3)) +
                              int(rng.integers(0, n_c)), int(rng.integers(1, 6)),
                              int(rng.integers(1, 4)), f"n_c={n_c} trial {trial}")


def test_bias_source_reaches_every_tile(rng):
    """With `ConvGeometry.bias`, source n_in - 1 adds its channel's bias to every position:
    the level-1 FC layer of the dense matrix with one more input column."""
    for trial in range(6):
        cfg = _config(rng)
        shape = SHAPES[int(rng.integers(0, len(SHAPES)))]
        layer = _conv(rng, cfg, shape)
        g0 = geometry(layer)
        g = ConvGeometry(**{**g0.__dict__, "bias": True})
        bias = _weights(rng, cfg, g.c_out)
        dense = np.concatenate([layer.dense_weights(), np.repeat(bias, g.n_pos)[:, None]], 1)
        ref = FCLayer(dense, cfg, layer.thresholds)
        _check_against_level1(rng, layer, g, int(rng.integers(1, 5)), int(rng.integers(1, 6)),
                              int(rng.integers(1, 4)), f"bias {shape} trial {trial}", ref, bias)


def test_same_accumulates_as_the_mapper(rng, regress):
    """Level 3 = level 2: per macro of the mapper's placement, the core configured with that
    macro's tile range and rows issues the program's accumulates and fires, in order."""
    checked = {"ws": 0, "os": 0}
    for trial in range(60 if regress else 18):
        cfg = _config(rng)
        shape = SHAPES[trial % len(SHAPES)] if trial < 12 else _random_shape(rng)
        layer = _conv(rng, cfg, shape) if trial % 7 else FCLayer(
            _weights(rng, cfg, (9, 5)), cfg, _thresholds(rng, cfg, 9))
        g = geometry(layer)
        cols, P = int(rng.integers(1, 5)), int(rng.integers(1, 6))
        tiling = tile_layer(layer, cols)
        slot = cfg.v_rows * (2 if cfg.threshold_source == "array" else 1)
        rows = tiling.table_ops * cfg.w_rows + slot * int(rng.integers(1, 2 * g.n_pos + 2))
        hw = HardwareConfig(MacroConfig(rows=rows, cols=cols, batch_max=P), cores=4096)
        for dataflow in ("ws", "os"):
            try:
                pl = place_layer(tiling, hw, dataflow)
            except Infeasible:
                continue
            if pl.mode != "resident":      # swaps and streams are the sequencer's (issue 22)
                continue
            ev = _stream(rng, g.n_in, int(rng.integers(10, 120)))
            sink = RecordingSink(hw.macro, len(pl.macros))
            want = LayerProgram(pl).run(ev, sink, hw.macro)
            outs = []
            for m, mp in enumerate(pl.macros):
                tiles = mp.tiles
                assert tiles == list(range(tiles[0], tiles[0] + len(tiles)))
                tables = sorted(mp.tables)
                lay = ConvCoreLayout(tiles[0], len(tiles), v_base=mp.slot_base,
                                     v_stride=pl.slot_rows,
                                     theta_base=mp.slot_base + cfg.v_rows,
                                     w_base=mp.tables[tables[0]], w_stride=pl.table_rows)
                assert [lay.w_base + (t - tables[0]) * lay.w_stride for t in tables] == \
                    [mp.tables[t] for t in tables]
                model = ConvCoreModel(CoreConfig(hw.macro), cfg, g, lay, record=True)
                model.load(layer)
                outs.append(model.run(ev))
                mine = [(k, op, mask.tolist()) for k, op, mask in model.commands]
                theirs = [(k, op, mask.tolist()) for k, mm, op, _, mask in sink.ops
                          if mm == m and k in ("accumulate", "fire")]
                assert mine == theirs, f"trial {trial} {dataflow} macro {m} {shape}"
            assert _union(outs, g.n_out) == want.outputs.tolist()
            checked[dataflow] += 1
    assert checked["ws"] >= 3 and checked["os"] >= 3, checked


def test_kernel_stored_once_per_core():
    """Weight rows written = tables touched x table rows, not the dense matrix's."""
    cfg = LayerConfig(bw=3, bv=8)
    rng = np.random.default_rng(0)
    layer = ConvLayer(_weights(rng, cfg, (6, 2, 3, 3)), (2, 8, 8), cfg, padding=1)
    g = geometry(layer)                          # 64 positions, table_ops 18
    cols = 4                                     # 2 channel tiles: tiles 0..63, 64..127
    cases = {(10, 32): 1, (40, 50): 2, (0, 128): 2, (64, 64): 1}
    for (t_first, t_count), tables in cases.items():
        lay, rows = _packed(cfg, g, t_first, t_count)
        core = CoreConfig(MacroConfig(rows=rows, cols=cols, batch_max=4))
        model = ConvCoreModel(core, cfg, g, lay)
        written = model.load(layer)
        assert len(lay.tables(g)) == tables
        assert written == tables * g.table_ops * cfg.w_rows        # 54 or 108 rows
        dense = t_count * g.n_in * cfg.w_rows    # FCLayout: one weight block per slot
        assert written * 10 < dense
        assert rows == t_count * cfg.v_rows + written
    with pytest.raises(ValueError, match="outside|needs rows"):
        ConvCoreModel(CoreConfig(MacroConfig(rows=64, cols=4)), cfg, g, _packed(cfg, g, 0, 8)[0])
    with pytest.raises(ValueError, match="not inside"):
        ConvCoreModel(CoreConfig(MacroConfig(rows=512, cols=4)), cfg, g,
                      _packed(cfg, g, 120, 9)[0])
    with pytest.raises(ValueError, match="overlaps"):
        ConvCoreModel(CoreConfig(MacroConfig(rows=512, cols=4)), cfg, g,
                      ConvCoreLayout(0, 4, v_base=0, v_stride=8, w_base=16, w_stride=54))


def test_fanout_config_refuses_a_layer():
    cfg = LayerConfig(bw=3, bv=8)
    g = ConvGeometry(c_in=1, h=6, w=6, c_out=2, kh=3, kw=3, padding=(1, 1))
    lay, rows = _packed(cfg, g, 0, 4)
    core = CoreConfig(MacroConfig(rows=rows, cols=2))
    ConvCoreModel(core, cfg, g, lay, fanout=FanoutConfig(max_taps=9))
    with pytest.raises(ValueError, match="max_taps"):
        ConvCoreModel(core, cfg, g, lay, fanout=FanoutConfig(max_taps=4))


def test_cycles_and_overlap():
    """Engine cycles are the macro commands'; fan-out cycles are `batch_cycles`; elapsed
    overlaps batch b + 1's address generation with batch b's accumulates (two entry
    tables), computed by hand here."""
    cfg = LayerConfig(bw=2, bv=6, saturate=False)
    g = ConvGeometry(c_in=1, h=4, w=4, c_out=2, kh=3, kw=3, padding=(1, 1))
    cols, P = 2, 2
    lay, rows = _packed(cfg, g, 3, 9)               # tiles 3..11
    mc = MacroConfig(rows=rows, cols=cols, batch_max=P)
    model = ConvCoreModel(CoreConfig(mc), cfg, g, lay)
    layer = ConvLayer(np.ones((2, 1, 3, 3), dtype=np.int64), (1, 4, 4), cfg, padding=1)
    model.load(layer)
    ev = [0, 5, 6, 99, 1, TICK, 15]                 # batches (0,5) (6,1); 99 dropped; 15 open
    run = model.run(ev)
    acc = accumulate_cycles(mc, cfg.bv, cfg.saturate)
    batches = [(0, 5), (6, 1)]
    a = [len(batch_accumulates(g, b, cols, 3, 9)) * acc for b in batches]
    f = [batch_cycles(g, batches[0]), batch_cycles(g, batches[1]) + event_cycles(g, 99)]
    assert event_cycles(g, 99) == 1 and f[0] == 2 * event_cycles(g, 0)
    fire = 9 * fire_cycles(cfg)
    assert (run.batches, run.errors, run.fanout_cycles) == (2, 1, sum(f))
    assert run.accumulates == sum(a) // acc
    assert run.cycles == sum(a) + fire
    c1 = f[0]                                       # collector ends batch 0
    r1 = c1 + a[0]                                  # runner ends batch 0
    c2 = c1 + f[1]                                  # table 1 was free
    r2 = max(c2, r1) + a[1]
    assert run.elapsed == max(c2, r2) + fire
    assert model.open == [15]                       # pending, as in CoreModel


def test_entry_table_reuse_waits_for_the_runner():
    """Two entry tables: batch b's collection starts only once batch b - 2's accumulates are
    done. FC, P = 1, one accumulate per batch; dropped sources lengthen batch 2's
    collection (one fan-out cycle each) so that the wait shows in ``elapsed``."""
    cfg = LayerConfig(bw=2, bv=6, saturate=False)
    g = ConvGeometry.fc(4, 2)
    lay, rows = _packed(cfg, g, 0, 1)
    mc = MacroConfig(rows=rows, cols=2, batch_max=1)
    model = ConvCoreModel(CoreConfig(mc), cfg, g, lay)
    model.load(FCLayer(np.ones((2, 4), dtype=np.int64), cfg))
    k = 30
    run = model.run([0, 1] + [99] * k + [2])
    a, f = accumulate_cycles(mc, cfg.bv, cfg.saturate), event_cycles(g, 0)
    assert f == 2 and a > 2 * f
    c1, c2 = f, 2 * f
    r1 = c1 + a
    r2 = max(c2, r1) + a
    c3 = max(c2, r1) + k + f                     # waits for batch 0's table
    r3 = max(c3, r2) + a
    assert (run.batches, run.errors, run.fanout_cycles, run.cycles) == (3, k, 3 * f + k, 3 * a)
    assert run.elapsed == r3 == r1 + k + f + a


def test_fc_core_is_the_conv_core_at_t_first_0(rng):
    """An FC core keeps its registers: `CoreModel` with an `FCLayout` and the conv core with
    the same rows (T_FIRST = 0, T_COUNT = slots, table = slot) give the same spikes,
    potentials, engine cycles and batches."""
    from flexspim.golden.core import CoreModel

    for trial in range(15):
        cfg = _config(rng)
        n_in, n_out = int(rng.integers(1, 10)), int(rng.integers(1, 14))
        cols, P = int(rng.integers(1, 5)), int(rng.integers(1, 6))
        fc = FCLayer(_weights(rng, cfg, (n_out, n_in)), cfg, _thresholds(rng, cfg, n_out))
        core = CoreConfig(MacroConfig(rows=512, cols=cols, batch_max=P))
        try:
            fl = FCLayout.packed(core, cfg, n_in, n_out)
        except ValueError:
            continue
        a = CoreModel(core, cfg, fl)
        b = ConvCoreModel(core, cfg, geometry(fc),
                          ConvCoreLayout(0, fl.slots(core.macro), fl.v_base, fl.v_stride,
                                         fl.w_base, fl.w_stride, fl.theta_base))
        a.load(fc)
        b.load(fc)
        ev = _stream(rng, n_in, int(rng.integers(10, 100)))
        ra, rb = a.run(ev), b.run(ev)
        tag = f"trial {trial} {fl} {cfg}"
        assert ra.events.tolist() == rb.events.tolist(), tag
        assert a.potentials().tolist() == b.potentials()[1].tolist(), tag
        assert b.potentials()[0].tolist() == list(range(n_out)), tag
        assert (ra.cycles, ra.batches, ra.errors) == (rb.cycles, rb.batches, rb.errors), tag
