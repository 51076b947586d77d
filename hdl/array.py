"""The unified storage array: ``rows x cols`` bitcells behind the CIM-array contract.

This is the one block a tapeout flow replaces with a custom bitcell macro, so its interface is
the contract written in ``docs/array.md``: ``N = P + 1`` synchronous read ports (the ``P``
weight rows and the potential row one bit-serial cycle activates), one synchronous write port
with a per-column mask, no reset. Here it is behavioural: an Amaranth `Memory` of ``rows``
words of ``cols`` bits.

The generated Verilog keeps it as its own module, ``<prefix>_cim_array`` (`CimMacro`
instantiates it by name), so ``flexspim generate --array blackbox`` can leave it empty.
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, Module, Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from flexspim.config import MacroConfig

__all__ = ["ARRAY_MODULE", "ArraySignature", "CimArray", "array_ports"]

#: Module name of the array in generated Verilog, before the prefix (``<prefix>_cim_array``).
ARRAY_MODULE = "cim_array"


class ArraySignature(wiring.Signature):
    """Interface of the array, seen from the array (``AW`` = ``row_addr_width``,
    ``N`` = ``batch_max + 1``). All ports are sampled at the rising edge of ``clk``.

    * ``rd_en``: in, N; ``rd_addr``: in, ``N * AW``. Port ``i`` reads row
      ``rd_addr[i*AW +: AW]`` at the edge where ``rd_en[i]`` is 1.
    * ``rd_data``: out, ``N * cols``. Port ``i``'s row at ``i*cols``, from the edge after the
      read until its next read (read latency 1, output held while ``rd_en[i]`` is 0).
    * ``wr_en``: in, 1; ``wr_addr``: in, AW; ``wr_data``: in, cols; ``wr_mask``: in, cols.
      At an edge where ``wr_en`` is 1, the columns set in ``wr_mask`` of row ``wr_addr`` take
      ``wr_data``; the others keep their bits.

    A read of a row that the same edge writes returns undefined data in the written columns
    (the regressions' model, ``CimArray(poison=True)``, inverts them so that a sequencer
    relying on it fails its tests);
    addresses ``>= rows`` read undefined data and must not be written. The sequencers
    never do either.
    """

    def __init__(self, config: MacroConfig):
        n, aw, cols = config.batch_max + 1, config.row_addr_width, config.cols
        super().__init__({
            "rd_en": In(n),
            "rd_addr": In(n * aw),
            "rd_data": Out(n * cols),
            "wr_en": In(1),
            "wr_addr": In(aw),
            "wr_data": In(cols),
            "wr_mask": In(cols),
        })


def array_ports(config: MacroConfig) -> list[tuple[str, str, int]]:
    """``(name, direction, width)`` of the array module's ports, in order (``clk`` first)."""
    out = [("clk", "input", 1)]
    for name, member in ArraySignature(config).members.items():
        width = Shape.cast(member.shape).width
        out.append((name, "input" if member.flow == In else "output", width))
    return out


class CimArray(wiring.Component):
    """Behavioural ``rows x cols`` array: ``P + 1`` synchronous read ports, one masked write
    port (`ArraySignature`). Storage has no reset and no power-up value, as in an SRAM.

    ``poison``: a read of the row being written at the same edge returns the written columns
    inverted (the contract says undefined). The simulation harness turns it on, so relying on
    it fails a regression; generated Verilog leaves it off (no logic a real array lacks)."""

    def __init__(self, config: MacroConfig, *, poison: bool = False):
        if not isinstance(config, MacroConfig):
            raise ValueError(f"`config` must be a MacroConfig, not {config!r}")
        self.config, self.poison = config, poison
        super().__init__({"clk": In(1), **ArraySignature(config).members})

    def elaborate(self, platform):
        m = Module()
        # its own reset-less clock domain: the only ports are clk and the contract's
        m.domains.sync = cd = ClockDomain("sync", reset_less=True)
        m.d.comb += cd.clk.eq(self.clk)
        cfg = self.config
        n, aw, cols = cfg.batch_max + 1, cfg.row_addr_width, cfg.cols
        # Verilog has no zero-width address: a one-row array becomes a two-word memory
        # whose second word is never addressed (the sequencer rejects rows >= 1).
        m.submodules.mem = mem = Memory(shape=cols, depth=max(cfg.rows, 2), init=[])

        wp = mem.write_port(granularity=1)
        m.d.comb += [wp.addr.eq(self.wr_addr), wp.data.eq(self.wr_data),
                     wp.en.eq(self.wr_mask & self.wr_en.replicate(cols))]
        for i in range(n):
            rp = mem.read_port(domain="sync", transparent_for=())
            addr = self.rd_addr[i * aw:(i + 1) * aw]
            m.d.comb += [rp.addr.eq(addr), rp.en.eq(self.rd_en[i])]
            data = self.rd_data[i * cols:(i + 1) * cols]
            if not self.poison:
                m.d.comb += data.eq(rp.data)
                continue
            # the written columns of a row read at the edge that writes it
            clash = Signal(cols, name=f"clash{i}", reset_less=True)
            with m.If(self.rd_en[i]):
                m.d.sync += clash.eq(self.wr_mask & (self.wr_en & (addr == self.wr_addr))
                                     .replicate(cols))
            m.d.comb += data.eq(rp.data ^ clash)
        return m
