"""Address-event stream source and sink for cocotb, shared by the core and system drivers.

Both DUTs name their streams ``ev_in`` / ``ev_out`` (``valid``, ``ready``, ``payload`` with
the index in the low ``index_bits`` bits and the tick flag above). Handshakes are sampled
mid-cycle (falling edge), so a transfer is recorded exactly when ``valid & ready`` at a
rising edge.
"""

from __future__ import annotations

import numpy as np

from flexspim.golden.batching import TICK

__all__ = ["encode", "decode", "send_events", "receive_events", "start_clock"]


def start_clock(dut, period_ns: int) -> None:
    """Start cocotb's clock on ``dut.clk``, unless the top generates its own clock (a
    `testbench.stream_harness.clock_shell`, which says so with ``tb_hdl_clock``)."""
    from cocotb.clock import Clock

    if not hasattr(dut, "tb_hdl_clock"):
        Clock(dut.clk, period_ns, unit="ns").start()


def encode(e: int, index_bits: int) -> int:
    return 1 << index_bits if e == TICK else int(e)


def decode(payload: int, index_bits: int) -> int:
    return TICK if payload >> index_bits & 1 else payload & ((1 << index_bits) - 1)


async def send_events(dut, events, index_bits: int, rng: np.random.Generator,
                      gap: float = 0.0, port: str = "ev_in") -> int:
    """Drive ``events`` into stream ``port`` (default ``ev_in``), with an idle cycle before
    an event with probability ``gap`` (repeatedly); waits while the DUT back-pressures.
    Returns the transfers."""
    from cocotb.triggers import FallingEdge, RisingEdge

    valid, payload, ready = (getattr(dut, f"{port}__{n}") for n in ("valid", "payload",
                                                                      "ready"))
    sent = 0
    for e in np.asarray(events).tolist():
        while gap and rng.random() < gap:
            valid.value = 0
            await RisingEdge(dut.clk)
        payload.value = encode(e, index_bits)
        valid.value = 1
        while True:
            await FallingEdge(dut.clk)
            taken = int(ready.value)
            await RisingEdge(dut.clk)
            if taken:
                break
        sent += 1
    valid.value = 0
    return sent


async def receive_events(dut, ticks: int, index_bits: int, rng: np.random.Generator,
                         stall: float = 0.0, out: list | None = None,
                         on_tick=None) -> list[int]:
    """Collect ``ev_out`` events until ``ticks`` ticks arrived; ``ready`` is low with
    probability ``stall`` in each cycle. ``on_tick(seen, ticks)`` is called at each tick."""
    from cocotb.triggers import FallingEdge, RisingEdge

    out = [] if out is None else out
    seen = 0
    while seen < ticks:
        dut.ev_out__ready.value = int(not (stall and rng.random() < stall))
        await FallingEdge(dut.clk)
        if int(dut.ev_out__valid.value) and int(dut.ev_out__ready.value):
            e = decode(int(dut.ev_out__payload.value), index_bits)
            out.append(e)
            if e == TICK:
                seen += 1
                if on_tick:
                    on_tick(seen, ticks)
        await RisingEdge(dut.clk)
    dut.ev_out__ready.value = 0
    return out
