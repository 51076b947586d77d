"""The mapper's choice of operand shape per layer (issue 20, ``flexspim run --operand-cols``).

Shape is a mapping choice, not a semantic one: every ``N_C`` gives the same spikes. It trades
cycles against neurons per macro. At ``N_C`` a slot holds ``cols // N_C`` neurons in rows of
``ceil(b / N_C)``: an accumulate or fire pass takes about ``N_C`` times fewer row cycles,
but a layer wider than ``cols // N_C`` needs more slots, each a command of its own (fixed
issue, guard and clamp cycles), and the ``cols mod N_C`` trailing columns hold no neuron.

**Rule** (`choose_operand_cols`): for each layer, among ``N_C`` in 1, 2, 4, ..
``max_operand_cols`` at which the layer fits the system (`mapper.fit.system_fit` on that
layer alone) **with no more cores than at** ``N_C = 1``, take the one with the fewest engine
cycles per time step of one core's chunk, ``slots * (accumulate_cycles(no clamp) +
fire_cycles)`` (one batch and one fire pass per slot: a stand-in for a stream whose batches
and ticks alternate); ties go to the smaller ``N_C`` (more neurons per macro). So a shape is
never bought with cores, and the count ignores the clamp (the data decide it).
"""

from __future__ import annotations

from dataclasses import replace

from flexspim.config import CoreConfig
from flexspim.golden.cycles import accumulate_cycles, fire_cycles

from .fit import DoesNotFit, system_fit

__all__ = ["shape_cost", "choose_operand_cols", "with_operand_cols"]


def shape_cost(layer, core: CoreConfig, n_neurons: int) -> int:
    """Engine cycles of one batch and one fire pass over ``n_neurons`` of ``layer`` on a
    core, at the layer's ``operand_cols`` (see the module docstring)."""
    cfg, macro = layer.config, core.macro
    slots = -(-n_neurons // (macro.cols // cfg.operand_cols))
    acc = accumulate_cycles(macro, cfg.bv, cfg.saturate, clamp=False,
                            operand_cols=cfg.operand_cols)
    return slots * (acc + fire_cycles(cfg))


def _reshaped(layer, n_c: int):
    """``layer`` with its config at operand shape ``n_c`` (same weights)."""
    return replace(layer, config=replace(layer.config, operand_cols=n_c))


def with_operand_cols(network, shapes: list[int]):
    """``network`` with layer ``i`` at operand shape ``shapes[i]``."""
    from flexspim.golden.network import Network

    return Network([_reshaped(layer, n) for layer, n in zip(network.layers, shapes)])


def choose_operand_cols(network, core: CoreConfig) -> list[int]:
    """Per layer, the shape the rule of the module docstring picks (1 on a vertical macro
    or when no other shape fits without more cores)."""
    from flexspim.golden.network import Network

    M = core.macro.max_operand_cols
    out = []
    for layer in network.layers:
        best, best_cost, base_cores = 1, None, None
        for t in range(M.bit_length()):
            n_c = 1 << t
            cand = _reshaped(layer, n_c)
            try:
                fit = system_fit(Network([cand]), core).layers[0]
            except DoesNotFit:
                continue
            if base_cores is None:
                base_cores = fit.cores
            if fit.cores > base_cores:
                continue
            cost = shape_cost(cand, core, max(n for _, n in fit.chunks))
            if best_cost is None or cost < best_cost:
                best, best_cost = n_c, cost
        out.append(best)
    return out
