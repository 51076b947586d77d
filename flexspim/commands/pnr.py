"""``flexspim pnr``: place and route a small macro with qflow (its Yosys synthesis to the OSU
0.18 um cells, GrayWolf placement, qrouter routing, OpenSTA before and after routing with
the router's parasitics), and write ``pnr.json``: die area, placed cells, routed wirelength,
failed routes, and qflow's timing (vesta) before and after routing, or the error that
stopped it. The qflow project (logs, DEF,
netlists) stays in the output folder. Slow (minutes for 16x16): not part of ``make test``;
``make pnr`` runs it on a 16x16 macro.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from ..cli import geometry_args, macro_from_args

__all__ = ["register", "run"]


def register(sub) -> None:
    p = sub.add_parser("pnr", help="place and route a macro with qflow (graywolf, qrouter): "
                                   "die area, wirelength, post-route timing",
                       description=__doc__)
    p.add_argument("-o", "--out", type=Path, required=True, metavar="DIR",
                   help="output folder: the qflow project (created if needed)")
    geometry_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..flow import FlowError
    from ..flow.design import verilog_of
    from ..flow.pnr import run_pnr
    from ..flow.tools import require

    macro = macro_from_args(args)
    try:
        for tool in ("qflow", "graywolf", "qrouter", "yosys"):
            require(tool)
    except FlowError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[pnr {time.perf_counter() - t0:6.0f}s] {msg}", file=sys.stderr, flush=True)

    verilog, top = verilog_of("macro", macro)
    try:
        rec = run_pnr(verilog, top, args.out.resolve(), say)
    except FlowError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    rec["params"] = macro.to_dict()
    tmp = args.out / "pnr.json.tmp"
    tmp.write_text(json.dumps(rec, indent=2) + "\n")
    os.replace(tmp, args.out / "pnr.json")
    w, h = rec["die_um"]
    pre, post = rec["pre_route"], rec["post_route"]
    print(f"{top} placed and routed with qflow (OSU 0.18: graywolf, qrouter, OpenSTA)")
    print(f"die {w:.1f} x {h:.1f} um = {rec['die_area_um2']:,.0f} um2, "
          f"{rec['placed_cells']} placed cells")
    print(f"routed wirelength {rec['wirelength_um']['total']:,.0f} um, "
          f"failed routes {rec['failed_routes']}")
    for name, t in (("placed, before routing", pre), ("after routing", post)):
        print(f"timing {name}: " + (f"Fmax {t['fmax_mhz']:.1f} MHz ({t['tool']})"
                                    if "fmax_mhz" in t else f"not available: {t['error']}"))
    print(f"wrote {args.out / 'pnr.json'} ({rec['wall_s']:.0f} s)")
    return 0
