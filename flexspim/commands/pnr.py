"""``flexspim pnr``: place and route a small macro with qflow (its Yosys synthesis to the OSU
0.18 um cells, GrayWolf placement, qrouter routing), extract the routed wires' parasitics
(``flow/extract.py``: SPEF from the routed DEF, the LEF's per-unit R and C and the process's
sidewall coupling), time the routed netlist with OpenSTA without them, with ground
capacitance only, and with coupling counted once and twice (Miller), and write
``pnr.json``: die area, placed cells, routed wirelength, failed routes, pre- and post-route
critical path and Fmax. The qflow project (logs, DEF, netlists, SPEF) stays in the output
folder. Slow (over an hour for 16x16): not part of ``make test``; ``make pnr`` runs it on a
16x16 macro. ``--collect`` re-reads and re-times a finished project without placing again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..cli import geometry_args, macro_from_args

__all__ = ["register", "run", "table"]


def register(sub) -> None:
    p = sub.add_parser("pnr", help="place and route a macro with qflow (graywolf, qrouter): "
                                   "die area, wirelength, post-route timing",
                       description=__doc__)
    p.add_argument("-o", "--out", type=Path, required=True, metavar="DIR",
                   help="output folder: the qflow project (created if needed)")
    geometry_args(p)
    p.add_argument("--collect", action="store_true",
                   help="do not place and route: extract and time the finished qflow "
                        "project already in -o, and rewrite its pnr.json")
    p.add_argument("--seed", type=int, metavar="N",
                   help="GrayWolf's random placement seed, 0 to 2**31 - 1 (default: qflow's, "
                        "12345); pnr.json records the seed used")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..flow import FlowError
    from ..flow.design import verilog_of
    from ..flow.pnr import collect, run_pnr
    from .flowcli import FlowRun

    macro = macro_from_args(args)
    job = FlowRun("pnr", digits=0)
    if args.seed is not None and not 0 <= args.seed < 2 ** 31:
        return job.error(f"--seed {args.seed}: the placement seed must be 0 to 2**31 - 1", 2)
    if args.seed is not None and args.collect:
        return job.error("--seed is for a new placement; `--collect` re-times the project "
                         "as it was placed", 2)
    try:
        job.check(("sta",) if args.collect else ("qflow", "graywolf", "qrouter", "yosys", "sta"))
    except FlowError as e:
        return job.error(e, 2)
    top = "flexspim_macro"      # verilog_of's name for a macro
    if args.collect and not (args.out / "source" / f"{top}.v").is_file():
        return job.error(f"`--collect` needs a qflow project in -o; {args.out} has no "
                         f"source/{top}.v", 2)
    commit = rtl_commit()       # now: the code may change while a placement runs
    verilog, top = verilog_of("macro", macro)
    if args.collect and (args.out / "source" / f"{top}.v").read_text() != verilog:
        return job.error(f"`--collect`: the project in {args.out} was made from other "
                         f"Verilog than these options give (source/{top}.v differs)", 2)
    try:
        if args.collect:
            job.say("extracting parasitics from the routed DEF, OpenSTA before and after "
                    "routing")
            old = args.out / "pnr.json"
            wall = json.loads(old.read_text()).get("wall_s", 0.0) if old.is_file() else 0.0
            rec = collect(args.out.resolve(), top, wall)
        else:
            rec = run_pnr(verilog, top, args.out.resolve(), job.say, args.seed)
    except FlowError as e:
        return job.error(e, 1)
    rec["params"] = macro.to_dict()
    rec["rtl_commit"] = commit
    job.write(args.out / "pnr.json", rec)
    print(table(rec))
    print(f"wrote {args.out / 'pnr.json'} ({rec['wall_s']:.0f} s)")
    return 0


def rtl_commit() -> str | None:
    """The git commit of this checkout (the code that generated ``source/<top>.v``, which
    ``--collect`` checks is unchanged), ``+ uncommitted`` if the RTL or its config differs
    from it; None outside a git checkout."""
    import subprocess
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--",
                                "hdl", "flexspim/config.py"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + (" + uncommitted" if dirty else "")


def table(rec: dict) -> str:
    """The human summary of a ``pnr.json`` record."""
    w, h = rec["die_um"]
    pre, post, par = rec["pre_route"], rec["post_route"], rec["parasitics"]
    lines = [f"{rec['top']} placed and routed with qflow (OSU 0.18: graywolf, qrouter), "
             f"timed with OpenSTA",
             f"die {w:.1f} x {h:.1f} um = {rec['die_area_um2']:,.0f} um2, "
             f"{rec['placed_cells']} placed cells"
             + (f" (placement seed {rec['placement_seed']})"
                if rec.get("placement_seed") is not None else ""),
             f"routed wirelength {rec['wirelength_um']['total']:,.0f} um, "
             f"failed routes {rec['failed_routes']}",
             f"extracted {par['nets']} nets: {par['wire_cap_pf']:.2f} pF of wire to ground, "
             + (f"{par['coupling_cap_pf']:.2f} pF coupling" if "coupling_cap_pf" in par
                else "coupling not extracted") + f" ({par['spef']})",
             *[f"warning: {len(par[k])} nets left out of the SPEF ({k}: "
               f"{', '.join(par[k][:3])}...)" for k in ("unrouted_nets", "mismatched_names")
               if par[k]],
             f"{'timing (propagated clock)':34}{'path ns':>9}{'Fmax MHz':>10}"]
    if "post_route_ground" in rec:
        rows = [("routed netlist, no wires", pre),
                ("post-route, ground C only", rec["post_route_ground"]),
                ("post-route, coupling x1", post),
                ("post-route, coupling x2 (Miller)", rec["post_route_miller"])]
    else:       # a record of an earlier version: no coupling extracted
        rows = [("routed netlist, no wires", pre), ("post-route, ground C only", post)]
    for name, t in rows:
        lines.append(f"{name:34}{t['critical_path_ns']:9.3f}{t['fmax_mhz']:10.1f}")
    lines.append(f"  post-route path: {post['start_register']} -> {post['end_register']} "
                 f"({post['cells_on_path']} cells, {post['slowdown_pct']:+.1f}% over no "
                 f"wires)")
    v = rec["placed_vesta"]
    if "fmax_mhz" in v:
        lines.append(f"  qflow's vesta after placement: {v['fmax_mhz']:.1f} MHz")
    return "\n".join(lines)
