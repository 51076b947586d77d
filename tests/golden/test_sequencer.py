"""The sequencer's golden model (`golden/sequencer.py`, docs/dataflow.md 5.4-5.5): the
descriptor, the host check, the swap and stream rules, the counters; and level 3 through it
(`mapper/sequenced.py`): a placed layer run with the sequencer deciding every move equals
the network reference, issues exactly the array-side program `LayerProgram` records, and
its counters equal the energy model's counts, buffer- or DRAM-backed."""

from __future__ import annotations

import numpy as np
import pytest

from flexspim.config import BufferConfig, LayerConfig, MacroConfig, MoverConfig
from flexspim.energy.counts import Counts
from flexspim.frontend.randnet import random_events, random_network
from flexspim.golden.layers import ConvLayer, FCLayer
from flexspim.golden.network import Network
from flexspim.golden.sequencer import (
    COUNTER_ADDRESS,
    CoreLayout,
    Descriptor,
    SequencerModel,
    Transfer,
    int_to_row,
    row_to_int,
)
from flexspim.mapper.executor import RecordingSink, execute, reference_trace
from flexspim.mapper.hardware import HardwareConfig
from flexspim.mapper.placement import Infeasible, place_layer
from flexspim.mapper.program import LayerProgram
from flexspim.mapper.sequenced import run_sequenced
from flexspim.mapper.tiling import tile_layer


# -- descriptor ------------------------------------------------------------------------------
def test_descriptor_round_trips_through_its_words():
    d = Descriptor("swap", True, n_slots=3, slot_rows=16, buf_base=5, bs_base=1000,
                   tile_stride=16, stage_row=0)
    w = d.words()
    assert len(w) == 8 and w[0] == 1 | 4 and w[7] == 0
    assert Descriptor.from_words(w) == d
    assert Descriptor.from_words(Descriptor().words()) == Descriptor()
    s = Descriptor("stream", tile_stride=27, stage_row=40)
    assert Descriptor.from_words(s.words()) == s and s.words()[0] == 2
    assert COUNTER_ADDRESS["ROWS_ARR_BUF"] == 22 and COUNTER_ADDRESS["MOVER_BUSY"] == 31


@pytest.mark.parametrize("words, msg", [
    ([3, 0, 0, 0, 0, 0, 0, 0], "MODE"),
    ([8, 0, 0, 0, 0, 0, 0, 0], "MODE"),
    ([0, 0, 0, 0, 0, 0, 0, 1], "RESERVED"),
    ([0, 1 << 32, 0, 0, 0, 0, 0, 0], "N_SLOTS"),
    ([0] * 7, "8 words"),
    ([1, 0, 8, 0, 0, 8, 0, 0], "n_slots"),
    ([1, 2, 8, 0, 0, 4, 0, 0], "tile_stride"),
    ([2, 0, 0, 0, 0, 0, 0, 0], "tile_stride"),
])
def test_descriptor_refuses_what_the_hardware_refuses(words, msg):
    with pytest.raises(ValueError, match=msg):
        Descriptor.from_words(words)


def _layout(**kw):
    args = dict(rows=64, bv=4, bw=2, v_base=8, v_stride=4, theta_base=None, batch_max=2)
    args.update(kw)
    return CoreLayout(**args)


@pytest.mark.parametrize("desc, kw, msg", [
    (Descriptor("swap", n_slots=2, slot_rows=4, buf_base=2, tile_stride=4),
     dict(n_local=5, buffer=BufferConfig(21, 8)), "does not fit the buffer of 21 words"),
    (Descriptor("swap", True, n_slots=2, slot_rows=4, tile_stride=4, bs_base=10),
     dict(n_local=4, buffer=BufferConfig(8, 8)), "needs the core's mover"),
    (Descriptor("swap", True, n_slots=2, slot_rows=4, tile_stride=4, bs_base=10),
     dict(n_local=4, buffer=BufferConfig(8, 8),
          mover=MoverConfig(BufferConfig(8, 8), addr_bits=4)), "leaves the 4-bit"),
    (Descriptor("swap", n_slots=20, slot_rows=4, tile_stride=4),
     dict(n_local=20, buffer=BufferConfig(80, 8)), "past the array's 64 rows"),
    (Descriptor("swap", n_slots=2, slot_rows=8, tile_stride=8),
     dict(n_local=2, buffer=BufferConfig(80, 8)), "must be bv = 4"),
    (Descriptor("stream", tile_stride=6, stage_row=61),
     dict(n_local=1, buffer=BufferConfig(80, 8)), "staging rows 61..64"),
])
def test_host_check_refuses_a_program_before_anything_runs(desc, kw, msg):
    with pytest.raises(ValueError, match=msg):
        SequencerModel(desc, _layout(), **kw)


