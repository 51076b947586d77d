"""Level-2 golden model: the CIM macro as a ``rows x cols`` bit matrix.

This is the specification the RTL is checked against, bit for bit and cycle for cycle.

Storage: ``bits[r, c]`` is the bitcell at row ``r``, column ``c``. An operand of ``b`` bits
at row ``a`` is the two's-complement integer ``sum(bits[a + i, c] << i) - bits[a+b-1, c] << b``
of column ``c`` (LSB in the lowest row). Weights, potentials and thresholds share the array;
which rows hold what is only an address map (`flexspim.config.Operand`).

Operand shape (issue 20; docs/array.md, "Operand shape"): with ``operand_cols = N_C > 1`` the
columns form aligned groups ``g`` of ``N_C`` (columns ``g*N_C .. g*N_C + N_C - 1``; the last
``cols % N_C`` columns form no group and are never enabled), one operand (one neuron) per
group, and bit ``i`` of the operand at row ``a`` is cell ``(a + i // N_C, g*N_C + i % N_C)``:
``R = ceil(b / N_C)`` rows, LSB in the group's lowest column. The cells of the last row above
bit ``b - 1`` (``R*N_C - b`` of them) are padding: never read, never written. Weights,
potentials and thresholds of one layer share the shape. The arithmetic is the integer
arithmetic below, per group instead of per column; the per-column result vectors
(``overflow``, ``spikes``) carry each group's flag on its lowest column and 0 on the others,
the wire the hardware drives. ``load`` and ``peek`` take and give one value per group.

Arithmetic decisions (each tested at its boundaries in ``tests/golden``):

* Accumulate: ``T = V + W_1 + ... + W_n`` exactly (weights sign-extended to ``bv`` bits by
  repeating their sign row). Wrap mode writes ``T mod 2**bv`` (two's complement). Saturate
  mode writes ``T`` clamped to ``[-2**(bv-1), 2**(bv-1)-1]``. Saturation applies once, to
  the batch's total: ``V = max`` plus weights ``(+1, -1)`` in one batch gives ``max``
  (``T`` is in range), while the same weights in two batches give ``max - 1`` (the first
  batch clamps). The guard-bit rule of the hardware (`accumulate_bitserial`) flags
  overflow exactly when ``T`` is out of range, so the two descriptions are one function.
* Fire, per column: leak, then compare, then reset (see `fire`).
* Disabled columns (``col_mask`` False) are neither read nor written and never spike.

`accumulate_bitserial` replays the hardware's cycles (per-column carry register, guard
cycles, clamp pass) and is the bridge between this integer description and the RTL.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from flexspim.config import AccumulateOp, FireOp, MacroConfig, Operand, signed_range

from .cycles import ISSUE_CYCLES, READ_AHEAD_CYCLES, ROW_CYCLES, accumulate_cycles, fire_cycles

__all__ = ["MacroModel", "AccumulateResult", "FireResult", "accumulate_bitserial",
           "to_bits", "from_bits", "leak", "wrap", "shaped_cells", "group_mask", "on_lowest"]


class AccumulateResult(NamedTuple):
    cycles: int
    overflow: np.ndarray  # bool per column: the batch total was clamped (saturate mode only)


class FireResult(NamedTuple):
    cycles: int
    spikes: np.ndarray  # bool per column


def to_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement bit slices, shape ``(bits, len(values))``, LSB first (wraps)."""
    v = np.asarray(values, dtype=np.int64)
    return ((v[None, :] >> _shifts(bits)) & 1).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def _place_values(bits: int) -> np.ndarray:
    """Two's-complement weight of each bit: 1, 2, 4, ..., -2**(bits-1)."""
    w = np.array([1 << i for i in range(bits)], dtype=np.int64)
    w[-1] = -w[-1]
    w.flags.writeable = False
    return w


@functools.lru_cache(maxsize=4096)
def _check_fits(op, macro: MacroConfig) -> None:
    """Validate once per distinct (operation, geometry); both are frozen and hashable."""
    op.check_fits(macro)


@functools.lru_cache(maxsize=4096)
def _check_accumulate(op: AccumulateOp, macro: MacroConfig) -> np.ndarray | None:
    """Validate, and return the ``(n, bw)`` row indices of the batch's weight bits."""
    op.check_fits(macro)
    if not op.w_rows:
        return None
    rows = np.add.outer(np.asarray(op.w_rows), np.arange(op.bw))
    rows.flags.writeable = False
    return rows


@functools.lru_cache(maxsize=None)
def _shifts(bits: int) -> np.ndarray:
    s = np.arange(bits, dtype=np.int64)[:, None]
    s.flags.writeable = False
    return s


