"""Adders whose logic depth grows with log2 of the width, for the core's wide datapaths.

Yosys maps a plain ``a + b`` to a ripple-carry chain, about one gate level per bit: a 32-bit
status counter alone is 34 levels flop to flop, which is what kept the core's critical path
long. These helpers build the carries with a Sklansky parallel prefix (``log2(width)``
levels of AND-OR) and reduce several operands with carry-save (3:2) layers first, so a sum
of ``n`` operands of ``w`` bits costs about ``2 (log1.5(n / 2)) + 2 log2(w) + 2`` levels. A
commercial flow picks such adders itself; writing them out makes the depth the same in every
flow, Yosys included.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, Value

__all__ = ["prefix_sum", "carry_save", "carry_save_sum", "less_than", "below"]


def _named(m: Module, value: Value, name: str) -> Signal:
    s = Signal(len(value), name=name)
    m.d.comb += s.eq(value)
    return s


def prefix_sum(m: Module, a: Value, b: Value, width: int, name: str) -> Signal:
    """``(a + b) mod 2**width`` (operands zero-extended or truncated to ``width``)."""
    a, b = Value.cast(a).as_unsigned(), Value.cast(b).as_unsigned()
    bit = lambda v, i: v[i] if i < len(v) else 0          # noqa: E731
    half = _named(m, Cat(*[bit(a, i) ^ bit(b, i) for i in range(width)]), f"{name}_p")
    n = width - 1                          # carries into bits 1..width-1
    g = [_named(m, bit(a, i) & bit(b, i), f"{name}_g0_{i}") for i in range(n)]
    p = [half[i] for i in range(n)]
    span, level = 1, 1
    while span < n:
        g, p = list(g), list(p)
        for i in range(n):
            if i & span:                   # combine with the end of the lower half-block
                j = (i & ~(2 * span - 1)) + span - 1
                g[i] = _named(m, g[i] | (p[i] & g[j]), f"{name}_g{level}_{i}")
                p[i] = p[i] & p[j]
        span, level = 2 * span, level + 1
    out = Signal(width, name=name)
    m.d.comb += out.eq(Cat(half[0], *[half[i] ^ g[i - 1] for i in range(1, width)]))
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
