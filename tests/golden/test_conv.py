"""Level-1 convolution: its dense matrix against a direct convolution written from the
definition, and its run against the fully connected layer of that matrix."""

import dataclasses

import numpy as np
import pytest

from flexspim.config import LayerConfig
from flexspim.golden.batching import TICK
from flexspim.golden.layers import ConvLayer, FCLayer
from flexspim.golden.network import Network, run_layer


def direct_conv(image, weights, stride, padding, dilation):
    """Plain loops over a zero-padded image (cross-correlation, PyTorch's convention)."""
    c_out, c_in, kh, kw = weights.shape
    (sy, sx), (py, px), (dy, dx) = stride, padding, dilation
    dtype = np.result_type(image, weights)
    padded = np.zeros((c_in, image.shape[1] + 2 * py, image.shape[2] + 2 * px), dtype)
    padded[:, py:py + image.shape[1], px:px + image.shape[2]] = image
    ho = (padded.shape[1] - dy * (kh - 1) - 1) // sy + 1
    wo = (padded.shape[2] - dx * (kw - 1) - 1) // sx + 1
    out = np.zeros((c_out, ho, wo), dtype)
    for co in range(c_out):
        for oy in range(ho):
            for ox in range(wo):
                for c in range(c_in):
                    for ky in range(kh):
                        for kx in range(kw):
                            out[co, oy, ox] += weights[co, c, ky, kx] * \
                                padded[c, oy * sy + ky * dy, ox * sx + kx * dx]
    return out


def random_conv(rng, cfg=None, thresholds=False):
    c_in, c_out = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = (int(rng.integers(0, kh)), int(rng.integers(0, kw)))
    dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    h = int(rng.integers(dilation[0] * (kh - 1) + 1, 8))
    w = int(rng.integers(dilation[1] * (kw - 1) + 1, 8))
    cfg = cfg or LayerConfig(bw=4, bv=8, threshold=5)
    lo, hi = cfg.w_range
    weights = rng.integers(lo, hi + 1, size=(c_out, c_in, kh, kw))
    probe = dataclasses.replace(cfg, threshold_source="register")
    layer = ConvLayer(weights, (c_in, h, w), probe, stride, padding, dilation)
    if thresholds:
        th = rng.integers(*cfg.v_range, size=layer.n_out, endpoint=True)
        layer = ConvLayer(weights, (c_in, h, w), cfg, stride, padding, dilation, th)
    return layer


def test_dense_matrix_is_the_direct_convolution(rng, regress):
    for _ in range(60 if regress else 15):
        layer = random_conv(rng)
        dense = layer.dense_weights()
        for s in range(layer.n_in):                       # one-hot input, one column each
            image = np.zeros(layer.n_in, np.int64)
            image[s] = 1
            want = direct_conv(image.reshape(layer.in_shape), layer.weights, layer.stride,
                               layer.padding, layer.dilation)
            assert want.shape == layer.out_shape
            np.testing.assert_array_equal(dense[:, s], want.ravel(), err_msg=f"source {s}")


def test_dense_matrix_of_another_kernel(rng):
    # a float kernel laid out with the layer's geometry (what the NIR import's float
    # reference uses) is the direct convolution of that kernel
    for _ in range(5):
        layer = random_conv(rng)
        kernel = rng.normal(size=layer.weights.shape)
        dense = layer.dense_weights(kernel)
        assert dense.dtype == np.float64
        for s in range(layer.n_in):
            image = np.zeros(layer.n_in)
            image[s] = 1
            want = direct_conv(image.reshape(layer.in_shape), kernel, layer.stride,
                               layer.padding, layer.dilation)
            np.testing.assert_allclose(dense[:, s], want.ravel(), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"`kernel` must have the shape"):
        layer.dense_weights(np.zeros((1, 1, 1, 1, 1)))


def test_hand_worked_example():
    # 1 x 3 x 3 input, one 2 x 2 kernel [[1, 2], [3, 4]], stride 1, no padding: neuron
    # (0, 0, 0) sees pixels 0, 1, 3, 4 with weights 1, 2, 3, 4.
    layer = ConvLayer(np.array([[[[1, 2], [3, 4]]]]), (1, 3, 3), LayerConfig(bw=4, bv=8))
    assert layer.out_shape == (1, 2, 2)
    assert layer.dense_weights().tolist() == [[1, 2, 0, 3, 4, 0, 0, 0, 0],
                                              [0, 1, 2, 0, 3, 4, 0, 0, 0],
                                              [0, 0, 0, 1, 2, 0, 3, 4, 0],
                                              [0, 0, 0, 0, 1, 2, 0, 3, 4]]
    # padding 1 on a 1 x 1 input: only the kernel's centre tap lands on the pixel
    pad = ConvLayer(np.arange(9).reshape(1, 1, 3, 3) - 4, (1, 1, 1), LayerConfig(bw=4, bv=8),
                    padding=1)
    assert pad.out_shape == (1, 1, 1) and pad.dense_weights().tolist() == [[0]]


