"""Python driver for a whole accelerator, on the RTL (cocotb) or on the golden system model.

`SystemDriver` loads a network of fully connected layers (one layer per core, a chain:
external input -> core 0 -> core 1 -> ... -> external output), through register writes and
row writes only, then streams events. The same driver code runs on two back ends:

* `GoldenBackend`: the register-level `flexspim.golden.system.SystemModel` (no simulator);
* `CocotbBackend`: the generated Verilog under a simulator, from a cocotb test.

With ``monitor=True`` every layer's output is also routed to the external output (multicast),
with an index offset per layer, so the run returns every layer's spikes: the output stream
then carries, per time step, layer 0's spikes, layer 1's, ..., then one tick.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flexspim.config import FCLayout, Operand, SystemConfig
from flexspim.golden.batching import TICK
from flexspim.golden.core import CoreModel
from flexspim.golden.layers import FCLayer
from flexspim.golden.macro import from_bits, shaped_cells
from flexspim.golden.network import Network
from flexspim.golden.system import SystemModel
from flexspim.mapper.fit import system_fit
from flexspim.regmap import core_registers, layer_registers, router_registers

from .streams import receive_events, send_events, start_clock

__all__ = ["GoldenBackend", "CocotbBackend", "BulkCocotbBackend", "SystemDriver", "Mapping",
           "SystemRun", "split_monitor", "split_plan"]


class GoldenBackend:
    """Runs the driver against the golden system model."""

    def __init__(self, config: SystemConfig):
        self.config = config
        self.model = SystemModel(config)

    async def write_reg(self, sel: int, name: str, value: int) -> None:
        if not self.model.write_reg(sel, name, value):
            raise ValueError(f"register {name} of {sel} refused the value {value}")

    async def read_reg(self, sel: int, name: str) -> int:
        return self.model.read_reg(sel, name)

    async def write_row(self, core: int, row: int, bits) -> None:
        self.model.write_row(core, row, bits)

    async def read_row(self, core: int, row: int) -> np.ndarray:
        return self.model.read_row(core, row)

    async def stream(self, events, expect_ticks: int) -> np.ndarray:
        return self.model.run(events)


class CocotbBackend:
    """Runs the driver against the ``flexspim_system`` DUT from a cocotb test.

    ``gap``: probability of an idle cycle before each input event; ``stall``: probability
    that the output is not ready in a cycle (back-pressure).
    """

    PERIOD_NS = 10

    def __init__(self, dut, config: SystemConfig, rng=None, gap: float = 0.0,
                 stall: float = 0.0, progress=None):
        self.dut, self.config = dut, config
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.gap, self.stall, self.progress = gap, stall, progress
        self.core_map = core_registers(config.core)
        self.router_map = router_registers(config.n_cores)
        self.ib = config.core.index_bits

    async def start(self) -> None:
        from cocotb.triggers import RisingEdge

        d = self.dut
        start_clock(d, self.PERIOD_NS)
        for name in ("ev_in__valid", "ev_in__payload", "ev_out__ready", "cfg__sel",
                     "cfg__addr", "cfg__wdata", "cfg__we", "row__core", "row__addr",
                     "row__wdata", "row__wmask", "row__we", "row__re"):
            getattr(d, name).value = 0
        d.rst.value = 1
        await RisingEdge(d.clk)
        await RisingEdge(d.clk)
        d.rst.value = 0

    def _addr(self, sel: int, name: str) -> int:
        table = self.router_map if sel == self.config.n_cores else self.core_map
        return table[name][0]

    async def _wait(self, signal) -> None:
        from cocotb.triggers import FallingEdge, RisingEdge

        while True:
            await FallingEdge(self.dut.clk)
            if int(signal.value):
                return
            await RisingEdge(self.dut.clk)

    async def write_reg(self, sel: int, name: str, value: int) -> None:
        from cocotb.triggers import RisingEdge

        d = self.dut
        d.cfg__sel.value, d.cfg__addr.value = sel, self._addr(sel, name)
        d.cfg__wdata.value = value & 0xFFFFFFFF
        await self._wait(d.cfg__ready)
        d.cfg__we.value = 1
        await RisingEdge(d.clk)
        d.cfg__we.value = 0

    async def read_reg(self, sel: int, name: str) -> int:
        from cocotb.triggers import FallingEdge, RisingEdge

        d = self.dut
        d.cfg__sel.value, d.cfg__addr.value = sel, self._addr(sel, name)
        await FallingEdge(d.clk)
        value = int(d.cfg__rdata.value)
        await RisingEdge(d.clk)
        return value

    async def write_row(self, core: int, row: int, bits) -> None:
        from cocotb.triggers import RisingEdge

        from .macro_driver import to_int

        d = self.dut
        d.row__core.value, d.row__addr.value = core, row
        d.row__wdata.value = to_int(bits)
        d.row__wmask.value = (1 << len(bits)) - 1
        await self._wait(d.row__ready)
        d.row__we.value = 1
        await RisingEdge(d.clk)
        d.row__we.value = 0

    async def read_row(self, core: int, row: int) -> np.ndarray:
        from cocotb.triggers import FallingEdge, RisingEdge

        from .macro_driver import to_bits_vec

        d = self.dut
        d.row__core.value, d.row__addr.value = core, row
        await self._wait(d.row__ready)
        d.row__re.value = 1
        await RisingEdge(d.clk)                     # taken here (ready was high)
        d.row__re.value = 0
        await FallingEdge(d.clk)
        assert int(d.row__rvalid.value), "row read taken but rvalid is low"
        value = int(d.row__rdata.value)
        await RisingEdge(d.clk)
        return to_bits_vec(value, self.config.core.macro.cols)

    async def stream(self, events, expect_ticks: int) -> np.ndarray:
        """Send ``events`` (random idle gaps) while collecting the output (random stalls)
        until ``expect_ticks`` ticks came out."""
        import cocotb

        out: list[int] = []
        task = cocotb.start_soon(receive_events(self.dut, expect_ticks, self.ib, self.rng,
                                                self.stall, out, self.progress))
        await send_events(self.dut, events, self.ib, self.rng, self.gap)
        await task
        return np.asarray(out, dtype=np.int64)


class BulkCocotbBackend(CocotbBackend):
    """`CocotbBackend` on a `testbench.stream_harness.StreamHarness` top: event streams go
    through the harness's memories in bulk (`testbench.bulk_streams`), with the same idle
    gaps and back-pressure drawn in HDL; registers and rows as in `CocotbBackend`."""

    def __init__(self, dut, config: SystemConfig, depth: int, rng=None, gap: float = 0.0,
                 stall: float = 0.0, progress=None):
        from .bulk_streams import BulkStreams

        super().__init__(dut, config, rng, gap, stall, progress)
        self.bulk = BulkStreams(dut, self.ib, depth)

    async def start(self) -> None:
        self.bulk.idle()
        await super().start()

    async def stream(self, events, expect_ticks: int) -> np.ndarray:
        return await self.bulk.run(events, expect_ticks, self.rng, self.gap, self.stall,
                                   self.progress)


@dataclass(frozen=True)
class Mapping:
    """Where each layer went: ``layouts[i]`` on core ``i``; ``offsets[i]`` is the index offset
    of layer ``i``'s spikes on the external output (when monitored)."""

    layouts: tuple[FCLayout, ...]
    offsets: tuple[int, ...]
    monitor: bool
    #: with `SystemDriver.load_split`: per layer, the cores holding it (``layouts[i]`` then
    #: gives only layer ``i``'s sizes)
    cores: tuple = ()


