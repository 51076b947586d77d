"""README table of issue 23: energy per synaptic operation, activity-based (`flexspim power`:
toggles of a gate-level simulation -> OpenSTA report_power, corrected) and the energy model
with Liberty-derived costs (`flow/libcosts.py`) on the same stream, at 0.18 um and scaled to
40 nm (x0.0556 = (40/180) * (0.9/1.8)^2), the FlexSpIM chip's measured 5.7-7.2 pJ/SOP beside.

    python bench/bench_power.py [--tops macro,core] [--rows 16] [--out build/bench-power]

Each point is one `flexspim power` run (synthesis, simulation, OpenSTA); its power.json
stays in ``<out>/<top>``. Progress lines go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tops", default="macro,core")
    ap.add_argument("--rows", type=int, default=16)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--bw", type=int, default=4)
    ap.add_argument("--bv", type=int, default=8)
    ap.add_argument("--out", type=Path, default=REPO / "build" / "bench-power")
    a = ap.parse_args()
    from flexspim.cli import main as cli

    recs, failed = {}, {}
    for top in a.tops.split(","):
        out = a.out / top
        t0 = time.perf_counter()
        print(f"[bench-power] {top} {a.rows}x{a.rows} P={a.batch} bw={a.bw} bv={a.bv}",
              file=sys.stderr, flush=True)
        args = ["power", "-o", str(out), "--top", top, "--rows", str(a.rows), "--cols",
                str(a.rows), "--batch", str(a.batch), "--bw", str(a.bw), "--bv", str(a.bv)]
        rc = cli(args)
        if rc != 0:
            failed[top] = f"`flexspim {' '.join(args)}` failed (exit {rc})"
            continue
        recs[top] = json.loads((out / "power.json").read_text())
        print(f"[bench-power] {top} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print()
    print(f"| block ({a.rows}x{a.rows}, P={a.batch}, bw={a.bw}, bv={a.bv}, 100 MHz) | "
          f"activity-based, 0.18 um | model (Liberty costs), 0.18 um | model without clock "
          f"term | activity-based, 40 nm | model, 40 nm | FlexSpIM chip, 40 nm (8b/16b) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for top, r in recs.items():
        e, m, f = r["pj_per_sop"], r["model"], r["scaling"]["factor"]
        print(f"| {top} | {e['0.18um']:.1f} pJ/SOP ({r['power_mw']['total']:.2f} mW) | "
              f"{m['pj_per_sop_with_clock']:.1f} | {m['pj_per_sop']:.1f} | {e['40nm']:.2f} | "
              f"{m['pj_per_sop_with_clock'] * f:.2f} | 5.7-7.2 |")
    for top, why in failed.items():
        print(f"| {top} | not measured: {why} | | | | | 5.7-7.2 |")
    print()
    for top, r in recs.items():
        m = r["model"]
        t = m["term_ratio"]
        print(f"{top}: measured / model = {m['ratio_with_clock']:.2f} (with the clock term), "
              f"{m['ratio_without_clock']:.1f} without; per term: clock {t['clock']:.2f}, "
              f"storage / array {t['storage / array']:.2f}, periphery / adders "
              f"{t['periphery / adders']:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