# -- the two rules ---------------------------------------------------------------------------
def test_swap_saves_the_occupant_and_restores_the_tile_in_its_slot():
    lay = _layout(theta_base=12, v_stride=8)           # thresholds in the array: 8-row slots
    d = Descriptor("swap", n_slots=2, slot_rows=8, buf_base=3, tile_stride=10)
    s = SequencerModel(d, lay, BufferConfig(64, 8), n_local=5)
    assert s.fire(0) == [] and s.accumulate(1, 0, [0])[0] == []      # resident after reset
    moves, stage = s.accumulate(3, 0, [1, 2])
    assert stage is None
    assert moves == [Transfer("save", 1, 4, 3 + 10, array_row=16),
                     Transfer("restore", 3, 4, 3 + 30, array_row=16),
                     Transfer("restore", 3, 4, 3 + 34, array_row=20)]
    assert s.tags == [0, 3]
    c = s.counters
    assert (c["SWAPS"], c["ROWS_ARR_BUF"], c["ROWS_BUF_ARR"], c["MOVE_WAIT"]) == (1, 4, 8, 15)
    assert c["BS_REQUESTS"] == 0 and c["MOVER_BUSY"] == 0
    flushed = s.flush()
    assert [(t.kind, t.tile, t.buf_addr) for t in flushed] == [("save", 0, 3), ("save", 3, 33)]
    assert s.counters["MOVE_WAIT"] == 15 and s.counters["ROWS_ARR_BUF"] == 12


def test_dram_swap_stages_in_the_buffer_and_costs_mover_cycles():
    from flexspim.golden.mover import LOAD, STORE, transfer_cycles

    mover = MoverConfig(BufferConfig(8, 8), addr_bits=8, outstanding=4)
    d = Descriptor("swap", True, n_slots=1, slot_rows=4, buf_base=2, bs_base=100,
                   tile_stride=4)
    s = SequencerModel(d, _layout(), mover.buffer, n_local=3, mover=mover, bs_base=7,
                       latency=3)
    moves = s.fire(2)
    assert [(t.kind, t.buf_addr, t.bs_addr, t.array_row) for t in moves] == [
        ("save", 2, None, 8), ("store", 2, 107, None), ("load", 2, 115, None),
        ("restore", 2, None, 8)]
    c = s.counters
    assert c["ROWS_BUF_BS"] == 4 == c["ROWS_BS_BUF"] and c["BS_REQUESTS"] == 8
    mv = transfer_cycles(mover, STORE, 4, 3) + transfer_cycles(mover, LOAD, 4, 3)
    # array side n + 1 per transfer; a mover transfer its busy cycles + 2 (decision 155)
    assert c["MOVER_BUSY"] == mv and c["MOVE_WAIT"] == mv + 2 * 5 + 2 * 2


@pytest.mark.parametrize("dram", [False, True])
def test_stream_writes_each_operand_into_its_staging_rows(dram):
    mover = MoverConfig(BufferConfig(32, 8), addr_bits=8) if dram else None
    d = Descriptor("stream", dram, buf_base=4, bs_base=50, tile_stride=10, stage_row=40)
    s = SequencerModel(d, _layout(), BufferConfig(32, 8), n_local=2, mover=mover)
    moves, stage = s.accumulate(7, 1, [3, 0])
    assert stage == [40, 42] and s.counters["STREAM_OPS"] == 2
    streams = [t for t in moves if t.kind == "stream"]
    assert [t.array_row for t in streams] == [40, 42]
    if dram:
        loads = [t for t in moves if t.kind == "load"]
        assert [(t.bs_addr, t.buf_addr) for t in loads] == [(50 + 16, 4), (50 + 10, 6)]
        assert [t.buf_addr for t in streams] == [4, 6]
        assert [t.kind for t in moves] == ["load", "stream", "load", "stream"]
    else:
        assert [t.buf_addr for t in streams] == [4 + 16, 4 + 10]
    with pytest.raises(ValueError, match="operand 5 leaves"):
        s.accumulate(0, 0, [5])
    with pytest.raises(ValueError, match="1..2 operands"):
        s.accumulate(0, 0, [0, 1, 2])


def test_rows_and_integers_round_trip(rng):
    for cols in (1, 7, 8, 13, 64):
        bits = rng.integers(0, 2, cols).astype(np.uint8)
        assert np.array_equal(int_to_row(row_to_int(bits), cols), bits)


