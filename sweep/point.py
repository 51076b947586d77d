"""One point of the sweep: its validation and its cycle and energy figures.

A `Point` is a geometry (rows, cols, P) plus the resolutions (bw, bv) and the dataflow the
example network is mapped with. Points are *not* validated on construction, so a sweep can
hold invalid combinations: `Point.check` raises the `flexspim.config` `ValueError` and the
runner reports the point as skipped with that text.

Figures of a valid point (`evaluate_point`; area comes from `sweep.area`, per geometry):

* ``acc_cycles``, ``fire_cycles``: `golden.cycles.accumulate_cycles` / `fire_cycles` for the
  point's bv, saturate, leak mode and reset.
* ``cycles_per_event``: sustained cost of one input event on a neuron core (`golden.core`
  pipeline) when the layer fits one neuron slot (``n_out <= cols``) and events arrive, at
  full speed, in full batches of ``P`` distinct sources: the macro runs one accumulate per
  batch back to back (``acc_cycles``, worst case: the clamp pass runs) unless collecting the
  next batch (``P`` pops + 1 hand-over cycle) or setting up its rows
  (`golden.core_timeline.ROW_SETUP_CYCLES`) takes longer, so
  ``max(acc_cycles, P + 1, ROW_SETUP_CYCLES) / P``, `golden.core_timeline.batch_period`.
* ``acc_pj_per_sop``: energy model (`energy.counts.count_accumulate`,
  `energy.model.layer_energy`) of one full accumulate (``P`` weights, every column) divided
  by its ``P * cols`` SOPs; ``acc_pj_per_1b_sop`` divides further by ``bw * bv``.
* ``net_*``: the example network mapped on macros of this geometry (`sweep.network`).
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass
from typing import Any

from flexspim.config import AccumulateOp, LayerConfig, MacroConfig, _Config
from flexspim.energy.costs import EnergyCosts

__all__ = ["Point", "Options", "weight_rows", "evaluate_point", "figures"]


@dataclass(frozen=True)
class Point(_Config):
    """One sweep point (not validated on construction; see `check`).

    Attributes:
        rows, cols, batch: geometry (`MacroConfig` rows, cols, batch_max = P).
        bw, bv: weight and potential resolution.
        dataflow: "hybrid", "ws" or "os", for mapping the example network.
        saturate, leak_mode, reset: the layer settings the cycle counts use.
    """

    rows: int
    cols: int
    batch: int
    bw: int
    bv: int
    dataflow: str = "hybrid"
    saturate: bool = True
    leak_mode: str = "none"
    reset: str = "hard"

    def macro(self) -> MacroConfig:
        return MacroConfig(rows=self.rows, cols=self.cols, batch_max=self.batch)

    def layer(self) -> LayerConfig:
        # the leak amount does not change any cycle count; 0 is valid in every mode
        return LayerConfig(bw=self.bw, bv=self.bv, saturate=self.saturate,
                           leak_mode=self.leak_mode, leak=0, reset=self.reset)

    def check(self) -> tuple[MacroConfig, LayerConfig]:
        """The point's macro and layer configs.

        Raises:
            ValueError: the config module's message for the first rule the point breaks
                (a geometry out of range, ``bw > bv``, ``bv`` beyond the rows), or no room for
                a potential and a full batch of ``P`` separate weights (``bv + P * bw`` rows):
                such a point could not run the batches its figures assume.
        """
        from flexspim.mapper.plan import STRATEGIES

        if self.dataflow not in STRATEGIES:
            raise ValueError(f"`dataflow` must be one of {', '.join(STRATEGIES)}; "
                             f"not {self.dataflow!r}")
        macro, layer = self.macro(), self.layer()
        layer.check_fits(macro)
        need = self.bv + self.batch * self.bw
        if need > self.rows:
            raise ValueError(f"a full batch needs bv + P*bw = {self.bv} + {self.batch}*"
                             f"{self.bw} = {need} rows (the potential and P separate "
                             f"weights); `rows` is {self.rows}")
        op = AccumulateOp(0, self.bv, weight_rows(self), self.bw, self.saturate)
        op.check_fits(macro)
        return macro, layer

    def label(self) -> str:
        return (f"{self.rows}x{self.cols} P={self.batch} bw={self.bw} bv={self.bv} "
                f"{self.dataflow}")


def weight_rows(p: Point) -> tuple[int, ...]:
    """Base rows of the weights of one full accumulate: V in rows ``0..bv-1``, then ``P``
    weights side by side (``bv, bv + bw, ...``), as a layer's weight table holds them."""
    return tuple(p.bv + i * p.bw for i in range(p.batch))


