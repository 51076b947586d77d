"""Stimulus and surroundings for the sequencer (`golden.sequencer.SequencerMachine`,
`hdl.sequencer.SequencerUnit`): an array row port model, random layers (a layout, a
descriptor that passes the host check, the ops of a few batches) from one seeded generator.

Used by `tests/golden/test_sequencer.py` (the machine against the transaction model) and
`tests/hdl/test_rtl_sequencer.py` (the RTL in lock step with the machine).
"""

from __future__ import annotations

from flexspim.golden.sequencer import (
    ACCUMULATE,
    FIRE,
    FLUSH,
    CoreLayout,
    Descriptor,
    SeqOp,
    SequencerModel,
)

__all__ = ["ArrayPort", "random_layer", "random_ops", "rand_word"]


def rand_word(rng, width: int) -> int:
    return int.from_bytes(rng.bytes((width + 7) // 8), "little") & ((1 << width) - 1)


class ArrayPort:
    """The array's row port as the sequencer sees it: a read at an edge gives ``rd_data``
    in the next cycle (only then; 0 otherwise), a write at an edge sets the bits of
    ``wr_mask``. ``rows``: the content (row integers)."""

    def __init__(self, rows: int, width: int, rng):
        self.width = width
        self.rows = [rand_word(rng, width) for _ in range(rows)]
        self.rd_data = 0

    def edge(self, arr: dict) -> None:
        self.rd_data = self.rows[arr["rd_addr"]] if arr["rd_en"] else 0
        if arr["wr_en"]:
            a, m = arr["wr_addr"], arr["wr_mask"]
            self.rows[a] = self.rows[a] & ~m | arr["wr_data"] & m


def random_layer(rng, cfg, *, mode: str | None = None, dram: bool | None = None,
                 theta: bool | None = None):
    """``(layout, descriptor, bs_base, n_local)`` for a `SequencerConfig`: a random layer
    that passes `SequencerModel`'s host check (swap: ``n_local`` > ``N_SLOTS`` mostly, so
    tiles swap; stream: tables of random operand counts)."""
    b, rows = cfg.buffer, cfg.rows
    for _ in range(10_000):
        md = mode or str(rng.choice(["swap", "stream", "resident"], p=[0.5, 0.4, 0.1]))
        dr = bool(rng.integers(2)) if dram is None else dram
        th = bool(rng.integers(2)) if theta is None else theta
        bv = int(rng.integers(1, 5))
        bw = int(rng.integers(1, 4))
        n_local = int(rng.integers(1, min(1 << cfg.tile_bits, 9) + 1))
        bs_base = int(rng.integers(0, 8))
        if md == "swap":
            n_slots = int(rng.integers(1, cfg.max_slots + 1))
            # mostly more tiles than slots, so that tiles swap
            n_local = min(1 << cfg.tile_bits, n_slots + int(rng.integers(0, 4)))
            slot = (2 if th else 1) * bv
            v_stride = slot + int(rng.integers(0, 2))
            v_base = int(rng.integers(0, 4))
            lay = CoreLayout(rows, bv, bw, v_base, v_stride,
                             v_base + bv if th else None, cfg.batch)
            stride = slot + int(rng.integers(0, 3))
            desc = Descriptor("swap", dr, n_slots=n_slots, slot_rows=slot,
                              buf_base=int(rng.integers(0, 4)),
                              bs_base=int(rng.integers(0, 16)), tile_stride=stride)
        else:
            lay = CoreLayout(rows, bv, bw, int(rng.integers(0, rows)), bv, None, cfg.batch)
            ops = int(rng.integers(1, 5))
            desc = Descriptor(md, dr, buf_base=int(rng.integers(0, 4)),
                              bs_base=int(rng.integers(0, 16)), tile_stride=ops * bw,
                              stage_row=int(rng.integers(0, max(1, rows - cfg.batch * bw))))
        try:
            SequencerModel(desc, lay, b, n_local=n_local, mover=cfg.mover, bs_base=bs_base)
        except ValueError:
            continue
        return lay, desc, bs_base, n_local
    raise RuntimeError(f"no random layer fits {cfg}")


def random_ops(rng, cfg, lay: CoreLayout, desc: Descriptor, n_local: int, batches: int,
               flush: bool = True) -> list[SeqOp]:
    """The ops of ``batches`` batches as a core issues them: per batch, an accumulate of
    each reached tile (ascending, random operands of its table) then, now and then, the fire
    passes of every tile; a flush at the end of a swapped layer."""
    full = (1 << cfg.buffer.width) - 1
    per_table = max(1, desc.tile_stride // lay.bw) if desc.mode == "stream" else 1
    out = []
    for _ in range(batches):
        reached = sorted(set(int(t) for t in rng.integers(0, n_local,
                                                          int(rng.integers(1, 4)))))
        for t in reached:
            k = int(rng.integers(1, cfg.batch + 1))
            ops = tuple(int(o) for o in rng.integers(0, per_table, k))
            mask = full if rng.random() < 0.5 else rand_word(rng, cfg.buffer.width)
            out.append(SeqOp(ACCUMULATE, t, t if desc.mode == "stream" else 0, ops, mask))
        if rng.random() < 0.4:
            for t in range(n_local):
                out.append(SeqOp(FIRE, t, 0, (), full))
    if flush and desc.mode == "swap":
        out.append(SeqOp(FLUSH, 0, 0, (), full))
    return out


def strict_ops(model: SequencerModel, ops) -> None:
    """Run ``ops`` on the transaction model (its counters and tags)."""
    for op in ops:
        if op.kind == FLUSH:
            model.flush()
        elif op.kind == FIRE:
            model.fire(op.tile)
        else:
            model.accumulate(op.tile, op.table, op.ops)
