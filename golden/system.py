"""System-level golden model: cores behind the event router, programmed through registers.

It interprets the same register writes and row writes as the RTL top level
(`flexspim.hdl.system`), so one driver (`flexspim.testbench.system_driver`) programs either.

Router semantics (the RTL's):

* Source ports: 0 is the external input, ``1 + k`` is core ``k``'s output. ``ROUTE_p`` says
  which targets (cores, and bit ``n_cores`` for the external output) get port ``p``'s
  events; ``OFFSET_p_t`` is added to their index on the way to target ``t``. An event is
  delivered to every target of its port (multicast), in order. An event of a port routed
  nowhere is dropped and counted in ``DROPPED``; so is a delivery whose index overflows
  ``index_bits`` after the offset (for that target only).
* Merging is **serialized per time step in port order**: a target with several source ports
  takes, for each time step, all of the lowest port's events up to its tick, then the next
  port's, and so on; when every source port has sent its tick, the target gets one tick.
  (Round-robin interleaving would make batch grouping, and so saturated results, depend on
  timing; this order is deterministic and deadlock-free, as every target waits on ports in
  the same global order.) Events of a later port wait, back-pressuring that port.
* Routes must be **feed-forward in core order**: core ``k`` may feed only cores ``j > k``
  (and the external output). Merging in port order is deadlock-free only if port order
  agrees with the data flow: a core emits its step's spikes only after its tick, which
  then has passed every lower port. The model rejects other routes (``ValueError``); the
  hardware would stall on them (a cocotb test shows the stall with the order reversed).

External input in "no-wait" mode (``STATUS`` bit 0) drops what the full FIFO cannot take and
counts it in ``OVERFLOW``; which events are dropped depends on timing, so the model takes
the events that entered as its input (the test bench knows them).
"""

from __future__ import annotations

import numpy as np

from flexspim.config import SystemConfig
from flexspim.regmap import (
    core_registers,
    decode_layer,
    register_accepts,
    reset_values,
    router_registers,
)

from .batching import TICK
from .core import CoreModel
from .macro import MacroModel

__all__ = ["SystemModel", "merge_streams"]


