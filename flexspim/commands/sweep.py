"""``flexspim sweep``: area, cycles and energy across array geometries and resolutions.

Axes (lists or ranges; see `flexspim.sweep.space`): ``--rows``, ``--cols``, ``--batch`` (P),
``--bw``, ``--bv``, ``--operand-cols`` (the operand shape N_C: a macro generated with
``max_operand_cols = N`` running its layer at N_C = N), ``--dataflow``; or a TOML file whose
``[sweep]`` table holds the same keys (plus ``saturate``, ``leak_mode``, ``reset``) and whose
optional ``[energy]`` table overrides energy costs; ``--energy-preset NAME`` starts from named
costs (`flexspim.energy.presets`; the sweep's axes, not the preset, give the geometry). Writes
``sweep.csv``, ``sweep.json``, ``timings.json`` and five PNG plots into ``-o DIR``; task
results are cached in ``DIR/cache`` so a repeated or interrupted sweep only does the missing
work. Exit status: 0; 1 when a point failed or its RTL cycles disagree with the formulas; 2 for
bad arguments (one ``error:`` line); 130 when interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ..inputs import check_range, check_unused, load_config
from ..outputs import check_out_dir, out_dir_arg, staged


def register(sub) -> None:
    p = sub.add_parser("sweep", help="area and Fmax (Yosys + OpenSTA), cycles and energy "
                                     "across geometries and resolutions (CSV, JSON, PNG)",
                       description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--out", type=out_dir_arg, required=True, metavar="DIR",
                   help="output folder (created; DIR/cache keeps finished points)")
    p.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="TOML with a [sweep] table (axes) and optional [energy] table; "
                        "command-line axes override it")
    a = p.add_argument_group("axes: N | A:B | A:B:Kx | A:B:+K, comma-separated")
    a.add_argument("--rows", help="array rows, e.g. 16,32,64 or 16:256:2x")
    a.add_argument("--cols", help="array columns, e.g. 16:128:2x")
    a.add_argument("--batch", help="P, weights per accumulate (default 4)")
    a.add_argument("--bw", help="weight bits (default 2)")
    a.add_argument("--bv", help="potential bits (default 8)")
    a.add_argument("--operand-cols", dest="operand_cols", metavar="N",
                   help="operand shape N_C, powers of two, e.g. 1:8:2x: each point's macro "
                        "is generated with max_operand_cols = N and its layer runs at N_C = N "
                        "(default 1)")
    a.add_argument("--dataflow", help="ws, os and/or hybrid for the example network "
                                      "(default hybrid)")
    s = p.add_argument_group("settings shared by all points")
    s.add_argument("--energy-preset", metavar="NAME",
                   help="named per-operation energies: flexspim-40nm (fitted to the FlexSpIM "
                        "chip) or horowitz-40nm (the defaults); [energy] overrides single "
                        "costs; the axes keep the geometry")
    s.add_argument("--wrap", action="store_const", const=False, dest="saturate",
                   help="wrap instead of saturate")
    s.add_argument("--leak-mode", choices=["none", "sub", "shift"], help="(default none)")
    s.add_argument("--reset", choices=["hard", "soft"], help="(default hard)")
    s.add_argument("--storage", choices=["synth", "bitcell"], default="synth",
                   help="price the storage as synthesized flip-flops (default) or as a custom "
                        "CIM bitcell macro, per bit, growing with the read ports")
    s.add_argument("--bitcell-nand2", type=float, default=None,
                   help="with --storage bitcell: one 6T bitcell in NAND2 equivalents "
                        "(default 0.43)")
    s.add_argument("--port-growth", type=float, default=None,
                   help="with --storage bitcell: k in bit = 6T x (1 + k x read ports)^2 "
                        "(default 0.14: an 8T cell is 1.3 x 6T)")
    s.add_argument("--liberty", type=Path, metavar="FILE",
                   help="Liberty cell library for area and timing (default: OSU 0.18 um)")
    s.add_argument("--no-area", action="store_true", help="skip synthesis and timing")
    s.add_argument("--no-network", action="store_true",
                   help="skip the example network's energy per inference")
    s.add_argument("--buffer-bits", type=int, default=None,
                   help="on-chip buffer for the example network (default 1 MB)")
    s.add_argument("--rtl", action="store_true",
                   help="also measure cycles in RTL simulation (Verilator; slow, small "
                        "geometries)")
    r = p.add_argument_group("execution")
    r.add_argument("-j", "--jobs", type=int, default=None,
                   help="local worker processes (default: CPU count)")
    r.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on this Dask distributed scheduler instead")
    r.add_argument("--title", default="", help="subtitle of the plots")
    p.set_defaults(func=run)


def _check_scheduler(addr: str) -> None:
    if "://" not in addr or not addr.split("://", 1)[1]:
        raise ValueError(f"`--scheduler` must be an address such as tcp://HOST:PORT, "
                         f"not {addr!r}")


def run(args: argparse.Namespace) -> int:
    from ..energy.costs import EnergyCosts
    from ..energy.presets import preset
    from ..sweep.area import AreaOptions
    from ..sweep.point import Options
    from ..sweep.space import AXES, axes_from, expand

    base = EnergyCosts() if args.energy_preset is None else preset(args.energy_preset).costs
    doc = load_config(args.config, "--config", {
        "sweep": tuple(AXES) + ("saturate", "leak_mode", "reset"), "energy": None})
    table = doc.get("sweep", {})
    axes = axes_from(table, {"rows": args.rows, "cols": args.cols, "batch": args.batch,
                             "bw": args.bw, "bv": args.bv, "operand_cols": args.operand_cols,
                             "dataflow": args.dataflow,
                             "saturate": args.saturate, "leak_mode": args.leak_mode,
                             "reset": args.reset})
    buffer_bits = 8 * 1024 * 1024 if args.buffer_bits is None else args.buffer_bits
    EnergyCosts.from_toml(doc)                  # validates [energy] on its own
    costs = EnergyCosts.from_dict({**base.to_dict(), **doc.get("energy", {})})
    options = Options(costs=costs, buffer_bits=buffer_bits,
                      network=not args.no_network, rtl=args.rtl)
    area = None
    if not args.no_area:
        from ..flow import FlowError, default_liberty, load_liberty
        from ..flow.tools import require

        try:
            lib = load_liberty(args.liberty if args.liberty is not None else default_liberty())
            require("yosys")
            require("sta")
        except FlowError as e:
            raise ValueError(f"{e} (or pass --no-area)") from None
        extra = {k: v for k in ("bitcell_nand2", "port_growth")
                 if (v := getattr(args, k)) is not None}
        area = AreaOptions(storage=args.storage, liberty=str(lib.path),
                           liberty_sha256=lib.sha256, **extra)
    if args.no_area:
        check_unused({"--bitcell-nand2": args.bitcell_nand2 is not None,
                      "--port-growth": args.port_growth is not None,
                      "--liberty": args.liberty is not None}, "with --no-area")
    if args.no_network:
        check_unused({"--buffer-bits": args.buffer_bits is not None}, "with --no-network")
    jobs = (os.cpu_count() or 1) if args.jobs is None else args.jobs
    check_range("--jobs", jobs, 1, 1024)
    if args.scheduler is not None:
        _check_scheduler(args.scheduler)
    try:                            # the plots come last: fail now, not after the sweep
        import matplotlib  # noqa: F401
    except ImportError:
        raise ValueError("the sweep's plots need matplotlib: pip install 'flexspim[sweep]'") \
            from None
    from ..sweep.plots import write_plots
    from ..sweep.report import write_outputs
    from ..sweep.runner import SweepAborted, run_sweep

    check_out_dir(args.out)

    points = expand(axes)
    reasons = _invalid_reasons(points)
    if len(reasons) == len(points):     # nothing to sweep: say why, write nothing
        raise ValueError(f"no valid point among the {len(points)} of the sweep: "
                         + "; ".join(f"{_label(p.to_dict())}: {r}"
                                     for p, r in list(reasons.items())[:3])
                         + ("; ..." if len(points) > 3 else ""))
    print(f"sweep: {len(points)} points -> {args.out}"
          + (f" on {args.scheduler}" if args.scheduler else f" ({jobs} local processes)"),
          flush=True)
    t0 = time.perf_counter()
    try:
        res = run_sweep(points, options, area, args.out / "cache", jobs=jobs,
                        scheduler=args.scheduler)
    except KeyboardInterrupt:
        print(f"\nerror: interrupted; finished points are cached in {args.out / 'cache'}: "
              f"run the same command again to resume", file=sys.stderr)
        return 130
    except SweepAborted as e:
        print(f"error: {e}; finished points are cached in {args.out / 'cache'}: run the "
              f"same command again to resume", file=sys.stderr)
        return 1
    wall = time.perf_counter() - t0
    settings = {"axes": {k: list(v) if isinstance(v, tuple) else v
                         for k, v in vars(axes).items()},
                "options": options.to_dict(), "area": None if area is None else area.to_dict()}
    with staged(args.out) as stage:     # the tables and plots appear together, or none
        files = write_outputs(stage, res.rows, settings,
                              {"wall_s": wall, "evaluated_tasks": res.evaluated,
                               "cached_tasks": res.cached, "jobs": jobs,
                               "scheduler": args.scheduler, "tasks": res.timings})
        files += write_plots(res.rows, stage, args.title)
    files = [args.out / f.name for f in files]
    counts = {}
    for r in res.rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print(f"done in {wall:.1f} s: {res.evaluated} tasks run, {res.cached} from the cache; "
          + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    for r in res.rows:
        if r["status"] == "invalid":
            print(f"skipped {_label(r)}: {r['reason']}")
    bad = [r for r in res.rows if r["status"] not in ("ok", "invalid")]
    for r in bad:
        print(f"{r['status'].upper()} {_label(r)}: {r['reason']}", file=sys.stderr)
    print("wrote " + ", ".join(str(f) for f in files))
    return 1 if bad else 0


def _invalid_reasons(points) -> dict:
    """Point -> why `Point.check` refuses it, for the points it refuses."""
    out = {}
    for p in points:
        try:
            p.check()
        except ValueError as e:
            out[p] = str(e)
    return out


def _label(row: dict) -> str:
    n_c = row.get("operand_cols", 1)
    return (f"{row['rows']}x{row['cols']} P={row['batch']} bw={row['bw']} bv={row['bv']}"
            + (f" N_C={n_c}" if n_c != 1 else "") + f" {row['dataflow']}")
