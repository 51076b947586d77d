"""cocotb side of bench_macro.py: back-to-back accumulates, timed in wall-clock seconds."""

import json
import os
import time

import cocotb
import numpy as np

from flexspim.config import MacroConfig
from flexspim.golden.cycles import accumulate_cycles
from flexspim.testbench.macro_driver import AccFields, MacroDriver


@cocotb.test()
async def bench_accumulate(dut):
    cfg = MacroConfig.from_dict(json.loads(os.environ["FLEXSPIM_MACRO"]))
    n_ops = int(os.environ.get("FLEXSPIM_OPS", "2000"))
    P = cfg.batch_max
    bv = min(16, cfg.rows // 2)
    bw = max(1, min(8, (cfg.rows - bv) // P))
    drv = MacroDriver(dut, cfg)
    await drv.start()
    rng = np.random.default_rng(0)
    ones = np.ones(cfg.cols, dtype=np.uint8)
    ops = []
    for _ in range(64):
        w = [int(x) for x in bv + bw * rng.permutation((cfg.rows - bv) // bw)[:P]]
        ops.append(AccFields(0, bv, tuple(w), tuple([True] * P), bw, ones, True))
    cycles_seen, total = set(), 0
    t0 = time.perf_counter()
    for i in range(n_ops):
        c, _, err = await drv.accumulate(ops[i % 64])
        assert not err
        cycles_seen.add(c)
        total += c
    wall = time.perf_counter() - t0
    with open(os.environ["FLEXSPIM_BENCH_OUT"], "w") as f:
        # the clamp pass runs only when a column overflowed: both golden costs
        json.dump({"ops": n_ops, "wall": wall, "cycles": total,
                   "cycles_per_op": sorted(cycles_seen),
                   "formula": [accumulate_cycles(cfg, bv, True, clamp=False),
                               accumulate_cycles(cfg, bv, True, clamp=True)],
                   "bv": bv, "bw": bw}, f)
