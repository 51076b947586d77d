"""``flexspim generate``: Verilog of a macro plus ``manifest.json``.

Every parameter is validated before anything is written: a bad value prints one line naming
the parameter, the value and the allowed range, and leaves the output folder untouched.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import geometry_args, macro_from_args

TOP = "flexspim_macro"


def register(sub) -> None:
    p = sub.add_parser("generate", help="write the macro's Verilog and manifest.json",
                       description=__doc__)
    p.add_argument("-o", "--out", type=Path, required=True, metavar="DIR",
                   help="output folder (created if needed)")
    geometry_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    macro = macro_from_args(args)            # raises ValueError before anything is written
    from ..hdl.emit import write_design
    from ..hdl.macro import CimMacro

    derived = {
        "row_addr_width": macro.row_addr_width,
        "bits_width": macro.bits_width,
        "max_bits": macro.max_bits,
        "guard_cycles": macro.guard_cycles,
        "carry_width": macro.carry_width,
        "read_ports": macro.batch_max + 1,
    }
    manifest = write_design(CimMacro(macro), TOP, args.out, macro.to_dict(), derived)
    print(f"wrote {args.out / manifest['verilog']['file']} (sha256 "
          f"{manifest['verilog']['sha256'][:16]}...), {args.out / 'manifest.json'}")
    return 0
