"""The log-depth adders and comparators (`hdl/arith.py`), exhaustively at small widths in
Amaranth's simulator (they are combinational helpers; the core's Verilator regressions use
them at full width)."""

from __future__ import annotations

import itertools

from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from flexspim.hdl.arith import below, carry_save_sum, less_than, prefix_sum, thermometer


def simulate(m: Module, check) -> None:
    sim = Simulator(m)

    async def bench(ctx):
        check(ctx)

    sim.add_testbench(bench)
    sim.run()


def test_prefix_sum_and_compares_exhaustive():
    m = Module()
    a, b = Signal(4), Signal(3)
    add = {w: prefix_sum(m, a, b, w, f"add{w}") for w in (1, 3, 5)}
    plus = {c: prefix_sum(m, a, c, 5, f"plus{c}") for c in (0, 1, 7, 30)}
    lt = Signal()
    m.d.comb += lt.eq(less_than(m, a, b, "lt"))
    consts = [0, 1, 5, 15, 16, 40]
    bl = {c: Signal(name=f"below{c}") for c in consts}
    for c, s in bl.items():
        m.d.comb += s.eq(below(a, c))

    def check(ctx):
        for x, y in itertools.product(range(16), range(8)):
            ctx.set(a, x)
            ctx.set(b, y)
            for w, s in add.items():
                assert ctx.get(s) == (x + y) % (1 << w), (w, x, y)
            for c, s in plus.items():
                assert ctx.get(s) == (x + c) % 32, (c, x)
            assert ctx.get(lt) == int(x < y), (x, y)
            for c, s in bl.items():
                assert ctx.get(s) == int(x < c), (x, c)

    simulate(m, check)


def test_carry_save_sum_of_many_operands(rng):
    m = Module()
    ops = [Signal(4, name=f"op{i}") for i in range(5)]
    sums = {n: carry_save_sum(m, ops[:n], 6, f"sum{n}") for n in (1, 2, 3, 5)}

    def check(ctx):
        for _ in range(100):
            v = [int(x) for x in rng.integers(0, 16, size=5)]
            for s, x in zip(ops, v):
                ctx.set(s, x)
            for n, s in sums.items():
                assert ctx.get(s) == sum(v[:n]) % 64, (n, v)

    simulate(m, check)


def test_prefix_sum_wide_random(rng):
    """Widths where the prefix needs 4-6 levels (the core's counters are 32 bits)."""
    m = Module()
    a, b = Signal(40), Signal(33)
    adds = {w: prefix_sum(m, a, b, w, f"add{w}") for w in (9, 17, 32, 33, 41)}

    def check(ctx):
        for _ in range(300):
            x, y = int(rng.integers(0, 1 << 40)), int(rng.integers(0, 1 << 33))
            if rng.random() < 0.3:              # long carry chains
                x, y = (1 << 40) - 1, int(rng.integers(0, 4))
            ctx.set(a, x)
            ctx.set(b, y)
            for w, s in adds.items():
                assert ctx.get(s) == (x + y) % (1 << w), (w, x, y)

    simulate(m, check)


def test_thermometer_exhaustive():
    m = Module()
    xs = {w: Signal(w, name=f"x{w}") for w in (1, 2, 5)}
    th = {(w, n): Signal(n, name=f"t{w}_{n}") for w in xs for n in (1, 2, 3, 4, 8, 13, 16)}
    for (w, n), s in th.items():
        m.d.comb += s.eq(thermometer(xs[w], n))

    def check(ctx):
        for w, x in xs.items():
            for v in range(1 << w):
                ctx.set(x, v)
                for (w2, n), s in th.items():
                    if w2 == w:
                        want = sum(1 << c for c in range(n) if v > c)
                        assert ctx.get(s) == want, (w, n, v)

    simulate(m, check)
