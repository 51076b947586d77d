"""The conv address generator's rule (`golden.fanout`) against the mapper's CSR
(`mapper.tiling`, built independently from `golden.network.conv_taps`)."""

from __future__ import annotations

import re

import pytest

from flexspim.config import MAX_KERNEL, ConvGeometry, LayerConfig
from flexspim.golden.fanout import (
    ALL_TILES,
    batch_accumulates,
    divide,
    event_entries,
    geometry,
    output_neuron,
)
from flexspim.golden.layers import ConvLayer, FCLayer
from flexspim.mapper.tiling import tile_layer

CFG = LayerConfig(bw=3, bv=8)


def _conv(rng, c_in, h, w, c_out, kh, kw, stride, padding, dilation):
    return ConvLayer(rng.integers(-3, 4, (c_out, c_in, kh, kw)), (c_in, h, w), CFG,
                     stride=stride, padding=padding, dilation=dilation)


def _random_conv(rng):
    while True:
        kh, kw = (int(v) for v in rng.integers(1, 6, 2))
        dil = tuple(int(v) for v in rng.integers(1, 4, 2))
        pad = tuple(int(rng.integers(0, d * (k - 1) + 1)) for d, k in zip(dil, (kh, kw)))
        h, w = (int(v) for v in rng.integers(1, 10, 2))
        try:
            return _conv(rng, int(rng.integers(1, 4)), h, w, int(rng.integers(1, 6)), kh, kw,
                         tuple(int(v) for v in rng.integers(1, 4, 2)), pad, dil)
        except ValueError:           # an empty output: draw again
            continue


def _reach(tiling, sources):
    """The mapper's accumulates of a batch: tile -> operands in batch order."""
    tiles, ops, _ = tiling.reach(sources)
    out: dict[int, list[int]] = {}
    for t, o in zip(tiles.tolist(), ops.tolist()):
        out.setdefault(t, []).append(o)
    return [(t, tuple(o)) for t, o in sorted(out.items())]


def _check_layer(rng, layer, cols, batches=20, P=8):
    g = geometry(layer)
    tiling = tile_layer(layer, cols)
    assert g.n_tiles(cols) == tiling.n_tiles and g.table_ops == tiling.table_ops
    assert (g.n_in, g.n_out) == (layer.n_in, layer.n_out)
    for t, neurons in enumerate(tiling.tile_neurons):
        assert [output_neuron(g, cols, t, c) for c in range(len(neurons))] == neurons.tolist()
    for s in range(g.n_in):                          # every source, alone
        got = [(t, ops) for t, ops in batch_accumulates(g, [s], cols)]
        assert got == _reach(tiling, [s]), s
    for _ in range(batches):
        n = int(rng.integers(1, min(P, g.n_in) + 1))
        src = rng.choice(g.n_in, n, replace=False).tolist()
        assert [tuple(a) for a in batch_accumulates(g, src, cols)] == _reach(tiling, src), src


def test_random_geometries_equal_the_mapper(rng):
    for _ in range(40):
        _check_layer(rng, _random_conv(rng), int(rng.integers(1, 5)))


@pytest.mark.parametrize("kernel, stride, padding, dilation, c_in, hw", [
    ((1, 1), 1, 0, 1, 2, (5, 4)),       # 1x1
    ((3, 3), 1, 1, 1, 1, (6, 6)),       # 3x3, padding 1, c_in = 1
    ((5, 3), 1, 0, 1, 2, (7, 5)),       # 5x3
    ((3, 3), 2, 1, 1, 2, (7, 8)),       # stride 2: positions that leave the map
    ((3, 3), 1, 2, 2, 1, (6, 7)),       # dilation 2
    ((3, 2), (2, 3), (2, 1), (1, 1), 3, (9, 8)),   # per-axis steps
])
def test_directed_geometries_equal_the_mapper(rng, kernel, stride, padding, dilation, c_in,
                                              hw):
    layer = _conv(rng, c_in, *hw, 5, *kernel, stride, padding, dilation)
    _check_layer(rng, layer, cols=2)


