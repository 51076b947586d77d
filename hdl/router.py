"""Event router: multicast from source ports to targets, merging per time step in port order.

Semantics are `flexspim.golden.system`'s (read its docstring): each source port's head event
goes to every target in its ``ROUTE`` mask, with the port's ``OFFSET`` added to its index;
the port advances when all of them took it. A target takes events only from its *current*
source port: the lowest port of its mask that has not yet sent this time step's tick. A
port's tick is absorbed by each target, which moves on to its next source port; the last
one's tick is forwarded. Each target is thus fed in a fixed, timing-independent order, and
ticks propagate so that a layer fires only after every layer feeding it finished the step.

Everything is combinational except, per port, the set of targets that already took its head
event and, per target, the set of ports whose tick it absorbed this step.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from flexspim.config import SystemConfig
from flexspim.regmap import OFFSET_BITS

from .core import EventLayout

__all__ = ["EventRouter"]


class EventRouter(wiring.Component):
    """Ports (``N`` = ``n_cores``, ``n_cores + 1`` source ports and targets):

    * ``src{p}``: in, event stream (`EventLayout`); port 0 = external input, ``1 + k`` = core
      ``k``'s output.
    * ``dst{t}``: out, event stream; ``t < N``: core ``t``'s input, ``t = N``: the external
      output.
    * ``route``: in, ``(N + 1)**2`` bits: port ``p``'s target mask at ``p * (N + 1)``.
    * ``offset``: in, ``(N + 1)**2 * OFFSET_BITS``: the offset of port ``p`` towards target
      ``t`` at ``(p * (N + 1) + t) * OFFSET_BITS``.
    * ``dropped``: out, count of events dropped this cycle (an unrouted port's, or one whose
      index overflowed), for the ``DROPPED`` counter.
    """

    def __init__(self, config: SystemConfig):
        if not isinstance(config, SystemConfig):
            raise ValueError(f"`config` must be a SystemConfig, not {config!r}")
        self.config = config
        n, ev = config.n_ports, stream.Signature(EventLayout(config.core.index_bits))
        members = {f"src{p}": In(ev) for p in range(n)}
        members.update({f"dst{t}": Out(ev) for t in range(n)})
        members.update({"route": In(n * n), "offset": In(n * n * OFFSET_BITS),
                        "dropped": Out(range(n * n + n + 1))})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        n, ib = self.config.n_ports, self.config.core.index_bits
        src = [getattr(self, f"src{p}") for p in range(n)]
        dst = [getattr(self, f"dst{t}") for t in range(n)]
        # named per port (and target): the system drives each from its own register, and a
        # port with no signal of that value is named `port$n$0` in Verilog
        route = [Signal(n, name=f"route{p}") for p in range(n)]
        offset = [[Signal(OFFSET_BITS, name=f"offset{p}_{t}") for t in range(n)]
                  for p in range(n)]
        m.d.comb += [route[p].eq(self.route[p * n:(p + 1) * n]) for p in range(n)]
        m.d.comb += [offset[p][t].eq(self.offset[(p * n + t) * OFFSET_BITS:
                                                 (p * n + t + 1) * OFFSET_BITS])
                     for p in range(n) for t in range(n)]

        sent = [Signal(n, name=f"sent{p}") for p in range(n)]      # targets done, per port
        ticked = [Signal(n, name=f"ticked{t}") for t in range(n)]  # ports absorbed, per target
        took = [[Signal(name=f"took{p}_{t}") for t in range(n)] for p in range(n)]

        # index after the offset; an overflowing one is dropped (for that target only)
        new_index = [[Signal(ib + 1, name=f"index{p}_{t}") for t in range(n)] for p in range(n)]
        overflow = [[Signal(name=f"overflow{p}_{t}") for t in range(n)] for p in range(n)]
        for p in range(n):
            for t in range(n):
                total = src[p].payload.index + offset[p][t]
                m.d.comb += [new_index[p][t].eq(total),
                             overflow[p][t].eq(~src[p].payload.tick & (total >= (1 << ib)))]
        dropped_now = []

        for t in range(n):
            # the target's current port: the lowest routed port whose tick it has not taken
            waiting = Signal(n, name=f"waiting{t}")
            m.d.comb += waiting.eq(Cat(*[route[p][t] for p in range(n)]) & ~ticked[t])
            cur = Signal(range(n), name=f"cur{t}")
            for p in reversed(range(n)):
                with m.If(waiting[p]):
                    m.d.comb += cur.eq(p)
            last = Signal(name=f"last{t}")             # the current port is the last one
            m.d.comb += last.eq((waiting & (waiting - 1)) == 0)
            out = data.View(EventLayout(ib), dst[t].payload)
            for p in range(n):
                head = src[p].payload
                offer = Signal(name=f"offer{p}_{t}")
                m.d.comb += offer.eq(waiting.any() & (cur == p) & src[p].valid & ~sent[p][t])
                with m.If(offer):
                    with m.If(head.tick):
                        with m.If(last):               # forward the joined tick
                            m.d.comb += [dst[t].valid.eq(1), out.tick.eq(1),
                                         took[p][t].eq(dst[t].ready)]
                            with m.If(dst[t].ready):
                                m.d.sync += ticked[t].eq(0)
                        with m.Else():                 # absorb it
                            m.d.comb += took[p][t].eq(1)
                            m.d.sync += ticked[t].eq(ticked[t] | (1 << p))
                    with m.Elif(overflow[p][t]):
                        m.d.comb += took[p][t].eq(1)   # dropped, counted
                    with m.Else():
                        m.d.comb += [dst[t].valid.eq(1), out.index.eq(new_index[p][t]),
                                     took[p][t].eq(dst[t].ready)]
                dropped_now.append(offer & ~head.tick & overflow[p][t])

        drops = []
        for p in range(n):
            done = Signal(n, name=f"done{p}")
            m.d.comb += done.eq(sent[p] | Cat(*took[p]))
            complete = Signal(name=f"complete{p}")
            m.d.comb += complete.eq(src[p].valid & ((done & route[p]) == route[p]))
            m.d.comb += src[p].ready.eq(complete)
            with m.If(complete):
                m.d.sync += sent[p].eq(0)
            with m.Elif(src[p].valid):
                m.d.sync += sent[p].eq(done)
            drops.append(complete & (route[p] == 0))     # an unrouted port's event
        m.d.comb += self.dropped.eq(sum(drops + dropped_now))
        return m
