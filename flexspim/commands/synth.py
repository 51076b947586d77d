"""``flexspim synth``: synthesize a generated macro, core or system with Yosys + ABC to a
Liberty cell library (default: OSU 0.18 um from Debian's ``qflow-tech-osu018``), time it with
OpenSTA, and write ``synth.json`` (area in um^2, total and storage/periphery, cells,
flip-flops, critical path and Fmax), ``netlist.v`` and the tool logs.

Geometry, ``--config`` and core/system options are those of ``generate``. Every parameter and
the Liberty are checked, and the tools looked up, before anything is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import geometry_args, macro_from_args
from .generate import core_system_args

__all__ = ["register", "run", "table"]


def register(sub) -> None:
    p = sub.add_parser("synth", help="synthesize to a Liberty library and time it (area um2, "
                                     "Fmax MHz)", description=__doc__)
    p.add_argument("-o", "--out", type=Path, required=True, metavar="DIR",
                   help="output folder (created if needed)")
    p.add_argument("--top", choices=("macro", "core", "system", "fanout"), default=None,
                   help="what to synthesize (default: macro, or system with --cores)")
    geometry_args(p)
    p.add_argument("--liberty", type=Path, metavar="FILE",
                   help="Liberty cell library (default: OSU 0.18 um, "
                        "/usr/share/qflow/tech/osu018/osu018_stdcells.lib)")
    p.add_argument("--storage", choices=("synth", "bitcell"), default="synth",
                   help="synthesize the storage as flip-flops (default), or black-box it and "
                        "price it per bit as a custom CIM macro (flow/bitcell.py; fast for "
                        "big arrays; its access time is then not timed)")
    core_system_args(p)
    p.set_defaults(func=run)


def config_of(args: argparse.Namespace):
    """(kind, configuration) from the command line, validated."""
    from .generate import core_from_args, system_from_args

    kind = args.top or ("system" if args.cores is not None else "macro")
    if kind == "fanout":
        from .generate import fanout_from_args
        return kind, fanout_from_args(args)
    macro = macro_from_args(args)
    if kind == "macro":
        return kind, macro
    core = core_from_args(args, macro)
    return kind, (core if kind == "core" else system_from_args(args, core))


def table(rec: dict) -> str:
    a, cp = rec["area_um2"], rec["critical_path"]
    rows = [("storage", a["storage"], rec["storage"]["cells"], rec["storage"]["flops"]),
            ("periphery", a["periphery"], rec["periphery"]["cells"], rec["periphery"]["flops"]),
            ("total", a["total"], rec["cells"], rec["flops"])]
    lines = [f"{rec['top']} synthesized to {rec['liberty']['name']} (Yosys + ABC), timed with "
             f"OpenSTA",
             f"{'':12}{'area um2':>14}{'cells':>9}{'flops':>8}"]
    lines += [f"{n:12}{ar:14,.0f}{c:9d}{f:8d}" for n, ar, c, f in rows]
    st = rec["storage"]
    if st.get("mode") == "bitcell":
        lines.append(f"storage priced per bit (custom macro, not synthesized): {st['bits']} "
                     f"bits x {st['bitcell_um2']:.1f} um2 ({st['read_ports']} read ports); "
                     f"its access time is not in the path below")
    lines.append(f"critical path {rec['critical_path_ns']:.3f} ns, Fmax "
                 f"{rec['fmax_mhz']:.1f} MHz ({cp['cells_on_path']} cells; ideal clock, no "
                 f"wires)")
    lines.append(f"  from {cp['start_register']} ({cp['start_kind']})")
    lines.append(f"  to   {cp['end_register']} ({cp['end_kind']})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..flow import FlowError, default_liberty, load_liberty
    from ..flow.design import synth_design
    from .flowcli import FlowRun

    kind, config = config_of(args)
    job = FlowRun("synth")
    try:
        lib = job.check(("yosys", "sta"), lambda: load_liberty(
            args.liberty if args.liberty is not None else default_liberty()))
    except FlowError as e:
        return job.error(e, 2)
    out: Path = args.out
    try:
        rec = synth_design(kind, config, lib, out, job.say, storage=args.storage)
    except FlowError as e:
        return job.error(e, 1)
    job.write(out / "synth.json", rec)
    print(table(rec))
    print(f"wrote {out / 'synth.json'}, {out / 'netlist.v'} ({job.elapsed():.1f} s)")
    return 0