# -- level 3 through the sequencer -----------------------------------------------------------
def _check_level3(layer, pl, macro, ev, dram: bool, latency: int = 2):
    """The sequenced run equals the reference; its array-side program equals LayerProgram's
    (after setup); its counters equal the energy model's counts. Returns the counters."""
    t, cfg = pl.tiling, layer.config
    need = max([len(mp.tiles) * pl.slot_rows for mp in pl.macros] +
               [(int(max(t.tile_table)) + 1) * t.table_ops * cfg.bw, macro.batch_max * cfg.bw])
    buffer = BufferConfig(need, macro.cols)
    mover = MoverConfig(buffer, addr_bits=20, outstanding=3) if dram else None
    got = run_sequenced(pl, macro, ev, buffer, dram=dram, mover=mover, latency=latency)
    ref = reference_trace(Network([layer]), ev, macro.batch_max)
    assert got.outputs.tolist() == ref.outputs[0].tolist()
    assert np.array_equal(got.potentials, ref.potentials[0])
    # the mapper's program, recorded: the same loads, reads, accumulates and fires
    rec = RecordingSink(macro, len(pl.macros))
    setup = RecordingSink(macro, len(pl.macros))
    LayerProgram(pl).setup(setup, Counts())
    res = execute([pl], macro, ev, rec)
    assert got.ops == [(k, m, arg) for k, m, arg, *_ in rec.ops[len(setup.ops):]]
    # the counters are the energy model's counts, row for row and (with tile widths) bit
    # for bit
    counts = res.counts[0]
    tot = {k: sum(c[k] for c in got.counters) for k in got.counters[0]}
    assert tot["SWAPS"] == counts.swaps and tot["STREAM_OPS"] == counts.stream_ops
    bits = {"save": 0, "write": 0}
    for ci, log in enumerate(got.transfers):
        for tr in log:
            if tr.array_side:
                a = int(t.tile_width[pl.macros[ci].tiles[tr.tile]])
                bits["save" if tr.kind == "save" else "write"] += tr.rows * a
    assert bits["save"] == counts.port_read_bits
    assert bits["write"] == counts.port_write_bits
    assert bits["save"] + bits["write"] == counts.moved_bits
    assert tot["ROWS_ARR_BUF"] == counts.swaps * cfg.bv
    assert tot["ROWS_BUF_ARR"] == counts.swaps * pl.slot_rows + counts.stream_ops * cfg.bw
    if dram:
        assert tot["ROWS_BUF_BS"] == tot["ROWS_ARR_BUF"]
        assert tot["ROWS_BS_BUF"] == tot["ROWS_BUF_ARR"]
        assert tot["BS_REQUESTS"] == tot["ROWS_BUF_BS"] + tot["ROWS_BS_BUF"]
    else:
        assert tot["BS_REQUESTS"] == 0 == tot["MOVER_BUSY"]
    assert (tot["MOVE_WAIT"] > 0) == (tot["ROWS_BUF_ARR"] > 0)
    # the flush saves every slot of a swapped macro, once
    for ci, mp in enumerate(pl.macros):
        saves = [tr for tr in got.flushed[ci] if tr.kind == "save"]
        assert len(saves) == (mp.n_slots if mp.swapped else 0)
    return tot


@pytest.mark.parametrize("dram", [False, True], ids=["buffer", "dram"])
@pytest.mark.parametrize("source", ["register", "array"])
def test_ws_swaps_through_the_sequencer_equal_the_reference(rng, source, dram):
    cfg = LayerConfig(bw=3, bv=8, saturate=True, leak_mode="shift", leak=2, threshold=5,
                      threshold_source=source)
    th = rng.integers(1, 8, size=3 * 36) if source == "array" else None
    layer = ConvLayer(rng.integers(-4, 4, size=(3, 1, 3, 3)), (1, 6, 6), cfg, padding=1,
                      thresholds=th, name="c")
    slot = 8 * (2 if source == "array" else 1)
    macro = MacroConfig(rows=27 + 2 * slot, cols=4, batch_max=3)
    pl = place_layer(tile_layer(layer, 4), HardwareConfig(macro), "ws")
    assert pl.mode == "swap" and pl.macros[0].n_slots == 2
    tot = _check_level3(layer, pl, macro, random_events(rng, layer.n_in, 6, 0.4), dram)
    assert tot["SWAPS"] > 0 and tot["MOVE_WAIT"] > 0


