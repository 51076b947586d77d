"""A backing-store server for the valid/ready port of docs/buffer.md section 2, for cocotb.

`BackingStore` is a row memory behind the port with random ``req_ready``, a random latency
per response and stall bursts on both channels, all drawn from one seeded generator, that
checks the port's rules from the outside (it raises `PortViolation` naming the rule and the
cycle):

1. handshakes: a request offered and not taken is offered again, unchanged, in the next
   cycle (``req_valid`` is never lowered, ``req_addr`` / ``req_we`` / ``req_data`` never
   change before it passes);
2. every request gets one response, in request order, at the earliest in the cycle after it
   passed (the server's own construction; ``resp_data`` is the row for a read, random bits
   for a write, whose data the mover must ignore);
3. one ordered channel: a request takes effect when it passes (a write is visible to every
   later read);
4. at most ``outstanding`` requests accepted and unanswered; a response offered while the
   mover does not take it (``resp_ready`` low: the mover is idle, or back-pressures a
   response it asked for) is reported too.

Rule 5 (reset): `reset` drops every response owed (`serve` calls it while ``rst`` is 1).

Two ways to use it. Lock-step (what `tests/hdl/test_rtl_mover.py` does): each cycle, with
the mover's outputs of this cycle, `step` returns the server's inputs for this cycle and
applies the handshakes of the coming edge. Free-running: `serve` is a coroutine that does
the same on a DUT's ``<prefix>__*`` signals at every falling edge (mid-cycle).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ["PortViolation", "ServerTiming", "BackingStore", "port_outputs"]


class PortViolation(AssertionError):
    """The mover broke a rule of the backing-store port (docs/buffer.md section 2)."""


@dataclass(frozen=True)
class ServerTiming:
    """How the server behaves, per cycle (all probabilities in [0, 1]).

    Attributes:
        ready: probability that ``req_ready`` is 1 in a cycle outside a stall burst.
        latency: ``(lo, hi)``: each response is due ``lo..hi`` cycles (uniform, ``lo >= 1``)
            after its request passed, and never before the response ahead of it.
        burst: probability that a stall burst starts in a cycle (on the request channel:
            ``req_ready`` 0; on the response channel: no response offered), each channel
            drawn on its own.
        burst_len: ``(lo, hi)``: length of a burst in cycles.
        resp_gap: probability that a due response is held back for one more cycle.
    """

    ready: float = 1.0
    latency: tuple[int, int] = (1, 1)
    burst: float = 0.0
    burst_len: tuple[int, int] = (1, 8)
    resp_gap: float = 0.0

    def __post_init__(self):
        for name in ("ready", "burst", "resp_gap"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"`{name}` must be a probability in [0, 1], not {v!r}")
        for name in ("latency", "burst_len"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ValueError(f"`{name}` must be (lo, hi) with 1 <= lo <= hi, not "
                                 f"{getattr(self, name)!r}")


#: The mover's outputs on the port, in the order `step` takes them.
_OUT = ("req_valid", "req_addr", "req_we", "req_data", "resp_ready")
_IN = ("req_ready", "resp_valid", "resp_data")


def port_outputs(dut, prefix: str = "bs") -> dict[str, int]:
    """The mover's outputs on port ``prefix`` of ``dut`` in this cycle."""
    return {n: int(getattr(dut, f"{prefix}__{n}").value) for n in _OUT}


