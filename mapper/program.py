"""The program of one placed layer: the macro operations the core controller issues.

A program has a static part, `LayerProgram.setup` (weight tables, thresholds and initial
potentials written through the row port), and an event-driven part that the controller
derives from the input events, exactly as `LayerProgram.run` does here:

* Input events are grouped by the batching rule (`golden.batching.form_batches`, ``P`` =
  the macro's ``batch_max``), **once for the whole layer**. For every batch, every tile the
  batch reaches gets **one** accumulate whose weight rows are the batch's operands for that
  tile, in ascending tile order. So each neuron sees the same sequence of per-batch totals
  as in the level-1 reference; a batch that does not reach a tile would add 0 there and is
  skipped (adding 0 to an in-range potential changes nothing, in both modes).
* Before a tile's accumulate or fire: a **swap** if the tile's potential is not in its slot
  (WS with more tiles than slots: save the slot's occupant, ``bv`` row reads, to the backing
  store; write the tile's potential, ``bv`` row writes, plus its thresholds when they live
  in the array); in OS streaming, a **stream** of the batch's weight operands into the
  staging rows (``bw`` row writes each).
* At a tick: a fire pass over every tile, macro by macro; the spikes of all tiles are merged
  into one output stream in ascending neuron index, then a tick (the level-1 order).

A *sink* receives the operations: `DrySink` ignores them (counting only), `mapper.executor`
runs them on `golden.macro.MacroModel` instances (and can record them as a list). The counts are
updated here, by the rules of `energy.counts`, whatever the sink.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from flexspim.config import AccumulateOp, FireOp, Operand
from flexspim.energy.counts import Counts, count_accumulate, count_fire
from flexspim.golden.batching import TICK, form_batches
from flexspim.golden.cycles import (
    ROW_CYCLES,
    accumulate_cycles,
    fire_cycles,
    leak_cycles,
    reset_cycles,
    shaped_guard_cycles,
)

from .placement import LayerPlacement

__all__ = ["LayerProgram", "LayerRun", "DrySink"]


class DrySink:
    """Accepts every operation and does nothing: a dry run that only counts."""

    executes = False

    def load(self, macro, operand, values, mask):
        pass

    def save(self, macro, operand, mask):
        return None

    def accumulate(self, macro, op, mask):
        pass

    def fire(self, macro, op, mask):
        return None

    def peek(self, macro, operand):
        return None


class LayerRun(NamedTuple):
    outputs: np.ndarray              # output event stream (with ticks)
    potentials: np.ndarray | None    # final potentials (None in a dry run)
    counts: Counts                   # run counts (setup in counts.setup_bits)
    pre_fire: np.ndarray | None = None    # (ticks, n_out): potentials before each fire
    post_fire: np.ndarray | None = None   # (ticks, n_out): potentials after each fire


class LayerProgram:
    """Program of one placed layer on macros ``base .. base + len(placement.macros) - 1``.

    Parameters:
        placement: from `mapper.placement.place_layer`.
        base: index of the layer's first macro in the sink's list of macros.
    """

    def __init__(self, placement: LayerPlacement, base: int = 0):
        self.pl = placement
        self.base = base
        t = placement.tiling
        self.cfg = t.layer.config
        self.masks = [t.column_mask(i) for i in range(t.n_tiles)]
        theta = t.layer.theta()
        self.theta = [theta[n] for n in t.tile_neurons]

    # -- addresses -------------------------------------------------------------------------
    def _slot(self, tile: int) -> int:
        mp = self.pl.macros[self.pl.tile_macro[tile]]
        return self.pl.tile_index[tile] % mp.n_slots

    def _v_row(self, tile: int) -> int:
        mp = self.pl.macros[self.pl.tile_macro[tile]]
        return mp.slot_base + self._slot(tile) * self.pl.slot_rows

    def _theta_row(self, tile: int):
        return self._v_row(tile) + self.cfg.v_rows if self.cfg.threshold_source == "array" \
            else None

    def _op(self, row: int, bits: int) -> Operand:
        return Operand(row, bits, self.cfg.operand_cols)

    def _cells(self, tile: int) -> int:
        """Columns a row of the tile's operands spans: neurons x ``operand_cols``."""
        return int(self.pl.tiling.tile_width[tile]) * self.cfg.operand_cols

    def _padded(self, tile: int, values) -> np.ndarray:
        out = np.zeros(self.pl.tiling.cols, dtype=np.int64)
        out[:len(values)] = values
        return out

    # -- phases ----------------------------------------------------------------------------
    def setup(self, sink, counts: Counts) -> None:
        """Resident tables, thresholds and zero potentials; the backing store starts at 0."""
        pl, t, cfg = self.pl, self.pl.tiling, self.cfg
        bw, w_rows = cfg.bw, cfg.w_rows
        self.occ = []
        self.backing: dict[int, np.ndarray | None] = {}
        for m, mp in enumerate(pl.macros):
            for table, base in mp.tables.items():
                tile0 = int(t.tiles_of_table(table)[0])
                a = self._cells(tile0)
                vals = t.table_values(table, np.arange(t.table_ops))
                for op in range(t.table_ops):
                    sink.load(self.base + m, self._op(base + op * w_rows, bw), vals[op],
                              self.masks[tile0])
                    counts.setup_bits += w_rows * a
            occ = [-1] * mp.n_slots
            for i, tile in enumerate(mp.tiles):
                a = int(t.tile_width[tile])
                if i < mp.n_slots:
                    occ[i] = tile
                    self._write_slot(sink, counts, tile, np.zeros(a, np.int64), setup=True)
                else:
                    self.backing[tile] = np.zeros(a, np.int64) if sink.executes else None
            self.occ.append(occ)

    def _write_slot(self, sink, counts, tile, v, setup: bool) -> None:
        m = self.pl.tile_macro[tile]
        a = self._cells(tile)
        bv = self.cfg.bv
        mask = self.masks[tile]
        sink.load(self.base + m, self._op(self._v_row(tile), bv),
                  None if v is None else self._padded(tile, v), mask)
        n = self.cfg.v_rows * a
        if self.cfg.threshold_source == "array":
            sink.load(self.base + m, self._op(self._theta_row(tile), bv),
                      self._padded(tile, self.theta[tile]), mask)
            n *= 2
        if setup:
            counts.setup_bits += n
        else:
            counts.port_write_bits += n
            counts.moved_bits += n
            counts.cycles += n // a * ROW_CYCLES

    def _ensure(self, sink, counts, tile: int) -> None:
        m = self.pl.tile_macro[tile]
        mp = self.pl.macros[m]
        if not mp.swapped:
            return
        slot = self._slot(tile)
        old = self.occ[m][slot]
        if old == tile:
            return
        if old >= 0:   # save the occupant's potential to the backing store
            a = int(self.pl.tiling.tile_width[old])
            vals = sink.save(self.base + m, self._op(self._v_row(old), self.cfg.bv),
                             self.masks[old])
            self.backing[old] = None if vals is None else vals[:a]
            n = self.cfg.v_rows * self._cells(old)
            counts.port_read_bits += n
            counts.moved_bits += n
            counts.cycles += self.cfg.v_rows * ROW_CYCLES
        self._write_slot(sink, counts, tile, self.backing.pop(tile), setup=False)
        counts.swaps += 1
        self.occ[m][slot] = tile

    def _accumulate(self, sink, counts, tile: int, ops: np.ndarray, macro_cfg) -> None:
        pl, t, cfg = self.pl, self.pl.tiling, self.cfg
        m = pl.tile_macro[tile]
        mp = pl.macros[m]
        a, cells = int(t.tile_width[tile]), self._cells(tile)
        n_c = cfg.operand_cols
        table = int(t.tile_table[tile])
        self._ensure(sink, counts, tile)
        if mp.staging is not None:        # OS streaming: write this batch's weights first
            vals = t.table_values(table, ops)
            w_rows = mp.staging + np.arange(len(ops)) * cfg.w_rows
            for k in range(len(ops)):
                sink.load(self.base + m, self._op(int(w_rows[k]), cfg.bw), vals[k],
                          self.masks[tile])
            n = len(ops) * cfg.w_rows * cells
            counts.port_write_bits += n
            counts.moved_bits += n
            counts.stream_ops += len(ops)
            counts.cycles += len(ops) * cfg.w_rows * ROW_CYCLES
        else:
            w_rows = mp.tables[table] + ops * cfg.w_rows
        cycles = accumulate_cycles(macro_cfg, cfg.bv, cfg.saturate, operand_cols=n_c)
        if sink.executes:
            op = AccumulateOp(v_row=self._v_row(tile), bv=cfg.bv,
                              w_rows=tuple(int(r) for r in w_rows), bw=cfg.bw,
                              saturate=cfg.saturate, operand_cols=n_c)
            sink.accumulate(self.base + m, op, self.masks[tile])
        # physical counts at a shape: one bit per column per row cycle (rows, not bits)
        count_accumulate(counts, cells, len(ops), cfg.v_rows,
                         shaped_guard_cycles(macro_cfg, cfg.bv, n_c), cfg.saturate,
                         cycles, len(ops) * a)

    def _fire_all(self, sink, counts) -> np.ndarray:
        pl, t, cfg = self.pl, self.pl.tiling, self.cfg
        cycles = fire_cycles(cfg)
        work = leak_cycles(cfg) + cfg.v_rows + reset_cycles(cfg)
        n_c = cfg.operand_cols
        spikes = []
        for m, mp in enumerate(pl.macros):
            for tile in mp.tiles:
                self._ensure(sink, counts, tile)
                s = None
                if sink.executes:
                    op = FireOp(v_row=self._v_row(tile), layer=cfg,
                                theta_row=self._theta_row(tile))
                    s = sink.fire(self.base + m, op, self.masks[tile])
                if s is not None:       # a group's spike is on its lowest column
                    spikes.append(t.tile_neurons[tile][s[::n_c][:t.tile_width[tile]]])
                count_fire(counts, self._cells(tile), cycles, work)
        if not spikes:
            return np.zeros(0, np.int64)
        return np.sort(np.concatenate(spikes)).astype(np.int64)

    def potentials(self, sink) -> np.ndarray | None:
        """Final potentials in neuron order (from the slots and the backing store)."""
        if not sink.executes:
            return None
        t = self.pl.tiling
        v = np.zeros(t.layer.n_out, dtype=np.int64)
        for tile in range(t.n_tiles):
            m = self.pl.tile_macro[tile]
            a = int(t.tile_width[tile])
            if self.occ[m][self._slot(tile)] == tile:
                vals = sink.peek(self.base + m, self._op(self._v_row(tile), self.cfg.bv))[:a]
            else:
                vals = self.backing[tile]
            v[t.tile_neurons[tile]] = vals
        return v

    def run(self, events, sink, macro_cfg, trace: bool = False) -> LayerRun:
        """Set up, then run the whole event stream of this layer through ``sink``.

        With ``trace`` (executing sinks only), the potentials of every neuron are read back
        before and after every fire pass (``pre_fire``, ``post_fire``: one row per tick);
        reading them back is not part of the program and is not counted.
        """
        trace = trace and sink.executes
        counts = Counts()
        self.setup(sink, counts)
        t = self.pl.tiling
        out, pre, post = [], [], []
        tick = np.array([TICK], np.int64)
        for item in form_batches(events, macro_cfg.batch_max):
            if item == TICK:
                if trace:
                    pre.append(self.potentials(sink))
                out.append(self._fire_all(sink, counts))
                out.append(tick)
                if trace:
                    post.append(self.potentials(sink))
                continue
            src = np.asarray(item, dtype=np.int64)
            if src.max() >= t.layer.n_in:
                raise ValueError(f"event source {int(src.max())} out of range for layer "
                                 f"{t.layer.name!r} with n_in={t.layer.n_in}")
            tiles, ops, _ = t.reach(src)
            if tiles.size == 0:
                continue
            cuts = np.flatnonzero(np.diff(tiles)) + 1
            for g_tiles, g_ops in zip(np.split(tiles, cuts), np.split(ops, cuts)):
                self._accumulate(sink, counts, int(g_tiles[0]), g_ops, macro_cfg)
        outputs = np.concatenate(out) if out else np.zeros(0, np.int64)
        stack = (lambda rows: np.array(rows, dtype=np.int64).reshape(len(rows), t.layer.n_out)) \
            if trace else (lambda rows: None)
        return LayerRun(outputs, self.potentials(sink), counts, stack(pre), stack(post))
