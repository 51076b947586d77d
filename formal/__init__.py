"""Bounded formal proofs (SymbiYosys + z3) of the blocks whose correctness no random test can
exhaust: the event FIFO, the event router, the bit-serial adder's arithmetic and the shaped
accumulate unit's carry chain across the columns of an operand group (issue 20), and the row
mover's backing-store port rules and row integrity (issue 22).

Each proof is a *harness*: an Amaranth component that instantiates the real design, drives
it from free inputs (the solver chooses them), and states the property with ``Assert``
against a reference written independently of the design. `flexspim.formal.sby.prove` emits
RTLIL and runs a bounded model check; `flexspim.formal.mutants` builds deliberately broken
variants of the design so a test can show each proof fails when it should. ``make formal``
(``python -m flexspim.formal``) runs every proof and every mutant.
"""
