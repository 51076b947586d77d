"""Formal proofs (SymbiYosys): each proof passes on the real design and fails on a
deliberately broken variant. The default tier runs one small proof and one mutant per block
(a few seconds each); ``make regress`` adds the other mutants; ``make formal`` runs the full
set at larger bounds (`flexspim.formal.proofs.FULL`).
"""

from __future__ import annotations

import pytest

from flexspim.formal.mutants import MUTANTS, Mutant, mutate
from flexspim.formal.proofs import MUTANT_CHECKS, QUICK
from flexspim.formal.sby import prove

DEFAULT_MUTANTS = ["fifo_head_from_input", "router_resend", "adder_keeps_carry",
                   "shaped_no_column_carry", "mover_exceeds_outstanding"]
OTHER_MUTANTS = sorted(set(MUTANTS) - set(DEFAULT_MUTANTS))


@pytest.mark.parametrize("block", sorted(QUICK))
def test_proof_passes_on_the_design(block, tmp_path):
    proof = QUICK[block]
    r = prove(proof.build(None), proof.name, proof.depth, folder=tmp_path / proof.name)
    assert r.passed, f"{proof.name}: {r.failure} (counterexample {r.trace})"


def _check_mutant(name, tmp_path):
    proof = MUTANT_CHECKS[name]
    r = prove(proof.build(mutate(MUTANTS[name])), name, proof.depth, folder=tmp_path / name)
    assert not r.passed, f"proof {proof.name} did not catch mutant {name}: {MUTANTS[name].why}"
    assert r.failure and r.trace is not None and r.trace.is_file()


@pytest.mark.parametrize("name", DEFAULT_MUTANTS)
def test_proof_fails_on_a_broken_variant(name, tmp_path):
    _check_mutant(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", OTHER_MUTANTS)
def test_proof_fails_on_other_broken_variants(name, tmp_path, regress):
    if not regress:
        pytest.skip("long tier (make regress / make formal)")
    _check_mutant(name, tmp_path)


def test_a_stale_mutant_is_an_error_not_a_silent_pass():
    stale = Mutant("stale", "flexspim.hdl.fifo", "EventFIFO", "no such text", "x", "none")
    with pytest.raises(ValueError, match="occurs 0 times in flexspim.hdl.fifo"):
        mutate(stale)
