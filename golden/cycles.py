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

Row reads and row writes through the row port take one cycle each (a read's data comes out
in the next cycle, see the row port in `flexspim.hdl.macro`).
"""

from __future__ import annotations

from flexspim.config import LayerConfig, MacroConfig

__all__ = ["ISSUE_CYCLES", "READ_AHEAD_CYCLES", "REJECT_CYCLES", "ROW_CYCLES",
           "accumulate_cycles", "fire_cycles", "leak_cycles", "reset_cycles"]

ROW_CYCLES = 1
ISSUE_CYCLES = 1
READ_AHEAD_CYCLES = 1
#: A command whose fields break a rule: issue (fields and their sums registered), read-ahead
#: (comparisons, verdict registered) and one cycle that acts on it (its write suppressed);
#: ``done`` and ``error`` pulse in the next cycle and nothing is written.
REJECT_CYCLES = ISSUE_CYCLES + READ_AHEAD_CYCLES + 1


def accumulate_cycles(macro: MacroConfig, bv: int, saturate: bool, clamp: bool = True) -> int:
    """Cycles of one accumulate batch. ``clamp``: some enabled column overflowed (saturate
    mode only; the default is the worst case)."""
    tail = macro.guard_cycles + (bv if clamp else 1) if saturate else 0
    return ISSUE_CYCLES + READ_AHEAD_CYCLES + bv + tail


def leak_cycles(layer: LayerConfig) -> int:
    return {"none": 0, "shift": 1, "sub": 2}[layer.leak_mode] * layer.bv


def reset_cycles(layer: LayerConfig) -> int:
    return {"hard": 1, "soft": 2}[layer.reset] * layer.bv


def fire_cycles(layer: LayerConfig) -> int:
    """Cycles of one fire pass over one neuron slot (every column at once)."""
    bubble = int(layer.bv == 1 and layer.leak_mode != "none")
    return (ISSUE_CYCLES + READ_AHEAD_CYCLES + leak_cycles(layer) + bubble + layer.bv
            + reset_cycles(layer))
