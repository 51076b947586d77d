"""Choosing WS or OS per layer: the hybrid dataflow.

`plan_network` runs the level-1 reference once to get every layer's input events, places
every layer both ways (`mapper.placement`), dry-runs both programs to count their
operations (`mapper.program`), and prices them (`energy`). A network-wide choice (one
dataflow per layer) is then evaluated as a whole:

* the layers' macros are added up; a choice needing more than ``hw.cores`` is infeasible;
* the on-chip buffer is given to the layers' backing stores (swapped potentials, streamed
  weights) in network order, each layer entirely or not at all; a layer that does not fit
  the remaining buffer keeps its backing store in DRAM.

Strategies: "ws" and "os" (uniform), and "hybrid": the cheapest feasible choice over all
per-layer combinations (exhaustive up to `MAX_EXHAUSTIVE` combinations; beyond, the best of
the per-layer cheapest choice and the two uniform ones). Either way the hybrid total is
never above a feasible uniform total: both uniform choices are among the candidates.

A user's choice per layer ("ws", "os" or "auto" for each layer) is evaluated as a fourth
strategy, "selected" (its "auto" layers chosen like the hybrid, among the combinations that
respect the fixed layers); "hybrid" stays the unconstrained optimum, so it is never above
"selected" either.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from flexspim.energy.costs import EnergyCosts
from flexspim.energy.counts import Counts
from flexspim.energy.model import EnergyBreakdown, layer_energy
from flexspim.golden.network import Network

from .executor import dry_run
from .hardware import HardwareConfig
from .placement import DATAFLOWS, Infeasible, LayerPlacement, place_layer
from .tiling import tile_layer

__all__ = ["STRATEGIES", "MAX_EXHAUSTIVE", "LayerOption", "Choice", "NetworkPlan",
           "NoFeasibleMapping", "plan_network", "backing_bits"]

STRATEGIES = ("hybrid", "ws", "os")
MAX_EXHAUSTIVE = 1 << 14


class NoFeasibleMapping(ValueError):
    """No placement of the selected strategy fits the hardware (the message says why)."""


def backing_bits(pl: LayerPlacement) -> int:
    """Bits a layer keeps in its backing store: the potentials (and array thresholds) of
    swapped tiles, or, when streaming, all its weights; whole rows of the tiles' columns
    (at a shape, ``operand_cols`` columns per neuron, padding cells included)."""
    t, cfg = pl.tiling, pl.tiling.layer.config
    n_c = cfg.operand_cols
    if pl.mode == "swap":
        return sum(int(t.tile_width[tile]) * n_c * pl.slot_rows
                   for mp in pl.macros if mp.swapped for tile in mp.tiles)
    if pl.mode == "stream":
        return sum(int(t.tile_width[t.tiles_of_table(k)[0]]) * n_c * t.table_ops * cfg.w_rows
                   for k in range(t.n_tables))
    return 0


@dataclass(eq=False)
class LayerOption:
    """One layer placed one way, with its dry-run counts."""

    dataflow: str
    placement: LayerPlacement
    counts: Counts
    backing_bits: int

    @property
    def macros(self) -> int:
        return len(self.placement.macros)

    @property
    def rows_used(self) -> int:
        return max(self.placement.rows_used(m) for m in range(self.macros))


@dataclass(eq=False)
class Choice:
    """A dataflow per layer, evaluated: energies, backing stores, macros."""

    dataflows: tuple
    energies: list            # EnergyBreakdown per layer
    backings: list            # "none" / "buffer" / "dram" per layer
    macros: int

    @property
    def total(self) -> float:
        return sum(e.total for e in self.energies)

    @property
    def breakdown(self) -> EnergyBreakdown:
        out = EnergyBreakdown()
        for e in self.energies:
            out = out + e
        return out


@dataclass(eq=False)
class NetworkPlan:
    """Result of `plan_network`.

    Attributes:
        names: layer names.
        options: per layer, ``{dataflow: LayerOption}`` of the feasible dataflows.
        infeasible: per layer, ``{dataflow: reason}`` of the others.
        choices: ``{strategy: Choice or None}`` for "hybrid", "ws", "os" (None: infeasible),
            plus "selected" when the user chose per layer.
        selected: the strategy asked for ("hybrid", "ws", "os", or "selected" for a
            per-layer choice); ``choice`` is its Choice.
    """

    network: Network
    hw: HardwareConfig
    costs: EnergyCosts
    names: list
    options: list
    infeasible: list
    choices: dict = field(default_factory=dict)
    selected: str = "hybrid"

    @property
    def choice(self) -> Choice | None:
        return self.choices[self.selected]

    def totals(self) -> dict:
        """``{"hybrid": pJ, "ws": pJ, "os": pJ}`` (and ``"selected"`` for a per-layer user
        choice); None where infeasible."""
        keys = STRATEGIES + (("selected",) if "selected" in self.choices else ())
        return {k: (None if self.choices.get(k) is None else self.choices[k].total)
                for k in keys}

    def option(self, i: int) -> LayerOption:
        return self.options[i][self.choice.dataflows[i]]

    def sops(self) -> int:
        return sum(self.option(i).counts.sops for i in range(len(self.names)))

    def normalized_pj_per_sop(self) -> float:
        """pJ per SOP normalized to 1-bit weights and potentials (see `energy.model`)."""
        work = sum(self.option(i).counts.sops * layer.config.bw * layer.config.bv
                   for i, layer in enumerate(self.network.layers))
        return self.choice.total / work if work else float("nan")


def _evaluate(plan: NetworkPlan, dataflows: Sequence[str]) -> Choice | None:
    opts = [plan.options[i].get(df) for i, df in enumerate(dataflows)]
    if any(o is None for o in opts):
        return None
    macros = sum(o.macros for o in opts)
    if macros > plan.hw.cores:
        return None
    free = plan.hw.buffer_bits
    energies, backings = [], []
    for o in opts:
        if o.backing_bits == 0:
            where = "none"
        elif o.backing_bits <= free:
            where, free = "buffer", free - o.backing_bits
        else:
            where = "dram"
        backings.append(where)
        energies.append(layer_energy(o.counts, plan.costs, where))
    return Choice(tuple(dataflows), energies, backings, macros)


def _best(cands):
    cands = [c for c in cands if c is not None]
    return min(cands, key=lambda c: c.total) if cands else None


def plan_network(network: Network, hw: HardwareConfig, events,
                 dataflow: str | Sequence[str] = "hybrid",
                 costs: EnergyCosts | None = None, progress=None) -> NetworkPlan:
    """Place, count and price ``network`` on ``hw`` for the input ``events``.

    Parameters:
        dataflow: "hybrid", "ws", "os", or one of "ws"/"os"/"auto" per layer (a user
            choice per layer; "auto" layers are chosen like "hybrid").
        costs: per-operation energies (defaults: `EnergyCosts`).
        progress: optional callable ``progress(message)`` for long runs.

    Raises:
        ValueError: an unknown dataflow or a per-layer list of the wrong length.
        NoFeasibleMapping: (a ValueError) the selected strategy fits no placement (the
            message gives the macros each uniform dataflow needs or the layers that cannot
            use it, and each infeasible layer's reason).
    """
    costs = costs or EnergyCosts()
    names = [layer.name or f"layer{i}" for i, layer in enumerate(network.layers)]
    if isinstance(dataflow, str):
        if dataflow not in STRATEGIES:
            raise ValueError(f"`dataflow` must be one of {', '.join(STRATEGIES)}; "
                             f"not {dataflow!r}")
        per_layer = None
    else:
        per_layer = list(dataflow)
        if len(per_layer) != len(names) or any(d not in DATAFLOWS + ("auto",)
                                                for d in per_layer):
            raise ValueError(f"`dataflow` per layer must list {len(names)} values among ws, "
                             f"os, auto; not {per_layer}")
    ref = network.run(events, hw.macro.batch_max)
    inputs = [np.asarray(events, dtype=np.int64)] + list(ref.outputs[:-1])
    options, infeasible = [], []
    for i, layer in enumerate(network.layers):
        if progress:
            progress(f"layer {names[i]}: placing and counting ({i + 1}/{len(names)})")
        tiling = tile_layer(layer, hw.macro.cols)
        opts, bad = {}, {}
        for df in DATAFLOWS:
            try:
                pl = place_layer(tiling, hw, df)
            except Infeasible as e:
                bad[df] = str(e)
                continue
            counts = dry_run([pl], hw.macro, [inputs[i]])[0]
            opts[df] = LayerOption(df, pl, counts, backing_bits(pl))
        options.append(opts)
        infeasible.append(bad)
    plan = NetworkPlan(network, hw, costs, names, options, infeasible)
    plan.choices["ws"] = _evaluate(plan, ["ws"] * len(names))
    plan.choices["os"] = _evaluate(plan, ["os"] * len(names))
    allowed = [list(o) for o in options]
    plan.choices["hybrid"] = _search(plan, allowed, uniform=True)
    if per_layer is not None:
        allowed = [a if d == "auto" else [d] for a, d in zip(allowed, per_layer)]
        plan.choices["selected"] = _search(plan, allowed, uniform=False)
        plan.selected = "selected"
    else:
        plan.selected = dataflow
    if plan.choice is None:
        raise NoFeasibleMapping(_why_infeasible(plan, per_layer))
    return plan


def _search(plan: NetworkPlan, allowed, uniform: bool) -> Choice | None:
    """Cheapest feasible combination of ``allowed[i]`` dataflows per layer (exhaustive up to
    `MAX_EXHAUSTIVE`; beyond, the per-layer cheapest, compared with the uniform choices when
    ``uniform``)."""
    n_combos = int(np.prod([max(1, len(a)) for a in allowed]))
    if n_combos <= MAX_EXHAUSTIVE:
        return _best(_evaluate(plan, c) for c in itertools.product(*allowed))
    options, costs = plan.options, plan.costs
    if any(not a for a in allowed):
        return None
    cheapest = [min(a, key=lambda d, i=i: layer_energy(
        options[i][d].counts, costs, "buffer" if options[i][d].backing_bits else "none")
        .total) for i, a in enumerate(allowed)]
    return _best([_evaluate(plan, cheapest)] +
                 ([plan.choices["ws"], plan.choices["os"]] if uniform else []))


def _why_infeasible(plan: NetworkPlan, per_layer) -> str:
    """The message of `NoFeasibleMapping`: what each uniform dataflow needs, or which
    layers cannot use it at all, and each infeasible layer's reason."""
    hw, names, options = plan.hw, plan.names, plan.options
    what = (f"mapping for the per-layer `dataflow` {','.join(per_layer)}"
            if per_layer is not None else f"{plan.selected} mapping")
    parts = []
    for df in DATAFLOWS:
        bad = [n for n, o in zip(names, options) if df not in o]
        if bad:
            parts.append(f"uniform {df.upper()} is infeasible for {', '.join(bad)}")
        else:
            parts.append(f"uniform {df.upper()} needs "
                         f"{sum(o[df].macros for o in options)} macros")
    reasons = "; ".join(f"{n}: {', '.join(f'{k.upper()}: {v}' for k, v in bad.items())}"
                        for n, bad in zip(names, plan.infeasible) if bad)
    return (f"no feasible {what} on {hw.cores} cores of {hw.macro.rows} x "
            f"{hw.macro.cols} ({'; '.join(parts)})" + (f"; {reasons}" if reasons else ""))
