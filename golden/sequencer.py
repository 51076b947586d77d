"""Golden model of the sequencer (docs/dataflow.md section 5.4): the per-layer descriptor, the
two rules it applies (WS swap, OS stream), the row transfers they issue and the counters of
section 5.5.

Transaction level: `SequencerModel.accumulate` and `SequencerModel.fire` return, for one
accumulate or fire pass the core is about to run, the transfers that must finish first, in
the order the hardware issues them; `apply` executes a transfer on the level-2 models (a
`golden.macro.MacroModel`, the buffer as a list of row integers, the backing store as a
dict). The cycle costs are those of section 5.3, executed one after the other: an array-side
transfer of ``n`` rows costs ``n + 1`` cycles, a mover transfer
`golden.mover.transfer_cycles` at the backing store's latency plus 2 (the cycle that
offers the mover its command and the cycle of its ``done``, decision 155); the macro waits
for all of them (``MOVE_WAIT``). Overlapping transfers with computation (5.3's last column)
is not modelled yet: it changes ``MOVE_WAIT`` only, and must change it here first (decision
150).

`SequencerMachine` is the same sequencer cycle by cycle (a Moore machine stepped once per
clock, as `golden.mover.MoverModel`, with the mover and the buffer inside): the
specification `hdl.sequencer.SequencerUnit` is compared with in lock step. At an ideal
server its counters equal this transaction model's.

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
           "CoreLayout", "Transfer", "SequencerModel", "apply", "row_to_int", "int_to_row",
           "ACCUMULATE", "FIRE", "FLUSH", "SeqOp", "SequencerMachine", "UNIT_COUNTERS",
           "DESCRIPTOR_WINDOW", "check_program"]

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
                 latency: int = 1, check: bool = True):
        self.desc, self.layout, self.buffer, self.mover = desc, layout, buffer, mover
        self.n_local, self.bs_base, self.latency = n_local, bs_base, latency
        # check=False (`SequencerMachine`): no host check and no refusal of an operation's
        # operands, as the hardware (which refuses out-of-range transfers when it runs them)
        self.strict = check
        if check:
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
        if self.strict and not 1 <= len(ops) <= lay.batch_max:
            raise ValueError(f"an accumulate has 1..{lay.batch_max} operands, not {len(ops)}")
        out = self._ensure(tile)
        stage = None
        if d.mode == "stream":
            if self.strict and not 0 <= table < self.n_local:
                raise ValueError(f"local table {table} out of [0, {self.n_local - 1}]")
            stage = []
            for i, op in enumerate(ops):
                if self.strict and not 0 <= op * lay.bw + lay.bw <= d.tile_stride:
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
        if self.strict and not 0 <= tile < self.n_local:
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
        """Cycles the sequencer spends on one transfer (docs/dataflow.md 5.3, decision 155):
        ``n + 1`` array-side, the mover's busy cycles + 2 for a mover transfer."""
        if t.array_side:
            return t.rows + 1
        return self.mover_cycles(t) + 2

    def mover_cycles(self, t: Transfer) -> int:
        """Busy cycles of the mover for a mover transfer at an ideal server."""
        return _mover_cycles(self.mover, LOAD if t.kind == "load" else STORE, t.rows,
                             self.latency)

    def _issue(self, transfers: list[Transfer], wait: bool) -> None:
        if not self.strict:              # the machine counts cycle by cycle itself
            self.log += transfers
            return
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
                c["MOVER_BUSY"] += self.mover_cycles(t)
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


# -- the sequencer cycle by cycle (decisions 155-157) --------------------------------------
#: Operation kinds on the sequencer's ``op`` port.
ACCUMULATE, FIRE, FLUSH = 0, 1, 2
#: Descriptor words the window holds (addresses 0..7 of ``PROG_PTR``).
DESCRIPTOR_WINDOW = len(DESCRIPTOR_FIELDS)
#: The unit's counters, in port order: `SEQ_COUNTERS` then ``ERRORS`` (the sequencer's
#: refusals: a descriptor word past the window or out of its field, a swap with no slot,
#: a transfer out of the array, the buffer or the backing store).
UNIT_COUNTERS = SEQ_COUNTERS + ("ERRORS",)
#: Where the mover's counters feed the sequencer's.
_FROM_MOVER = {"ROWS_BUF_BS": "rows_stored", "ROWS_BS_BUF": "rows_loaded",
               "BS_REQUESTS": "requests", "BS_STALL": "stall_cycles",
               "MOVER_BUSY": "busy_cycles"}


