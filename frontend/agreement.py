"""How closely an import follows the framework's own spikes, and the likely cause when not.

With reference outputs in the dataset (`flexspim.frontend.reference`), two things are
measured, both as spike counts per sample and output neuron against the framework's:

* **the run** (`Agreement` of ``flexspim run``'s integer network): exact-count rate (the
  fraction of samples whose every output count equals the framework's), mean absolute count
  error (per sample and neuron), and the accuracy of both with labels;
* **the reading** (`self_check`): the import's float reference (`nir_import.float_run`,
  the framework semantics the import assumed) on the first `CHECK_SAMPLES` samples. NIR does
  not record the reset, and a graph may not say its exporter's leak order, discretization
  or dt; a wrong assumption shows here, apart from quantization, which the float reading
  does not have.

When the reading's exact-count rate is below `THRESHOLD`, every combination of the
candidates the graph cannot tell apart (`candidates`: reset hard/soft, leak order,
discretization, and the dt of the graph's metadata and of every preset) is imported and run
on the same samples; the best one (highest exact-count rate, then fewest changed options)
is named in one ``warning:`` line with the options to try, when it beats the current
reading by at least `MARGIN`; else the line says no reading explains it. ``--strict`` turns
the line into an error (exit 2, before anything is written).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .nir_import import PRESETS, float_run
from .reference import Reference

__all__ = ["Agreement", "measure", "float_counts", "candidates", "self_check", "Check",
           "THRESHOLD", "MARGIN", "CHECK_SAMPLES"]

#: The reading's exact-count rate below which the candidates are tried and a warning given.
#: The right reading reproduces the framework's counts on nearly every sample (float64
#: against the framework's float32: a potential within rounding of the threshold may tip);
#: issue 25 measured 1.1 % (snnTorch, reset to zero read as soft) and 0 % (Sinabs).
THRESHOLD = 0.9
#: How much better (exact-count rate) a candidate must be to be named as the likely cause.
MARGIN = 0.1
#: Samples the reading and the candidates are run on.
CHECK_SAMPLES = 32
#: What each option means when it is the likely cause.
_CAUSE = {("reset", "hard"): "the framework resets to zero (NIR records no reset)",
          ("reset", "soft"): "the framework subtracts the threshold at a spike (NIR records "
                             "no reset)",
          ("leak_order", "leak-first"): "the framework leaks before adding the input",
          ("leak_order", "input-first"): "the framework adds the input before the leak",
          ("discretization", "exp"): "the framework decays by exp(-dt/tau)",
          ("discretization", "euler"): "the framework decays by 1 - dt/tau",
          ("dt", None): "the exporter's time step differs"}
_FLAG = {"reset": "--reset", "leak_order": "--leak-order",
         "discretization": "--discretization", "dt": "--dt"}


@dataclass(frozen=True)
class Agreement:
    """Spike counts against the framework's on ``samples`` samples."""

    samples: int
    exact: float                  # fraction of samples with every count equal
    mae: float                    # mean |count - framework's| per sample and neuron
    accuracy: float | None        # ours, with labels
    accuracy_framework: float | None

    def line(self, what: str) -> str:
        acc = "" if self.accuracy is None else (f"; accuracy {self.accuracy:.2%}, framework "
                                                f"{self.accuracy_framework:.2%}")
        return (f"{what} vs framework on {self.samples} samples: exact counts "
                f"{self.exact:.2%}, mean |count error| {self.mae:.3f}{acc}")

    def to_dict(self) -> dict:
        return {"samples": self.samples, "exact_count_rate": self.exact,
                "mean_abs_count_error": self.mae, "accuracy": self.accuracy,
                "accuracy_framework": self.accuracy_framework}


def _predict(counts: np.ndarray) -> np.ndarray:
    """The most spikes (ties: the lowest index; none: -1), as ``flexspim run`` predicts."""
    pred = counts.argmax(axis=1)
    pred[counts.max(axis=1) == 0] = -1
    return pred


def measure(counts, reference, labels=None) -> Agreement:
    """Our ``(samples, n)`` counts against the framework's (the first ``len(counts)``
    rows of ``reference``)."""
    ours = np.asarray(counts, np.int64)
    ref = np.asarray(reference, np.int64)[:len(ours)]
    if ours.shape != ref.shape:
        raise ValueError(f"the reference outputs have {ref.shape[1]} neurons per sample; the "
                         f"network's output layer has {ours.shape[1]}")
    acc = acc_f = None
    if labels is not None and len(ours):
        lab = np.asarray(labels)[:len(ours)]
        acc = float((_predict(ours) == lab).mean())
        acc_f = float((_predict(ref) == lab).mean())
    if not len(ours):
        return Agreement(0, 1.0, 0.0, acc, acc_f)
    return Agreement(len(ours), float(np.all(ours == ref, axis=1).mean()),
                     float(np.abs(ours - ref).mean()), acc, acc_f)


