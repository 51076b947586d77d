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

__all__ = ["TICK", "form_batches", "batch_starts", "batch_starts_reference", "split_steps",
           "Batch"]

TICK = -1

Batch = tuple  # tuple[int, ...] of distinct sources
Item = Union[Batch, int]  # a batch, or TICK


def _check_batch_max(batch_max: int) -> None:
    if isinstance(batch_max, bool) or not isinstance(batch_max, (int, np.integer)) \
            or batch_max < 1:
        raise ValueError(f"`batch_max` must be an integer >= 1, not {batch_max!r}")


def batch_starts_reference(sources: np.ndarray, batch_max: int) -> np.ndarray:
    """`batch_starts` of one time step, event by event: the rule as written (the spec)."""
    _check_batch_max(batch_max)
    starts = []
    open_set: set[int] = set()
    for i, s in enumerate(np.asarray(sources).tolist()):
        if len(open_set) == batch_max or s in open_set or not open_set:
            starts.append(i)
            open_set = set()
        open_set.add(s)
    return np.asarray(starts, dtype=np.intp)


def batch_starts(sources: np.ndarray, batch_max: int, steps=None) -> np.ndarray:
    """Start offsets of the batches of a sequence of events (no ticks inside).

    ``steps``: optional time-step index of each event (non-decreasing); a batch never spans
    two steps, as if a tick separated them. Without it the events are one step.

    Equal to `batch_starts_reference` (tested), without a loop over events: the batch that
    starts at ``s`` ends at ``nxt(s) = min(s + P, f(s), end of s's step)``, where ``f(s)`` is
    the first event whose source already occurred at or after ``s`` (its previous occurrence
    is in the batch, so it opens the next one). The batches are the chain ``0, nxt(0),
    nxt(nxt(0)), ...``, followed by pointer doubling: ``log2(batches)`` array gathers.
    """
    _check_batch_max(batch_max)
    src = np.asarray(sources, dtype=np.int64).ravel()
    n = src.size
    if n == 0 or batch_max == 1:
        return np.arange(n, dtype=np.intp)
    next_occ = np.full(n + 1, n, dtype=np.intp)     # next occurrence of each event's source
    if batch_max <= 16:
        # only repeats closer than P can cut a batch: compare shifted copies, nearest last
        for d in range(min(batch_max, n) - 1, 0, -1):
            hit = np.flatnonzero(src[d:] == src[:-d])
            next_occ[hit] = hit + d
    else:
        key = src.astype(np.uint16) if src.max() < (1 << 16) else src   # 16 bits: radix sort
        order = np.argsort(key, kind="stable")
        same = np.flatnonzero(key[order[1:]] == key[order[:-1]])
        next_occ[order[same]] = order[same + 1]
    first_repeat = np.minimum.accumulate(next_occ[::-1])[::-1]      # f(s), f(n) = n
    nxt = np.minimum(np.arange(batch_max, n + 1 + batch_max, dtype=np.intp), first_repeat)
    if steps is not None:
        st = np.asarray(steps).ravel()
        if st.shape != (n,):
            raise ValueError(f"`steps` must have one entry per event ({n}), not {st.shape}")
        bounds = np.append(np.flatnonzero(st[1:] != st[:-1]) + 1, n)   # step ends
        step_end = np.append(np.repeat(bounds, np.diff(bounds, prepend=0)), n)
        np.minimum(nxt, step_end, out=nxt)
    np.minimum(nxt, n, out=nxt)
    # chain = [nxt^i(0) for i < 2**k], jump = nxt^(2**k); stop once a jump from 0 passes the end
    chain = np.zeros(1, dtype=np.intp)
    jump = nxt
    while jump[0] < n:
        chain = np.concatenate([chain, jump[chain]])
        jump = jump[jump]
    return chain[chain < n]


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
