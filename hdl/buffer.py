"""The operand buffer: ``words x width`` bits of SRAM behind a written contract (docs/buffer.md).

It is the second block a tapeout flow replaces with a macro (after the CIM array): a plain
one-read, one-write (1R1W) SRAM with a per-bit write mask, the port set of OpenRAM's
``num_r_ports = 1, num_w_ports = 1, write_size = 1`` macros. Here it is behavioural: an
Amaranth `Memory`. The generated Verilog keeps it as its own module,
``<prefix>_operand_buffer`` (`BUFFER_MODULE`, instantiated by name), so ``flexspim generate
--array blackbox`` leaves it empty like the array and writes its model to
``<prefix>_operand_buffer_model.v``.
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, ClockSignal, Instance, Module, Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from flexspim.config import BufferConfig

__all__ = ["BUFFER_MODULE", "BufferSignature", "BufferTop", "OperandBuffer", "buffer_ports"]

#: Module name of the buffer in generated Verilog, before the prefix.
BUFFER_MODULE = "operand_buffer"


class BufferSignature(wiring.Signature):
    """Interface of the buffer, seen from the buffer (``AW`` = ``addr_width``, ``W`` =
    ``width``). Every port is sampled at the rising edge of ``clk``.

    * ``rd_en``: in, 1; ``rd_addr``: in, AW. Read word ``rd_addr`` at the edge where
      ``rd_en`` is 1.
    * ``rd_data``: out, W. The word read at the previous edge, **valid in the one cycle after
      the read only** (OpenRAM's macros drive X from shortly after the next edge on).
    * ``wr_en``: in, 1; ``wr_addr``: in, AW; ``wr_data``: in, W; ``wr_mask``: in, W. At an
      edge where ``wr_en`` is 1, the bits of word ``wr_addr`` set in ``wr_mask`` take
      ``wr_data``; the others keep theirs.

    A read of the word the same edge writes returns undefined data in the written bits;
    addresses ``>= words`` read undefined data and must not be written. No reset: the content
    is undefined until written.
    """

    def __init__(self, config: BufferConfig):
        aw, w = config.addr_width, config.width
        super().__init__({
            "rd_en": In(1),
            "rd_addr": In(aw),
            "rd_data": Out(w),
            "wr_en": In(1),
            "wr_addr": In(aw),
            "wr_data": In(w),
            "wr_mask": In(w),
        })


def buffer_ports(config: BufferConfig) -> list[tuple[str, str, int]]:
    """``(name, direction, width)`` of the buffer module's ports, in order (``clk`` first)."""
    out = [("clk", "input", 1)]
    for name, member in BufferSignature(config).members.items():
        out.append((name, "input" if member.flow == In else "output",
                    Shape.cast(member.shape).width))
    return out


class OperandBuffer(wiring.Component):
    """Behavioural 1R1W buffer (`BufferSignature`), no reset and no power-up value.

    ``poison`` (the simulation harness turns it on; generated Verilog leaves it off): what the
    contract leaves undefined comes out inverted, so a user that relies on it fails its
    regressions: the written bits of a word read at the edge that writes it, and the whole
    of ``rd_data`` in a cycle that does not follow a read (a real macro does not hold it)."""

    def __init__(self, config: BufferConfig, *, poison: bool = False):
        if not isinstance(config, BufferConfig):
            raise ValueError(f"`config` must be a BufferConfig, not {config!r}")
        self.config, self.poison = config, poison
        super().__init__({"clk": In(1), **BufferSignature(config).members})

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd = ClockDomain("sync", reset_less=True)
        m.d.comb += cd.clk.eq(self.clk)
        cfg = self.config
        w = cfg.width
        # a one-word buffer is a two-word memory whose second word is never addressed
        m.submodules.mem = mem = Memory(shape=w, depth=max(cfg.words, 2), init=[])
        wp = mem.write_port(granularity=1)
        m.d.comb += [wp.addr.eq(self.wr_addr), wp.data.eq(self.wr_data),
                     wp.en.eq(self.wr_mask & self.wr_en.replicate(w))]
        rp = mem.read_port(domain="sync", transparent_for=())
        m.d.comb += [rp.addr.eq(self.rd_addr), rp.en.eq(self.rd_en)]
        if not self.poison:
            m.d.comb += self.rd_data.eq(rp.data)
            return m
        clash = Signal(w, name="clash", reset_less=True)
        fresh = Signal(name="fresh", reset_less=True)      # the previous edge read
        m.d.sync += [clash.eq(self.wr_mask & (self.wr_en & self.rd_en &
                                              (self.rd_addr == self.wr_addr)).replicate(w)),
                     fresh.eq(self.rd_en)]
        m.d.comb += self.rd_data.eq(rp.data ^ clash ^ (~fresh).replicate(w))
        return m


class BufferTop(wiring.Component):
    """The buffer alone as a design top (``flexspim generate --top buffer``): the contract's
    ports (`BufferSignature`) on the clock domain ``sync``, with the buffer instantiated by
    name, so ``--array blackbox`` leaves it empty as in every design that holds one."""

    def __init__(self, config: BufferConfig):
        if not isinstance(config, BufferConfig):
            raise ValueError(f"`config` must be a BufferConfig, not {config!r}")
        self.config = self.buffer_config = config
        super().__init__(dict(BufferSignature(config).members))

    def elaborate(self, platform):
        m = Module()
        m.submodules.buffer = Instance(
            BUFFER_MODULE, i_clk=ClockSignal("sync"),
            **{("o_" if member.flow == Out else "i_") + name: getattr(self, name)
               for name, member in BufferSignature(self.config).members.items()})
        return m
