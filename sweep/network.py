"""Energy per inference of the shipped example network on macros of a point's geometry.

The example (`frontend.examples`, "dvs-gesture": five layers, one synthetic gesture of 40
steps = one inference) is mapped with `mapper.plan.plan_network` on a chip of
`mapper.hardware.MAX_CORES` macros of the point's rows x cols x P (as many as the mapping
needs: the sweep asks what a geometry costs, not whether a given chip is big enough; the
macros used are reported) and the point's dataflow.

**Resolution.** Every layer is re-declared at the point's ``bw``/``bv`` (leak and threshold
clipped into the new range), while the *activity* -- each layer's input events -- is the
reference run of the example at its own resolutions with the point's P. So points that differ
only in resolution see identical event streams and the figures isolate the hardware cost of
the resolution (rows per table and slot, bits read per accumulate, bits moved per swap or
stream). Weights are not re-quantized: the mapper's counts depend only on the events, the
layer shapes and the resolutions, never on weight values (the dry run executes nothing).

Figures: ``net_pj_per_inference`` (the selected strategy's total), ``net_pj_per_sop``,
``net_pj_per_1b_sop`` (normalized by ``bw * bv``, see `energy.model`), ``net_macros``,
``net_dataflows`` (one letter per layer, W or O), ``net_cycles`` (all operations added
serially, an upper bound), ``net_reason`` (why the mapping is infeasible, else empty).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from flexspim.config import LayerConfig, signed_range
from flexspim.energy.costs import EnergyCosts
from flexspim.golden.network import Network, NetworkRun

__all__ = ["at_resolution", "network_energy"]


@functools.lru_cache(maxsize=8)
def _reference(example: str, batch: int):
    """The example and its level-1 run with batch size ``batch`` (cached per process: the
    run takes ~1.5 s and every point with the same P shares it)."""
    from flexspim.frontend.examples import example as load

    network, events = load(example)
    return network, events, network.run(events, batch)


@dataclasses.dataclass(frozen=True, eq=False)
class _Replay(Network):
    """A network whose level-1 run is a given one: `plan_network` takes each layer's input
    events from `run`, and these must be the reference network's (see module docstring)."""

    reference: NetworkRun | None = None

    def run(self, events, batch_max: int = 1) -> NetworkRun:
        return self.reference


def _config(c: LayerConfig, bw: int, bv: int) -> LayerConfig:
    leak = {"none": 0, "shift": min(c.leak, bv - 1),
            "sub": min(c.leak, signed_range(bv)[1])}[c.leak_mode]
    lo, hi = signed_range(bv)
    return dataclasses.replace(c, bw=bw, bv=bv, leak=leak, threshold=min(max(c.threshold, lo), hi))


def at_resolution(network: Network, bw: int, bv: int) -> list:
    """The layers of ``network`` re-declared at ``bw``/``bv`` (zero weights of the same
    shapes, thresholds dropped to the register; only counts are computed from them)."""
    layers = []
    for layer in network.layers:
        cfg = dataclasses.replace(_config(layer.config, bw, bv), threshold_source="register")
        layers.append(dataclasses.replace(layer, config=cfg, thresholds=None,
                                          weights=np.zeros_like(layer.weights)))
    return layers


def network_energy(point, costs: EnergyCosts, example: str, buffer_bits: int) -> dict:
    """``net_*`` figures of ``point`` (a valid `sweep.point.Point`); an infeasible mapping
    gives empty figures and the mapper's reason in ``net_reason``."""
    from flexspim.mapper.hardware import MAX_CORES, HardwareConfig
    from flexspim.mapper.plan import plan_network

    network, events, ref = _reference(example, point.batch)
    replay = _Replay(at_resolution(network, point.bw, point.bv), reference=ref)
    hw = HardwareConfig(point.macro(), cores=MAX_CORES, buffer_bits=buffer_bits)
    empty = {"net_pj_per_inference": None, "net_pj_per_sop": None, "net_pj_per_1b_sop": None,
             "net_macros": None, "net_dataflows": "", "net_cycles": None}
    try:
        plan = plan_network(replay, hw, events, point.dataflow, costs)
    except ValueError as e:
        return {**empty, "net_reason": str(e)}
    sops = plan.sops()
    cycles = sum(plan.option(i).counts.cycles for i in range(len(plan.names)))
    return {
        "net_pj_per_inference": plan.choice.total,
        "net_pj_per_sop": plan.choice.total / sops if sops else None,
        "net_pj_per_1b_sop": plan.normalized_pj_per_sop() if sops else None,
        "net_macros": plan.choice.macros,
        "net_dataflows": "".join("W" if d == "ws" else "O" for d in plan.choice.dataflows),
        "net_cycles": cycles,
        "net_reason": "",
    }
