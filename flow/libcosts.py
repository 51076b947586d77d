"""Energies read from a Liberty file's power tables, and the energy model's per-operation
costs derived from them (instead of guessed).

`read_power` parses each cell's leakage, pin capacitances and ``internal_power`` tables
(NLDM, indexed by output load and input transition, or by input transition alone for
input pins); `LibPower.internal` looks a table up with bilinear interpolation inside it and
linear extrapolation beyond its first or last index (as OpenSTA does).

Units of the OSU 0.18 Liberty: capacitance pF, voltage V, internal energy pJ per transition
(``rise_power`` for a rising output, ``fall_power`` for a falling one: the energy of one
transition is their mean when both are equally likely), leakage nW.

`derived_costs` prices the energy model's operations (`energy.costs.EnergyCosts`) and one
term the model lacks (the clock of a flip-flop), each from named cells of the library at a
stated load and input transition (see its docstring).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Table", "PinPower", "CellPower", "LibPower", "read_power", "derived_costs",
           "REF_SLEW_NS"]

#: Input transition (ns) at which `derived_costs` reads the tables: the smallest index of
#: the OSU 0.18 tables (0.06 ns), the transition of a lightly loaded gate output there.
REF_SLEW_NS = 0.06


@dataclass
class Table:
    """One lookup table: ``variables`` in the template's order, their indices, values."""

    variables: tuple[str, ...]
    index: tuple[tuple[float, ...], ...]
    values: tuple[tuple[float, ...], ...]      # rows along index_1

    def lookup(self, **at: float) -> float:
        """Value at the given variables (``total_output_net_capacitance``,
        ``input_transition_time``); missing variables of a 2-D table are an error."""
        def seg(idx, x):
            # segment of idx containing x (extrapolate with the first or last segment)
            if len(idx) == 1:
                return 0, 0, 0.0
            k = 0
            while k < len(idx) - 2 and x > idx[k + 1]:
                k += 1
            return k, k + 1, (x - idx[k]) / (idx[k + 1] - idx[k])

        if len(self.variables) == 1:
            x = at[self.variables[0]]
            i, j, t = seg(self.index[0], x)
            row = self.values[0]
            return row[i] + (row[j] - row[i]) * t
        x, y = at[self.variables[0]], at[self.variables[1]]
        i, i2, u = seg(self.index[0], x)
        j, j2, v = seg(self.index[1], y)
        a, b = self.values[i][j], self.values[i][j2]
        c, d = self.values[i2][j], self.values[i2][j2]
        return (a * (1 - u) * (1 - v) + b * (1 - u) * v + c * u * (1 - v) + d * u * v)


@dataclass
class PinPower:
    direction: str
    capacitance: float = 0.0
    function: str | None = None
    #: related pin ("" for an input pin's own table) -> {"rise": Table, "fall": Table}
    internal: dict[str, dict[str, Table]] = field(default_factory=dict)


@dataclass
class CellPower:
    name: str
    area: float
    leakage_nw: float
    pins: dict[str, PinPower]
    sequential: bool


@dataclass
class LibPower:
    name: str
    voltage: float
    cells: dict[str, CellPower]

    def internal(self, cell: str, pin: str, load_pf: float, slew_ns: float,
                 related: str | None = None) -> float:
        """Mean internal energy (pJ) of one transition of ``pin`` of ``cell``: the mean of
        its rise and fall tables (the first related pin's when ``related`` is None)."""
        p = self.cells[cell].pins[pin]
        if not p.internal:
            return 0.0
        key = related if related is not None else next(iter(p.internal))
        tabs = p.internal[key]
        e = [t.lookup(total_output_net_capacitance=load_pf, input_transition_time=slew_ns,
                      input_net_transition=slew_ns)
             for t in tabs.values()]
        return sum(e) / len(e) if e else 0.0

    def switching(self, load_pf: float) -> float:
        """Energy (pJ) drawn per transition of a net of ``load_pf``: C V^2 / 2."""
        return 0.5 * load_pf * self.voltage ** 2


