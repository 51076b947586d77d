"""The coverage table's bookkeeping (no simulator)."""

import numpy as np
import pytest

from flexspim.config import AccumulateOp, LayerConfig, MacroConfig
from flexspim.golden.batching import TICK
from flexspim.golden.macro import MacroModel
from flexspim.testbench.coverage import (
    BINS,
    Coverage,
    batch_cut_reasons,
    count_clamps,
    coverage_table,
)

T = TICK


def test_batch_cut_reasons():
    assert batch_cut_reasons([0, 1, 2, 0, 1, T, 3, 3, T], 2) == \
        {"P events": 2, "tick": 2, "repeated source": 1}
    assert batch_cut_reasons([0, 9, 1, T], 4, n_in=5) == {"tick": 1}     # 9 is dropped
    assert batch_cut_reasons([0, 1], 4) == {}                            # still open
    assert batch_cut_reasons([0, 1], 2) == {"P events": 1}


def test_table_sums_runs_and_shows_missing_bins(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEXSPIM_COVERAGE_DIR", str(tmp_path))
    for gap in (0.0, 0.5):
        cov = Coverage()
        cov.layer(LayerConfig(bw=1, bv=16, leak_mode="sub", leak=1))
        cov.streams(gap, 0.0, in_waits=3)
        cov.save()
    table = coverage_table(tmp_path)
    assert "(2 sampled runs)" in table
    assert "| weight bits bw | 1 | 2 |" in table and "| input | idle gaps | 1 |" in table
    assert "| input | back-pressured (FIFO full) | 6 |" in table
    assert "| leak | shift | 0  <- never reached |" in table
    total = sum(len(v) for v in BINS.values())
    assert table.endswith(f"of {total} bins reached")
    with pytest.raises(ValueError, match="no coverage bin"):
        Coverage().hit("leak", "exponential")
    assert coverage_table(tmp_path / "none") is None


def test_count_clamps_sees_golden_saturation():
    m = MacroModel(MacroConfig(rows=16, cols=2, batch_max=2))
    m.bits[4:8] = 1                                      # weight -1 in both columns
    cov = Coverage()
    with count_clamps(cov):
        m.accumulate(AccumulateOp(0, 4, (4,), 4, True))   # 0 - 1: in range
        m.bits[0:4] = np.array([[0], [0], [0], [1]])      # v = -8, the minimum
        m.accumulate(AccumulateOp(0, 4, (4,), 4, True))   # -8 - 1: clamped
        m.accumulate(AccumulateOp(0, 4, (4,), 4, False))  # wrap: not sampled
    assert cov.counts == {("saturation", "batch in range"): 1, ("saturation", "batch clamped"): 1}
    assert MacroModel.accumulate.__name__ == "accumulate" and "count_clamps" not in \
        MacroModel.accumulate.__qualname__
