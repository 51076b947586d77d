"""cocotb driver for `flexspim.hdl.core.NeuronCore`: registers, row port, event streams.

The event source inserts random idle cycles; the sink applies random back-pressure. Both
sample handshakes mid-cycle (falling edge), so a transfer is recorded exactly when
``valid & ready`` at a rising edge.
"""

from __future__ import annotations

import numpy as np

from flexspim.config import CoreConfig
from flexspim.golden.batching import TICK
from flexspim.regmap import core_registers, layer_registers

from .macro_driver import to_bits_vec, to_int
from .streams import receive_events, send_events, start_clock

__all__ = ["CoreDriver", "random_fc_case", "random_events"]


class CoreDriver:
    PERIOD_NS = 10

    def __init__(self, dut, core: CoreConfig):
        self.dut, self.core = dut, core
        self.regs = core_registers(core)
        self.ib = core.index_bits

    async def start(self) -> None:
        start_clock(self.dut, self.PERIOD_NS)
        d = self.dut
        for name in ("ev_in__valid", "ev_in__payload", "ev_out__ready", "cfg__addr",
                     "cfg__wdata", "cfg__we", "row__addr", "row__wdata", "row__wmask",
                     "row__we", "row__re"):
            getattr(d, name).value = 0
        await self.reset()

    async def reset(self) -> None:
        from cocotb.triggers import RisingEdge

        self.dut.rst.value = 1
        await RisingEdge(self.dut.clk)
        await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def wait_idle(self) -> None:
        from cocotb.triggers import FallingEdge, RisingEdge

        while True:
            await FallingEdge(self.dut.clk)
            if int(self.dut.idle.value):
                return
            await RisingEdge(self.dut.clk)

    # -- registers ------------------------------------------------------------------------
    async def write_reg(self, name: str, value: int) -> None:
        from cocotb.triggers import RisingEdge

        d = self.dut
        await self.wait_idle()
        d.cfg__addr.value = self.regs[name][0] if name in self.regs else int(name)
        d.cfg__wdata.value = value & 0xFFFFFFFF
        d.cfg__we.value = 1
        await RisingEdge(d.clk)
        d.cfg__we.value = 0

    async def read_reg(self, name: str) -> int:
        from cocotb.triggers import FallingEdge, RisingEdge

        self.dut.cfg__addr.value = self.regs[name][0]
        await FallingEdge(self.dut.clk)
        value = int(self.dut.cfg__rdata.value)
        await RisingEdge(self.dut.clk)
        return value

    async def configure(self, layer, layout) -> None:
        """Clear the error bit and counters, write the layer's registers, and check that
        the core took every write (a refused write would leave a stale setting)."""
        await self.write_reg("STATUS", 0b110)
        for name, value in layer_registers(self.core, layer, layout).items():
            await self.write_reg(name, value)
        errors = await self.read_reg("ERRORS")
        if errors:
            raise ValueError(f"the core refused {errors} register write(s) for {layer}")

    async def counters(self) -> dict[str, int]:
        return {n: await self.read_reg(n) for n, (_, _, acc) in self.regs.items()
                if acc == "ro"}

    # -- row port -------------------------------------------------------------------------
    async def write_array(self, bits: np.ndarray) -> None:
        from cocotb.triggers import RisingEdge

        d = self.dut
        await self.wait_idle()
        for r in range(bits.shape[0]):
            d.row__addr.value = r
            d.row__wdata.value = to_int(bits[r])
            d.row__wmask.value = (1 << bits.shape[1]) - 1
            d.row__we.value = 1
            await RisingEdge(d.clk)
        d.row__we.value = 0

    async def read_array(self) -> np.ndarray:
        from cocotb.triggers import FallingEdge, RisingEdge

        d, cols = self.dut, self.core.macro.cols
        await self.wait_idle()
        await RisingEdge(d.clk)
        rows = []
        n = self.core.macro.rows
        for r in range(n + 1):                     # pipelined: row r comes out a cycle later
            d.row__addr.value = min(r, n - 1)
            d.row__re.value = int(r < n)
            await FallingEdge(d.clk)
            assert int(d.row__ready.value), "row port not ready while idle"
            if r:
                assert int(d.row__rvalid.value), "row read taken but rvalid is low"
                rows.append(to_bits_vec(int(d.row__rdata.value), cols))
            await RisingEdge(d.clk)
        d.row__re.value = 0
        return np.array(rows, dtype=np.uint8)

    # -- event streams (see `testbench.streams`) -----------------------------------------
    async def send(self, events, rng: np.random.Generator, gap: float = 0.0) -> int:
        """Drive ``events`` into ``ev_in`` with random idle gaps; returns the transfers."""
        return await send_events(self.dut, events, self.ib, rng, gap)

    async def receive(self, ticks: int, rng: np.random.Generator, stall: float = 0.0,
                      out: list | None = None) -> list[int]:
        """Collect output events until ``ticks`` ticks arrived, with random stalls."""
        return await receive_events(self.dut, ticks, self.ib, rng, stall, out)