# -- a small Liberty reader (groups, simple and complex attributes) -----------------------

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[A-Za-z_][\w.\-]*|-?[0-9.]+(?:[eE][-+]?\d+)?|[{}();:,]')


def _parse(text: str):
    """Nested groups: ``(name, args, body)`` with body a list of groups and
    ``(name, value)`` attributes."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S).replace("\\\n", " ")
    toks = _TOKEN.findall(text)
    pos = 0

    def group_body():
        nonlocal pos
        body = []
        while pos < len(toks):
            t = toks[pos]
            if t == "}":
                pos += 1
                return body
            name = t
            pos += 1
            if pos < len(toks) and toks[pos] == ":":
                pos += 1
                val = toks[pos]
                pos += 1
                while pos < len(toks) and toks[pos] != ";":
                    pos += 1
                pos += 1
                body.append((name, val.strip('"')))
            elif pos < len(toks) and toks[pos] == "(":
                pos += 1
                args = []
                while toks[pos] != ")":
                    if toks[pos] != ",":
                        args.append(toks[pos].strip('"'))
                    pos += 1
                pos += 1
                if pos < len(toks) and toks[pos] == "{":
                    pos += 1
                    body.append((name, args, group_body()))
                else:
                    if pos < len(toks) and toks[pos] == ";":
                        pos += 1
                    body.append((name, args))
            else:
                pos += 1
        return body

    return group_body()


def _floats(s: str) -> tuple[float, ...]:
    return tuple(float(x) for x in s.replace(",", " ").split())


def read_power(path: Path | str) -> LibPower:
    """The power data of the Liberty at ``path``. Raises `ValueError` (one line) when it
    has no library group or no cell."""
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        raise ValueError(f"cannot read the Liberty {path}: {e.strerror}") from None
    top = [g for g in _parse(text) if len(g) == 3 and g[0] == "library"]
    if not top:
        raise ValueError(f"{path} is not a Liberty file: no `library (...)` group")
    _, args, body = top[0]
    templates: dict[str, tuple[str, ...]] = {}
    voltage = 0.0
    cells: dict[str, CellPower] = {}
    for item in body:
        if len(item) == 2 and item[0] == "nom_voltage":
            voltage = float(item[1])
        if len(item) != 3:
            continue
        kind, gargs, gbody = item
        if kind in ("power_lut_template", "lu_table_template"):
            templates[gargs[0]] = tuple(v for k, v in
                                       ((a[0], a[1]) for a in gbody if len(a) == 2)
                                       if k.startswith("variable_"))
        elif kind == "cell":
            cells[gargs[0]] = _cell(gargs[0], gbody, templates)
    if not cells:
        raise ValueError(f"{path}: no cell in the Liberty")
    return LibPower(name=args[0] if args else "", voltage=voltage, cells=cells)


def _table(tmpl: str, gbody, templates) -> Table:
    idx, vals = [], []
    for a in gbody:
        if a[0].startswith("index_"):
            idx.append(_floats(" ".join(a[1])))
        elif a[0] == "values":
            vals = [_floats(v) for v in a[1]]
    variables = templates.get(tmpl, ())[:len(idx)]
    return Table(tuple(variables), tuple(idx), tuple(vals))


def _cell(name: str, body, templates) -> CellPower:
    area = leak = 0.0
    pins: dict[str, PinPower] = {}
    seq = False
    for a in body:
        if len(a) == 2 and a[0] == "area":
            area = float(a[1])
        elif len(a) == 2 and a[0] == "cell_leakage_power":
            leak = float(a[1])
        elif len(a) == 3 and a[0] in ("ff", "latch"):
            seq = True
        elif len(a) == 3 and a[0] == "pin":
            p = PinPower(direction="input")
            for b in a[2]:
                if len(b) == 2 and b[0] == "direction":
                    p.direction = b[1]
                elif len(b) == 2 and b[0] == "capacitance":
                    p.capacitance = float(b[1])
                elif len(b) == 2 and b[0] == "function":
                    p.function = b[1]
                elif len(b) == 3 and b[0] == "internal_power":
                    rel = next((c[1] for c in b[2] if len(c) == 2 and c[0] == "related_pin"),
                               "")
                    tabs = {}
                    for c in b[2]:
                        if len(c) == 3 and c[0] in ("rise_power", "fall_power"):
                            tabs[c[0][:4]] = _table(c[1][0], c[2], templates)
                    p.internal[rel] = tabs
            for pn in a[1]:
                pins[pn] = p
    return CellPower(name, area, leak, pins, seq)


# -- per-operation costs of the energy model ----------------------------------------------

def derived_costs(lib: LibPower, rows: int, fanout: int = 2,
                  slew_ns: float = REF_SLEW_NS) -> dict:
    """The energy model's per-operation costs (pJ) at this library, and how each was priced.

    Every gate transition is priced as the cell's mean internal energy (rise and fall
    tables) at input transition ``slew_ns`` and a load of ``fanout`` inputs of the same
    cell, plus that load's C V^2 / 2. Activities are those of random data (a bit that may
    change changes with probability 1/2). Terms:

    * ``full_adder``: one full-adder evaluation = one ``FAX1`` (sum and carry outputs, each
      changing with probability 1/2);
    * ``array_read_bit``: one bit read from the standard-cell storage = its path through a
      ``MUX2X1`` read multiplexer tree of ``ceil(log2 rows)`` levels and into the read
      register (a ``DFFPOSX1`` D pin and Q output), each changing with probability 1/2;
    * ``array_write_bit``: one bit written = the write multiplexer in front of the storage
      flip-flop (``MUX2X1``) and the flip-flop's D and Q, each with probability 1/2;
    * ``clock_per_flop_cycle`` (not a term of `energy.costs.EnergyCosts`): one clock cycle
      of one ``DFFPOSX1``: its CLK pin's internal energy for a rising and a falling clock
      edge at the ideal clock's transition (0 ns, extrapolated from the table, as OpenSTA
      times an ideal clock) plus its CLK pin capacitance charged and discharged (C V^2).
    """
    import math

    def trans(cell: str, out: str, in_pin: str) -> float:
        load = fanout * lib.cells[cell].pins[in_pin].capacitance
        return lib.internal(cell, out, load, slew_ns) + lib.switching(load)

    ff = lib.cells["DFFPOSX1"].pins
    ff_load = fanout * ff["D"].capacitance
    d_pin = lib.internal("DFFPOSX1", "D", 0.0, slew_ns)
    q_pin = lib.internal("DFFPOSX1", "Q", ff_load, slew_ns) + lib.switching(ff_load)
    fa = 0.5 * (trans("FAX1", "YS", "A") + trans("FAX1", "YC", "A"))
    mux = trans("MUX2X1", "Y", "A")
    levels = max(1, math.ceil(math.log2(max(rows, 2))))
    clk_pin = ff["CLK"]
    clk_int = sum(t.lookup(input_transition_time=0.0, input_net_transition=0.0)
                  for t in clk_pin.internal[""].values())
    clock = clk_int + clk_pin.capacitance * lib.voltage ** 2
    return {
        "full_adder": fa,
        "array_read_bit": 0.5 * (levels * mux + d_pin + q_pin),
        "array_write_bit": 0.5 * (mux + d_pin + q_pin),
        "clock_per_flop_cycle": clock,
        "how": {
            "library": lib.name, "voltage_v": lib.voltage, "slew_ns": slew_ns,
            "load": f"{fanout} inputs of the same cell (pin capacitance only, no wires)",
            "full_adder": "FAX1, YS and YC each toggling with probability 1/2",
            "array_read_bit": f"{levels} MUX2X1 levels + DFFPOSX1 D and Q, each with "
                              f"probability 1/2",
            "array_write_bit": "MUX2X1 + DFFPOSX1 D and Q, each with probability 1/2",
            "clock_per_flop_cycle": "DFFPOSX1 CLK internal (rise + fall at 0 ns) + CLK pin "
                                    "C V^2",
        },
    }
