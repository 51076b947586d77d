"""The one configuration module every part of flexspim reads.

Two kinds of settings exist, and they live in different places of the chip:

* **Geometry** (`MacroConfig`): fixed when the Verilog is generated -- array rows and
  columns and the batch size ``P`` (how many weight operands one accumulate adds at once).
* **Run-time settings** (`LayerConfig`, `AccumulateOp`, `FireOp`): chosen per layer or per
  operation after tape-out -- weight/potential resolutions, saturate or wrap, leak, threshold,
  reset, and where the operands sit in the array.

Every value is validated here, once, with a `ValueError` that names the parameter, the bad
value and the allowed range. The RTL generators (``flexspim.hdl``), the golden model
(``flexspim.golden``) and the testbenches all take these objects, so they cannot drift.
All classes are frozen (hashable) and have a stable `digest()` for naming build folders.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
from dataclasses import dataclass
from typing import Any, Iterable

__all__ = [
    "MAX_ROWS", "MAX_COLS", "MAX_BATCH", "MAX_BITS", "MAX_OPERAND_COLS",
    "LEAK_MODES", "RESET_MODES", "THRESHOLD_SOURCES",
    "MAX_CORES", "MacroConfig", "LayerConfig", "Operand", "AccumulateOp", "FireOp",
    "CoreConfig", "FCLayout", "SystemConfig", "ConvGeometry", "MAX_KERNEL", "FanoutConfig",
    "BufferConfig", "MoverConfig", "MAX_BUFFER_WORDS", "MAX_BACKING_ADDR_BITS",
    "MAX_OUTSTANDING", "SequencerConfig", "MAX_SEQ_SLOTS",
    "check_disjoint", "signed_range", "digest", "conv_output_hw", "operand_rows",
    "check_operand_cols",
]

#: Largest array the generator accepts (rows x cols bits; beyond this Verilator builds of the
#: behavioural array are impractical, and a real macro would be split into several).
MAX_ROWS = 4096
MAX_COLS = 4096
#: Largest batch (weight operands activated in one accumulate): the adder tree is a popcount
#: of P + 2 inputs per column.
MAX_BATCH = 64
#: Largest operand resolution. The golden model computes in int64 and the RTL sizes its
#: threshold and leak registers from this, so resolutions are capped at 32 bits.
MAX_BITS = 32
#: Widest operand group (``max_operand_cols``): the carry chain of a group ripples through
#: this many column adders in one cycle (docs/array.md, "Operand shape").
MAX_OPERAND_COLS = 16

#: Cores of a system: router registers must fit a 10-bit address (see `flexspim.regmap`).
MAX_CORES = 29

#: Widest bus the generator can emit: Amaranth 0.5 numbers the bits of one netlist value in
#: 16 bits (`amaranth/hdl/_nir.py`) and names ports by looking one bit past a bus's last, so a
#: 65,536-bit bus already fails (measured: 16 x 4096 fails, 16 x 4095 and 17 x 3855 build).
#: The widest bus is the array's read data and the adder's operands, ``(batch_max + 1) * cols``.
MAX_BUS_BITS = (1 << 16) - 1

LEAK_MODES = ("none", "sub", "shift")
RESET_MODES = ("hard", "soft")
THRESHOLD_SOURCES = ("register", "array")


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be an integer in [{lo}, {hi}], not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"`{name}` must be an integer in [{lo}, {hi}], not {value}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(choices)}; not {value!r}")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be a bool (true or false), not {value!r}")


def conv_output_hw(in_hw, kernel_hw, stride, padding, dilation) -> tuple[int, int]:
    """Output height and width: ``(n + 2 pad - dil (k - 1) - 1) // stride + 1`` per axis
    (PyTorch's formula, so trained models keep their shapes)."""
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, k, s, p, d in zip(in_hw, kernel_hw, stride, padding, dilation))


def operand_rows(bits: int, operand_cols: int = 1) -> int:
    """Rows of a ``bits``-bit operand of shape ``N_C = operand_cols``: ``ceil(bits / N_C)``."""
    return -(-bits // operand_cols)


def check_operand_cols(value: Any, largest: int, name: str = "operand_cols") -> None:
    """`ValueError` unless ``value`` is a power of two in ``[1, largest]``."""
    _check_int(name, value, 1, largest)
    if value & (value - 1):
        allowed = ", ".join(str(1 << i) for i in range(largest.bit_length()))
        raise ValueError(f"`{name}` must be a power of two in [1, {largest}] ({allowed}): groups "
                         f"are aligned at column multiples of it, not {value}")


def signed_range(bits: int) -> tuple[int, int]:
    """Inclusive range of a two's-complement integer of ``bits`` bits."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _pow2_floor(n: int) -> int:
    return 1 << (n.bit_length() - 1)


def digest(*objs: Any) -> str:
    """Stable short hash of dataclass configs (same values -> same name on every machine)."""
    payload = json.dumps([[type(o).__name__, dataclasses.asdict(o)] for o in objs],
                         sort_keys=True, separators=(",", ":"), default=int)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


class _Config:
    """Shared helpers: dict round trip (for TOML/JSON) and a stable digest."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} parameter(s) {', '.join(unknown)}; "
                             f"allowed: {', '.join(sorted(names))}")
        return cls(**d)

    def digest(self) -> str:
        return digest(self)


