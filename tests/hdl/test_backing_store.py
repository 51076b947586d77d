"""The testbench's backing-store server (`testbench/backing_store.py`): its own rules (in
order, latency, bursts, reset) and that it catches a mover that breaks the port's rules;
and the golden mover served by it (no simulator: pure Python)."""

from __future__ import annotations

import pytest

from flexspim.config import BufferConfig, MoverConfig
from flexspim.golden.mover import LOAD, STORE, MoverCommand, MoverModel
from flexspim.testbench.backing_store import BackingStore, PortViolation, ServerTiming


def _server(rng, outstanding=2, **timing):
    return BackingStore(width=8, addr_bits=4, outstanding=outstanding, rng=rng,
                        timing=ServerTiming(**timing))


def _req(addr, we=0, data=0, valid=1, resp_ready=1):
    return dict(req_valid=valid, req_addr=addr, req_we=we, req_data=data,
                resp_ready=resp_ready)


def test_responses_come_in_order_after_their_latency(rng):
    s = _server(rng, outstanding=4, latency=(1, 6))
    s.rows.update({1: 0x11, 2: 0x22, 3: 0x33})
    passed, got = [], []
    for addr in (1, 2, 3):
        while True:
            c = s.cycle
            r = s.step(**_req(addr))
            if r["resp_valid"]:
                got.append((c, r["resp_data"]))
            if r["req_ready"]:
                passed.append(c)
                break
    for _ in range(20):
        c = s.cycle
        r = s.step(**_req(0, valid=0))
        if r["resp_valid"]:
            got.append((c, r["resp_data"]))
    assert [d for _, d in got] == [0x11, 0x22, 0x33]
    assert all(t > p for (t, _), p in zip(got, passed))
    assert s.idle() and s.max_in_flight >= 1


def test_a_write_is_visible_to_the_next_read_and_its_response_is_an_ack(rng):
    s = _server(rng, outstanding=2)
    assert s.step(**_req(5, we=1, data=0xA5))["req_ready"] == 1
    r = s.step(**_req(5))                 # the write's response, and the read passes
    assert r["resp_valid"] == 1 and r["req_ready"] == 1 and s.rows[5] == 0xA5
    r = s.step(**_req(0, valid=0))
    assert (r["resp_valid"], r["resp_data"]) == (1, 0xA5)


@pytest.mark.parametrize("second, rule", [
    (dict(valid=0), "req_valid lowered"),
    (dict(addr=4), "request changed"),
])
def test_rule_1_a_request_held_until_it_passes(rng, second, rule):
    s = _server(rng, ready=0.0)
    s.step(**_req(3))
    with pytest.raises(PortViolation, match=rule):
        s.step(**_req(second.get("addr", 3), valid=second.get("valid", 1)))


def test_rule_4_too_many_in_flight_and_a_response_not_taken(rng):
    s = _server(rng, outstanding=1, latency=(5, 5))
    s.step(**_req(1))
    with pytest.raises(PortViolation, match="already in flight"):
        s.step(**_req(2))
    s = _server(rng, outstanding=1)
    s.step(**_req(1))
    with pytest.raises(PortViolation, match="resp_ready is 0"):
        s.step(**_req(0, valid=0, resp_ready=0))


def test_reset_drops_every_response_owed(rng):
    s = _server(rng, outstanding=3, latency=(4, 4))
    for a in range(3):
        s.step(**_req(a))
    assert s.in_flight == 3
    s.reset()
    assert s.idle()
    for _ in range(8):
        assert s.step(**_req(0, valid=0, resp_ready=0))["resp_valid"] == 0


def test_bursts_stall_the_request_channel(rng):
    s = _server(rng, outstanding=1, burst=1.0, burst_len=(3, 3))
    ready = [s.step(**_req(0, valid=0))["req_ready"] for _ in range(8)]
    assert ready == [0, 0, 0, 1, 0, 0, 0, 1]      # 3 stalled cycles, then one ready


@pytest.mark.parametrize("bad", [dict(ready=1.5), dict(latency=(0, 2)), dict(burst_len=(3, 2))])
def test_timing_is_checked(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        ServerTiming(**bad)


def test_golden_mover_keeps_the_port_rules_under_random_timing(rng):
    """MoverModel against the server for many random transfers: no rule broken, every
    STOREd row in the server, every LOADed row in the buffer, counters exact."""
    cfg = MoverConfig(BufferConfig(16, 8), addr_bits=5, outstanding=3)
    m = MoverModel(cfg)
    for a in range(16):
        m.buffer.words[a] = int(rng.integers(256))
    moved = 0
    for i in range(60):
        s_timing = ServerTiming(ready=float(rng.choice([1.0, 0.5, 0.2])),
                                latency=(1, int(rng.integers(1, 10))), burst=0.05,
                                resp_gap=0.2)
        if i == 0:
            s = BackingStore(width=8, addr_bits=5, outstanding=3, rng=rng, timing=s_timing)
        s.timing = s_timing
        rows = int(rng.integers(1, 9))
        cmd = MoverCommand(int(rng.integers(2)), int(rng.integers(17 - rows)),
                           int(rng.integers(33 - rows)), rows, int(rng.integers(256)))
        before = list(m.buffer.words)
        m.tick(cmd_valid=1, cmd=cmd)
        n = 0
        while m.busy:
            o = m.outputs()
            m.tick(**s.step(o.req_valid, o.req_addr, o.req_we, o.req_data, o.resp_ready))
            n += 1
            assert n < 5000
        assert s.idle()
        for j in range(rows):
            if cmd.kind == STORE:
                assert s.rows[cmd.bs_addr + j] == before[cmd.buf_addr + j]
            else:
                assert cmd.kind == LOAD
                want = before[cmd.buf_addr + j] & ~cmd.mask | s.rows[cmd.bs_addr + j] & cmd.mask
                assert m.buffer.words[cmd.buf_addr + j] == want & 0xFF
        moved += rows
    c = m.outputs().counters
    assert c["rows_loaded"] + c["rows_stored"] == moved == c["requests"]
    assert s.max_in_flight == 3
