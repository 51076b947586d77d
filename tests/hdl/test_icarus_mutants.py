"""The Icarus tier can fail: deliberately broken copies of the macro's RTL run through the
same cocotb regression (`test_rtl_macro`, compared bit for bit with the golden model) on
Icarus Verilog, and each must be caught. The unbroken design runs in the same set-up
(same geometry, seed and test case) and must pass, so a failure is the mutant's, not the
harness's.

The mutants are one-line edits of the design's source (`flexspim.formal.mutants.mutate`: a
stale edit is an error, never a silent pass), swapped in where the macro takes the block
from while the Verilog is generated. Part of ``make test-icarus``; skipped when Icarus
(``iverilog``) is not installed.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from dataclasses import dataclass

import pytest

from flexspim.config import MacroConfig
from flexspim.formal.mutants import MUTANTS, Mutant, mutate
from flexspim.testbench.sim import CocotbFailure


@dataclass(frozen=True)
class RtlMutant:
    mutant: Mutant
    patch: str          # "module.attribute" the design reads the mutated class from


ARRAY_IGNORES_MASK = Mutant(
    "array_ignores_mask", "flexspim.hdl.array", "CimArray",
    "wp.en.eq(self.wr_mask & self.wr_en.replicate(cols))",
    "wp.en.eq(self.wr_en.replicate(cols))",
    "the storage writes every column of the row, not only the masked ones")

RTL_MUTANTS = {m.mutant.name: m for m in [
    RtlMutant(MUTANTS["adder_keeps_carry"], "flexspim.hdl.accumulate.BitSerialAdderArray"),
    RtlMutant(ARRAY_IGNORES_MASK, "flexspim.hdl.emit.CimArray"),
]}

# small and quick on Icarus; P = 2 so that batches carry between additions
CFG = MacroConfig(rows=16, cols=6, batch_max=2)
TRIALS = 40


def _run(seed: int, name: str):
    from flexspim.hdl.macro import CimMacro
    from flexspim.testbench.sim import run_design

    return run_design(CimMacro(CFG), top="flexspim_macro", name=name, config=CFG,
                      test_module="test_rtl_macro", seed=seed, testcase="macro_random",
                      env={"FLEXSPIM_MACRO": json.dumps(CFG.to_dict()),
                           "FLEXSPIM_SEED": str(seed), "FLEXSPIM_TRIALS": str(TRIALS)})


needs_icarus = pytest.mark.skipif(shutil.which("iverilog") is None,
                                  reason="Icarus Verilog (iverilog) is not installed")
# three Icarus runs (~10 s each): the Icarus tier and the long tier, not the default one
icarus_tier = pytest.mark.skipif(
    os.environ.get("SIM", "").strip().lower() != "icarus"
    and os.environ.get("FLEXSPIM_TIER") != "regress",
    reason="Icarus tier: make test-icarus (SIM=icarus) or make regress")


@pytest.mark.rtl
@needs_icarus
@icarus_tier
@pytest.mark.parametrize("name", ["unbroken", *RTL_MUTANTS])
def test_icarus_tier_catches_broken_rtl(name, seed, monkeypatch):
    monkeypatch.setenv("SIM", "icarus")
    if name == "unbroken":
        _run(seed, "macro-icarus-control")
        return
    m = RTL_MUTANTS[name]
    module, attr = m.patch.rsplit(".", 1)
    monkeypatch.setattr(importlib.import_module(module), attr, mutate(m.mutant))
    with pytest.raises(CocotbFailure, match=r"1 of 1 cocotb tests failed") as err:
        _run(seed, f"macro-mutant-{name}")
    # a comparison with the golden model failed, not the build or a time-out
    assert "golden" in str(err.value), str(err.value)


def test_rtl_mutants_still_apply_to_the_source():
    for m in RTL_MUTANTS.values():
        mutate(m.mutant)      # raises if the edited text is gone from the design
