"""A placed layer run the way the hardware will run it: the core's loop (batches, one
accumulate per reached tile, fire passes) with `golden.sequencer.SequencerModel` deciding
every move, on level-2 models (`golden.macro.MacroModel` per macro, a buffer per macro, one
backing store), instead of `mapper.program.LayerProgram` moving the operands itself.

`sequencer_setup` turns a `LayerPlacement` into what the host writes: per macro, the
descriptor (docs/dataflow.md 5.4), the core layout it reads, and the initial contents of the
array, the buffer and the backing store. `run_sequenced` runs events through it and records
the array-side program in `mapper.executor.RecordingSink`'s format, so a test can check that
the sequencer issues exactly the loads and reads `LayerProgram` lists, in its order (5.4
point 3), and that the counters equal the energy model's counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from flexspim.config import AccumulateOp, BufferConfig, FireOp, MacroConfig, MoverConfig, Operand
from flexspim.golden.batching import TICK, form_batches
from flexspim.golden.macro import MacroModel, from_bits, to_bits
from flexspim.golden.sequencer import (
    CoreLayout,
    Descriptor,
    SequencerModel,
    apply,
    int_to_row,
    row_to_int,
)

from .placement import LayerPlacement

__all__ = ["CoreSetup", "sequencer_setup", "SequencedRun", "run_sequenced"]


@dataclass
class CoreSetup:
    """One macro's share of a layer: its sequencer, local tiles and tables, and the storage
    the host fills before the run."""

    seq: SequencerModel
    tiles: list                 # layer tile of local tile k
    table_first: int            # local table = layer table - table_first
    macro: MacroModel
    buffer: list = field(default_factory=list)


def _rows(values, bits: int, cols: int) -> list[int]:
    v = np.zeros(cols, np.int64)
    v[:len(values)] = values
    return [row_to_int(r) for r in to_bits(v, bits)]


def sequencer_setup(pl: LayerPlacement, macro_cfg: MacroConfig, buffer: BufferConfig, *,
                    dram: bool = False, mover: MoverConfig | None = None,
                    latency: int = 1) -> tuple[list[CoreSetup], dict]:
    """Descriptors, layouts and initial storage of every macro of ``pl`` (one core each),
    and the shared backing store (row -> integer; DRAM-backed layers only, each core's area
    offset by its ``BS_BASE``). Raises `ValueError` from the host check
    (`SequencerModel`) before anything runs."""
    t, cfg = pl.tiling, pl.tiling.layer.config
    if cfg.operand_cols != 1:    # descriptors and transfers count bv/bw rows (issue 20)
        raise ValueError(f"the sequencer model runs vertical operands only; layer "
                         f"{t.layer.name or '?'!r} has operand_cols={cfg.operand_cols}")
    bv, bw = cfg.bv, cfg.bw
    cols = macro_cfg.cols
    theta = t.layer.theta()
    backing: dict[int, int] = {}
    cores, bs_base = [], 0
    for mp in pl.macros:
        m = MacroModel(macro_cfg)
        tiles = list(mp.tiles)
        tables = sorted({int(t.tile_table[x]) for x in tiles})
        table_first = tables[0] if tables else 0
        n_tables = tables[-1] - table_first + 1 if tables else 0
        arr_theta = cfg.threshold_source == "array"
        layout = CoreLayout(rows=macro_cfg.rows, bv=bv, bw=bw, v_base=mp.slot_base,
                            v_stride=pl.slot_rows,
                            theta_base=mp.slot_base + bv if arr_theta else None,
                            batch_max=macro_cfg.batch_max)
        if mp.swapped:
            desc = Descriptor("swap", dram, n_slots=mp.n_slots, slot_rows=pl.slot_rows,
                              tile_stride=pl.slot_rows)
            n_local = len(tiles)
        elif mp.staging is not None:
            desc = Descriptor("stream", dram, tile_stride=t.table_ops * bw,
                              stage_row=mp.staging)
            n_local = n_tables
        else:
            desc, n_local = Descriptor(), 0
        seq = SequencerModel(desc, layout, buffer, n_local=n_local, mover=mover,
                             bs_base=bs_base, latency=latency)
        core = CoreSetup(seq, tiles, table_first, m, [None] * buffer.words)
        # resident tables, as LayerProgram.setup
        for table, base in mp.tables.items():
            tile0 = int(t.tiles_of_table(table)[0])
            vals = t.table_values(table, np.arange(t.table_ops))
            for op in range(t.table_ops):
                m.load(Operand(base + op * bw, bw), vals[op], t.column_mask(tile0))
        # the area the sequencer moves from: buffer words, or backing-store rows
        area: dict[int, int] = {}
        if desc.mode == "swap":
            for k, tile in enumerate(tiles):
                a = int(t.tile_width[tile])
                rows = _rows(np.zeros(a, np.int64), bv, cols)
                if arr_theta:
                    rows += _rows(theta[t.tile_neurons[tile]], bv, cols)
                for i, r in enumerate(rows):
                    area[k * desc.tile_stride + i] = r
        elif desc.mode == "stream":
            for lt in range(n_tables):
                table = table_first + lt
                vals = t.table_values(table, np.arange(t.table_ops))
                for op in range(t.table_ops):
                    for i, r in enumerate(_rows(vals[op], bw, cols)):
                        area[lt * desc.tile_stride + op * bw + i] = r
        for off, r in area.items():
            if dram:
                backing[bs_base + desc.bs_base + off] = r
            else:
                core.buffer[desc.buf_base + off] = r
        # potentials (and thresholds) of the tiles resident at the start
        for k, tile in enumerate(tiles):
            if k >= mp.n_slots:         # swapped out at the start
                continue
            a = int(t.tile_width[tile])
            m.load(Operand(layout.v_row(k), bv), np.zeros(cols, np.int64), t.column_mask(tile))
            if arr_theta:
                th = np.zeros(cols, np.int64)
                th[:a] = theta[t.tile_neurons[tile]]
                m.load(Operand(layout.theta_row(k), bv), th, t.column_mask(tile))
        cores.append(core)
        if dram and desc.mode != "resident":
            bs_base += n_local * desc.tile_stride
    return cores, backing


class SequencedRun(NamedTuple):
    outputs: np.ndarray          # output events with ticks
    potentials: np.ndarray       # final potentials, neuron order (after a flush)
    ops: list                    # array-side program, RecordingSink's format (no setup)
    counters: list               # per macro: the sequencer's counters (before the flush)
    transfers: list              # per macro: every transfer, in order (before the flush)
    flushed: list                # per macro: the final flush's transfers


def run_sequenced(pl: LayerPlacement, macro_cfg: MacroConfig, events, buffer: BufferConfig,
                  *, dram: bool = False, mover: MoverConfig | None = None,
                  latency: int = 1) -> SequencedRun:
    """Run ``events`` through the placed layer with the sequencer deciding every move."""
    cores, backing = sequencer_setup(pl, macro_cfg, buffer, dram=dram, mover=mover,
                                     latency=latency)
    t, cfg = pl.tiling, pl.tiling.layer.config
    ops: list[tuple] = []

    def move(ci: int, transfers, tile: int):
        c = cores[ci]
        mask = t.column_mask(tile)
        for tr in transfers:
            apply(tr, c.macro, c.buffer, backing, mask)
            if tr.kind == "save":
                ops.append(("read", ci, Operand(tr.array_row, tr.rows)))
            elif tr.kind in ("restore", "stream"):
                ops.append(("load", ci, Operand(tr.array_row, tr.rows)))

    def v_row(ci, k):              # local tile k's slot: k mod n_slots, as LayerProgram
        return cores[ci].seq.layout.v_row(k % pl.macros[ci].n_slots)

    out = []
    tick = np.array([TICK], np.int64)
    for item in form_batches(np.asarray(events, np.int64), macro_cfg.batch_max):
        if item == TICK:
            spikes = []
            for ci, c in enumerate(cores):
                for k, tile in enumerate(c.tiles):
                    move(ci, c.seq.fire(k), tile)
                    slot_row = v_row(ci, k)
                    th = c.seq.layout.theta_base
                    op = FireOp(v_row=slot_row, layer=cfg,
                                theta_row=None if th is None else
                                slot_row - c.seq.layout.v_base + th)
                    ops.append(("fire", ci, op))
                    s = c.macro.fire(op, t.column_mask(tile)).spikes
                    spikes.append(t.tile_neurons[tile][s[:t.tile_width[tile]]])
            out.append(np.sort(np.concatenate(spikes)).astype(np.int64) if spikes
                       else np.zeros(0, np.int64))
            out.append(tick)
            continue
        tiles, tops, _ = t.reach(np.asarray(item, np.int64))
        if tiles.size == 0:
            continue
        cuts = np.flatnonzero(np.diff(tiles)) + 1
        for g_tiles, g_ops in zip(np.split(tiles, cuts), np.split(tops, cuts)):
            tile = int(g_tiles[0])
            ci = pl.tile_macro[tile]
            c, mp = cores[ci], pl.macros[ci]
            k = pl.tile_index[tile]
            table = int(t.tile_table[tile])
            transfers, stage = c.seq.accumulate(k, table - c.table_first, g_ops)
            move(ci, transfers, tile)
            w_rows = stage if stage is not None else [mp.tables[table] + int(o) * cfg.bw
                                                      for o in g_ops]
            op = AccumulateOp(v_row=v_row(ci, k), bv=cfg.bv,
                              w_rows=tuple(int(r) for r in w_rows), bw=cfg.bw,
                              saturate=cfg.saturate)
            ops.append(("accumulate", ci, op))
            c.macro.accumulate(op, t.column_mask(tile))
    # final potentials: flush the swapped cores, read their areas; peek the others
    counters = [dict(c.seq.counters) for c in cores]
    transfers = [list(c.seq.log) for c in cores]
    flushed = [c.seq.flush() if c.seq.desc.mode == "swap" else [] for c in cores]
    v = np.zeros(t.layer.n_out, np.int64)
    for ci, c in enumerate(cores):
        swapped = c.seq.desc.mode == "swap"
        for tr in flushed[ci]:
            apply(tr, c.macro, c.buffer, backing, None)
        for k, tile in enumerate(c.tiles):
            a = int(t.tile_width[tile])
            if swapped:
                d = c.seq.desc
                off = k * d.tile_stride
                words = [backing[c.seq.bs_base + d.bs_base + off + i] if d.dram else
                         c.buffer[d.buf_base + off + i] for i in range(cfg.bv)]
                bits = np.array([int_to_row(w, macro_cfg.cols) for w in words])
                vals = from_bits(bits)
            else:
                vals = c.macro.peek(Operand(v_row(ci, k), cfg.bv))
            v[t.tile_neurons[tile]] = vals[:a]
    outputs = np.concatenate(out) if out else np.zeros(0, np.int64)
    return SequencedRun(outputs, v, ops, counters, transfers, flushed)
