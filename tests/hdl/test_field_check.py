"""The accumulate unit's distinct-weight-row check (`AccumulateUnit._repeated_rows`, the
pair comparisons grouped per slot) equals the pairwise definition: on the Amaranth simulator
(no build), random rows with forced repeats, random and full enables. The RTL bad-field tests
(`test_rtl_macro.py`) check the whole command check against `AccumulateOp.check_fits`."""

from __future__ import annotations

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from flexspim.hdl.accumulate import AccumulateUnit


def reference(rows, en) -> list[bool]:
    """Per slot i < P-1: enabled, and some enabled j > i holds the same row."""
    P = len(rows)
    return [en[i] and any(en[j] and rows[j] == rows[i] for j in range(i + 1, P))
            for i in range(P - 1)]


def draw(rng, P, aw):
    rows = [int(r) for r in rng.integers(0, 1 << aw, P)]
    kind = rng.integers(4)
    if kind == 0 and P > 1:                  # one forced repeat at a random distance
        i, j = sorted(rng.choice(P, 2, replace=False))
        rows[j] = rows[i]
    elif kind == 1:                          # few distinct values: many repeats
        rows = [int(r) for r in rng.integers(0, min(3, 1 << aw), P)]
    elif kind == 2 and P > 1:                # repeats that differ in one bit only
        i, j = sorted(rng.choice(P, 2, replace=False))
        rows[j] = rows[i] ^ (1 << int(rng.integers(aw)))
    en = [bool(b) for b in rng.integers(0, 2, P)] if rng.integers(2) else [True] * P
    return rows, en


@pytest.mark.parametrize("P, aw", [(1, 4), (2, 1), (3, 3), (5, 8), (9, 9), (16, 5), (64, 7),
                                   (64, 12)])
def test_grouped_pair_check_equals_the_pairwise_definition(P, aw, rng, regress):
    w = [Signal(aw, name=f"w{i}") for i in range(P)]
    w_en = Signal(P)
    out = AccumulateUnit._repeated_rows(w, w_en)
    assert len(out) == P - 1
    m = Module()
    flags = Signal(max(P - 1, 1))
    for i, o in enumerate(out):
        m.d.comb += flags[i].eq(o)
    sim = Simulator(m)
    trials = 400 if regress else 60
    cases = [draw(rng, P, aw) for _ in range(trials)]
    cases.append(([0] * P, [True] * P))                          # all equal
    cases.append(([i % (1 << aw) for i in range(P)], [True] * P))  # distinct where they fit

    async def bench(ctx):
        for rows, en in cases:
            for s, r in zip(w, rows):
                ctx.set(s, r)
            ctx.set(w_en, sum(1 << i for i, e in enumerate(en) if e))
            got = [bool((ctx.get(flags) >> i) & 1) for i in range(P - 1)]
            assert got == reference(rows, en), (rows, en)

    sim.add_testbench(bench)
    sim.run()
