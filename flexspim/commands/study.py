"""``flexspim study``: the hybrid-dataflow study on the dvs-gesture example."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub) -> None:
    c = sub.add_parser("study", help="compare all-WS, all-OS and hybrid dataflows on the "
                                     "dvs-gesture example (table + PNG)")
    c.add_argument("--cores", type=int, default=16, help="macros on the chip (default 16)")
    c.add_argument("--batch", type=int, default=8, dest="batch_max", help="P (default 8)")
    c.add_argument("--buffer-bits", type=int, default=8 * 1024 * 1024)
    c.add_argument("--sizes", default="1024x32,2048x64,4096x128",
                   help="comma-separated ROWSxCOLS (default 1024x32,2048x64,4096x128)")
    c.add_argument("--keep", default="1,0.5,0.2,0.1,0.05",
                   help="fractions of the input events kept (sparsity axis)")
    c.add_argument("--gesture", type=int, default=9, help="synthetic gesture class (default 9)")
    c.add_argument("--plot", type=Path, default=Path("study.png"), help="PNG output")
    c.set_defaults(func=run)


def _parse(text: str, name: str, conv):
    try:
        return [conv(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"`--{name}` is not a valid comma-separated list: {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from ..frontend.examples import dvs_gesture_events, dvs_gesture_network
    from ..mapper.study import plot, run_study, table

    sizes = _parse(args.sizes, "sizes", lambda v: tuple(int(x) for x in v.split("x")))
    if any(len(s) != 2 for s in sizes):
        raise ValueError(f"`--sizes` entries must be ROWSxCOLS, not {args.sizes!r}")
    keeps = _parse(args.keep, "keep", float)
    network = dvs_gesture_network(0)
    events = dvs_gesture_events(0, args.gesture)
    points = run_study(network, events, sizes, keeps, args.cores, args.batch_max,
                       args.buffer_bits,
                       progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(table(points))
    plot(points, args.plot, f"dvs-gesture example, {args.cores} cores, P={args.batch_max}")
    print(f"plot written to {args.plot}")
    return 0
