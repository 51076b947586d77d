"""`make lint-rtl`: waivers scoped to the generated file, warnings per rule pinned, and
pyslang parses every generated top; each check fails on a broken variant."""

from __future__ import annotations

import json
import re

import pytest

from flexspim.lintgate import (
    CASES,
    COUNTS_FILE,
    ESCAPE_CASES,
    ESCAPED_INTERNAL_MAX,
    check,
    escaped_names,
    escaped_problems,
    generate_case,
    rule_counts,
    slang_errors,
    verilator_lint,
)

TEAM_RTL = """\
module team_block (input wire [7:0] a, output wire [3:0] y);
  assign y = a;  // width mismatch: 8 bits into 4
endmodule
"""


@pytest.fixture(scope="module")
def macro_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("lint") / "macro"
    generate_case("macro_16x8_P2", out)
    return out


def test_waivers_name_the_generated_file_only(macro_dir):
    text = (macro_dir / "lint.vlt").read_text()
    rules = re.findall(r"^lint_off (.*)$", text, re.M)
    assert rules and all('-file "*flexspim_macro.v"' in r for r in rules), rules


def test_waivers_do_not_hide_a_width_bug_in_rtl_linted_beside(macro_dir):
    (macro_dir / "team_block.v").write_text(TEAM_RTL)
    _, out = verilator_lint(macro_dir, ["flexspim_macro.v", "team_block.v"], "lint.vlt")
    counts = rule_counts(out)
    # the width bug (and the bits it leaves unused) are reported; nothing from our file
    assert counts.get("WIDTHTRUNC") == 1 and counts.get("UNUSEDSIGNAL") == 1, out
    warnings = [ln for ln in out.splitlines() if ln.startswith("%Warning")]
    assert all("team_block.v" in ln for ln in warnings), out


def test_gate_passes_on_the_design(macro_dir):
    pinned = json.loads(COUNTS_FILE.read_text())["macro_16x8_P2"]
    problems, counts = check("macro_16x8_P2", macro_dir, pinned)
    assert problems == [], problems
    assert counts == pinned


def test_gate_fails_on_a_new_warning_in_our_rtl(macro_dir, tmp_path):
    """A width mismatch added inside the generated top is waived by rule, yet fails the
    gate because its rule's count no longer matches the pinned one."""
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in ("lint.vlt", "manifest.json"):
        (broken / f).write_text((macro_dir / f).read_text())
    text = (macro_dir / "flexspim_macro.v").read_text()
    top = text.index("module flexspim_macro(")
    end = text.index("endmodule", top)
    text = text[:end] + "  wire [3:0] lint_probe;\n  assign lint_probe = row__wdata;\n" + \
        text[end:]
    (broken / "flexspim_macro.v").write_text(text)
    pinned = json.loads(COUNTS_FILE.read_text())["macro_16x8_P2"]
    problems, _ = check("macro_16x8_P2", broken, pinned)
    assert any("WIDTHTRUNC" in p and "changed" in p for p in problems), problems


@pytest.mark.parametrize("case", sorted(CASES))
def test_pyslang_parses_every_generated_top(case, generate_once):
    out = generate_once(CASES[case])
    verilog = out / json.loads((out / "manifest.json").read_text())["verilog"]["file"]
    assert slang_errors(verilog) == []


def test_pyslang_check_reports_errors(tmp_path):
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input wire a);\n  assign b = ;\nendmodule\n")
    assert slang_errors(bad)


def test_escaped_names_finds_port_list_and_internal_names():
    text = "module m (\\bv$70 , w_rows,\n  \\w_en$72 );\n  wire \\port$704$0 ;\nendmodule\n"
    ports, anywhere = escaped_names(text)
    assert ports == {"\\bv$70", "\\w_en$72"}
    assert anywhere == ports | {"\\port$704$0"}
    assert escaped_names("module m (a, b);\nendmodule\n") == (set(), set())


def test_escaped_problems_fail_on_one_port_and_on_internal_names():
    assert escaped_problems("x", "module m (a, b);\n  wire c;\nendmodule\n") == []
    port = escaped_problems("x", "module m (a, \\b$1 );\nendmodule\n")
    assert len(port) == 1 and "port lists" in port[0] and "\\b$1" in port[0]
    inner = escaped_problems("x", "module m (a);\n  wire \\$5 ;\nendmodule\n")
    assert ESCAPED_INTERNAL_MAX == 0 and len(inner) == 1 and "internal" in inner[0]


@pytest.mark.parametrize("case", sorted(CASES))
def test_reference_designs_have_no_escaped_identifier(case, generate_once):
    out = generate_once(CASES[case])
    verilog = out / json.loads((out / "manifest.json").read_text())["verilog"]["file"]
    assert escaped_problems(case, verilog.read_text()) == []


@pytest.mark.parametrize("case", sorted(ESCAPE_CASES))
def test_no_escaped_identifier_at_any_geometry(case, tmp_path):
    """macro, core, system at 16x16 and 64x64, P = 1 and 8: ports and instances are named in
    the RTL, internal nets renamed by `plain_names` (the 64x64 and system cases: regress)."""
    verilog = generate_case(case, tmp_path / "out", ESCAPE_CASES[case])
    assert escaped_problems(case, verilog.read_text()) == []


@pytest.mark.parametrize("case", [c for c in sorted(CASES) if c.startswith(("buffer", "mover"))])
def test_gate_passes_on_the_buffer_and_mover_tops(case, generate_once):
    """The operand buffer and the mover (issue 22): silent with the waivers, counts pinned."""
    out = generate_once(CASES[case])
    problems, counts = check(case, out, json.loads(COUNTS_FILE.read_text())[case])
    assert problems == [], problems


def test_update_of_one_case_repins_only_that_case(tmp_path, monkeypatch, capsys):
    """``--update --case NAME``: the named design's counts are re-pinned, every other pinned
    count stays as it was (a new case is pinned without touching the others)."""
    import flexspim.lintgate as gate

    counts = tmp_path / "lint_counts.json"
    pinned = json.loads(COUNTS_FILE.read_text())
    stale = {**pinned, "buffer_37x13": {"UNUSEDSIGNAL": 999},
             "macro_16x8_P2": {"WIDTHEXPAND": 12345}}
    counts.write_text(json.dumps(stale))
    monkeypatch.setattr(gate, "COUNTS_FILE", counts)
    assert gate.main(["--update", "--case", "buffer_37x13"]) == 0
    after = json.loads(counts.read_text())
    assert after["buffer_37x13"] == pinned["buffer_37x13"]
    assert after["macro_16x8_P2"] == {"WIDTHEXPAND": 12345}
    assert set(after) == set(stale)
    assert gate.main(["--case", "macro_16x8_P2"]) == 1       # checks only, against the file
    assert "WIDTHEXPAND 12345 ->" in capsys.readouterr().err