def _steps(stream: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Complete steps (without their ticks) and the trailing partial step."""
    ev = np.asarray(stream, dtype=np.int64)
    ticks = np.flatnonzero(ev == TICK)
    steps, start = [], 0
    for t in ticks.tolist():
        steps.append(ev[start:t])
        start = t + 1
    return steps, ev[start:]


def merge_streams(streams: list[np.ndarray]) -> np.ndarray:
    """What a target receives from its source ports, in port order (see module docstring)."""
    if not streams:
        return np.zeros(0, dtype=np.int64)
    parts = [_steps(s) for s in streams]
    out: list[np.ndarray] = []
    tick = np.array([TICK], dtype=np.int64)
    step = 0
    while True:
        for steps, tail in parts:
            if step < len(steps):
                out.append(steps[step])
            else:                       # this port has not finished the step: stop here
                out.append(tail)
                return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
        out.append(tick)
        step += 1


class SystemModel:
    """Register-level model of the whole accelerator."""

    def __init__(self, config: SystemConfig):
        if not isinstance(config, SystemConfig):
            raise ValueError(f"`config` must be a SystemConfig, not {config!r}")
        self.config = config
        self.core_regs = core_registers(config.core)
        self.router_map = router_registers(config.n_cores)
        self.macros = [MacroModel(config.core.macro) for _ in range(config.n_cores)]
        self.regs = [reset_values(config.core) for _ in range(config.n_cores)]
        self.router = {n: 0 for n in self.router_map}
        self.router_error = False
        self.sticky = [False] * config.n_cores          # each core's sticky error bit
        self._models: list[CoreModel | None] = [None] * config.n_cores
        self._open: list[list[int]] = [[] for _ in range(config.n_cores)]

    # -- bus ------------------------------------------------------------------------------
    def _table(self, sel: int):
        if not 0 <= sel <= self.config.n_cores:
            raise ValueError(f"`sel` must be in [0, {self.config.n_cores}], not {sel}")
        if sel == self.config.n_cores:
            return self.router_map, self.router
        return self.core_regs, self.regs[sel]

    def write_reg(self, sel: int, name: str, value: int) -> bool:
        """Write a register by name; returns False (and counts an error, as the RTL does)
        when the value does not fit or the register is read-only."""
        table, regs = self._table(sel)
        addr, width, access = table[name]
        if name == "STATUS":
            if sel == self.config.n_cores:
                regs["STATUS"] = value & 1
                if value >> 1 & 1:
                    for n in ("OVERFLOW", "EVENTS_OUT", "DROPPED"):
                        regs[n] = 0
                    self.router_error = False
            else:
                if value >> 1 & 1:
                    self.sticky[sel] = False
                if value >> 2 & 1:
                    for n, (_, _, acc) in table.items():
                        if acc == "ro":
                            regs[n] = 0
            return True
        if sel < self.config.n_cores:
            ok = register_accepts(self.config.core, name, value)
        else:
            ok = access == "rw" and 0 <= value and value >> width == 0
        if not ok:
            if sel < self.config.n_cores:
                regs["ERRORS"] += 1
                self.sticky[sel] = True
            else:
                self.router_error = True
            return False
        regs[name] = value & ((1 << width) - 1)
        if sel < self.config.n_cores and self._models[sel] is not None:
            # like the RTL, an open batch survives and runs with the new settings
            self._open[sel] = self._models[sel].open
            self._models[sel] = None
        return True

    def read_reg(self, sel: int, name: str) -> int:
        if name == "STATUS":        # between calls the model is always idle
            if sel == self.config.n_cores:
                return self.router["STATUS"] | int(self.router_error) << 2
            return 1 | int(self.sticky[sel]) << 1
        return self._table(sel)[1][name]

    def write_row(self, core: int, row: int, bits, mask=None) -> None:
        self.macros[core].write_row(row, np.asarray(bits), mask)

    def read_row(self, core: int, row: int) -> np.ndarray:
        return self.macros[core].read_row(row)

    # -- running --------------------------------------------------------------------------
    def core_model(self, k: int) -> CoreModel:
        """Core ``k``'s layer as its registers describe it (kept while they do not change,
        so a partial batch stays pending across `run` calls)."""
        if self._models[k] is None:
            layer, layout = decode_layer(self.config.core, self.regs[k])
            self._models[k] = CoreModel(self.config.core, layer, layout, self.macros[k])
            self._models[k].open, self._open[k] = self._open[k], []
        return self._models[k]

    def routes(self) -> list[list[int]]:
        """For each target (cores, then the external output), its source ports in order."""
        n = self.config.n_cores
        return [[p for p in range(n + 1) if self.router[f"ROUTE_{p}"] >> t & 1]
                for t in range(n + 1)]

    def order(self) -> list[int]:
        """Cores in data-flow order, after checking that the routes are feed-forward."""
        n = self.config.n_cores
        for k in range(n):
            back = [j for j in range(k + 1) if self.router[f"ROUTE_{k + 1}"] >> j & 1]
            if back:
                raise ValueError(f"`ROUTE_{k + 1}` sends core {k}'s events to core {back[0]}; "
                                 f"core k may only feed cores j > k (feed-forward in core "
                                 f"order) and the external output")
        return list(range(n))

    def _deliver(self, stream: np.ndarray, port: int, target: int) -> np.ndarray:
        """Apply the offset; deliveries whose index overflows are dropped and counted."""
        limit = 1 << self.config.core.index_bits
        ev = np.asarray(stream, dtype=np.int64).copy()
        data = ev != TICK
        ev[data] += self.router[f"OFFSET_{port}_{target}"]
        bad = data & (ev >= limit)
        self.router["DROPPED"] += int(bad.sum())
        return ev[~bad]

    def run(self, events) -> np.ndarray:
        """Feed the external input; returns the external output stream."""
        n = self.config.n_cores
        srcs = self.routes()
        ports: dict[int, np.ndarray] = {0: np.asarray(events, dtype=np.int64)}

        for k in self.order():
            if not srcs[k]:             # a core nobody feeds receives nothing
                ports[k + 1] = np.zeros(0, dtype=np.int64)
                continue
            model = self.core_model(k)
            regs = self.regs[k]
            inp = merge_streams([self._deliver(ports[p], p, k) for p in srcs[k]])
            run = model.run(inp)
            ports[k + 1] = run.events
            regs["EVENTS_IN"] += len(inp)
            regs["SPIKES_OUT"] += int((run.events != TICK).sum())
            regs["TICKS"] += int((run.events == TICK).sum())
            regs["BATCHES"] += run.batches
            regs["ERRORS"] += run.errors
            regs["CYCLES"] += run.cycles
            self.sticky[k] |= run.errors > 0
        for p in range(n + 1):
            if self.router[f"ROUTE_{p}"] == 0:
                self.router["DROPPED"] += len(ports.get(p, ()))
        out = merge_streams([self._deliver(ports[p], p, n) for p in srcs[n]])
        self.router["EVENTS_OUT"] += len(out)
        return out
