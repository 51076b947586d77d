"""Golden model of the sequencer (docs/dataflow.md section 5.4): the per-layer descriptor, the
two rules it applies (WS swap, OS stream), the row transfers they issue and the counters of
section 5.5.

Transaction level: `SequencerModel.accumulate` and `SequencerModel.fire` return, for one
accumulate or fire pass the core is about to run, the transfers that must finish first, in
the order the hardware issues them; `apply` executes a transfer on the level-2 models (a
`golden.macro.MacroModel`, the buffer as a list of row integers, the backing store as a
dict). The cycle costs are those of section 5.3, executed one after the other: an array-side
transfer of ``n`` rows costs ``n + 1`` cycles, a mover transfer
`golden.mover.transfer_cycles` at the backing store's latency; the macro waits for all of
them (``MOVE_WAIT``). Overlapping transfers with computation (5.3's last column) is not
modelled yet: it changes ``MOVE_WAIT`` only, and must change it here first (decision 150).

The rules are those of `mapper.program.LayerProgram` (section 5.4 point 3), so the array-side
operations the sequencer issues are, in order, the loads and reads of the mapper's recorded
program (`mapper.sequenced` runs a placed layer through this model and checks it):

* **WS swap** (``mode`` "swap"): local tile ``k`` lives in slot ``k mod N_SLOTS``; a tag per
  slot holds its resident tile (tile ``s`` in slot ``s`` after reset, what the host's setup
  writes). Before an accumulate or fire of a tile that is not resident: save the
  occupant's ``bv`` potential rows (array -> buffer, and buffer -> backing store when
  DRAM-backed), restore the tile's ``SLOT_ROWS`` rows (potential, then thresholds when they
  live in the array; backing store -> buffer when DRAM-backed, then buffer -> array), tag
  updated, ``SWAPS`` + 1.
* **OS stream** (``mode`` "stream"): before an accumulate, operand ``i`` (``op_i`` of the
  tile's local table ``lt``) is written into staging rows ``STAGE_ROW + i*bw`` (``bw``
  rows) from buffer words ``BUF_BASE + lt*TILE_STRIDE + op_i*bw`` (buffer-backed) or, via
  buffer words ``BUF_BASE + i*bw``, from backing-store rows ``BS_BASE + BS_BASE_L +
  lt*TILE_STRIDE + op_i*bw`` (DRAM-backed); ``STREAM_OPS`` + 1 per operand.

Buffer areas: buffer-backed WS keeps tile ``k`` at words ``BUF_BASE + k*TILE_STRIDE``
(``bv`` potential words, then ``bv`` threshold words when the thresholds live in the array);
DRAM-backed WS keeps the same layout in the backing store from ``BS_BASE + BS_BASE_L`` and
stages one tile in buffer words ``BUF_BASE ..``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from flexspim.config import BufferConfig, MoverConfig

from .mover import LOAD, STORE, transfer_cycles

__all__ = ["MODES", "DESCRIPTOR_FIELDS", "SEQ_COUNTERS", "COUNTER_ADDRESS", "Descriptor",
           "CoreLayout", "Transfer", "SequencerModel", "apply", "row_to_int", "int_to_row"]

#: Descriptor word 0 bits 1..0.
MODES = ("resident", "swap", "stream")
#: Descriptor words, in order (docs/dataflow.md 5.4).
DESCRIPTOR_FIELDS = ("MODE", "N_SLOTS", "SLOT_ROWS", "BUF_BASE", "BS_BASE_L", "TILE_STRIDE",
                     "STAGE_ROW", "RESERVED")
#: The sequencer's counters, in register order from address 22 (docs/dataflow.md 5.5).
SEQ_COUNTERS = ("ROWS_ARR_BUF", "ROWS_BUF_ARR", "ROWS_BUF_BS", "ROWS_BS_BUF", "BS_REQUESTS",
                "BS_STALL", "MOVE_WAIT", "SWAPS", "STREAM_OPS", "MOVER_BUSY")
COUNTER_ADDRESS = {name: 22 + i for i, name in enumerate(SEQ_COUNTERS)}
_WORD = 1 << 32
_DRAM_BIT = 4
# the mover's cost of a transfer depends on its geometry, kind, rows and latency only
_mover_cycles = functools.lru_cache(maxsize=4096)(transfer_cycles)


@dataclass(frozen=True)
class Descriptor:
    """One layer context's descriptor (8 words of 32 bits, docs/dataflow.md 5.4).

    Attributes:
        mode: "resident" (nothing moves), "swap" (WS) or "stream" (OS).
        dram: the moved operands live in the backing store (else in the buffer).
        n_slots: WS: potential slots of the core.
        slot_rows: rows a swap restores per tile (``bv``, or ``2*bv`` with thresholds in
            the array).
        buf_base: buffer word of the layer's area (DRAM-backed: of the staging words).
        bs_base: ``BS_BASE_L``: backing-store row of the area when DRAM-backed (the core's
            ``BS_BASE`` register is added).
        tile_stride: rows per tile (WS) or per table (OS) in the area.
        stage_row: OS: first staging row of the array.

    Raises:
        ValueError: a field outside its word, an unknown mode, or fields a mode needs
            missing (what the hardware refuses and counts in ``ERRORS``).
    """

    mode: str = "resident"
    dram: bool = False
    n_slots: int = 0
    slot_rows: int = 0
    buf_base: int = 0
    bs_base: int = 0
    tile_stride: int = 0
    stage_row: int = 0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"`mode` must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not isinstance(self.dram, bool):
            raise ValueError(f"`dram` must be a bool, not {self.dram!r}")
        for name in ("n_slots", "slot_rows", "buf_base", "bs_base", "tile_stride",
                     "stage_row"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) \
                    or not 0 <= v < _WORD:
                raise ValueError(f"`{name}` must be an integer in [0, {_WORD - 1}], not {v!r}")
        if self.mode == "swap":
            for name in ("n_slots", "slot_rows"):
                if getattr(self, name) < 1:
                    raise ValueError(f"a swap descriptor needs `{name}` >= 1, not "
                                     f"{getattr(self, name)}")
            if self.tile_stride < self.slot_rows:
                raise ValueError(f"`tile_stride` ({self.tile_stride}) must be at least "
                                 f"`slot_rows` ({self.slot_rows}): tiles would overlap")
        if self.mode == "stream" and self.tile_stride < 1:
            raise ValueError("a stream descriptor needs `tile_stride` >= 1 (rows per table)")

    def words(self) -> tuple[int, ...]:
        """The 8 words the host writes through ``PROG_DATA``."""
        return (MODES.index(self.mode) | (_DRAM_BIT if self.dram else 0), int(self.n_slots),
                int(self.slot_rows), int(self.buf_base), int(self.bs_base),
                int(self.tile_stride), int(self.stage_row), 0)

    @classmethod
    def from_words(cls, words) -> "Descriptor":
        """Decode 8 words; raises `ValueError` naming the word the hardware would refuse."""
        words = [int(w) for w in words]
        if len(words) != len(DESCRIPTOR_FIELDS):
            raise ValueError(f"a descriptor has {len(DESCRIPTOR_FIELDS)} words, not "
                             f"{len(words)}")
        for name, w in zip(DESCRIPTOR_FIELDS, words):
            if not 0 <= w < _WORD:
                raise ValueError(f"descriptor word {name} = {w} does not fit 32 bits")
        mode = words[0] & 3
        if words[0] >> 3 or mode >= len(MODES):
            raise ValueError(f"descriptor word MODE = {words[0]:#x}: bits 1..0 must be 0, 1 "
                             f"or 2 and bits 31..3 zero")
        if words[7]:
            raise ValueError(f"descriptor word RESERVED = {words[7]} must be 0")
        return cls(MODES[mode], bool(words[0] & _DRAM_BIT), *words[1:7])


@dataclass(frozen=True)
class CoreLayout:
    """What the sequencer reads from the core's layer registers (docs/dataflow.md 4.4):
    array rows, the layer's ``bv`` and ``bw``, slot ``s``'s potential at ``v_base +
    s*v_stride`` and thresholds at ``theta_base + s*v_stride`` (``theta_base`` None: the
    thresholds are a register), and ``batch_max`` (``P``: operands per accumulate)."""

    rows: int
    bv: int
    bw: int
    v_base: int
    v_stride: int
    theta_base: int | None = None
    batch_max: int = 1

    def __post_init__(self):
        for name in ("rows", "bv", "bw", "v_stride", "batch_max"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"`{name}` must be a positive integer, not {v!r}")
        if not 0 <= self.v_base < self.rows:
            raise ValueError(f"`v_base` must be in [0, {self.rows - 1}], not {self.v_base!r}")

    def v_row(self, slot: int) -> int:
        return self.v_base + slot * self.v_stride

    def theta_row(self, slot: int) -> int | None:
        return None if self.theta_base is None else self.theta_base + slot * self.v_stride


class Transfer(NamedTuple):
    """``rows`` consecutive rows moved by the sequencer.

    ``kind``: "save" (array rows ``array_row..`` -> buffer words ``buf_addr..``), "restore"
    (buffer -> array slot rows), "stream" (buffer -> array staging rows), "load" (mover
    LOAD: backing-store rows ``bs_addr..`` -> buffer words, whole rows), "store" (mover
    STORE: buffer words -> backing-store rows). ``tile``: the local tile (for a stream, the
    tile the accumulate is for)."""

    kind: str
    tile: int
    rows: int
    buf_addr: int
    array_row: int | None = None
    bs_addr: int | None = None

    @property
    def array_side(self) -> bool:
        return self.kind in ("save", "restore", "stream")


class SequencerModel:
    """The sequencer of one core for one layer context.

    Parameters:
        desc: the layer's `Descriptor`.
        layout: the core's `CoreLayout`.
        buffer: the core's buffer geometry.
        n_local: local tiles (WS) or local tables (OS) the layer has on this core.
        mover: the mover's geometry (required when ``desc.dram``).
        bs_base: the core's ``BS_BASE`` register.
        latency: the backing store's latency for the mover's cycle costs (an ideal server).

    Raises:
        ValueError: the host check of docs/dataflow.md 5.2 (item 8 of issue 22): an area
            past the buffer, the backing store or the array; DRAM without a mover.
    """

    def __init__(self, desc: Descriptor, layout: CoreLayout, buffer: BufferConfig, *,
                 n_local: int, mover: MoverConfig | None = None, bs_base: int = 0,
                 latency: int = 1):
        self.desc, self.layout, self.buffer, self.mover = desc, layout, buffer, mover
        self.n_local, self.bs_base, self.latency = n_local, bs_base, latency
        self._check()
        self.tags = list(range(desc.n_slots)) if desc.mode == "swap" else []
        self.counters = dict.fromkeys(SEQ_COUNTERS, 0)
        self.log: list[Transfer] = []

    # -- the host check ----------------------------------------------------------------
    def _check(self) -> None:
        d, lay, b = self.desc, self.layout, self.buffer
        if d.mode == "resident":
            return
        if d.dram and self.mover is None:
            raise ValueError("a DRAM-backed descriptor needs the core's mover (MoverConfig)")
        if d.dram and self.mover.buffer != b:
            raise ValueError(f"the mover's buffer {self.mover.buffer} is not the core's {b}")
        area = self.n_local * d.tile_stride
        staging = d.slot_rows if d.mode == "swap" else lay.batch_max * lay.bw
        words = staging if d.dram else area
        if d.buf_base + words > b.words:
            what = "staging" if d.dram else "area"
            raise ValueError(f"the layer's buffer {what} (words {d.buf_base}.."
                             f"{d.buf_base + words - 1}) does not fit the buffer of "
                             f"{b.words} words")
        if d.dram:
            top = self.bs_base + d.bs_base + area
            if top > 1 << self.mover.addr_bits:
                raise ValueError(f"the layer's backing-store area (rows {self.bs_base + d.bs_base}"
                                 f"..{top - 1}) leaves the {self.mover.addr_bits}-bit "
                                 f"backing-store address space")
        if d.mode == "swap":
            last = lay.v_row(d.n_slots - 1) + lay.bv
            if lay.theta_base is not None:
                last = max(last, lay.theta_row(d.n_slots - 1) + lay.bv)
                if d.slot_rows != 2 * lay.bv:
                    raise ValueError(f"`slot_rows` must be 2*bv = {2 * lay.bv} with the "
                                     f"thresholds in the array, not {d.slot_rows}")
            elif d.slot_rows != lay.bv:
                raise ValueError(f"`slot_rows` must be bv = {lay.bv}, not {d.slot_rows}")
            if last > lay.rows:
                raise ValueError(f"slot {d.n_slots - 1} ends at row {last - 1}, past the "
                                 f"array's {lay.rows} rows")
        else:
            if d.stage_row + lay.batch_max * lay.bw > lay.rows:
                raise ValueError(f"the staging rows {d.stage_row}.."
                                 f"{d.stage_row + lay.batch_max * lay.bw - 1} leave the "
                                 f"array's {lay.rows} rows")

    # -- the two rules -----------------------------------------------------------------
    def accumulate(self, tile: int, table: int, ops) -> tuple[list[Transfer], list[int] | None]:
        """Before an accumulate of local ``tile`` (local table ``table``) with table
        operands ``ops``: the transfers, and the staging rows the accumulate reads its
        weights from (None: the resident table's rows)."""
        d, lay = self.desc, self.layout
        ops = [int(o) for o in ops]
        if not 1 <= len(ops) <= lay.batch_max:
            raise ValueError(f"an accumulate has 1..{lay.batch_max} operands, not {len(ops)}")
        out = self._ensure(tile)
        stage = None
        if d.mode == "stream":
            if not 0 <= table < self.n_local:
                raise ValueError(f"local table {table} out of [0, {self.n_local - 1}]")
            stage = []
            for i, op in enumerate(ops):
                if not 0 <= op * lay.bw + lay.bw <= d.tile_stride:
                    raise ValueError(f"operand {op} leaves table {table}'s "
                                     f"{d.tile_stride} rows")
                row = d.stage_row + i * lay.bw
                src = table * d.tile_stride + op * lay.bw
                if d.dram:
                    buf = d.buf_base + i * lay.bw
                    out.append(Transfer("load", tile, lay.bw, buf,
                                        bs_addr=self.bs_base + d.bs_base + src))
                else:
                    buf = d.buf_base + src
                out.append(Transfer("stream", tile, lay.bw, buf, array_row=row))
                stage.append(row)
            self.counters["STREAM_OPS"] += len(ops)
        self._issue(out, wait=True)
        return out, stage

    def fire(self, tile: int) -> list[Transfer]:
        """Before the fire pass of local ``tile``: the transfers (a swap, or none)."""
        out = self._ensure(tile)
        self._issue(out, wait=True)
        return out

    def flush(self) -> list[Transfer]:
        """``SEQ_CTRL`` bit 1: save every resident tile of a swapped layer back to its
        area, so the host reads all potentials there (not counted in ``MOVE_WAIT``; the
        tags stay: the array still holds the same values)."""
        out = []
        for slot, tile in enumerate(self.tags):
            out += self._save(slot, tile)
        self._issue(out, wait=False)
        return out

    def _save(self, slot: int, tile: int) -> list[Transfer]:
        d, lay = self.desc, self.layout
        v_row = lay.v_row(slot)
        if d.dram:
            return [Transfer("save", tile, lay.bv, d.buf_base, array_row=v_row),
                    Transfer("store", tile, lay.bv, d.buf_base,
                             bs_addr=self.bs_base + d.bs_base + tile * d.tile_stride)]
        return [Transfer("save", tile, lay.bv, d.buf_base + tile * d.tile_stride,
                         array_row=v_row)]

    def _ensure(self, tile: int) -> list[Transfer]:
        d, lay = self.desc, self.layout
        if d.mode != "swap":
            return []
        if not 0 <= tile < self.n_local:
            raise ValueError(f"local tile {tile} out of [0, {self.n_local - 1}]")
        slot = tile % d.n_slots
        old = self.tags[slot]
        if old == tile:
            return []
        out = self._save(slot, old)
        area = tile * d.tile_stride
        if d.dram:
            out.append(Transfer("load", tile, d.slot_rows, d.buf_base,
                                bs_addr=self.bs_base + d.bs_base + area))
            buf = d.buf_base
        else:
            buf = d.buf_base + area
        out.append(Transfer("restore", tile, lay.bv, buf, array_row=lay.v_row(slot)))
        if lay.theta_base is not None:
            out.append(Transfer("restore", tile, lay.bv, buf + lay.bv,
                                array_row=lay.theta_row(slot)))
        self.tags[slot] = tile
        self.counters["SWAPS"] += 1
        return out

    # -- counters and cycles -----------------------------------------------------------
    def cycles(self, t: Transfer) -> int:
        """Cycles of one transfer (docs/dataflow.md 5.3)."""
        if t.array_side:
            return t.rows + 1
        return _mover_cycles(self.mover, LOAD if t.kind == "load" else STORE, t.rows,
                             self.latency)

    def _issue(self, transfers: list[Transfer], wait: bool) -> None:
        c, mask = self.counters, _WORD - 1
        for t in transfers:
            n = self.cycles(t)
            if t.kind == "save":
                c["ROWS_ARR_BUF"] += t.rows
            elif t.kind in ("restore", "stream"):
                c["ROWS_BUF_ARR"] += t.rows
            else:
                c["ROWS_BUF_BS" if t.kind == "store" else "ROWS_BS_BUF"] += t.rows
                c["BS_REQUESTS"] += t.rows
                c["MOVER_BUSY"] += n
            if wait:
                c["MOVE_WAIT"] += n
        for k in c:
            c[k] &= mask
        self.log += transfers


# -- executing transfers on the level-2 models ---------------------------------------------
def row_to_int(bits) -> int:
    """A row of bits (bit ``c`` = column ``c``) as an integer."""
    b = np.asarray(bits, dtype=np.uint8)
    return int.from_bytes(np.packbits(b, bitorder="little").tobytes(), "little")


def int_to_row(value: int, cols: int) -> np.ndarray:
    """The inverse of `row_to_int`: ``cols`` bits."""
    raw = np.frombuffer(int(value).to_bytes((cols + 7) // 8, "little"), dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little")[:cols].copy()


def apply(t: Transfer, macro, buffer: list, backing: dict, col_mask=None) -> None:
    """Execute ``t`` on a `golden.macro.MacroModel` (its row port), the buffer (a list of
    row integers) and the backing store (row -> integer). Array rows are written in the
    columns of ``col_mask`` (the tile's), buffer words and backing-store rows whole."""
    cols = macro.config.cols
    for i in range(t.rows):
        if t.kind == "save":
            buffer[t.buf_addr + i] = row_to_int(macro.read_row(t.array_row + i))
        elif t.kind in ("restore", "stream"):
            word = buffer[t.buf_addr + i]
            if word is None:
                raise ValueError(f"{t}: buffer word {t.buf_addr + i} was never written")
            macro.write_row(t.array_row + i, int_to_row(word, cols), col_mask)
        elif t.kind == "load":
            if t.bs_addr + i not in backing:
                raise ValueError(f"{t}: backing-store row {t.bs_addr + i} was never written")
            buffer[t.buf_addr + i] = backing[t.bs_addr + i]
        elif t.kind == "store":
            backing[t.bs_addr + i] = buffer[t.buf_addr + i]
        else:
            raise ValueError(f"unknown transfer kind {t.kind!r}")
