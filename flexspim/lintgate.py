"""Lint gate for the generated Verilog (``make lint-rtl``, ``python -m flexspim.lintgate``).

Two checks per reference design (macro, core, system at small geometries, the fan-out
unit):

1. With the shipped waivers (``lint.vlt``, scoped to the generated file), ``verilator
   --lint-only -Wall`` is silent.
2. Without any waiver, the number of warnings per rule equals the pinned count in
   ``hdl/lint_counts.json``. The waivers name whole rules, so this is what makes a *new*
   width mismatch or unused signal in our RTL fail: its rule's count changes. After an
   intended RTL change, re-pin with ``python -m flexspim.lintgate --update`` and review the
   diff of lint_counts.json like any other change; ``--case NAME`` (repeatable) checks or
   re-pins only the named designs, leaving every other pinned count as it is.

Also: `slang_errors` (pyslang, a second, independent SystemVerilog front end) must find no
error in any generated top; and no escaped identifier (``\\bv$70``, issue 24): none in any
module port list (the RTL names every port), at most `ESCAPED_INTERNAL_MAX` inside modules,
in the reference designs and in macro, core and system at 16x16 and 64x64, P = 1 and 8
(`ESCAPE_CASES`, generation only).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

__all__ = ["WAIVER_TEMPLATE", "COUNTS_FILE", "CASES", "lint_waivers", "verilator_lint",
           "ESCAPE_CASES", "ESCAPED_INTERNAL_MAX", "rule_counts", "escaped_names",
           "escaped_problems", "generate_case", "slang_errors", "check", "main"]

HDL = Path(__file__).resolve().parent.parent / "hdl"
WAIVER_TEMPLATE = HDL / "lint.vlt"
COUNTS_FILE = HDL / "lint_counts.json"

#: reference designs: name -> ``flexspim generate`` arguments
CASES: dict[str, list[str]] = {
    "macro_16x8_P2": ["--top", "macro", "--rows", "16", "--cols", "8", "--batch", "2"],
    "core_16x8_P2": ["--top", "core", "--rows", "16", "--cols", "8", "--batch", "2",
                     "--fifo-depth", "4", "--index-bits", "8"],
    "macro_16x8_P2_blackbox": ["--top", "macro", "--rows", "16", "--cols", "8", "--batch",
                               "2", "--array", "blackbox"],
    "system_16x8_P2_2cores": ["--top", "system", "--rows", "16", "--cols", "8", "--batch", "2",
                              "--cores", "2", "--index-bits", "8"],
    "macro_16x9_P2_M4": ["--top", "macro", "--rows", "16", "--cols", "9", "--batch", "2",
                         "--max-operand-cols", "4"],
    "core_16x9_P2_M4": ["--top", "core", "--rows", "16", "--cols", "9", "--batch", "2",
                        "--max-operand-cols", "4", "--fifo-depth", "4", "--index-bits", "8"],
    "fanout_ib8_k5": ["--top", "fanout", "--index-bits", "8", "--op-bits", "8",
                      "--max-kernel", "5", "--max-taps", "25"],
    "buffer_37x13": ["--top", "buffer", "--words", "37", "--cols", "13"],
    "buffer_37x13_blackbox": ["--top", "buffer", "--words", "37", "--cols", "13",
                              "--array", "blackbox"],
    "mover_37x13_a7_o3": ["--top", "mover", "--words", "37", "--cols", "13", "--addr-bits",
                          "7", "--outstanding", "3"],
    "sequencer_40r_24x9_s3_p2": ["--top", "sequencer", "--words", "24", "--cols", "9",
                                 "--rows", "40", "--addr-bits", "6", "--outstanding", "3",
                                 "--slots", "3", "--tile-bits", "3", "--batch", "2",
                                 "--op-bits", "3"],
}

#: geometries whose generated Verilog must hold no escaped identifier (name -> arguments)
ESCAPE_CASES: dict[str, list[str]] = {
    f"{top}_{n}x{n}_P{p}": ["--top", top, "--rows", str(n), "--cols", str(n), "--batch", str(p)]
    for top in ("macro", "core", "system") for n in (16, 64) for p in (1, 8)}
#: escaped identifiers allowed inside modules (not in port lists, where none is): measured
#: at 0 in every case above once `flexspim.hdl.emit.plain_names` renames the internal nets
ESCAPED_INTERNAL_MAX = 0

_WARN_RE = re.compile(r"^%(Warning|Error)-?(\w*)", re.M)
_ESCAPED_RE = re.compile(r"\\\S+")                      # a Verilog escaped identifier
_PORT_LIST_RE = re.compile(r"^module\s+\S+\s*\((.*?)\);", re.M | re.S)


def escaped_names(verilog: str) -> tuple[set[str], set[str]]:
    """``(in module port lists, anywhere)``: the distinct escaped identifiers (``\\bv$70``)
    of a Verilog text. Back-end tools mishandle them (issue 24); the goal is none."""
    ports = {n for body in _PORT_LIST_RE.findall(verilog) for n in _ESCAPED_RE.findall(body)}
    return ports, set(_ESCAPED_RE.findall(verilog))


def escaped_problems(name: str, verilog: str) -> list[str]:
    """The gate's verdict on the escaped identifiers of one design's Verilog text."""
    ports, anywhere = escaped_names(verilog)
    problems = []
    if ports:
        problems.append(f"{name}: escaped identifiers in module port lists (name the signal "
                        f"in the RTL): {' '.join(sorted(ports))}")
    internal = anywhere - ports
    if len(internal) > ESCAPED_INTERNAL_MAX:
        problems.append(f"{name}: {len(internal)} escaped internal identifiers, at most "
                        f"{ESCAPED_INTERNAL_MAX} allowed: {' '.join(sorted(internal)[:10])}")
    return problems


def lint_waivers(*verilog_files: str) -> str:
    """``lint.vlt`` text whose waivers apply to the generated ``verilog_files`` (file
    names) only: each ``lint_off`` line of the template is repeated per file."""
    for f in verilog_files:
        if not re.fullmatch(r"[\w.-]+", f):
            raise ValueError(f"`verilog_file` must be a plain file name, not {f!r}")
    out = []
    for line in WAIVER_TEMPLATE.read_text().splitlines():
        out += [line.replace("@FILE@", f) for f in verilog_files] if "@FILE@" in line \
            else [line]
    return "\n".join(out) + "\n"


def verilator_lint(folder: Path, files: list[str], waivers: str | None = None
                   ) -> tuple[int, str]:
    """``verilator --lint-only -Wall -Wno-fatal [waivers] files`` in ``folder``:
    ``(exit status, messages)``."""
    from flexspim.testbench.sim import setup_verilator

    setup_verilator()
    cmd = ["verilator", "--lint-only", "-Wall", "-Wno-fatal"]
    cmd += [waivers] if waivers else []
    r = subprocess.run(cmd + files, cwd=folder, capture_output=True, text=True)
    return r.returncode, r.stderr


def rule_counts(messages: str) -> dict[str, int]:
    """Warnings per rule in Verilator's output (errors count under ``ERROR``)."""
    c = Counter(rule or "ERROR" if kind == "Warning" else "ERROR"
                for kind, rule in _WARN_RE.findall(messages))
    return dict(sorted(c.items()))


