"""cocotb driver for `flexspim.hdl.fanout.FanoutUnit`: geometry ports, event source, entry
sink with back-pressure, and a per-cycle monitor that times every event.

The monitor samples at the falling edge (mid-cycle), so a transfer is recorded exactly when
``valid & ready`` at a rising edge. For each event taken it records the entries sent before
the next event is taken, the cycles from its handshake to the next (or to ``idle``) and the
cycles an entry waited on ``entry.ready``; `check_against_golden` compares all of them with
`flexspim.golden.fanout`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flexspim.config import MAX_KERNEL, ConvGeometry, FanoutConfig
from flexspim.golden.fanout import ALL_TILES, event_cycles, event_entries

__all__ = ["geometry_values", "random_geometry", "directed_geometries", "EventRecord",
           "FanoutDriver", "expected_entries", "check_against_golden"]


def geometry_values(g: ConvGeometry) -> dict[str, int]:
    """The unit's `GeometrySignature` inputs for ``g``."""
    return {"n_in": g.n_in, "c_in": g.c_in, "plane": g.h * g.w, "in_h": g.h, "in_w": g.w,
            "out_h": g.out_h, "out_w": g.out_w, "kh": g.kh, "kw": g.kw,
            "stride_y": g.stride[0], "stride_x": g.stride[1], "dil_y": g.dilation[0],
            "dil_x": g.dilation[1], "pad_y": g.padding[0], "pad_x": g.padding[1],
            "bias": int(g.bias)}


def random_geometry(rng: np.random.Generator, cfg: FanoutConfig, max_side: int = 12
                    ) -> ConvGeometry:
    """A random geometry that `cfg` accepts: kernels 1..5 (at most ``cfg.max_kernel``),
    strides and dilations 1..3, any legal padding, maps up to ``max_side``, c_in 1..4,
    bias or not; FC layers (1 x 1 maps) one time in six."""
    mk = min(cfg.max_kernel, MAX_KERNEL)
    for _ in range(10000):
        if rng.random() < 1 / 6:
            g = ConvGeometry(c_in=int(rng.integers(1, 40)), h=1, w=1,
                             c_out=int(rng.integers(1, 9)), bias=bool(rng.integers(0, 2)))
        else:
            kh, kw = (int(v) for v in rng.integers(1, min(5, mk) + 1, 2))
            st = tuple(int(v) for v in rng.integers(1, min(3, mk) + 1, 2))
            dil = tuple(int(v) for v in rng.integers(1, min(3, mk) + 1, 2))
            pad = tuple(int(rng.integers(0, d * (k - 1) + 1)) for d, k in zip(dil, (kh, kw)))
            h, w = (int(v) for v in rng.integers(1, max_side + 1, 2))
            try:
                g = ConvGeometry(c_in=int(rng.integers(1, 5)), h=h, w=w,
                                 c_out=int(rng.integers(1, 5)), kh=kh, kw=kw, stride=st,
                                 padding=pad, dilation=dil, bias=bool(rng.integers(0, 2)))
            except ValueError:       # an empty output
                continue
        try:
            cfg.check(g)
        except ValueError:
            continue
        return g
    raise ValueError(f"no geometry fits {cfg}")


def directed_geometries() -> list[tuple[str, ConvGeometry]]:
    """The corner cases the issue names: kernel 1x1, 3x3, 5x3; stride 2; padding 1;
    dilation 2; c_in = 1; FC as 1x1; positions that leave the map; a bias source."""
    G = ConvGeometry
    return [
        ("1x1", G(c_in=2, h=5, w=4, c_out=3)),
        ("3x3 pad 1 c_in 1", G(c_in=1, h=6, w=6, c_out=2, kh=3, kw=3, padding=(1, 1))),
        ("5x3", G(c_in=2, h=7, w=5, c_out=2, kh=5, kw=3)),
        ("3x3 stride 2 pad 1", G(c_in=2, h=7, w=8, c_out=2, kh=3, kw=3, stride=(2, 2),
                                 padding=(1, 1))),
        ("3x3 dilation 2 pad 2", G(c_in=1, h=6, w=7, c_out=2, kh=3, kw=3, padding=(2, 2),
                                   dilation=(2, 2))),
        ("per-axis 3x2", G(c_in=3, h=9, w=8, c_out=2, kh=3, kw=2, stride=(2, 3),
                           padding=(2, 1))),
        ("FC", G.fc(11, 5)),
        ("FC bias", G(c_in=6, h=1, w=1, c_out=3, bias=True)),
        ("3x3 bias", G(c_in=2, h=4, w=4, c_out=3, kh=3, kw=3, padding=(1, 1), bias=True)),
        ("1 x 1 map, 3x3 kernel", G(c_in=3, h=1, w=1, c_out=2, kh=3, kw=3, padding=(1, 1))),
        ("one row", G(c_in=2, h=1, w=9, c_out=2, kh=1, kw=3, stride=(1, 2))),
        ("one column", G(c_in=1, h=9, w=1, c_out=2, kh=3, kw=1, dilation=(2, 1))),
    ]


