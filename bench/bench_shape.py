"""Operand shape against cycles, Fmax and area (``make bench-shape``; issue 20).

For each P and each ``max_operand_cols`` M (the widest operand group the generated macro's
carry chain supports), the macro at ``--size`` x ``--size`` is synthesized and timed by
``flexspim synth``'s flow (`flexspim.flow.design.synth_design`: Yosys + ABC to the OSU 0.18 um
Liberty, OpenSTA with an ideal clock and no wires). Cycles come from `golden.cycles` at
``operand_cols = M`` (the widest shape that macro runs), ``bv = 16``, ``bw = 8``:

* accumulate: saturate mode, no column overflowed (the clamp pass ends in its first cycle),
  and the worst case (the clamp pass runs) beside it;
* fire: leak "none", hard reset, threshold from the register.

Area is split as the flow splits it (`flexspim.flow.synth`): the storage (the array module,
synthesized as flip-flops with ``--storage synth``, the default) and the periphery (everything
else: accumulate and fire units, carry chains, sequencer, row port). Every run keeps its
netlist, logs and ``synth.json`` under ``build/bench-shape/macro-<S>x<S>-P<P>-M<M>/<storage>/``
and is not redone while that file is there (``--fresh`` redoes it). Prints a progress line
per step (stderr), a Markdown table (stdout), and writes every record to ``--json``
(default ``build/bench-shape/shape.json``).

    python bench/bench_shape.py [--size 64] [--batch 1,8] [--max-cols 1,2,4,8]
                                [--storage synth|bitcell] [--fresh] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from flexspim.config import LayerConfig, MacroConfig
from flexspim.flow import default_liberty, load_liberty
from flexspim.flow.design import synth_design
from flexspim.golden.cycles import accumulate_cycles, fire_cycles

ROOT = Path(__file__).resolve().parent.parent / "build" / "bench-shape"
BV, BW = 16, 8


def cycles(macro: MacroConfig, n_c: int) -> dict:
    """Golden cycle counts at ``operand_cols = n_c`` (bv 16, bw 8; see the docstring)."""
    layer = LayerConfig(bw=BW, bv=BV, operand_cols=n_c)
    layer.check_fits(macro)
    return {"operand_cols": n_c, "bv": BV, "bw": BW,
            "acc_cycles": accumulate_cycles(macro, BV, True, clamp=False, operand_cols=n_c),
            "acc_cycles_clamp": accumulate_cycles(macro, BV, True, clamp=True,
                                                  operand_cols=n_c),
            "acc_cycles_wrap": accumulate_cycles(macro, BV, False, operand_cols=n_c),
            "fire_cycles": fire_cycles(layer),
            "neurons_per_slot": macro.cols // n_c,
            "guard_cycles": macro.guard_cycles}


def one(size: int, batch: int, m: int, lib, storage: str, fresh: bool, step: str) -> dict:
    macro = MacroConfig(rows=size, cols=size, batch_max=batch, max_operand_cols=m)
    folder = ROOT / f"macro-{size}x{size}-P{batch}-M{m}" / storage
    done = folder / "synth.json"
    t0 = time.perf_counter()

    def say(s: str) -> None:
        print(f"  [{step} macro {size}x{size} P={batch} M={m} {time.perf_counter() - t0:7.1f}s]"
              f" {s}", file=sys.stderr, flush=True)

    if done.is_file() and not fresh:
        say(f"cached: {done}")
        rec = json.loads(done.read_text())
    else:
        rec = synth_design("macro", macro, lib, folder, say, storage=storage)
        rec["wall_s"] = time.perf_counter() - t0
        done.write_text(json.dumps(rec, indent=2) + "\n")
        say(f"done: Fmax {rec['fmax_mhz']:.1f} MHz, periphery "
            f"{rec['area_um2']['periphery']:,.0f} um2")
    return {"size": size, "batch": batch, "max_operand_cols": m,
            "cycles": cycles(macro, m), "synth": rec, "synth_json": str(done)}


def table(runs: list[dict], lib, storage: str) -> str:
    out = [f"Liberty: {lib.name} ({lib.path}); Yosys + ABC, OpenSTA (ideal clock, no wires); "
           f"storage: " + ("synthesized as flip-flops, its area separated" if storage == "synth"
                           else "custom macro priced per bit (flow/bitcell.py), not timed")
           + f"; cycles: golden/cycles.py at operand_cols = M, bv = {BV}, bw = {BW}, "
           "accumulate saturating with no overflow (clamp pass in brackets), fire with leak "
           "none and hard reset", "",
           "| P | max_operand_cols M | neurons per slot (at N_C = M) | accumulate cycles "
           "(clamp) | fire cycles | Fmax (MHz) | critical path (ns) | periphery (um2) "
           "| storage (um2) | cells | flip-flops | critical path start -> end |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in runs:
        c, s = r["cycles"], r["synth"]
        cp = s["critical_path"]
        out.append(f"| {r['batch']} | {r['max_operand_cols']} | {c['neurons_per_slot']} | "
                   f"{c['acc_cycles']} ({c['acc_cycles_clamp']}) | {c['fire_cycles']} | "
                   f"{s['fmax_mhz']:.1f} | {s['critical_path_ns']:.2f} | "
                   f"{s['area_um2']['periphery']:,.0f} | {s['area_um2']['storage']:,.0f} | "
                   f"{s['cells']:,} | {s['flops']:,} | "
                   f"`{cp['start_register'] or cp['start']}` -> "
                   f"`{cp['end_register'] or cp['end']}` |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64, help="rows = cols (default 64)")
    ap.add_argument("--batch", default="1,8", help="P values (default 1,8)")
    ap.add_argument("--max-cols", default="1,2,4,8", help="max_operand_cols values")
    ap.add_argument("--liberty", type=Path, help="Liberty (default OSU 0.18)")
    ap.add_argument("--storage", default="synth", choices=("synth", "bitcell"),
                    help="storage synthesized (default) or priced per bit")
    ap.add_argument("--fresh", action="store_true", help="redo runs already in build/")
    ap.add_argument("--json", type=Path, default=ROOT / "shape.json",
                    help="results file (default build/bench-shape/shape.json)")
    a = ap.parse_args()
    lib = load_liberty(a.liberty or default_liberty())
    plan = [(int(p), int(m)) for p in a.batch.split(",") for m in a.max_cols.split(",")]
    for p, m in plan:               # every configuration checked before the first synthesis
        cycles(MacroConfig(rows=a.size, cols=a.size, batch_max=p, max_operand_cols=m), m)
    runs = []
    a.json.parent.mkdir(parents=True, exist_ok=True)
    for k, (p, m) in enumerate(plan, 1):
        step = f"{k}/{len(plan)}"
        print(f"[{step}] macro {a.size}x{a.size} P={p} max_operand_cols={m}: synthesizing",
              file=sys.stderr, flush=True)
        runs.append(one(a.size, p, m, lib, a.storage, a.fresh, step))
        doc = {"format": "flexspim-bench-shape", "version": 1, "liberty": lib.summary(),
               "storage": a.storage, "runs": runs}
        a.json.write_text(json.dumps(doc, indent=1) + "\n")    # after every run: partial ok
    print()
    print(table(runs, lib, a.storage))
    print(f"\nwrote {a.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
