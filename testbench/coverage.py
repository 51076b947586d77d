"""Functional coverage of the RTL regressions: a table of what the random stimulus reached.

A cocotb test samples what it ran into a `Coverage` (layer settings, batch cut reasons,
saturation clamps, input back-pressure, output stalls, dropped events); when the environment
variable ``FLEXSPIM_COVERAGE_DIR`` is set (``make regress`` sets it, see ``tests/conftest.py``)
each simulation saves its counts there as JSON, and `coverage_table` sums the files into one
table, with every bin of `BINS` listed, so a bin the regression never reached shows as 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections import Counter
from pathlib import Path

import numpy as np

from flexspim.golden.batching import TICK, form_batches

__all__ = ["Coverage", "BINS", "batch_cut_reasons", "coverage_table", "count_clamps",
           "sample_network"]

#: Every bin, by group, in table order.
BINS: dict[str, tuple[str, ...]] = {
    "weight bits bw": ("1", "2-3", "4-7", "8+"),
    "potential bits bv": ("2-4", "5-8", "9-12", "13+"),
    "arithmetic": ("saturate", "wrap"),
    "leak": ("none", "sub", "shift"),
    "reset": ("hard", "soft"),
    "threshold": ("register", "array"),
    "saturation": ("batch clamped", "batch in range"),
    "batch cut by": ("P events", "repeated source", "tick"),
    "input": ("idle gaps", "back-pressured (FIFO full)", "out-of-range source dropped"),
    "output": ("stalled (back-pressure)", "at full speed"),
    "RTL runs": ("random macro accumulates", "event streams", "multi-layer event streams",
                 "mover transfers", "sequencer ops"),
    "mover command": ("LOAD", "STORE", "0 rows", "refused", "back to back"),
    "mover rows": ("1", "2-8", "9+", "whole buffer"),
    "backing store": ("request stalled", "latency > outstanding", "outstanding full",
                      "reset mid-transfer"),
    "sequencer op": ("WS swap", "WS swap, DRAM", "OS stream", "OS stream, DRAM", "flush",
                     "nothing to move", "refused", "transfer out of range", "back to back",
                     "reset mid-op"),
}


def _bucket(value: int, edges: tuple[int, ...], names: tuple[str, ...]) -> str:
    for edge, name in zip(edges, names):
        if value <= edge:
            return name
    return names[-1]


def batch_cut_reasons(events, batch_max: int, n_in: int | None = None) -> Counter:
    """Why each batch of ``events`` closed, by the batching rule (sources ``>= n_in`` are
    left out: the core drops them without touching the open batch). A batch still open at
    the end of the stream is not counted (the drivers end every stream with a tick)."""
    ev = np.asarray(events, dtype=np.int64)
    if n_in is not None:
        ev = ev[ev < n_in]
    items = form_batches(ev, batch_max)
    out: Counter = Counter()
    for i, item in enumerate(items):
        if item == TICK:
            continue
        nxt = items[i + 1] if i + 1 < len(items) else None
        if nxt is None and len(item) < batch_max:
            continue
        out["P events" if len(item) == batch_max else "tick" if nxt == TICK
            else "repeated source"] += 1
    return out


class Coverage:
    """Counts per ``(group, bin)``; saved only when ``FLEXSPIM_COVERAGE_DIR`` is set."""

    def __init__(self):
        self.counts: Counter = Counter()

    def hit(self, group: str, name: str, n: int = 1) -> None:
        if group not in BINS or name not in BINS[group]:
            raise ValueError(f"no coverage bin {group!r}: {name!r}")
        if n:
            self.counts[(group, name)] += int(n)

    def layer(self, cfg) -> None:
        """A `LayerConfig` that ran."""
        self.hit("weight bits bw", _bucket(cfg.bw, (1, 3, 7), BINS["weight bits bw"]))
        self.hit("potential bits bv", _bucket(cfg.bv, (4, 8, 12), BINS["potential bits bv"]))
        self.hit("arithmetic", "saturate" if cfg.saturate else "wrap")
        self.hit("leak", cfg.leak_mode)
        self.hit("reset", cfg.reset)
        self.hit("threshold", cfg.threshold_source)

    def accumulate(self, op, overflow) -> None:
        """A random valid macro accumulate (`AccumulateOp`) and its golden overflow flags."""
        self.hit("RTL runs", "random macro accumulates")
        self.hit("weight bits bw", _bucket(op.bw, (1, 3, 7), BINS["weight bits bw"]))
        self.hit("potential bits bv", _bucket(op.bv, (4, 8, 12), BINS["potential bits bv"]))
        self.hit("arithmetic", "saturate" if op.saturate else "wrap")
        if op.saturate:
            self.hit("saturation", "batch clamped" if np.any(overflow) else "batch in range")

    def batches(self, events, batch_max: int, n_in: int | None = None) -> None:
        for reason, n in batch_cut_reasons(events, batch_max, n_in).items():
            self.hit("batch cut by", reason, n)

    def streams(self, gap: float, stall: float, in_waits: int = 0, dropped: int = 0) -> None:
        """One stream's conditions: idle gaps, cycles the input waited, output stalls."""
        self.hit("RTL runs", "event streams")
        if gap:
            self.hit("input", "idle gaps")
        self.hit("input", "back-pressured (FIFO full)", in_waits)
        self.hit("input", "out-of-range source dropped", dropped)
        self.hit("output", "stalled (back-pressure)" if stall else "at full speed")

    def mover_command(self, cmd, valid: bool, words: int, back_to_back: bool) -> None:
        """A `golden.mover.MoverCommand` the mover took (``valid``: in range)."""
        self.hit("RTL runs", "mover transfers")
        if not valid:
            self.hit("mover command", "refused")
        elif cmd.rows == 0:
            self.hit("mover command", "0 rows")
        else:
            self.hit("mover command", "STORE" if cmd.kind else "LOAD")
            self.hit("mover rows", "whole buffer" if cmd.rows == words else
                     _bucket(cmd.rows, (1, 8), ("1", "2-8", "9+")))
        if back_to_back:
            self.hit("mover command", "back to back")

    def sequencer_op(self, what: str, back_to_back: bool = False) -> None:
        """An op the sequencer took (``what``: a bin of "sequencer op")."""
        self.hit("RTL runs", "sequencer ops")
        self.hit("sequencer op", what)
        if back_to_back:
            self.hit("sequencer op", "back to back")

    def save(self) -> Path | None:
        folder = os.environ.get("FLEXSPIM_COVERAGE_DIR")
        if not folder:
            return None
        path = Path(folder) / f"{uuid.uuid4().hex}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([[g, b, n] for (g, b), n in sorted(self.counts.items())]))
        return path


