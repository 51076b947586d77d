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
    c.add_argument("--operand-cols", type=int, default=1, metavar="N",
                   help="operand shape N_C: each operand spans N columns (a power of two; "
                        "--max-operand-cols defaults to it)")
    c.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..golden.cycles import accumulate_cycles, fire_cycles

    if args.max_operand_cols is None and isinstance(args.operand_cols, int) \
            and args.operand_cols > 1:
        args.max_operand_cols = args.operand_cols
    macro = macro_from_args(args)
    layer = LayerConfig(bw=args.bw, bv=args.bv, saturate=not args.wrap,
                        leak_mode=args.leak_mode, leak=args.leak, reset=args.reset,
                        operand_cols=args.operand_cols)
    layer.check_fits(macro)
    n_c = layer.operand_cols
    acc = accumulate_cycles(macro, layer.bv, layer.saturate, operand_cols=n_c)
    print(f"geometry: rows={macro.rows} cols={macro.cols} P={macro.batch_max} "
          f"(guard cycles {macro.guard_cycles}, carry register {macro.carry_width} bits)")
    if n_c > 1:
        print(f"operand shape: {n_c} columns x {layer.v_rows} rows per potential, "
              f"{layer.w_rows} rows per weight; {macro.cols // n_c} neurons per slot")
    no_clamp = accumulate_cycles(macro, layer.bv, layer.saturate, clamp=False, operand_cols=n_c)
    print(f"accumulate (bv={layer.bv}, {'saturate' if layer.saturate else 'wrap'}): {acc} cycles"
          + (f" ({no_clamp} without overflow)" if no_clamp != acc else "")
          + f" for up to {macro.batch_max * (macro.cols // n_c)} synaptic operations")
    print(f"fire (leak={layer.leak_mode}, reset={layer.reset}): "
          f"{fire_cycles(layer)} cycles per neuron slot")
    return 0
