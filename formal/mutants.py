"""Deliberately broken variants of the designs, to show that each proof can fail.

A mutant is the design's own source with one small textual edit, executed as a fresh module
beside the real one (the real module is untouched). If the design's source no longer
contains the text a mutant edits, `mutate` says so instead of silently testing the original.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass

__all__ = ["Mutant", "MUTANTS", "mutate"]


@dataclass(frozen=True)
class Mutant:
    name: str
    module: str        # e.g. "flexspim.hdl.fifo"
    cls: str           # the class the harness instantiates
    old: str           # text replaced (must occur exactly once)
    new: str
    why: str           # the bug it stands for


def mutate(mutant: Mutant) -> type:
    """The class ``mutant.cls`` from a copy of ``mutant.module`` with the edit applied."""
    real = importlib.import_module(mutant.module)
    source = inspect.getsource(real)
    if source.count(mutant.old) != 1:
        raise ValueError(f"mutant {mutant.name!r}: the text to edit occurs "
                         f"{source.count(mutant.old)} times in {mutant.module} (expected 1); "
                         f"update the mutant to the design's current source")
    package, _, leaf = mutant.module.rpartition(".")
    name = f"{package}._mutant_{leaf}_{mutant.name}"
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = package
    sys.modules[name] = module
    exec(compile(source.replace(mutant.old, mutant.new), f"<mutant {mutant.name}>", "exec"),
         module.__dict__)
    return getattr(module, mutant.cls)


MUTANTS = {m.name: m for m in [
    # (a) FIFO
    Mutant("fifo_head_from_input", "flexspim.hdl.fifo", "EventFIFO",
           "m.d.sync += head.eq(spare)", "m.d.sync += head.eq(self.w_data)",
           "the register FIFO refills its head from the input instead of the entry behind it"),
    Mutant("fifo_ready_when_full", "flexspim.hdl.fifo", "EventFIFO",
           "self.w_rdy.eq(fifo.w_rdy)", "self.w_rdy.eq(1)",
           "the FIFO claims to accept a write while full (the item is lost)"),
    # (b) router
    Mutant("router_resend", "flexspim.hdl.router", "EventRouter",
           "& src[p].valid & ~sent[p][t])", "& src[p].valid)",
           "a target that already took a port's head event takes it again (duplicate)"),
    Mutant("router_tick_early", "flexspim.hdl.router", "EventRouter",
           "m.d.comb += last.eq((waiting & (waiting - 1)) == 0)",
           "m.d.comb += last.eq(1)",
           "each source port's tick is forwarded instead of only the last one's (reorder)"),
    # (c) adder
    Mutant("adder_keeps_carry", "flexspim.hdl.adder", "BitSerialAdderArray",
           "m.d.comb += p.eq(c & ~self.first.replicate(cols))", "m.d.comb += p.eq(c)",
           "the first cycle of an addition adds the previous addition's leftover carry"),
    Mutant("adder_short_carry", "flexspim.hdl.adder", "BitSerialAdderArray",
           "total = compress(m, terms, cw + 1, \"csa\")",
           "total = compress(m, terms, cw + 1, \"csa\")[:-1]\n"
           "        total.append(total[-1] & 0)",
           "the sum tree drops its top carry plane (a width bug)"),
    # (d) shaped accumulate (issue 20)
    Mutant("shaped_no_column_carry", "flexspim.hdl.accumulate_shaped", "ShapedAccumulateUnit",
           "cin = [Mux(link[j], couts[j - 1][b], start[b]) for b in range(cw)]",
           "cin = [Mux(link[j], 0, start[b]) for b in range(cw)]",
           "the carry chain is cut between the columns of a group (each column adds alone)"),
    Mutant("shaped_row_carry_low", "flexspim.hdl.accumulate_shaped",
           "ShapedAccumulateUnit",
           "+ (1 << t) - 1, M - 1)][b])", "+ 0, M - 1)][b])",
           "the carry registered into the next row is the group's lowest column's, not its "
           "top column's"),
    Mutant("shaped_keeps_carry", "flexspim.hdl.accumulate_shaped", "ShapedAccumulateUnit",
           "start = [c & ~b_first.replicate(grp.blocks) for c in creg[j]]",
           "start = list(creg[j])",
           "the first row of an addition adds the previous command's leftover row carry"),
    Mutant("shaped_writes_padding", "flexspim.hdl.accumulate_shaped", "ShapedAccumulateUnit",
           "arr.wr_mask.eq(Mux(b_clamp, ovf_all, col_en) & grp.join(in_v))",
           "arr.wr_mask.eq(Mux(b_clamp, ovf_all, col_en))",
           "the padding cells of V's last row are written (with the sum's bits above bv - 1)"),
    # (e) row mover
    Mutant("mover_exceeds_outstanding", "flexspim.hdl.mover", "RowMover",
           "(inflight != cfg.outstanding)", "(inflight != cfg.outstanding + 1)",
           "the mover keeps requesting past `outstanding` in flight"),
    Mutant("mover_store_wrong_word", "flexspim.hdl.mover", "RowMover",
           "m.d.sync += q0.eq(q1)", "m.d.sync += q0.eq(buf.rd_data)",
           "a STORE's queue refills its head from the buffer instead of the entry behind it"),
]}
