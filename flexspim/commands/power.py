"""``flexspim power``: power and energy per synaptic operation from switching activity.

Synthesizes a macro or a core onto a Liberty (default OSU 0.18 um), runs a random event
stream through the gate-level netlist under Icarus Verilog (every result checked against the
golden model), counts every net's toggles in the VCD, hands them to OpenSTA's
``report_power``, and prints dynamic and leakage power (mW) and pJ per synaptic operation at
0.18 um and scaled to 40 nm, beside the FlexSpIM chip's measured 5.7-7.2 pJ/SOP. Writes
``power.json``, the netlist, the VCD and the logs in the output folder (`flow.power`).

The stream: macro, ``--ops`` saturating accumulates of ``min(P, stored weight vectors)``
``--bw``-bit weights into ``--bv``-bit potentials in every column, a fire pass after every
``--fire-every``; core, one fully connected layer (as many inputs as fit, ``cols`` outputs)
and ``--events`` random input events with a tick every ~1/``--tick-rate`` events.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import geometry_args
from .generate import core_system_args

__all__ = ["register", "run", "table", "stream_of"]


def register(sub) -> None:
    p = sub.add_parser("power", help="power (mW) and pJ/SOP from the toggles of a real event "
                                     "stream on the synthesized netlist", description=__doc__)
    p.add_argument("-o", "--out", type=Path, required=True, metavar="DIR",
                   help="output folder (created if needed)")
    p.add_argument("--top", choices=("macro", "core"), default="macro",
                   help="what to measure (default: macro)")
    geometry_args(p)
    p.add_argument("--bw", type=int, default=4, help="weight bits (default 4)")
    p.add_argument("--bv", type=int, default=8, help="potential bits (default 8)")
    p.add_argument("--ops", type=int, default=64,
                   help="macro: accumulates in the stream (default 64)")
    p.add_argument("--fire-every", type=int, default=8,
                   help="macro: a fire pass after every N accumulates (default 8)")
    p.add_argument("--events", type=int, default=200,
                   help="core: input events in the stream (default 200)")
    p.add_argument("--tick-rate", type=float, default=0.05,
                   help="core: probability that an event is a tick (default 0.05)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the stream (default 1)")
    p.add_argument("--liberty", type=Path, metavar="FILE",
                   help="Liberty cell library (default: OSU 0.18 um; the cell models "
                        "for simulation are OSU 0.18's)")
    core_system_args(p)
    p.set_defaults(func=run)


def _int(name: str, v, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"`--{name}` must be an integer in [{lo}, {hi}], not {v!r}")
    return v


def stream_of(args: argparse.Namespace, kind: str, config) -> dict:
    """The stream settings, validated against the geometry (one-line `ValueError`)."""
    macro = config if kind == "macro" else config.macro
    rows = macro.rows
    bv = _int("bv", args.bv, 1, macro.max_bits)
    bw = _int("bw", args.bw, 1, bv)
    seed = _int("seed", args.seed, 0, 2 ** 32 - 1)
    del seed
    if kind == "macro":
        if bv + bw > rows:
            raise ValueError(f"`--bv` {bv} + `--bw` {bw} do not fit in {rows} rows: the "
                             f"stream needs the potentials and at least one weight vector")
        return {"bw": bw, "bv": bv, "n_ops": _int("ops", args.ops, 1, 100_000),
                "fire_every": _int("fire-every", args.fire_every, 1, 100_000)}
    n_in = min((rows - bv) // bw, 1 << config.index_bits) if rows > bv else 0
    if n_in < 1:
        raise ValueError(f"`--bv` {bv} + `--bw` {bw} do not fit in {rows} rows: the layer "
                         f"needs its potentials and at least one input's weights")
    rate = args.tick_rate
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < 1:
        raise ValueError(f"`--tick-rate` must be a probability in (0, 1), not {rate!r}")
    hi = (1 << (bv - 1)) - 1
    return {"bw": bw, "bv": bv, "n_in": n_in, "n_events": _int("events", args.events, 1,
                                                                  1_000_000),
            "tick_rate": float(rate), "threshold": max(1, hi // 4)}


def table(rec: dict) -> str:
    p, e = rec["power_mw"], rec["pj_per_sop"]
    w, ops = rec["window"], rec["operations"]
    lines = [f"{rec['top']} on {rec['liberty']['name']}: {w['cycles']} cycles at "
             f"{w['clock_mhz']:.0f} MHz, {ops['accumulates']} accumulates, {ops['fires']} "
             f"fires, {ops['sops']} synaptic ops (toggles from the gate-level simulation, "
             f"power from OpenSTA report_power, corrected as flow/power.py says)",
             f"{'power (mW)':34}{'storage':>10}{'periphery':>11}{'total':>10}"]
    st, pe = p["storage"], p["periphery"]
    lines.append(f"{'  cell internal':34}{st['internal']:10.3f}{pe['internal']:11.3f}"
                 f"{p['internal']:10.3f}")
    lines.append(f"{'  net switching (cell outputs)':34}{st['switching']:10.3f}"
                 f"{pe['switching']:11.3f}{p['switching']:10.3f}")
    lines.append(f"{'  clock net (C V^2 f, ideal clock)':34}{'':10}{'':11}{p['clock_net']:10.3f}")
    lines.append(f"{'  input-port nets':34}{'':10}{'':11}{p['input_nets']:10.3f}")
    lines.append(f"{'  dynamic':34}{'':10}{'':11}{p['dynamic']:10.3f}")
    lines.append(f"{'  leakage':34}{st['leakage']:10.6f}{pe['leakage']:11.6f}"
                 f"{p['leakage']:10.6f}")
    lines.append(f"{'  total':34}{'':10}{'':11}{p['total']:10.3f}")
    lines.append(f"energy per synaptic operation: {e['0.18um']:.2f} pJ/SOP at 0.18 um (1.8 V); "
                 f"{e['40nm']:.2f} pJ/SOP scaled to 40 nm (x{rec['scaling']['factor']:.4f} = "
                 f"(40/180) * (0.9/1.8)^2, dynamic only); FlexSpIM chip (40 nm, 8b/16b, "
                 f"measured): {e['chip_40nm'][0]}-{e['chip_40nm'][1]} pJ/SOP")
    if "model" in rec:
        m = rec["model"]
        lines.append(f"energy model with Liberty-derived costs (flow/libcosts.py), same "
                     f"stream: {m['pj_per_sop']:.2f} pJ/SOP without a clock term, "
                     f"{m['pj_per_sop_with_clock']:.2f} with it; activity-based / model = "
                     f"{m['ratio_with_clock']:.2f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..flow import FlowError, default_liberty, load_liberty
    from ..flow.power import measure_power
    from ..outputs import check_out_dir
    from .flowcli import FlowRun
    from .synth import config_of

    args.cores = None
    kind, config = config_of(args)
    stream = stream_of(args, kind, config)
    check_out_dir(args.out)
    job = FlowRun("power")
    try:
        lib = job.check(("yosys", "iverilog", "vvp", "sta"), lambda: load_liberty(
            args.liberty if args.liberty is not None else default_liberty()))
        from ..flow.power import cell_models

        cell_models()
    except FlowError as e:
        return job.error(e, 2)
    out: Path = args.out
    try:
        rec = measure_power(kind, config, lib, out, stream, args.seed, job.say)
    except FlowError as e:
        return job.error(e, 1)
    job.write(out / "power.json", rec)
    print(table(rec))
    print(f"wrote {out / 'power.json'} ({job.elapsed():.1f} s)")
    return 0
