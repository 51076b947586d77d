"""Proof (b): the router delivers every event exactly once, in per-step order, under any
back-pressure.

Each source port replays a sequence whose *shape* is fixed (``pattern``: ``E`` an event,
``T`` a tick; every port sends the same number of ticks) and whose *contents* are free: the
event indices, the route masks and the offsets are constants the solver chooses, the
sources' ``valid`` and the targets' ``ready`` are free every cycle (a source keeps ``valid``
until its item is taken, as the stream contract requires).

The reference is the router's specification written as a list, independently of the
design: target ``t`` must receive, for each time step in turn, the events of each source port
routed to it in port order (index plus that port's offset; an index that overflows
``index_bits`` is dropped), then one tick if any port is routed to it. Checked every cycle:

* each item a target takes is the next item of its list (nothing dropped in the middle,
  duplicated, reordered or altered; no item beyond the list);
* once every source has delivered its whole sequence, every target has received its whole
  list (nothing dropped at the end);
* progress: while every unfinished source is valid and every target ready, some source
  transfers within ``n_ports`` cycles (no deadlock, no livelock).
"""

from __future__ import annotations

from amaranth.hdl import Assert, Assume, Cat, Const, Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from flexspim.config import CoreConfig, MacroConfig, SystemConfig
from flexspim.regmap import OFFSET_BITS

__all__ = ["RouterHarness", "small_system"]


def small_system(n_cores: int, index_bits: int) -> SystemConfig:
    """The smallest system around a router of ``n_cores + 1`` ports (the router uses only
    ``n_cores`` and ``index_bits``)."""
    core = CoreConfig(macro=MacroConfig(rows=2, cols=1, batch_max=1), fifo_depth=1,
                      index_bits=index_bits)
    return SystemConfig(core=core, n_cores=n_cores, in_fifo_depth=1)


