"""Core-level golden model: one fully connected layer on one macro, driven by events.

This is what the neuron core RTL (`flexspim.hdl.core`) does, step by step, on top of the
level-2 `MacroModel`; its results must equal the level-1 network reference (a test checks it).

Controller behaviour (the RTL's, exactly):

* Input events are handled in arrival order with the batching rule (`golden.batching`). A
  batch runs as soon as it holds ``P`` events, when the next event repeats one of its sources,
  or at a tick. A partial batch is **never** closed by idle time, so results do not depend
  on input timing; an open batch at the end of a stream stays pending (a later event or tick
  runs it), which is where this model differs from level 1 (which integrates the tail).
* Operand shape (issue 20, docs/dataflow.md section 3): the layer's ``N_C`` (register
  ``OPERAND_COLS``, 1 unless the macro has ``max_operand_cols > 1``) gives every weight,
  potential and threshold ``w_rows = ceil(bw / N_C)`` / ``v_rows = ceil(bv / N_C)`` rows
  and a slot ``G = cols // N_C`` neurons, one per aligned group of ``N_C`` columns. At
  ``N_C = 1`` that is ``G = cols``, ``w_rows = bw``: the vertical core.
* A batch runs one accumulate per neuron slot ``s`` (ascending), on the slot's potential
  with the weights ``w_base + s * w_stride + source * w_rows`` and the slot's groups enabled
  (the last slot may be partial: groups ``>= n_out - s * G`` are disabled, and so are the
  ``cols mod N_C`` columns past the last group). Rows are computed from the registers when
  the batch starts running, so a batch left open while the host rewrites ``BW`` (or
  ``OPERAND_COLS``) or a base register runs with the new values.
* A tick fires every slot (ascending) and emits the slot's spikes as output events
  ``s * G + g`` in ascending group ``g``, then one tick: output indices ascend within a
  step.
* An input event whose source is ``>= n_in`` is dropped and counted in ``errors``;
  so is a slot the core does not issue because its potential row or one of its weight rows
  starts outside the array, and a macro command the macro rejects (a weight operand that
  straddles the array's end, say). With a layout `FCLayout.check` accepts, both happen only
  to a partial batch kept across a register write (its sources stay, so after ``N_IN``
  shrinks, one of them may lie beyond the new weight block).

The pipeline (`flexspim.hdl.core`): a *collector* takes one event per cycle from the FIFO into
the open batch; a closed batch is handed to the *runner*, which computes its rows and checks
them (4 cycles) and offers the macro one command per slot, each accepted in the cycle after
the previous one ends, while the collector already fills the next batch; an *encoder* sends
a fire pass's
spikes (one per cycle) and the tick while the runner goes on. So the macro is the bottleneck
and its commands run back to back whenever the input keeps up.

Work cycles (the RTL's ``CYCLES`` status counter counts the same thing) are the **engine's**
cycles, the ones in which the macro is busy or is given a command; they do not depend on when
events arrive or on output back-pressure:

* per accumulate or fire command: its macro cycles (`golden.cycles`; an accumulate's depend on
  whether an enabled column overflowed); a command the macro rejects: `REJECT_CYCLES`;
* per slot the core does not issue because an address lies outside the array:
  `SKIP_CYCLES` (1).

Collecting, handing over and encoding overlap with them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from flexspim.config import AccumulateOp, CoreConfig, FCLayout, FireOp, LayerConfig, Operand

from .batching import TICK
from .core_timeline import CoreTimeline
from .cycles import REJECT_CYCLES
from .layers import FCLayer
from .macro import MacroModel

__all__ = ["CoreModel", "CoreRun", "SKIP_CYCLES"]

#: Engine cycles of a slot the core does not issue (a row outside the array): the cycle in
#: which the runner passes it over.
SKIP_CYCLES = 1


class CoreRun(NamedTuple):
    events: np.ndarray     # output event stream (neuron indices, TICK)
    cycles: int            # engine (work) cycles: the CYCLES counter
    batches: int           # accumulate batches run (each = one accumulate per slot)
    errors: int            # dropped input events + rejected macro commands
    elapsed: int           # end-to-end cycles at full input speed (`golden.core_timeline`)


class CoreModel:
    """One layer on one core; state (array, open batch) persists across `run`. ``macro``
    lets a caller (the system model) keep the array when the layer settings change."""

    def __init__(self, core: CoreConfig, layer: LayerConfig, layout: FCLayout,
                 macro: MacroModel | None = None):
        if not isinstance(core, CoreConfig):
            raise ValueError(f"`core` must be a CoreConfig, not {core!r}")
        layout.check(core, layer)
        self.core, self.layer, self.layout = core, layer, layout
        self.macro = MacroModel(core.macro) if macro is None else macro
        self.open: list[int] = []
        cols, n_c = core.macro.cols, layer.operand_cols
        self.groups = cols // n_c              # neurons per slot
        self.slots = layout.slots(core.macro, n_c)
        self.masks = [self._mask(layout.n_out - s * self.groups) for s in range(self.slots)]

    def _mask(self, n: int) -> np.ndarray:
        """Column mask enabling the first ``n`` groups (whole groups only)."""
        cols, n_c = self.core.macro.cols, self.layer.operand_cols
        m = np.zeros(cols, dtype=bool)
        m[:min(n, self.groups) * n_c] = True
        return m

    def _op(self, row: int, bits: int) -> Operand:
        return Operand(row, bits, self.layer.operand_cols)

    # -- loading (row-port traffic in the hardware) ----------------------------------------
    def load(self, fc: FCLayer) -> None:
        """Write the layer's weights (and thresholds) and zero its potentials."""
        L, lay, G = self.layer, self.layout, self.groups
        if fc.weights.shape != (lay.n_out, lay.n_in):
            raise ValueError(f"`weights` must have shape ({lay.n_out}, {lay.n_in}), not "
                             f"{fc.weights.shape}")
        if fc.config != L:
            raise ValueError("the FCLayer's config differs from the core's layer config")
        for s in range(self.slots):
            per_group = np.zeros((lay.n_in, G), dtype=np.int64)
            n = min(G, lay.n_out - s * G)
            per_group[:, :n] = fc.weights[s * G:s * G + n].T
            for i in range(lay.n_in):
                self.macro.load(self._op(lay.w_base + s * lay.w_stride + i * L.w_rows, L.bw),
                                per_group[i])
            self.macro.load(self._op(lay.v_base + s * lay.v_stride, L.bv), np.zeros(G))
            if L.threshold_source == "array":
                th = np.zeros(G, dtype=np.int64)
                th[:n] = fc.thresholds[s * G:s * G + n]
                self.macro.load(self._op(lay.theta_base + s * lay.v_stride, L.bv), th)

    def potentials(self) -> np.ndarray:
        """Membrane potentials of the layer's ``n_out`` neurons."""
        L, lay = self.layer, self.layout
        v = [self.macro.peek(self._op(lay.v_base + s * lay.v_stride, L.bv))
             for s in range(self.slots)]
        return np.concatenate(v)[:lay.n_out]

    # -- event processing ----------------------------------------------------------------
    def _run_batch(self) -> tuple[list[int], int]:
        """Run the open batch: (cycles of each slot's command, rejected commands)."""
        L, lay, rows = self.layer, self.layout, self.core.macro.rows
        cycles, errors = [], 0
        for s in range(self.slots):
            op = AccumulateOp(lay.v_base + s * lay.v_stride, L.bv,
                              tuple(lay.w_base + s * lay.w_stride + i * L.w_rows
                                    for i in self.open), L.bw, L.saturate, L.operand_cols)
            if op.v_row >= rows or any(r >= rows for r in op.w_rows):
                cycles.append(SKIP_CYCLES)          # not issued (the RTL's range check)
                errors += 1
                continue
            try:
                cycles.append(self.macro.accumulate(op, col_mask=self.masks[s]).cycles)
            except ValueError:
                cycles.append(REJECT_CYCLES)
                errors += 1
        self.open = []
        return cycles, errors

    def run(self, events) -> CoreRun:
        """Feed ``events``; ``elapsed`` assumes the core was idle and events arrive at full
        speed (one per cycle, nothing waiting on the output)."""
        L, lay, P = self.layer, self.layout, self.core.macro.batch_max
        G, n_c = self.groups, L.operand_cols
        out: list[int] = []
        cycles = batches = errors = 0
        time = CoreTimeline(self.core.fifo_depth)

        def run_batch():
            nonlocal cycles, errors, batches
            slot_cycles, err = self._run_batch()
            cycles, errors, batches = cycles + sum(slot_cycles), errors + err, batches + 1
            time.run_batch(slot_cycles)

        for e in np.asarray(events, dtype=np.int64).tolist():
            if e != TICK and e >= lay.n_in:
                errors += 1                                      # popped and dropped
                time.drop()
                continue
            if e == TICK and self.open:
                time.close()                                     # the tick stays at the head
                run_batch()
            elif e in self.open:               # popped: closes the batch, opens the next one
                time.push()
                run_batch()
                self.open.append(e)
                continue
            if e != TICK:
                self.open.append(e)
                time.push()
                if len(self.open) == P:
                    run_batch()
                continue
            slots = []
            for s in range(self.slots):
                op = FireOp(lay.v_base + s * lay.v_stride, L,
                            lay.theta_base + s * lay.v_stride
                            if L.threshold_source == "array" else None)
                res = self.macro.fire(op, col_mask=self.masks[s])
                out.extend((s * G + np.flatnonzero(res.spikes) // n_c).tolist())
                cycles += res.cycles
                slots.append((res.cycles, int(res.spikes.sum())))
            time.fire(slots)
            out.append(TICK)
        return CoreRun(np.asarray(out, dtype=np.int64), cycles, batches, errors, time.elapsed)