def from_bits(slices: np.ndarray) -> np.ndarray:
    """Signed integers from bit slices of shape ``(bits, n)``, LSB first."""
    return _place_values(slices.shape[0]) @ slices.astype(np.int64)


def wrap(values: np.ndarray, bits: int) -> np.ndarray:
    """Reduce integers modulo ``2**bits`` into the signed range (two's-complement wrap)."""
    v = np.asarray(values, dtype=np.int64)
    return ((v + (1 << (bits - 1))) & ((1 << bits) - 1)) - (1 << (bits - 1))


def leak(v: np.ndarray, mode: str, amount: int) -> np.ndarray:
    """The leak step of the fire phase; never overflows.

    * "none": unchanged.
    * "sub": ``|V|`` shrinks by ``amount`` and stops at 0: ``max(V - a, 0)`` for ``V > 0``,
      ``min(V + a, 0)`` for ``V < 0``; 0 stays 0.
    * "shift": ``V - (V >> amount)`` with an arithmetic (floor) shift: 100 -> 50 for
      amount 1, but -3 -> -1 (it decays by ``ceil(|V| / 2**amount)``); amount 0 gives 0.
    """
    v = np.asarray(v, dtype=np.int64)
    if mode == "none":
        return v.copy()
    if mode == "sub":
        return np.where(v > 0, np.maximum(v - amount, 0), np.minimum(v + amount, 0))
    if mode == "shift":
        return v - (v >> amount)
    raise ValueError(f"`leak_mode` must be one of none, sub, shift; not {mode!r}")


def _mask(col_mask, cols: int) -> np.ndarray:
    if col_mask is None:
        return np.ones(cols, dtype=bool)
    m = np.asarray(col_mask, dtype=bool)
    if m.shape != (cols,):
        raise ValueError(f"`col_mask` must have shape ({cols},), not {m.shape}")
    return m


