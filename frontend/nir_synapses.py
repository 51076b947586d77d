"""Synapse and pool nodes of a NIR graph as float matrices: conv geometry, the dense matrix of
a convolution and of a pooling (the same connection rule as `golden.layers.ConvLayer`)."""

from __future__ import annotations

import numpy as np

from flexspim.golden.layers import conv_output_hw, conv_taps


def _get(node, attr):
    return np.asarray(getattr(node, attr), dtype=np.float64)


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if np.ndim(v) == 0 else tuple(int(x) for x in np.ravel(v))


def _conv_geometry(name, node, shape):
    w = _get(node, "weight")
    if w.ndim != 4:
        raise ValueError(f"NIR node {name!r} (Conv2d): weight must be 4-D, not {w.shape}")
    if int(node.groups) != 1:
        raise ValueError(f"NIR node {name!r} (Conv2d): groups={node.groups} is not supported "
                         f"(only 1)")
    if len(shape) != 3:
        raise ValueError(f"NIR node {name!r} (Conv2d): input shape {shape} is not (C, H, W)")
    if shape[0] != w.shape[1]:
        raise ValueError(f"NIR node {name!r} (Conv2d): {w.shape[1]} input channels, but the "
                         f"input has shape {shape}")
    stride, dilation = _pair(node.stride), _pair(node.dilation)
    pad = node.padding
    if isinstance(pad, str):
        if pad == "valid":
            padding = (0, 0)
        elif pad == "same" and stride == (1, 1) and all(k % 2 for k in w.shape[2:]):
            padding = tuple(d * (k - 1) // 2 for k, d in zip(w.shape[2:], dilation))
        else:
            raise ValueError(f"NIR node {name!r} (Conv2d): padding {pad!r} is not supported "
                             f"with kernel {w.shape[2:]} and stride {stride}")
    else:
        padding = _pair(pad)
    return w, stride, padding, dilation


def _conv_dense(w, in_shape, stride, padding, dilation) -> np.ndarray:
    """The float ``(n_out, n_in)`` matrix of a convolution (same rule as `ConvLayer`)."""
    c_out, c_in = w.shape[:2]
    _, h, wd = in_shape
    ho, wo = conv_output_hw(in_shape[1:], w.shape[2:], stride, padding, dilation)
    y, x, oy, ox, ky, kx = conv_taps(in_shape[1:], w.shape[2:], stride, padding, dilation).T
    dense = np.zeros((c_out * ho * wo, c_in * h * wd))
    for co in range(c_out):
        for ci in range(c_in):
            dense[co * ho * wo + oy * wo + ox, ci * h * wd + y * wd + x] += w[co, ci, ky, kx]
    return dense


def _pool_matrix(name, node, shape) -> tuple[np.ndarray, tuple]:
    """The pooling node as a matrix ``(n_out, n_in)`` on C-order numbering, and its output
    shape. Sum: entries 1; average: ``1 / (kh kw)``."""
    kind = type(node).__name__
    if len(shape) != 3:
        raise ValueError(f"NIR node {name!r} ({kind}): input shape {shape} is not (C, H, W)")
    k, s, p = _pair(node.kernel_size), _pair(node.stride), _pair(node.padding)
    if kind == "AvgPool2d" and p != (0, 0):
        raise ValueError(f"NIR node {name!r} (AvgPool2d): padding {p} is not supported (only "
                         f"0: frameworks differ on whether padding counts in the average)")
    c, h, w = shape
    ho, wo = conv_output_hw((h, w), k, s, p, (1, 1))
    if ho < 1 or wo < 1:
        raise ValueError(f"NIR node {name!r} ({kind}): kernel {k} does not fit input {shape}")
    y, x, oy, ox, _, _ = conv_taps((h, w), k, s, p, (1, 1)).T
    val = 1.0 if kind == "SumPool2d" else 1.0 / (k[0] * k[1])
    mat = np.zeros((c * ho * wo, c * h * w))
    for ch in range(c):
        mat[ch * ho * wo + oy * wo + ox, ch * h * w + y * w + x] = val
    return mat, (c, ho, wo)
