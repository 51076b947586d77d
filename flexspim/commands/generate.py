"""``flexspim generate``: Verilog of a macro, a neuron core or a whole system, plus
``manifest.json``.

Every parameter is validated before anything is written: a bad value prints one line naming
the parameter, the value and the allowed range, and leaves the output folder untouched.
TOML: a ``[macro]`` table (rows, cols, batch_max), a ``[core]`` table (fifo_depth,
index_bits), a ``[system]`` table (n_cores, in_fifo_depth) and a ``[fanout]`` table
(index_bits, op_bits, max_kernel, max_taps). ``--cores N`` implies ``--top system``.
``--top fanout`` is the conv address generator alone (docs/dataflow.md 4.5; no array, so no
``--rows``/``--cols``).

``--prefix NAME`` starts every module name with NAME (top ``NAME_macro|core|system``, storage
``NAME_cim_array``), so differently configured designs can share a chip. ``--array
blackbox`` emits the storage as an empty module with the documented ports (docs/array.md) and
its behavioural model in ``NAME_cim_array_model.v``; the same holds for the operand buffer
(``--top buffer``: ``--words`` rows of ``--cols`` bits, docs/buffer.md), whose model goes to
``NAME_operand_buffer_model.v``, and for the row mover with its buffer (``--top mover``:
the buffer's options plus ``--addr-bits`` and ``--outstanding`` of the backing-store port,
docs/dataflow.md section 5), and for the sequencer with its mover and buffer (``--top
sequencer``: the mover's options plus ``--rows`` of the array's row port, ``--batch``,
``--op-bits``, ``--slots`` and ``--tile-bits``, docs/dataflow.md 5.4). The Verilog carries no
power-up values
unless ``--init`` is given: only the synchronous reset defines the state.
"""

from __future__ import annotations

import argparse

from ..cli import geometry_args, load_toml, macro_from_args
from ..config import CoreConfig, FanoutConfig, SystemConfig
from ..inputs import check_unused
from ..outputs import check_out_dir, out_dir_arg, staged

TOPS = ("macro", "core", "system", "fanout", "buffer", "mover", "sequencer")


def register(sub) -> None:
    p = sub.add_parser("generate", help="write Verilog (macro, core or system) and manifest.json",
                       description=__doc__)
    p.add_argument("-o", "--out", type=out_dir_arg, required=True, metavar="DIR",
                   help="output folder (created if needed)")
    p.add_argument("--top", choices=sorted(TOPS), default=None,
                   help="what to generate (default: macro, or system with --cores)")
    p.add_argument("--prefix", default="flexspim", metavar="NAME",
                   help="prefix of every module name (default flexspim)")
    p.add_argument("--array", choices=("behavioural", "blackbox"), default="behavioural",
                   help="storage array: behavioural model (default) or an empty black box "
                        "plus NAME_cim_array_model.v")
    p.add_argument("--init", action="store_true",
                   help="keep power-up values (reg x = v) in the Verilog (default: none)")
    geometry_args(p)
    core_system_args(p)
    b = p.add_argument_group("operand buffer, row mover and sequencer (with --top buffer, "
                             "mover or sequencer)")
    b.add_argument("--words", type=int, help="buffer words (rows of --cols bits)")
    b.add_argument("--addr-bits", type=int,
                   help="mover: backing-store row address width (default 20)")
    b.add_argument("--outstanding", type=int,
                   help="mover: most backing-store requests in flight (default 4)")
    b.add_argument("--slots", type=int,
                   help="sequencer: slot tags, the most N_SLOTS (default 4)")
    b.add_argument("--tile-bits", type=int,
                   help="sequencer: width of a local tile or table index (default 4)")
    p.set_defaults(func=run)


def buffer_from_args(args: argparse.Namespace):
    from ..config import BufferConfig

    if args.words is None or args.cols is None:
        raise ValueError(f"--top {args.top} needs --words and --cols (the buffer's rows and "
                         f"the bits of each, the array's columns)")
    return BufferConfig(words=args.words, width=args.cols)


def mover_from_args(args: argparse.Namespace):
    from ..config import MoverConfig

    d = {k: getattr(args, k) for k in ("addr_bits", "outstanding")
         if getattr(args, k) is not None}
    return MoverConfig(buffer=buffer_from_args(args), **d)


