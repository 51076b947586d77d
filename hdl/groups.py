"""Column groups of a shaped macro, as position-major vectors.

With ``max_operand_cols = M``, a run-time shape ``N_C = 2**t <= M`` splits the columns into
aligned groups of ``N_C`` (`flexspim.golden.macro`, "Operand shape"). Column ``c`` is
position ``c % M`` of block ``c // M``; because ``N_C`` divides ``M``, its position in its
group is ``(c % M) % N_C`` and its group's lowest column is in the same block. So the logic is
written on ``M`` *slices*, slice ``j`` being the vector of every block's column ``j``
(``ceil(cols / M)`` bits, the missing columns of a last partial block padded with 0): the
carry chain goes from slice ``j - 1`` to slice ``j``, and every per-position decision (bit
index, "is this the sign position") is one scalar per slice, the same for every block.

``sel[t]`` is the one-hot decode of the layer's shape (``N_C = 2**t``); every mode-dependent
result is an OR over modes of ``sel[t]`` and that mode's value, so the structure is fixed at
generation time and the shape is chosen at run time.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Value

__all__ = ["ColumnGroups", "one_hot_select"]


class ColumnGroups:
    """Slicing, joining and group-wise operations for ``cols`` columns, widest group ``M``."""

    def __init__(self, cols: int, max_cols: int):
        self.cols, self.M = cols, max_cols
        self.blocks = -(-cols // max_cols)
        self.modes = max_cols.bit_length()          # t = 0 .. log2(M)

    # -- layout ---------------------------------------------------------------------------
    def split(self, x: Value) -> list[Value]:
        """``M`` slices of a ``cols``-bit vector (slice ``j`` bit ``b`` = column ``b*M + j``)."""
        return [Cat(*(x[c] if (c := b * self.M + j) < self.cols else Const(0, 1)
                      for b in range(self.blocks))) for j in range(self.M)]

    def join(self, slices: list[Value]) -> Value:
        """The ``cols``-bit vector of ``M`` slices (inverse of `split`)."""
        return Cat(*(slices[c % self.M][c // self.M] for c in range(self.cols)))

    def trailing(self, t: int) -> int:
        """Columns that form no group at ``N_C = 2**t``, as a ``cols``-bit constant."""
        n = 1 << t
        first = self.cols // n * n
        return ((1 << self.cols) - 1) ^ ((1 << first) - 1)

    def lowest(self, sel: list[Value]) -> Value:
        """``cols`` bits: the lowest column of every whole group of the selected mode (one
        AND with this gives a per-group flag on its lowest column as a single net, so the
        Verilog port carrying it keeps its name)."""
        def mask(t):
            n = 1 << t
            return sum(1 << c for c in range(0, self.cols // n * n, n))
        return one_hot_select(sel, [Const(mask(t), self.cols) for t in range(self.modes)])

    # -- mode-dependent selection -----------------------------------------------------------
    def where(self, sel: list[Value], per_mode) -> list[Value]:
        """Per slice ``j``: ``per_mode(t, j)`` of the selected mode (``sel`` one-hot)."""
        out = []
        for j in range(self.M):
            out.append(one_hot_select(sel, [per_mode(t, j) for t in range(self.modes)]))
        return out

    def group_any(self, sel: list[Value], slices: list[Value]) -> list[Value]:
        """Per slice: OR of its group's slices (the group's flag, on every column of it)."""
        def f(t, j):
            n = 1 << t
            base = j - j % n
            return _or_all(slices[base:base + n])
        return self.where(sel, f)

    def pick(self, sel: list[Value], slices: list[Value], pos: list[Value]) -> list[Value]:
        """Per slice: the slice at position ``pos[t]`` of its group (``pos[t]``: a run-time
        index in ``[0, 2**t)``), i.e. a bit of the group spread to all its columns."""
        def f(t, j):
            n = 1 << t
            base = j - j % n
            if n == 1:
                return slices[j]
            return Array(slices[base:base + n])[pos[t][:t]]
        return self.where(sel, f)

    def constant(self, sel: list[Value], per_mode) -> list[Value]:
        """Per slice: a constant 0/1 of the mode (``per_mode(t, j)`` is a Python bool)."""
        return self.where(sel, lambda t, j: Const(int(bool(per_mode(t, j))), 1))


def one_hot_select(sel: list[Value], vals: list) -> Value:
    """``vals[t]`` for the one ``sel[t]`` that is set (0 if none): an OR of masked values."""
    width = max(len(Value.cast(v)) for v in vals)
    return _or_all([Value.cast(v) & s.replicate(width) for s, v in zip(sel, vals)])


def _or_all(vals: list[Value]) -> Value:
    out = vals[0]
    for v in vals[1:]:
        out = out | v
    return out
