"""Cycles of a sweep point measured in RTL simulation (cocotb + Verilator).

`measure_cycles` generates the point's `CimMacro` Verilog, builds it under Verilator (one
build folder per point, ``build/sim/sweep-<digest>``, so parallel workers never share one;
ccache makes rebuilds of an identical design fast) and runs `sweep.rtl_tb`, which issues
back-to-back accumulates and fire passes and times each from its issue cycle to its ``done``
pulse. `compare` checks them against the formulas: any difference (or a command the macro
rejected, or counts that vary between repeats) makes the point's status "rtl-mismatch" with
the difference as its reason, which the sweep reports loudly (stderr, exit status 1).
Cycles per input event are not simulated: they follow from the accumulate count by the core
rule of `golden.core` (whose RTL tests check it).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["measure_cycles", "compare"]


def compare(formula: dict, measured: dict) -> str:
    """Empty when ``measured`` (``acc``/``fire`` lists of cycle counts and ``errors``) agrees
    with ``formula`` (``acc_cycles``, ``fire_cycles``); else what differs."""
    problems = []
    if measured["errors"]:
        problems.append(f"the macro rejected {measured['errors']} command(s)")
    for kind in ("acc", "fire"):
        seen = sorted(set(measured[kind]))
        want = formula[f"{kind}_cycles"]
        if seen != [want]:
            problems.append(f"{kind}: RTL took {seen} cycles, the formula says {want}")
    return "; ".join(problems)


def measure_cycles(point, repeat: int = 3) -> dict:
    """Simulate ``repeat`` accumulates and fire passes of ``point`` (a valid
    `sweep.point.Point`): ``{"acc": [cycles...], "fire": [cycles...], "errors": n}``.

    Raises:
        testbench.sim.CocotbFailure: the simulation did not complete.
    """
    from flexspim.hdl.macro import CimMacro
    from flexspim.outputs import build_lock
    from flexspim.testbench.sim import build_dir_for, emit_verilog, run_cocotb

    build = build_dir_for("sweep", point)
    # two sweeps (or workers) measuring the same point share its build folder, one at a time
    with build_lock(build), tempfile.TemporaryDirectory(prefix="flexspim-rtl-") as tmp, \
            _quiet(build / "sim.log"):
        src = emit_verilog(CimMacro(point.macro()), "flexspim_macro", build)
        out = Path(tmp) / "cycles.json"
        run_cocotb(toplevel="flexspim_macro", sources=[src], test_module="flexspim.sweep.rtl_tb",
                   build_dir=build,
                   extra_env={"FLEXSPIM_POINT": json.dumps(point.to_dict(), sort_keys=True),
                              "FLEXSPIM_REPEAT": str(repeat),
                              "FLEXSPIM_SWEEP_OUT": str(out)})
        return json.loads(out.read_text())


@contextlib.contextmanager
def _quiet(log: Path):
    """Send this process's stdout/stderr (file descriptors 1 and 2, which the simulator
    writes to directly) to ``log`` while simulating, so a sweep's progress stays readable."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(log, "w") as f:
            os.dup2(f.fileno(), 1)
            os.dup2(f.fileno(), 2)
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
