"""Shared fixtures: reproducible random generators and the test tier.

Every test that draws random stimulus takes the ``rng`` fixture. Its seed is
``FLEXSPIM_SEED`` when set, otherwise a stable hash of the test's name (so CI is
reproducible); it is printed and attached to the test report, so any failure reproduces with
``FLEXSPIM_SEED=<seed> pytest <test id>``. ``make regress`` (``FLEXSPIM_TIER=regress``) draws
fresh seeds and runs the longer cases.
"""

from __future__ import annotations

import hashlib
import os
import secrets

import numpy as np
import pytest

TIER = os.environ.get("FLEXSPIM_TIER", "fast")


def pytest_report_header(config):
    return f"flexspim tier: {TIER} (FLEXSPIM_TIER=regress for the long tier)"


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


@pytest.fixture
def regress() -> bool:
    """True in the long tier: tests scale their iteration counts with it."""
    return TIER == "regress"


def pytest_runtest_makereport(item, call):
    # Put the seed in the failure report itself, not only in captured stdout.
    if call.when == "call" and call.excinfo is not None:
        for k, v in item.user_properties:
            if k == "seed":
                item.add_report_section("call", "seed", f"FLEXSPIM_SEED={v}")