def sequencer_from_args(args: argparse.Namespace):
    from ..config import SequencerConfig

    d = {k: getattr(args, a) for k, a in (("rows", "rows"), ("batch", "batch_max"),
                                          ("op_bits", "op_bits"), ("max_slots", "slots"),
                                          ("tile_bits", "tile_bits"))
         if getattr(args, a) is not None}
    return SequencerConfig(mover=mover_from_args(args), **d)


def core_system_args(p) -> None:
    """The core and system options, shared by `generate` and `synth` (read by
    `core_from_args` / `system_from_args`)."""
    c = p.add_argument_group("core (with --top core)")
    c.add_argument("--fifo-depth", type=int, help="input event FIFO depth (default 16)")
    c.add_argument("--index-bits", type=int, help="event index width (default 16)")
    s = p.add_argument_group("system (with --top system)")
    s.add_argument("--cores", type=int, help="number of neuron cores (implies --top system)")
    s.add_argument("--in-fifo-depth", type=int, help="external input FIFO depth (default 16)")
    f = p.add_argument_group("fan-out unit (with --top fanout; --index-bits too)")
    f.add_argument("--op-bits", type=int, help="table operand index width (default 12)")
    f.add_argument("--max-kernel", type=int, help="largest kernel side, stride, dilation "
                                                  "(default 15)")
    f.add_argument("--max-taps", type=int, help="most entries per source (default 9)")


def fanout_from_args(args: argparse.Namespace) -> FanoutConfig:
    d: dict = {}
    if args.config is not None:
        d.update(load_toml(args.config).get("fanout", {}))
    for k in ("index_bits", "op_bits", "max_kernel", "max_taps"):
        if getattr(args, k) is not None:
            d[k] = getattr(args, k)
    return FanoutConfig.from_dict(d)


def core_from_args(args: argparse.Namespace, macro) -> CoreConfig:
    d: dict = {}
    if args.config is not None:
        d.update(load_toml(args.config).get("core", {}))
    if args.fifo_depth is not None:
        d["fifo_depth"] = args.fifo_depth
    if args.index_bits is not None:
        d["index_bits"] = args.index_bits
    return CoreConfig.from_dict({**d, "macro": macro})


def system_from_args(args: argparse.Namespace, core: CoreConfig) -> SystemConfig:
    d: dict = {}
    if args.config is not None:
        d.update(load_toml(args.config).get("system", {}))
    if args.cores is not None:
        d["n_cores"] = args.cores
    if args.in_fifo_depth is not None:
        d["in_fifo_depth"] = args.in_fifo_depth
    return SystemConfig.from_dict({**d, "core": core})


def run(args: argparse.Namespace) -> int:
    top = args.top or ("system" if args.cores is not None else "macro")
    # everything is validated before anything is written
    flag = {"batch_max": "--batch"}
    check_unused({flag.get(k, f"--{k.replace('_', '-')}"): getattr(args, k) is not None
                  for k, tops in (("fifo_depth", "core system"),
                                  ("index_bits", "core system fanout"),
                                  ("cores", "system"), ("in_fifo_depth", "system"),
                                  ("op_bits", "fanout sequencer"), ("max_kernel", "fanout"),
                                  ("max_taps", "fanout"),
                                  ("rows", "macro core system sequencer"),
                                  ("cols", "macro core system buffer mover sequencer"),
                                  ("words", "buffer mover sequencer"),
                                  ("addr_bits", "mover sequencer"),
                                  ("outstanding", "mover sequencer"),
                                  ("slots", "sequencer"), ("tile_bits", "sequencer"),
                                  ("batch_max", "macro core system sequencer"))
                  if top not in tops.split()}, f"to --top {top}")
    from ..hdl.emit import check_prefix
    check_prefix(args.prefix)
    if top == "fanout":
        return _write(args, top, *_fanout_design(fanout_from_args(args)))
    if top == "buffer":
        return _write(args, top, *_buffer_design(args))
    if top == "mover":
        return _write(args, top, *_mover_design(args))
    if top == "sequencer":
        return _write(args, top, *_sequencer_design(args))
    macro = macro_from_args(args)
    core = core_from_args(args, macro) if top in ("core", "system") else None
    system = system_from_args(args, core) if top == "system" else None
    derived = {
        "row_addr_width": macro.row_addr_width,
        "bits_width": macro.bits_width,
        "max_bits": macro.max_bits,
        "guard_cycles": macro.guard_cycles,
        "carry_width": macro.carry_width,
        "read_ports": macro.batch_max + 1,
    }
    if top == "macro":
        from ..hdl.macro import CimMacro
        component, params = CimMacro(macro), macro.to_dict()
    elif top == "system":
        from ..hdl.system import FlexSpimSystem
        from ..regmap import core_registers, router_registers
        component, params = FlexSpimSystem(system), system.to_dict()
        derived["registers"] = {n: {"address": a, "width": w, "access": acc}
                                for n, (a, w, acc) in core_registers(core).items()}
        derived["router_registers"] = {n: {"address": a, "width": w, "access": acc}
                                       for n, (a, w, acc) in
                                       router_registers(system.n_cores).items()}
    else:
        from ..hdl.core import NeuronCore
        from ..regmap import core_registers
        component, params = NeuronCore(core), core.to_dict()
        derived["registers"] = {n: {"address": a, "width": w, "access": acc}
                                for n, (a, w, acc) in core_registers(core).items()}
    return _write(args, top, component, params, derived)


