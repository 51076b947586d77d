"""One point of the sweep: its validation and its cycle and energy figures.

A `Point` is a geometry (rows, cols, P) plus the resolutions (bw, bv), the operand shape
``operand_cols`` and the dataflow the example network is mapped with. ``operand_cols = N``
(issue 20) is both the generated macro's ``max_operand_cols`` (its carry chain, hence its area
and Fmax) and the layer's ``N_C``: every operand spans N adjacent columns and ``ceil(bits /
N)`` rows, one neuron per group of N columns. Points are *not* validated on construction, so a
sweep can hold invalid combinations: `Point.check` raises the `flexspim.config` `ValueError`
and the runner reports the point as skipped with that text.

Figures of a valid point (`evaluate_point`; area comes from `sweep.area`, per geometry):

* ``acc_cycles``, ``fire_cycles``: `golden.cycles.accumulate_cycles` / `fire_cycles` for the
  point's bv, saturate, leak mode, reset and ``operand_cols``.
* ``cycles_per_event``: sustained cost of one input event on a neuron core (`golden.core`
  pipeline) when the layer fits one neuron slot (``n_out <= cols``) and events arrive, at
  full speed, in full batches of ``P`` distinct sources: the macro runs one accumulate per
  batch back to back (``acc_cycles``, worst case: the clamp pass runs) unless collecting the
  next batch (``P`` pops + 1 hand-over cycle) or setting up its rows
  (`golden.core_timeline.ROW_SETUP_CYCLES`) takes longer, so
  ``max(acc_cycles, P + 1, ROW_SETUP_CYCLES) / P``, `golden.core_timeline.batch_period`.
* ``sops_per_cycle``: the ``P * cols / operand_cols`` SOPs of one full accumulate (``P``
  weights into every neuron of the slot) per ``acc_cycles``.
* ``acc_pj_per_sop``: energy model (`energy.counts.count_accumulate`,
  `energy.model.layer_energy`) of one full accumulate (``P`` weights, every column) divided
  by its SOPs; ``acc_pj_per_1b_sop`` divides further by ``bw * bv``. With a shape the counts
  are the physical ones: every column reads, adds and writes one bit per row cycle, so the
  model gets rows (``ceil(bv / N_C)`` add cycles, `golden.cycles.shaped_guard_cycles` guard
  cycles) where it gets bits at ``N_C = 1``; the carry chain between the group's columns is
  priced as the full adders it is, no extra wire energy.
* ``net_*``: the example network mapped on macros of this geometry (`sweep.network`); only
  at ``operand_cols = 1`` (the mapper places vertical operands only; elsewhere ``net_reason``
  says so).
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass
from typing import Any

from flexspim.config import AccumulateOp, LayerConfig, MacroConfig, _Config, operand_rows
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
        operand_cols: the shape ``N_C`` (a power of two): the macro is generated with
            ``max_operand_cols = operand_cols`` and the layer runs at it (module docstring).
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
    operand_cols: int = 1

    def macro(self) -> MacroConfig:
        return MacroConfig(rows=self.rows, cols=self.cols, batch_max=self.batch,
                           max_operand_cols=self.operand_cols)

    def layer(self) -> LayerConfig:
        # the leak amount changes no cycle count at leak 0 (no prime cycle); 0 is valid in
        # every mode
        return LayerConfig(bw=self.bw, bv=self.bv, saturate=self.saturate,
                           leak_mode=self.leak_mode, leak=0, reset=self.reset,
                           operand_cols=self.operand_cols)

    def check(self) -> tuple[MacroConfig, LayerConfig]:
        """The point's macro and layer configs.

        Raises:
            ValueError: the config module's message for the first rule the point breaks
                (a geometry out of range, ``bw > bv``, ``bv`` beyond the rows, a shape that
                is not a power of two up to ``min(cols, 16)``), or no room for a potential
                and a full batch of ``P`` separate weights (``bv + P * bw`` rows; with a shape
                ``ceil(bv / N_C) + P * ceil(bw / N_C)``): such a point could not run the
                batches its figures assume.
        """
        from flexspim.mapper.plan import STRATEGIES

        if self.dataflow not in STRATEGIES:
            raise ValueError(f"`dataflow` must be one of {', '.join(STRATEGIES)}; "
                             f"not {self.dataflow!r}")
        macro, layer = self.macro(), self.layer()
        layer.check_fits(macro)
        n_c = self.operand_cols
        vr, wr = operand_rows(self.bv, n_c), operand_rows(self.bw, n_c)
        need = vr + self.batch * wr
        if need > self.rows:
            what = (f"bv + P*bw = {self.bv} + {self.batch}*{self.bw}" if n_c == 1 else
                    f"at operand_cols={n_c} ceil(bv/N_C) + P*ceil(bw/N_C) = {vr} + "
                    f"{self.batch}*{wr}")
            raise ValueError(f"a full batch needs {what} = {need} rows (the potential and P "
                             f"separate weights); `rows` is {self.rows}")
        op = AccumulateOp(0, self.bv, weight_rows(self), self.bw, self.saturate,
                          operand_cols=n_c)
        op.check_fits(macro)
        return macro, layer

    def label(self) -> str:
        shape = f" N_C={self.operand_cols}" if self.operand_cols != 1 else ""
        return (f"{self.rows}x{self.cols} P={self.batch} bw={self.bw} bv={self.bv}{shape} "
                f"{self.dataflow}")


def weight_rows(p: Point) -> tuple[int, ...]:
    """Base rows of the weights of one full accumulate: V in rows ``0..R-1``
    (``R = ceil(bv / N_C)``), then ``P`` weights side by side (``R, R + ceil(bw / N_C), ...``),
    as a layer's weight table holds them."""
    vr, wr = operand_rows(p.bv, p.operand_cols), operand_rows(p.bw, p.operand_cols)
    return tuple(vr + i * wr for i in range(p.batch))


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


#: The example network's numeric figures (`sweep.network.network_energy`).
_NET_FIGURES = ("net_pj_per_inference", "net_pj_per_sop", "net_pj_per_1b_sop", "net_macros",
                "net_cycles")


def figures(p: Point, costs: EnergyCosts) -> dict[str, Any]:
    """Cycle and macro-level energy figures of a valid point (see the module docstring)."""
    from flexspim.energy.counts import Counts, count_accumulate
    from flexspim.energy.model import layer_energy
    from flexspim.golden.core_timeline import batch_period
    from flexspim.golden.cycles import accumulate_cycles, fire_cycles, shaped_guard_cycles

    macro, layer = p.check()
    n_c = p.operand_cols
    acc = accumulate_cycles(macro, p.bv, p.saturate, operand_cols=n_c)
    sops = p.batch * (p.cols // n_c)
    c = Counts()
    # rows, not bits, at a shape: each column handles one bit per row cycle (docstring)
    count_accumulate(c, active=p.cols, n=p.batch, bv=layer.v_rows,
                     guard=shaped_guard_cycles(macro, p.bv, n_c), saturate=p.saturate,
                     cycles=acc, sops=sops)
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
    if opts.network and p.operand_cols != 1:
        row.update({k: None for k in _NET_FIGURES}, net_dataflows="",
                   net_reason=f"not mapped: the mapper places vertical operands only "
                              f"(operand_cols = 1), not operand_cols = {p.operand_cols}")
    elif opts.network:
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