@pytest.mark.parametrize("saturate", [True, False])
def test_conv_runs_like_its_dense_fc_layer(rng, saturate, regress):
    for trial in range(40 if regress else 12):
        bv = int(rng.integers(2, 10))
        bw = int(rng.integers(1, bv + 1))
        cfg = LayerConfig(bw=bw, bv=bv, saturate=saturate, leak_mode="shift",
                          leak=int(rng.integers(0, bv)),
                          threshold=int(rng.integers(0, 1 << (bv - 1))),
                          threshold_source=str(rng.choice(["register", "array"])),
                          reset=str(rng.choice(["hard", "soft"])))
        conv = random_conv(rng, cfg, thresholds=cfg.threshold_source == "array")
        fc = FCLayer(conv.dense_weights(), cfg, conv.thresholds)
        n = int(rng.integers(0, 150))
        ev = rng.integers(0, conv.n_in, size=n)
        ev[rng.random(n) < 0.1] = TICK
        P = int(rng.integers(1, 9))
        out_c, v_c = run_layer(conv, ev, P)
        out_f, v_f = run_layer(fc, ev, P)
        assert out_c.tolist() == out_f.tolist(), f"trial {trial}"
        assert v_c.tolist() == v_f.tolist(), f"trial {trial}"


def test_output_order_and_flattening():
    # two output channels, identity 1x1 kernels: neuron (co, y, x) fires with pixel (0, y, x);
    # output events come out sorted by (co, y, x): channel 0's pixels first.
    w = np.array([[[[1]]], [[[1]]]])
    layer = ConvLayer(w, (1, 2, 2), LayerConfig(bw=2, bv=4, threshold=1))
    out, _ = run_layer(layer, [3, 0, TICK])
    assert out.tolist() == [0, 3, 4, 7, TICK]


def test_conv_then_fc_chain():
    c1 = ConvLayer(np.ones((2, 1, 1, 1), int), (1, 2, 2), LayerConfig(bw=2, bv=4, threshold=1))
    fc = FCLayer(np.ones((1, 8), int), LayerConfig(bw=2, bv=4, threshold=2))
    run = Network([c1, fc]).run([1, TICK])
    assert run.outputs[0].tolist() == [1, 5, TICK]
    assert run.outputs[1].tolist() == [0, TICK]


def test_bad_conv_parameters():
    cfg = LayerConfig(bw=2, bv=4)
    w = np.zeros((1, 1, 3, 3), int)
    with pytest.raises(ValueError, match=r"`stride`.*>= 1.*0"):
        ConvLayer(w, (1, 5, 5), cfg, stride=0)
    with pytest.raises(ValueError, match=r"`padding`.*-1"):
        ConvLayer(w, (1, 5, 5), cfg, padding=(0, -1))
    with pytest.raises(ValueError, match="does not fit input"):
        ConvLayer(w, (1, 2, 2), cfg)
    with pytest.raises(ValueError, match="c_in=2"):
        ConvLayer(w, (2, 5, 5), cfg)
    with pytest.raises(ValueError, match="`in_shape`"):
        ConvLayer(w, (1, 5), cfg)
    with pytest.raises(ValueError, match=r"`in_shape`.*not 5"):
        ConvLayer(w, 5, cfg)
    with pytest.raises(ValueError, match=r"`padding` of layer '' must be in \[0, dilation \* "
                                         r"\(kernel - 1\)\] = \[0, \(2, 2\)\].*not \(3, 0\)"):
        ConvLayer(w, (1, 5, 5), cfg, padding=(3, 0))
    ConvLayer(w, (1, 5, 5), cfg, padding=4, dilation=2)          # 2 * (3 - 1) = 4: allowed
    with pytest.raises(ValueError, match=r"`in_shape` of layer '' has 17179869184 inputs; "
                                         r"at most 16777216"):
        ConvLayer(w, (1, 1 << 17, 1 << 17), cfg)
    with pytest.raises(ValueError, match=r"`weights`.*4-D"):
        ConvLayer(np.zeros((3, 3), int), (1, 5, 5), cfg)
    with pytest.raises(ValueError, match=r"`weights`.*\[-2, 1\]"):
        ConvLayer(w + 2, (1, 5, 5), cfg)
    with pytest.raises(ValueError, match="out_shape"):
        Network([ConvLayer(np.zeros((1, 1, 1, 1), int), (1, 4, 4), cfg),
                 ConvLayer(np.zeros((1, 1, 1, 1), int), (1, 2, 8), cfg)])


@pytest.mark.parametrize("key, value", [
    ("stride", 1.5), ("stride", (1, 1.5)), ("stride", "2"), ("stride", True),
    ("padding", None), ("padding", (1, 1, 1)), ("dilation", [[1, 1]]),
    ("dilation", np.float64(2.0)),
])
def test_conv_geometry_of_the_wrong_type_is_a_value_error(key, value):
    with pytest.raises(ValueError, match=rf"`{key}` of layer 'c' must be an integer >= "):
        ConvLayer(np.zeros((1, 1, 1, 1), int), (1, 4, 4), LayerConfig(bw=2, bv=4),
                  name="c", **{key: value})