@dataclass
class SystemRun:
    output: np.ndarray               # the external output stream as received
    layers: list[np.ndarray]         # per layer: its output event stream (with ticks)
    potentials: list[np.ndarray]     # per layer: final membrane potentials


def split_monitor(stream: np.ndarray, mapping: Mapping) -> list[np.ndarray]:
    """Per-layer event streams from a monitored output stream (offsets tell layers apart)."""
    ev = np.asarray(stream, dtype=np.int64)
    n = len(mapping.layouts)
    if not mapping.monitor:
        return [np.zeros(0, dtype=np.int64)] * (n - 1) + [ev]
    bounds = list(mapping.offsets) + [mapping.offsets[-1] + mapping.layouts[-1].n_out]
    out = []
    for i in range(n):
        keep = (ev == TICK) | ((ev >= bounds[i]) & (ev < bounds[i + 1]))
        sel = ev[keep]
        out.append(np.where(sel == TICK, TICK, sel - bounds[i]))
    return out


def split_plan(network: Network, config: SystemConfig) -> list[tuple[int, int, int]]:
    """Cores for a network: ``(layer, first neuron, neurons)`` per core, in core order.

    The placement of `flexspim.mapper.fit.system_fit` (the one fit check of ``run`` and
    ``map``), without a limit on the cores: a conv layer runs as its dense FC layer
    (`ConvLayer.dense_weights`, its definition); a layer that fits one core gets one core; a
    wider one is split by output neurons into chunks of whole neuron slots, each keeping all
    of the layer's inputs (multicast). Raises `ValueError` (`DoesNotFit`) naming the layer
    and the resource (rows, index bits).
    """
    return system_fit(network, config.core).plan


