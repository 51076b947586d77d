"""The catalogue of proofs and mutant checks that ``make formal`` runs.

Bounds: a bounded proof covers every behaviour within ``depth`` cycles of reset. They are
chosen so each run reaches every state of the block's control (all pointer positions and
fill levels of a depth-``D`` FIFO take ``2D`` cycles, then ``D + 1`` more to pop what was
there), every source sequence can be fully delivered with stalls in between, and an addition
runs to its last guard cycle after arbitrary junk cycles; the shaped accumulate runs a free
prelude command and then the checked one to its clamp pass's last write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flexspim.config import MacroConfig

from .adder import AdderHarness
from .fifo import FifoHarness
from .mover import MoverHarness
from .mutants import MUTANTS, mutate
from .router import RouterHarness
from .shaped import ShapedAccumulateHarness, shaped_bound

__all__ = ["Proof", "fifo_proof", "router_proof", "adder_proof", "shaped_proof", "mover_proof",
           "FULL", "QUICK",
           "MUTANT_CHECKS"]


@dataclass(frozen=True)
class Proof:
    name: str
    build: Callable[[type | None], object]   # design class (None: the real one) -> harness
    depth: int


def fifo_proof(depth: int, width: int = 3) -> Proof:
    return Proof(f"fifo_depth{depth}",
                 lambda cls=None: FifoHarness(width=width, depth=depth, fifo_cls=cls),
                 max(8, 3 * depth + 4))


def router_proof(n_cores: int, pattern: str, depth: int, index_bits: int = 2) -> Proof:
    return Proof(f"router_{n_cores}core_{pattern}",
                 lambda cls=None: RouterHarness(n_cores=n_cores, index_bits=index_bits,
                                                pattern=pattern, router_cls=cls), depth)


def adder_proof(P: int, bv: int, bw: int) -> Proof:
    # junk cycles + the addition + one cycle to check its end
    guard = MacroConfig(rows=2, cols=1, batch_max=P).guard_cycles
    return Proof(f"adder_P{P}_bv{bv}_bw{bw}",
                 lambda cls=None: AdderHarness(P=P, bv=bv, bw=bw, junk=2, adder_cls=cls),
                 2 + bv + guard + 1)


def shaped_proof(n_c: int, P: int, bv: int, bw: int, M: int | None = None,
                 prelude: bool = True) -> Proof:
    # a prelude command (free fields, leaves the unit's registers and the array as it ends)
    # then the checked command to its clamp pass's last write: the bound is the harness's
    M = n_c if M is None else M
    return Proof(f"shaped_M{M}_nc{n_c}_P{P}_bv{bv}_bw{bw}" + ("" if prelude else "_noprelude"),
                 lambda cls=None: ShapedAccumulateHarness(n_c=n_c, M=M, P=P, bv=bv, bw=bw,
                                                          prelude=prelude, unit_cls=cls),
                 shaped_bound(n_c, P, bv, bw, M, prelude))


def mover_proof(words: int, width: int, addr_bits: int, outstanding: int, depth: int) -> Proof:
    # free commands, server and resets from the first cycle; the bound covers a whole
    # transfer of every row count with stalls, or several short ones back to back
    from flexspim.config import BufferConfig, MoverConfig

    cfg = MoverConfig(BufferConfig(words, width), addr_bits=addr_bits, outstanding=outstanding)
    return Proof(f"mover_{words}x{width}_a{addr_bits}_o{outstanding}",
                 lambda cls=None: MoverHarness(cfg, mover_cls=cls), depth)


#: ``make formal``: every FIFO depth path (registers at depth 1-2; SyncFIFOBuffered at
#: power-of-two and other depths), routers of 2 and 3 ports, and the adder at every
#: bv <= 4, bw <= bv, P <= 3, plus two P = 4 cases; the shaped accumulate unit at the
#: cases below; the row mover at three geometries (29 proofs, about 6 minutes on the
#: shared 2-core machine; the mover's three took 52 s)
FULL: list[Proof] = (
    [fifo_proof(d) for d in (1, 2, 3, 4)]
    + [router_proof(1, "EETET", 12), router_proof(2, "ETET", 10)]
    + [adder_proof(P, bv, bw) for P in (1, 2, 3) for bv in range(1, 5) for bw in range(1, bv + 1)]
    + [adder_proof(4, 4, 4), adder_proof(4, 3, 1)]
    # the shaped accumulate unit (issue 20): one group of N_C = 2 and 4 (M = N_C) at full and
    # partial last rows, bw from 1 to bv; the run-time shapes 1 and 2 of an M = 4 unit (two
    # and four groups side by side); P up to 4 (bv 13 at N_C 4: the partial row)
    + [shaped_proof(2, P, bv, bw) for P in (1, 2) for bv, bw in ((1, 1), (3, 2), (4, 4),
                                                                 (5, 3), (7, 3))]
    + [shaped_proof(4, P, bv, bw) for P in (1, 2) for bv, bw in ((2, 1), (4, 4), (5, 3),
                                                                 (6, 2), (9, 5))]
    + [shaped_proof(4, 2, 13, 7), shaped_proof(4, 3, 6, 6), shaped_proof(4, 4, 5, 5)]
    + [shaped_proof(2, P, 5, 4, M=4) for P in (1, 2)] + [shaped_proof(2, 1, 3, 2, M=4)]
    + [shaped_proof(1, 1, 3, 3, M=4)]
    # the row mover (issue 22): 1 and 3 words, 1 and 2 in flight
    + [mover_proof(3, 2, 2, 2, 16), mover_proof(1, 1, 1, 1, 12), mover_proof(3, 1, 3, 1, 16)]
)

#: the default test tier: one small proof per block (the shaped unit: one group of 4 columns
#: at P = 2 with a partial last row, and the run-time shape 2 of a 4-column unit)
QUICK: dict[str, Proof] = {
    "fifo": fifo_proof(3),
    "fifo_registers": fifo_proof(2),
    "router": router_proof(1, "ETET", 8),
    "adder": adder_proof(2, 3, 2),
    "shaped": shaped_proof(4, 2, 5, 3),
    "shaped_nc2": shaped_proof(2, 1, 3, 2, M=4),
    "mover": mover_proof(3, 2, 2, 2, 12),
}

#: each mutant, with the quick proof that must catch it
MUTANT_CHECKS: dict[str, Proof] = {
    "fifo_head_from_input": fifo_proof(2),
    "fifo_ready_when_full": fifo_proof(3),
    "router_resend": QUICK["router"],
    "router_tick_early": QUICK["router"],
    "adder_keeps_carry": QUICK["adder"],
    "adder_short_carry": QUICK["adder"],
    "shaped_no_column_carry": QUICK["shaped"],
    "shaped_row_carry_low": QUICK["shaped"],
    "shaped_keeps_carry": QUICK["shaped"],
    "shaped_writes_padding": QUICK["shaped"],
    "mover_exceeds_outstanding": QUICK["mover"],
    "mover_store_wrong_word": QUICK["mover"],
}
if set(MUTANT_CHECKS) != set(MUTANTS):
    raise RuntimeError("every mutant needs a proof that catches it in MUTANT_CHECKS")


def mutant_class(name: str) -> type:
    return mutate(MUTANTS[name])
