"""``python -m flexspim.formal`` (``make formal``): every proof must pass and every mutant
must be caught. Prints a table; exit status 1 if any row is not as expected.

Options: ``--quick`` (the default-tier subset), ``-k TEXT`` (only names containing TEXT).
"""

from __future__ import annotations

import argparse
import sys
import time

from .proofs import FULL, MUTANT_CHECKS, QUICK, mutant_class
from .sby import FormalToolError, prove


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m flexspim.formal", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="only the default-tier subset")
    ap.add_argument("-k", default="", metavar="TEXT", help="only checks whose name has TEXT")
    args = ap.parse_args(argv)
    proofs = list(QUICK.values()) if args.quick else FULL
    jobs = [(p.name, p, None) for p in proofs]
    jobs += [(f"mutant {m}", p, m) for m, p in MUTANT_CHECKS.items()]
    jobs = [j for j in jobs if args.k in j[0]]
    bad = 0
    start = time.monotonic()
    print(f"{'check':<34} {'depth':>5} {'expect':>6} {'result':>6} {'s':>6}  note", flush=True)
    for i, (label, proof, mutant) in enumerate(jobs, 1):
        cls = mutant_class(mutant) if mutant else None
        name = proof.name + (f"-{mutant}" if mutant else "")
        try:
            r = prove(proof.build(cls), name, proof.depth)
        except FormalToolError as e:
            print(f"{label:<34} {proof.depth:>5} {'':>6} {'ERROR':>6}  {e}", flush=True)
            bad += 1
            continue
        expect = "fail" if mutant else "pass"
        got = "pass" if r.passed else "fail"
        ok = got == expect
        bad += not ok
        note = r.failure if not r.passed else ""
        if not ok and r.trace:
            note += f" (trace {r.trace})"
        print(f"{label:<34} {proof.depth:>5} {expect:>6} {got:>6} {r.seconds:>6.1f}  "
              f"{'' if ok else 'UNEXPECTED '}{note}  [{i}/{len(jobs)}]", flush=True)
    print(f"{len(jobs) - bad} of {len(jobs)} checks as expected in "
          f"{time.monotonic() - start:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