@contextlib.contextmanager
def count_clamps(cov: Coverage):
    """Within the block, every saturating accumulate of a golden `MacroModel` (so of the
    core and system models) counts as "batch clamped" or "batch in range"."""
    from flexspim.golden.macro import MacroModel

    original = MacroModel.accumulate

    def accumulate(self, op, *args, **kwargs):
        res = original(self, op, *args, **kwargs)
        if op.saturate:
            cov.hit("saturation", "batch clamped" if res.overflow.any() else "batch in range")
        return res

    MacroModel.accumulate = accumulate
    try:
        yield cov
    finally:
        MacroModel.accumulate = original


def sample_network(cov: Coverage, network, events, run, system, gap: float, stall: float,
                   in_waits: int = 0) -> None:
    """Sample a system run of ``network`` on ``events`` (``run``: its golden `SystemRun`,
    layer ``k`` fed by layer ``k - 1``'s output) and save."""
    inputs = [np.asarray(events)] + list(run.layers[:-1])
    if len(network.layers) > 1:
        cov.hit("RTL runs", "multi-layer event streams")
    for layer, ev in zip(network.layers, inputs):
        cov.layer(layer.config)
        cov.batches(ev, system.core.macro.batch_max, layer.n_in)
    cov.streams(gap, stall, in_waits)
    cov.save()


def coverage_table(folder) -> str | None:
    """The summed counts of every file in ``folder`` as a Markdown table (None if none)."""
    files = sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []
    if not files:
        return None
    total: Counter = Counter()
    for f in files:
        for group, name, n in json.loads(f.read_text()):
            total[(group, name)] += n
    lines = [f"functional coverage ({len(files)} sampled runs)", "",
             "| group | bin | hits |", "|---|---|---|"]
    missing = 0
    for group, names in BINS.items():
        for name in names:
            n = total[(group, name)]
            missing += n == 0
            lines.append(f"| {group} | {name} | {n:,}{'  <- never reached' if n == 0 else ''} |")
    lines.append("")
    lines.append(f"{sum(len(v) for v in BINS.values()) - missing} of "
                 f"{sum(len(v) for v in BINS.values())} bins reached")
    return "\n".join(lines)
