"""The unified storage array: ``rows x cols`` bitcells, behavioural.

This is the one block a tapeout flow replaces with a custom bitcell macro (an SRAM-like array
with multi-row activation), so its interface is kept small and documented. Here it is an
Amaranth `Memory` of ``rows`` words of ``cols`` bits with ``P + 1`` asynchronous read ports
(the ``P`` activated weight rows and the potential row of one bit-serial cycle) and one
synchronous write port with a per-column write mask. Reads see the array as it was before the
clock edge that performs the write, so a cycle may read and write the same row.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from flexspim.config import MacroConfig

__all__ = ["ArraySignature", "CimArray"]


class ArraySignature(wiring.Signature):
    """Interface of the array, seen from the array.

    Members (``AW`` = ``config.row_addr_width``, ``N`` = ``config.batch_max + 1``):

    * ``rd_addr``: in, ``N * AW`` bits; read port ``i`` reads row ``rd_addr[i*AW:(i+1)*AW]``.
    * ``rd_data``: out, ``N * cols`` bits; port ``i`` returns its row at ``i*cols``,
      combinationally (asynchronous read). Addresses ``>= rows`` read an undefined value;
      the sequencer never issues them.
    * ``wr_addr``: in, ``AW``; ``wr_data``: in, ``cols``; ``wr_en``: in, ``cols``, one enable
      per column; the write happens at the rising clock edge.
    """

    def __init__(self, config: MacroConfig):
        n, aw, cols = config.batch_max + 1, config.row_addr_width, config.cols
        super().__init__({
            "rd_addr": In(n * aw),
            "rd_data": Out(n * cols),
            "wr_addr": In(aw),
            "wr_data": In(cols),
            "wr_en": In(cols),
        })


class CimArray(wiring.Component):
    """Behavioural ``rows x cols`` array with ``P + 1`` read ports and one masked write port.

    Ports: see `ArraySignature`. All bits reset to 0 only at power-up (``init``); the
    synchronous reset does not clear storage, as in an SRAM.
    """

    def __init__(self, config: MacroConfig):
        if not isinstance(config, MacroConfig):
            raise ValueError(f"`config` must be a MacroConfig, not {config!r}")
        self.config = config
        super().__init__(ArraySignature(config))

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        n, aw, cols = cfg.batch_max + 1, cfg.row_addr_width, cfg.cols
        # Verilog has no zero-width address: a one-row array becomes a two-word memory
        # whose second word is never addressed (the sequencer rejects rows >= 1).
        m.submodules.mem = mem = Memory(shape=cols, depth=max(cfg.rows, 2), init=[])

        wp = mem.write_port(granularity=1)
        m.d.comb += [wp.addr.eq(self.wr_addr), wp.data.eq(self.wr_data),
                     wp.en.eq(self.wr_en)]
        for i in range(n):
            rp = mem.read_port(domain="comb")
            m.d.comb += [rp.addr.eq(self.rd_addr[i * aw:(i + 1) * aw]),
                         self.rd_data[i * cols:(i + 1) * cols].eq(rp.data)]
        return m
