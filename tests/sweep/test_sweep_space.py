"""Axis syntax, TOML tables and the point list (`flexspim.sweep.space`)."""

import pytest

from flexspim.sweep.space import MAX_POINTS, axes_from, expand, parse_dataflows, parse_values


@pytest.mark.parametrize("text, want", [
    ("16", [16]),
    ("16,32,64", [16, 32, 64]),
    ("1:8", [1, 2, 3, 4, 5, 6, 7, 8]),
    ("16:128:2x", [16, 32, 64, 128]),
    ("16:100:2x", [16, 32, 64]),
    ("3:30:3x", [3, 9, 27]),
    ("8:32:+8", [8, 16, 24, 32]),
    ("8:30:+8", [8, 16, 24]),
    ("1:3,8, 16", [1, 2, 3, 8, 16]),
    ("4,4,2:4", [2, 3, 4]),
    ("5:5", [5]),
])
def test_value_syntax(text, want):
    assert parse_values("rows", text) == want


def test_toml_forms():
    assert parse_values("bw", 4) == [4]
    assert parse_values("bw", [8, 1, "2:3"]) == [1, 2, 3, 8]


@pytest.mark.parametrize("text, why", [
    ("", "must be a value list"),
    ("a", "is not a number or a range"),
    ("8:4", "runs backwards (4 < 8)"),
    ("1:8:1x", "needs a factor K >= 2"),
    ("0:8:2x", "needs a factor K >= 2 and a start >= 1"),
    ("1:8:+0", "arithmetic step below 1"),
    ("1:8:+2x", "neither +K nor Kx"),
    ("1:8:2", "neither +K nor Kx"),
    ("1,,2", "is not a number or a range"),
])
def test_bad_values_name_the_axis_and_the_syntax(text, why):
    with pytest.raises(ValueError) as e:
        parse_values("cols", text)
    assert "`cols`" in str(e.value) and why in str(e.value)
    if text:
        assert "A:B:Kx" in str(e.value)


def test_dataflows():
    assert parse_dataflows("os,ws") == ["ws", "os"]
    assert parse_dataflows(["hybrid"]) == ["hybrid"]
    with pytest.raises(ValueError, match="`dataflow` must be among hybrid, ws, os; not xs"):
        parse_dataflows("ws,xs")


def test_axes_defaults_overrides_and_order():
    axes = axes_from({"rows": "16:32:2x", "bw": [1, 2]}, {"cols": "8", "bw": None, "bv": "4,6"})
    assert (axes.rows, axes.cols, axes.batch, axes.bw, axes.bv, axes.dataflow) == \
        ((16, 32), (8,), (4,), (1, 2), (4, 6), ("hybrid",))
    pts = expand(axes)
    assert len(pts) == axes.size == 8
    assert [(p.rows, p.bw, p.bv) for p in pts[:3]] == [(16, 1, 4), (16, 1, 6), (16, 2, 4)]
    # a command-line value replaces the TOML one
    assert axes_from({"rows": [16], "cols": [4]}, {"rows": "64"}).rows == (64,)


def test_axes_errors():
    with pytest.raises(ValueError, match="missing axis: give --cols"):
        axes_from({}, {"rows": "16"})
    with pytest.raises(ValueError, match="unknown \\[sweep\\] key\\(s\\) colz"):
        axes_from({"colz": 4}, {"rows": "16", "cols": "4"})
    with pytest.raises(ValueError, match=f"the limit is {MAX_POINTS}"):
        axes_from({}, {"rows": "1:100", "cols": "1:100"})
    with pytest.raises(ValueError, match="`leak_mode` must be one of none, sub, shift"):
        axes_from({"leak_mode": "decay"}, {"rows": "16", "cols": "4"})


def test_operand_cols_axis_defaults_to_vertical_and_expands_after_bv():
    """Issue 20: the operand shape is an axis (default 1: the points of before)."""
    axes = axes_from({"rows": 16, "cols": 8}, {})
    assert axes.operand_cols == (1,)
    assert {p.operand_cols for p in expand(axes)} == {1}
    axes = axes_from({"rows": 16, "cols": 8, "operand_cols": "1:4:2x"}, {"bv": "4,6"})
    assert axes.operand_cols == (1, 2, 4) and axes.size == 6
    assert [(p.bv, p.operand_cols) for p in expand(axes)] == \
        [(4, 1), (4, 2), (4, 4), (6, 1), (6, 2), (6, 4)]
    # the command line overrides the TOML value, as for every axis
    assert axes_from({"rows": 16, "cols": 8, "operand_cols": 4},
                     {"operand_cols": "2"}).operand_cols == (2,)


@pytest.mark.parametrize("value, why", [
    ("3", "`operand_cols` must be a power of two in [1, 16] (1, 2, 4, 8, 16): groups are "
          "aligned at column multiples of it, not 3"),
    ("1:32:2x", "`operand_cols` must be an integer in [1, 16], not 32"),
    ("0", "`operand_cols` must be an integer in [1, 16], not 0"),
])
def test_operand_cols_that_no_macro_runs_are_refused_up_front(value, why):
    with pytest.raises(ValueError) as e:
        axes_from({"rows": 16, "cols": 64}, {"operand_cols": value})
    assert str(e.value) == why