@pytest.mark.parametrize("dram", [False, True], ids=["buffer", "dram"])
def test_os_streams_through_the_sequencer_equal_the_reference(rng, dram):
    cfg = LayerConfig(bw=3, bv=8, saturate=True, threshold=6)
    layer = FCLayer(rng.integers(-4, 4, size=(7, 20)), cfg, name="f")
    macro = MacroConfig(rows=14, cols=3, batch_max=2)
    pl = place_layer(tile_layer(layer, 3), HardwareConfig(macro), "os")
    assert pl.mode == "stream"
    tot = _check_level3(layer, pl, macro, random_events(rng, layer.n_in, 5, 0.5), dram)
    assert tot["STREAM_OPS"] > 0 and tot["SWAPS"] == 0


@pytest.mark.parametrize("dataflow", ["ws", "os"])
@pytest.mark.parametrize("kinds", ["fc", "conv"])
def test_random_layers_through_the_sequencer(rng, regress, dataflow, kinds):
    """Random one-layer networks on small tiled geometries (several macros, swaps or
    streams; at most half of them resident), both backings. An FC layer under WS never
    swaps (each tile has its own table, placed beside its one slot)."""
    need, done, modes, resident = (30 if regress else 8), 0, set(), 0
    for _ in range(need * 30):
        net = random_network(rng, kinds, n_layers=1, max_width=20, max_bits=10,
                             saturate=bool(rng.integers(2)))
        layer = net.layers[0]
        cols, rows = int(rng.integers(1, 5)), int(rng.integers(8, 120))
        macro = MacroConfig(rows=rows, cols=cols, batch_max=int(rng.integers(1, 5)))
        try:
            pl = place_layer(tile_layer(layer, cols), HardwareConfig(macro), dataflow)
        except Infeasible:
            continue
        if pl.mode == "resident" and not (kinds, dataflow) == ("fc", "ws"):
            if resident >= need // 2:
                continue
            resident += 1
        ev = random_events(rng, layer.n_in, int(rng.integers(1, 6)),
                           float(rng.uniform(0.05, 0.6)))
        _check_level3(layer, pl, macro, ev, dram=bool(rng.integers(2)),
                      latency=int(rng.integers(1, 5)))
        modes.add(pl.mode)
        done += 1
        if done == need:
            break
    assert done == need, f"only {done} of {need} random layers could be placed"
    if (kinds, dataflow) != ("fc", "ws"):
        assert modes - {"resident"}, f"no layer moved anything: {modes}"


# -- the cycle machine (decisions 155-157) ----------------------------------------------------
def _run_machine(rng, cfg, lay, desc, bs_base, ops, latency=1, gap=0.0):
    """Descriptor through ``prog``, buffer and backing store filled, ``ops`` one after the
    other at an ideal server of ``latency``; returns the machine, the array, the server."""
    from flexspim.golden.sequencer import SequencerMachine
    from flexspim.testbench.backing_store import BackingStore, ServerTiming
    from flexspim.testbench.sequencer_env import ArrayPort, rand_word

    m = SequencerMachine(cfg, lay, bs_base)
    arr = ArrayPort(cfg.rows, cfg.buffer.width, rng)
    srv = BackingStore(width=cfg.buffer.width, addr_bits=cfg.mover.addr_bits,
                       outstanding=cfg.mover.outstanding, rng=rng,
                       timing=ServerTiming(latency=(latency, latency)))
    full = (1 << cfg.buffer.width) - 1
    steps = [dict(prog=(a, w)) for a, w in enumerate(desc.words())]
    steps += [dict(host=dict(rd_en=0, rd_addr=0, wr_en=1, wr_addr=a,
                             wr_data=rand_word(rng, cfg.buffer.width), wr_mask=full))
              for a in range(cfg.buffer.words)]
    for s in steps:
        step(m, arr, srv, **s)
    for op in ops:
        taken = False
        while not taken or m.busy or m.done:
            o = m.outputs()
            if not taken and o["op_ready"]:
                step(m, arr, srv, op_valid=1, op=op)
                taken = True
            else:
                step(m, arr, srv)
    return m, arr, srv


def step(m, arr, srv, **kw):
    o = m.outputs()
    b = o["bs"]
    ins = srv.step(b.req_valid, b.req_addr, b.req_we, b.req_data, b.resp_ready)
    m.tick(arr_rd_data=arr.rd_data, **ins, **kw)
    arr.edge(o["arr"])


