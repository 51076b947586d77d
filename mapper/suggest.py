"""What would make a refused network fit: the smallest changes, found by re-running the fit.

When `system_fit` refuses a network, `suggest` tries changes of the options ``flexspim
run`` takes and keeps those that `system_fit` accepts, **computed, never guessed**: every
suggestion is a configuration on which the fit check was run and passed (and, for a new
``--bw``, on which the import itself was re-run through ``rebuild``, since a coarser weight
can make the import refuse a layer).

Dimensions tried (`DIMENSIONS`), each one option:

* ``rows``: the powers of two above the array's rows, and `MAX_ROWS`;
* ``bw`` of one layer (only with ``rebuild``: an imported network is re-quantized; the
  integer weights of a network file cannot be): from its current ``bw - 1`` down to 2;
* ``cores``: when ``--cores`` was given and too small, the count the network needs;
* ``index bits``: up to the 24 the core config allows;
* operand shape: `OPERAND_SHAPE` is the hook for the operand-shape option being added
  (issue 20): a function ``(network, core, n_cores) -> [(options, core)]``
  that, once set, is tried like the others.

Order ("smallest"): one changed option before two; within that, the least rows, the most
``bw`` kept, the fewest cores or index bits. Pairs (rows x the refused layer's ``bw``) are
tried after the single changes, each keeping more ``bw`` than the single ``bw`` change and
fewer rows than the single ``rows`` change (else it is no smaller). `suggest` returns at
most ``limit`` suggestions, single changes first.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from flexspim.config import MAX_CORES, MAX_ROWS, CoreConfig

from .fit import DoesNotFit, SystemFit, system_fit

__all__ = ["Suggestion", "suggest", "suggestion_lines", "DIMENSIONS", "OPERAND_SHAPE"]

DIMENSIONS = ("rows", "bw", "cores", "index bits", "operand shape")
#: Hook for the operand-shape option: ``f(network, core, n_cores)`` returning candidate
#: ``(options dict, CoreConfig)`` pairs, cheapest first; None until that option exists.
OPERAND_SHAPE: Callable | None = None
_MAX_INDEX_BITS = 24


@dataclass(frozen=True)
class Suggestion:
    """A configuration on which `system_fit` passed: ``options`` maps a ``flexspim run``
    option to its value (``bw``: one per layer); ``fit`` is the accepted placement."""

    options: dict
    fit: SystemFit
    changed: str            # what changed, with layer names, for the message

    @property
    def flags(self) -> str:
        parts = []
        for k, v in self.options.items():
            v = ",".join(map(str, v)) if isinstance(v, (list, tuple)) else v
            parts.append(f"--{k.replace(' ', '-')} {v}")
        return " ".join(parts)


def _try(network, core: CoreConfig, n_cores) -> SystemFit | None:
    try:
        return system_fit(network, core, n_cores)
    except DoesNotFit:
        return None


def _rows_values(rows: int) -> list[int]:
    vals, r = [], 1 << rows.bit_length()
    while r < MAX_ROWS:
        vals.append(r)
        r <<= 1
    return vals + ([MAX_ROWS] if rows < MAX_ROWS else [])


def _with_rows(core: CoreConfig, rows: int) -> CoreConfig:
    return dataclasses.replace(core, macro=dataclasses.replace(core.macro, rows=rows))


def _layer(network, i: int) -> str:
    name = network.layers[i].name or f"layer{i}"
    return f"layer {i} '{name}'"


def suggest(network, core: CoreConfig, n_cores: int | None = None,
            rebuild: Callable | None = None, refused_layer: int | None = None,
            limit: int = 3) -> list[Suggestion]:
    """Changes of the options under which ``network`` fits (module docstring).

    ``rebuild(bws)``: the network re-imported with one ``bw`` per layer (raises
    `ValueError` when the import refuses); None: ``bw`` is not tried. ``refused_layer``:
    the layer the refusal named (`DoesNotFit.layer`); its ``bw`` is tried first, then the
    other layers'.
    """
    bws = [layer.config.bw for layer in network.layers]
    n = len(bws)
    order = ([refused_layer] if refused_layer is not None else []) + \
        [i for i in range(n) if i != refused_layer]
    found: list[Suggestion] = []

    def bw_variant(i: int, b: int, cr: CoreConfig):
        new = list(bws)
        new[i] = b
        try:
            net = rebuild(new)
        except ValueError:
            return None
        fit = _try(net, cr, n_cores)
        return None if fit is None else (new, fit)

    def first(seq):
        return next((s for s in seq if s is not None), None)

    # single changes, the best of each dimension
    rows_ok = first((r, f) for r in _rows_values(core.macro.rows)
                    if (f := _try(network, _with_rows(core, r), n_cores)))
    if rows_ok:
        found.append(Suggestion({"rows": rows_ok[0]}, rows_ok[1],
                                f"rows {core.macro.rows} -> {rows_ok[0]}"))
    if rebuild is not None:
        for i in order:
            hit = first(bw_variant(i, b, core) for b in range(bws[i] - 1, 1, -1))
            if hit:
                found.append(Suggestion({"bw": hit[0]}, hit[1],
                                        f"bw of {_layer(network, i)} {bws[i]} -> {hit[0][i]}"))
                break
    if n_cores is not None and n_cores < MAX_CORES and (f := _try(network, core, None)):
        found.append(Suggestion({"cores": f.cores}, f, f"cores {n_cores} -> {f.cores}"))
    ib = first((b, f) for b in range(core.index_bits + 1, _MAX_INDEX_BITS + 1)
               if (f := _try(network, dataclasses.replace(core, index_bits=b), n_cores)))
    if ib:
        found.append(Suggestion({"index bits": ib[0]}, ib[1],
                                f"index bits {core.index_bits} -> {ib[0]}"))
    if OPERAND_SHAPE is not None:
        for opts, cr in OPERAND_SHAPE(network, core, n_cores):
            if (f := _try(network, cr, n_cores)):
                found.append(Suggestion(dict(opts), f, "operand shape " + str(opts)))
                break
    if rebuild is None:
        return found[:limit]
    # pairs: more rows and a coarser weight for one layer (the least rows first), each
    # keeping more bits than the single bw change and fewer rows than the single rows one
    single_bw = {i: s.options["bw"][i] for s in found if "bw" in s.options
                 for i in range(n) if s.options["bw"][i] != bws[i]}
    top = rows_ok[0] if rows_ok else MAX_ROWS + 1
    for r in [r for r in _rows_values(core.macro.rows) if r < top]:
        if len(found) >= limit:
            break
        cr = _with_rows(core, r)
        for i in order:
            hit = first(bw_variant(i, b, cr)
                        for b in range(bws[i] - 1, single_bw.get(i, 1), -1))
            if hit:
                found.append(Suggestion({"rows": r, "bw": hit[0]}, hit[1],
                                        f"rows {core.macro.rows} -> {r} and bw of "
                                        f"{_layer(network, i)} {bws[i]} -> {hit[0][i]}"))
                break
    return found[:limit]


def suggestion_lines(found: list[Suggestion], command: str = "flexspim run") -> str:
    """The lines printed after a refusal (one per suggestion), or a line saying none of
    the dimensions tried fits."""
    if not found:
        return ("no single change of rows, bw, cores or index bits (nor rows with one "
                "layer's bw) fits the default hardware")
    return "\n".join(f"would fit: {command} ... {s.flags}   ({s.changed}; {s.fit.summary()})"
                     for s in found)
