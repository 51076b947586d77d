"""Run mapped layers on the level-2 golden model and compare with the level-1 reference.

`execute` gives every layer its own `golden.macro.MacroModel` instances (layers have
disjoint macros) and runs the layers' programs in network order, each on the previous
layer's output stream. The hardware interleaves layers within a time step; since every
layer only consumes its predecessor's events of the same step, the per-layer results are
the same.

Both sides record a `Trace`: every layer's output events and its potentials before and after
every fire pass (one row per time step), plus the final potentials. `reference_trace` runs
the level-1 model (`golden.network.run_layer`) time step by time step; `execute` reads the
macros back at every tick. `first_mismatch` compares them step by step and names the first
differing layer, time step and neuron.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from flexspim.config import MacroConfig, Operand
from flexspim.energy.counts import Counts
from flexspim.golden.batching import TICK, split_steps
from flexspim.golden.macro import MacroModel
from flexspim.golden.network import Network, NetworkRun, run_layer

from .placement import LayerPlacement
from .program import DrySink, LayerProgram

__all__ = ["MacroSink", "RecordingSink", "ProgramRun", "Trace", "execute", "replay",
           "dry_run", "reference_trace", "first_mismatch"]


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


class Trace(NamedTuple):
    """Per layer: the output stream (with ticks), the potentials before and after every
    fire pass (``(ticks, n_out)`` arrays, row ``t`` = time step ``t``) and the final
    potentials (which also hold events after the last tick)."""

    outputs: list
    pre_fire: list
    post_fire: list
    potentials: list


class ProgramRun(NamedTuple):
    run: NetworkRun            # outputs and potentials per layer (potentials None if dry)
    counts: list               # Counts per layer
    trace: Trace | None = None  # executed runs only


def _run(placements: Sequence[LayerPlacement], macro: MacroConfig, events, sink,
         inputs=None) -> ProgramRun:
    outputs, potentials, counts, pre, post = [], [], [], [], []
    ev = None if events is None else np.asarray(events, dtype=np.int64)
    base = 0
    for i, pl in enumerate(placements):
        if inputs is not None:
            ev = inputs[i]
        res = LayerProgram(pl, base).run(ev, sink, macro, trace=sink.executes)
        base += len(pl.macros)
        outputs.append(res.outputs)
        potentials.append(res.potentials)
        counts.append(res.counts)
        pre.append(res.pre_fire)
        post.append(res.post_fire)
        ev = res.outputs
    trace = Trace(outputs, pre, post, potentials) if sink.executes else None
    return ProgramRun(NetworkRun(outputs, potentials), counts, trace)


def execute(placements: Sequence[LayerPlacement], macro: MacroConfig, events,
            sink: MacroSink | None = None) -> ProgramRun:
    """Run the layers' programs on golden macro models (bit-exact), with a `Trace`. Pass a
    `RecordingSink` to keep the program."""
    sink = sink or MacroSink(macro, sum(len(p.macros) for p in placements))
    return _run(placements, macro, events, sink)


def dry_run(placements: Sequence[LayerPlacement], macro: MacroConfig,
            inputs: Sequence[np.ndarray]) -> list[Counts]:
    """Counts only: layer ``i`` is driven by ``inputs[i]`` (its level-1 input stream)."""
    return _run(placements, macro, None, DrySink(), inputs).counts


def reference_trace(network: Network, events, batch_max: int) -> Trace:
    """The level-1 run of ``network`` (`golden.network.run_layer`), one time step at a time,
    with the potentials before and after every fire."""
    outputs, pre, post, final = [], [], [], []
    ev = np.asarray(events, dtype=np.int64)
    tick = np.array([TICK], np.int64)
    for layer in network.layers:
        v = np.zeros(layer.n_out, dtype=np.int64)
        out, before, after = [], [], []
        for sources, ticked in split_steps(ev):
            if sources.size:
                _, v = run_layer(layer, sources, batch_max, v0=v)
            if ticked:
                before.append(v)
                spikes, v = run_layer(layer, tick, batch_max, v0=v)
                after.append(v)
                out.append(spikes)
        ev = np.concatenate(out) if out else np.zeros(0, np.int64)
        outputs.append(ev)
        pre.append(np.array(before, np.int64).reshape(len(before), layer.n_out))
        post.append(np.array(after, np.int64).reshape(len(after), layer.n_out))
        final.append(v)
    return Trace(outputs, pre, post, final)


def _first_diff(name, step, what, a, b) -> str | None:
    bad = np.flatnonzero(np.asarray(a) != np.asarray(b))
    if not bad.size:
        return None
    n = int(bad[0])
    return (f"layer {name!r}, time step {step}, neuron {n}: potential {what} "
            f"{int(a[n])} in the reference, {int(b[n])} in the program")


def first_mismatch(ref: Trace, got: Trace, names: Sequence[str]) -> str | None:
    """None if the traces are equal; else where they first differ: the first layer with a
    difference, its first differing time step, and there the first differing neuron (per
    step: the potentials before the fire, then the spikes, then the potentials after it;
    then the final potentials)."""
    for i, name in enumerate(names):
        sa = [s for s, _ in split_steps(ref.outputs[i])]
        sb = [s for s, _ in split_steps(got.outputs[i])]
        n_ref, n_got = len(ref.pre_fire[i]), len(got.pre_fire[i])
        for step in range(min(n_ref, n_got)):
            msg = _first_diff(name, step, "before the fire", ref.pre_fire[i][step],
                              got.pre_fire[i][step])
            if msg:
                return msg
            x, y = sa[step].tolist(), sb[step].tolist()
            if x != y:
                diff = sorted(set(x) ^ set(y))
                if diff:
                    where = "reference" if diff[0] in set(x) else "program"
                    return (f"layer {name!r}, time step {step}, neuron {diff[0]}: spikes only "
                            f"in the {where} run")
                k = next(j for j, (p, q) in enumerate(zip(x, y)) if p != q)
                return (f"layer {name!r}, time step {step}: same spikes in another order "
                        f"(first at neuron {x[k]})")
            msg = _first_diff(name, step, "after the fire", ref.post_fire[i][step],
                              got.post_fire[i][step])
            if msg:
                return msg
        if n_ref != n_got:
            return (f"layer {name!r}: {n_ref} time steps in the reference, {n_got} in "
                    f"the program")
        a, b = np.asarray(ref.potentials[i]), np.asarray(got.potentials[i])
        bad = np.flatnonzero(a != b)
        if bad.size:
            n = int(bad[0])
            return (f"layer {name!r}, time step {n_ref} (events after the last tick), neuron "
                    f"{n}: final potential {int(a[n])} in the reference, {int(b[n])} in the "
                    f"program")
    return None