def check_program(words, config=None) -> None:
    """The host's check of a descriptor program before anything runs (item 8 of issue 22):
    one clear `ValueError` for a program longer than the descriptor window, a word out of
    its field, or (with ``config``, a `SequencerConfig`) more slots than tag registers.
    What passes here the hardware takes word for word; what fails it refuses and counts in
    ``ERRORS`` (`SequencerMachine`)."""
    words = [int(w) for w in words]
    if len(words) > DESCRIPTOR_WINDOW:
        raise ValueError(f"the program has {len(words)} words; the descriptor window holds "
                         f"{DESCRIPTOR_WINDOW} (one layer context)")
    for a, w in enumerate(words):
        why = _word_error(a, w, config)
        if why:
            raise ValueError(why)


def _word_error(addr: int, w: int, config=None) -> str | None:
    if addr >= DESCRIPTOR_WINDOW:
        return f"descriptor word {addr} is past the window of {DESCRIPTOR_WINDOW} words"
    if not 0 <= w < _WORD:
        return f"descriptor word {DESCRIPTOR_FIELDS[addr]} = {w} does not fit 32 bits"
    if addr == 0 and (w >> 3 or w & 3 == 3):
        return (f"descriptor word MODE = {w:#x}: bits 1..0 must be 0, 1 or 2 and bits 31..3 "
                f"zero")
    if addr == 1 and config is not None and w > config.max_slots:
        return f"descriptor word N_SLOTS = {w}: the sequencer has {config.max_slots} slot tags"
    if addr == 7 and w:
        return f"descriptor word RESERVED = {w} must be 0"
    return None


def _lenient(words) -> Descriptor:
    """The descriptor the hardware holds, whatever the words say (no consistency check)."""
    d = object.__new__(Descriptor)
    for name, v in (("mode", MODES[words[0] & 3]), ("dram", bool(words[0] & _DRAM_BIT)),
                    ("n_slots", words[1]), ("slot_rows", words[2]), ("buf_base", words[3]),
                    ("bs_base", words[4]), ("tile_stride", words[5]),
                    ("stage_row", words[6])):
        object.__setattr__(d, name, v)
    return d


class SeqOp(NamedTuple):
    """One operation offered on the sequencer's ``op`` port: ``kind`` (`ACCUMULATE`,
    `FIRE`, `FLUSH`), local ``tile``, local ``table`` and its operands ``ops`` (an
    accumulate; OS streams them), ``mask`` (the tile's columns: array rows are written
    under it)."""

    kind: int
    tile: int = 0
    table: int = 0
    ops: tuple = ()
    mask: int = 0