def test_fc_is_the_one_by_one_convolution(rng):
    fc = FCLayer(rng.integers(-3, 4, (7, 11)), CFG)
    g = geometry(fc)
    assert (g.h, g.w, g.kh, g.kw, g.n_pos, g.table_ops) == (1, 1, 1, 1, 1, 11)
    _check_layer(rng, fc, cols=3)
    # today's FC layout: every slot, operand = source
    assert batch_accumulates(g, [4, 0, 9], 3) == [(t, (4, 0, 9)) for t in range(3)]


def test_a_core_issues_only_its_tile_range(rng):
    layer = _conv(rng, 2, 6, 6, 5, 3, 3, 1, 1, 1)
    g = geometry(layer)
    cols, src = 2, [0, 7, 40, 71]
    full = batch_accumulates(g, src, cols)
    n = g.n_tiles(cols)
    for t_first, t_count in ((0, n), (5, 30), (n - 1, 1), (36, 36)):
        part = batch_accumulates(g, src, cols, t_first, t_count)
        assert part == [a for a in full if t_first <= a.tile < t_first + t_count]


def test_bias_source_reaches_every_tile_last_operand():
    g = ConvGeometry(c_in=2, h=4, w=4, c_out=3, kh=3, kw=3, padding=(1, 1), bias=True)
    assert g.n_in == 33 and g.table_ops == 19
    assert event_entries(g, 32) is ALL_TILES
    acc = batch_accumulates(g, [5, 32], cols=2)
    assert [a.tile for a in acc] == list(range(g.n_tiles(2)))     # every tile, ascending
    assert all(a.ops[-1] == 18 for a in acc)
    assert {a.tile for a in acc if len(a.ops) == 2} == {
        t for t in range(g.n_tiles(2)) if t % g.n_pos in {p for p, _ in event_entries(g, 5)}}


def test_source_outside_the_layer_is_refused():
    g = ConvGeometry.fc(4, 2)
    for s in (-1, 4):
        with pytest.raises(ValueError, match="outside the layer's 4 inputs"):
            event_entries(g, s)
    with pytest.raises(ValueError, match="distinct"):
        batch_accumulates(g, [1, 1], 2)


def test_divide_is_exact_and_counts_quotient_bits(rng):
    for _ in range(500):
        d = int(rng.integers(1, 50))
        q_max = int(rng.integers(0, 300))
        n = int(rng.integers(0, (q_max + 1) * d))
        q, r, steps = divide(n, d, q_max)
        assert (q, r) == divmod(n, d)
        assert steps == (0 if d == 1 else q_max.bit_length())
    assert divide(0, 7, 0) == (0, 0, 0)                  # a 1-channel map: no step
    assert divide(12345, 1, 1 << 20) == (12345, 0, 0)    # FC: no division


def test_geometry_ranges_name_the_parameter():
    ok = dict(c_in=1, h=8, w=8, c_out=2, kh=3, kw=3)
    big = ConvGeometry(**{**ok, "h": 40, "w": 40}, stride=(MAX_KERNEL, 1),
                       dilation=(1, MAX_KERNEL))
    assert (big.out_h, big.out_w) == (3, 10)
    cases = [(dict(kh=MAX_KERNEL + 1), "`kh` must be an integer in [1, 15]"),
             (dict(kw=0), "`kw` must be an integer in [1, 15]"),
             (dict(stride=(0, 1)), "`stride_y` must be an integer in [1, 15]"),
             (dict(dilation=(1, 16)), "`dilation_x` must be an integer in [1, 15]"),
             (dict(padding=(3, 0)), "`padding_y` must be an integer in [0, 2]"),
             (dict(padding=(0, -1)), "`padding_x` must be an integer in [0, 2]"),
             (dict(stride=2), "`stride` must be a pair"),
             (dict(c_in=0), "`c_in` must be an integer"),
             (dict(bias=1), "`bias` must be a bool"),
             (dict(kh=9, h=8, padding=(0, 0)), "the output would be 0 x 6")]
    for change, msg in cases:
        with pytest.raises(ValueError, match=re.escape(msg)):
            ConvGeometry(**{**ok, **change})
    with pytest.raises(ValueError, match="FCLayer or ConvLayer"):
        geometry(object())


