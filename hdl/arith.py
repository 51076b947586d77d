"""Adders whose logic depth grows with log2 of the width, for the core's wide datapaths.

Yosys maps a plain ``a + b`` to a ripple-carry chain, about one gate level per bit: a 32-bit
status counter alone is 34 levels flop to flop, which is what kept the core's critical path
long. These helpers build the carries with a Kogge-Stone parallel prefix (``log2(width)``
levels of AND-OR, written on whole vectors) and reduce several operands with carry-save
(3:2) layers first, so a sum of ``n`` operands of ``w`` bits costs about
``2 (log1.5(n / 2)) + 2 log2(w) + 2`` levels. A
commercial flow picks such adders itself; writing them out makes the depth the same in every
flow, Yosys included.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, Value
from amaranth.hdl._ast import Operator

__all__ = ["prefix_sum", "carry_save", "carry_save_sum", "less_than", "below",
           "thermometer"]


def _named(m: Module, value, name: str):
    """``value`` as a named wire; constant bits (Python ints) stay constants, so nothing is
    emitted for them (Amaranth would emit unused constant wires)."""
    if isinstance(value, int) or not isinstance(value, Operator):
        return value                       # a constant or a plain bit: nothing to name
    s = Signal(len(value), name=name)
    m.d.comb += s.eq(value)
    return s


def prefix_sum(m: Module, a, b, width: int, name: str) -> Signal:
    """``(a + b) mod 2**width`` (operands zero-extended or truncated to ``width``; either may
    be a Python int).

    A Kogge-Stone prefix on whole vectors: level ``d`` (1, 2, 4, ...) combines every bit's
    (generate, propagate) pair with the pair ``d`` bits below, one AND-OR per level, so the
    carries take ``ceil(log2(width))`` levels. Written as shifts and bitwise operations of
    ``width``-bit vectors, it is a handful of wide signals in the Verilog (a bit-level
    Sklansky tree was thousands of one-bit wires, which made the core's simulation slow).
    Low bits shift in zeros: a group that reaches bit 0 is final (no carry-in), so its
    propagate, zeroed, is never combined with a non-zero generate.
    """
    def vec(v):
        if isinstance(v, int):
            return Const(v % (1 << width), width)
        v = Value.cast(v).as_unsigned()
        return v[:width] if len(v) >= width else v | Const(0, width)

    av, bv = vec(a), vec(b)
    p = Signal(width, name=f"{name}_p")
    m.d.comb += p.eq(av ^ bv)
    g, pp = _named(m, av & bv, f"{name}_g0"), p
    d, level = 1, 1
    while d < width - 1:                   # carries into bits 1..width-1 span width-1 bits
        g2 = Signal(width, name=f"{name}_g{level}")
        m.d.comb += g2.eq(g | (pp & (g << d)[:width]))
        if 2 * d < width - 1:              # the last level needs no propagate
            p2 = Signal(width, name=f"{name}_q{level}")
            m.d.comb += p2.eq(pp & (pp << d)[:width])
            pp = p2
        g, d, level = g2, 2 * d, level + 1
    out = Signal(width, name=name)
    m.d.comb += out.eq(p ^ (g << 1)[:width])
    return out


def carry_save(m: Module, operands: list[Value], width: int, name: str) -> tuple[Value, Value]:
    """Two vectors whose sum is ``sum(operands) mod 2**width`` (3:2 carry-save layers)."""
    ops = [Value.cast(v).as_unsigned() for v in operands]
    layer = 0
    while len(ops) > 2:
        nxt = []
        for n in range(0, len(ops) - 2, 3):
            x, y, z = ops[n:n + 3]
            nxt.append(_named(m, (x ^ y ^ z)[:width], f"{name}_s{layer}_{n}"))
            nxt.append(_named(m, Cat(0, ((x & y) | (x & z) | (y & z)))[:width],
                              f"{name}_c{layer}_{n}"))
        nxt += ops[len(ops) - len(ops) % 3:] if len(ops) % 3 else []
        ops, layer = nxt, layer + 1
    if len(ops) == 1:
        ops.append(Value.cast(0))
    return ops[0], ops[1]


def carry_save_sum(m: Module, operands: list[Value], width: int, name: str) -> Signal:
    """``sum(operands) mod 2**width``: `carry_save`, then one `prefix_sum`."""
    x, y = carry_save(m, operands, width, name)
    return prefix_sum(m, x, y, width, name)


def less_than(m: Module, a: Value, b: Value, name: str) -> Value:
    """``a < b`` for unsigned ``a``, ``b``: the sign of ``a - b``, from a `prefix_sum`."""
    a, b = Value.cast(a).as_unsigned(), Value.cast(b).as_unsigned()
    w = max(len(a), len(b))
    # a + ~b + 1 in w + 1 bits; the extra low bit (1 + 1) supplies the carry-in
    d = prefix_sum(m, Cat(1, a, Value.cast(0).replicate(w + 1 - len(a))),
                   Cat(1, ~Cat(b, Value.cast(0).replicate(w + 1 - len(b)))), w + 2, name)
    return d[w + 1]


def below(x: Value, c: int) -> Value:
    """``x < c`` for unsigned ``x`` and a constant ``c``, as a balanced tree (a plain ``<``
    becomes a ripple subtraction in Yosys)."""
    x = Value.cast(x).as_unsigned()
    w = len(x)
    if c <= 0:
        return Value.cast(0)
    if c >= 1 << w:
        return Value.cast(1)
    if w == 1:
        return ~x[0]                       # c == 1
    h = w // 2
    lo, hi, c_lo, c_hi = x[:h], x[h:], c & ((1 << h) - 1), c >> h
    return below(hi, c_hi) | ((hi == c_hi) & below(lo, c_lo))


def thermometer(x: Value, n: int) -> Value:
    """``n`` bits, bit ``c`` = ``x > c``, for unsigned ``x``: a thermometer decoder built on
    vectors, one AND/OR level per bit of ``x`` below ``ceil(log2(n))`` (``n`` separate
    `below` trees were thousands of one-bit nets). With ``x = top * 2**k + rest``:
    ``x > c`` is ``top | (rest > c)`` for ``c < 2**k`` and ``top & (rest > c - 2**k)`` above.
    """
    x = Value.cast(x).as_unsigned()
    k = max(1, (n - 1).bit_length())       # bits that the decoder spans: 2**k >= n
    low, high = x[:k], x[k:]
    t = Cat(low[0], Const(0, 1))           # x's bit 0 alone: (x > 0, x > 1)
    for j in range(1, min(k, len(x))):
        top = low[j].replicate(len(t))
        t = Cat(t | top, t & top)
    t = Cat(t, Value.cast(0).replicate(max(0, n - len(t))))[:n]   # x has fewer than k bits
    if len(high):
        t = t | high.any().replicate(n)    # x >= 2**k > c
    return t