def shaped_cells(operand: Operand, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices, each of shape ``(bits, cols // N_C)``, of bit ``i`` of the
    operand of group ``g``: ``(row + i // N_C, g * N_C + i % N_C)``."""
    return _shaped_cells(operand.row, operand.bits, operand.cols, cols)


@functools.lru_cache(maxsize=4096)
def _shaped_cells(row: int, bits: int, n_c: int, cols: int):
    i = np.arange(bits)[:, None]
    g = np.arange(cols // n_c)[None, :]
    r = np.broadcast_to(row + i // n_c, (bits, g.shape[1])).copy()
    c = g * n_c + i % n_c
    r.flags.writeable = False
    c.flags.writeable = False
    return r, c


def group_mask(col_mask, cols: int, n_c: int) -> np.ndarray:
    """The groups a column mask enables (bool per group, ``cols // N_C`` of them).

    A mask must enable whole groups: every column of a group or none, and none of the last
    ``cols % N_C`` columns, which form no group (a group would cross the array's edge).
    """
    n = cols // n_c
    if col_mask is None:
        return np.ones(n, dtype=bool)
    m = _mask(col_mask, cols)
    if n_c == 1:
        return m
    if m[n * n_c:].any():
        raise ValueError(f"`col_mask` enables column {n * n_c + int(np.argmax(m[n * n_c:]))}; "
                         f"at operand_cols={n_c} only columns [0, {n * n_c - 1}] form groups "
                         f"(a group must not cross the array's edge at column {cols - 1})")
    grid = m[:n * n_c].reshape(n, n_c)
    mixed = grid.any(axis=1) & ~grid.all(axis=1)
    if mixed.any():
        g = int(np.argmax(mixed))
        raise ValueError(f"`col_mask` must enable whole groups of operand_cols={n_c} columns; "
                         f"group {g} (columns {g * n_c}..{g * n_c + n_c - 1}) is partly enabled")
    return grid[:, 0].copy()


def on_lowest(per_group: np.ndarray, cols: int, n_c: int) -> np.ndarray:
    """A per-group flag as the per-column wire: on each group's lowest column, 0 elsewhere."""
    out = np.zeros(cols, dtype=per_group.dtype)
    out[0:len(per_group) * n_c:n_c] = per_group
    return out


class MacroModel:
    """Bit-exact, cycle-exact model of one macro.

    Every operation validates its arguments against the geometry (`ValueError`) and returns
    the clock cycles the hardware takes (`golden.cycles`).
    """

    def __init__(self, config: MacroConfig):
        if not isinstance(config, MacroConfig):
            raise ValueError(f"`config` must be a MacroConfig, not {config!r}")
        self.config = config
        self.bits = np.zeros((config.rows, config.cols), dtype=np.uint8)

    # -- row port ------------------------------------------------------------------------
    def _check_row(self, row: int) -> None:
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)) \
                or not 0 <= row < self.config.rows:
            raise ValueError(f"`row` must be an integer in [0, {self.config.rows - 1}], "
                             f"not {row!r}")

    def write_row(self, row: int, data, col_mask=None) -> int:
        """Write one row (``data``: ``cols`` bits) in the enabled columns; 1 cycle."""
        self._check_row(row)
        d = np.asarray(data)
        if d.shape != (self.config.cols,) or np.any((d != 0) & (d != 1)):
            raise ValueError(f"`data` must be {self.config.cols} bits (0/1)")
        m = _mask(col_mask, self.config.cols)
        self.bits[row, m] = d[m]
        return ROW_CYCLES

    def read_row(self, row: int) -> np.ndarray:
        """One row's ``cols`` bits (a copy); 1 cycle on the row port."""
        self._check_row(row)
        return self.bits[row].copy()

    # -- host helpers (row-port traffic: one row write/read per bit) --------------------
    def load(self, operand: Operand, values, col_mask=None) -> int:
        """Store signed ``values`` (one per group: per column when vertical) as an operand;
        one row write per row of the operand (``operand.rows`` cycles).

        Values outside the operand's signed range are rejected, not wrapped. Padding cells of a
        shaped operand's last row are not written.
        """
        operand.check_fits(self.config)
        cols, n_c = self.config.cols, operand.cols
        n = cols // n_c
        v = np.asarray(values, dtype=np.int64)
        if v.shape != (n,):
            raise ValueError(f"`values` must have shape ({n},), one per group of {n_c} "
                             f"column(s), not {v.shape}")
        lo, hi = signed_range(operand.bits)
        if v.size and (v.min() < lo or v.max() > hi):
            raise ValueError(f"`values` must be in [{lo}, {hi}] for a {operand.bits}-bit "
                             f"operand, got [{v.min()}, {v.max()}]")
        g = group_mask(col_mask, cols, n_c)
        if n_c == 1:
            self.bits[operand.row:operand.stop, g] = to_bits(v, operand.bits)[:, g]
        else:
            r, c = shaped_cells(operand, cols)
            self.bits[r[:, g], c[:, g]] = to_bits(v, operand.bits)[:, g]
        return operand.rows * ROW_CYCLES

    def peek(self, operand: Operand) -> np.ndarray:
        """Signed values of an operand in every group (column when vertical); no side effect."""
        operand.check_fits(self.config)
        if operand.cols == 1:
            return from_bits(self.bits[operand.row:operand.stop])
        return from_bits(self.bits[shaped_cells(operand, self.config.cols)])

    # -- compute -------------------------------------------------------------------------
    def accumulate(self, op: AccumulateOp, col_mask=None) -> AccumulateResult:
        """``V += sum(W)`` over the batch, wrapped or saturated once on the total."""
        if op.operand_cols > 1:
            return self._accumulate_shaped(op, col_mask)
        w_rows = _check_accumulate(op, self.config)
        m = None if col_mask is None else _mask(col_mask, self.config.cols)
        vsl = slice(op.v_row, op.v_row + op.bv)
        v = from_bits(self.bits[vsl])
        if w_rows is not None:
            # per bit position, how many weights have a 1 there (the adder tree's popcount);
            # the sign row weighs -2**(bw-1)
            counts = self.bits[w_rows].sum(axis=0, dtype=np.uint8)      # (bw, cols)
            v += _place_values(op.bw) @ counts
        lo, hi = signed_range(op.bv)
        if op.saturate:
            overflow = (v < lo) | (v > hi)
            new = np.minimum(np.maximum(v, lo), hi)
        else:
            overflow = np.zeros(self.config.cols, dtype=bool)
            new = wrap(v, op.bv)
        self._store(vsl, to_bits(new, op.bv), m)
        if m is not None:
            overflow &= m
        cycles = accumulate_cycles(self.config, op.bv, op.saturate, bool(overflow.any()))
        return AccumulateResult(cycles, overflow)

    def _accumulate_shaped(self, op: AccumulateOp, col_mask) -> AccumulateResult:
        """`accumulate` at ``operand_cols > 1``: the same integer rule per group."""
        _check_fits(op, self.config)
        cols, n_c = self.config.cols, op.operand_cols
        g = group_mask(col_mask, cols, n_c)
        vop = Operand(op.v_row, op.bv, n_c)
        v = self.peek(vop)
        for r in op.w_rows:
            v = v + self.peek(Operand(r, op.bw, n_c))
        lo, hi = signed_range(op.bv)
        if op.saturate:
            overflow = ((v < lo) | (v > hi)) & g
            new = np.minimum(np.maximum(v, lo), hi)
        else:
            overflow = np.zeros(len(g), dtype=bool)
            new = wrap(v, op.bv)
        r, c = shaped_cells(vop, cols)
        self.bits[r[:, g], c[:, g]] = to_bits(new, op.bv)[:, g]
        cycles = accumulate_cycles(self.config, op.bv, op.saturate, bool(overflow.any()), n_c)
        return AccumulateResult(cycles, on_lowest(overflow, cols, n_c))

    def _store(self, rows: slice, data: np.ndarray, m: np.ndarray | None) -> None:
        if m is None:
            self.bits[rows] = data
        else:
            self.bits[rows] = np.where(m, data, self.bits[rows])

    def fire(self, op: FireOp, col_mask=None) -> FireResult:
        """Leak, compare and reset one neuron slot in every enabled column.

        1. ``V = leak(V)`` (see `leak`; cannot overflow);
        2. ``spike = V >= theta`` (exact, theta from the layer register or the array);
        3. where spiked: hard reset ``V = 0``; soft reset ``V = min(V - theta, 2**(bv-1)-1)``
           (``V - theta >= 0`` after a spike, so only a negative theta can overflow, and
           that saturates to the maximum whatever the layer's ``saturate`` setting).

        At ``operand_cols > 1`` the same, per group (spikes on each group's lowest column).
        """
        _check_fits(op, self.config)
        layer = op.layer
        cols, n_c = self.config.cols, layer.operand_cols
        m = group_mask(col_mask, cols, n_c)
        vop = Operand(op.v_row, layer.bv, n_c)
        v = leak(self.peek(vop), layer.leak_mode, layer.leak)
        if layer.threshold_source == "array":
            theta = self.peek(Operand(op.theta_row, layer.bv, n_c))
        else:
            theta = np.full(len(m), layer.threshold, dtype=np.int64)
        spikes = (v >= theta) & m
        if layer.reset == "hard":
            v = np.where(spikes, 0, v)
        else:
            v = np.where(spikes, np.minimum(v - theta, signed_range(layer.bv)[1]), v)
        if n_c == 1:
            self.bits[vop.row:vop.stop, m] = to_bits(v, layer.bv)[:, m]
        else:
            r, c = shaped_cells(vop, cols)
            self.bits[r[:, m], c[:, m]] = to_bits(v, layer.bv)[:, m]
        return FireResult(fire_cycles(layer), on_lowest(spikes, cols, n_c))


class BitSerialTrace(NamedTuple):
    bits: np.ndarray        # the array after the operation
    cycles: int
    overflow: np.ndarray    # bool per column
    max_carry: int          # largest carry-register value seen (must fit carry_width bits)


def accumulate_bitserial(macro: MacroConfig, bits: np.ndarray, op: AccumulateOp,
                         col_mask=None) -> BitSerialTrace:
    """Replay an accumulate the way the hardware runs it, one clock cycle per step.

    Vertical operands (``operand_cols = 1``). Per column: a carry register ``c``
    (``carry_width`` bits, starts at 0) and the bit-serial sum. Cycle ``k`` (``0 <= k < bv``)
    adds the activated bits ``bits[w + min(k, bw-1)]`` of every weight, bit ``k`` of V and
    ``c``; bit 0 of the sum is written to row ``v_row + k`` and the rest becomes ``c``. In
    saturate mode, ``guard_cycles`` more cycles keep sign-extending V (from a register holding
    V's original sign bit, since its row was just overwritten) and the weights without
    writing; a column overflowed if any bit they produce differs from the bit written at
    ``k = bv - 1``; the last guard bit is the sign of the exact total, which selects the clamp
    value (max for positive, min for negative) written during the following clamp pass:
    ``bv`` cycles if an enabled column overflowed, otherwise its first cycle only, which
    finds no overflow flag set and ends the command.

    Shaped operands (``operand_cols = N_C > 1``): the same bit sequence per group, ``N_C`` bits
    per cycle. Cycle ``k`` handles bits ``i = k*N_C .. k*N_C + N_C - 1`` in the group's
    columns, lowest first, the carry rippling from column to column within the cycle (the
    carry chain) and the group's top carry registered into the next cycle's lowest column.
    A weight bit ``i >= bw`` is the weight's sign (cell of bit ``bw - 1``: the front stays on
    the weight's last row, the sign cell is spread to the positions above it); a V bit
    ``i >= bv`` is V's sign. The guard bits ``bv .. bv + guard_cycles - 1`` are computed
    where they fall: in the padding positions of V's last row (same cycle) and then in
    ``ceil((bv + guard_cycles) / N_C) - ceil(bv / N_C)`` guard cycles; padding cells are never
    written. The clamp pass writes V's ``R = ceil(bv / N_C)`` rows. Overflow is per group,
    reported on the group's lowest column. ``max_carry`` is the largest value of any carry
    between two bit positions (registered or in the chain): the bound ``<= P`` holds per
    position, so the chain's carries are ``carry_width`` bits wide too.
    """
    op.check_fits(macro)
    if op.operand_cols == 1:
        return _bitserial_vertical(macro, bits, op, col_mask)
    n_c = op.operand_cols
    cols = macro.cols
    n = cols // n_c
    g = group_mask(col_mask, cols, n_c)
    out = bits.copy()
    guard = macro.guard_cycles if op.saturate else 0
    vr, vc = shaped_cells(Operand(op.v_row, op.bv, n_c), cols)
    wcells = [shaped_cells(Operand(r, op.bw, n_c), cols) for r in op.w_rows]
    carry = np.zeros(n, dtype=np.int64)
    max_carry = 0
    msb = np.zeros(n, dtype=np.int64)
    overflow = np.zeros(n, dtype=bool)
    last = np.zeros(n, dtype=np.int64)
    vsign = out[vr[op.bv - 1], vc[op.bv - 1]].astype(np.int64)  # V's original sign bit
    n_bits = op.bv + guard
    for i in range(n_bits):
        vbit = out[vr[i], vc[i]].astype(np.int64) if i < op.bv else vsign
        s = carry + vbit
        for wr, wc in wcells:
            j = min(i, op.bw - 1)
            s = s + out[wr[j], wc[j]]
        bit = s & 1
        carry = s >> 1
        max_carry = max(max_carry, int(carry.max(initial=0)))
        if i < op.bv:
            out[vr[i][g], vc[i][g]] = bit[g]
            if i == op.bv - 1:
                msb = bit
        else:
            overflow |= bit != msb
            last = bit
    rows = -(-op.bv // n_c)
    cycles = ISSUE_CYCLES + READ_AHEAD_CYCLES + -(-n_bits // n_c)
    if op.saturate:
        overflow &= g
        lo, hi = signed_range(op.bv)
        clamp = to_bits(np.where(last == 1, lo, hi), op.bv)
        for i in range(op.bv):
            out[vr[i][overflow], vc[i][overflow]] = clamp[i, overflow]
        cycles += rows if overflow.any() else 1
    return BitSerialTrace(out, cycles, on_lowest(overflow, cols, n_c), max_carry)


def _bitserial_vertical(macro: MacroConfig, bits: np.ndarray, op: AccumulateOp,
                        col_mask) -> BitSerialTrace:
    """`accumulate_bitserial` at ``operand_cols = 1``, row by row (the energy tests count its
    row reads)."""
    m = _mask(col_mask, macro.cols)
    out = bits.copy()
    cols = macro.cols
    carry = np.zeros(cols, dtype=np.int64)
    max_carry = 0
    msb = np.zeros(cols, dtype=np.int64)
    overflow = np.zeros(cols, dtype=bool)
    last = np.zeros(cols, dtype=np.int64)
    vsign = np.zeros(cols, dtype=np.int64)
    cycles = ISSUE_CYCLES + READ_AHEAD_CYCLES   # the read-ahead presents rows of cycle 0
    n_add = op.bv + (macro.guard_cycles if op.saturate else 0)
    for k in range(n_add):
        kw = min(k, op.bw - 1)
        if k < op.bv:
            vbit = out[op.v_row + k].astype(np.int64)
            vsign = vbit  # kept in a register: row v_row+bv-1 is overwritten at k = bv-1
        else:
            vbit = vsign
        s = carry + vbit
        for r in op.w_rows:
            s = s + out[r + kw]
        bit = s & 1
        carry = s >> 1
        max_carry = max(max_carry, int(carry.max(initial=0)))
        if k < op.bv:
            out[op.v_row + k, m] = bit[m]
            if k == op.bv - 1:
                msb = bit
        else:
            overflow |= bit != msb
            last = bit
        cycles += 1
    if op.saturate:
        overflow &= m
        lo, hi = signed_range(op.bv)
        clamp = to_bits(np.where(last == 1, lo, hi), op.bv)
        for k in range(op.bv if overflow.any() else 1):
            out[op.v_row + k, overflow] = clamp[k, overflow]
            cycles += 1
    return BitSerialTrace(out, cycles, overflow, max_carry)