class RouterHarness(wiring.Component):
    """``router_cls(config)`` (default `flexspim.hdl.router.EventRouter`) fed by free
    sequences of shape ``pattern`` on every source port."""

    def __init__(self, *, n_cores: int = 1, index_bits: int = 2, pattern: str = "EETET",
                 router_cls=None):
        if set(pattern) - {"E", "T"} or not pattern.endswith("T"):
            raise ValueError(f"`pattern` must be E/T items ending with T, not {pattern!r}")
        if router_cls is None:
            from flexspim.hdl.router import EventRouter
            router_cls = EventRouter
        self.config = small_system(n_cores, index_bits)
        self.pattern, self.router_cls = pattern, router_cls
        n, k, ib = self.config.n_ports, len(pattern), index_bits
        super().__init__({
            "index": In(n * k * ib),       # constant: item j of port p at (p*k + j)*ib
            "route": In(n * n),            # constant: the router's ROUTE masks
            "offset": In(n * n * (ib + 1)),  # constant: the router's OFFSETs (see below)
            "valid": In(n),                # free every cycle, held until taken
            "ready": In(n),                # free every cycle: any back-pressure
        })

    def elaborate(self, platform):
        m = Module()
        cfg, pat = self.config, self.pattern
        n, k, ib = cfg.n_ports, len(pat), cfg.core.index_bits
        m.submodules.dut = dut = self.router_cls(cfg)
        src = [getattr(dut, f"src{p}") for p in range(n)]
        dst = [getattr(dut, f"dst{t}") for t in range(n)]

        # the constants are chosen once: equal to their first-cycle value ever after
        started = Signal()
        m.d.sync += started.eq(1)
        m.d.comb += Assume(~ResetSignal())
        for port in (self.index, self.route, self.offset):
            held = Signal(len(port), name=f"{port.name}_q")
            m.d.sync += held.eq(port)
            with m.If(started):
                m.d.comb += Assume(port == held)
        m.d.comb += dut.route.eq(self.route)
        def index(p, j):
            return self.index[(p * k + j) * ib:(p * k + j + 1) * ib]

        def route(p, t):
            return self.route[p * n + t]

        def offset(p, t):
            return self.offset[(p * n + t) * (ib + 1):(p * n + t + 1) * (ib + 1)]

        # Offsets are ``ib + 1`` bits wide here: the router only compares ``index + offset``
        # with ``2**ib``, so any larger offset behaves like ``2**ib`` (always dropped), which
        # this range includes; the wider register only slows the solver.
        for p in range(n):
            for t in range(n):
                m.d.comb += dut.offset[(p * n + t) * OFFSET_BITS:
                                       (p * n + t + 1) * OFFSET_BITS].eq(offset(p, t))


        # sources: port p replays its sequence; `valid` is held until the item is taken
        ptr = [Signal(range(k + 1), name=f"src_ptr{p}") for p in range(n)]
        waiting = [Signal(name=f"src_waiting{p}") for p in range(n)]
        finished = Signal()
        m.d.comb += finished.eq(Cat(*[ptr[p] == k for p in range(n)]).all())
        any_take = Signal()
        takes = []
        for p in range(n):
            live = ptr[p] < k
            m.d.comb += src[p].valid.eq(self.valid[p] & live)
            with m.If(waiting[p]):
                m.d.comb += Assume(self.valid[p])
            for j in range(k):
                with m.If(ptr[p] == j):
                    m.d.comb += [src[p].payload.tick.eq(pat[j] == "T"),
                                 src[p].payload.index.eq(index(p, j) if pat[j] == "E" else 0)]
            take = src[p].valid & src[p].ready
            takes.append(take)
            m.d.sync += waiting[p].eq(src[p].valid & ~src[p].ready)
            with m.If(take):
                m.d.sync += ptr[p].eq(ptr[p] + 1)
        m.d.comb += any_take.eq(Cat(*takes).any())

        # the reference list of each target, and a pointer into it
        steps = []          # per time step: the event positions of each port in it
        for p in range(n):
            per = []
            cur: list[int] = []
            for j, c in enumerate(pat):
                if c == "E":
                    cur.append(j)
                else:
                    per.append(cur)
                    cur = []
            steps.append(per)
        n_steps = pat.count("T")
        for t in range(n):
            m.d.comb += dst[t].ready.eq(self.ready[t])
            kinds, values, include = [], [], []
            any_route = Cat(*[route(p, t) for p in range(n)]).any()
            for s in range(n_steps):
                for p in range(n):
                    for j in steps[p][s]:
                        total = index(p, j) + offset(p, t)
                        kinds.append(0)
                        values.append(total[:ib])
                        include.append(route(p, t) & (total < (1 << ib)))
                kinds.append(1)
                values.append(Const(0, ib))
                include.append(any_route)
            size = len(kinds)
            inc = Signal(size, name=f"include{t}")
            m.d.comb += inc.eq(Cat(*include))
            got = Signal(range(size + 1), name=f"got{t}")   # list items received so far
            nxt = Signal(range(size + 1), name=f"next{t}")  # position of the next one
            m.d.comb += nxt.eq(size)
            for j in reversed(range(size)):
                with m.If(inc[j] & (got <= j)):
                    m.d.comb += nxt.eq(j)
            exp_tick = Signal(name=f"exp_tick{t}")
            exp_index = Signal(ib, name=f"exp_index{t}")
            for j in range(size):
                with m.If(nxt == j):
                    m.d.comb += [exp_tick.eq(kinds[j]), exp_index.eq(values[j])]
            with m.If(dst[t].valid & dst[t].ready):
                m.d.comb += [
                    Assert(nxt < size, "an item beyond the reference list was delivered"),
                    Assert(dst[t].payload.tick == exp_tick, "a tick delivered out of order"),
                ]
                with m.If(~exp_tick):
                    m.d.comb += Assert(dst[t].payload.index == exp_index,
                                       "an event other than the next one was delivered")
                m.d.sync += got.eq(nxt + 1)
            with m.If(finished):
                m.d.comb += Assert(nxt == size, "a routed event was never delivered")

        # progress: everything valid and ready, yet no source moves for n cycles
        stuck = Signal(range(n + 2))
        pressure = Signal()
        m.d.comb += pressure.eq(~finished & self.ready.all()
                                & Cat(*[self.valid[p] | (ptr[p] == k) for p in range(n)]).all())
        with m.If(pressure & ~any_take):
            m.d.sync += stuck.eq(stuck + 1)
        with m.Else():
            m.d.sync += stuck.eq(0)
        m.d.comb += Assert(stuck <= n, "the router made no progress while nothing blocked it")
        return m
