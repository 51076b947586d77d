"""``flexspim study``: the hybrid-dataflow study on the dvs-gesture example."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..outputs import check_out_file, out_dir_arg, staged_file


def register(sub) -> None:
    c = sub.add_parser("study", help="compare all-WS, all-OS and hybrid dataflows on the "
                                     "dvs-gesture example (table + PNG)")
    c.add_argument("--cores", type=int, default=16, help="macros on the chip (default 16)")
    c.add_argument("--batch", type=int, default=8, dest="batch_max", help="P (default 8)")
    c.add_argument("--buffer-bits", type=int, default=8 * 1024 * 1024,
                   help="on-chip buffer in bits (default 8 Mbit = 1 MB)")
    c.add_argument("--sizes", default="1024x32,2048x64,4096x128",
                   help="comma-separated ROWSxCOLS (default 1024x32,2048x64,4096x128)")
    c.add_argument("--keep", default="1,0.5,0.2,0.1,0.05",
                   help="fractions in (0, 1] of the input events kept (sparsity axis)")
    c.add_argument("--gesture", type=int, default=9, help="synthetic gesture class, 0..10 "
                                                          "(default 9)")
    c.add_argument("--plot", type=out_dir_arg, default=Path("study.png"),
                   help="PNG output (default study.png; checked before the study runs)")
    c.set_defaults(func=run)


def _parse(text: str, name: str, conv):
    try:
        return [conv(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"`--{name}` is not a valid comma-separated list: {text!r}") from None


def _check(args) -> list[tuple[int, int]]:
    """Every option, before the (long) study: sizes, keeps, hardware, gesture, plot path."""
    from ..config import MacroConfig
    from ..frontend.dvs import GESTURES
    from ..mapper.hardware import HardwareConfig
    from ..mapper.study import check_plot_path

    sizes = _parse(args.sizes, "sizes", lambda v: tuple(int(x) for x in v.split("x")))
    if any(len(s) != 2 for s in sizes):
        raise ValueError(f"`--sizes` entries must be ROWSxCOLS, not {args.sizes!r}")
    for rows, cols in sizes:
        try:
            MacroConfig(rows=rows, cols=cols)
        except ValueError as e:
            raise ValueError(f"`--sizes` entry {rows}x{cols}: {e}") from None
    try:
        HardwareConfig(MacroConfig(rows=sizes[0][0], cols=sizes[0][1],
                                   batch_max=args.batch_max),
                       cores=args.cores, buffer_bits=args.buffer_bits)
    except ValueError as e:
        flag = next(f for k, f in (("batch_max", "--batch"), ("cores", "--cores"),
                                   ("buffer_bits", "--buffer-bits"), ("", "--batch"))
                    if f"`{k}`" in str(e) or not k)
        raise ValueError(f"`{flag}`: {e}") from None
    keeps = _parse(args.keep, "keep", float)
    bad = [k for k in keeps if not 0 < k <= 1]
    if bad:
        raise ValueError(f"`--keep` fractions must be in (0, 1], not {bad[0]}")
    if not 0 <= args.gesture < len(GESTURES):
        raise ValueError(f"`--gesture` must be in [0, {len(GESTURES) - 1}], not {args.gesture}")
    check_out_file(args.plot, "--plot")
    check_plot_path(args.plot)
    return sizes, keeps


def run(args: argparse.Namespace) -> int:
    from ..frontend.examples import dvs_gesture_events, dvs_gesture_network
    from ..mapper.study import plot, run_study, table

    sizes, keeps = _check(args)
    network = dvs_gesture_network(0)
    events = dvs_gesture_events(0, args.gesture)
    points = run_study(network, events, sizes, keeps, args.cores, args.batch_max,
                       args.buffer_bits,
                       progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(table(points))
    with staged_file(args.plot) as tmp:     # a complete PNG, or the old file untouched
        plot(points, tmp, f"dvs-gesture example, {args.cores} cores, P={args.batch_max}")
    print(f"plot written to {args.plot}")
    return 0