class SequencerMachine:
    """`hdl.sequencer.SequencerUnit` cycle by cycle: the sequencer, its mover and the
    buffer. Moore: `outputs()` is a function of the state, `tick(...)` one rising edge.

    Rules (the RTL is the same machine; decisions 155-157):

    * Idle (``op_ready``): an op is taken at an edge where ``op_valid``. Its transfers are
      `SequencerModel`'s (the WS swap / OS stream rules, the tags updated and ``SWAPS``,
      ``STREAM_OPS`` counted at that edge). None: ``done`` in the next cycle, never busy. A
      swap op (accumulate or fire) while ``N_SLOTS`` is 0, or an op of kind 3: ``done`` and
      ``error``, ``ERRORS`` + 1. Otherwise busy from the next
      cycle, the transfers one after the other, then ``done`` in the cycle after the last.
    * A transfer's first cycle checks its range (array rows, buffer words, backing-store
      rows); out of range it accesses nothing and the op ends there (``done``, ``error``,
      ``ERRORS`` + 1; the remaining transfers are dropped).
    * Array side, ``n`` rows, cycles ``k = 0..n``: a save reads array row ``array_row + k``
      (``k < n``) and writes buffer word ``buf_addr + k - 1`` with the array's ``rd_data``
      (``k >= 1``, whole words); a restore or stream reads buffer word ``buf_addr + k`` and
      writes array row ``array_row + k - 1`` with the buffer's ``rd_data`` under the op's
      ``mask``. Rows are counted at their write.
    * Mover transfer: one cycle offers the command (the mover is idle), then the sequencer
      waits through the mover's busy cycles and its ``done`` cycle: busy cycles + 2.
    * ``MOVE_WAIT``: + 1 per busy cycle of an accumulate or fire (not of a flush).
    * Idle: the ``host`` port reaches the buffer (as `MoverModel`'s); ``prog`` writes a
      descriptor word (``(addr, data)``): refused (``ERRORS`` + 1) past the window or out
      of its field (`check_program`), or while busy or at an edge that takes an op; an
      accepted write returns the tags to tile ``s`` in slot ``s`` (a new layer).
    * Reset: every register (descriptor words 0, tags, counters), the mover's; no access.
    """

    def __init__(self, config, layout: CoreLayout, bs_base: int = 0):
        from .mover import MoverModel

        if layout.rows != config.rows or layout.batch_max != config.batch:
            raise ValueError(f"the layout's rows/batch_max ({layout.rows}, "
                             f"{layout.batch_max}) must be the config's ({config.rows}, "
                             f"{config.batch})")
        self.config, self.layout, self.bs_base = config, layout, bs_base
        self.mover = MoverModel(config.mover)
        self.reset(mover=False)

    @property
    def buffer(self):
        return self.mover.buffer

    def reset(self, mover: bool = True) -> None:
        if mover:
            self.mover.reset()
        self.words = [0] * DESCRIPTOR_WINDOW
        self._replan()
        self.busy = self.done = self.error = 0
        self.cur: Transfer | None = None
        self.todo: list[Transfer] = []
        self.k, self.waiting, self.waited, self.mask = 0, False, False, 0
        self.own = dict.fromkeys(("ROWS_ARR_BUF", "ROWS_BUF_ARR", "MOVE_WAIT", "SWAPS",
                                  "STREAM_OPS", "ERRORS"), 0)

    def _replan(self) -> None:
        cfg = self.config
        desc = _lenient(self.words)
        self.plan = SequencerModel(desc, self.layout, cfg.buffer, n_local=1 << cfg.tile_bits,
                                   mover=cfg.mover, bs_base=self.bs_base, check=False)
        self.plan.tags = list(range(min(desc.n_slots, cfg.max_slots))) \
            if desc.mode == "swap" else []

    # -- what the unit drives in this cycle ----------------------------------------------
    def _ok(self, t: Transfer) -> bool:
        cfg = self.config
        if t.buf_addr + t.rows > cfg.buffer.words:
            return False
        if t.array_side:
            return t.array_row + t.rows <= cfg.rows
        return t.bs_addr + t.rows <= 1 << cfg.mover.addr_bits

    def _access(self):
        """(array outputs, the sequencer's buffer access) of this cycle."""
        arr = dict(rd_en=0, rd_addr=0, wr_en=0, wr_addr=0, wr_data=0, wr_mask=0)
        buf = None
        t, k = self.cur, self.k
        if not self.busy or self.waiting or not t.array_side or (k == 0 and not self._ok(t)):
            return arr, buf
        buf = dict(rd_en=0, rd_addr=0, wr_en=0, wr_addr=0, wr_data=0, wr_mask=0)
        if t.kind == "save":
            if k < t.rows:
                arr.update(rd_en=1, rd_addr=t.array_row + k)
            if k >= 1:
                full = (1 << self.config.buffer.width) - 1
                buf.update(wr_en=1, wr_addr=t.buf_addr + k - 1, wr_mask=full)
        else:
            if k < t.rows:
                buf.update(rd_en=1, rd_addr=t.buf_addr + k)
            if k >= 1:
                arr.update(wr_en=1, wr_addr=t.array_row + k - 1,
                           wr_data=self.buffer.outputs()[0], wr_mask=self.mask)
        return arr, buf

    def outputs(self) -> dict:
        """``op_ready``, ``busy``, ``done``, ``error``, ``arr`` (the array port), ``bs``
        (the mover's outputs: the backing-store port), ``counters`` (`UNIT_COUNTERS`)."""
        m = self.mover.outputs()
        arr, _ = self._access()
        counters = dict(self.own)
        for name, src in _FROM_MOVER.items():
            counters[name] = m.counters[src]
        return dict(op_ready=1 - self.busy, busy=self.busy, done=self.done,
                    error=self.error, arr=arr, bs=m,
                    counters={n: counters[n] for n in UNIT_COUNTERS})

    # -- one rising edge -------------------------------------------------------------------
    def tick(self, *, op_valid=0, op: SeqOp | None = None, prog=None, clear=0,
             host: dict | None = None, arr_rd_data=0, req_ready=0, resp_valid=0,
             resp_data=0) -> None:
        from .mover import MoverCommand

        c, mo = self.own, self.mover.outputs()
        _, buf = self._access()
        cmd_valid, cmd = 0, None
        self.done = self.error = 0
        if self.busy and self.waited:
            c["MOVE_WAIT"] += 1
        if prog is not None and (self.busy or op_valid):
            c["ERRORS"] += 1                 # a word written while busy or beside an op
        if not self.busy:
            buf = host
            if prog is not None and not op_valid:
                addr, data = prog
                if _word_error(addr, data, self.config):
                    c["ERRORS"] += 1
                else:
                    self.words[addr] = int(data)
                    self._replan()
            if op_valid:
                self._take(op)
        elif self.waiting:
            if mo.done:
                self._next()
        else:
            t, k = self.cur, self.k
            if k == 0 and not self._ok(t):
                self._abort()
            elif t.array_side:
                if k >= 1:
                    c["ROWS_ARR_BUF" if t.kind == "save" else "ROWS_BUF_ARR"] += 1
                    if t.kind == "save":
                        buf["wr_data"] = arr_rd_data
                if k == t.rows:
                    self._next()
                else:
                    self.k += 1
            else:
                cmd_valid = 1
                cmd = MoverCommand(LOAD if t.kind == "load" else STORE, t.buf_addr,
                                   t.bs_addr, t.rows, (1 << self.config.buffer.width) - 1)
                self.waiting = True
        if clear:
            c.update(dict.fromkeys(c, 0))
        for k in c:
            c[k] &= _WORD - 1
        self.mover.tick(cmd_valid=cmd_valid, cmd=cmd, req_ready=req_ready,
                        resp_valid=resp_valid, resp_data=resp_data, clear=clear, host=buf)

    def _take(self, op: SeqOp) -> None:
        plan, d = self.plan, self.plan.desc
        before = (plan.counters["SWAPS"], plan.counters["STREAM_OPS"])
        if op.kind not in (ACCUMULATE, FIRE, FLUSH) or \
                d.mode == "swap" and op.kind != FLUSH and not plan.tags:
            self.done = self.error = 1
            self.own["ERRORS"] += 1
            return
        if op.kind == FLUSH:
            todo = plan.flush()
        elif op.kind == FIRE:
            todo = plan.fire(op.tile)
        else:
            todo = plan.accumulate(op.tile, op.table, op.ops)[0]
        self.own["SWAPS"] += plan.counters["SWAPS"] - before[0]
        self.own["STREAM_OPS"] += plan.counters["STREAM_OPS"] - before[1]
        plan.log.clear()
        if not todo:
            self.done = 1
            return
        self.busy, self.waited, self.mask = 1, op.kind != FLUSH, op.mask
        self.todo = list(todo)
        self._next()

    def _next(self) -> None:
        self.k, self.waiting = 0, False
        if self.todo:
            self.cur = self.todo.pop(0)
        else:
            self.busy, self.done, self.cur = 0, 1, None

    def _abort(self) -> None:
        self.busy, self.done, self.error, self.cur, self.todo = 0, 1, 1, None, []
        self.k, self.waiting = 0, False
        self.own["ERRORS"] += 1
