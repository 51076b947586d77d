"""cocotb module behind ``flexspim power``: a real event stream through the gate-level netlist.

Reads ``FLEXSPIM_POWER_DIR/job.json`` (what to drive: ``kind`` macro or core, the
configuration, the stream's settings, the seed), drives the DUT with the usual drivers
(`MacroDriver`, `CoreDriver`) and checks every result against the golden model, so the
activity that is measured is that of a netlist that computed the right answer. Writes
``FLEXSPIM_POWER_DIR/stream.json``: the measurement window (simulation time of its first and
last edge, in ns), and every macro operation the golden model ran inside it (its kind,
enabled columns, operands, cycles), from which the energy model counts (`flow.power`).

Macro stream: random bits in the whole array (random weights and potentials), then
``n_ops`` saturating accumulates back to back, each adding ``min(P, n_w)`` distinct weight
vectors (random choice among the ``n_w`` stored ones) to the potentials in every column,
with a fire pass (shift leak 1, hard reset, register threshold) after every ``fire_every``
accumulates. Layout: potentials in rows ``[0, bv)``, weight vector ``k`` in rows
``bv + k*bw ...``.

Core stream: one fully connected layer (``n_in`` inputs, ``cols`` outputs, random weights over
the whole ``bw``-bit range), ``n_events`` random input events (`random_events`) with ticks at
``tick_rate``, at full speed; the output, the array and the counters are compared with the
golden core model afterwards (outside the window).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
import numpy as np

#: Reset cycles before the stream: the drivers' two, and more for the gate-level netlist,
#: whose flip-flops start at x (measured: see `flow.power`).
RESET_CYCLES = 8


async def _long_reset(dut) -> None:
    from cocotb.triggers import RisingEdge

    dut.rst.value = 1
    for _ in range(RESET_CYCLES):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


class Recorder:
    """Wraps a `MacroModel`'s accumulate and fire to log every operation it runs."""

    def __init__(self, model):
        self.ops: list[dict] = []
        self.model = model
        acc, fire0 = model.accumulate, model.fire

        def accumulate(op, col_mask=None):
            res = acc(op, col_mask=col_mask)
            active = int(np.sum(col_mask)) if col_mask is not None else model.config.cols
            self.ops.append({"kind": "acc", "active": active, "n": len(op.w_rows),
                             "bv": op.bv, "bw": op.bw, "saturate": bool(op.saturate),
                             "cycles": int(res.cycles),
                             "clamped": bool(np.any(res.overflow))})
            return res

        def fire(op, col_mask=None):
            from flexspim.golden.cycles import leak_cycles, reset_cycles

            res = fire0(op, col_mask=col_mask)
            active = int(np.sum(col_mask)) if col_mask is not None else model.config.cols
            L = op.layer
            self.ops.append({"kind": "fire", "active": active, "bv": L.bv,
                             "cycles": int(res.cycles),
                             "work": leak_cycles(L) + L.bv + reset_cycles(L),
                             "spikes": int(np.sum(res.spikes))})
            return res

        model.accumulate, model.fire = accumulate, fire


def _job():
    folder = Path(os.environ["FLEXSPIM_POWER_DIR"])
    return folder, json.loads((folder / "job.json").read_text())


async def _macro(dut, folder: Path, job: dict) -> None:
    from cocotb.triggers import FallingEdge
    from cocotb.utils import get_sim_time

    from flexspim.config import MacroConfig
    from flexspim.golden.macro import MacroModel
    from flexspim.progress import bar
    from flexspim.testbench.macro_driver import AccFields, FireCmd, MacroDriver

    cfg = MacroConfig.from_dict(job["config"])
    s = job["stream"]
    bw, bv, n_ops, every = s["bw"], s["bv"], s["n_ops"], s["fire_every"]
    rng = np.random.default_rng(job["seed"])
    n_w = (cfg.rows - bv) // bw
    P = cfg.batch_max
    drv = MacroDriver(dut, cfg)
    await drv.start()
    await drv.reset(RESET_CYCLES)
    golden = MacroModel(cfg)
    golden.bits[:] = rng.integers(0, 2, size=golden.bits.shape)
    await drv.write_array(golden.bits)
    rec = Recorder(golden)
    cols = np.ones(cfg.cols, dtype=np.uint8)
    await FallingEdge(dut.clk)
    t0 = get_sim_time("ns")
    for i in range(n_ops):
        k = min(P, n_w)
        chosen = [bv + int(w) * bw for w in rng.permutation(n_w)[:k]]
        slots = rng.permutation(P)[:k]
        w_rows, w_en = [0] * P, [False] * P
        for sl, r in zip(slots, chosen):
            w_rows[sl], w_en[sl] = r, True
        f = AccFields(0, bv, tuple(w_rows), tuple(w_en), bw, cols, True)
        cycles, overflow, error = await drv.accumulate(f)
        want = golden.accumulate(f.golden_op(), col_mask=cols.astype(bool))
        assert not error and cycles == want.cycles, f"accumulate {i}: {cycles} cycles, " \
            f"error {error}; golden {want.cycles}"
        assert np.array_equal(overflow, want.overflow), f"accumulate {i}: overflow differs"
        if (i + 1) % every == 0:
            hi = (1 << (bv - 1)) - 1
            fc = FireCmd(0, bv, 2, 1, int(rng.integers(0, hi + 1)), False, 0, False, cols)
            cycles, spikes, error = await drv.fire(fc)
            want = golden.fire(fc.golden_op(), col_mask=cols.astype(bool))
            assert not error and cycles == want.cycles, f"fire after {i}: {cycles} cycles"
            assert np.array_equal(spikes, want.spikes), f"fire after {i}: spikes differ"
        bar(i + 1, n_ops, "gate-level simulation", unit="accumulate")
    t1 = get_sim_time("ns")
    bits = await drv.read_array()
    bad = np.argwhere(bits != golden.bits)
    assert bad.size == 0, f"array row {bad[0][0]} column {bad[0][1]} differs from golden"
    _write(folder, t0, t1, MacroDriver.PERIOD_NS, rec.ops)