class BackingStore:
    """Row memory of ``2**addr_bits`` rows of ``width`` bits behind the port.

    ``rows``: the memory (row -> value); a row never written reads as random bits, fixed on
    first read (so a LOAD of it is still checkable). ``served``: every request passed, as
    ``(cycle, addr, we, data)``. ``cycle`` counts `step` calls; ``max_in_flight`` and
    ``max_latency`` are the most requests in flight and the longest latency drawn so far.
    """

    def __init__(self, *, width: int, addr_bits: int, outstanding: int,
                 rng: np.random.Generator, timing: ServerTiming = ServerTiming()):
        for name, v, lo in (("width", width, 1), ("addr_bits", addr_bits, 1),
                            ("outstanding", outstanding, 1)):
            if not isinstance(v, int) or v < lo:
                raise ValueError(f"`{name}` must be an integer >= {lo}, not {v!r}")
        self.width, self.addr_bits, self.outstanding = width, addr_bits, outstanding
        self.rng, self.timing = rng, timing
        self.rows: dict[int, int] = {}
        self.served: list[tuple[int, int, int, int]] = []
        self.cycle = 0
        self.max_in_flight = 0
        self.max_latency = 0                      # the longest latency drawn (coverage)
        self.reset()

    # -- state ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Rule 5: drop every response owed and any request half offered."""
        self.owed: deque[list] = deque()          # [due cycle, data] in request order
        self._offered: tuple | None = None        # a request seen and not taken
        self._req_burst = self._resp_burst = 0

    @property
    def in_flight(self) -> int:
        return len(self.owed)

    def idle(self) -> bool:
        """Nothing owed, nothing half offered (what a test checks at its end)."""
        return not self.owed and self._offered is None

    def _rand_row(self) -> int:
        return int.from_bytes(self.rng.bytes((self.width + 7) // 8), "little") \
            & ((1 << self.width) - 1)

    def read_row(self, addr: int) -> int:
        if addr not in self.rows:
            self.rows[addr] = self._rand_row()
        return self.rows[addr]

    def _burst(self, left: int) -> int:
        if left:
            return left - 1
        t = self.timing
        if t.burst and self.rng.random() < t.burst:
            return int(self.rng.integers(t.burst_len[0], t.burst_len[1] + 1))
        return 0

    # -- one cycle -----------------------------------------------------------------------
    def step(self, req_valid: int, req_addr: int, req_we: int, req_data: int,
             resp_ready: int) -> dict[str, int]:
        """The server's inputs for this cycle (``req_ready``, ``resp_valid``,
        ``resp_data``), given the mover's outputs of this cycle; applies what passes at the
        coming edge. Raises `PortViolation`."""
        t, c = self.timing, self.cycle
        req = (int(req_addr), int(req_we), int(req_data) if req_we else 0)
        if self._offered is not None:
            if not req_valid:
                raise PortViolation(f"cycle {c}: req_valid lowered before the request "
                                    f"{self._describe(self._offered)} passed (rule 1)")
            if req != self._offered:
                raise PortViolation(f"cycle {c}: request changed from "
                                    f"{self._describe(self._offered)} to "
                                    f"{self._describe(req)} before it passed (rule 1)")
        if req_valid and not 0 <= req[0] < 1 << self.addr_bits:
            raise PortViolation(f"cycle {c}: req_addr {req[0]} out of {self.addr_bits} bits")

        # request channel: ready drawn whatever valid is (valid never depends on ready)
        self._req_burst = self._burst(self._req_burst)
        ready = int(not self._req_burst and (t.ready >= 1.0 or self.rng.random() < t.ready))
        # response channel: the head response, when due and not held back
        self._resp_burst = self._burst(self._resp_burst)
        resp_valid, resp_data = 0, 0
        if self.owed and self.owed[0][0] <= c and not self._resp_burst:
            if not (t.resp_gap and self.rng.random() < t.resp_gap):
                resp_valid, resp_data = 1, self.owed[0][1]
        if resp_valid and not resp_ready:
            raise PortViolation(f"cycle {c}: a response is owed and offered but resp_ready "
                                f"is 0 (the mover went idle with {len(self.owed)} responses "
                                f"owed, or back-pressures a response it asked for; rule 4)")

        # the coming edge
        if resp_valid and resp_ready:
            self.owed.popleft()
        if req_valid and ready:
            if self.in_flight >= self.outstanding:
                raise PortViolation(f"cycle {c}: request {self._describe(req)} passed with "
                                    f"{self.in_flight} already in flight, at most "
                                    f"{self.outstanding} (rule 4)")
            addr, we, data = req
            if we:
                self.rows[addr] = data
                value = self._rand_row()          # a write's response carries no row
            else:
                value = self.read_row(addr)
            lat = int(self.rng.integers(t.latency[0], t.latency[1] + 1))
            self.max_latency = max(self.max_latency, lat)
            due = max(c + lat, self.owed[-1][0] if self.owed else 0)
            self.owed.append([due, value])
            self.served.append((c, addr, we, data))
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._offered = None
        else:
            self._offered = req if req_valid else None
        self.cycle += 1
        return {"req_ready": ready, "resp_valid": resp_valid, "resp_data": resp_data}

    @staticmethod
    def _describe(req) -> str:
        addr, we, data = req
        return f"(write row {addr} = {data:#x})" if we else f"(read row {addr})"

    # -- free-running on a DUT -----------------------------------------------------------
    async def serve(self, dut, prefix: str = "bs") -> None:
        """Serve port ``prefix`` of ``dut`` forever (start with ``cocotb.start_soon``):
        at every falling edge, sample the mover's outputs, drive this cycle's inputs; while
        ``dut.rst`` is 1, drive nothing and drop every response owed."""
        from cocotb.triggers import FallingEdge

        pins = {n: getattr(dut, f"{prefix}__{n}") for n in _IN}
        for p in pins.values():
            p.value = 0
        while True:
            await FallingEdge(dut.clk)
            if hasattr(dut, "rst") and int(dut.rst.value):
                self.reset()
                for p in pins.values():
                    p.value = 0
                self.cycle += 1
                continue
            for n, v in self.step(**port_outputs(dut, prefix)).items():
                pins[n].value = v
