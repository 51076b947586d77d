"""A dataset of many input samples for batched inference (``flexspim run NET DATA.npz``).

An ``.npz`` holding either

* ``events`` (1-D int64: every sample's event stream, source indices and ``-1`` ticks,
  one after the other) and ``offsets`` (``n + 1`` int64: sample ``i`` is
  ``events[offsets[i]:offsets[i + 1]]``), or
* ``spikes`` (``(n, steps, n_in)`` non-negative integers: spike counts per sample, step and
  input; a sample's step ``t`` becomes the events of its inputs in ascending index, each
  repeated by its count, then a tick),

and optionally ``labels`` (``n`` integers >= 0) and the framework's **reference outputs**
(``reference``, ``reference_layer<i>``: spike counts per sample and neuron, see
`flexspim.frontend.reference`). Every sample must end with a tick (events
after the last tick would be integrated but never fired). Sources are checked against the
network's input size. Errors are one line naming the file and the array.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flexspim.golden.batching import TICK

from .reference import Reference, reference_from

__all__ = ["Dataset", "load_dataset", "save_dataset", "spikes_to_streams"]


@dataclass
class Dataset:
    samples: list            # per sample: its event stream (int64, ends with a tick)
    labels: np.ndarray | None
    reference: Reference | None = None      # the framework's spike counts, if given


def spikes_to_streams(spikes: np.ndarray) -> list[np.ndarray]:
    """``(n, steps, n_in)`` counts -> one event stream per sample (module docstring)."""
    out = []
    for sample in np.asarray(spikes):
        parts = []
        for step in sample:
            parts.append(np.repeat(np.arange(step.size), step.astype(np.int64)))
            parts.append(np.array([TICK]))
        out.append(np.concatenate(parts).astype(np.int64))
    return out


def save_dataset(path, samples, labels=None, reference=None) -> None:
    """Write streams (a list of 1-D arrays) in the ``events``/``offsets`` form; ``reference``:
    the framework's output spike counts ``(samples, n_out)``, or a `Reference`."""
    samples = [np.asarray(s, np.int64) for s in samples]
    offsets = np.r_[0, np.cumsum([len(s) for s in samples])].astype(np.int64)
    arrays = {"events": np.concatenate(samples) if samples else np.zeros(0, np.int64),
              "offsets": offsets}
    if labels is not None:
        arrays["labels"] = np.asarray(labels, np.int64)
    if reference is not None:
        ref = reference if isinstance(reference, Reference) else Reference(reference)
        arrays["reference"] = np.asarray(ref.output, np.int64)
        arrays.update({f"reference_layer{i}": np.asarray(a, np.int64)
                       for i, a in ref.layers.items()})
    np.savez_compressed(path, **arrays)


def load_dataset(path, n_in: int) -> Dataset:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except OSError as e:
        raise ValueError(f"cannot read the dataset {path}: {e.strerror or e}") from None
    except (ValueError, EOFError, zipfile.BadZipFile, AttributeError) as e:
        raise ValueError(f"the dataset {path} is not a valid .npz file: {e}") from None
    if "spikes" in data:
        sp = data["spikes"]
        if sp.ndim != 3 or not np.issubdtype(sp.dtype, np.integer) and sp.dtype != bool \
                or (sp.size and sp.min() < 0):
            raise ValueError(f"dataset {path}: `spikes` must be non-negative integers of shape "
                             f"(samples, steps, inputs), not {sp.dtype} {sp.shape}")
        if sp.shape[2] != n_in:
            raise ValueError(f"dataset {path}: `spikes` has {sp.shape[2]} inputs; the network "
                             f"takes {n_in}")
        samples = spikes_to_streams(sp)
    elif "events" in data and "offsets" in data:
        ev, off = data["events"], data["offsets"]
        if ev.ndim != 1 or not np.issubdtype(ev.dtype, np.integer):
            raise ValueError(f"dataset {path}: `events` must be a 1-D integer array, not "
                             f"{ev.dtype} {ev.shape}")
        if off.ndim != 1 or off.size < 2 or not np.issubdtype(off.dtype, np.integer) \
                or off[0] != 0 or off[-1] != ev.size or np.any(np.diff(off) < 0):
            raise ValueError(f"dataset {path}: `offsets` must rise from 0 to len(events) = "
                             f"{ev.size} (one more than the samples)")
        bad = (ev < TICK) | (ev >= n_in)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"dataset {path}: event {i} has source {int(ev[i])}; sources must "
                             f"be in [0, {n_in - 1}] (or -1 for a tick)")
        samples = [ev[a:b].astype(np.int64) for a, b in zip(off[:-1], off[1:])]
    else:
        raise ValueError(f"dataset {path} must hold `events` and `offsets`, or `spikes` "
                         f"(found: {', '.join(sorted(data)) or 'nothing'})")
    for i, s in enumerate(samples):
        if s.size == 0 or s[-1] != TICK:
            raise ValueError(f"dataset {path}: sample {i} does not end with a tick (-1)")
    labels = data.get("labels")
    if labels is not None:
        if labels.shape != (len(samples),) or not np.issubdtype(labels.dtype, np.integer) \
                or (labels.size and labels.min() < 0):
            raise ValueError(f"dataset {path}: `labels` must be {len(samples)} integers >= 0, "
                             f"not {labels.dtype} {labels.shape}")
        labels = labels.astype(np.int64)
    return Dataset(samples, labels, reference_from(data, path, len(samples)))
