"""cocotb side of `sweep.rtl`: back-to-back operations of one sweep point on `CimMacro`.

Runs ``FLEXSPIM_REPEAT`` accumulates (the point's bv, bw, weight rows, saturate, every
column; V at its minimum and every weight -1, so a saturating accumulate clamps every time:
the worst case the sweep's ``acc_cycles`` gives) and as many fire passes (the point's leak
mode and reset, register threshold 0), each awaited on its ``done`` pulse by
`testbench.macro_driver.MacroDriver`, and writes the cycle counts it saw to
``FLEXSPIM_SWEEP_OUT`` (JSON). It compares nothing itself: the caller compares with the
golden formulas and reports any disagreement.
"""

import json
import os

import cocotb
import numpy as np

from flexspim.config import LEAK_MODES, MacroConfig
from flexspim.sweep.point import Point, weight_rows
from flexspim.testbench.macro_driver import AccFields, FireCmd, MacroDriver


@cocotb.test()
async def measure(dut):
    p = Point.from_dict(json.loads(os.environ["FLEXSPIM_POINT"]))
    cfg: MacroConfig = p.macro()
    repeat = int(os.environ.get("FLEXSPIM_REPEAT", "3"))
    drv = MacroDriver(dut, cfg)
    await drv.start()
    ones = np.ones(cfg.cols, dtype=np.uint8)
    rows = list(weight_rows(p))
    n = len(rows)
    acc = AccFields(0, p.bv, tuple(rows + [0] * (p.batch - n)),
                    tuple([True] * n + [False] * (p.batch - n)), p.bw, ones, p.saturate)
    fire = FireCmd(0, p.bv, LEAK_MODES.index(p.leak_mode), 0, 0, False, 0,
                   p.reset == "soft", ones)
    # weights = -1 (all ones) and, before every accumulate, V = minimum (only its sign row
    # set): every batch underflows
    for r in range(p.bv, p.bv + len(rows) * p.bw):
        await drv.write_row(r, ones)
    out = {"acc": [], "fire": [], "errors": 0}
    for _ in range(repeat):
        for r in range(p.bv):
            await drv.write_row(r, ones if r == p.bv - 1 else 0 * ones)
        c, _, err = await drv.accumulate(acc)
        out["acc"].append(c)
        out["errors"] += int(err)
        c, _, err = await drv.fire(fire)
        out["fire"].append(c)
        out["errors"] += int(err)
    with open(os.environ["FLEXSPIM_SWEEP_OUT"], "w") as f:
        json.dump(out, f)