def _verilog_file(folder: Path) -> str:
    return json.loads((folder / "manifest.json").read_text())["verilog"]["file"]


def generate_case(name: str, out: Path, args: list[str] | None = None) -> Path:
    """Run ``flexspim generate`` for reference design ``name`` (or with ``args``) into
    ``out``; returns the Verilog file (the one ``manifest.json`` names)."""
    from flexspim.cli import main as cli

    if cli(["generate", "-o", str(out), *(CASES[name] if args is None else args)]) != 0:
        raise RuntimeError(f"flexspim generate failed for {name}")
    return out / _verilog_file(out)


def slang_errors(path: Path) -> list[str]:
    """Errors pyslang reports for ``path`` (warnings, which restate the waived idioms,
    are not errors)."""
    from pyslang import DiagnosticEngine, ast, syntax

    tree = syntax.SyntaxTree.fromFile(str(path))
    comp = ast.Compilation()
    comp.addSyntaxTree(tree)
    errors = [d for d in comp.getAllDiagnostics() if d.isError()]
    if not errors:
        return []
    return DiagnosticEngine.reportAll(comp.sourceManager, errors).strip().splitlines()


def check(name: str, folder: Path, pinned: dict[str, int] | None) -> tuple[list[str],
                                                                          dict[str, int]]:
    """Gate one generated design in ``folder``: ``(problems, unwaived rule counts)``."""
    verilog = _verilog_file(folder)
    problems = []
    _, waived = verilator_lint(folder, [verilog], "lint.vlt")
    if _WARN_RE.search(waived):
        problems.append(f"{name}: warnings with the shipped waivers:\n{waived.strip()}")
    _, raw = verilator_lint(folder, [verilog])
    counts = rule_counts(raw)
    if pinned is not None and counts != pinned:
        diff = ", ".join(f"{r} {pinned.get(r, 0)} -> {counts.get(r, 0)}"
                         for r in sorted(set(pinned) | set(counts))
                         if pinned.get(r, 0) != counts.get(r, 0))
        problems.append(f"{name}: warnings per rule changed ({diff}); a new warning is a "
                        f"bug to fix, an intended change is re-pinned with "
                        f"`python -m flexspim.lintgate --update`")
    problems += escaped_problems(name, (folder / verilog).read_text())
    for e in slang_errors(folder / verilog):
        problems.append(f"{name}: pyslang: {e}")
    return problems, counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m flexspim.lintgate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--update", action="store_true",
                    help=f"re-pin the counts in {COUNTS_FILE.name} instead of checking them")
    ap.add_argument("--case", action="append", choices=sorted(CASES), metavar="NAME",
                    help="only this reference design (repeatable; with --update, re-pin only "
                         "its counts); skips the escape-only geometries")
    args = ap.parse_args(argv)
    pinned_all = json.loads(COUNTS_FILE.read_text()) if COUNTS_FILE.exists() else {}
    found, problems = {}, []
    cases = args.case or list(CASES)
    with tempfile.TemporaryDirectory(prefix="flexspim-lint-") as tmp:
        for name in cases:
            folder = Path(tmp) / name
            generate_case(name, folder)
            pinned = None if args.update else pinned_all.get(name)
            if pinned is None and not args.update:
                problems.append(f"{name}: no pinned counts in {COUNTS_FILE.name} "
                                f"(run with --update)")
            p, counts = check(name, folder, pinned)
            problems += p
            found[name] = counts
            print(f"{name:<24} " + "  ".join(f"{r}={n}" for r, n in counts.items()),
                  flush=True)
        for name, cli_args in ({} if args.case else ESCAPE_CASES).items():  # generation only
            folder = Path(tmp) / name
            generate_case(name, folder, cli_args)
            p = escaped_problems(name, (folder / _verilog_file(folder)).read_text())
            problems += p
            print(f"{name:<24} escaped identifiers: {'none' if not p else 'FOUND'}",
                  flush=True)
    if args.update:
        found = {**pinned_all, **found} if args.case else found
        COUNTS_FILE.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
        print(f"pinned {COUNTS_FILE}")
    for p in problems:
        print(f"lint-rtl: {p}", file=sys.stderr)
    print("lint-rtl: " + ("FAILED" if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
