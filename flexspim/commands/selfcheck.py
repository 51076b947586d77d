"""The import's self-check against the framework for ``flexspim run`` and ``import``: with
reference outputs in the dataset (`flexspim.frontend.reference`), the agreement lines and
the one ``warning:`` line of `flexspim.frontend.agreement` (``--strict``: an error)."""

from __future__ import annotations

import copy
import sys

import numpy as np

__all__ = ["add_strict_arg", "check_reading", "run_agreement"]


def add_strict_arg(p) -> None:
    p.add_argument("--strict", action="store_true",
                   help="with reference outputs in the dataset: stop (exit 2) instead of "
                        "warning when the import does not reproduce the framework's counts")


def _builder(args, path):
    from .nir_options import import_from_args

    def build(overrides: dict):
        a = copy.copy(args)
        for k, v in overrides.items():
            setattr(a, k, v)
        return import_from_args(a, path)
    return build


def check_reading(args, path, dataset, samples) -> dict | None:
    """The reading's check (a ``.nir`` at ``path`` and a dataset with reference outputs;
    else None): prints its agreement line and, below the threshold, the warning; with
    ``--strict`` the warning is raised as the error instead (before anything is written)."""
    from ..frontend.agreement import self_check
    from ..frontend.nir_import import read_graph

    if dataset.reference is None or path.suffix != ".nir":
        return None
    chk = self_check(_builder(args, path), read_graph(path), samples, dataset.reference,
                     dataset.labels)
    if chk.warning and getattr(args, "strict", False):
        raise ValueError(chk.warning + " (--strict)")
    print(chk.current.line("import's float reading"), file=sys.stderr)
    if chk.warning:
        print(f"warning: {chk.warning}", file=sys.stderr)
    return {"reading": chk.current.to_dict(), "warning": chk.warning,
            "suggested": chk.best if chk.warning else None}


def layer_counts(streams, n: int) -> np.ndarray:
    """``(samples, n)`` spike counts of one layer's per-sample streams (neurons >= n, a
    bias unit, left out)."""
    return np.array([np.bincount(s[(s >= 0) & (s < n)], minlength=n) for s in streams],
                    np.int64).reshape(len(streams), n)


def run_agreement(dataset, counts, layers, real, labels, what: str) -> dict | None:
    """The run's agreement with the reference (output counts ``counts``, per-sample layer
    streams ``layers``, real neurons per layer ``real``); prints its line."""
    from ..frontend.agreement import measure

    ref = dataset.reference
    if ref is None:
        return None
    out = measure(counts, ref.output, labels)
    print(out.line(what), file=sys.stderr)
    res = {"output": out.to_dict()}
    for i, a in sorted(ref.layers.items()):
        if i < len(real) - 1:
            c = layer_counts([s[i] for s in layers], real[i])
            res[f"layer{i}"] = measure(c, a).to_dict()
    return res