async def _core(dut, folder: Path, job: dict) -> None:
    from cocotb.triggers import FallingEdge, RisingEdge
    from cocotb.utils import get_sim_time

    from flexspim.config import CoreConfig, FCLayout, LayerConfig
    from flexspim.golden.batching import TICK
    from flexspim.golden.core import CoreModel
    from flexspim.golden.layers import FCLayer
    from flexspim.testbench.core_driver import CoreDriver, random_events

    core = CoreConfig.from_dict(job["config"])
    s = job["stream"]
    rng = np.random.default_rng(job["seed"])
    bw, bv = s["bw"], s["bv"]
    layer = LayerConfig(bw=bw, bv=bv, saturate=True, leak_mode="shift", leak=1,
                        threshold=s["threshold"])
    n_out = core.macro.cols
    layout = FCLayout.packed(core, layer, s["n_in"], n_out)
    lo = -(1 << (bw - 1))
    fc = FCLayer(rng.integers(lo, -lo, size=(n_out, s["n_in"])), layer)
    drv = CoreDriver(dut, core)
    await drv.start()
    await _long_reset(dut)
    model = CoreModel(core, layer, layout)
    model.load(fc)
    await drv.write_array(model.macro.bits)
    await drv.configure(layer, layout)
    ev = random_events(rng, s["n_in"], s["n_events"], tick_rate=s["tick_rate"],
                       repeat_rate=0.0, index_bits=core.index_bits)
    rec = Recorder(model.macro)
    want = model.run(ev)
    ticks = int((ev == TICK).sum())
    got: list[int] = []
    await FallingEdge(dut.clk)
    t0 = get_sim_time("ns")
    # `send_events` must start just after a rising edge: it samples ready at the next
    # falling edge and takes the transfer at the rising edge after it
    await RisingEdge(dut.clk)
    sink = cocotb.start_soon(drv.receive(ticks, rng, 0.0, got))
    await drv.send(ev, rng, 0.0)
    await sink
    await drv.wait_idle()
    t1 = get_sim_time("ns")
    w = want.events.tolist()
    if got != w:
        i = next((k for k, (a, b) in enumerate(zip(got, w)) if a != b), min(len(got), len(w)))
        raise AssertionError(f"output events differ from the golden core at event {i}: "
                             f"DUT {got[i:i + 5]}, golden {w[i:i + 5]} ({len(got)} vs "
                             f"{len(w)} events)")
    bits = await drv.read_array()
    bad = np.argwhere(bits != model.macro.bits)
    assert bad.size == 0, f"array row {bad[0][0]} column {bad[0][1]} differs from golden"
    counters = await drv.counters()
    assert counters["CYCLES"] == want.cycles and counters["BATCHES"] == want.batches, \
        f"counters {counters}, golden cycles {want.cycles} batches {want.batches}"
    _write(folder, t0, t1, CoreDriver.PERIOD_NS, rec.ops,
           events=int((ev != TICK).sum()), ticks=ticks,
           spikes=int((want.events != TICK).sum()))


def _write(folder: Path, t0, t1, period, ops, **extra) -> None:
    rec = {"t0_ns": float(t0), "t1_ns": float(t1), "period_ns": period,
           "cycles": round((t1 - t0) / period), "ops": ops, **extra}
    (folder / "stream.json").write_text(json.dumps(rec) + "\n")


@cocotb.test()
async def power_stream(dut):
    folder, job = _job()
    if job["kind"] == "macro":
        await _macro(dut, folder, job)
    else:
        await _core(dut, folder, job)
