"""Shared fixtures: reproducible random generators and the test tier.

Every test that draws random stimulus takes the ``rng`` fixture. Its seed is
``FLEXSPIM_SEED`` when set, otherwise a stable hash of the test's name (so CI is
reproducible); it is printed and attached to the test report, so any failure reproduces with
``FLEXSPIM_SEED=<seed> pytest <test id>``. ``make regress`` (``FLEXSPIM_TIER=regress``) draws
fresh seeds and runs the longer cases.

Tiers: tests marked ``slow``, and the cases listed in `REGRESS_ONLY` (bigger variants of a
check the fast tier keeps in a smaller form), run only in the long tier. ``--cpu-top N``
prints the N tests that used the most CPU time (the test process plus the simulators and
compilers it waited for), the measure to cut when the fast tier gets slow.
"""

from __future__ import annotations

import hashlib
import os
import resource
import secrets
from pathlib import Path

import numpy as np
import pytest

TIER = os.environ.get("FLEXSPIM_TIER", "fast")


# Bigger variants of checks that the fast tier keeps in a smaller form (node id prefix ->
# what still covers the check in the fast tier). Each one cost 6-113 s of CPU cold.
REGRESS_ONLY = {
    **{f"tests/hdl/test_lint_gate.py::test_no_escaped_identifier_at_any_geometry[{c}]":
       "no escaped identifier: macro and core at 16x16 P=1 and 8, the 2-core 16x8 P=2 "
       "system (test_reference_designs_have_no_escaped_identifier)"
       for c in ("macro_64x64_P1", "macro_64x64_P8", "core_64x64_P1", "core_64x64_P8",
                 "system_16x16_P1", "system_16x16_P8", "system_64x64_P1", "system_64x64_P8")},
    "tests/hdl/test_generate.py::test_generate_is_deterministic_and_lint_clean[64-64-8]":
        "determinism and lint of the macro: 1x1 to 37x13 P=3",
    "tests/hdl/test_generate.py::test_generate_core_is_deterministic_and_lint_clean[64-64-8-16]":
        "determinism and lint of the core: 16x1 and 37x13",
    "tests/hdl/test_generate.py::test_generate_system_is_deterministic_and_lint_clean[3]":
        "lint of the system: 2 cores",
    "tests/hdl/test_rtl_system.py::test_system[3cores]":
        "system RTL = golden: 2 cores (random multi-layer networks, gaps, back-pressure)",
    "tests/test_run_batch.py::test_split_layers_on_the_rtl_equal_the_golden_model":
        "`flexspim run --rtl` = golden on two small cores (test_run_command), the split on "
        "the golden model (test_a_layer_wider_than_a_core_is_split_across_cores) and "
        "multicast with per-target offsets on the system RTL (test_system[2cores])",
    "tests/test_run_command.py::test_run_rtl_equals_golden[2048x64]":
        "the same command on two 128x8 P=2 cores",
    "tests/hdl/test_rtl_core.py::test_core[37x13_P3_f2]":
        "the same core and tests with the array from its model file "
        "(test_core_with_blackbox_array_and_model_file) and in the bulk harness",
    "tests/hdl/test_rtl_macro.py::test_macro[37x13_P3]":
        "the same macro and tests with the array from its model file "
        "(test_macro_with_blackbox_array_and_model_file)",
    "tests/hdl/test_rtl_adder.py::test_adder_array[5c_P3]":
        "1 column with P=1 and 16 columns with P=8 (and the odd P=3 inside the 37x13 macro)",
    "tests/hdl/test_rtl_mover.py::test_mover[64x32_a40_o64]":
        "the mover at 37x13 (7-bit rows, 3 in flight) and 1x1 (1-bit rows, 1 in flight)",
    "tests/hdl/test_rtl_mover.py::test_mover_with_blackbox_buffer_and_model_file":
        "the same mover with its behavioural buffer (test_mover[37x13_a7_o3])",
    **{f"tests/hdl/test_rtl_mover.py::test_mover_mutants_are_caught[{m}]":
       "the mover's read-ahead mutant (test_mover_mutants_are_caught[mover_no_pop_room])"
       for m in ("mover_inflight_no_take", "mover_load_mask_ignored",
                 "mover_exceeds_outstanding")},
    "tests/hdl/test_rtl_sequencer.py::test_sequencer[96r_64x16_s4_p4]":
        "the sequencer at 40 rows, 24 x 9 buffer, 3 slots, P=2 (test_sequencer[40r_24x9_s3_p2])",
    **{f"tests/hdl/test_rtl_sequencer.py::test_sequencer_mutants_are_caught[{m}]":
       "the sequencer's tag mutant (test_sequencer_mutants_are_caught"
       "[sequencer_tag_not_updated])"
       for m in ("sequencer_no_mover_wait", "sequencer_range_unchecked",
                 "sequencer_window_unchecked")},
    "tests/hdl/test_rtl_sequencer.py::test_sequencer_with_blackbox_buffer_and_model_file":
        "the same sequencer with its behavioural buffer (test_sequencer[40r_24x9_s3_p2])",
    "tests/hdl/test_rtl_macro.py::test_macro[8x4_P1]":
        "P=1 at 1x1 and 16x16",
    "tests/hdl/test_generate.py::test_generate_core_is_deterministic_and_lint_clean[37-13-3-2]":
        "determinism and lint of the core: 16x1",
    "tests/hdl/test_field_check.py::test_grouped_pair_check_equals_the_pairwise_definition"
    "[64-12]":
        "P=64 with 7-bit rows, and P=64 on the RTL (test_macro[80x8_P64])",
    "tests/test_digits_example.py::test_golden_accuracy_within_1p5_points_of_float"
    "[digits_conv]":
        "the same check on the FC digits example; conv layers on the golden model in "
        "tests/golden/test_conv.py",
    "tests/test_digits_example.py::test_rtl_equals_golden[digits]":
        "`flexspim run --rtl` = golden on a 2-layer network (test_run_command) and the digits "
        "example's golden accuracy",
}