@dataclass(frozen=True)
class Options(_Config):
    """Settings shared by every point; part of each point's cache key.

    Attributes:
        costs: energy per operation (`energy.costs.EnergyCosts`).
        example: the shipped network priced per inference (`frontend.examples`).
        buffer_bits: on-chip buffer of the mapped chip (as in `flexspim map`).
        network: False skips the example network (its figures are left empty).
        rtl: also measure the cycles in RTL simulation (`sweep.rtl`).
    """

    costs: EnergyCosts = EnergyCosts()
    example: str = "dvs-gesture"
    buffer_bits: int = 8 * 1024 * 1024
    network: bool = True
    rtl: bool = False

    def __post_init__(self):
        if isinstance(self.costs, dict):
            object.__setattr__(self, "costs", EnergyCosts.from_dict(self.costs))
        b = self.buffer_bits
        if isinstance(b, bool) or not isinstance(b, numbers.Integral) or not 0 <= b <= 1 << 48:
            raise ValueError(f"`buffer_bits` must be an integer in [0, {1 << 48}], not {b!r}")


def figures(p: Point, costs: EnergyCosts) -> dict[str, Any]:
    """Cycle and macro-level energy figures of a valid point (see the module docstring)."""
    from flexspim.energy.counts import Counts, count_accumulate
    from flexspim.energy.model import layer_energy
    from flexspim.golden.core_timeline import batch_period
    from flexspim.golden.cycles import accumulate_cycles, fire_cycles

    macro, layer = p.check()
    acc = accumulate_cycles(macro, p.bv, p.saturate)
    sops = p.batch * p.cols
    c = Counts()
    count_accumulate(c, active=p.cols, n=p.batch, bv=p.bv, guard=macro.guard_cycles,
                     saturate=p.saturate, cycles=acc, sops=sops)
    pj = layer_energy(c, costs, "none").total
    return {
        "acc_cycles": acc,
        "fire_cycles": fire_cycles(layer),
        "cycles_per_event": batch_period(acc, p.batch) / p.batch,
        "sops_per_cycle": sops / acc,
        "acc_pj_per_sop": pj / sops,
        "acc_pj_per_1b_sop": pj / (sops * p.bw * p.bv),
    }


def evaluate_point(point: dict, options: dict) -> dict[str, Any]:
    """Every figure of one point except area (a module-level function of plain dicts, so
    local and Dask worker processes can import and call it).

    Returns a row: the point's fields, ``status`` ("ok" or "invalid"), ``reason`` (the
    `ValueError` text when invalid), the figures, and ``eval_s`` (wall-clock seconds).
    Errors other than `ValueError` propagate: the runner reports them as "error".
    """
    t0 = time.perf_counter()
    p, opts = Point.from_dict(point), Options.from_dict(options)
    row: dict[str, Any] = {**p.to_dict(), "status": "ok", "reason": ""}
    try:
        p.check()
    except ValueError as e:
        row.update(status="invalid", reason=str(e))
        return {**row, "eval_s": time.perf_counter() - t0}
    row.update(figures(p, opts.costs))
    if opts.network:
        from .network import network_energy

        row.update(network_energy(p, opts.costs, opts.example, opts.buffer_bits))
    if opts.rtl:
        from .rtl import compare, measure_cycles

        m = measure_cycles(p)
        row.update(rtl_acc_cycles=m["acc"][0], rtl_fire_cycles=m["fire"][0])
        why = compare(row, m)
        if why:
            row.update(status="rtl-mismatch", reason=why)
    return {**row, "eval_s": time.perf_counter() - t0}
