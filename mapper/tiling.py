"""Tiling: how a layer's neurons are grouped into column tiles, and which weight operands
(a "table") each tile needs.

A **tile** is a set of at most ``cols`` neurons, one per column (columns ``0..k-1``), that
share one vertical slot: their potentials sit at the same rows, so one accumulate or one fire
pass serves the whole tile. A **table** is the set of weight operands a tile's accumulates
activate: operand ``i`` of a table holds, in column ``c``, the weight that operand ``i``
contributes to the tile's neuron in column ``c``. Tiles may share a table.

* Fully connected layer: tile ``g`` holds neurons ``g*cols ..``; it has its own table whose
  operand ``s`` is input ``s`` (``W[neuron, s]`` per column).
* Convolution: columns hold output channels, a tile is (channel tile, output position):
  tile ``ct * n_pos + p`` holds neurons ``(co, p)`` for the channels ``co`` of channel tile
  ``ct``, and all positions of a channel tile share its table, the kernel: operand
  ``c * kh * kw + ky * kw + kx`` holds ``weights[co, c, ky, kx]`` per column. This is the
  weight reuse that makes weight-stationary natural for convolutions.

Operand shape (issue 20): at the layer's ``operand_cols = N_C`` a tile holds at most
``cols // N_C`` neurons, one per aligned group of ``N_C`` columns, and table values are one
per group (``cols`` below is then the tile's capacity, ``cols // N_C``); `column_mask`
gives the physical columns of the tile's groups.

For every input source the tiling lists the ``(tile, operand)`` pairs it reaches (a CSR).
Within one tile two distinct sources never use the same operand (for a conv, a fixed output
position and tap identify the input pixel), so a batch's operands for a tile are distinct
rows, as `AccumulateOp` requires.
"""

from __future__ import annotations

import numpy as np

from flexspim.golden.layers import ConvLayer, FCLayer, csr_from_pairs, csr_gather

__all__ = ["Tiling", "tile_layer"]


