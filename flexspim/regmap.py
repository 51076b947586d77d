"""Register maps: the contract between the RTL, the golden models and the drivers.

Both `flexspim.hdl` (which implements the registers) and `flexspim.golden` (whose system
model interprets register writes, so one driver can program either) read these tables.

Neuron core (`core_registers`), 32-bit words, addressed on a 5-bit bus:

====== ============ ======================================================================
 addr   name         meaning
====== ============ ======================================================================
 0      STATUS       read: bit 0 idle, bit 1 sticky error. Write: bit 1 clears the error,
                     bit 2 clears the counters.
 1, 2   BV, BW       potential and weight resolutions
 3      FLAGS        bit 0 saturate, bits 2..1 leak mode (0 none, 1 sub, 2 shift), bit 3
                     soft reset, bit 4 thresholds from the array
 4      LEAK         leak amount (sub) or shift (shift)
 5      THRESHOLD    written as a 32-bit two's complement value that must fit ``max_bits``
                     bits (reads return those ``max_bits`` bits)
 6, 7   N_IN, N_OUT  layer sizes, at most ``2**index_bits``
 8..12  V_BASE, V_STRIDE, THETA_BASE, W_BASE, W_STRIDE: the `FCLayout`
 13     OPERAND_COLS the layer's operand shape ``N_C`` (1, 2, 4, .. ``max_operand_cols``;
                     reset 1); present only when ``max_operand_cols > 1``
 16..21 EVENTS_IN, SPIKES_OUT, TICKS, BATCHES, ERRORS, CYCLES: read-only counters
====== ============ ======================================================================

Router (`router_registers`), on the system bus (10-bit address) at ``sel = n_cores``:

====== ============ ======================================================================
 0      STATUS       bit 0 "no-wait input": the external input never back-pressures and
                     counts what it cannot take in OVERFLOW; write bit 1: clear counters and
                     the error; read bit 2: sticky error (a bus write was refused: a value
                     that did not fit its router register, a read-only or unknown address,
                     a ``sel`` above ``n_cores`` or a core address >= 32)
 1      OVERFLOW     read-only: external input events dropped in no-wait mode
 2      EVENTS_OUT   read-only: events (ticks included) sent on the external output
 3      DROPPED      read-only: events of a port routed nowhere, and events whose index
                     plus offset does not fit ``index_bits`` (each dropped where counted)
 8+p    ROUTE_p      targets of source port ``p`` (0 = external input, 1+k = core k): bit k
                     for core k, bit ``n_cores`` for the external output. Core k may feed
                     only cores j > k (see `flexspim.golden.system`)
 64+32p+t  OFFSET_p_t   added to the index of port ``p``'s events delivered to target ``t``
                     (so a layer's inputs from several sources can be stacked)
====== ============ ======================================================================
"""

from __future__ import annotations

from flexspim.config import LEAK_MODES, MAX_CORES, MAX_ROWS, CoreConfig, FCLayout, LayerConfig

__all__ = ["ROW_REG_BITS", "OFFSET_BITS", "SYSTEM_ADDR_BITS", "core_registers",
           "layer_registers", "register_accepts", "decode_layer", "reset_values",
           "router_registers"]

#: Width of the layout registers (bases and strides): any row of the largest array.
ROW_REG_BITS = MAX_ROWS.bit_length()
#: Index offsets the router adds (bits).
OFFSET_BITS = 24
#: Address width of the system register bus.
SYSTEM_ADDR_BITS = 10
if 64 + 32 * MAX_CORES + MAX_CORES >= 1 << SYSTEM_ADDR_BITS:  # pragma: no cover - invariant
    raise RuntimeError("router registers must fit the system bus address")


def core_registers(core: CoreConfig) -> dict[str, tuple[int, int, str]]:
    """name -> (address, width in bits, "rw" or "ro") for one neuron core."""
    m = core.macro
    ib = core.index_bits
    regs = {
        "STATUS": (0, 3, "rw"),
        "BV": (1, m.bits_width, "rw"), "BW": (2, m.bits_width, "rw"),
        "FLAGS": (3, 5, "rw"), "LEAK": (4, m.max_bits, "rw"),
        "THRESHOLD": (5, m.max_bits, "rw"),
        "N_IN": (6, ib + 1, "rw"), "N_OUT": (7, ib + 1, "rw"),
        "V_BASE": (8, ROW_REG_BITS, "rw"), "V_STRIDE": (9, ROW_REG_BITS, "rw"),
        "THETA_BASE": (10, ROW_REG_BITS, "rw"), "W_BASE": (11, ROW_REG_BITS, "rw"),
        "W_STRIDE": (12, ROW_REG_BITS, "rw"),
        "EVENTS_IN": (16, 32, "ro"), "SPIKES_OUT": (17, 32, "ro"), "TICKS": (18, 32, "ro"),
        "BATCHES": (19, 32, "ro"), "ERRORS": (20, 32, "ro"), "CYCLES": (21, 32, "ro"),
    }
    if m.max_operand_cols > 1:
        regs["OPERAND_COLS"] = (13, m.max_operand_cols.bit_length(), "rw")
    return regs


