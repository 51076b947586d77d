"""Directed neuron-core tests from the second review of the pipelined core (`hdl/core.py`).

One small geometry (40 rows, not a power of two; 4 columns; P = 3; a depth-3 FIFO, the
smallest `SyncFIFOBuffered`; 3-bit indices, so a layer can use every index) and the corners
the random tests of `test_rtl_core` do not reach:

* indices at the edge of ``index_bits``: ``n_in = n_out = 2**index_bits`` (source and neuron
  ``2**index_bits - 1``), and ``n_in = 2**index_bits - 1`` (source ``2**index_bits - 1``
  dropped), at full speed (golden timeline) and with gaps and stalls;
* a partial batch whose sources leave the array after the host shrinks ``N_IN`` and moves
  ``W_BASE`` (decision 12: it keeps its sources): a slot whose weight row lies outside the
  array is skipped (1 engine cycle; the golden model charged `REJECT_CYCLES`), one whose
  rows straddle the end is refused by the macro (`REJECT_CYCLES`); both counted in
  ``ERRORS``. Checked as well: whenever ``idle`` is high after the input has stopped,
  ``ERRORS`` and the sticky bit already hold their final values (they did not, for one
  cycle, after a refused accumulate);
* a counter clear (``STATUS`` bit 2) taken in the cycle an input event is taken: the event
  runs after the write (with its settings), so the counters count it (EVENTS_IN did not);
* a register write held on the bus while the core is busy is taken only once the core is
  idle: after every output of the work before it, and not before;
* one-bit layers (``bv = bw = 1``), which `random_fc_case` never draws;
* every writable register at and past its limits, read-only and unknown addresses, the
  STATUS bits, against `regmap.register_accepts`;
* the counters and the sticky bit exact in every cycle ``idle`` is high, on random streams
  sent in bursts (some ending on a dropped source, counted a cycle late).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from test_rtl_core import fc_case, run_core_tests

from flexspim.config import CoreConfig, FCLayout, LayerConfig, MacroConfig
from flexspim.golden.batching import TICK
from flexspim.golden.core import CoreModel

try:
    import cocotb
except ImportError:  # pragma: no cover
    cocotb = None

REVIEW_CORE = CoreConfig(MacroConfig(rows=40, cols=4, batch_max=3), fifo_depth=3,
                         index_bits=3)

BUDGET_NS = 1_000_000          # ~10x what each test needs: a hang fails in seconds


def _setup():
    core = CoreConfig.from_dict(json.loads(os.environ["FLEXSPIM_CORE"]))
    seed = int(os.environ["FLEXSPIM_SEED"])
    return core, np.random.default_rng(seed)


async def _changed_registers(drv, core, layer, old: FCLayout, new: FCLayout) -> None:
    from flexspim.regmap import layer_registers

    a, b = layer_registers(core, layer, old), layer_registers(core, layer, new)
    for name, value in b.items():
        if a[name] != value:
            await drv.write_reg(name, value)


async def _watch_idle(dut, state: dict) -> None:
    """Every cycle (falling edge): after the last input handshake, record ``idle`` with the
    ERRORS counter (``cfg.addr`` must be held at ERRORS) and the sticky ``error`` output;
    ``idle`` must never be high while ``ev_out.valid`` is."""
    from cocotb.triggers import FallingEdge

    while True:
        await FallingEdge(dut.clk)
        if int(dut.ev_in__valid.value) and int(dut.ev_in__ready.value):
            state["seen"] = []
            continue
        if int(dut.idle.value):
            assert not int(dut.ev_out__valid.value), "idle while ev_out.valid is high"
            if "seen" in state:
                state["seen"].append((int(dut.cfg__rdata.value), int(dut.error.value)))


if cocotb is not None:
    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def review_index_bits_edges(dut):
        """``n_in = n_out = 2**index_bits``, then ``n_in = 2**index_bits - 1`` (its source
        ``2**index_bits - 1`` is dropped): outputs, array, counters and, at full speed, the
        end-to-end cycles of the golden timeline (depth-3 FIFO)."""
        from test_rtl_core import run_stream_case

        from flexspim.testbench.core_driver import CoreDriver, random_events

        core, rng = _setup()
        drv = CoreDriver(dut, core)
        await drv.start()
        top = (1 << core.index_bits) - 1
        layer = LayerConfig(bw=2, bv=4, threshold=1, leak_mode="sub", leak=1)
        head = [top, top, top, 0, top, 1, 2, top, TICK, top - 1, top, top - 2, 3, TICK,
                top, 0, TICK, top, TICK]
        for n_in in (top + 1, top):
            layout, fc = fc_case(rng, core, layer, n_in, top + 1)
            ev = np.array(head + random_events(rng, top + 1, 150, tick_rate=0.1).tolist())
            for gap, stall in [(0.0, 0.0), (0.3, 0.5)]:
                await run_stream_case(drv, rng, layer, layout, fc, ev, gap, stall,
                                      f"n_in {n_in}, n_out {top + 1} (gap {gap}, "
                                      f"stall {stall})")

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def review_open_batch_leaves_the_array(dut):
        """An open batch ``[0, 1]`` survives ``N_IN := 1`` and a new ``W_BASE`` (and
        ``W_STRIDE``): source 1's weight row then lies outside the array (the slot is skipped,
        1 cycle), or straddles its end (the macro refuses the command, 3 cycles), in one slot
        or in the second of two. A repeat of source 0 closes the batch with nothing behind it,
        so the core goes idle right after the refused or skipped command: from then on the
        ERRORS counter and the sticky bit must be final. Then a tick and one more step."""
        from cocotb.triggers import ClockCycles
        from test_rtl_core import first_difference

        from flexspim.testbench.core_driver import CoreDriver

        core, rng = _setup()
        drv = CoreDriver(dut, core)
        await drv.start()
        rows = core.macro.rows
        layer = LayerConfig(bw=2, bv=4, threshold=0)
        errors_addr = drv.regs["ERRORS"][0]
        # (n_out, W_BASE, W_STRIDE) after the rewrite; source 1 sits 2 rows above source 0
        cases = [(4, rows - 3, 2, "straddles: refused"),
                 (4, rows - 2, 2, "outside: skipped"),
                 (8, 8, rows - 11, "second slot straddles"),
                 (8, 8, rows - 10, "second slot outside")]
        for n_out, w_base, w_stride, what in cases:
            layout, fc = fc_case(rng, core, layer, 8, n_out)
            model = CoreModel(core, layer, layout)
            model.load(fc)
            await drv.write_array(model.macro.bits)
            await drv.configure(layer, layout)
            new = FCLayout(n_in=1, n_out=n_out, v_base=layout.v_base,
                           v_stride=layout.v_stride, theta_base=layout.theta_base,
                           w_base=w_base, w_stride=w_stride)
            new.check(core, layer)
            tot = {"EVENTS_IN": 0, "SPIKES_OUT": 0, "TICKS": 0, "BATCHES": 0, "ERRORS": 0,
                   "CYCLES": 0}
            for seg in ([0, 1], "rewrite", [0], [TICK, 0, 1, TICK]):
                if seg == "rewrite":
                    await _changed_registers(drv, core, layer, layout, new)
                    open_ = model.open
                    model = CoreModel(core, layer, new, model.macro)
                    model.open = open_
                    continue
                ev = np.array(seg, dtype=np.int64)
                want = model.run(ev)
                for k, v in [("EVENTS_IN", len(ev)), ("TICKS", int((ev == TICK).sum())),
                             ("SPIKES_OUT", int((want.events != TICK).sum())),
                             ("BATCHES", want.batches), ("ERRORS", want.errors),
                             ("CYCLES", want.cycles)]:
                    tot[k] += v
                state: dict = {}
                dut.cfg__addr.value = errors_addr
                watch = cocotb.start_soon(_watch_idle(dut, state))
                got: list[int] = []
                sink = cocotb.start_soon(drv.receive(int((ev == TICK).sum()), rng, 0.0, got))
                await drv.send(ev, rng, 0.0)
                await sink
                await drv.wait_idle()
                await ClockCycles(dut.clk, 4)
                watch.cancel()
                where = f"{what} (W_BASE {w_base}, W_STRIDE {w_stride}), segment {seg}"
                assert got == want.events.tolist(), \
                    f"{where}: {first_difference(got, want.events.tolist())}"
                final = (tot["ERRORS"], int(tot["ERRORS"] > 0))
                early = [s for s in state.get("seen", []) if s != final]
                assert not early, (f"{where}: idle was high with (ERRORS, error) = {early[0]}, "
                                   f"final {final}")
            bits = await drv.read_array()
            bad = np.argwhere(bits != model.macro.bits)
            assert bad.size == 0, f"{what}: array row {bad[0][0]} column {bad[0][1]} differs"
            counters = await drv.counters()
            assert counters == tot, f"{what}: counters {counters}, golden {tot}"

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def review_clear_counters_with_an_event(dut):
        """``STATUS`` := clear counters, taken in the same cycle as input event 0: the event
        runs after the write (with its settings), so the counters count it."""
        from cocotb.triggers import FallingEdge, RisingEdge

        from flexspim.testbench.core_driver import CoreDriver

        core, rng = _setup()
        drv = CoreDriver(dut, core)
        await drv.start()
        layer = LayerConfig(bw=2, bv=4, threshold=0)
        layout, fc = fc_case(rng, core, layer, 5, 4)
        model = CoreModel(core, layer, layout)
        model.load(fc)
        await drv.write_array(model.macro.bits)
        await drv.configure(layer, layout)
        dut.ev_out__ready.value = 1
        first = np.array([2, 3, TICK])
        model.run(first)
        await drv.send(first, rng, 0.0)
        await drv.wait_idle()                       # at a falling edge, idle
        assert int(dut.ev_in__ready.value)
        dut.cfg__addr.value = drv.regs["STATUS"][0]
        dut.cfg__wdata.value = 0b100
        dut.cfg__we.value = 1
        dut.ev_in__payload.value = 0
        dut.ev_in__valid.value = 1
        await RisingEdge(dut.clk)                   # both taken at this edge
        dut.cfg__we.value = 0
        dut.ev_in__valid.value = 0
        rest = np.array([1, TICK])
        want = model.run(np.concatenate([[0], rest]))
        await drv.send(rest, rng, 0.0)
        await drv.wait_idle()
        await FallingEdge(dut.clk)
        expect = {"EVENTS_IN": 3, "SPIKES_OUT": int((want.events != TICK).sum()),
                  "TICKS": 1, "BATCHES": want.batches, "ERRORS": 0, "CYCLES": want.cycles}
        counters = await drv.counters()
        assert counters == expect, f"counters {counters}, golden {expect}"

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def review_write_waits_for_idle(dut):
        """A THRESHOLD write held on the bus from the first input handshake of a stream
        (ticks inside, output stalled at random) is taken only when the core is idle: after
        the stream's last output, with nothing left to count; the stream before it runs with
        the old threshold, the next one with the new."""
        from cocotb.triggers import FallingEdge, RisingEdge
        from test_rtl_core import first_difference

        from flexspim.testbench.core_driver import CoreDriver, random_events

        core, rng = _setup()
        drv = CoreDriver(dut, core)
        await drv.start()
        hi = 7
        layer = LayerConfig(bw=2, bv=4, threshold=hi)
        layout, fc = fc_case(rng, core, layer, 6, 8)
        model = CoreModel(core, layer, layout)
        model.load(fc)
        await drv.write_array(model.macro.bits)
        await drv.configure(layer, layout)
        low = LayerConfig(bw=2, bv=4, threshold=-8)        # every neuron spikes
        for stall in (0.0, 0.7):
            a = random_events(rng, 6, 60, tick_rate=0.15)
            want_a = model.run(a)
            got: list[int] = []
            taken: list[int] = []

            async def hold_write():
                while True:                          # the stream's first handshake
                    await FallingEdge(dut.clk)
                    if int(dut.ev_in__valid.value) and int(dut.ev_in__ready.value):
                        break
                await RisingEdge(dut.clk)
                dut.cfg__addr.value = drv.regs["THRESHOLD"][0]
                dut.cfg__wdata.value = low.threshold & 0xFFFFFFFF
                dut.cfg__we.value = 1
                while True:
                    await FallingEdge(dut.clk)
                    if int(dut.cfg__ready.value):
                        taken.append(len(got))
                        await RisingEdge(dut.clk)
                        dut.cfg__we.value = 0
                        return

            writer = cocotb.start_soon(hold_write())
            sink = cocotb.start_soon(drv.receive(int((a == TICK).sum()), rng, stall, got))
            await drv.send(a, rng, 0.0)
            await sink
            await writer
            assert got == want_a.events.tolist(), \
                f"stall {stall}: {first_difference(got, want_a.events.tolist())}"
            assert taken == [len(got)], (f"stall {stall}: the write was taken after "
                                         f"{taken[0]} of the stream's {len(got)} outputs")
            model = CoreModel(core, low, layout, model.macro)
            b = np.array([0, 1, TICK])
            want_b = model.run(b)
            got_b: list[int] = []
            sink = cocotb.start_soon(drv.receive(1, rng, 0.0, got_b))
            await drv.send(b, rng, 0.0)
            await sink
            assert got_b == want_b.events.tolist(), f"stall {stall}: after the write"
            await drv.write_reg("THRESHOLD", hi)
            model = CoreModel(core, layer, layout, model.macro)

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def review_one_bit_layers(dut):
        """``bv = bw = 1`` (`random_fc_case` draws ``bv >= 2``): every leak mode (with a leak
        pass a fire pays the bubble cycle), both resets and threshold sources, saturate and
        wrap, two slots; at full speed (golden timeline), then with gaps and stalls."""
        import itertools

        from test_rtl_core import run_stream_case

        from flexspim.golden.layers import FCLayer
        from flexspim.testbench.core_driver import CoreDriver, random_events

        core, rng = _setup()
        drv = CoreDriver(dut, core)
        await drv.start()
        combos = list(itertools.product(["none", "sub", "shift"], ["hard", "soft"],
                                         ["register", "array"], [False, True]))
        for i in rng.permutation(len(combos))[:6]:
            leak_mode, reset, src, sat = combos[i]
            layer = LayerConfig(bw=1, bv=1, saturate=sat, leak_mode=leak_mode, leak=0,
                                threshold=int(rng.integers(-1, 1)), threshold_source=src,
                                reset=reset)
            layout = FCLayout.packed(core, layer, 6, 7)
            fc = FCLayer(rng.integers(-1, 1, size=(7, 6)), layer,
                         rng.integers(-1, 1, size=7) if src == "array" else None)
            ev = random_events(rng, 6, 80, tick_rate=0.2, bad_rate=0.05,
                               index_bits=core.index_bits)
            for gap, stall in [(0.0, 0.0), (0.3, 0.5)]:
                await run_stream_case(drv, rng, layer, layout, fc, ev, gap, stall,
                                      f"one-bit layer (gap {gap}, stall {stall})")

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def review_register_rules(dut):
        """Every writable register at and just past its limits, read-only and unknown
        addresses, and the STATUS bits, against `regmap.register_accepts`: a refused write
        leaves the register as it was, counts in ERRORS and sets the sticky bit (the
        ``error`` output and STATUS bit 1) until STATUS bit 1 clears it; STATUS bit 2 clears
        the counters, not the error."""
        from flexspim.regmap import register_accepts
        from flexspim.testbench.core_driver import CoreDriver

        core, rng = _setup()
        drv = CoreDriver(dut, core)
        await drv.start()
        await drv.write_reg("STATUS", 0b110)
        ib = core.index_bits
        errors, sticky = 0, 0

        async def check(what):
            assert await drv.read_reg("ERRORS") == errors, f"{what}: ERRORS"
            assert await drv.read_reg("STATUS") == 1 | sticky << 1, f"{what}: STATUS"
            assert int(dut.error.value) == sticky, f"{what}: error output"

        for name, (addr, w, acc) in drv.regs.items():
            if name == "STATUS":
                continue
            values = [0, (1 << w) - 1, 1 << w, 0xFFFFFFFF, 0x80000000, 1]
            if name == "THRESHOLD":
                values += [(1 << (w - 1)) - 1, (-(1 << (w - 1))) & 0xFFFFFFFF,
                           1 << (w - 1), (-(1 << (w - 1)) - 1) & 0xFFFFFFFF]
            if name in ("N_IN", "N_OUT"):
                values += [1 << ib, (1 << ib) + 1]
            for v in values:
                v &= 0xFFFFFFFF
                before = await drv.read_reg(name)
                await drv.write_reg(name, v)
                ok = register_accepts(core, name, v)
                if not ok:
                    errors, sticky = errors + 1, 1
                want = v & ((1 << w) - 1) if ok else before
                if acc == "ro":                              # a counter: nothing ran
                    want = errors if name == "ERRORS" else 0
                assert await drv.read_reg(name) == want, f"{name} := {v:#x}: read back"
                await check(f"{name} := {v:#x}")
        for a in sorted(set(range(32)) - {a for a, _, _ in drv.regs.values()}):
            await drv.write_reg(str(a), 0)
            errors, sticky = errors + 1, 1
            await check(f"unknown address {a}")
        await drv.write_reg("STATUS", 0b100)                 # counters only
        errors = 0
        await check("STATUS := clear counters")
        await drv.write_reg("STATUS", 0b010)                 # the error only
        sticky = 0
        await check("STATUS := clear the error")
        await drv.write_reg("N_IN", (1 << ib) + 1)
        await drv.write_reg("STATUS", 0b001)                 # bit 0 is read-only: no effect
        errors, sticky = 1, 1
        await check("STATUS := 1")

    @cocotb.test(timeout_time=BUDGET_NS, timeout_unit="ns")
    async def review_counters_exact_when_idle(dut):
        """Random layers and streams in bursts with pauses (so the core is idle mid-stream,
        often with a partial batch open) and dropped sources: in every cycle ``idle`` is
        high, one counter (read combinationally: ERRORS in the first idle cycle, then each
        in turn) equals the golden count of the events taken so far, and the sticky
        ``error`` output agrees."""
        from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
        from test_rtl_core import first_difference

        from flexspim.testbench.core_driver import CoreDriver, random_events, random_fc_case

        core, rng = _setup()
        drv = CoreDriver(dut, core)
        await drv.start()
        names = ["EVENTS_IN", "SPIKES_OUT", "TICKS", "BATCHES", "ERRORS", "CYCLES"]
        for trial in range(3):
            layer, layout, fc = random_fc_case(rng, core)
            ev = random_events(rng, layout.n_in, 150, tick_rate=0.1, bad_rate=0.15,
                               index_bits=core.index_bits)
            model = CoreModel(core, layer, layout)
            model.load(fc)
            await drv.write_array(model.macro.bits)
            await drv.configure(layer, layout)
            seen: list[tuple[int, str, int, int]] = []

            async def watch():
                # ERRORS (counted a cycle late) in the first idle cycle after work, then the
                # counters in turn while the core stays idle
                taken, k = 0, 0
                while True:
                    dut.cfg__addr.value = drv.regs[names[k % len(names)]][0]
                    await FallingEdge(dut.clk)
                    if int(dut.idle.value):
                        seen.append((taken, names[k % len(names)],
                                     int(dut.cfg__rdata.value), int(dut.error.value)))
                        k += 1
                    else:
                        k = names.index("ERRORS")
                    if int(dut.ev_in__valid.value) and int(dut.ev_in__ready.value):
                        taken += 1
                    await RisingEdge(dut.clk)

            task = cocotb.start_soon(watch())
            got: list[int] = []
            sink = cocotb.start_soon(drv.receive(int((ev == TICK).sum()), rng, 0.3, got))
            bad = np.flatnonzero(ev >= layout.n_in)
            cut = 0
            while cut < len(ev):                     # bursts, then pauses the core idles in
                n = int(rng.integers(1, 9))
                nxt = bad[bad >= cut]
                if nxt.size and rng.random() < 0.5:  # ... some right after a dropped source
                    n = int(nxt[0]) + 1 - cut
                await drv.send(ev[cut:cut + n], rng, 0.2)
                cut += n
                if rng.random() < 0.5:
                    await drv.wait_idle()
                await ClockCycles(dut.clk, int(rng.integers(1, 8)))
            await sink
            await drv.wait_idle()
            await RisingEdge(dut.clk)
            await FallingEdge(dut.clk)
            task.cancel()
            want = model.run(ev)
            assert got == want.events.tolist(), \
                f"trial {trial}: {first_difference(got, want.events.tolist())}"
            prefix: dict[int, dict[int, int]] = {}
            for n, name, value, err in seen:
                if n not in prefix:
                    m = CoreModel(core, layer, layout)
                    m.load(fc)
                    r = m.run(ev[:n])
                    prefix[n] = {"EVENTS_IN": n, "SPIKES_OUT": int((r.events != TICK).sum()),
                                 "TICKS": int((ev[:n] == TICK).sum()), "BATCHES": r.batches,
                                 "ERRORS": r.errors, "CYCLES": r.cycles}
                w = prefix[n]
                assert (value, err) == (w[name], int(w["ERRORS"] > 0)), (
                    f"trial {trial}: idle after {n} events with {name} = {value}, error "
                    f"{err}; golden {w[name]}, error {int(w['ERRORS'] > 0)}")
            assert len(prefix) > 5, f"trial {trial}: idle only after {sorted(prefix)} events"


# -- pytest side ---------------------------------------------------------------------------

def test_golden_slot_outside_the_array_is_skipped(rng):
    """The golden core charges a slot it does not issue (a weight row starting outside the
    array) `SKIP_CYCLES`, as the RTL's range check does, and a straddling operand (refused
    by the macro) `REJECT_CYCLES`; each counts one error. (It charged `REJECT_CYCLES` for
    both, which the RTL test above caught.)"""
    from flexspim.golden.core import SKIP_CYCLES
    from flexspim.golden.cycles import REJECT_CYCLES, accumulate_cycles, fire_cycles

    core, rows = REVIEW_CORE, REVIEW_CORE.macro.rows
    layer = LayerConfig(bw=2, bv=4, threshold=0)
    layout, fc = fc_case(rng, core, layer, 8, 8)
    acc = accumulate_cycles(core.macro, layer.bv, layer.saturate, clamp=False)  # V = 0
    for w_stride, second in [(rows - 11, REJECT_CYCLES), (rows - 10, SKIP_CYCLES)]:
        model = CoreModel(core, layer, layout)
        model.load(fc)
        assert model.run(np.array([0, 1])).batches == 0            # stays open
        new = FCLayout(n_in=1, n_out=8, v_base=layout.v_base, v_stride=layout.v_stride,
                       w_base=8, w_stride=w_stride)
        kept = model.open
        model = CoreModel(core, layer, new, model.macro)
        model.open = kept
        run = model.run(np.array([TICK]))
        assert (run.batches, run.errors) == (1, 1)
        assert run.cycles == acc + second + 2 * fire_cycles(layer)



@pytest.mark.rtl
def test_core_review(seed):
    run_core_tests(REVIEW_CORE, seed, 1, 1, test_module="test_rtl_core_review")
