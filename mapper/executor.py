"""Run mapped layers on the level-2 golden model and compare with the level-1 reference.

`execute` gives every layer its own `golden.macro.MacroModel` instances (layers have
disjoint macros) and runs the layers' programs in network order, each on the previous
layer's output stream. The hardware interleaves layers within a time step; since every
layer only consumes its predecessor's events of the same step, the per-layer results are
the same.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from flexspim.config import MacroConfig, Operand
from flexspim.energy.counts import Counts
from flexspim.golden.batching import TICK
from flexspim.golden.macro import MacroModel
from flexspim.golden.network import NetworkRun

from .placement import LayerPlacement
from .program import DrySink, LayerProgram

__all__ = ["MacroSink", "RecordingSink", "ProgramRun", "execute", "replay", "dry_run",
           "first_mismatch"]


class MacroSink:
    """Executes operations on a list of `MacroModel` (one per macro)."""

    executes = True

    def __init__(self, macro: MacroConfig, n_macros: int):
        self.macros = [MacroModel(macro) for _ in range(n_macros)]

    def load(self, macro, operand: Operand, values, mask):
        self.macros[macro].load(operand, values, mask)

    def save(self, macro, operand: Operand, mask):
        return self.macros[macro].peek(operand)

    def peek(self, macro, operand: Operand):
        return self.macros[macro].peek(operand)

    def accumulate(self, macro, op, mask):
        self.macros[macro].accumulate(op, mask)

    def fire(self, macro, op, mask):
        return self.macros[macro].fire(op, mask).spikes


class RecordingSink(MacroSink):
    """A `MacroSink` that also keeps the program: ``ops`` is a list of
    ``(kind, macro, argument, values, col_mask)`` with kind "load" (argument an `Operand`,
    values the loaded integers), "read" (row reads of an `Operand`, a swap-out), "accumulate"
    (an `AccumulateOp`) or "fire" (a `FireOp`)."""

    def __init__(self, macro: MacroConfig, n_macros: int):
        super().__init__(macro, n_macros)
        self.ops: list[tuple] = []

    def load(self, macro, operand, values, mask):
        self.ops.append(("load", macro, operand, np.array(values), np.array(mask)))
        super().load(macro, operand, values, mask)

    def save(self, macro, operand, mask):
        self.ops.append(("read", macro, operand, None, np.array(mask)))
        return super().save(macro, operand, mask)

    def accumulate(self, macro, op, mask):
        self.ops.append(("accumulate", macro, op, None, np.array(mask)))
        super().accumulate(macro, op, mask)

    def fire(self, macro, op, mask):
        self.ops.append(("fire", macro, op, None, np.array(mask)))
        return super().fire(macro, op, mask)


def replay(ops, macro: MacroConfig, n_macros: int) -> list[MacroModel]:
    """Run a recorded program on fresh macros (reads are no-ops); returns the macros."""
    models = [MacroModel(macro) for _ in range(n_macros)]
    for kind, m, arg, values, mask in ops:
        if kind == "load":
            models[m].load(arg, values, mask)
        elif kind == "accumulate":
            models[m].accumulate(arg, mask)
        elif kind == "fire":
            models[m].fire(arg, mask)
    return models


class ProgramRun(NamedTuple):
    run: NetworkRun            # outputs and potentials per layer (potentials None if dry)
    counts: list               # Counts per layer


def _run(placements: Sequence[LayerPlacement], macro: MacroConfig, events, sink,
         inputs=None) -> ProgramRun:
    outputs, potentials, counts = [], [], []
    ev = None if events is None else np.asarray(events, dtype=np.int64)
    base = 0
    for i, pl in enumerate(placements):
        if inputs is not None:
            ev = inputs[i]
        res = LayerProgram(pl, base).run(ev, sink, macro)
        base += len(pl.macros)
        outputs.append(res.outputs)
        potentials.append(res.potentials)
        counts.append(res.counts)
        ev = res.outputs
    return ProgramRun(NetworkRun(outputs, potentials), counts)


def execute(placements: Sequence[LayerPlacement], macro: MacroConfig, events,
            sink: MacroSink | None = None) -> ProgramRun:
    """Run the layers' programs on golden macro models (bit-exact). Pass a `RecordingSink`
    to keep the program."""
    sink = sink or MacroSink(macro, sum(len(p.macros) for p in placements))
    return _run(placements, macro, events, sink)


def dry_run(placements: Sequence[LayerPlacement], macro: MacroConfig,
            inputs: Sequence[np.ndarray]) -> list[Counts]:
    """Counts only: layer ``i`` is driven by ``inputs[i]`` (its level-1 input stream)."""
    return _run(placements, macro, None, DrySink(), inputs).counts


def _steps(stream: np.ndarray) -> list[np.ndarray]:
    ticks = np.flatnonzero(stream == TICK)
    return [stream[a + 1 if i else 0:b] for i, (a, b) in
            enumerate(zip(np.concatenate([[-1], ticks[:-1]]), ticks))]


def first_mismatch(ref: NetworkRun, got: NetworkRun, names: Sequence[str]) -> str | None:
    """None if the runs are equal; else where they first differ: layer, time step, neuron
    (spikes are compared step by step before the final potentials)."""
    for name, a, b in zip(names, ref.outputs, got.outputs):
        sa, sb = _steps(np.asarray(a)), _steps(np.asarray(b))
        for step, (x, y) in enumerate(zip(sa, sb)):
            if x.tolist() != y.tolist():
                diff = sorted(set(x.tolist()) ^ set(y.tolist()))
                n = diff[0] if diff else int(x[np.flatnonzero(x != y)[0]])
                where = "reference" if n in set(x.tolist()) else "program"
                return (f"layer {name!r}, time step {step}, neuron {n}: spikes only in the "
                        f"{where} run" if diff else
                        f"layer {name!r}, time step {step}: same spikes in another order "
                        f"(first at neuron {n})")
        if len(sa) != len(sb):
            return (f"layer {name!r}: {len(sa)} time steps in the reference, {len(sb)} in "
                    f"the program")
    for name, a, b in zip(names, ref.potentials, got.potentials):
        a, b = np.asarray(a), np.asarray(b)
        bad = np.flatnonzero(a != b)
        if bad.size:
            n = int(bad[0])
            return (f"layer {name!r}, neuron {n}: final potential {int(a[n])} in the "
                    f"reference, {int(b[n])} in the program")
    return None
