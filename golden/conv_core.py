"""Level-2 golden model of a core holding a contiguous tile range of a conv (or FC) layer.

The specification the core RTL with the fan-out unit (`flexspim.hdl.fanout`) will follow
(docs/dataflow.md 4.3, 4.4 and 4.6; decisions 120-126). It runs on a `MacroModel` and composes
two rules that already exist, without re-deriving either:

* the **batching rule** (`golden.batching`, as `golden.core.CoreModel` applies it): events in
  arrival order into the open batch of up to ``P`` distinct sources; a repeat, a full batch
  or a tick closes it; a batch left open at the end of a stream stays pending;
* the **address rule** and the **accumulate order** (`golden.fanout.batch_accumulates`, built
  on `event_entries`): for every batch, one accumulate per tile of the core's range
  ``T_FIRST .. T_FIRST + T_COUNT - 1`` that the batch reaches, ascending tile, the tile's
  operands in batch order (the bias source, when `ConvGeometry.bias`, reaches every tile).

Rows (`ConvCoreLayout`, the registers of 4.4): local tile ``k = t - T_FIRST`` has its
potential at ``V_BASE + k*V_STRIDE`` (thresholds at ``THETA_BASE + k*V_STRIDE``), table
``ct`` (channel tile) its operand ``op`` at ``W_BASE + (ct - CT_FIRST)*W_STRIDE + op*w_rows``
with ``CT_FIRST = T_FIRST div N_POS`` (decision 121). The kernel is stored **once per core**:
one table per channel tile the range touches. A tile holds ``G = cols // N_C`` neurons (the
layer's operand shape ``N_C``), the last channel tile ``min(G, C_OUT - ct*G)``; its column
mask enables those groups only.

A tick fires every local tile in ascending order and emits each spike of group ``col`` of
tile ``(ct, p)`` as output neuron ``(ct*G + col)*N_POS + p`` (`golden.fanout.output_neuron`),
ascending tile then column (not ascending neuron index: the union of a layer's cores, sorted,
is the level-1 order), then one tick.

Cycles (decision 122):

* ``cycles``: engine cycles, as `CoreModel` counts them: each accumulate's and fire's macro
  cycles (`golden.cycles`);
* ``fanout_cycles``: the fan-out unit's cycles, `golden.fanout.batch_cycles` per batch plus
  one per dropped source (`event_cycles` of an out-of-range source);
* ``elapsed``: the two working in parallel with **two entry tables** (ping-pong): the
  collector fills batch ``b``'s table (its ``F_b`` fan-out cycles) once it has finished batch
  ``b - 1`` and the runner has finished batch ``b - 2`` (the table's previous user); the
  runner starts batch ``b``'s accumulates (``A_b`` engine cycles) once the collector has
  finished it and the runner has finished what came before; a fire pass starts when the
  runner is free and the collector has reached the tick. So batch ``b + 1``'s address
  generation overlaps batch ``b``'s accumulates, and a fire pass overlaps the next step's
  address generation. Events arrive at full speed; the FIFO, the runner's hand-over and the
  spike encoder (`golden.core_timeline` for the FC core) are not modelled: their cycles are
  the RTL integration's to add.

A source outside the layer is dropped and counted in ``errors`` (it costs the collector one
fan-out cycle and closes nothing). The layout is checked when the model is built
(`ConvCoreLayout.check`), so no command leaves the array.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from flexspim.config import (
    AccumulateOp,
    ConvGeometry,
    CoreConfig,
    FanoutConfig,
    FireOp,
    LayerConfig,
    Operand,
)

from .batching import TICK
from .fanout import batch_accumulates, batch_cycles, event_cycles, geometry, output_neuron
from .macro import MacroModel

__all__ = ["ConvCoreLayout", "ConvCoreModel", "ConvCoreRun"]


@dataclass(frozen=True)
class ConvCoreLayout:
    """The core's tile range and row registers (docs/dataflow.md 4.4; module docstring)."""

    t_first: int
    t_count: int
    v_base: int
    v_stride: int
    w_base: int
    w_stride: int
    theta_base: int = 0

    def tables(self, g: ConvGeometry) -> range:
        """Channel tiles (tables) the range touches, ascending."""
        return range(self.t_first // g.n_pos, (self.t_first + self.t_count - 1) // g.n_pos + 1)

    def operands(self, g: ConvGeometry, layer: LayerConfig) -> list[tuple[str, int, int]]:
        """Every row span the core uses: ``(name, first row, rows)``."""
        out = []
        for k in range(self.t_count):
            out.append((f"V of tile {self.t_first + k}", self.v_base + k * self.v_stride,
                        layer.v_rows))
            if layer.threshold_source == "array":
                out.append((f"threshold of tile {self.t_first + k}",
                            self.theta_base + k * self.v_stride, layer.v_rows))
        ct0 = self.tables(g).start
        for ct in self.tables(g):
            out.append((f"table {ct}", self.w_base + (ct - ct0) * self.w_stride,
                        g.table_ops * layer.w_rows))
        return out

    def check(self, core: CoreConfig, layer: LayerConfig, g: ConvGeometry) -> None:
        """Raise `ValueError` unless the range is in the layer and its rows fit, unshared."""
        layer.check_fits(core.macro)
        n_tiles = g.n_tiles(core.macro.cols // layer.operand_cols)
        if not (0 <= self.t_first and 1 <= self.t_count
                and self.t_first + self.t_count <= n_tiles):
            raise ValueError(f"tiles {self.t_first}..{self.t_first + self.t_count - 1} are not "
                             f"inside the layer's tiles 0..{n_tiles - 1}")
        spans = []
        for name, row, rows in self.operands(g, layer):
            if row < 0 or row + rows > core.macro.rows:
                raise ValueError(f"`{name}` needs rows {row}..{row + rows - 1} but the array "
                                 f"has rows 0..{core.macro.rows - 1}")
            spans.append((row, row + rows, name))
        spans.sort()
        for (a0, a1, na), (b0, b1, nb) in zip(spans, spans[1:]):
            if b0 < a1:
                raise ValueError(f"`{na}` (rows {a0}..{a1 - 1}) overlaps `{nb}` "
                                 f"(rows {b0}..{b1 - 1}); operands must not share rows")


class ConvCoreRun(NamedTuple):
    events: np.ndarray     # output event stream (network neuron indices, TICK)
    cycles: int            # engine cycles: macro commands
    batches: int           # batches run (closed and issued)
    accumulates: int       # accumulate commands issued
    errors: int            # dropped input events
    fanout_cycles: int     # the fan-out unit's cycles
    elapsed: int           # collector and runner overlapped (module docstring)


class ConvCoreModel:
    """A contiguous tile range of one layer on one core; state (array, open batch) persists
    across `run`. With ``record``, ``commands`` keeps every macro command issued as
    ``(kind, op, col_mask)``, kind "accumulate" or "fire".

    Raises:
        ValueError: the layout does not fit (`ConvCoreLayout.check`), or ``fanout`` refuses
            the geometry (`FanoutConfig.check`).
    """

    def __init__(self, core: CoreConfig, layer: LayerConfig, geom: ConvGeometry,
                 layout: ConvCoreLayout, fanout: FanoutConfig | None = None,
                 macro: MacroModel | None = None, record: bool = False):
        if not isinstance(core, CoreConfig):
            raise ValueError(f"`core` must be a CoreConfig, not {core!r}")
        if not isinstance(geom, ConvGeometry):
            raise ValueError(f"`geom` must be a ConvGeometry, not {geom!r}")
        if fanout is not None:
            fanout.check(geom, "the layer")
        layout.check(core, layer, geom)
        self.core, self.layer, self.g, self.layout = core, layer, geom, layout
        self.macro = MacroModel(core.macro) if macro is None else macro
        self.groups = core.macro.cols // layer.operand_cols       # G: neurons per tile
        self.ct_first = layout.tables(geom).start
        self.open: list[int] = []
        self.record = record
        self.commands: list[tuple] = []

    # -- addresses -------------------------------------------------------------------------
    @property
    def tiles(self) -> range:
        return range(self.layout.t_first, self.layout.t_first + self.layout.t_count)

    def width(self, tile: int) -> int:
        """Neurons (groups) of ``tile``: ``min(G, C_OUT - ct*G)``."""
        return min(self.groups, self.g.c_out - tile // self.g.n_pos * self.groups)

    def mask(self, tile: int) -> np.ndarray:
        m = np.zeros(self.core.macro.cols, dtype=bool)
        m[:self.width(tile) * self.layer.operand_cols] = True
        return m

    def v_row(self, tile: int) -> int:
        return self.layout.v_base + (tile - self.layout.t_first) * self.layout.v_stride

    def theta_row(self, tile: int) -> int | None:
        if self.layer.threshold_source != "array":
            return None
        return self.layout.theta_base + (tile - self.layout.t_first) * self.layout.v_stride

    def w_row(self, ct: int, op: int) -> int:
        lay = self.layout
        return lay.w_base + (ct - self.ct_first) * lay.w_stride + op * self.layer.w_rows

    def neurons(self, tile: int) -> np.ndarray:
        """Network indices of the tile's neurons, column order."""
        return np.array([output_neuron(self.g, self.groups, tile, c)
                         for c in range(self.width(tile))], dtype=np.int64)

    def _op(self, row: int, bits: int) -> Operand:
        return Operand(row, bits, self.layer.operand_cols)

    # -- loading (row-port traffic) --------------------------------------------------------
    def load(self, layer, bias=None) -> int:
        """Write the tables the range touches (once each), the tiles' thresholds, and zero
        potentials. ``layer``: the `ConvLayer` or `FCLayer` whose geometry (bias aside) is
        the core's; ``bias``: with `ConvGeometry.bias`, the bias source's weight per output
        channel. Returns the weight rows written."""
        g, L, G = self.g, self.layer, self.groups
        if layer.config != L:
            raise ValueError("the layer's config differs from the core's layer config")
        if geometry(layer) != ConvGeometry(**{**g.__dict__, "bias": False}):
            raise ValueError(f"the layer's geometry {geometry(layer)} is not the core's {g}")
        kernel = np.asarray(layer.weights, dtype=np.int64).reshape(g.c_out, -1)
        if g.bias:
            if bias is None or np.shape(bias) != (g.c_out,):
                raise ValueError(f"a layer with a bias source needs `bias` of shape "
                                 f"({g.c_out},), not {bias!r}")
            kernel = np.concatenate([kernel, np.asarray(bias, np.int64)[:, None]], axis=1)
        elif bias is not None:
            raise ValueError("`bias` given for a geometry without a bias source")
        w_rows = 0
        for ct in self.layout.tables(g):
            vals = np.zeros((g.table_ops, G), dtype=np.int64)
            n = min(G, g.c_out - ct * G)
            vals[:, :n] = kernel[ct * G:ct * G + n].T
            for op in range(g.table_ops):
                self.macro.load(self._op(self.w_row(ct, op), L.bw), vals[op])
                w_rows += L.w_rows
        theta = layer.theta() if L.threshold_source == "array" else None
        for t in self.tiles:
            self.macro.load(self._op(self.v_row(t), L.bv), np.zeros(G, dtype=np.int64))
            if theta is not None:
                th = np.zeros(G, dtype=np.int64)
                th[:self.width(t)] = theta[self.neurons(t)]
                self.macro.load(self._op(self.theta_row(t), L.bv), th)
        return w_rows

    def potentials(self) -> tuple[np.ndarray, np.ndarray]:
        """``(neurons, values)``: the network index and potential of every neuron held."""
        L = self.layer
        idx, val = [], []
        for t in self.tiles:
            idx.append(self.neurons(t))
            val.append(self.macro.peek(self._op(self.v_row(t), L.bv))[:self.width(t)])
        return np.concatenate(idx), np.concatenate(val)

    # -- event processing ------------------------------------------------------------------
    def _run_batch(self) -> list[int]:
        """Issue the open batch's accumulates: the macro cycles of each."""
        g, L = self.g, self.layer
        cycles = []
        for acc in batch_accumulates(g, self.open, self.groups, self.layout.t_first,
                                     self.layout.t_count):
            ct = acc.tile // g.n_pos
            op = AccumulateOp(self.v_row(acc.tile), L.bv,
                              tuple(self.w_row(ct, o) for o in acc.ops), L.bw, L.saturate,
                              L.operand_cols)
            mask = self.mask(acc.tile)
            cycles.append(self.macro.accumulate(op, col_mask=mask).cycles)
            if self.record:
                self.commands.append(("accumulate", op, mask))
        self.open = []
        return cycles

    def _fire(self, out: list[int]) -> int:
        L, n_c = self.layer, self.layer.operand_cols
        cycles = 0
        for t in self.tiles:
            op = FireOp(self.v_row(t), L, self.theta_row(t))
            mask = self.mask(t)
            res = self.macro.fire(op, col_mask=mask)
            if self.record:
                self.commands.append(("fire", op, mask))
            cols = np.flatnonzero(res.spikes[::n_c][:self.width(t)])
            out.extend(output_neuron(self.g, self.groups, t, int(c)) for c in cols)
            cycles += res.cycles
        return cycles

    def run(self, events) -> ConvCoreRun:
        """Feed ``events`` (sources and `TICK`); ``elapsed`` from an idle core."""
        g, P = self.g, self.core.macro.batch_max
        out: list[int] = []
        cycles = batches = accs = errors = fan = 0
        coll = run_free = 0            # first free cycle of the collector, of the runner
        ends: list[int] = [0, 0]       # runner end of the last two batches (table reuse)
        pending = 0                    # dropped sources' fan-out cycles of the open batch

        def close():
            nonlocal cycles, batches, accs, fan, coll, run_free, pending
            f = batch_cycles(g, self.open) + pending
            a = self._run_batch()
            coll = max(coll, ends[-2]) + f
            run_free = max(coll, run_free) + sum(a)
            ends.append(run_free)
            cycles, batches, accs, fan = cycles + sum(a), batches + 1, accs + len(a), fan + f
            pending = 0

        for e in np.asarray(events, dtype=np.int64).tolist():
            if e == TICK:
                if self.open:
                    close()
                coll += pending        # dropped sources with no batch: the collector's time
                fan, pending = fan + pending, 0
                c = self._fire(out)
                run_free = max(coll, run_free) + c
                cycles += c
                out.append(TICK)
                continue
            if not 0 <= e < g.n_in:
                errors += 1
                pending += event_cycles(g, e)
                continue
            if e in self.open:
                close()
            self.open.append(e)
            if len(self.open) == P:
                close()
        coll, fan = coll + pending, fan + pending     # dropped after the last batch or tick
        return ConvCoreRun(np.asarray(out, dtype=np.int64), cycles, batches, accs, errors,
                           fan, max(coll, run_free))