def float_counts(imp, samples) -> list[np.ndarray]:
    """Per layer, the float reading's ``(samples, neurons)`` spike counts."""
    per = [[] for _ in imp.float_layers]
    for ev in samples:
        for i, (out, _, _) in enumerate(float_run(imp.float_layers, ev)):
            n = imp.float_layers[i].dense.shape[0]
            per[i].append(np.bincount(out[(out >= 0) & (out < n)], minlength=n))
    return [np.array(c, np.int64) for c in per]


def _score(counts: list, ref: Reference, labels) -> tuple[Agreement, float]:
    """The output layer's agreement, and the mean exact-count rate over the output layer
    and every hidden layer given in the reference (what the search ranks)."""
    out = measure(counts[-1], ref.output, labels)
    rates = [out.exact] + [measure(counts[i], a).exact
                           for i, a in ref.layers.items() if i < len(counts) - 1]
    return out, float(np.mean(rates))


def candidates(graph) -> list[dict]:
    """The option combinations the NIR graph cannot tell apart (module docstring)."""
    meta = getattr(graph, "metadata", None) or {}
    dts = {float(p.dt) for p in PRESETS.values()} | {float(p.dt_if) for p in PRESETS.values()}
    if "dt" in meta:
        try:
            dts.add(float(np.asarray(meta["dt"]).ravel()[0]))
        except (TypeError, ValueError, IndexError):
            pass
    dts = [None] + sorted(dts)
    return [{"reset": r, "leak_order": lo, "discretization": d, "dt": dt}
            for dt, r, lo, d in itertools.product(dts, ("hard", "soft"),
                                                  ("leak-first", "input-first"),
                                                  ("euler", "exp"))]


@dataclass
class Check:
    """Result of `self_check`: the current reading's agreement, the best candidate (options
    that differ from the current, and its agreement), and the warning (None: none needed)."""

    current: Agreement
    best: dict | None
    best_agreement: Agreement | None
    warning: str | None


def _changed(opts: dict, settings: dict) -> dict:
    cur = {"reset": settings["reset"], "leak_order": settings["leak_order"],
           "discretization": settings["discretization"]}
    out = {k: v for k, v in opts.items() if k != "dt" and v != cur[k]}
    if opts["dt"] is not None and not all(np.isclose(row["dt"], opts["dt"], rtol=1e-5)
                                          for row in settings["layers"]):
        out["dt"] = opts["dt"]
    return out


def self_check(build: Callable, graph, samples, reference: Reference, labels=None,
               k: int = CHECK_SAMPLES) -> Check:
    """Measure the import's reading against the reference on the first ``k`` samples and,
    below `THRESHOLD`, search `candidates` (module docstring). ``build(overrides)`` imports
    the graph with the command's options, ``overrides`` (a dict of `candidates`' keys, None
    values left out) replacing them; it raises `ValueError` when the import refuses."""
    samples, ref = list(samples[:k]), reference.head(k)
    labels = None if labels is None else labels[:k]
    imp = build({})
    cur, cur_score = _score(float_counts(imp, samples), ref, labels)
    if cur_score >= THRESHOLD:
        return Check(cur, None, None, None)
    best, best_agr, best_key = None, None, None
    for opts in candidates(graph):
        try:
            cand = build({key: v for key, v in opts.items() if v is not None})
        except ValueError:
            continue
        changed = _changed(opts, imp.settings)
        agr, score = _score(float_counts(cand, samples), ref, labels)
        key = (-score, len(changed))
        if changed and (best_key is None or key < best_key):
            best, best_agr, best_key = changed, agr, key
    head = (f"the import's reading of the graph (reset {imp.settings['reset']}, "
            f"{imp.settings['leak_order']}, {imp.settings['discretization']}) reproduces the "
            f"framework's output spike counts on {cur.exact:.1%} of {cur.samples} samples "
            f"(below {THRESHOLD:.0%})")
    if best is not None and -best_key[0] >= cur_score + MARGIN:
        causes = "; ".join(_CAUSE.get((key, v), _CAUSE.get((key, None), key))
                           for key, v in best.items())
        flags = " ".join(f"{_FLAG[key]} {v:g}" if key == "dt" else f"{_FLAG[key]} {v}"
                         for key, v in best.items())
        return Check(cur, best, best_agr,
                     f"{head}; likely cause: {causes}; try {flags} ({best_agr.exact:.1%} "
                     f"with it)")
    return Check(cur, best, best_agr,
                 f"{head}; no other reading of reset, leak order, discretization or dt does "
                 f"better: the framework computes something the import does not model")
