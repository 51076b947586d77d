"""The batching rule: how the core groups input events into accumulate batches.

An event stream is a 1-D integer sequence: a value ``>= 0`` is an input event from that
source (a presynaptic neuron index), `TICK` (-1) ends the current time step.

Rule (the hardware controller and every model apply it identically):

1. events are taken in arrival order into the open batch, up to ``batch_max`` (P) events;
2. an event whose source is already in the open batch closes it and opens a new one
   (its weight rows are already active: one row activated twice counts once);
3. a tick closes the open batch; empty batches are never formed.

In saturate mode the grouping is part of the arithmetic (the clamp applies to each batch's
total), which is why the network reference model takes ``batch_max`` too.
"""

from __future__ import annotations

from typing import Iterable, Union

import numpy as np

__all__ = ["TICK", "form_batches", "batch_starts", "split_steps", "Batch"]

TICK = -1

Batch = tuple  # tuple[int, ...] of distinct sources
Item = Union[Batch, int]  # a batch, or TICK


def _check_batch_max(batch_max: int) -> None:
    if isinstance(batch_max, bool) or not isinstance(batch_max, (int, np.integer)) \
            or batch_max < 1:
        raise ValueError(f"`batch_max` must be an integer >= 1, not {batch_max!r}")


def batch_starts(sources: np.ndarray, batch_max: int) -> np.ndarray:
    """Start offsets of the batches of one time step's events (no ticks inside)."""
    _check_batch_max(batch_max)
    starts = []
    open_set: set[int] = set()
    for i, s in enumerate(np.asarray(sources).tolist()):
        if len(open_set) == batch_max or s in open_set or not open_set:
            starts.append(i)
            open_set = set()
        open_set.add(s)
    return np.asarray(starts, dtype=np.intp)


def form_batches(events: Iterable[int], batch_max: int) -> list[Item]:
    """Apply the batching rule: a list of batches (tuples of sources) and `TICK` marks."""
    _check_batch_max(batch_max)
    out: list[Item] = []
    open_batch: list[int] = []
    for e in events:
        e = int(e)
        if e == TICK:
            if open_batch:
                out.append(tuple(open_batch))
                open_batch = []
            out.append(TICK)
            continue
        if e < 0:
            raise ValueError(f"event sources must be >= 0 (or TICK = -1), not {e}")
        if len(open_batch) == batch_max or e in open_batch:
            out.append(tuple(open_batch))
            open_batch = []
        open_batch.append(e)
    if open_batch:
        out.append(tuple(open_batch))
    return out


def split_steps(events) -> list[tuple[np.ndarray, bool]]:
    """Split a stream into ``(sources, ends_with_tick)`` per time step.

    The last entry has ``ends_with_tick`` False when events follow the last tick (they are
    integrated but not fired).
    """
    ev = np.asarray(events, dtype=np.int64).ravel()
    if ev.size and ev.min() < TICK:
        raise ValueError(f"event sources must be >= 0 (or TICK = -1), not {int(ev.min())}")
    ticks = np.flatnonzero(ev == TICK)
    steps = []
    start = 0
    for t in ticks.tolist():
        steps.append((ev[start:t], True))
        start = t + 1
    if start < ev.size:
        steps.append((ev[start:], False))
    return steps