@dataclass(frozen=True)
class MacroConfig(_Config):
    """Geometry of one CIM macro, fixed at generation time.

    Attributes:
        rows: bit rows of the array (1..MAX_ROWS). Operands are stored vertically, so ``rows``
            bounds every resolution and the number of operands a column holds.
        cols: columns (1..MAX_COLS); one neuron (or one operand stack) per column, each with
            its own bit-serial adder.
        batch_max: ``P``, weight operands added in one accumulate (1..MAX_BATCH).
        max_operand_cols: the widest operand group the column carry chain supports, a power
            of two in ``[1, min(cols, MAX_OPERAND_COLS)]`` (default 1: every operand vertical,
            the macro of before issue 20). Each layer picks its ``operand_cols`` ``N_C`` up to
            this at run time; an operand of ``b`` bits then spans ``N_C`` adjacent columns
            and ``ceil(b / N_C)`` rows (docs/array.md, "Operand shape").
    """

    rows: int
    cols: int
    batch_max: int = 1
    max_operand_cols: int = 1

    def __post_init__(self):
        _check_int("rows", self.rows, 1, MAX_ROWS)
        _check_int("cols", self.cols, 1, MAX_COLS)
        _check_int("batch_max", self.batch_max, 1, MAX_BATCH)
        check_operand_cols(self.max_operand_cols, _pow2_floor(min(self.cols, MAX_OPERAND_COLS)),
                           "max_operand_cols")
        bus = (self.batch_max + 1) * self.cols
        if bus > MAX_BUS_BITS:
            raise ValueError(f"`batch_max` + 1 times `cols` must be at most {MAX_BUS_BITS} (the "
                             f"read-data bus; Amaranth caps one value at {MAX_BUS_BITS} bits), "
                             f"not ({self.batch_max} + 1) * {self.cols} = {bus}")

    @property
    def row_addr_width(self) -> int:
        """Width of a row address (at least 1 bit, also for a one-row array)."""
        return max(1, (self.rows - 1).bit_length())

    @property
    def max_bits(self) -> int:
        """Largest operand resolution this macro can hold: ``rows * max_operand_cols`` bits
        fit one group, capped at `MAX_BITS`."""
        return min(self.rows * self.max_operand_cols, MAX_BITS)

    @property
    def bits_width(self) -> int:
        """Width of a field holding a resolution 1..max_bits."""
        return self.max_bits.bit_length()

    @property
    def guard_cycles(self) -> int:
        """Saturation guard cycles: ``ceil(log2(P + 1))``, the fewest that are exact.

        The exact sum ``V + W_1 + ... + W_P`` (bw <= bv, so every term is in
        ``[-2**(bv-1), 2**(bv-1) - 1]``) lies in ``[-(P+1) 2**(bv-1), (P+1) (2**(bv-1) - 1)]``
        and so fits in ``bv + ceil(log2(P+1))`` signed bits: after ``bv + guard_cycles`` bits
        the last one is the sign of the exact total, and the total fits ``bv`` bits iff bits
        ``bv-1 ..`` all agree. (The first version computed one more bit, the architecture
        document's margin; issue 13 dropped it once this bound was proved formally,
        ``make formal``, and replayed in `golden.macro.accumulate_bitserial`.)
        """
        return self.batch_max.bit_length()  # ceil(log2(n + 1)) == n.bit_length()

    @property
    def carry_width(self) -> int:
        """Bits of each column's carry register: ``P.bit_length()``.

        Each cycle adds at most ``P`` weight bits, one potential bit and the carry ``c``
        (0 at the start). If ``c <= P`` the sum is ``<= 2P + 1`` and the new carry
        ``floor(sum / 2) <= P``: the carry never exceeds ``P``.
        """
        return self.batch_max.bit_length()