def _fanout_design(cfg: FanoutConfig):
    from ..golden.fanout import PHASES
    from ..hdl.fanout import FanoutUnit

    derived = {"kernel_bits": cfg.kernel_bits, "pad_bits": cfg.pad_bits,
               "work_bits": cfg.work_bits, "max_pad": cfg.max_pad, "phases": list(PHASES),
               "cycles": "1 + steps of the phases + kh*kw taps (1 for the bias source) per "
                         "event, plus one per stalled entry (golden.fanout.event_cycles)"}
    return FanoutUnit(cfg), cfg.to_dict(), derived


def _buffer_design(args):
    from ..hdl.buffer import BufferTop

    buf = buffer_from_args(args)
    return BufferTop(buf), buf.to_dict(), {"addr_width": buf.addr_width, "bits": buf.bits}


def _mover_design(args):
    from ..golden.mover import LOAD, STORE, transfer_cycles
    from ..hdl.mover import COUNTER_NAMES, MoverUnit

    cfg = mover_from_args(args)
    n = min(8, cfg.buffer.words)
    derived = {"addr_width": cfg.buffer.addr_width, "count_width": cfg.buffer.count_width,
               "bits": cfg.buffer.bits, "counters": list(COUNTER_NAMES),
               "cycles": "LOAD rows + L + 1, STORE rows + L + 2 busy cycles at a server always "
                         "ready with latency L <= outstanding - 1 "
                         "(golden.mover.transfer_cycles)",
               f"cycles_{n}_rows_latency_1": {"load": transfer_cycles(cfg, LOAD, n),
                                              "store": transfer_cycles(cfg, STORE, n)}}
    return MoverUnit(cfg), cfg.to_dict(), derived


def _sequencer_design(args):
    from ..hdl.sequencer import PHASES, PROG_ADDR_BITS, UNIT_COUNTERS, SequencerUnit

    cfg = sequencer_from_args(args)
    derived = {"addr_width": cfg.buffer.addr_width, "row_width": cfg.row_width,
               "prog_addr_bits": PROG_ADDR_BITS, "descriptor_words": 8,
               "counters": list(UNIT_COUNTERS), "phases": list(PHASES),
               "cycles": "per op: n + 1 per array-side transfer of n rows, the mover's busy "
                         "cycles + 2 per mover transfer, 0 when nothing moves "
                         "(golden.sequencer.SequencerMachine, decision 155)"}
    return SequencerUnit(cfg), cfg.to_dict(), derived


def _write(args, top, component, params, derived) -> int:
    from ..hdl.emit import write_design

    check_out_dir(args.out)
    from ..flowfiles import write_flow_files  # SDC, file list, FuseSoC core, manifest extras
    with staged(args.out) as stage:     # all files appear together, or none
        manifest = write_design(component, f"{args.prefix}_{top}", stage, params, derived,
                                prefix=args.prefix, array=args.array, init=args.init)
        manifest = write_flow_files(stage, manifest)
    print(f"wrote {args.out / manifest['verilog']['file']} (sha256 "
          f"{manifest['verilog']['sha256'][:16]}...), {args.out / 'manifest.json'}")
    return 0