def expected_entries(g: ConvGeometry, s: int) -> list[tuple[int, int, int]]:
    """What the unit sends for source ``s``: ``(p, op, all)`` triples."""
    if not 0 <= s < g.n_in:
        return []
    e = event_entries(g, s)
    return [(0, g.table_ops - 1, 1)] if e is ALL_TILES else [(p, op, 0) for p, op in e]


@dataclass
class EventRecord:
    source: int
    dropped: bool = False
    entries: list = field(default_factory=list)
    cycles: int = 0          # handshake to the next handshake (or to idle)
    stalls: int = 0          # cycles an entry waited on ready
    closed: bool = False


class FanoutDriver:
    PERIOD_NS = 10

    def __init__(self, dut, cfg: FanoutConfig):
        self.dut, self.cfg = dut, cfg
        self.records: list[EventRecord] = []
        self.stall = 0.0
        self.rng = np.random.default_rng(0)
        self._monitor = None

    async def start(self, rng: np.random.Generator) -> None:
        import cocotb
        from cocotb.clock import Clock

        self.rng = rng
        Clock(self.dut.clk, self.PERIOD_NS, unit="ns").start()
        self.dut.ev__valid.value = 0
        self.dut.ev__payload.value = 0
        self.dut.entry__ready.value = 0
        await self.reset()
        self._monitor = cocotb.start_soon(self._watch())

    async def reset(self) -> None:
        from cocotb.triggers import RisingEdge

        self.dut.rst.value = 1
        await RisingEdge(self.dut.clk)
        await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0

    def set_geometry(self, g: ConvGeometry) -> None:
        for name, v in geometry_values(g).items():
            getattr(self.dut, f"geom__{name}").value = v

    def _decode(self, payload: int) -> tuple[int, int, int]:
        ib, ob = self.cfg.index_bits, self.cfg.op_bits
        return payload & ((1 << ib) - 1), payload >> ib & ((1 << ob) - 1), payload >> (ib + ob)

    async def _watch(self) -> None:
        """Every cycle: drive ``entry.ready`` (low with probability ``stall``) and record.
        ``ready`` is set at the falling edge and the DUT's outputs do not depend on it in
        the same cycle, so the value set is the value of this cycle's handshake."""
        from cocotb.triggers import FallingEdge

        d, rec = self.dut, None
        while True:
            await FallingEdge(d.clk)
            ready = int(not (self.stall and self.rng.random() < self.stall))
            d.entry__ready.value = ready
            taken = int(d.ev__valid.value) and int(d.ev__ready.value)
            en_valid = int(d.entry__valid.value)
            if en_valid:
                assert rec is not None, "an entry before any event"
                if ready:
                    rec.entries.append(self._decode(int(d.entry__payload.value)))
                else:
                    rec.stalls += 1
            if rec is not None and not rec.closed:
                if taken or int(d.idle.value):
                    rec.closed = True
                else:
                    rec.cycles += 1
            if taken:
                rec = EventRecord(int(d.ev__payload.value), bool(int(d.dropped.value)),
                                  cycles=1)
                self.records.append(rec)

    async def send(self, sources, gap: float = 0.0) -> None:
        """Drive ``sources`` into ``ev``, an idle cycle before an event with probability
        ``gap``; waits while the unit is busy."""
        from .streams import send_events

        await send_events(self.dut, sources, self.cfg.index_bits, self.rng, gap, port="ev")

    async def wait_idle(self) -> None:
        from cocotb.triggers import FallingEdge, RisingEdge

        while True:
            await FallingEdge(self.dut.clk)
            if int(self.dut.idle.value):
                await RisingEdge(self.dut.clk)
                return
            await RisingEdge(self.dut.clk)


def check_against_golden(g: ConvGeometry, records: list[EventRecord], where: str) -> None:
    """Every event's entries, drop flag and cycles (plus its stalls) equal the golden's."""
    for i, r in enumerate(records):
        at = f"{where}: event {i} (source {r.source}) of {g}"
        want = expected_entries(g, r.source)
        assert r.dropped == (not 0 <= r.source < g.n_in), f"{at}: dropped={r.dropped}"
        assert r.entries == want, f"{at}: entries {r.entries}, golden {want}"
        assert r.cycles == event_cycles(g, r.source) + r.stalls, (
            f"{at}: {r.cycles} cycles with {r.stalls} stalled, golden "
            f"{event_cycles(g, r.source)} + {r.stalls}")