@dataclass(frozen=True)
class LayerConfig(_Config):
    """Run-time arithmetic settings of one layer (written into configuration registers).

    Attributes:
        bw: weight resolution in bits, 1..MAX_BITS, two's complement (so a 1-bit weight is
            -1 or 0). ``bw > bv`` is rejected: a weight wider than the potential could not
            be added exactly in ``bv`` bit-serial cycles.
        bv: membrane potential (and per-neuron threshold) resolution, 1..MAX_BITS.
        saturate: True (default): each accumulate batch's result is clamped to
            ``[-2**(bv-1), 2**(bv-1)-1]``. False: it wraps modulo ``2**bv``.
        leak_mode: "none"; "sub": ``|V|`` decreases by ``leak`` and stops at 0 (never
            crosses zero); "shift": ``V = V - (V >>> leak)`` (arithmetic shift, which rounds
            towards minus infinity, so a negative V decays by ``ceil(|V| / 2**leak)``).
        leak: "sub": 0..2**(bv-1)-1; "shift": 0..bv-1 (0 empties V every step);
            "none": must be 0.
        threshold: per-layer threshold, a ``bv``-bit signed value (used when
            ``threshold_source`` is "register"). A neuron spikes when ``V >= threshold``.
        threshold_source: "register" (one per layer) or "array" (one per neuron, stored in
            the array as a ``bv``-bit operand beside the potential).
        reset: "hard" (``V = 0`` after a spike) or "soft" (``V = V - threshold``, clamped to
            the maximum when a negative threshold makes it overflow).
        operand_cols: the layer's operand shape ``N_C`` (a power of two, default 1): every
            weight, potential and threshold of the layer spans ``N_C`` adjacent columns and
            ``ceil(bits / N_C)`` rows; one neuron per group of ``N_C`` columns. Bounded by the
            macro's ``max_operand_cols`` (`check_fits`).
    """

    bw: int
    bv: int
    saturate: bool = True
    leak_mode: str = "none"
    leak: int = 0
    threshold: int = 0
    threshold_source: str = "register"
    reset: str = "hard"
    operand_cols: int = 1

    def __post_init__(self):
        _check_int("bw", self.bw, 1, MAX_BITS)
        _check_int("bv", self.bv, 1, MAX_BITS)
        if self.bw > self.bv:
            raise ValueError(f"`bw` must be in [1, bv={self.bv}] (a weight cannot be wider than "
                             f"the potential it is added to), not {self.bw}")
        _check_bool("saturate", self.saturate)
        _check_choice("leak_mode", self.leak_mode, LEAK_MODES)
        if self.leak_mode == "sub":
            _check_int("leak", self.leak, 0, signed_range(self.bv)[1])
        elif self.leak_mode == "shift":
            _check_int("leak", self.leak, 0, self.bv - 1)
        else:
            _check_int("leak", self.leak, 0, 0)
        _check_int("threshold", self.threshold, *signed_range(self.bv))
        _check_choice("threshold_source", self.threshold_source, THRESHOLD_SOURCES)
        _check_choice("reset", self.reset, RESET_MODES)
        check_operand_cols(self.operand_cols, MAX_OPERAND_COLS)

    def check_fits(self, macro: MacroConfig) -> None:
        """Raise `ValueError` if this layer's operands cannot exist in ``macro``."""
        check_shape(macro, self.bv, self.operand_cols)

    @property
    def v_rows(self) -> int:
        """Rows of one potential (and of one per-neuron threshold)."""
        return operand_rows(self.bv, self.operand_cols)

    @property
    def w_rows(self) -> int:
        """Rows of one weight operand."""
        return operand_rows(self.bw, self.operand_cols)

    @property
    def v_range(self) -> tuple[int, int]:
        return signed_range(self.bv)

    @property
    def w_range(self) -> tuple[int, int]:
        return signed_range(self.bw)


def shape_bits(macro: MacroConfig, operand_cols: int) -> int:
    """Widest operand ``macro`` holds at shape ``operand_cols``: ``rows * N_C`` bits, at most
    `MAX_BITS`."""
    return min(macro.rows * operand_cols, MAX_BITS)


def check_shape(macro: MacroConfig, bits: int, operand_cols: int, name: str = "bv") -> None:
    """`ValueError` unless a ``bits``-bit operand of shape ``operand_cols`` fits ``macro``."""
    check_operand_cols(operand_cols, macro.max_operand_cols)
    limit = shape_bits(macro, operand_cols)
    if not 1 <= bits <= limit:
        shape = (f" (at operand_cols={operand_cols}: {macro.rows} rows x {operand_cols} "
                 f"columns per operand)" if operand_cols > 1 else "")
        raise ValueError(f"`{name}` must be an integer in [1, {limit}], not {bits}{shape}")


