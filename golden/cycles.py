"""Cycle counts of the macro operations: the timing half of the specification.

The RTL sequencer is busy for exactly these many clock cycles per operation (its tests
measure them), and the mapper, energy model and sweep read the same formulas.

Every operation starts with one **issue** cycle: the sequencer accepts the command
(valid/ready handshake) and registers its fields. Then one **read-ahead** cycle: the storage
is read synchronously (`docs/array.md`: a row address presented in cycle ``t`` gives its data
in cycle ``t + 1``), so the sequencer presents the first rows of the first pass one cycle
before it uses them, and checks the registered fields (a command that breaks a rule ends
a cycle later, see `REJECT_CYCLES`). From then on the address of every row is issued one
cycle ahead, pass boundaries included, so the passes below cost exactly their bit count. A
new command can be accepted in the cycle right after the previous one's last cycle, so these
counts are also the sustained cost of back-to-back operations.

The read-ahead cycle is what clocked storage costs: one cycle per command (an accumulate at
``bv = 16``, saturate, P = 8, went from 38 to 39 cycles; in wrap mode from 17 to 18). The
conditional clamp and the minimum guard (issue 13) then brought that saturating accumulate
to 23 cycles when nothing overflows and 38 when something does.

Accumulate (all columns in parallel, so independent of ``cols`` and of how many weights
the batch holds):

* 1 issue cycle;
* ``bv`` add cycles: cycle ``k`` reads bit ``k`` of V and bit ``min(k, bw-1)`` of every
  weight (repeating the sign row is sign extension), writes bit ``k`` of the sum;
* saturate mode only: ``guard_cycles`` cycles that keep sign-extending without writing
  (they compute the bits above the potential's MSB, see `MacroConfig.guard_cycles`), then
  the clamp pass, which writes the maximum or minimum into the overflowed columns. Its first
  cycle decides from the registered overflow flags: if no enabled column overflowed, the
  command ends in that cycle (1 cycle, nothing written); otherwise the pass takes ``bv``
  cycles. This is the one data-dependent term: ``clamp`` below says whether some enabled
  column overflowed, which every model computing the sum knows exactly (the mapper and the
  sweep, which do not know the data, take the worst case, ``clamp=True``). Deciding from a
  register costs that one cycle but keeps the column adders' sums off the ``done`` path.

Fire (one neuron slot, all columns in parallel):

* 1 issue cycle;
* leak: "none" 0, "shift" ``bv`` (one subtract pass), "sub" ``2 bv`` (a subtract pass,
  then a pass that writes 0 where the result crossed zero);
* compare: ``bv`` (V - theta computed in ``bv + 1`` bits, nothing written);
* reset: "hard" ``bv`` (zeros written where a spike fired), "soft" ``2 bv`` (a subtract
  pass, then a clamp pass for the overflow a negative threshold can cause);
* ``bv = 1`` with a leak pass only: 1 bubble cycle before the compare pass. Its read of row
  ``v_row`` would be issued in the cycle that writes that same row (the leak or uncross pass's
  only bit), and the storage contract leaves a read of a row being written undefined.

Operand shape (``operand_cols = N_C``, issue 20): every pass walks rows, not bits, so each
``bv`` above becomes ``R = ceil(bv / N_C)`` (and ``bw`` rows ``ceil(bw / N_C)``), with two
changes. The guard bits fill the padding positions of V's last row first:
``shaped_guard_cycles = ceil((bv + guard_cycles) / N_C) - R`` (0 when they all fit; at
``N_C = 1`` it is ``guard_cycles``). A shift leak whose shift ``s`` is not a multiple of
``N_C`` needs two rows of V per cycle beside V's own row, the second one kept in a register
from the previous cycle's read: when ``s >= N_C`` the first of them must be read one cycle
before the pass starts, one **prime** cycle (`prime_cycles`). The ``bv = 1`` bubble becomes
``R = 1``. Example, P = 1, saturate, nothing clamped: bv 16 at N_C 1 is 20 cycles, at N_C 4
is 2 + 4 + 1 + 1 = 8; bv 13 at N_C 4 is 2 + 4 + 0 + 1 = 7.

Row reads and row writes through the row port take one cycle each (a read's data comes out
in the next cycle, see the row port in `flexspim.hdl.macro`).
"""

from __future__ import annotations

from flexspim.config import LayerConfig, MacroConfig, operand_rows

__all__ = ["ISSUE_CYCLES", "READ_AHEAD_CYCLES", "REJECT_CYCLES", "ROW_CYCLES",
           "accumulate_cycles", "fire_cycles", "leak_cycles", "reset_cycles",
           "shaped_guard_cycles", "prime_cycles"]

ROW_CYCLES = 1
ISSUE_CYCLES = 1
READ_AHEAD_CYCLES = 1
#: A command whose fields break a rule: issue (fields and their sums registered), read-ahead
#: (comparisons, verdict registered) and one cycle that acts on it (its write suppressed);
#: ``done`` and ``error`` pulse in the next cycle and nothing is written.
REJECT_CYCLES = ISSUE_CYCLES + READ_AHEAD_CYCLES + 1


def shaped_guard_cycles(macro: MacroConfig, bv: int, operand_cols: int = 1) -> int:
    """Guard cycles of a saturating accumulate: the guard bits left over once V's last row's
    padding positions hold as many of them as fit."""
    rows = operand_rows(bv, operand_cols)
    return operand_rows(bv + macro.guard_cycles, operand_cols) - rows


def accumulate_cycles(macro: MacroConfig, bv: int, saturate: bool, clamp: bool = True,
                      operand_cols: int = 1) -> int:
    """Cycles of one accumulate batch. ``clamp``: some enabled column overflowed (saturate
    mode only; the default is the worst case). ``operand_cols``: the shape ``N_C``."""
    rows = operand_rows(bv, operand_cols)
    tail = (shaped_guard_cycles(macro, bv, operand_cols) + (rows if clamp else 1)
            if saturate else 0)
    return ISSUE_CYCLES + READ_AHEAD_CYCLES + rows + tail


def prime_cycles(layer: LayerConfig) -> int:
    """1 when the shift leak's shifted row straddles two rows starting above V's first
    (``N_C > 1``, ``s >= N_C``, ``s mod N_C != 0``), else 0."""
    n_c, s = layer.operand_cols, layer.leak
    return int(layer.leak_mode == "shift" and n_c > 1 and s >= n_c and s % n_c != 0)


def leak_cycles(layer: LayerConfig) -> int:
    return {"none": 0, "shift": 1, "sub": 2}[layer.leak_mode] * layer.v_rows


def reset_cycles(layer: LayerConfig) -> int:
    return {"hard": 1, "soft": 2}[layer.reset] * layer.v_rows


def fire_cycles(layer: LayerConfig) -> int:
    """Cycles of one fire pass over one neuron slot (every column at once)."""
    bubble = int(layer.v_rows == 1 and layer.leak_mode != "none")
    return (ISSUE_CYCLES + READ_AHEAD_CYCLES + prime_cycles(layer) + leak_cycles(layer)
            + bubble + layer.v_rows + reset_cycles(layer))
