"""Level-1 layer types: what one layer of a network is, checked once when it is built.

`FCLayer` holds a dense ``(n_out, n_in)`` weight matrix; `ConvLayer` is a 2-D convolution
defined as the fully connected layer of `ConvLayer.dense_weights`. Each layer knows its sizes,
its thresholds (`theta`) and how to sum a batch of events (`batch_sums`); how a network of
them runs over time is `golden.network` (the specification) and `golden.network_fast` (the
same results, vectorized), which both build on this module and on the helpers here:
`conv_output_hw` (re-exported from `flexspim.config`, which `ConvGeometry` shares) and
`conv_taps` (convolution geometry), `csr_from_pairs` and `csr_gather`
(the per-source connection tables), `start_potentials` (a checked initial potential).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexspim.config import LayerConfig, conv_output_hw

__all__ = ["FCLayer", "ConvLayer", "MAX_CONV_SIZE", "conv_output_hw", "conv_taps",
           "csr_from_pairs", "csr_gather", "start_potentials"]


def _check_weights(w: np.ndarray, cfg: LayerConfig, name: str) -> np.ndarray:
    lo, hi = cfg.w_range
    if w.min() < lo or w.max() > hi:
        raise ValueError(f"`weights` of layer {name!r} must be in [{lo}, {hi}] "
                         f"(bw={cfg.bw}), got [{w.min()}, {w.max()}]")
    return w.astype(np.int64)


def _check_thresholds(thresholds, n_out: int, cfg: LayerConfig, name: str):
    if cfg.threshold_source == "array":
        t = np.asarray(thresholds)
        if t.shape != (n_out,) or not np.issubdtype(t.dtype, np.integer):
            raise ValueError(f"`thresholds` of layer {name!r} must be {n_out} "
                             f"integers (threshold_source='array')")
        tlo, thi = cfg.v_range
        if t.min() < tlo or t.max() > thi:
            raise ValueError(f"`thresholds` of layer {name!r} must be in "
                             f"[{tlo}, {thi}] (bv={cfg.bv})")
        return t.astype(np.int64)
    if thresholds is not None:
        raise ValueError(f"`thresholds` of layer {name!r} must be None when "
                         f"threshold_source is 'register'")
    return None


@dataclass(frozen=True, eq=False)
class FCLayer:
    """A fully connected layer.

    Attributes:
        weights: integer array ``(n_out, n_in)``, each in the ``bw``-bit signed range.
        config: the layer's `LayerConfig`.
        thresholds: per-neuron thresholds ``(n_out,)`` in the ``bv``-bit signed range,
            required when ``config.threshold_source == "array"``, else must be None.
        name: for reports.
    """

    weights: np.ndarray
    config: LayerConfig
    thresholds: np.ndarray | None = None
    name: str = ""

    def __post_init__(self):
        w = np.asarray(self.weights)
        if w.ndim != 2 or w.size == 0 or not np.issubdtype(w.dtype, np.integer):
            raise ValueError(f"`weights` of layer {self.name!r} must be a non-empty 2-D integer "
                             f"array (n_out, n_in), not {w.dtype} {w.shape}")
        object.__setattr__(self, "weights", _check_weights(w, self.config, self.name))
        object.__setattr__(self, "thresholds",
                           _check_thresholds(self.thresholds, w.shape[0], self.config, self.name))
        object.__setattr__(self, "_w_t", np.ascontiguousarray(self.weights.T))

    @property
    def n_in(self) -> int:
        return self.weights.shape[1]

    @property
    def n_out(self) -> int:
        return self.weights.shape[0]

    def theta(self) -> np.ndarray:
        if self.thresholds is not None:
            return self.thresholds
        return np.full(self.n_out, self.config.threshold, dtype=np.int64)

    def batch_sums(self, sources: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """``(len(starts), n_out)``: each batch's exact total per neuron (no clamping).

        Batch ``i`` holds ``sources[starts[i]:starts[i+1]]``.
        """
        return np.add.reduceat(self._w_t[sources], starts, axis=0)


def _pair(name: str, value, lo: int, layer: str) -> tuple[int, int]:
    """An int or a pair of ints (y, x), each ``>= lo``; anything else is a `ValueError`."""
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

    if is_int(value):
        vals = (value, value)
    elif isinstance(value, (tuple, list, np.ndarray)) and np.ndim(value) == 1:
        vals = tuple(value)
    else:
        vals = ()
    if len(vals) != 2 or not all(is_int(v) and v >= lo for v in vals):
        raise ValueError(f"`{name}` of layer {layer!r} must be an integer >= {lo} or a pair "
                         f"(y, x) of them, not {value!r}")
    return int(vals[0]), int(vals[1])


def conv_taps(in_hw, kernel_hw, stride, padding, dilation) -> np.ndarray:
    """Every spatial connection of a convolution, as rows ``(y, x, oy, ox, ky, kx)``.

    Input pixel ``(y, x)`` feeds output ``(oy, ox)`` through kernel tap ``(ky, kx)`` when
    ``y = oy * stride_y - pad_y + ky * dil_y`` (same for x) and ``(y, x)`` lies inside the
    input; taps on the zero padding are left out. Rows are sorted by ``(oy, ox, ky, kx)``.
    """
    (h, w), (kh, kw) = in_hw, kernel_hw
    ho, wo = conv_output_hw(in_hw, kernel_hw, stride, padding, dilation)
    oy, ox, ky, kx = (a.ravel() for a in np.meshgrid(np.arange(ho), np.arange(wo),
                                                     np.arange(kh), np.arange(kw),
                                                     indexing="ij"))
    y = oy * stride[0] - padding[0] + ky * dilation[0]
    x = ox * stride[1] - padding[1] + kx * dilation[1]
    ok = (y >= 0) & (y < h) & (x >= 0) & (x < w)
    return np.stack([y, x, oy, ox, ky, kx], axis=1)[ok].astype(np.int64)


def csr_from_pairs(n_rows: int, rows: np.ndarray, *columns: np.ndarray):
    """A CSR from pairs: ``(indptr, *columns sorted by row)`` (stable, so entries of one row
    keep their order); ``indptr[r]:indptr[r + 1]`` are row ``r``'s entries."""
    rows = np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return (indptr,) + tuple(np.asarray(c)[order] for c in columns)


