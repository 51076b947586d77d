"""``flexspim cycles``: the golden model's cycle counts for a geometry and resolution."""

from __future__ import annotations

import argparse

from ..cli import geometry_args, macro_from_args
from ..config import LayerConfig


def register(sub) -> None:
    c = sub.add_parser("cycles", help="print the golden model's cycle counts for a geometry")
    geometry_args(c)
    c.add_argument("--bv", type=int, default=16, help="potential bits (default 16)")
    c.add_argument("--bw", type=int, default=8, help="weight bits (default 8)")
    c.add_argument("--wrap", action="store_true", help="wrap instead of saturate")
    c.add_argument("--leak-mode", default="none", choices=["none", "sub", "shift"])
    c.add_argument("--leak", type=int, default=0)
    c.add_argument("--reset", default="hard", choices=["hard", "soft"])
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..golden.cycles import accumulate_cycles, fire_cycles

    macro = macro_from_args(args)
    layer = LayerConfig(bw=args.bw, bv=args.bv, saturate=not args.wrap,
                        leak_mode=args.leak_mode, leak=args.leak, reset=args.reset)
    layer.check_fits(macro)
    acc = accumulate_cycles(macro, layer.bv, layer.saturate)
    print(f"geometry: rows={macro.rows} cols={macro.cols} P={macro.batch_max} "
          f"(guard cycles {macro.guard_cycles}, carry register {macro.carry_width} bits)")
    no_clamp = accumulate_cycles(macro, layer.bv, layer.saturate, clamp=False)
    print(f"accumulate (bv={layer.bv}, {'saturate' if layer.saturate else 'wrap'}): {acc} cycles"
          + (f" ({no_clamp} without overflow)" if no_clamp != acc else "")
          + f" for up to {macro.batch_max * macro.cols} synaptic operations")
    print(f"fire (leak={layer.leak_mode}, reset={layer.reset}): "
          f"{fire_cycles(layer)} cycles per neuron slot")
    return 0
