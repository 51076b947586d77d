"""cocotb driver for `flexspim.hdl.macro.CimMacro` and random command generation.

The driver speaks the macro's ports (names documented in `hdl/macro.py` and
``manifest.json``); the checker is the golden `MacroModel`. Long operations are started and
then awaited on ``acc__done`` instead of waking Python every clock.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from flexspim.config import LEAK_MODES, AccumulateOp, FireOp, LayerConfig, MacroConfig

__all__ = ["to_int", "to_bits_vec", "AccFields", "FireCmd", "random_accumulate",
           "random_fire", "random_shaped_accumulate", "random_shaped_fire", "group_col_en",
           "MacroDriver"]


def to_int(bits) -> int:
    """Column bit vector (index = column) to an integer (column 0 = LSB)."""
    b = np.asarray(bits, dtype=np.uint8)
    return int.from_bytes(np.packbits(b, bitorder="little").tobytes(), "little")


def to_bits_vec(value: int, n: int) -> np.ndarray:
    raw = np.frombuffer(int(value).to_bytes((n + 7) // 8, "little"), dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little")[:n]


class AccFields(NamedTuple):
    """Raw values for the accumulate port (possibly invalid on purpose)."""

    v_row: int
    bv: int
    w_rows: tuple[int, ...]   # one per slot (P of them)
    w_en: tuple[bool, ...]
    bw: int
    col_en: np.ndarray
    saturate: bool
    operand_cols: int = 1     # the shape N_C (a port only when max_operand_cols > 1)

    def fits_ports(self, cfg: MacroConfig) -> bool:
        """Whether every field can be put on the port at all (its width allows it)."""
        aw, bw = cfg.row_addr_width, cfg.bits_width
        shape_ok = (self.operand_cols == 1 if cfg.max_operand_cols == 1
                    else 0 <= self.operand_cols < 1 << cfg.max_operand_cols.bit_length())
        return (self.v_row < (1 << aw) and all(r < (1 << aw) for r in self.w_rows)
                and self.bv < (1 << bw) and self.bw < (1 << bw) and shape_ok
                and len(self.w_rows) == len(self.w_en) == cfg.batch_max)

    def golden_op(self) -> AccumulateOp:
        """The equivalent golden operation; raises ValueError when the command is invalid."""
        return AccumulateOp(self.v_row, self.bv,
                            tuple(r for r, e in zip(self.w_rows, self.w_en) if e),
                            self.bw, self.saturate, operand_cols=self.operand_cols)


class FireCmd(NamedTuple):
    """Raw values for the fire port (possibly invalid on purpose)."""

    v_row: int
    bv: int
    leak_mode: int        # 0 none, 1 sub, 2 shift, 3 invalid
    leak: int
    threshold: int        # signed; driven as max_bits-bit two's complement
    theta_src: bool
    theta_row: int
    soft_reset: bool
    col_en: np.ndarray
    operand_cols: int = 1     # the shape N_C (a port only when max_operand_cols > 1)

    def fits_ports(self, cfg: MacroConfig) -> bool:
        aw, bw, mb = cfg.row_addr_width, cfg.bits_width, cfg.max_bits
        shape_ok = (self.operand_cols == 1 if cfg.max_operand_cols == 1
                    else 0 <= self.operand_cols < 1 << cfg.max_operand_cols.bit_length())
        return (shape_ok and self.v_row < (1 << aw) and self.theta_row < (1 << aw)
                and self.bv < (1 << bw) and 0 <= self.leak_mode < 4
                and 0 <= self.leak < (1 << mb)
                and -(1 << (mb - 1)) <= self.threshold < (1 << (mb - 1)))

    def golden_op(self) -> FireOp:
        """The equivalent golden operation; raises ValueError when the command is invalid."""
        if self.leak_mode == 3:
            raise ValueError("`leak_mode` 3 is not an encoding")
        layer = LayerConfig(bw=1, bv=self.bv, leak_mode=LEAK_MODES[self.leak_mode],
                            leak=self.leak, threshold=self.threshold,
                            threshold_source="array" if self.theta_src else "register",
                            reset="soft" if self.soft_reset else "hard",
                            operand_cols=self.operand_cols)
        return FireOp(self.v_row, layer, self.theta_row if self.theta_src else None)


def random_fire(rng: np.random.Generator, cfg: MacroConfig,
                invalid_rate: float = 0.0) -> FireCmd:
    """A random fire command; valid unless drawn into the ``invalid_rate``."""
    rows, aw, mb = cfg.rows, cfg.row_addr_width, cfg.max_bits
    col_en = (rng.random(cfg.cols) < 0.85).astype(np.uint8)
    if rng.random() < invalid_rate:
        return FireCmd(int(rng.integers(0, 1 << aw)), int(rng.integers(0, 1 << cfg.bits_width)),
                       int(rng.integers(0, 4)), int(rng.integers(0, 1 << min(mb, 6))),
                       int(rng.integers(-(1 << (mb - 1)), 1 << (mb - 1))),
                       bool(rng.integers(0, 2)), int(rng.integers(0, 1 << aw)),
                       bool(rng.integers(0, 2)), col_en)
    theta_src = rows >= 2 and bool(rng.integers(0, 2))
    bv_max = min(mb, rows // 2 if theta_src else rows)
    bv = int(rng.integers(1, bv_max + 1))
    v_row = int(rng.integers(0, rows - bv + 1))
    theta_row = 0
    if theta_src:
        free = [r for r in range(rows - bv + 1) if r + bv <= v_row or r >= v_row + bv]
        if free:
            theta_row = int(rng.choice(free))
        else:
            theta_src = False
    mode = int(rng.integers(0, 3))
    leak = {0: 0, 1: int(rng.integers(0, 1 << (bv - 1))), 2: int(rng.integers(0, bv))}[mode]
    lo, hi = -(1 << (bv - 1)), (1 << (bv - 1)) - 1
    threshold = int(rng.integers(lo, hi + 1)) if rng.random() < 0.3 else \
        int(rng.integers(0, hi + 1))
    return FireCmd(v_row, bv, mode, leak, threshold, theta_src, theta_row,
                   bool(rng.integers(0, 2)), col_en)


def random_accumulate(rng: np.random.Generator, cfg: MacroConfig,
                      invalid_rate: float = 0.0) -> AccFields:
    """A random accumulate command; valid unless drawn into the ``invalid_rate``."""
    P, rows, aw = cfg.batch_max, cfg.rows, cfg.row_addr_width
    col_en = (rng.random(cfg.cols) < 0.85).astype(np.uint8)
    if rng.random() < invalid_rate:
        bmax = (1 << cfg.bits_width) - 1
        return AccFields(int(rng.integers(0, 1 << aw)), int(rng.integers(0, bmax + 1)),
                         tuple(int(x) for x in rng.integers(0, 1 << aw, size=P)),
                         tuple(bool(x) for x in rng.integers(0, 2, size=P)),
                         int(rng.integers(0, bmax + 1)), col_en, bool(rng.integers(0, 2)))
    bv = int(rng.integers(1, cfg.max_bits + 1))
    if rng.random() < 0.5:   # favour resolutions that leave room for weights
        bv = int(rng.integers(1, max(1, min(cfg.max_bits, rows // 2)) + 1))
    bw = int(rng.integers(1, bv + 1))
    v_row = int(rng.integers(0, rows - bv + 1))
    free = [r for r in range(rows - bw + 1) if r + bw <= v_row or r >= v_row + bv]
    n = int(rng.integers(0, min(P, len(free)) + 1))
    chosen = [int(x) for x in rng.permutation(free)[:n]] if n else []
    slots = rng.permutation(P)[:n]
    w_rows = [int(x) for x in rng.integers(0, 1 << aw, size=P)]   # junk in disabled slots
    w_en = [False] * P
    for s, r in zip(slots, chosen):
        w_rows[s], w_en[s] = r, True
    return AccFields(v_row, bv, tuple(w_rows), tuple(w_en), bw, col_en,
                     bool(rng.integers(0, 2)))


def group_col_en(rng: np.random.Generator, cols: int, n_c: int, p: float = 0.85) -> np.ndarray:
    """A column mask enabling whole random groups of ``n_c`` (never the trailing columns)."""
    n = cols // n_c
    mask = np.zeros(cols, dtype=np.uint8)
    mask[:n * n_c] = np.repeat(rng.random(n) < p, n_c)
    return mask


def random_shaped_accumulate(rng: np.random.Generator, cfg: MacroConfig, n_c: int,
                             bits_max: int | None = None) -> AccFields:
    """A random valid accumulate at shape ``n_c``: V of ``bv`` bits in ``ceil(bv/n_c)`` rows,
    up to ``P`` weights of ``bw <= bv`` bits in ``ceil(bw/n_c)`` rows each, none overlapping
    V, whole-group column mask."""
    P, rows, aw = cfg.batch_max, cfg.rows, cfg.row_addr_width
    top = min(rows * n_c, cfg.max_bits, bits_max or cfg.max_bits)
    bv = int(rng.integers(1, top + 1))
    if rng.random() < 0.5:
        bv = int(rng.integers(1, max(1, min(top, rows // 2 * n_c)) + 1))
    bw = int(rng.integers(1, bv + 1))
    rv, rw = -(-bv // n_c), -(-bw // n_c)
    v_row = int(rng.integers(0, rows - rv + 1))
    free = [r for r in range(rows - rw + 1) if r + rw <= v_row or r >= v_row + rv]
    n = int(rng.integers(0, min(P, len(free)) + 1))
    chosen = [int(x) for x in rng.permutation(free)[:n]] if n else []
    slots = rng.permutation(P)[:n]
    w_rows = [int(x) for x in rng.integers(0, 1 << aw, size=P)]
    w_en = [False] * P
    for s, r in zip(slots, chosen):
        w_rows[s], w_en[s] = r, True
    return AccFields(v_row, bv, tuple(w_rows), tuple(w_en), bw,
                     group_col_en(rng, cfg.cols, n_c), bool(rng.integers(0, 2)), n_c)


def random_shaped_fire(rng: np.random.Generator, cfg: MacroConfig, n_c: int) -> FireCmd:
    """A random valid fire at shape ``n_c``: V of ``bv`` bits in ``ceil(bv/n_c)`` rows, the
    thresholds (when from the array) in as many rows not overlapping V, every leak mode (shift
    amounts that straddle rows included), whole-group column mask."""
    rows = cfg.rows
    theta_src = rows >= 2 and bool(rng.integers(0, 2))
    top = min(cfg.max_bits, (rows // 2 if theta_src else rows) * n_c)
    bv = int(rng.integers(1, top + 1))
    rv = -(-bv // n_c)
    v_row = int(rng.integers(0, rows - rv + 1))
    theta_row = 0
    if theta_src:
        free = [r for r in range(rows - rv + 1) if r + rv <= v_row or r >= v_row + rv]
        if free:
            theta_row = int(rng.choice(free))
        else:
            theta_src = False
    mode = int(rng.integers(0, 3))
    leak = {0: 0, 1: int(rng.integers(0, 1 << (bv - 1))), 2: int(rng.integers(0, bv))}[mode]
    lo, hi = -(1 << (bv - 1)), (1 << (bv - 1)) - 1
    threshold = int(rng.integers(lo, hi + 1)) if rng.random() < 0.3 else \
        int(rng.integers(0, hi + 1))
    return FireCmd(v_row, bv, mode, leak, threshold, theta_src, theta_row,
                   bool(rng.integers(0, 2)), group_col_en(rng, cfg.cols, n_c), n_c)


class MacroDriver:
    """Drives one `CimMacro` DUT. All methods are coroutines of the cocotb test."""

    PERIOD_NS = 10

    def __init__(self, dut, cfg: MacroConfig):
        self.dut, self.cfg = dut, cfg
        self.aw = cfg.row_addr_width

    async def start(self) -> None:
        from cocotb.clock import Clock

        Clock(self.dut.clk, self.PERIOD_NS, unit="ns").start()
        d = self.dut
        for name in ("row__we", "row__re", "row__wdata", "row__wmask", "row__addr", "acc__valid",
                     "acc__v_row", "acc__bv", "acc__bw", "acc__w_rows", "acc__w_en",
                     "acc__col_en", "acc__saturate", "fire__valid", "fire__v_row", "fire__bv",
                     "fire__leak_mode", "fire__leak", "fire__threshold", "fire__theta_src",
                     "fire__theta_row", "fire__soft_reset", "fire__col_en"):
            getattr(d, name).value = 0
        await self.reset()

    async def reset(self, cycles: int = 2) -> None:
        from cocotb.triggers import RisingEdge

        self.dut.rst.value = 1
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0

    # -- row port -------------------------------------------------------------------------
    async def write_row(self, row: int, bits, mask=None) -> None:
        from cocotb.triggers import RisingEdge

        d = self.dut
        assert int(d.row__ready.value) == 1, "row port used while an operation runs"
        d.row__addr.value = int(row)
        d.row__wdata.value = to_int(bits)
        d.row__wmask.value = (1 << self.cfg.cols) - 1 if mask is None else to_int(mask)
        d.row__we.value = 1
        await RisingEdge(d.clk)
        d.row__we.value = 0

    async def read_row(self, row: int) -> np.ndarray:
        """Synchronous read: the row is taken at one edge and comes out after it."""
        from cocotb.triggers import FallingEdge, RisingEdge

        d = self.dut
        assert int(d.row__ready.value) == 1, "row port used while an operation runs"
        d.row__addr.value = int(row)
        d.row__re.value = 1
        await RisingEdge(d.clk)
        d.row__re.value = 0
        await FallingEdge(d.clk)
        assert int(d.row__rvalid.value) == 1, "row read taken but rvalid is low"
        value = int(d.row__rdata.value)
        await RisingEdge(d.clk)
        return to_bits_vec(value, self.cfg.cols)

    async def write_array(self, bits: np.ndarray) -> None:
        for r in range(self.cfg.rows):
            await self.write_row(r, bits[r])

    async def read_array(self) -> np.ndarray:
        return np.array([await self.read_row(r) for r in range(self.cfg.rows)], dtype=np.uint8)

    # -- accumulate -----------------------------------------------------------------------
    def _drive(self, f: AccFields) -> None:
        if not f.fits_ports(self.cfg):
            raise ValueError(f"command fields do not fit the port widths: {f}")
        d = self.dut
        d.acc__v_row.value = f.v_row
        d.acc__bv.value = f.bv
        d.acc__bw.value = f.bw
        d.acc__w_rows.value = sum(int(r) << (i * self.aw) for i, r in enumerate(f.w_rows))
        d.acc__w_en.value = sum(int(e) << i for i, e in enumerate(f.w_en))
        d.acc__col_en.value = to_int(f.col_en)
        d.acc__saturate.value = int(f.saturate)
        if self.cfg.max_operand_cols > 1:
            d.acc__operand_cols.value = f.operand_cols
        d.acc__valid.value = 1

    def _drive_fire(self, f: FireCmd) -> None:
        if not f.fits_ports(self.cfg):
            raise ValueError(f"fire command fields do not fit the port widths: {f}")
        d, mb = self.dut, self.cfg.max_bits
        d.fire__v_row.value = f.v_row
        d.fire__bv.value = f.bv
        d.fire__leak_mode.value = f.leak_mode
        d.fire__leak.value = f.leak
        d.fire__threshold.value = f.threshold & ((1 << mb) - 1)
        d.fire__theta_src.value = int(f.theta_src)
        d.fire__theta_row.value = f.theta_row
        d.fire__soft_reset.value = int(f.soft_reset)
        d.fire__col_en.value = to_int(f.col_en)
        if self.cfg.max_operand_cols > 1:
            d.fire__operand_cols.value = f.operand_cols
        d.fire__valid.value = 1

    async def fire(self, f: FireCmd) -> tuple[int, np.ndarray, bool]:
        """Issue one fire pass and await ``done``: ``(cycles, spikes, error)``."""
        self._drive_fire(f)
        cycles, spikes, error = await self._complete("fire", "spikes")
        return cycles, spikes, error

    async def accumulate(self, f: AccFields) -> tuple[int, np.ndarray, bool]:
        """Issue one command (the macro must be idle) and await ``done``.

        Returns ``(cycles, overflow, error)`` where ``cycles`` counts the clock cycles from
        the issue cycle to the last cycle of the operation (the golden formula's meaning):
        ``(t_done - t_accept) / period + 1``.
        """
        self._drive(f)
        return await self._complete("acc", "overflow")

    async def _complete(self, port: str, result: str) -> tuple[int, np.ndarray, bool]:
        from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge
        from cocotb.utils import get_sim_time

        d = self.dut
        valid, done = getattr(d, f"{port}__valid"), getattr(d, f"{port}__done")
        res, err = getattr(d, f"{port}__{result}"), getattr(d, f"{port}__error")
        await RisingEdge(d.clk)                     # accepted here: the macro is idle
        t0 = get_sim_time("ns")
        valid.value = 0
        await ReadOnly()
        if int(done.value):                         # rejected in the issue cycle
            value, error = int(res.value), int(err.value)
            await FallingEdge(d.clk)                # leave the read-only phase
            t1 = t0
        else:
            await RisingEdge(done)
            t1 = get_sim_time("ns")
            # sample once the edge's updates settled (Icarus shows stale values before
            # ReadOnly), then leave the read-only phase before the caller drives inputs
            await ReadOnly()
            value, error = int(res.value), int(err.value)
            await FallingEdge(d.clk)
        cycles = round((t1 - t0) / self.PERIOD_NS) + 1
        return cycles, to_bits_vec(value, self.cfg.cols).astype(bool), bool(error)
