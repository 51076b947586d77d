"""The behavioural array (`flexspim.hdl.array.CimArray`) in Amaranth's simulator: reads are
synchronous (latency 1, held while ``rd_en`` is 0), writes are masked, and with ``poison`` a
read of the row written at the same edge returns the written columns inverted, so a
sequencer that relies on read-during-write fails its regressions (the harness turns it on)."""

from __future__ import annotations

import pytest
from amaranth.hdl import ClockDomain, ClockSignal, Module
from amaranth.sim import Simulator

from flexspim.config import MacroConfig
from flexspim.hdl.array import CimArray

CFG = MacroConfig(rows=4, cols=4, batch_max=1)     # two read ports, 2-bit addresses


def _run(poison: bool) -> list[tuple[str, int]]:
    dut = CimArray(CFG, poison=poison)
    m = Module()                      # the array takes its clock as a port (its own domain)
    m.domains.tb = ClockDomain("tb")
    m.submodules.dut = dut
    m.d.comb += dut.clk.eq(ClockSignal("tb"))
    sim = Simulator(m)
    sim.add_clock(1e-6, domain="tb")
    seen = []

    async def bench(ctx):
        async def edge():
            await ctx.tick("tb")

        def write(row, data, mask):
            ctx.set(dut.wr_en, 1)
            ctx.set(dut.wr_addr, row)
            ctx.set(dut.wr_data, data)
            ctx.set(dut.wr_mask, mask)

        def read(port, row):
            ctx.set(dut.rd_en, ctx.get(dut.rd_en) | (1 << port))
            ctx.set(dut.rd_addr, (ctx.get(dut.rd_addr) & ~(3 << 2 * port)) | (row << 2 * port))

        def data(port):
            return (ctx.get(dut.rd_data) >> 4 * port) & 0xF

        write(1, 0b1010, 0b1111)
        await edge()
        write(2, 0b0110, 0b1111)
        await edge()
        write(1, 0b1110, 0b0011)         # masked; the written bits equal the old ones
        read(0, 1)                       # the same row, at the same edge
        read(1, 2)                       # another row
        await edge()
        ctx.set(dut.wr_en, 0)
        ctx.set(dut.rd_en, 0)
        seen.append(("clash", data(0)))
        seen.append(("other", data(1)))
        await edge()
        seen.append(("held", data(1)))   # rd_en low: the output is held
        read(0, 1)
        await edge()
        ctx.set(dut.rd_en, 0)
        seen.append(("after", data(0)))

    sim.add_testbench(bench)
    sim.run()
    return seen


@pytest.mark.parametrize("poison", [False, True])
def test_array_reads_writes_and_poison(poison):
    got = dict(_run(poison))
    assert got["other"] == 0b0110 and got["held"] == 0b0110
    assert got["after"] == 0b1010, "the masked write changed an unmasked column"
    # the clashing read: the word (old and new are equal here), written columns inverted
    assert got["clash"] == (0b1010 ^ 0b0011 if poison else 0b1010)
