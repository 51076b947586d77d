"""The whole accelerator: external input FIFO, event router, ``n_cores`` neuron cores.

Top-level interface (Verilog names in brackets):

* ``ev_in`` [``ev_in__valid/ready/payload``]: input address-events (`EventLayout`: index
  in the low ``index_bits`` bits, tick flag above). In normal mode ``ready`` falls when the
  input FIFO is full (the sender waits); in no-wait mode (router ``STATUS`` bit 0)
  ``ready`` stays high and events that find the FIFO full are dropped and counted in the
  router's ``OVERFLOW`` register.
* ``ev_out``: output events (stream, with back-pressure).
* ``cfg`` [``cfg__sel/addr/wdata/we/ready/rdata``]: register bus. ``sel`` picks core
  ``sel`` or, for ``sel = n_cores``, the router; ``addr`` is the register's word address
  (`flexspim.regmap`). A write is taken when ``we`` and ``ready``: ``ready`` is the selected
  core's (idle) for a core, and "whole system idle" for the router. A write to a ``sel``
  above ``n_cores``, or to a core address >= 32, is refused and sets the router's sticky
  error bit (reads there return 0).
* ``row`` [``row__core/addr/re/wdata/wmask/we/ready/rdata/rvalid``]: the row port of core
  ``row.core`` (loading weights, reading potentials), usable while that core is idle; a read
  taken at one edge comes out (``rvalid``) in the next cycle, from the core it was taken from.
* ``idle``: nothing in any FIFO and every core waiting for events; ``error``: a core's
  sticky error bit is set.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from flexspim.config import SystemConfig
from flexspim.regmap import SYSTEM_ADDR_BITS, router_registers

from .core import EventLayout, NeuronCore
from .fifo import EventFIFO
from .router import EventRouter

__all__ = ["SystemBusSignature", "SystemRowSignature", "FlexSpimSystem"]


class SystemBusSignature(wiring.Signature):
    """``sel`` (in), ``addr`` (in, 10), ``wdata`` (in, 32), ``we`` (in), ``ready`` (out),
    ``rdata`` (out, 32, combinational)."""

    def __init__(self, config: SystemConfig):
        super().__init__({"sel": In(range(config.n_cores + 2)), "addr": In(SYSTEM_ADDR_BITS),
                          "wdata": In(32), "we": In(1), "ready": Out(1), "rdata": Out(32)})


class SystemRowSignature(wiring.Signature):
    """The selected core's row port: ``core`` (in) plus `RowPortSignature`'s members."""

    def __init__(self, config: SystemConfig):
        mc = config.core.macro
        super().__init__({"core": In(range(max(config.n_cores, 2))),
                          "addr": In(mc.row_addr_width), "re": In(1), "rdata": Out(mc.cols),
                          "rvalid": Out(1), "wdata": In(mc.cols), "wmask": In(mc.cols),
                          "we": In(1), "ready": Out(1)})


class FlexSpimSystem(wiring.Component):
    """See the module docstring for the ports."""

    def __init__(self, config: SystemConfig):
        if not isinstance(config, SystemConfig):
            raise ValueError(f"`config` must be a SystemConfig, not {config!r}")
        self.config = config
        ev = stream.Signature(EventLayout(config.core.index_bits))
        super().__init__({
            "ev_in": In(ev),
            "ev_out": Out(ev),
            "cfg": Out(SystemBusSignature(config)),
            "row": Out(SystemRowSignature(config)),
            "idle": Out(1),
            "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        n, ib = cfg.n_cores, cfg.core.index_bits
        cores = []
        for k in range(n):
            core = NeuronCore(cfg.core)
            m.submodules[f"core{k}"] = core
            cores.append(core)
        m.submodules.router = router = EventRouter(cfg)
        m.submodules.in_fifo = fifo = EventFIFO(width=ib + 1, depth=cfg.in_fifo_depth)

        # -- router registers ---------------------------------------------------------------
        rmap = router_registers(n)
        rregs = {name: Signal(w, name=f"router_{name.lower()}")
                 for name, (_, w, acc) in rmap.items()}
        no_wait = rregs["STATUS"][0]
        bad_write = Signal()                       # sticky: a bus write was refused
        m.d.comb += [
            router.route.eq(Cat(*[rregs[f"ROUTE_{p}"] for p in range(n + 1)])),
            router.offset.eq(Cat(*[rregs[f"OFFSET_{p}_{t}"] for p in range(n + 1)
                                   for t in range(n + 1)])),
        ]

        # -- external input: FIFO, back-pressure or (no-wait mode) counted overflow ---------
        m.d.comb += [fifo.w_data.eq(self.ev_in.payload.as_value()),
                     fifo.w_en.eq(self.ev_in.valid),
                     self.ev_in.ready.eq(fifo.w_rdy | no_wait)]
        with m.If(self.ev_in.valid & ~fifo.w_rdy & no_wait):
            m.d.sync += rregs["OVERFLOW"].eq(rregs["OVERFLOW"] + 1)
        m.d.comb += [router.src0.valid.eq(fifo.r_rdy), router.src0.payload.eq(fifo.r_data),
                     fifo.r_en.eq(router.src0.ready)]

        # -- cores <-> router, external output ----------------------------------------------
        for k, core in enumerate(cores):
            wiring.connect(m, core.ev_out, getattr(router, f"src{k + 1}"))
            wiring.connect(m, getattr(router, f"dst{k}"), core.ev_in)
        wiring.connect(m, getattr(router, f"dst{n}"), wiring.flipped(self.ev_out))
        with m.If(self.ev_out.valid & self.ev_out.ready):
            m.d.sync += rregs["EVENTS_OUT"].eq(rregs["EVENTS_OUT"] + 1)
        with m.If(router.dropped != 0):
            m.d.sync += rregs["DROPPED"].eq(rregs["DROPPED"] + router.dropped)

        # -- status ---------------------------------------------------------------------------
        idle = Signal()
        m.d.comb += [idle.eq(Cat(*[c.idle for c in cores]).all() & ~fifo.r_rdy &
                             ~self.ev_out.valid),
                     self.idle.eq(idle),
                     self.error.eq(Cat(*[c.error for c in cores]).any())]

        # -- register bus ---------------------------------------------------------------------
        bus = self.cfg
        for k, core in enumerate(cores):
            sel = bus.sel == k
            m.d.comb += [core.cfg.addr.eq(bus.addr), core.cfg.wdata.eq(bus.wdata),
                         core.cfg.we.eq(bus.we & sel & (bus.addr < 32))]
            with m.If(sel):
                m.d.comb += bus.ready.eq(core.cfg.ready)
                with m.If(bus.addr < 32):
                    m.d.comb += bus.rdata.eq(core.cfg.rdata)
        with m.If(bus.sel > n):                     # no such target: refused, not hung
            m.d.comb += bus.ready.eq(1)
            with m.If(bus.we):
                m.d.sync += bad_write.eq(1)
        with m.If((bus.sel < n) & (bus.addr >= 32) & bus.we & bus.ready):
            m.d.sync += bad_write.eq(1)             # beyond a core's 5-bit register space
        with m.If(bus.sel == n):
            m.d.comb += bus.ready.eq(idle)
            with m.Switch(bus.addr):
                for name, (addr, width, acc) in rmap.items():
                    with m.Case(addr):
                        if name == "STATUS":
                            m.d.comb += bus.rdata.eq(Cat(no_wait, 0, bad_write))
                            with m.If(bus.we & idle):
                                m.d.sync += rregs[name].eq(bus.wdata[0])
                                with m.If(bus.wdata[1]):
                                    m.d.sync += [rregs[c].eq(0) for c in
                                                 ("OVERFLOW", "EVENTS_OUT", "DROPPED")]
                                    m.d.sync += bad_write.eq(0)
                        else:
                            m.d.comb += bus.rdata.eq(rregs[name])
                            with m.If(bus.we & idle):
                                if acc == "rw":
                                    with m.If(bus.wdata[width:] == 0):
                                        m.d.sync += rregs[name].eq(bus.wdata)
                                    with m.Else():
                                        m.d.sync += bad_write.eq(1)
                                else:
                                    m.d.sync += bad_write.eq(1)
                with m.Default():
                    with m.If(bus.we & idle):
                        m.d.sync += bad_write.eq(1)

        # -- row port of the selected core (read data: the core read in the previous cycle) --
        rd_core = Signal.like(self.row.core)
        with m.If(self.row.re):
            m.d.sync += rd_core.eq(self.row.core)
        for k, core in enumerate(cores):
            sel = self.row.core == k
            m.d.comb += [core.row.addr.eq(self.row.addr), core.row.wdata.eq(self.row.wdata),
                         core.row.wmask.eq(self.row.wmask),
                         core.row.we.eq(self.row.we & sel), core.row.re.eq(self.row.re & sel)]
            with m.If(sel):
                m.d.comb += self.row.ready.eq(core.row.ready)
            with m.If(rd_core == k):
                m.d.comb += [self.row.rdata.eq(core.row.rdata),
                             self.row.rvalid.eq(core.row.rvalid)]
        return m
