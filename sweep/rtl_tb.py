"""cocotb side of `sweep.rtl`: back-to-back operations of one sweep point on `CimMacro`.

Runs ``FLEXSPIM_REPEAT`` accumulates (the point's bv, bw, weight rows, saturate, every
column; V at its minimum and every weight -1, so a saturating accumulate clamps every time:
the worst case the sweep's ``acc_cycles`` gives) and as many fire passes (the point's leak
mode and reset, register threshold 0), at the point's operand shape ``operand_cols`` (V's
sign position set in its last row, the padding positions above it too, so V is the minimum
in every group), each awaited on its ``done`` pulse by
`testbench.macro_driver.MacroDriver`, and writes the cycle counts it saw to
``FLEXSPIM_SWEEP_OUT`` (JSON). It compares nothing itself: the caller compares with the
golden formulas and reports any disagreement.
"""

import json
import os

import cocotb
import numpy as np

from flexspim.config import LEAK_MODES, MacroConfig, operand_rows
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
    n_c = p.operand_cols
    v_rows, w_rows = operand_rows(p.bv, n_c), operand_rows(p.bw, n_c)
    rows = list(weight_rows(p))
    n = len(rows)
    acc = AccFields(0, p.bv, tuple(rows + [0] * (p.batch - n)),
                    tuple([True] * n + [False] * (p.batch - n)), p.bw, ones, p.saturate,
                    operand_cols=n_c)
    fire = FireCmd(0, p.bv, LEAK_MODES.index(p.leak_mode), 0, 0, False, 0,
                   p.reset == "soft", ones, operand_cols=n_c)
    # weights = -1 (all ones) and, before every accumulate, V = minimum (only its sign bit
    # and the padding above it set, in V's last row): every batch underflows
    for r in range(v_rows, v_rows + n * w_rows):
        await drv.write_row(r, ones)
    pos = np.arange(cfg.cols) % n_c + (v_rows - 1) * n_c     # bit index in V's last row
    sign_row = (pos >= p.bv - 1).astype(np.uint8)
    out = {"acc": [], "fire": [], "errors": 0}
    for _ in range(repeat):
        for r in range(v_rows):
            await drv.write_row(r, sign_row if r == v_rows - 1 else 0 * ones)
        c, _, err = await drv.accumulate(acc)
        out["acc"].append(c)
        out["errors"] += int(err)
        c, _, err = await drv.fire(fire)
        out["fire"].append(c)
        out["errors"] += int(err)
    with open(os.environ["FLEXSPIM_SWEEP_OUT"], "w") as f:
        json.dump(out, f)