def reset_values(core: CoreConfig) -> dict[str, int]:
    """Every register's value after reset: 0, except ``OPERAND_COLS`` (1: vertical)."""
    return {name: int(name == "OPERAND_COLS") for name in core_registers(core)}


def layer_registers(core: CoreConfig, layer: LayerConfig, layout: FCLayout) -> dict[str, int]:
    """Register contents for a layer laid out on a core (checked together first).

    Raises `ValueError` (from `FCLayout.check`) if the layer does not fit the core.
    """
    layout.check(core, layer)
    flags = (int(layer.saturate) | LEAK_MODES.index(layer.leak_mode) << 1
             | int(layer.reset == "soft") << 3 | int(layer.threshold_source == "array") << 4)
    regs = {
        "BV": layer.bv, "BW": layer.bw, "FLAGS": flags, "LEAK": layer.leak,
        "THRESHOLD": layer.threshold & 0xFFFFFFFF,
        "N_IN": layout.n_in, "N_OUT": layout.n_out,
        "V_BASE": layout.v_base, "V_STRIDE": layout.v_stride,
        "THETA_BASE": layout.theta_base, "W_BASE": layout.w_base, "W_STRIDE": layout.w_stride,
    }
    if core.macro.max_operand_cols > 1:
        regs["OPERAND_COLS"] = layer.operand_cols
    return regs


def register_accepts(core: CoreConfig, name: str, value: int) -> bool:
    """Whether a core register write of ``value`` is taken (else: refused and counted)."""
    addr, width, access = core_registers(core)[name]
    if access != "rw" or not 0 <= value < 1 << 32:
        return False
    if name == "THRESHOLD":                  # 32-bit two's complement fitting `width` bits
        return value >> (width - 1) in (0, (1 << (33 - width)) - 1)
    if name in ("N_IN", "N_OUT"):
        return value <= 1 << core.index_bits
    if name == "OPERAND_COLS":               # a power of two the carry chain supports
        return 1 <= value <= core.macro.max_operand_cols and value & (value - 1) == 0
    return value >> width == 0


def decode_layer(core: CoreConfig, values: dict[str, int]) -> tuple[LayerConfig, FCLayout]:
    """The inverse of `layer_registers`; raises `ValueError` for contents no layer has."""
    mb = core.macro.max_bits
    th = values["THRESHOLD"]
    th = th - (1 << mb) if th >> (mb - 1) & 1 else th
    flags = values["FLAGS"]
    if (flags >> 1 & 3) >= len(LEAK_MODES):
        raise ValueError(f"`FLAGS` leak mode {flags >> 1 & 3} is not an encoding")
    layer = LayerConfig(bw=values["BW"], bv=values["BV"], saturate=bool(flags & 1),
                        leak_mode=LEAK_MODES[flags >> 1 & 3], leak=values["LEAK"],
                        threshold=th, threshold_source="array" if flags >> 4 & 1 else "register",
                        reset="soft" if flags >> 3 & 1 else "hard",
                        operand_cols=values.get("OPERAND_COLS", 1))
    layout = FCLayout(n_in=values["N_IN"], n_out=values["N_OUT"], v_base=values["V_BASE"],
                      v_stride=values["V_STRIDE"], w_base=values["W_BASE"],
                      w_stride=values["W_STRIDE"], theta_base=values["THETA_BASE"])
    layout.check(core, layer)
    return layer, layout


def router_registers(n_cores: int) -> dict[str, tuple[int, int, str]]:
    """name -> (address, width, access) of the router; port p: 0 external, 1 + k core k."""
    regs = {"STATUS": (0, 2, "rw"), "OVERFLOW": (1, 32, "ro"), "EVENTS_OUT": (2, 32, "ro"),
            "DROPPED": (3, 32, "ro")}
    for p in range(n_cores + 1):
        regs[f"ROUTE_{p}"] = (8 + p, n_cores + 1, "rw")
    for p in range(n_cores + 1):
        for t in range(n_cores + 1):
            regs[f"OFFSET_{p}_{t}"] = (64 + 32 * p + t, OFFSET_BITS, "rw")
    return regs
