"""Bit-serial adders of all columns at once, built bit-sliced.

Each column adds, per cycle, ``n`` one-bit operands (the activated weight bits and the
potential bit) and its carry register; bit 0 of the sum leaves as the result bit, the rest
is the new carry. Rather than ``cols`` separate adder instances, the logic is written on
``cols``-bit vectors: a counter value is held as *bit planes* (plane ``j`` is the vector of
bit ``j`` of every column's counter) and reduced with full and half adders made of bitwise
vector operations. The Verilog stays a handful of wide signals, which converts and builds
fast whatever ``cols`` is, and synthesizes to the same per-column gates.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from flexspim.config import MacroConfig

__all__ = ["compress", "BitSerialAdderArray"]


def compress(m: Module, columns: dict[int, list[Value]], width: int, name: str) -> list[Value]:
    """Sum weighted bit vectors, column-wise: ``sum(v << w for w, vs in columns for v in vs)``.

    Returns ``width`` planes (plane ``j`` has weight ``2**j``). The caller guarantees every
    column's sum is below ``2**width``; carries out of the top plane are therefore always 0
    and dropped. Full adders (3 -> 2) then half adders (2 -> 2) reduce each weight to one
    vector, lowest weight first.
    """
    cols = {w: list(vs) for w, vs in columns.items()}
    n = 0

    def net(value: Value) -> Signal:
        nonlocal n
        s = Signal(len(value), name=f"{name}_{n}")
        n += 1
        m.d.comb += s.eq(value)
        return s

    out: list[Value] = []
    for w in range(width):
        vs = cols.get(w, [])
        while len(vs) > 1:
            if len(vs) >= 3:
                a, b, c = vs.pop(0), vs.pop(0), vs.pop(0)
                vs.append(net(a ^ b ^ c))
                carry = net((a & b) | (c & (a ^ b)))
            else:
                a, b = vs.pop(0), vs.pop(0)
                vs.append(net(a ^ b))
                carry = net(a & b)
            if w + 1 < width:
                cols.setdefault(w + 1, []).append(carry)
        out.append(vs[0] if vs else None)
    like = next(v for vs in columns.values() for v in vs)
    return [v if v is not None else Signal(len(like), name=f"{name}_zero{j}")
            for j, v in enumerate(out)]


class BitSerialAdderArray(wiring.Component):
    """One bit-serial adder per column, for a macro of geometry ``config``.

    Ports (``cols`` = ``config.cols``, ``P`` = ``config.batch_max``,
    ``CW`` = ``config.carry_width``):

    * ``operands``: in, ``(P + 1) * cols`` bits. Operand ``i`` is bits ``i*cols ..
      (i+1)*cols - 1``: the bit of each column's ``i``-th addend this cycle (the activated
      weight rows and the potential row; unused ones are 0).
    * ``first``: in, 1. This is cycle 0 of an addition: the carry counts as 0.
    * ``en``: in, 1. Update the carry registers at the clock edge.
    * ``sum``: out, ``cols``. Bit 0 of ``operands + carry`` in each column.
    * ``carry``: out, ``CW * cols``. Plane-major carry registers (plane ``j`` at
      ``j*cols``), for observation; each column's carry never exceeds ``P``.
    * ``sum_hi``: out, ``CW * cols``. The carry that the next edge stores (``sum >> 1``).
    """

    def __init__(self, config: MacroConfig):
        if not isinstance(config, MacroConfig):
            raise ValueError(f"`config` must be a MacroConfig, not {config!r}")
        self.config = config
        cols, n, cw = config.cols, config.batch_max + 1, config.carry_width
        super().__init__({
            "operands": In(n * cols),
            "first": In(1),
            "en": In(1),
            "sum": Out(cols),
            "carry": Out(cw * cols),
            "sum_hi": Out(cw * cols),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        cols, n, cw = cfg.cols, cfg.batch_max + 1, cfg.carry_width

        planes = [Signal(cols, name=f"carry{j}") for j in range(cw)]
        live = [Signal(cols, name=f"carry_in{j}") for j in range(cw)]
        for p, c in zip(live, planes):
            m.d.comb += p.eq(c & ~self.first.replicate(cols))

        terms = {0: [self.operands[i * cols:(i + 1) * cols] for i in range(n)]}
        for j, p in enumerate(live):
            terms.setdefault(j, []).append(p)
        # the sum is at most 2P + 1 < 2**(cw + 1)
        total = compress(m, terms, cw + 1, "csa")

        m.d.comb += self.sum.eq(total[0])
        for j in range(cw):
            m.d.comb += self.sum_hi[j * cols:(j + 1) * cols].eq(total[j + 1])
            m.d.comb += self.carry[j * cols:(j + 1) * cols].eq(planes[j])
            with m.If(self.en):
                m.d.sync += planes[j].eq(total[j + 1])
        return m