@pytest.mark.parametrize("latency", [1, 3])
def test_machine_counts_what_the_transaction_model_counts_at_an_ideal_server(latency):
    """Random layers and batches: the cycle machine's counters (MOVE_WAIT included: n + 1
    per array-side transfer, mover busy + 2 per mover transfer) equal the transaction
    model's, and the array and backing store end as `apply` of its transfers leaves them."""
    from flexspim.config import SequencerConfig
    from flexspim.testbench.sequencer_env import random_layer, random_ops, strict_ops

    rng = np.random.default_rng(11 + latency)
    cfg = SequencerConfig(MoverConfig(BufferConfig(40, 8), addr_bits=7, outstanding=4),
                          rows=48, max_slots=3, tile_bits=3, batch=2, op_bits=3)
    kinds = set()
    for trial in range(40):
        lay, desc, bs_base, n_local = random_layer(rng, cfg)
        ops = random_ops(rng, cfg, lay, desc, n_local, batches=4)
        ref = SequencerModel(desc, lay, cfg.buffer, n_local=n_local, mover=cfg.mover,
                             bs_base=bs_base, latency=latency)
        strict_ops(ref, ops)
        m, arr, srv = _run_machine(rng, cfg, lay, desc, bs_base, ops, latency)
        got = m.outputs()["counters"]
        for name, want in ref.counters.items():
            assert got[name] == want, f"trial {trial} {desc}: {name} {got[name]} != {want}"
        assert got["ERRORS"] == 0 and srv.idle()
        kinds |= {t.kind for t in ref.log}
    assert kinds == {"save", "restore", "stream", "load", "store"}


def test_machine_data_moves_as_apply_moves_it():
    from flexspim.config import SequencerConfig
    from flexspim.golden.sequencer import apply
    from flexspim.testbench.sequencer_env import random_layer, random_ops

    rng = np.random.default_rng(5)
    cfg = SequencerConfig(MoverConfig(BufferConfig(40, 8), addr_bits=7, outstanding=2),
                          rows=48, max_slots=3, tile_bits=3, batch=2, op_bits=3)
    for trial in range(30):
        lay, desc, bs_base, n_local = random_layer(rng, cfg)
        ops = random_ops(rng, cfg, lay, desc, n_local, batches=3)
        seed = int(rng.integers(1 << 30))
        m, arr, srv = _run_machine(np.random.default_rng(seed), cfg, lay, desc, bs_base, [])
        array0, buf0 = list(arr.rows), list(m.buffer.words)
        bs0 = dict(srv.rows)
        m, arr, srv = _run_machine(np.random.default_rng(seed), cfg, lay, desc, bs_base, ops)
        ref = SequencerModel(desc, lay, cfg.buffer, n_local=n_local, mover=cfg.mover,
                             bs_base=bs_base)

        class _Arr:                                   # `apply`'s macro: the row port
            config = type("c", (), {"cols": cfg.buffer.width})

            def read_row(self, r):
                return int_to_row(array0[r], cfg.buffer.width)

            def write_row(self, r, bits, mask):
                v, mk = row_to_int(bits), row_to_int(mask)
                array0[r] = array0[r] & ~mk | v & mk

        a = _Arr()
        for op in ops:
            before = len(ref.log)
            if op.kind == 2:
                ref.flush()
            elif op.kind == 1:
                ref.fire(op.tile)
            else:
                ref.accumulate(op.tile, op.table, op.ops)
            mask = int_to_row(op.mask, cfg.buffer.width)
            for t in ref.log[before:]:
                if t.kind == "load":
                    for i in range(t.rows):
                        bs0.setdefault(t.bs_addr + i, srv.rows[t.bs_addr + i])
                apply(t, a, buf0, bs0, mask)
        assert arr.rows == array0, f"trial {trial} {desc}: array differs"
        assert m.buffer.words == buf0, f"trial {trial} {desc}: buffer differs"
        for r, v in bs0.items():
            assert srv.rows[r] == v, f"trial {trial}: backing-store row {r}"


def test_check_program_refuses_before_anything_runs():
    from flexspim.config import SequencerConfig
    from flexspim.golden.sequencer import check_program

    cfg = SequencerConfig(MoverConfig(BufferConfig(8, 8)), max_slots=2)
    check_program(Descriptor("swap", n_slots=2, slot_rows=1, tile_stride=1).words(), cfg)
    with pytest.raises(ValueError, match="window holds 8"):
        check_program([0] * 9)
    with pytest.raises(ValueError, match="2 slot tags"):
        check_program([1, 3], cfg)
    with pytest.raises(ValueError, match="MODE"):
        check_program([3])
    with pytest.raises(ValueError, match="RESERVED"):
        check_program([0] * 7 + [1])