def test_event_cycles_formula():
    from flexspim.golden.fanout import batch_cycles, event_cycles, phase_steps

    # 2 x 32 x 32, 3x3, pad 1: c 1 bit (c_in - 1 = 1), y 5 bits (h - 1 = 31), strides 1,
    # op 4 bits (kh*kw = 9), row 6 bits (out_w = 32), 9 taps
    g = ConvGeometry(c_in=2, h=32, w=32, c_out=4, kh=3, kw=3, padding=(1, 1))
    assert phase_steps(g) == {"c": 1, "y": 5, "ay": 0, "ax": 0, "op": 4, "row": 6}
    assert event_cycles(g, 0) == 1 + 16 + 9 == event_cycles(g, g.n_in - 1)
    assert event_cycles(g, g.n_in) == 1 == event_cycles(g, -1)    # dropped
    # FC: no division, no multiply, one tap; the bias source divides (quotient c_in)
    fc = ConvGeometry.fc(10, 3)
    assert sum(phase_steps(fc).values()) == 0 and event_cycles(fc, 4) == 2
    gb = ConvGeometry(c_in=4, h=1, w=1, c_out=3, bias=True)
    assert phase_steps(gb)["c"] == 0 and event_cycles(gb, 4) == 2
    gb = ConvGeometry(c_in=4, h=2, w=3, c_out=3, kh=2, kw=3, stride=(2, 3), bias=True)
    st = phase_steps(gb)
    assert st == {"c": 3, "y": 1, "ay": 0, "ax": 0, "op": 3, "row": 0}   # (1+0)//2 = 0
    assert event_cycles(gb, gb.n_in - 1) == 1 + 7 + 1                  # one `all` entry
    assert event_cycles(gb, 0) == 1 + 7 + 6
    assert batch_cycles(gb, [0, 3, gb.n_in - 1]) == 14 + 14 + 9
    # strides: the largest quotient (h - 1 + pad) // stride
    gs = ConvGeometry(c_in=1, h=9, w=8, c_out=2, kh=3, kw=2, stride=(2, 3), padding=(2, 1))
    assert (phase_steps(gs)["ay"], phase_steps(gs)["ax"]) == ((10 // 2).bit_length(),
                                                            (8 // 3).bit_length())


def test_fanout_config_refuses_with_the_limit():
    from flexspim.config import FanoutConfig

    cfg = FanoutConfig(index_bits=6, op_bits=5, max_kernel=3, max_taps=4)
    cfg.check(ConvGeometry(c_in=1, h=8, w=8, c_out=2, kh=3, kw=3, stride=(2, 2)))
    cases = [(ConvGeometry(c_in=2, h=8, w=8, c_out=1), "has 128 sources (n_in); "
              "index_bits=6 allows at most 64"),
             (ConvGeometry(c_in=4, h=4, w=4, c_out=1, kh=3, kw=3), "has 36 table operands; "
              "op_bits=5 allows at most 32"),
             (ConvGeometry(c_in=1, h=8, w=8, c_out=1, kh=4, kw=1), "kh = 4; max_kernel=3"),
             (ConvGeometry(c_in=1, h=8, w=8, c_out=1, kh=3, kw=3), "reaches 9 output "
              "positions; max_taps=4")]
    for g, msg in cases:
        with pytest.raises(ValueError, match=re.escape(msg)):
            cfg.check(g, "conv1")
    for bad, msg in ((dict(index_bits=0), "`index_bits` must be an integer in [1, 24]"),
                     (dict(max_kernel=16), "`max_kernel` must be an integer in [1, 15]"),
                     (dict(max_kernel=2, max_taps=5), "`max_taps` must be an integer in "
                      "[1, 4]")):
        with pytest.raises(ValueError, match=re.escape(msg)):
            FanoutConfig(**bad)
    assert (cfg.kernel_bits, cfg.pad_bits, cfg.work_bits) == (2, 3, 7)