def pytest_report_header(config):
    return f"flexspim tier: {TIER} (FLEXSPIM_TIER=regress for the long tier)"


def pytest_addoption(parser):
    parser.addoption("--cpu-top", type=int, default=0, metavar="N",
                     help="print the N tests that used the most CPU time")


def pytest_collection_modifyitems(config, items):
    if TIER == "regress":
        return
    for item in items:
        why = next((w for k, w in REGRESS_ONLY.items() if item.nodeid.startswith(k)), None)
        if why is not None:
            item.add_marker(pytest.mark.skip(
                reason=f"long tier (make regress); the fast tier covers it with {why}"))
        elif item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.skip(reason="long tier (make regress)"))


def _cpu() -> float:
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    item.stash[_CPU_START] = _cpu()
    yield


_CPU_START = pytest.StashKey[float]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when == "teardown" and _CPU_START in item.stash:
        report.user_properties.append(("cpu_s", _cpu() - item.stash[_CPU_START]))
    # Put the seed in the failure report itself, not only in captured stdout.
    if call.when == "call" and call.excinfo is not None:
        for k, v in item.user_properties:
            if k == "seed":
                item.add_report_section("call", "seed", f"FLEXSPIM_SEED={v}")


def pytest_configure(config):
    # The long tier collects functional coverage from every RTL simulation (the pytest-xdist
    # workers and their simulators inherit the variable); the table ends the report.
    if TIER == "regress" and not hasattr(config, "workerinput") \
            and "FLEXSPIM_COVERAGE_DIR" not in os.environ:
        import shutil

        from flexspim.testbench.sim import BUILD_ROOT
        folder = BUILD_ROOT / "coverage"
        shutil.rmtree(folder, ignore_errors=True)
        os.environ["FLEXSPIM_COVERAGE_DIR"] = str(folder)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    top = config.getoption("--cpu-top")
    if top and not hasattr(config, "workerinput"):
        cpu = sorted(((dict(r.user_properties).get("cpu_s", 0.0), r.nodeid)
                      for reps in terminalreporter.stats.values() for r in reps
                      if getattr(r, "when", None) == "teardown"), reverse=True)
        terminalreporter.write_sep("-", f"CPU time: top {top} of {len(cpu)} tests "
                                        f"(sum {sum(c for c, _ in cpu):.0f} s)")
        for c, nodeid in cpu[:top]:
            terminalreporter.write_line(f"{c:8.1f} s  {nodeid}")
    folder = os.environ.get("FLEXSPIM_COVERAGE_DIR")
    if folder and not hasattr(config, "workerinput"):
        from flexspim.testbench.coverage import coverage_table
        table = coverage_table(folder)
        if table:
            terminalreporter.write_sep("-", "functional coverage (RTL regressions)")
            terminalreporter.write_line(table)


def seed_for(nodeid: str) -> int:
    env = os.environ.get("FLEXSPIM_SEED")
    if env:
        return int(env)
    if TIER == "regress":
        return secrets.randbits(32)
    return int.from_bytes(hashlib.sha256(nodeid.encode()).digest()[:4], "little")


@pytest.fixture
def seed(request) -> int:
    s = seed_for(request.node.nodeid)
    print(f"\nseed={s}  (reproduce: FLEXSPIM_SEED={s} pytest '{request.node.nodeid}')")
    request.node.user_properties.append(("seed", s))
    return s


@pytest.fixture
def rng(seed) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture(scope="session")
def generate_once(tmp_path_factory):
    """``generate_once(args)``: the output folder of ``flexspim generate -o <folder> <args>``,
    run once per test session for all pytest-xdist workers (a file lock; the folder is in
    the session's temporary folder, so a new session generates again). Tests only read it.
    Several test files check the same reference designs (a 2-core system costs ~15 s of CPU
    to generate)."""
    from flexspim.cli import main
    from flexspim.outputs import build_lock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent                  # the session's folder, shared by the workers

    def generate(args: list[str]) -> Path:
        out = root / "generated" / hashlib.sha256("\0".join(args).encode()).hexdigest()[:16]
        done = out.with_suffix(".done")
        with build_lock(out):
            if not done.exists():
                assert main(["generate", "-o", str(out), *args]) == 0
                done.touch()
        return out

    return generate


@pytest.fixture
def regress() -> bool:
    """True in the long tier: tests scale their iteration counts with it."""
    return TIER == "regress"