def random_fc_case(rng: np.random.Generator, core: CoreConfig, max_bw: int = 8,
                   max_bv: int = 16, operand_cols: int | None = None,
                   multi_slot: bool = False):
    """A random fully connected layer that fits ``core``: ``(layer, layout, FCLayer)``.

    Draws resolutions (bw 1..max_bw, bv 2..max_bv), all leak/reset/threshold modes, saturate
    or wrap, an operand shape (1, 2, 4, .. ``max_operand_cols``; always 1 on a vertical
    macro; ``operand_cols`` fixes it), then the largest sizes that fit, shrunk at random
    (``multi_slot``: more neurons than one slot holds, where the index width allows).
    """
    from flexspim.config import FCLayout, LayerConfig
    from flexspim.golden.layers import FCLayer

    mc = core.macro
    for _ in range(1000):
        bv = int(rng.integers(2, min(max_bv, mc.max_bits) + 1))
        bw = int(rng.integers(1, min(max_bw, bv) + 1))
        mode = str(rng.choice(["none", "sub", "shift"]))
        hi = (1 << (bv - 1)) - 1
        leak = {"none": 0, "sub": int(rng.integers(0, max(1, hi // 8) + 1)),
                "shift": int(rng.integers(0, bv))}[mode]
        src = str(rng.choice(["register", "array"]))
        n_c = operand_cols or 1 << int(rng.integers(0, mc.max_operand_cols.bit_length()))
        layer = LayerConfig(bw=bw, bv=bv, saturate=bool(rng.integers(0, 2)), leak_mode=mode,
                            leak=leak, threshold=int(rng.integers(-(hi // 8), hi // 2 + 1)),
                            threshold_source=src, reset=str(rng.choice(["hard", "soft"])),
                            operand_cols=n_c)
        if bv > mc.rows * n_c:
            continue
        per_slot = mc.cols // n_c
        low = per_slot + 1 if multi_slot and per_slot < 1 << core.index_bits else 1
        n_out = min(int(rng.integers(low, 3 * per_slot + 1)), 1 << core.index_bits)
        slots = -(-n_out // per_slot)
        per_v = layer.v_rows * (2 if src == "array" else 1)
        room = mc.rows // slots - per_v
        if room < layer.w_rows:
            continue
        n_in = int(rng.integers(1, min(room // layer.w_rows, 1 << core.index_bits) + 1))
        layout = FCLayout.packed(core, layer, n_in, n_out)
        w = rng.integers(-(1 << (bw - 1)), 1 << (bw - 1), size=(n_out, n_in))
        th = rng.integers(-(hi // 8), hi // 2 + 1, size=n_out) if src == "array" else None
        return layer, layout, FCLayer(w, layer, th)
    raise ValueError(f"no layer fits {core}")


def random_events(rng: np.random.Generator, n_in: int, n: int, tick_rate: float = 0.05,
                  bad_rate: float = 0.0, repeat_rate: float = 0.2,
                  index_bits: int | None = None) -> np.ndarray:
    """``n`` events ending with a tick: sources (some repeated back to back, some out of
    range with ``bad_rate``) and ticks. ``index_bits``: out-of-range sources are kept below
    ``2**index_bits`` (a larger one would not be an index of the stream: its high bit is the
    tick flag), so with ``n_in = 2**index_bits`` there are none."""
    ev = rng.integers(0, n_in, size=n)
    rep = rng.random(n) < repeat_rate
    rep[0] = False
    ev[rep] = ev[np.flatnonzero(rep) - 1]
    bad = n_in + rng.integers(0, 3)
    if index_bits is not None:
        bad = min(bad, (1 << index_bits) - 1)
    ev[rng.random(n) < bad_rate] = bad
    ev[rng.random(n) < tick_rate] = TICK
    return np.append(ev, TICK)
