"""Golden buffer and mover (`golden/mover.py`): the contract's rules, the cycle costs of
docs/dataflow.md section 5.3, and the configuration checks."""

from __future__ import annotations

import pytest

from flexspim.config import BufferConfig, MoverConfig
from flexspim.golden.mover import (
    LOAD,
    STORE,
    BufferModel,
    MoverCommand,
    MoverModel,
    transfer_cycles,
)


@pytest.mark.parametrize("kw, msg", [
    (dict(words=0, width=8), "`words` must be an integer in [1, 1048576], not 0"),
    (dict(words=4, width=0), "`width` must be an integer in [1, 4096], not 0"),
    (dict(words=2 ** 20 + 1, width=8), "`words`"),
    (dict(words=True, width=8), "`words`"),
])
def test_buffer_config_names_parameter_value_and_range(kw, msg):
    with pytest.raises(ValueError, match=msg.replace("[", r"\[").replace("]", r"\]")):
        BufferConfig(**kw)


@pytest.mark.parametrize("kw, msg", [
    (dict(addr_bits=0), "`addr_bits` must be an integer in \\[1, 40\\], not 0"),
    (dict(outstanding=65), "`outstanding` must be an integer in \\[1, 64\\], not 65"),
    (dict(buffer="x"), "`buffer` must be a BufferConfig"),
])
def test_mover_config_names_parameter_value_and_range(kw, msg):
    args = {"buffer": BufferConfig(4, 8), **kw}
    with pytest.raises(ValueError, match=msg):
        MoverConfig(**args)


def test_mover_config_round_trips_through_a_dict():
    c = MoverConfig(BufferConfig(37, 13), addr_bits=12, outstanding=3)
    assert MoverConfig.from_dict(c.to_dict()) == c
    assert BufferConfig(1, 1).addr_width == 1 and BufferConfig(37, 13).addr_width == 6
    assert BufferConfig(37, 13).count_width == 6 and BufferConfig(32, 1).count_width == 6


def test_buffer_model_latency_one_not_held_masked_and_read_during_write():
    b = BufferModel(BufferConfig(4, 8))
    b.tick(wr_en=1, wr_addr=2, wr_data=0xAB, wr_mask=0xFF)
    b.tick(rd_en=1, rd_addr=2)
    assert b.outputs() == (0xAB, 0xFF)
    b.tick()                                   # no read: nothing defined
    assert b.outputs()[1] == 0
    b.tick(rd_en=1, rd_addr=2, wr_en=1, wr_addr=2, wr_data=0x00, wr_mask=0x0F)
    assert b.outputs() == (0xAB, 0xF0)         # the old word, written bits undefined
    b.tick(rd_en=1, rd_addr=2)
    assert b.outputs() == (0xA0, 0xFF)
    b.tick(rd_en=1, rd_addr=1)                 # never written
    assert b.outputs()[1] == 0
    with pytest.raises(ValueError, match="buffer write to word 4"):
        b.tick(wr_en=1, wr_addr=4, wr_mask=1)


def _ideal_run(model: MoverModel, cmd: MoverCommand, latency: int, memory: dict):
    """Run ``cmd`` to its done against an always-ready memory; returns busy cycles."""
    model.tick(cmd_valid=1, cmd=cmd)
    due, t = [], 0
    while model.busy:
        out = model.outputs()
        resp, data = 0, 0
        if due and due[0][0] <= t:
            _, data = due.pop(0)
            resp = 1
        if out.req_valid:
            if out.req_we:
                memory[out.req_addr] = out.req_data
                due.append((t + latency, 0))
            else:
                due.append((t + latency, memory[out.req_addr]))
        model.tick(req_ready=1, resp_valid=resp, resp_data=data)
        t += 1
        assert t < 10000
    assert model.outputs().done == 1 and not due
    return t


@pytest.mark.parametrize("outstanding", [1, 2, 4])
@pytest.mark.parametrize("latency", [1, 2, 5])
def test_store_then_load_moves_rows_and_costs_what_section_5_3_says(outstanding, latency):
    cfg = MoverConfig(BufferConfig(16, 8), addr_bits=6, outstanding=outstanding)
    m = MoverModel(cfg)
    for a in range(16):
        m.buffer.words[a] = (a * 37) & 0xFF
    mem: dict[int, int] = {}
    n = 7
    t_store = _ideal_run(m, MoverCommand(STORE, 3, 40, n, 0), latency, mem)
    assert mem == {40 + i: ((3 + i) * 37) & 0xFF for i in range(n)}
    t_load = _ideal_run(m, MoverCommand(LOAD, 8, 40, n, 0x0F), latency, mem)
    for i in range(n):
        old, new = ((8 + i) * 37) & 0xFF, ((3 + i) * 37) & 0xFF
        assert m.buffer.words[8 + i] == (old & 0xF0) | (new & 0x0F)
    assert t_store == transfer_cycles(cfg, STORE, n, latency)
    assert t_load == transfer_cycles(cfg, LOAD, n, latency)
    if outstanding >= latency + 1:         # full throughput: one row per cycle
        assert t_store == n + latency + 2 and t_load == n + latency + 1
    c = m.outputs().counters
    assert c["rows_stored"] == n and c["rows_loaded"] == n and c["requests"] == 2 * n
    assert c["stall_cycles"] == 0 and c["busy_cycles"] == t_store + t_load


def test_invalid_and_empty_commands_pulse_done_and_move_nothing():
    cfg = MoverConfig(BufferConfig(8, 4), addr_bits=4)
    m = MoverModel(cfg)
    for cmd, err in ((MoverCommand(LOAD, 5, 0, 4, 1), 1),      # past the buffer
                     (MoverCommand(STORE, 0, 14, 3, 1), 1),    # past the backing store
                     (MoverCommand(STORE, 8, 16, 0, 1), 0)):   # empty, at both ends
        m.tick(cmd_valid=1, cmd=cmd)
        o = m.outputs()
        assert (o.done, o.error, o.busy, o.req_valid) == (1, err, 0, 0)
        m.tick()
        assert m.outputs().done == 0
    assert m.outputs().counters["busy_cycles"] == 0
