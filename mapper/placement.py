"""Placement: which macro and which rows hold every table and every tile's potential.

Row map of one macro (unified storage, any resolution; all rows are column-wide)::

    rows 0 ..                 resident weight tables, ``table_ops * bw`` rows each
    then                      vertical slots, ``bv`` rows of V (+ ``bv`` rows of per-neuron
                              thresholds when ``threshold_source == "array"``) each
    then (OS streaming only)  staging area: ``P * bw`` rows for one batch's weights

At the layer's operand shape ``N_C`` every ``bw`` and ``bv`` above counts rows of the shaped
operand, ``ceil(bw / N_C)`` and ``ceil(bv / N_C)`` (`LayerConfig.w_rows`, ``v_rows``).

Dataflows (architecture section 4):

* **WS** (weight-stationary): each table is resident in exactly one macro. Tables whose
  tiles' slots also fit are packed several per macro and nothing moves. A table whose tiles
  do not all fit beside it gets a macro of its own with ``n_slots = (rows - table) // slot``
  slots; tile ``i`` of that macro uses slot ``i % n_slots`` (direct-mapped) and potentials
  are **swapped** through the backing store (buffer or DRAM). Infeasible when a table plus
  one slot exceeds ``rows``.
* **OS** (output-stationary): every potential is resident for the whole run. When a table
  plus one slot fits in a macro, weights stay too ("where they fit"): a table is copied into
  every macro that holds some of its tiles. Otherwise weights are **streamed**: the macros
  hold only slots plus a staging area, and every accumulate first writes its batch's weight
  operands into the staging area. Infeasible when ``P * bw`` rows plus one slot exceed
  ``rows``.

Both use as few macros as the rule allows; spare cores are left unused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .hardware import HardwareConfig
from .tiling import Tiling

__all__ = ["DATAFLOWS", "Infeasible", "MacroPlan", "LayerPlacement", "place_layer"]

DATAFLOWS = ("ws", "os")


class Infeasible(ValueError):
    """The layer cannot be placed with this dataflow on this geometry."""


@dataclass(eq=False)
class MacroPlan:
    """One macro of a layer: resident tables (table id -> first row), the tiles whose
    potentials it holds, and its slots."""

    tables: dict = field(default_factory=dict)
    tiles: list = field(default_factory=list)
    slot_base: int = 0
    n_slots: int = 0
    staging: int | None = None

    @property
    def swapped(self) -> bool:
        return len(self.tiles) > self.n_slots


@dataclass(eq=False)
class LayerPlacement:
    """Result of `place_layer`.

    Attributes:
        dataflow: "ws" or "os".
        mode: "resident" (nothing moves), "swap" (WS, some potentials swapped) or
            "stream" (OS, weights streamed).
        macros: the layer's macros, in order.
        tile_macro, tile_index: per tile, its macro and its position in that macro's tiles
            (slot ``tile_index % n_slots``).
        table_rows, slot_rows: rows per table and per slot.
    """

    tiling: Tiling
    dataflow: str
    mode: str
    macros: list
    tile_macro: list
    tile_index: list
    table_rows: int
    slot_rows: int
    batch_max: int

    def rows_used(self, m: int) -> int:
        """Rows of macro ``m`` that hold something (tables, slots, staging)."""
        mp = self.macros[m]
        if mp.staging is not None:
            return mp.staging + self.tiling.layer.config.w_rows * self.batch_max
        return mp.slot_base + mp.n_slots * self.slot_rows


def _pack(placement_tables, table_rows, slot_rows, rows, tiles_of):
    """Pack (table + all its tiles) blocks into macros in order; returns MacroPlans."""
    macros, cur, used = [], None, rows + 1
    for t in placement_tables:
        tiles = list(tiles_of(t))
        need = table_rows + len(tiles) * slot_rows
        if cur is None or used + need > rows:
            cur, used = MacroPlan(), 0
            macros.append(cur)
        cur.tables[t] = -1            # rows assigned below, once the macro is complete
        cur.tiles.extend(tiles)
        used += need
    for mp in macros:
        for i, t in enumerate(mp.tables):
            mp.tables[t] = i * table_rows
        mp.slot_base = len(mp.tables) * table_rows
        mp.n_slots = len(mp.tiles)
    return macros


def place_layer(tiling: Tiling, hw: HardwareConfig, dataflow: str) -> LayerPlacement:
    """Place one tiled layer (see the module docstring for the rules).

    Raises:
        ValueError: an unknown ``dataflow``.
        Infeasible: the layer does not fit this geometry with this dataflow (the message
            names the layer, the rows needed and the rows available).
    """
    if dataflow not in DATAFLOWS:
        raise ValueError(f"`dataflow` must be one of {', '.join(DATAFLOWS)}; not {dataflow!r}")
    cfg = tiling.layer.config
    rows, P = hw.macro.rows, hw.macro.batch_max
    try:
        cfg.check_fits(hw.macro)          # bv within rows x operand_cols, shape <= maximum
    except ValueError as e:
        raise Infeasible(f"layer {tiling.layer.name or '?'!r}: {e} (a macro of "
                         f"{hw.macro.rows} rows)") from None
    slot_rows = cfg.v_rows * (2 if cfg.threshold_source == "array" else 1)
    table_rows = tiling.table_ops * cfg.w_rows
    name = tiling.layer.name or "?"
    fits_table = table_rows + slot_rows <= rows
    macros: list[MacroPlan] = []
    mode = "resident"
    if dataflow == "ws":
        if not fits_table:
            raise Infeasible(f"layer {name!r} cannot be weight-stationary: a table of "
                             f"{tiling.table_ops} weights x {cfg.w_rows} rows plus one slot needs "
                             f"{table_rows + slot_rows} rows; the macro has {rows}")
        small = [t for t in range(tiling.n_tables)
                 if table_rows + len(tiling.tiles_of_table(t)) * slot_rows <= rows]
        macros = _pack(small, table_rows, slot_rows, rows, tiling.tiles_of_table)
        for t in range(tiling.n_tables):
            if t in small:
                continue
            mode = "swap"
            macros.append(MacroPlan({t: 0}, list(tiling.tiles_of_table(t)), table_rows,
                                    (rows - table_rows) // slot_rows))
    elif fits_table:
        per = (rows - table_rows) // slot_rows
        small = [t for t in range(tiling.n_tables) if len(tiling.tiles_of_table(t)) <= per]
        macros = _pack(small, table_rows, slot_rows, rows, tiling.tiles_of_table)
        for t in range(tiling.n_tables):
            if t in small:
                continue
            tiles = list(tiling.tiles_of_table(t))
            for i in range(0, len(tiles), per):      # the table is copied into each macro
                chunk = tiles[i:i + per]
                macros.append(MacroPlan({t: 0}, chunk, table_rows, len(chunk)))
    else:
        mode = "stream"
        staging = P * cfg.w_rows
        per = (rows - staging) // slot_rows
        if per < 1:
            raise Infeasible(f"layer {name!r} cannot be output-stationary: its table "
                             f"({table_rows} rows) does not fit, and streaming needs "
                             f"{staging} staging rows plus a {slot_rows}-row slot; the macro "
                             f"has {rows}")
        tiles = list(range(tiling.n_tiles))
        for i in range(0, len(tiles), per):
            chunk = tiles[i:i + per]
            macros.append(MacroPlan({}, chunk, 0, len(chunk), len(chunk) * slot_rows))
    tile_macro = [0] * tiling.n_tiles
    tile_index = [0] * tiling.n_tiles
    for m, mp in enumerate(macros):
        for i, t in enumerate(mp.tiles):
            tile_macro[t], tile_index[t] = m, i
    return LayerPlacement(tiling, dataflow, mode, macros, tile_macro, tile_index, table_rows,
                          slot_rows, P)