class SystemDriver:
    """Loads networks and streams events through a back end (golden or RTL)."""

    def __init__(self, backend, config: SystemConfig):
        self.backend, self.config = backend, config
        self.mapping: Mapping | None = None

    async def load(self, network: Network, monitor: bool = True) -> Mapping:
        """Program the layers (one per core), their weights and the routes.

        Raises `ValueError` naming the layer when a layer is not fully connected or does not
        fit a core, or when the network has more layers than the system has cores.
        """
        cfg, core = self.config, self.config.core
        layers = list(network.layers)
        if len(layers) > cfg.n_cores:
            raise ValueError(f"the network has {len(layers)} layers but the system has "
                             f"n_cores={cfg.n_cores} (one layer per core)")
        layouts = []
        for i, layer in enumerate(layers):
            if not isinstance(layer, FCLayer):
                raise ValueError(f"layer {i} ({layer.name or type(layer).__name__}) is not fully "
                                 f"connected; the system runs FC layers (map convolutions "
                                 f"with `flexspim map`)")
            try:
                layouts.append(FCLayout.packed(core, layer.config, layer.n_in, layer.n_out))
            except ValueError as e:
                raise ValueError(f"layer {i} ({layer.name or 'unnamed'}): {e}") from None
        limit = 1 << core.index_bits
        offsets, acc = [], 0
        for lay in layouts:
            offsets.append(acc if monitor else 0)
            acc += lay.n_out
        if monitor and acc > limit:
            raise ValueError(f"monitoring needs {acc} output indices; index_bits="
                             f"{core.index_bits} allows {limit}")
        n = cfg.n_cores
        last = len(layers) - 1
        routes: dict[int, list[tuple[int, int]]] = {0: [(0, 0)]}
        for k in range(last + 1):          # core k -> core k+1, and/or the output
            routes[k + 1] = ([(k + 1, 0)] if k < last else []) + \
                ([(n, offsets[k])] if monitor or k == last else [])
        await self.program(layers, layouts, routes)
        self.mapping = Mapping(tuple(layouts), tuple(offsets), monitor)
        return self.mapping

    async def load_split(self, network: Network, monitor: bool = True) -> Mapping:
        """Like `load`, but a layer wider than a core is split across several cores by
        output neurons (`split_plan`): the layer's input is multicast to each of its cores;
        core ``k`` holding neurons ``a ..`` of layer ``i`` sends its spikes to every core of
        layer ``i + 1`` with index offset ``a`` (and to the output with offset
        ``offsets[i] + a``). The router merges a target's source ports in port order per
        time step, i.e. chunk after chunk, which is ascending neuron order: the next layer
        sees exactly the level-1 stream. Raises `ValueError` when the cores do not suffice,
        saying how many the split needs."""
        cfg, core = self.config, self.config.core
        layers = list(network.layers)
        plan = system_fit(network, core, cfg.n_cores).plan
        chunks, layouts = [], []
        dense = [layer.weights if isinstance(layer, FCLayer) else layer.dense_weights()
                 for layer in layers]
        for i, a, n in plan:
            layer = layers[i]
            th = None if layer.thresholds is None else layer.thresholds[a:a + n]
            chunks.append(FCLayer(dense[i][a:a + n], layer.config, th,
                                  name=f"{layer.name}[{a}:{a + n}]"))
            layouts.append(FCLayout.packed(core, layer.config, layer.n_in, n))
        offsets, acc = [], 0
        for layer in layers:
            offsets.append(acc if monitor else 0)
            acc += layer.n_out
        if monitor and acc > 1 << core.index_bits:
            raise ValueError(f"monitoring needs {acc} output indices; index_bits="
                             f"{core.index_bits} allows {1 << core.index_bits}")
        n, last = cfg.n_cores, len(layers) - 1
        cores_of = [[k for k, p in enumerate(plan) if p[0] == i] for i in range(len(layers))]
        routes: dict[int, list[tuple[int, int]]] = {0: [(k, 0) for k in cores_of[0]]}
        for k, (i, a, _) in enumerate(plan):
            nxt = [(j, a) for j in cores_of[i + 1]] if i < last else []
            routes[k + 1] = nxt + ([(n, offsets[i] + a)] if monitor or i == last else [])
        await self.program(chunks, layouts, routes)
        sizes = tuple(FCLayout(n_in=lay.n_in, n_out=lay.n_out, v_base=0, v_stride=0, w_base=0,
                               w_stride=0) for lay in layers)
        self.mapping = Mapping(sizes, tuple(offsets), monitor, tuple(map(tuple, cores_of)))
        return self.mapping

    async def potentials_by_layer(self) -> list[np.ndarray]:
        """`potentials` regrouped per layer (chunks of a split layer concatenated)."""
        pots = await self.potentials()
        if self.mapping is None or not self.mapping.cores:
            return pots
        return [np.concatenate([pots[k] for k in ks]) for ks in self.mapping.cores]

    async def program(self, layers: list[FCLayer], layouts: list[FCLayout],
                      routes: dict[int, list[tuple[int, int]]]) -> None:
        """Layer ``k`` (laid out as ``layouts[k]``) on core ``k``, and the router:
        ``routes[p]`` lists ``(target, index offset)`` for source port ``p`` (0 = external
        input, ``1 + k`` = core ``k``; target ``n_cores`` = external output). Ports not
        listed are routed nowhere. Checks that every register write was taken."""
        cfg, core = self.config, self.config.core
        n = cfg.n_cores
        for k, (layer, lay) in enumerate(zip(layers, layouts)):
            image = CoreModel(core, layer.config, lay)
            image.load(layer)
            for r in range(core.macro.rows):
                await self.backend.write_row(k, r, image.macro.bits[r])
            await self.backend.write_reg(k, "STATUS", 0b110)     # clear errors, counters
            for name, value in layer_registers(core, layer.config, lay).items():
                await self.backend.write_reg(k, name, value)
            if await self.backend.read_reg(k, "ERRORS"):
                raise ValueError(f"core {k} refused a register write for layer {k}")
        await self.backend.write_reg(n, "STATUS", 0b10)    # waiting input, clear errors
        for p in range(n + 1):
            targets = dict(routes.get(p, []))
            await self.backend.write_reg(n, f"ROUTE_{p}", sum(1 << t for t in targets))
            for t in range(n + 1):
                await self.backend.write_reg(n, f"OFFSET_{p}_{t}", targets.get(t, 0))
        if (await self.backend.read_reg(n, "STATUS")) >> 2 & 1:
            raise ValueError("the router refused a register write")
        self.layers, self.layouts = list(layers), list(layouts)

    async def potentials(self) -> list[np.ndarray]:
        """Every layer's membrane potentials, read through the row port."""
        core = self.config.core
        out = []
        for k, (layer, lay) in enumerate(zip(self.layers, self.layouts)):
            L = layer.config
            vs = []
            for s in range(lay.slots(core.macro, L.operand_cols)):
                base = lay.v_base + s * lay.v_stride
                rows = np.array([await self.backend.read_row(k, base + i)
                                 for i in range(L.v_rows)])
                # the operand's cells, with its rows counted from the first one read
                vs.append(from_bits(rows[shaped_cells(Operand(0, L.bv, L.operand_cols),
                                                      core.macro.cols)]))
            out.append(np.concatenate(vs)[:lay.n_out])
        return out

    async def clear_potentials(self) -> int:
        """Neuron-state reset between samples: write 0 into every potential row of every
        layer through the row port (``v_rows`` rows per neuron slot, the padding cells of a
        shaped potential's last row included, which hold nothing; weights and array
        thresholds stay). One row write per row, so the reset costs that many row-port
        cycles while the cores are idle (after a sample's last tick nothing is pending).
        Returns the number of rows written."""
        core = self.config.core
        zero = np.zeros(core.macro.cols, dtype=np.uint8)
        rows = 0
        for k, (layer, lay) in enumerate(zip(self.layers, self.layouts)):
            for s in range(lay.slots(core.macro, layer.config.operand_cols)):
                base = lay.v_base + s * lay.v_stride
                for i in range(layer.config.v_rows):
                    await self.backend.write_row(k, base + i, zero)
                    rows += 1
        return rows

    async def core_cycles(self) -> list[int]:
        """Each layer's core's CYCLES counter (its work cycles, golden-model rules)."""
        return [await self.backend.read_reg(k, "CYCLES") for k in range(len(self.layers))]

    async def run_sample(self, events) -> np.ndarray:
        """Reset the neuron state (`clear_potentials`), then stream one sample; returns
        the external output stream."""
        await self.clear_potentials()
        ev = np.asarray(events, dtype=np.int64)
        return await self.backend.stream(ev, int((ev == TICK).sum()))

    async def run(self, events) -> SystemRun:
        """Stream ``events`` (source indices and `TICK`); returns every layer's output."""
        if self.mapping is None:
            raise ValueError("load a network first")
        ev = np.asarray(events, dtype=np.int64)
        n_in = self.mapping.layouts[0].n_in
        if ev.size and ((ev < TICK) | (ev >= n_in)).any():
            bad = ev[(ev < TICK) | (ev >= n_in)][0]
            raise ValueError(f"input event source {bad} is out of range [0, {n_in - 1}]")
        out = await self.backend.stream(ev, int((ev == TICK).sum()))
        return SystemRun(out, split_monitor(out, self.mapping), await self.potentials())
