"""``bench/bench_shape.py`` (issue 20): its cycle columns are golden/cycles.py's at the
macro's widest shape, and its table names every column (the synthesis itself is the
benchmark's, not a test's)."""

import importlib.util
from pathlib import Path

from flexspim.config import MacroConfig

_PATH = Path(__file__).resolve().parent.parent / "bench" / "bench_shape.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_shape", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cycles_are_the_shaped_formulas_and_meet_the_acceptance():
    b = _bench()
    got = {(p, m): b.cycles(MacroConfig(64, 64, p, max_operand_cols=m), m)
           for p in (1, 8) for m in (1, 2, 4, 8)}
    # the acceptance: 64x64 P = 1 bv 16 at N_C 4, no overflow: <= ceil(16/4) + 4 = 8
    # cycles (20 at N_C = 1)
    assert got[1, 4]["acc_cycles"] == 8 and got[1, 1]["acc_cycles"] == 20
    # P = 8: 4 guard bits take ceil(20 / N_C) - R rows (4, 2, 1, 1): 2 + R + G + 1
    assert [got[8, m]["acc_cycles"] for m in (1, 2, 4, 8)] == [23, 13, 8, 6]
    # fire, no leak, hard reset: 2 + compare R + reset R
    assert [got[1, m]["fire_cycles"] for m in (1, 2, 4, 8)] == [34, 18, 10, 6]
    assert [got[1, m]["neurons_per_slot"] for m in (1, 2, 4, 8)] == [64, 32, 16, 8]


def test_table_has_one_row_per_run():
    b = _bench()
    rec = {"fmax_mhz": 315.3, "critical_path_ns": 3.17, "cells": 1234, "flops": 56,
           "area_um2": {"periphery": 294064.0, "storage": 2.0e6, "total": 2.3e6},
           "critical_path": {"start_register": "a_reg", "end_register": "b_reg",
                             "start": "a", "end": "b"}}
    runs = [{"batch": 1, "max_operand_cols": m, "synth": rec,
             "cycles": b.cycles(MacroConfig(64, 64, 1, max_operand_cols=m), m)}
            for m in (1, 4)]

    class Lib:
        name, path = "osu018_stdcells", "/x.lib"

    text = b.table(runs, Lib, "synth")
    assert "| 1 | 4 | 16 | 8 (11) | 10 | 315.3 | 3.17 | 294,064 |" in text
    assert text.count("\n| 1 |") == 2 and "`a_reg` -> `b_reg`" in text
