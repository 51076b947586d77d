"""Operation and data-movement counts of a program run, and the rules that produce them.

All counts are in bits or bit-level operations of the **enabled** columns only (a masked
column is neither read nor written, so an idle column costs nothing here; it costs area).

Rules (one function each, used by every sink that runs a program, so an executed run and a
dry run count the same):

* accumulate of ``n`` weight operands on ``a`` columns (`count_accumulate`): each of the
  ``bv`` add cycles reads ``n + 1`` bits per column (one row per weight, one of V) and writes
  one; saturate mode adds ``guard_cycles`` cycles that read the ``n`` weights' sign rows only
  (V's sign comes from a register, see `golden.macro.accumulate_bitserial`) and write
  nothing. The clamp pass's writes are not counted (they only happen in overflowing columns
  and depend on data; at most ``bv`` bits per overflow). Adder work: a popcount of ``n + 2``
  one-bit inputs (weights, V or its sign, carry) per column and cycle, i.e. ``n + 1``
  full-adder evaluations.
* fire on ``a`` columns (`count_fire`): the leak, compare and reset passes
  (``leak_cycles + bv + reset_cycles``), each cycle charged as an upper bound of 2 bit reads
  (V and theta), 1 bit write and 1 full-adder evaluation per column.
* row port: every bit loaded or saved through the row port is one array bit written or read
  (``port_*_bits``); when it comes from or goes to the backing store (swaps, streamed
  weights) it is also ``moved_bits``, which the energy model prices at buffer or DRAM cost.
  Loads before the first event (weights, thresholds, initial potentials) are
  ``setup_bits`` and are not part of an inference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["Counts", "count_accumulate", "count_fire"]


@dataclass
class Counts:
    """Counters of one layer's (or one network's) run; all integers.

    Attributes:
        accumulates, fire_passes: operations issued.
        sops: synaptic operations (one weight added to one potential).
        array_read_bits, array_write_bits, adder_ops: inside the macros while computing.
        port_read_bits, port_write_bits: through the row port during the run.
        moved_bits: bits between a macro and the backing store (buffer or DRAM).
        swaps: potential slots swapped in; stream_ops: weight operands streamed in.
        setup_bits: bits loaded before the run (once per deployment, not per inference).
        cycles: clock cycles of all operations, added serially (an upper bound on latency:
            macros run in parallel).
    """

    accumulates: int = 0
    fire_passes: int = 0
    sops: int = 0
    array_read_bits: int = 0
    array_write_bits: int = 0
    adder_ops: int = 0
    port_read_bits: int = 0
    port_write_bits: int = 0
    moved_bits: int = 0
    swaps: int = 0
    stream_ops: int = 0
    setup_bits: int = 0
    cycles: int = 0

    def __iadd__(self, other: "Counts") -> "Counts":
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def __add__(self, other: "Counts") -> "Counts":
        out = Counts(**dataclasses.asdict(self))
        out += other
        return out

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def count_accumulate(c: Counts, active: int, n: int, bv: int, guard: int, saturate: bool,
                     cycles: int, sops: int) -> None:
    """Add one accumulate of ``n`` operands on ``active`` columns (see module docstring)."""
    guard = guard if saturate else 0
    compute = bv + guard
    c.accumulates += 1
    c.sops += sops
    c.array_read_bits += active * (bv * (n + 1) + guard * n)
    c.array_write_bits += active * bv
    c.adder_ops += active * compute * (n + 1)
    c.cycles += cycles


def count_fire(c: Counts, active: int, cycles: int, work_cycles: int) -> None:
    """Add one fire pass of ``cycles`` clock cycles on ``active`` columns, of which
    ``work_cycles`` touch the array (leak, compare and reset passes; not command issue)."""
    c.fire_passes += 1
    c.array_read_bits += 2 * active * work_cycles
    c.array_write_bits += active * work_cycles
    c.adder_ops += active * work_cycles
    c.cycles += cycles