def csr_gather(indptr: np.ndarray, rows) -> tuple[np.ndarray, np.ndarray]:
    """Every CSR entry of ``rows`` (repeats allowed), without a Python loop: ``(idx, lens)``
    with ``idx`` the entry indices, row by row in the order given, and ``lens`` the number
    of entries of each row."""
    rows = np.asarray(rows, dtype=np.int64)
    lens = indptr[rows + 1] - indptr[rows]
    first = np.repeat(indptr[rows] - (np.cumsum(lens) - lens), lens)
    return first + np.arange(int(lens.sum())), lens


#: Largest ``c * H * W`` of a convolution's input (its tables are built in memory).
MAX_CONV_SIZE = 1 << 24


@dataclass(frozen=True, eq=False)
class ConvLayer:
    """A 2-D convolution (cross-correlation, as in PyTorch), no bias.

    Sources and neurons are numbered by flattening ``(channel, y, x)`` in C order:
    input event ``s = c * H * W + y * W + x``, neuron ``n = co * Ho * Wo + oy * Wo + ox``
    (so a following `FCLayer` sees PyTorch's ``flatten`` order). Input pixel ``(c, y, x)``
    adds ``weights[co, c, ky, kx]`` to neuron ``(co, oy, ox)`` for every tap of `conv_taps`;
    zero padding adds nothing. Otherwise the layer is exactly the `FCLayer` of
    `dense_weights`: same batching, per-batch saturation, fire and output order (ascending
    neuron index), so a conv layer's spikes are sorted by ``(co, oy, ox)``.

    Attributes:
        weights: integer array ``(c_out, c_in, kh, kw)`` in the ``bw``-bit signed range.
        in_shape: ``(c_in, H, W)`` of the input.
        config: the layer's `LayerConfig`.
        stride, padding, dilation: an int or a pair ``(y, x)``; stride and dilation >= 1,
            padding in ``[0, dilation * (kernel - 1)]`` (zeros, the same on both sides of an
            axis; more would only add neurons that see nothing but padding).
        thresholds: per-neuron thresholds ``(n_out,)`` (flattened ``(co, oy, ox)``), required
            when ``config.threshold_source == "array"``, else None.
        name: for reports.

    Raises:
        ValueError: a bad shape, a weight or threshold out of range, or an empty output.
    """

    weights: np.ndarray
    in_shape: tuple
    config: LayerConfig
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    dilation: tuple = (1, 1)
    thresholds: np.ndarray | None = None
    name: str = ""

    def __post_init__(self):
        w = np.asarray(self.weights)
        if w.ndim != 4 or w.size == 0 or not np.issubdtype(w.dtype, np.integer):
            raise ValueError(f"`weights` of layer {self.name!r} must be a non-empty 4-D integer "
                             f"array (c_out, c_in, kh, kw), not {w.dtype} {w.shape}")
        shape = tuple(self.in_shape) if isinstance(self.in_shape, (tuple, list, np.ndarray)) \
            and np.ndim(self.in_shape) == 1 else ()
        if len(shape) != 3 or any(isinstance(n, bool) or not isinstance(n, (int, np.integer))
                                  or n < 1 for n in shape):
            raise ValueError(f"`in_shape` of layer {self.name!r} must be three positive "
                             f"integers (c_in, H, W), not {self.in_shape!r}")
        if shape[0] != w.shape[1]:
            raise ValueError(f"`in_shape` of layer {self.name!r} has c_in={shape[0]} but "
                             f"`weights` has c_in={w.shape[1]}")
        object.__setattr__(self, "in_shape", tuple(int(n) for n in shape))
        object.__setattr__(self, "stride", _pair("stride", self.stride, 1, self.name))
        object.__setattr__(self, "padding", _pair("padding", self.padding, 0, self.name))
        object.__setattr__(self, "dilation", _pair("dilation", self.dilation, 1, self.name))
        reach = tuple(d * (k - 1) for d, k in zip(self.dilation, w.shape[2:]))
        if any(p > r for p, r in zip(self.padding, reach)):
            raise ValueError(f"`padding` of layer {self.name!r} must be in [0, dilation * "
                             f"(kernel - 1)] = [0, {reach}] per axis (more padding only adds "
                             f"neurons that see nothing but zeros), not {self.padding}")
        if int(np.prod(shape)) > MAX_CONV_SIZE:
            raise ValueError(f"`in_shape` of layer {self.name!r} has {int(np.prod(shape))} "
                             f"inputs; at most {MAX_CONV_SIZE}")
        ho, wo = conv_output_hw(shape[1:], w.shape[2:], self.stride, self.padding,
                                self.dilation)
        if ho < 1 or wo < 1:
            raise ValueError(f"layer {self.name!r}: kernel {w.shape[2:]} (dilation "
                             f"{self.dilation}) does not fit input {shape[1:]} with padding "
                             f"{self.padding}; the output would be {ho} x {wo}")
        object.__setattr__(self, "weights", _check_weights(w, self.config, self.name))
        n_out = w.shape[0] * ho * wo
        object.__setattr__(self, "thresholds",
                           _check_thresholds(self.thresholds, n_out, self.config, self.name))
        object.__setattr__(self, "_csr", self._build_csr())

    @property
    def out_shape(self) -> tuple[int, int, int]:
        ho, wo = conv_output_hw(self.in_shape[1:], self.weights.shape[2:], self.stride,
                                self.padding, self.dilation)
        return self.weights.shape[0], ho, wo

    @property
    def n_in(self) -> int:
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        return int(np.prod(self.out_shape))

    def taps(self) -> np.ndarray:
        """`conv_taps` of this layer: rows ``(y, x, oy, ox, ky, kx)``."""
        return conv_taps(self.in_shape[1:], self.weights.shape[2:], self.stride,
                         self.padding, self.dilation)

    def theta(self) -> np.ndarray:
        if self.thresholds is not None:
            return self.thresholds
        return np.full(self.n_out, self.config.threshold, dtype=np.int64)

    def _build_csr(self):
        """Per source, the neurons it reaches and the kernel entries (flat indices into
        ``weights``) that connect them: ``(indptr, neuron, kernel_index)``."""
        c_out, c_in, kh, kw = self.weights.shape
        _, h, w = self.in_shape
        _, ho, wo = self.out_shape
        y, x, oy, ox, ky, kx = self.taps().T
        ci, co = np.meshgrid(np.arange(c_in), np.arange(c_out), indexing="ij")
        ci, co = ci.ravel()[:, None], co.ravel()[:, None]
        src = (ci * h * w + y * w + x).ravel()
        dst = (co * ho * wo + oy * wo + ox).ravel()
        kidx = (((co * c_in + ci) * kh + ky) * kw + kx).ravel()
        indptr, dst, kidx = csr_from_pairs(self.n_in, src, dst, kidx)
        return indptr, dst, kidx, self.weights.ravel()[kidx]

    def dense_weights(self, kernel=None) -> np.ndarray:
        """The equivalent ``(n_out, n_in)`` matrix (the definition of this layer's semantics).

        ``kernel``: another array of the shape of ``weights`` (any dtype, e.g. the float
        kernel a quantized layer came from) to lay out with this layer's geometry instead.
        """
        indptr, dst, kidx, wgt = self._csr
        if kernel is None:
            values, dtype = wgt, np.int64
        else:
            kernel = np.asarray(kernel)
            if kernel.shape != self.weights.shape:
                raise ValueError(f"`kernel` must have the shape {self.weights.shape} of the "
                                 f"weights of layer {self.name!r}, not {kernel.shape}")
            values, dtype = kernel.ravel()[kidx], kernel.dtype
        dense = np.zeros((self.n_out, self.n_in), dtype=dtype)
        src = np.repeat(np.arange(self.n_in), np.diff(indptr))
        dense[dst, src] = values
        return dense

    def batch_sums(self, sources: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """``(len(starts), n_out)``: each batch's exact total per neuron (see `FCLayer`)."""
        indptr, dst, _, wgt = self._csr
        idx, lens = csr_gather(indptr, sources)
        batch = np.zeros(len(sources), dtype=np.int64)
        batch[starts[1:]] = 1
        batch = np.cumsum(batch)
        out = np.zeros(len(starts) * self.n_out, dtype=np.int64)
        np.add.at(out, np.repeat(batch, lens) * self.n_out + dst[idx], wgt[idx])
        return out.reshape(len(starts), self.n_out)


def start_potentials(layer, v0=None) -> np.ndarray:
    """A fresh int64 copy of ``v0`` (zeros when None), checked: one ``bv``-bit signed value
    per neuron."""
    if v0 is None:
        return np.zeros(layer.n_out, dtype=np.int64)
    v = np.array(v0, copy=True)
    lo, hi = layer.config.v_range
    if v.shape != (layer.n_out,) or not (np.issubdtype(v.dtype, np.integer) or v.size == 0):
        raise ValueError(f"`v0` of layer {layer.name!r} must be {layer.n_out} integers, "
                         f"not {v.dtype} {v.shape}")
    if v.size and (v.min() < lo or v.max() > hi):
        raise ValueError(f"`v0` of layer {layer.name!r} must be in [{lo}, {hi}] "
                         f"(bv={layer.config.bv}), got [{v.min()}, {v.max()}]")
    return v.astype(np.int64)