@dataclass(frozen=True)
class Operand(_Config):
    """Placement of one operand: ``bits`` bits from row ``row`` up, least significant bit in
    the lowest row. ``cols`` is its shape ``N_C``: bit ``i`` of the operand of group ``g`` is
    at row ``row + i // cols``, column ``g * cols + i % cols`` (``cols = 1``: vertical, one
    operand per column), so it occupies rows ``row .. stop - 1``."""

    row: int
    bits: int
    cols: int = 1

    def __post_init__(self):
        _check_int("row", self.row, 0, MAX_ROWS - 1)
        _check_int("bits", self.bits, 1, MAX_BITS)
        check_operand_cols(self.cols, MAX_OPERAND_COLS, "cols")

    @property
    def rows(self) -> int:
        return operand_rows(self.bits, self.cols)

    @property
    def stop(self) -> int:
        return self.row + self.rows

    def check_fits(self, macro: MacroConfig, name: str = "operand") -> None:
        if self.cols > macro.max_operand_cols:
            check_operand_cols(self.cols, macro.max_operand_cols, f"{name} operand_cols")
        if self.stop > macro.rows:
            raise ValueError(f"`{name}` rows {self.row}..{self.stop - 1} do not fit the array: "
                             f"rows must be in [0, {macro.rows - 1}]")

    def overlaps(self, other: "Operand") -> bool:
        return self.row < other.stop and other.row < self.stop


def check_disjoint(named: Iterable[tuple[str, Operand]]) -> None:
    """Raise `ValueError` if two of the named operands share a row."""
    items = list(named)
    for i, (na, a) in enumerate(items):
        for nb, b in items[i + 1:]:
            if a.overlaps(b):
                raise ValueError(f"`{na}` (rows {a.row}..{a.stop - 1}) overlaps `{nb}` "
                                 f"(rows {b.row}..{b.stop - 1}); operands must not share rows")


@dataclass(frozen=True)
class AccumulateOp(_Config):
    """One accumulate batch: ``V += W_1 + ... + W_n`` in every enabled column.

    Attributes:
        v_row: lowest row of the potential ``V`` (``bv`` rows).
        bv: potential resolution.
        w_rows: lowest rows of the ``n <= P`` weight operands (``bw`` rows each); distinct,
            since one physical row activated twice still contributes its bit once. ``n = 0``
            is allowed (the potential is unchanged; the cycles are still spent).
        bw: weight resolution, ``1 <= bw <= bv``.
        saturate: clamp (True) or wrap (False) the batch's total.
        operand_cols: the shape ``N_C`` of V and of every weight (see `Operand`).

    The weight operands may overlap each other (they are only read) but none may overlap
    ``V`` (which is written while they are read).
    """

    v_row: int
    bv: int
    w_rows: tuple[int, ...]
    bw: int
    saturate: bool = True
    operand_cols: int = 1

    def __post_init__(self):
        object.__setattr__(self, "w_rows", tuple(
            int(r) if isinstance(r, numbers.Integral) and not isinstance(r, bool) else r
            for r in self.w_rows))
        _check_int("v_row", self.v_row, 0, MAX_ROWS - 1)
        _check_int("bv", self.bv, 1, MAX_BITS)
        _check_int("bw", self.bw, 1, self.bv)
        _check_bool("saturate", self.saturate)
        for i, r in enumerate(self.w_rows):
            _check_int(f"w_rows[{i}]", r, 0, MAX_ROWS - 1)
        if len(set(self.w_rows)) != len(self.w_rows):
            raise ValueError(f"`w_rows` must be distinct (a row activated twice adds its bit "
                             f"once), not {list(self.w_rows)}")
        check_operand_cols(self.operand_cols, MAX_OPERAND_COLS)

    def check_fits(self, macro: MacroConfig) -> None:
        if len(self.w_rows) > macro.batch_max:
            raise ValueError(f"`w_rows` holds {len(self.w_rows)} operands; the batch size must "
                             f"be in [0, batch_max={macro.batch_max}]")
        check_shape(macro, self.bv, self.operand_cols)
        v = Operand(self.v_row, self.bv, self.operand_cols)
        v.check_fits(macro, "v_row")
        for i, r in enumerate(self.w_rows):
            w = Operand(r, self.bw, self.operand_cols)
            w.check_fits(macro, f"w_rows[{i}]")
            check_disjoint([("v_row", v), (f"w_rows[{i}]", w)])


@dataclass(frozen=True)
class FireOp(_Config):
    """One fire pass over a neuron slot: leak, compare with the threshold, reset.

    Attributes:
        v_row: lowest row of the potential (``layer.bv`` rows).
        layer: the layer's arithmetic settings.
        theta_row: lowest row of the per-neuron thresholds (``layer.bv`` rows) when
            ``layer.threshold_source == "array"``; must be None otherwise.
    """

    v_row: int
    layer: LayerConfig
    theta_row: int | None = None

    def __post_init__(self):
        _check_int("v_row", self.v_row, 0, MAX_ROWS - 1)
        if not isinstance(self.layer, LayerConfig):
            raise ValueError(f"`layer` must be a LayerConfig, not {self.layer!r}")
        if self.layer.threshold_source == "array":
            _check_int("theta_row", self.theta_row, 0, MAX_ROWS - 1)
        elif self.theta_row is not None:
            raise ValueError(f"`theta_row` must be None when threshold_source is 'register', "
                             f"not {self.theta_row!r}")

    def check_fits(self, macro: MacroConfig) -> None:
        self.layer.check_fits(macro)
        n_c = self.layer.operand_cols
        v = Operand(self.v_row, self.layer.bv, n_c)
        v.check_fits(macro, "v_row")
        if self.theta_row is not None:
            t = Operand(self.theta_row, self.layer.bv, n_c)
            t.check_fits(macro, "theta_row")
            check_disjoint([("v_row", v), ("theta_row", t)])


