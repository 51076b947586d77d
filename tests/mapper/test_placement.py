"""Tiling and placement: row maps fit and never overlap; infeasible layers are named."""

import numpy as np
import pytest

from flexspim.config import LayerConfig, MacroConfig
from flexspim.frontend.randnet import random_network
from flexspim.golden.layers import ConvLayer, FCLayer
from flexspim.mapper.hardware import HardwareConfig
from flexspim.mapper.placement import Infeasible, place_layer
from flexspim.mapper.tiling import tile_layer


def intervals(pl, m):
    """(start, stop, what) of everything in macro m."""
    mp, cfg = pl.macros[m], pl.tiling.layer.config
    out = [(b, b + pl.table_rows, f"table {t}") for t, b in mp.tables.items()]
    out += [(mp.slot_base + i * pl.slot_rows, mp.slot_base + (i + 1) * pl.slot_rows, f"slot {i}")
            for i in range(mp.n_slots)]
    if mp.staging is not None:
        out.append((mp.staging, mp.staging + pl.batch_max * cfg.bw, "staging"))
    return sorted(out)


def test_row_maps_fit_and_do_not_overlap(rng):
    for _ in range(60):
        net = random_network(rng, str(rng.choice(["fc", "conv"])), n_layers=2)
        hw = HardwareConfig(MacroConfig(rows=int(rng.integers(4, 300)),
                                        cols=int(rng.integers(1, 9)),
                                        batch_max=int(rng.integers(1, 9))))
        for layer in net.layers:
            t = tile_layer(layer, hw.macro.cols)
            for df in ("ws", "os"):
                try:
                    pl = place_layer(t, hw, df)
                except Infeasible:
                    continue
                seen = sorted(x for mp in pl.macros for x in mp.tiles)
                assert seen == list(range(t.n_tiles))          # every tile exactly once
                for m in range(len(pl.macros)):
                    iv = intervals(pl, m)
                    assert iv[-1][1] <= hw.macro.rows and pl.rows_used(m) <= hw.macro.rows
                    for a, b in zip(iv, iv[1:]):
                        assert a[1] <= b[0], (a, b)
                    mp = pl.macros[m]
                    for tile in mp.tiles:       # a tile's table is in its macro unless streamed
                        assert (mp.staging is not None) or int(t.tile_table[tile]) in mp.tables
                assert (pl.mode == "swap") == any(mp.swapped for mp in pl.macros)


def test_fc_and_conv_tiles():
    cfg = LayerConfig(bw=2, bv=4)
    fc = tile_layer(FCLayer(np.zeros((10, 3), int), cfg), 4)
    assert [n.tolist() for n in fc.tile_neurons] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert fc.n_tables == 3 and fc.table_ops == 3
    conv = ConvLayer(np.arange(5 * 2 * 2 * 2).reshape(5, 2, 2, 2) % 2 - 1, (2, 3, 3), cfg)
    t = tile_layer(conv, 3)                   # 5 channels -> 2 channel tiles x 4 positions
    assert t.n_tiles == 8 and t.n_tables == 2 and t.table_ops == 8
    assert t.tile_neurons[1].tolist() == [1, 5, 9]          # channels 0..2 at position 1
    assert t.tile_neurons[5].tolist() == [13, 17]           # channels 3..4 at position 1
    # pixel (c=1, y=1, x=1) reaches all 4 positions of both channel tiles
    tiles, ops, _ = t.reach([1 * 9 + 1 * 3 + 1])
    assert tiles.tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    # position (0,0) sees it through tap (1,1) -> operand 1*4 + 1*2 + 1 = 7; position (1,1)
    # through tap (0,0) -> operand 4
    assert ops.tolist()[:4] == [7, 6, 5, 4]
    np.testing.assert_array_equal(t.table_values(1, [7])[0], [conv.weights[3, 1, 1, 1],
                                                               conv.weights[4, 1, 1, 1], 0])


def test_infeasible_messages():
    layer = FCLayer(np.zeros((4, 100), int), LayerConfig(bw=4, bv=8), name="big")
    hw = HardwareConfig(MacroConfig(rows=64, cols=4, batch_max=4))
    with pytest.raises(Infeasible, match=r"layer 'big' cannot be weight-stationary.*408 rows.*64"):
        place_layer(tile_layer(layer, 4), hw, "ws")
    assert place_layer(tile_layer(layer, 4), hw, "os").mode == "stream"
    hw = HardwareConfig(MacroConfig(rows=20, cols=4, batch_max=4))
    with pytest.raises(Infeasible, match=r"cannot be output-stationary.*16 staging rows"):
        place_layer(tile_layer(layer, 4), hw, "os")
    with pytest.raises(ValueError, match="`dataflow` must be one of ws, os; not 'xs'"):
        place_layer(tile_layer(layer, 4), hw, "xs")


def test_hardware_config_validation():
    m = MacroConfig(rows=8, cols=8)
    with pytest.raises(ValueError, match=r"`cores` must be an integer in \[1, 65536\], not 0"):
        HardwareConfig(m, cores=0)
    with pytest.raises(ValueError, match="`buffer_bits`"):
        HardwareConfig(m, buffer_bits=-1)
    with pytest.raises(ValueError, match="`macro` must be a MacroConfig"):
        HardwareConfig((8, 8))
    assert hash(HardwareConfig(m)) == hash(HardwareConfig(m))