class Tiling:
    """Tiles, tables and the source -> (tile, operand) map of one layer.

    Attributes:
        layer: the layer.
        cols: neurons per tile (columns per macro at ``operand_cols = 1``; else groups).
        operand_cols, macro_cols: the layer's shape ``N_C`` and the macro's columns.
        tile_neurons: per tile, the global neuron index held by each used column.
        tile_table: table id of every tile.
        n_tables, table_ops: number of tables and operands per table.
    """

    def __init__(self, layer, cols: int, tile_neurons, tile_table, n_tables: int,
                 table_ops: int, indptr, syn_tile, syn_op, values, macro_cols=None):
        self.layer = layer
        self.cols = cols
        self.operand_cols = layer.config.operand_cols
        self.macro_cols = cols if macro_cols is None else macro_cols
        self.tile_neurons = tile_neurons
        self.tile_table = np.asarray(tile_table, dtype=np.int64)
        self.n_tables = n_tables
        self.table_ops = table_ops
        self._indptr, self._tile, self._op = indptr, syn_tile, syn_op
        self._values = values   # values(table, ops) -> (len(ops), cols)
        self.tile_width = np.array([len(n) for n in tile_neurons], dtype=np.int64)

    @property
    def n_tiles(self) -> int:
        return len(self.tile_neurons)

    def tiles_of_table(self, table: int) -> np.ndarray:
        return np.flatnonzero(self.tile_table == table)

    def table_values(self, table: int, ops) -> np.ndarray:
        """Weights of operands ``ops`` of ``table``: ``(len(ops), cols)``, 0 in unused columns."""
        return self._values(table, np.asarray(ops, dtype=np.int64))

    def column_mask(self, tile: int) -> np.ndarray:
        """Physical columns of the tile's neurons (whole groups at a shape)."""
        m = np.zeros(self.macro_cols, dtype=bool)
        m[:self.tile_width[tile] * self.operand_cols] = True
        return m

    def reach(self, sources) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For distinct ``sources``: arrays ``(tile, operand, source)`` of every synapse
        group they reach, sorted by tile (stable, so batch order is kept inside a tile)."""
        s = np.asarray(sources, dtype=np.int64)
        idx, lens = csr_gather(self._indptr, s)
        tiles, ops, src = self._tile[idx], self._op[idx], np.repeat(s, lens)
        order = np.argsort(tiles, kind="stable")
        return tiles[order], ops[order], src[order]


def _csr(n_in: int, src: np.ndarray, tile: np.ndarray, op: np.ndarray):
    return csr_from_pairs(n_in, src, tile.astype(np.int64), op.astype(np.int64))


def _tile_fc(layer: FCLayer, cols: int) -> Tiling:
    n_out, n_in = layer.weights.shape
    n_tiles = -(-n_out // cols)
    neurons = [np.arange(g * cols, min((g + 1) * cols, n_out)) for g in range(n_tiles)]
    src = np.repeat(np.arange(n_in), n_tiles)
    tile = np.tile(np.arange(n_tiles), n_in)
    padded = np.zeros((n_tiles * cols, n_in), dtype=np.int64)
    padded[:n_out] = layer.weights

    def values(table, ops):
        return padded[table * cols:(table + 1) * cols, ops].T

    return Tiling(layer, cols, neurons, np.arange(n_tiles), n_tiles, n_in,
                  *_csr(n_in, src, tile, src), values)


def _tile_conv(layer: ConvLayer, cols: int) -> Tiling:
    c_out, c_in, kh, kw = layer.weights.shape
    _, h, w = layer.in_shape
    _, ho, wo = layer.out_shape
    n_pos = ho * wo
    n_ct = -(-c_out // cols)
    neurons, tables = [], []
    for ct in range(n_ct):
        chans = np.arange(ct * cols, min((ct + 1) * cols, c_out))
        for p in range(n_pos):
            neurons.append(chans * n_pos + p)
            tables.append(ct)
    y, x, oy, ox, ky, kx = layer.taps().T
    c = np.arange(c_in)[:, None]
    src = (c * h * w + y * w + x).ravel()                      # (c_in, taps)
    op = (c * kh * kw + ky * kw + kx).ravel()
    pos = np.broadcast_to(oy * wo + ox, (c_in, len(y))).ravel()
    ct = np.arange(n_ct)[:, None]
    src_all = np.tile(src, n_ct)
    tile_all = (ct * n_pos + pos[None, :]).ravel()
    op_all = np.tile(op, n_ct)
    kernel = np.zeros((n_ct * cols, c_in * kh * kw), dtype=np.int64)
    kernel[:c_out] = layer.weights.reshape(c_out, -1)

    def values(table, ops):
        return kernel[table * cols:(table + 1) * cols, ops].T

    return Tiling(layer, cols, neurons, tables, n_ct, c_in * kh * kw,
                  *_csr(layer.n_in, src_all, tile_all, op_all), values)


def tile_layer(layer, cols: int) -> Tiling:
    """Tile an `FCLayer` or `ConvLayer` for macros of ``cols`` columns (``cols //
    operand_cols`` neurons per tile at the layer's shape).

    Raises:
        ValueError: an unknown layer type, or a shape wider than the macro.
    """
    n_c = getattr(getattr(layer, "config", None), "operand_cols", 1)
    if n_c > cols:
        raise ValueError(f"layer {getattr(layer, 'name', '') or '?'!r}: operand_cols={n_c} is "
                         f"wider than the macro's {cols} columns")
    if isinstance(layer, ConvLayer):
        t = _tile_conv(layer, cols // n_c)
    elif isinstance(layer, FCLayer):
        t = _tile_fc(layer, cols // n_c)
    else:
        raise ValueError(f"`layer` must be an FCLayer or ConvLayer, not {type(layer).__name__}")
    t.macro_cols = cols
    return t