@dataclass(frozen=True)
class CoreConfig(_Config):
    """Geometry of a neuron core (one macro + event FIFO + controller), fixed at generation.

    Attributes:
        macro: the macro's geometry.
        fifo_depth: input event FIFO depth, 1..4096. When it is full the input stream is
            back-pressured (``ready`` low); nothing is dropped.
        index_bits: width of an event's neuron/source index, 1..24: a layer can have up to
            ``2**index_bits`` inputs and outputs.
    """

    macro: MacroConfig
    fifo_depth: int = 16
    index_bits: int = 16

    def __post_init__(self):
        if isinstance(self.macro, dict):
            object.__setattr__(self, "macro", MacroConfig.from_dict(self.macro))
        if not isinstance(self.macro, MacroConfig):
            raise ValueError(f"`macro` must be a MacroConfig, not {self.macro!r}")
        _check_int("fifo_depth", self.fifo_depth, 1, 4096)
        _check_int("index_bits", self.index_bits, 1, 24)


@dataclass(frozen=True)
class FCLayout(_Config):
    """Where a fully connected layer lives in one macro (written to the core's registers).

    At the layer's shape ``N_C = layer.operand_cols`` a slot holds ``G = cols // N_C``
    neurons, one per aligned group of ``N_C`` columns: output neuron ``j`` is group
    ``j % G`` of neuron slot ``j // G`` (``N_C = 1``: column ``j % cols``). For slot ``s``:
    the potential is at row ``v_base + s * v_stride`` (``v_rows = ceil(bv / N_C)`` rows),
    the per-neuron threshold (threshold_source "array") at ``theta_base + s * v_stride``,
    and the weight of input ``i`` at ``w_base + s * w_stride + i * w_rows``
    (``w_rows = ceil(bw / N_C)`` rows). The last ``cols mod N_C`` columns hold no neuron.
    `check` rejects layouts whose operands leave the array or share a row.
    """

    n_in: int
    n_out: int
    v_base: int
    v_stride: int
    w_base: int
    w_stride: int
    theta_base: int = 0

    def __post_init__(self):
        for name in ("n_in", "n_out"):
            _check_int(name, getattr(self, name), 1, 1 << 24)
        for name in ("v_base", "v_stride", "w_base", "w_stride", "theta_base"):
            _check_int(name, getattr(self, name), 0, MAX_ROWS)

    def slots(self, macro: MacroConfig, operand_cols: int = 1) -> int:
        """Neuron slots of the layer: ``ceil(n_out / (cols // operand_cols))``."""
        return -(-self.n_out // (macro.cols // operand_cols))

    def operands(self, macro: MacroConfig, layer: LayerConfig) -> list[tuple[str, Operand]]:
        """Every slot's row span as ``(name, (first row, rows))``."""
        out = []
        for s in range(self.slots(macro, layer.operand_cols)):
            out.append((f"V of slot {s}", (self.v_base + s * self.v_stride, layer.v_rows)))
            if layer.threshold_source == "array":
                out.append((f"threshold of slot {s}",
                            (self.theta_base + s * self.v_stride, layer.v_rows)))
            out.append((f"weights of slot {s}",
                        (self.w_base + s * self.w_stride, self.n_in * layer.w_rows)))
        return out

    def check(self, core: CoreConfig, layer: LayerConfig) -> None:
        """Raise `ValueError` unless the layer fits the core as laid out."""
        macro = core.macro
        layer.check_fits(macro)
        lim = 1 << core.index_bits
        _check_int("n_in", self.n_in, 1, lim)
        _check_int("n_out", self.n_out, 1, lim)
        spans = []
        for name, (row, bits) in self.operands(macro, layer):
            if row + bits > macro.rows:
                raise ValueError(f"`{name}` needs rows {row}..{row + bits - 1} but the array "
                                 f"has rows 0..{macro.rows - 1}")
            spans.append((row, row + bits, name))
        spans.sort()
        for (a0, a1, na), (b0, b1, nb) in zip(spans, spans[1:]):
            if b0 < a1:
                raise ValueError(f"`{na}` (rows {a0}..{a1 - 1}) overlaps `{nb}` "
                                 f"(rows {b0}..{b1 - 1}); operands must not share rows")

    @classmethod
    def packed(cls, core: CoreConfig, layer: LayerConfig, n_in: int, n_out: int) -> "FCLayout":
        """The densest layout: all potentials (and thresholds), then the weight blocks."""
        macro = core.macro
        layer.check_fits(macro)
        per_v = layer.v_rows * (2 if layer.threshold_source == "array" else 1)
        per_slot = macro.cols // layer.operand_cols
        slots = -(-n_out // per_slot)
        need = slots * (per_v + n_in * layer.w_rows)
        if need > macro.rows:
            shape = (f" at operand_cols={layer.operand_cols}" if layer.operand_cols > 1 else "")
            raise ValueError(f"a {n_in} -> {n_out} layer at bw={layer.bw}, bv={layer.bv}{shape} "
                             f"needs {need} rows ({slots} slots of {per_slot} neurons); the "
                             f"array has {macro.rows}")
        lay = cls(n_in=n_in, n_out=n_out, v_base=0, v_stride=per_v, theta_base=layer.v_rows,
                  w_base=slots * per_v, w_stride=n_in * layer.w_rows)
        lay.check(core, layer)
        return lay


@dataclass(frozen=True)
class SystemConfig(_Config):
    """A whole accelerator: ``n_cores`` identical neuron cores behind an event router.

    Attributes:
        core: every core's geometry.
        n_cores: 1..MAX_CORES.
        in_fifo_depth: depth of the external input FIFO, 1..4096.
    """

    core: CoreConfig
    n_cores: int = 2
    in_fifo_depth: int = 16

    def __post_init__(self):
        if isinstance(self.core, dict):
            object.__setattr__(self, "core", CoreConfig.from_dict(self.core))
        if not isinstance(self.core, CoreConfig):
            raise ValueError(f"`core` must be a CoreConfig, not {self.core!r}")
        _check_int("n_cores", self.n_cores, 1, MAX_CORES)
        _check_int("in_fifo_depth", self.in_fifo_depth, 1, 4096)

    @property
    def n_ports(self) -> int:
        """Router source ports: the external input, then one per core."""
        return self.n_cores + 1


#: Largest kernel side, stride and dilation of the conv address generator (4-bit fields,
#: docs/dataflow.md section 4.4).
MAX_KERNEL = 15


@dataclass(frozen=True)
class ConvGeometry(_Config):
    """What the conv address generator is told about a layer (docs/dataflow.md, section 4).

    A convolution ``c_in x h x w -> c_out x out_h x out_w`` with kernel ``kh x kw`` and
    per-axis ``stride``, ``padding`` (top/left; PyTorch's symmetric padding) and
    ``dilation`` pairs ``(y, x)``; ``bias``: the layer has one extra, always-active source
    (index ``c_in*h*w``) that reaches every output with table operand ``c_in*kh*kw``. A fully
    connected layer is `fc`: the 1 x 1 convolution of an ``n_in x 1 x 1`` map.

    Ranges: sizes 1..2**24; ``kh``, ``kw``, strides, dilations 1..`MAX_KERNEL`; padding
    0..``dilation * (kernel - 1)`` per axis (more only adds outputs that see nothing but
    zeros); the output must not be empty.
    """

    c_in: int
    h: int
    w: int
    c_out: int
    kh: int = 1
    kw: int = 1
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    dilation: tuple = (1, 1)
    bias: bool = False

    def __post_init__(self):
        for name in ("c_in", "h", "w", "c_out"):
            _check_int(name, getattr(self, name), 1, 1 << 24)
        for name in ("kh", "kw"):
            _check_int(name, getattr(self, name), 1, MAX_KERNEL)
        for name in ("stride", "padding", "dilation"):
            v = getattr(self, name)
            if isinstance(v, list):
                v = tuple(v)
                object.__setattr__(self, name, v)
            if not isinstance(v, tuple) or len(v) != 2:
                raise ValueError(f"`{name}` must be a pair (y, x) of integers, not {v!r}")
        for axis, k in ((0, self.kh), (1, self.kw)):
            yx = "yx"[axis]
            _check_int(f"stride_{yx}", self.stride[axis], 1, MAX_KERNEL)
            _check_int(f"dilation_{yx}", self.dilation[axis], 1, MAX_KERNEL)
            _check_int(f"padding_{yx}", self.padding[axis], 0, self.dilation[axis] * (k - 1))
        _check_bool("bias", self.bias)
        if self.out_h < 1 or self.out_w < 1:
            raise ValueError(f"kernel {self.kh} x {self.kw} (dilation {self.dilation}) does "
                             f"not fit the {self.h} x {self.w} input with padding "
                             f"{self.padding}: the output would be {self.out_h} x {self.out_w}")

    @classmethod
    def fc(cls, n_in: int, n_out: int) -> "ConvGeometry":
        return cls(c_in=n_in, h=1, w=1, c_out=n_out)

    @property
    def out_hw(self) -> tuple[int, int]:
        return conv_output_hw((self.h, self.w), (self.kh, self.kw), self.stride,
                              self.padding, self.dilation)

    @property
    def out_h(self) -> int:
        return self.out_hw[0]

    @property
    def out_w(self) -> int:
        return self.out_hw[1]

    @property
    def n_pos(self) -> int:
        return self.out_h * self.out_w

    @property
    def n_in(self) -> int:
        """Sources, the bias source included."""
        return self.c_in * self.h * self.w + int(self.bias)

    @property
    def n_out(self) -> int:
        return self.c_out * self.n_pos

    @property
    def table_ops(self) -> int:
        """Weight operands of one table (channel tile): the kernel taps, and the bias."""
        return self.c_in * self.kh * self.kw + int(self.bias)

    def n_tiles(self, cols: int) -> int:
        """Tiles ``ct * n_pos + p``: channel tiles of ``cols`` channels x positions."""
        return -(-self.c_out // cols) * self.n_pos


def _axis_reach(n: int, k: int, stride: int, pad: int, dil: int, n_out: int) -> int:
    """Most outputs one input coordinate of an axis reaches (exact, over all ``n``)."""
    import numpy as np

    v = np.arange(n)[:, None] + pad - np.arange(k)[None, :] * dil
    hit = (v % stride == 0) & (v >= 0) & (v // stride < n_out)
    return int(hit.sum(axis=1).max())


@dataclass(frozen=True)
class FanoutConfig(_Config):
    """Geometry of the conv address generator (`flexspim.hdl.fanout.FanoutUnit`), fixed at
    generation (docs/dataflow.md, section 4.5).

    Attributes:
        index_bits: width of a source index, of the map sizes ``c_in``, ``h``, ``w``, ``h*w``,
            ``out_h``, ``out_w`` and of an output position ``p``, 1..24 (a layer has up to
            ``2**index_bits`` sources and positions).
        op_bits: width of a table operand index ``op``, 1..24 (a table has up to
            ``2**op_bits`` operands, the bias included).
        max_kernel: largest kernel side, stride and dilation, 1..`MAX_KERNEL` (sets the
            width of those fields, and padding up to ``max_kernel * (max_kernel - 1)``).
        max_taps: most entries ``(p, op)`` one source may have, 1..``max_kernel**2``: a
            layer beyond it is refused by `check` (the core's batch entry table holds
            ``P x max_taps`` entries).
    """

    index_bits: int = 16
    op_bits: int = 12
    max_kernel: int = MAX_KERNEL
    max_taps: int = 9

    def __post_init__(self):
        _check_int("index_bits", self.index_bits, 1, 24)
        _check_int("op_bits", self.op_bits, 1, 24)
        _check_int("max_kernel", self.max_kernel, 1, MAX_KERNEL)
        _check_int("max_taps", self.max_taps, 1, self.max_kernel ** 2)

    @property
    def kernel_bits(self) -> int:
        """Width of a kernel side, stride or dilation field (1..max_kernel)."""
        return self.max_kernel.bit_length()

    @property
    def max_pad(self) -> int:
        return self.max_kernel * (self.max_kernel - 1)

    @property
    def pad_bits(self) -> int:
        """Width of a padding field (0..max_pad), at least 1."""
        return max(1, self.max_pad.bit_length())

    @property
    def work_bits(self) -> int:
        """Width of the dividers' dividend ``y + pad`` and of a quotient."""
        return max(self.index_bits, self.pad_bits) + 1

    def check(self, g: "ConvGeometry", name: str = "the layer") -> None:
        """Raise `ValueError` unless ``g`` runs on this unit, naming ``name``, the quantity
        and the limit."""
        if not isinstance(g, ConvGeometry):
            raise ValueError(f"`geometry` must be a ConvGeometry, not {g!r}")
        lim = 1 << self.index_bits
        sizes = [("sources (n_in)", g.n_in), ("positions (out_h * out_w)", g.n_pos),
                 ("input plane (h * w)", g.h * g.w)]
        for what, v in sizes:
            if v > lim:
                raise ValueError(f"{name} has {v} {what}; index_bits={self.index_bits} "
                                 f"allows at most {lim}")
        if g.table_ops > 1 << self.op_bits:
            raise ValueError(f"{name} has {g.table_ops} table operands; op_bits="
                             f"{self.op_bits} allows at most {1 << self.op_bits}")
        for what, v in (("kh", g.kh), ("kw", g.kw), ("stride_y", g.stride[0]),
                        ("stride_x", g.stride[1]), ("dilation_y", g.dilation[0]),
                        ("dilation_x", g.dilation[1])):
            if v > self.max_kernel:
                raise ValueError(f"{name} has {what} = {v}; max_kernel={self.max_kernel} "
                                 f"allows 1..{self.max_kernel}")
        taps = _axis_reach(g.h, g.kh, g.stride[0], g.padding[0], g.dilation[0], g.out_h) * \
            _axis_reach(g.w, g.kw, g.stride[1], g.padding[1], g.dilation[1], g.out_w)
        if taps > self.max_taps:
            raise ValueError(f"{name}: one source reaches {taps} output positions; "
                             f"max_taps={self.max_taps} allows at most {self.max_taps}")


#: Largest operand buffer (words of one array row each): 2**20 rows, 64 Mbit at 64 columns,
#: far above any on-chip SRAM; the Verilator build of the behavioural model bounds it
#: in practice long before.
MAX_BUFFER_WORDS = 1 << 20
#: Widest backing-store row address (2**40 rows of the backing store).
MAX_BACKING_ADDR_BITS = 40
#: Most backing-store requests the mover keeps in flight.
MAX_OUTSTANDING = 64


@dataclass(frozen=True)
class BufferConfig(_Config):
    """Geometry of the operand buffer (docs/buffer.md), fixed at generation.

    Attributes:
        words: rows the buffer holds, 1..MAX_BUFFER_WORDS.
        width: bits per row, 1..MAX_COLS: the array's ``cols`` (one buffer word is one array
            row, so a row moves between array, buffer and backing store unchanged).
    """

    words: int
    width: int

    def __post_init__(self):
        _check_int("words", self.words, 1, MAX_BUFFER_WORDS)
        _check_int("width", self.width, 1, MAX_COLS)

    @property
    def addr_width(self) -> int:
        """Width of a buffer address (at least 1 bit, also for a one-word buffer)."""
        return max(1, (self.words - 1).bit_length())

    @property
    def count_width(self) -> int:
        """Width of a row count 0..words."""
        return self.words.bit_length()

    @property
    def bits(self) -> int:
        return self.words * self.width


@dataclass(frozen=True)
class MoverConfig(_Config):
    """Geometry of the row mover between the operand buffer and the backing-store port
    (docs/dataflow.md section 5), fixed at generation.

    Attributes:
        buffer: the operand buffer it fills and drains.
        addr_bits: width of a backing-store row address, 1..MAX_BACKING_ADDR_BITS.
        outstanding: most requests accepted by the backing store and not yet answered,
            1..MAX_OUTSTANDING (what a bridge must be able to queue).
    """

    buffer: BufferConfig
    addr_bits: int = 20
    outstanding: int = 4

    def __post_init__(self):
        if isinstance(self.buffer, dict):
            object.__setattr__(self, "buffer", BufferConfig.from_dict(self.buffer))
        if not isinstance(self.buffer, BufferConfig):
            raise ValueError(f"`buffer` must be a BufferConfig, not {self.buffer!r}")
        _check_int("addr_bits", self.addr_bits, 1, MAX_BACKING_ADDR_BITS)
        _check_int("outstanding", self.outstanding, 1, MAX_OUTSTANDING)


#: Most slot tags (WS potential slots) a sequencer holds.
MAX_SEQ_SLOTS = 256


@dataclass(frozen=True)
class SequencerConfig(_Config):
    """Geometry of the sequencer (docs/dataflow.md 5.4, `hdl/sequencer.py`), fixed at
    generation: it moves rows between an array of ``rows`` rows (of ``mover.buffer.width``
    columns), the operand buffer and, through its mover, the backing store.

    Attributes:
        mover: the row mover (and so the buffer) it drives.
        rows: rows of the array's row port.
        max_slots: slot tags (``N_SLOTS`` at most), 1..MAX_SEQ_SLOTS.
        tile_bits: width of a local tile or table index.
        batch: most operands per accumulate (the macro's ``P``), 1..MAX_BATCH.
        op_bits: width of an operand index.
    """

    mover: MoverConfig
    rows: int = 64
    max_slots: int = 4
    tile_bits: int = 4
    batch: int = 1
    op_bits: int = 4

    def __post_init__(self):
        if isinstance(self.mover, dict):
            object.__setattr__(self, "mover", MoverConfig.from_dict(self.mover))
        if not isinstance(self.mover, MoverConfig):
            raise ValueError(f"`mover` must be a MoverConfig, not {self.mover!r}")
        _check_int("rows", self.rows, 1, MAX_ROWS)
        _check_int("max_slots", self.max_slots, 1, MAX_SEQ_SLOTS)
        _check_int("tile_bits", self.tile_bits, 1, 16)
        _check_int("batch", self.batch, 1, MAX_BATCH)
        _check_int("op_bits", self.op_bits, 1, 16)
        if self.max_slots > 1 << self.tile_bits:
            raise ValueError(f"`max_slots` ({self.max_slots}) must be at most 2**tile_bits "
                             f"({1 << self.tile_bits}): slot s resets to tile s")

    @property
    def buffer(self) -> BufferConfig:
        return self.mover.buffer

    @property
    def row_width(self) -> int:
        """Width of an array row address (at least 1 bit)."""
        return max(1, (self.rows - 1).bit_length())
