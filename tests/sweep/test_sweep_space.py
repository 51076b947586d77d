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
