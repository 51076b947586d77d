"""Parasitic extraction of a routed DEF into SPEF, for post-route timing with OpenSTA.

qflow's own path (qrouter's RC file -> ``rc2dly`` -> vesta) fails on flexspim's netlists
(`pnr`), so this is a small geometric extractor of our own. For every routed net it builds
the RC tree of its wires and vias as the router drew them:

* each straight wire segment of length ``L`` on a layer of width ``W`` gets
  ``R = RPERSQ * L / W`` and ``C = L * (W * CPERSQDIST + 2 * EDGECAPACITANCE)`` to ground,
  as a pi section (half of ``C`` at each end). The per-unit values
  are the LEF's own (`lef_layers`); for the OSU 0.18 LEF, metal1-3: 0.08 ohm/sq, metal4-5:
  0.07, metal6: 0.03; per um, metal1 0.267 ohm and 0.171 fF, metal2 0.267 ohm and 0.126 fF,
  metal3 0.267 ohm and 0.112 fF, metal4 0.233 ohm and 0.084 fF, metal5 0.233 ohm and 0.050 fF,
  metal6 0.06 ohm and 0.042 fF;
* two segments of different nets on the same layer, parallel, whose edges are ``s`` apart
  (``0 < s <= HALO_UM``) over a common run ``L`` get a coupling capacitor
  ``C = SIDEWALL_AF[layer] * L / s`` (`coupling`): magic's sidewall rule with the values and
  halo of qflow's magic tech file for this process. On the OSU 0.18 grid that is adjacent
  tracks only, per um of run: metal1 0.029 fF, metal2 0.047, metal3 0.035, metal4 0.130,
  metal5 0.019, metal6 none (its tracks are 1.1 um apart, beyond the 0.8 um halo). The ground
  capacitance is not reduced where a neighbour shields the fringe (conservative);
* each via gets the resistance of `VIA_OHMS` (the LEF has none: the values are the contact
  resistances of the extraction section of qflow's magic technology file for the same
  process, ``SCN6M_SUBM.10.tech``: m2c 5.68, m3c 10.69, m4c 15.58 ohm; m5c and m6c are not
  given there and are taken as m4c's) and no capacitance;
* segments are split wherever another segment's end, a via or a pin lands on them
  (T-junctions), so the tree is connected the way the metal is;
* each cell pin is attached to the nearest point of the net's metal on the pin's layer (the
  router lands on the pin shape; the distance is reported as ``max_pin_gap_um``), through a
  wire of that length. A net whose metal falls apart in pieces (it should not) is joined at
  the closest points and counted in ``joined_gaps``.

Pin capacitances are not in the SPEF (OpenSTA takes them from the Liberty). Net names are the
routed Verilog netlist's, found through the instances' pins, since the DEF spells some of them
differently (``acc_unit.array__wr_en[0]`` vs ``acc_unit_array__wr_en_0_``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .tools import FlowError

__all__ = ["Layer", "Lef", "VIA_OHMS", "SIDEWALL_AF", "HALO_UM", "read_lef", "read_def",
           "verilog_pins", "extract_spef", "net_rc", "coupling"]

#: Resistance of one via (cut) from metal N to metal N+1, ohms (module docstring).
VIA_OHMS = {"metal1": 5.68, "metal2": 10.69, "metal3": 15.58, "metal4": 15.58,
            "metal5": 15.58}


#: Sidewall coupling capacitance of two parallel edges of one metal layer, aF: magic's
#: ``sidewall`` values in the extraction section of ``SCN6M_SUBM.10.tech`` (qflow's magic tech
#: file for this process), which magic applies as ``C = value * run / separation``
#: (``extract/ExtCouple.c``: ``cap += ec_cap * overlap / sep``; run and separation in one unit).
SIDEWALL_AF = {"metal1": 20.619, "metal2": 23.532, "metal3": 24.216, "metal4": 64.860,
               "metal5": 13.090, "metal6": 27.675}

#: Edges further apart than this (um) do not couple: the same tech file's ``sidehalo 8``
#: (lambda = 0.1 um). On the OSU 0.18 routing grid only adjacent tracks of metal1-5 are within
#: it (edge separation 0.7 um at pitch 1, 0.5 um at pitch 0.8); metal6 (1.1 um) never is.
HALO_UM = 0.8


#: Metal closer than this (um) touches: a via's pad is 0.4 um square, and qrouter lands a
#: wire up to 0.2 um off the via's centre or the pin's edge.
TOUCH_UM = 0.3


@dataclass(frozen=True)
class Layer:
    name: str
    width_um: float
    rpersq: float          # ohm per square
    cpersq: float          # pF per um^2 (area to substrate)
    edge: float            # pF per um of edge (fringe)

    @property
    def r_per_um(self) -> float:
        return self.rpersq / self.width_um

    @property
    def c_per_um(self) -> float:
        """Capacitance per um of a minimum-width wire, pF."""
        return self.width_um * self.cpersq + 2 * self.edge


@dataclass
class Macro:
    size: tuple[float, float]
    pins: dict[str, tuple[str, list[tuple[str, tuple[float, float, float, float]]]]]
    # pin -> (direction, [(layer, rect)])


@dataclass
class Lef:
    layers: dict[str, Layer]
    order: list[str]                        # routing layers, bottom first
    vias: dict[str, tuple[str, str]]        # via -> (lower, upper) routing layer
    macros: dict[str, Macro] = field(default_factory=dict)
    pitch: dict[str, float] = field(default_factory=dict)     # routing layer -> PITCH, um


def _blocks(text: str, kind: str):
    """(name, body) of each ``KIND name ... END name`` block (a ``KIND x ;`` line is a
    statement, not a block)."""
    lines = text.splitlines()
    head = re.compile(rf"\s*{kind}\s+(\S+)")
    i = 0
    while i < len(lines):
        m = head.match(lines[i])
        if m is None or lines[i].rstrip().endswith(";"):
            i += 1
            continue
        end = re.compile(rf"\s*END\s+{re.escape(m.group(1))}\s*$")
        j = i + 1
        while j < len(lines) and not end.match(lines[j]):
            j += 1
        yield m.group(1), "\n".join(lines[i + 1:j])
        i = j + 1


def read_lef(text: str) -> Lef:
    """Routing layers (width, R, C), vias and cell macros (size, pins) of a LEF."""
    text = re.sub(r"#.*", "", text)
    layers: dict[str, Layer] = {}
    order: list[str] = []
    pitch: dict[str, float] = {}
    for name, body in _blocks(text, "LAYER"):
        if not re.search(r"\bTYPE\s+ROUTING\b", body):
            continue

        def num(pat: str, default: float | None = None) -> float:
            m = re.search(pat + r"\s+([-+0-9.eE]+)", body)
            if m is None:
                if default is None:
                    raise FlowError(f"LEF layer {name}: no `{pat.replace(chr(92), '')}`")
                return default
            return float(m.group(1))
        layers[name] = Layer(name, num(r"\bWIDTH"), num(r"RESISTANCE\s+RPERSQ"),
                             num(r"CAPACITANCE\s+CPERSQDIST"), num(r"EDGECAPACITANCE", 0.0))
        order.append(name)
        pitch[name] = num(r"\bPITCH", 0.0)
    vias: dict[str, tuple[str, str]] = {}
    for name, body in _blocks(text, "VIA"):
        ls = [m for m in re.findall(r"\bLAYER\s+(\S+)\s*;", body) if m in layers]
        if len(ls) == 2:
            lo, hi = sorted(ls, key=order.index)
            vias[name] = (lo, hi)
    macros: dict[str, Macro] = {}
    for name, body in _blocks(text, "MACRO"):
        size = re.search(r"\bSIZE\s+([0-9.]+)\s+BY\s+([0-9.]+)", body)
        pins: dict[str, Any] = {}
        for pname, pbody in _blocks(body, "PIN"):
            d = re.search(r"\bDIRECTION\s+(\w+)", pbody)
            shapes = []
            layer = None
            for m in re.finditer(r"\bLAYER\s+(\S+)\s*;|\bRECT\s+([-0-9. ]+);", pbody):
                if m.group(1):
                    layer = m.group(1)
                elif layer is not None:
                    x0, y0, x1, y1 = map(float, m.group(2).split())
                    shapes.append((layer, (x0, y0, x1, y1)))
            pins[pname] = (d.group(1) if d else "INOUT", shapes)
        macros[name] = Macro((float(size.group(1)), float(size.group(2))) if size
                             else (0.0, 0.0), pins)
    if not layers:
        raise FlowError("the LEF has no routing layer with RESISTANCE and CAPACITANCE")
    return Lef(layers, order, vias, macros, pitch)


@dataclass
class Def:
    units: float
    components: dict[str, tuple[str, float, float, str]]     # inst -> (cell, x, y, orient)
    pins: dict[str, tuple[str, list[tuple[str, tuple]]]]     # port -> (direction, shapes)
    nets: dict[str, tuple[list[tuple[str, str]], list]]      # net -> (conns, wiring)


def _section(text: str, name: str) -> str:
    m = re.search(rf"^{name}\s+\d+\s*;(.*?)^END\s+{name}\b", text, re.M | re.S)
    return m.group(1) if m else ""


def read_def(text: str) -> Def:
    """Components, I/O pins and routed nets of a DEF. Wiring of a net: a list of
    ``(layer, [(x, y), ...], via or None)`` paths, coordinates in um."""
    m = re.search(r"UNITS\s+DISTANCE\s+MICRONS\s+(\d+)", text)
    u = float(m.group(1)) if m else 1000.0
    comps = {}
    for m in re.finditer(r"-\s+(\S+)\s+(\S+)\s+\+\s+(?:PLACED|FIXED)\s+\(\s*(-?\d+)\s+(-?\d+)"
                         r"\s*\)\s+(\w+)", _section(text, "COMPONENTS")):
        comps[m.group(1)] = (m.group(2), int(m.group(3)) / u, int(m.group(4)) / u, m.group(5))
    pins = {}
    for chunk in _section(text, "PINS").split(";"):
        name = re.search(r"-\s+(\S+)", chunk)
        if not name:
            continue
        d = re.search(r"\+\s+DIRECTION\s+(\w+)", chunk)
        lay = re.search(r"\+\s+LAYER\s+(\S+)\s+\(\s*(-?\d+)\s+(-?\d+)\s*\)\s+\(\s*(-?\d+)\s+"
                        r"(-?\d+)\s*\)", chunk)
        pl = re.search(r"\+\s+(?:PLACED|FIXED)\s+\(\s*(-?\d+)\s+(-?\d+)\s*\)", chunk)
        shapes = []
        if lay and pl:
            x, y = int(pl.group(1)), int(pl.group(2))
            x0, y0, x1, y1 = (int(v) for v in lay.groups()[1:])
            shapes.append((lay.group(1), ((x + x0) / u, (y + y0) / u, (x + x1) / u,
                                          (y + y1) / u)))
        pins[name.group(1)] = (d.group(1) if d else "INOUT", shapes)
    nets = {}
    body = _section(text, "NETS")
    for chunk in re.split(r";\s*$", body, flags=re.M):
        name = re.match(r"\s*-\s+(\S+)", chunk)
        if not name:
            continue
        head = chunk.split("+", 1)
        conns = re.findall(r"\(\s*(\S+)\s+(\S+)\s*\)", head[0][name.end():])
        wiring = []
        if len(head) > 1:
            for w in re.finditer(r"(?:ROUTED|NEW)\s+(\S+)\s+((?:\([^)]*\)\s*)+)(?!NEW\b)(\w+)?",
                                 head[1]):
                pts, prev = [], None
                for xs, ys in re.findall(r"\(\s*(\S+)\s+(\S+)(?:\s+\S+)?\s*\)", w.group(2)):
                    x = prev[0] if xs == "*" else int(xs) / u
                    y = prev[1] if ys == "*" else int(ys) / u
                    prev = (x, y)
                    pts.append(prev)
                via = w.group(3)
                wiring.append((w.group(1), pts, via))
        nets[name.group(1)] = (conns, wiring)
    return Def(u, comps, pins, nets)


_INST1 = re.compile(r"^\s*([A-Za-z_]\w*)\s+(\\\S+|[A-Za-z_][\w$]*)\s*\((.*?)\)\s*;",
                    re.M | re.S)
_PINCONN = re.compile(r"\.(\w+)\s*\(\s*(\\\S+\s|[^()\s]+)\s*\)")


def verilog_pins(text: str) -> dict[tuple[str, str], str]:
    """``{(instance, pin): net}`` of a flat gate-level netlist (qflow's ``.rtlnopwr.v``)."""
    out: dict[tuple[str, str], str] = {}
    for m in _INST1.finditer(text):
        if m.group(1) in ("module", "input", "output", "wire", "inout", "assign", "reg"):
            continue
        for p, n in _PINCONN.findall(m.group(3)):
            out[(m.group(2), p)] = n.strip()
    return out


def _orient(cell_size, x, y, orient, px, py):
    w, h = cell_size
    if orient == "N":
        return x + px, y + py
    if orient == "S":
        return x + w - px, y + h - py
    if orient == "FN":
        return x + w - px, y + py
    if orient == "FS":
        return x + px, y + h - py
    raise FlowError(f"DEF orientation {orient} is not supported by the extractor "
                    f"(standard-cell rows use N, S, FN, FS)")


def _rect_abs(macro: Macro, comp, rect):
    _, x, y, o = comp
    a = _orient(macro.size, x, y, o, rect[0], rect[1])
    b = _orient(macro.size, x, y, o, rect[2], rect[3])
    return min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])


def _rect_dist(r, p) -> float:
    dx = max(r[0] - p[0], 0.0, p[0] - r[2])
    dy = max(r[1] - p[1], 0.0, p[1] - r[3])
    return dx + dy


def _closest_on_seg(a, b, r):
    """Point of axis-aligned segment a-b closest (Manhattan) to rectangle r: the rectangle's
    centre clamped onto the segment (inside the rectangle's span wherever the two overlap)."""
    cx, cy = (r[0] + r[2]) / 2, (r[1] + r[3]) / 2
    x = min(max(cx, min(a[0], b[0])), max(a[0], b[0]))
    y = min(max(cy, min(a[1], b[1])), max(a[1], b[1]))
    return (x, y)


def _on_seg(p, a, b, eps=1e-6) -> bool:
    if abs(a[0] - b[0]) < eps:
        return abs(p[0] - a[0]) < eps and min(a[1], b[1]) - eps < p[1] < max(a[1], b[1]) + eps
    if abs(a[1] - b[1]) < eps:
        return abs(p[1] - a[1]) < eps and min(a[0], b[0]) - eps < p[0] < max(a[0], b[0]) + eps
    return False


def _key(layer, p):
    return (layer, round(p[0], 4), round(p[1], 4))


def net_rc(lef: Lef, wiring, terminals) -> dict[str, Any]:
    """RC tree of one net. ``terminals``: ``[(name, [(layer, rect), ...])]`` (pins with
    their shapes in um). Returns ``nodes`` (key -> capacitance pF), ``res`` (list of
    (key or terminal, key or terminal, ohms)), ``term_node`` (terminal -> key),
    ``wire_um``, ``max_gap``, ``joined``."""
    segs: list[tuple[str, tuple, tuple]] = []
    points: dict[str, set] = {}
    vias: list[tuple[tuple, str, str]] = []
    for layer, pts, via in wiring:
        if layer not in lef.layers:
            raise FlowError(f"DEF wire on layer {layer}, which the LEF does not define")
        for a, b in zip(pts, pts[1:]):
            if a != b:
                segs.append((layer, a, b))
        for p in pts:
            points.setdefault(layer, set()).add(p)
        if via:
            if via not in lef.vias:
                raise FlowError(f"DEF via {via} is not a two-layer via of the LEF")
            lo, hi = lef.vias[via]
            vias.append((pts[-1], lo, hi))
            points.setdefault(lo, set()).add(pts[-1])
            points.setdefault(hi, set()).add(pts[-1])
    # terminals: the closest point of the net's metal on the pin's own layer, and every
    # other piece of metal that touches the pin (the pin shape joins them)
    attach: dict[str, list[tuple[str, tuple, float]]] = {}
    for name, shapes in terminals:
        best, touch = None, []
        for sl, rect in shapes:
            cands = [(sl, a, b) for (ly, a, b) in segs if ly == sl]
            cands += [(sl, p, p) for p in points.get(sl, ())]
            if not cands:     # no metal on the pin's layer: any layer, via stack not drawn
                cands = list(segs)
                cands += [(ly, p, p) for ly, ps in points.items() for p in ps]
            for ly, a, b in cands:
                q = _closest_on_seg(a, b, rect)
                d = _rect_dist(rect, q)
                if best is None or d < best[2]:
                    best = (ly, q, d)
                if d <= TOUCH_UM and ly == sl:
                    touch.append((ly, q, d))
        if best is not None:
            seen = {_key(best[0], best[1])}
            attach[name] = [best]
            for t in touch:
                if _key(t[0], t[1]) not in seen:
                    seen.add(_key(t[0], t[1]))
                    attach[name].append(t)
            for layer, q, _ in attach[name]:
                points.setdefault(layer, set()).add(q)
    nodes: dict[tuple, float] = {}
    res: list[tuple[Any, Any, float]] = []
    wire = 0.0
    pieces: list[tuple[str, tuple, tuple]] = []     # (layer, p, q): the split segments
    for layer, a, b in segs:
        inner = sorted({p for p in points.get(layer, ()) if _on_seg(p, a, b)} | {a, b},
                       key=lambda p: abs(p[0] - a[0]) + abs(p[1] - a[1]))
        L = lef.layers[layer]
        for p, q in zip(inner, inner[1:]):
            ln = abs(p[0] - q[0]) + abs(p[1] - q[1])
            if ln <= 0:
                continue
            wire += ln
            c = ln * L.c_per_um
            kp, kq = _key(layer, p), _key(layer, q)
            nodes[kp] = nodes.get(kp, 0.0) + c / 2
            nodes[kq] = nodes.get(kq, 0.0) + c / 2
            res.append((kp, kq, ln * L.r_per_um))
            pieces.append((layer, p, q))
    for p, lo, hi in vias:
        kl, kh = _key(lo, p), _key(hi, p)
        nodes.setdefault(kl, 0.0)
        nodes.setdefault(kh, 0.0)
        res.append((kl, kh, VIA_OHMS.get(lo, VIA_OHMS["metal4"])))
    for layer, ps in points.items():
        for p in ps:
            nodes.setdefault(_key(layer, p), 0.0)
    max_gap = 0.0
    for name, places in attach.items():
        for layer, q, d in places:
            k = _key(layer, q)
            L = lef.layers[layer]
            nodes[k] = nodes.get(k, 0.0) + d * L.c_per_um
            res.append((name, k, d * L.r_per_um))
            wire += d
            max_gap = max(max_gap, d)
    # connectivity: union-find over nodes and terminals
    parent: dict[Any, Any] = {}

    def find(a):
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a
    for a, b, _ in res:
        parent[find(a)] = find(b)
    for k in nodes:
        find(k)
    joined = 0
    names = [n for n, _ in terminals]
    for n in names:
        find(n)
    roots = {find(k) for k in list(parent)}
    while len(roots) > 1:
        # join the piece holding the first terminal to its nearest other piece
        r0 = find(names[0]) if names else next(iter(roots))
        mine = [k for k in nodes if find(k) == r0]
        other = [k for k in nodes if find(k) != r0]
        if not mine or not other:       # a terminal with no metal at all
            loose = [n for n in names if find(n) != r0]
            base = mine[0] if mine else next(iter(nodes), None)
            for n in loose:
                if base is None:
                    break
                res.append((n, base, 0.0))
                parent[find(n)] = find(base)
                joined += 1
            roots = {find(k) for k in list(parent)}
            if len(roots) > 1 and base is None:
                break
            continue
        a, b = min(((x, y) for x in mine for y in other),
                   key=lambda t: abs(t[0][1] - t[1][1]) + abs(t[0][2] - t[1][2]))
        d = abs(a[1] - b[1]) + abs(a[2] - b[2])
        L = lef.layers[a[0]]
        res.append((a, b, d * L.r_per_um))
        nodes[a] += d * L.c_per_um
        wire += d
        parent[find(a)] = find(b)
        joined += d > TOUCH_UM        # closer: the metal overlaps (a via's landing pad)
        roots = {find(k) for k in list(parent)}
    return {"nodes": nodes, "res": res, "wire_um": wire, "max_gap": max_gap,
            "joined": joined, "pieces": pieces}


_SAFE = re.compile(r"[A-Za-z0-9_]")


def spef_name(name: str) -> str:
    """A Verilog name as a SPEF name: escaped identifiers lose their backslash, every
    character but letters, digits and ``_`` gets one, except a trailing ``[n]`` bus bit."""
    name = name.strip()
    if name.startswith("\\"):
        name = name[1:]
    m = re.fullmatch(r"(.*?)(\[\d+\])?", name)
    base, bit = m.group(1), m.group(2) or ""
    return "".join(c if _SAFE.match(c) else "\\" + c for c in base) + bit


def _side(p, q):
    """(horizontal, track coordinate, lo, hi, lo end, hi end) of an axis-aligned piece."""
    if abs(p[1] - q[1]) < 1e-9:
        return (True, p[1]) + ((p[0], q[0], p, q) if p[0] <= q[0] else (q[0], p[0], q, p))
    if abs(p[0] - q[0]) < 1e-9:
        return (False, p[0]) + ((p[1], q[1], p, q) if p[1] <= q[1] else (q[1], p[1], q, p))
    return None


def coupling(lef: Lef, pieces: dict[Any, list[tuple[str, tuple, tuple]]],
             sidewall: dict[str, float] | None = None, halo_um: float = HALO_UM
             ) -> tuple[dict[tuple, float], dict[str, Any]]:
    """Sidewall coupling capacitors between the wire pieces of different nets (``pieces``:
    net -> [(layer, p, q)], as `net_rc` splits them): two pieces on the same layer, both
    along x or both along y, whose centre lines are ``d`` apart (edge separation
    ``s = d - WIDTH``, ``0 < s <= halo_um``) and whose runs overlap by ``L`` get
    ``C = sidewall[layer] * L / s`` aF (magic's rule, `SIDEWALL_AF`). Each piece is a pi
    section, so ``C`` is shared between its two end nodes by the lever rule at the centre of
    the overlap (a uniform run: the same split as the ground capacitance). Returns
    ``{(net_a, node_a, net_b, node_b): pF}`` (each capacitor once, ``net_a < net_b`` in
    insertion order) and a summary: total coupling capacitance (and per layer), coupled net
    pairs, parallel run length, the five nets with the most, and ``overlapping_runs``: runs
    of different nets closer than one wire width (a short; not coupled, should be 0)."""
    from bisect import bisect_right
    side = SIDEWALL_AF if sidewall is None else sidewall
    order = {n: i for i, n in enumerate(pieces)}
    tracks: dict[tuple[str, bool], dict[float, list]] = {}
    for net, ps in pieces.items():
        for layer, p, q in ps:
            if side.get(layer, 0.0) <= 0:
                continue
            sd = _side(p, q)
            if sd is None or sd[3] - sd[2] <= 0:
                continue
            horiz, t, lo, hi, a, b = sd
            tracks.setdefault((layer, horiz), {}).setdefault(round(t, 4), []).append(
                (lo, hi, net, _key(layer, a), _key(layer, b)))
    caps: dict[tuple, float] = {}
    pairs: set = set()
    run_um = 0.0
    overlapping = 0
    eps = 1e-6
    for (layer, _), bytrack in tracks.items():
        w = lef.layers[layer].width_um
        k = side[layer]
        coords = sorted(bytrack)
        prep = {}
        for t in coords:
            ivs = sorted(bytrack[t])
            pm, m = [], float("-inf")
            for iv in ivs:
                m = max(m, iv[1])
                pm.append(m)
            prep[t] = (ivs, pm)
        for i, t in enumerate(coords):
            for t2 in coords[i:]:
                d = t2 - t
                if d - w > halo_um + eps:
                    break
                s = d - w
                A, (B, pm) = prep[t][0], prep[t2]
                for lo, hi, na, a0, a1 in A:
                    kk = bisect_right(pm, lo + eps)
                    while kk < len(B) and B[kk][0] < hi - eps:
                        lo2, hi2, nb, b0, b1 = B[kk]
                        kk += 1
                        if nb == na:
                            continue
                        ov0, ov1 = max(lo, lo2), min(hi, hi2)
                        if ov1 - ov0 <= eps:
                            continue
                        if s <= eps:
                            overlapping += d > eps or order[na] < order[nb]
                            continue
                        c = k * (ov1 - ov0) / s * 1e-6          # aF -> pF
                        mid = (ov0 + ov1) / 2
                        fa = (mid - lo) / (hi - lo)
                        fb = (mid - lo2) / (hi2 - lo2)
                        if order[na] > order[nb]:
                            na, nb, a0, a1, b0, b1, fa, fb = nb, na, b0, b1, a0, a1, fb, fa
                        for ka, wa in ((a0, 1 - fa), (a1, fa)):
                            for kb, wb in ((b0, 1 - fb), (b1, fb)):
                                if wa * wb > 0:
                                    key = (na, ka, nb, kb)
                                    caps[key] = caps.get(key, 0.0) + c * wa * wb
                        pairs.add((na, nb))
                        run_um += ov1 - ov0
    by_layer: dict[str, float] = {}
    by_net: dict[Any, float] = {}
    for (na, ka, nb, _), c in caps.items():
        by_layer[ka[0]] = by_layer.get(ka[0], 0.0) + c
        by_net[na] = by_net.get(na, 0.0) + c
        by_net[nb] = by_net.get(nb, 0.0) + c
    worst = sorted(by_net.items(), key=lambda t: (-t[1], str(t[0])))[:5]
    return caps, {"coupling_cap_pf": sum(caps.values()), "coupled_net_pairs": len(pairs),
                  "coupled_run_um": run_um, "overlapping_runs": overlapping,
                  "coupling_cap_pf_by_layer": dict(sorted(by_layer.items())),
                  "most_coupled_nets": [[str(n), c] for n, c in worst]}


def extract_spef(def_text: str, lef: Lef | str, verilog_text: str, design: str,
                 sidewall: dict[str, float] | None = None, halo_um: float = HALO_UM
                 ) -> tuple[str, dict[str, Any]]:
    """SPEF of every routed signal net of ``def_text`` (see the module docstring), and a
    summary: nets, wire length, total wire (ground) capacitance, coupling capacitance
    (`coupling`; ``sidewall={}`` leaves it out), worst pin gap, joined gaps, nets of one pin
    (nothing to route), and the DEF nets left out: multi-pin nets without wiring
    (``unrouted_nets``) and nets whose pins the netlist puts on different nets
    (``mismatched_names``); those two should be empty. Each coupling capacitor is written in
    the ``*CAP`` section of both its nets (SPEF's convention; OpenSTA grounds the local end
    of each, times ``read_spef -coupling_reduction_factor``)."""
    if isinstance(lef, str):
        lef = read_lef(lef)
    d = read_def(def_text)
    vpins = verilog_pins(verilog_text)
    out = ["*SPEF \"IEEE 1481-1998\"", f"*DESIGN \"{design}\"", "*DATE \"\"",
           "*VENDOR \"flexspim\"", "*PROGRAM \"flexspim.flow.extract\"", "*VERSION \"1\"",
           "*DESIGN_FLOW \"ROUTED DEF\"", "*DIVIDER /", "*DELIMITER :",
           "*BUS_DELIMITER [ ]", "*T_UNIT 1 NS", "*C_UNIT 1 PF", "*R_UNIT 1 OHM",
           "*L_UNIT 1 HENRY", ""]
    stats: dict[str, Any] = {"nets": 0, "wire_um": 0.0, "wire_cap_pf": 0.0,
                             "max_pin_gap_um": 0.0, "joined_gaps": 0, "single_pin_nets": 0,
                             "unrouted_nets": [], "mismatched_names": []}
    routed: dict[str, tuple[list[str], dict[str, Any]]] = {}    # SPEF net -> (conn, rc)
    for dnet, (conns, wiring) in d.nets.items():
        terms, conn_lines, vnames = [], [], set()
        for inst, pin in conns:
            if inst == "PIN":
                dirn, shapes = d.pins.get(pin, ("INOUT", []))
                # a top-level input drives the net: SPEF direction I; an output loads it
                kind = "I" if dirn.upper().startswith("IN") else "O"
                sname = spef_name(pin)
                terms.append((sname, shapes))
                conn_lines.append(f"*P {sname} {kind}")
                vnames.add(pin)
                continue
            comp = d.components.get(inst)
            if comp is None or comp[0] not in lef.macros:
                continue
            macro = lef.macros[comp[0]]
            if pin not in macro.pins:
                continue
            dirn, shapes = macro.pins[pin]
            if (inst, pin) not in vpins:
                continue
            vnames.add(vpins[(inst, pin)])
            sname = f"{spef_name(inst)}:{pin}"
            terms.append((sname, [(lay, _rect_abs(macro, comp, r)) for lay, r in shapes]))
            conn_lines.append(f"*I {sname} {'O' if dirn == 'OUTPUT' else 'I'} *D {comp[0]}")
        if len(terms) <= 1 and not wiring:
            stats["single_pin_nets"] += 1     # nothing to route (an unused output)
            continue
        if not wiring:
            stats["unrouted_nets"].append(dnet)
            continue
        if len(vnames) != 1:
            stats["mismatched_names"].append(dnet)
            continue
        vnet = spef_name(vnames.pop())
        rc = net_rc(lef, wiring, terms)
        routed[vnet] = (conn_lines, rc)
        stats["nets"] += 1
        stats["wire_um"] += rc["wire_um"]
        stats["wire_cap_pf"] += sum(rc["nodes"].values())
        stats["max_pin_gap_um"] = max(stats["max_pin_gap_um"], rc["max_gap"])
        stats["joined_gaps"] += rc["joined"]
    if stats["nets"] == 0:
        raise FlowError("the routed DEF has no routed net that the netlist knows")
    ids = {vnet: {k: f"{vnet}:{i + 1}" for i, k in enumerate(rc["nodes"])}
           for vnet, (_, rc) in routed.items()}
    caps, cstats = coupling(lef, {v: rc["pieces"] for v, (_, rc) in routed.items()},
                            sidewall, halo_um)
    stats.update(cstats)
    stats["halo_um"] = halo_um
    by_net: dict[str, list[tuple[str, str, float]]] = {}
    for (na, ka, nb, kb), c in caps.items():
        by_net.setdefault(na, []).append((ids[na][ka], ids[nb][kb], c))
        by_net.setdefault(nb, []).append((ids[nb][kb], ids[na][ka], c))
    for vnet, (conn_lines, rc) in routed.items():
        ground = [(ids[vnet][k], c) for k, c in rc["nodes"].items() if c > 0]
        cc = by_net.get(vnet, [])
        total = sum(c for _, c in ground) + sum(c for *_, c in cc)
        out.append(f"*D_NET {vnet} {total:.6g}")
        out.append("*CONN")
        out += conn_lines
        out.append("*CAP")
        out += [f"{i + 1} {n} {c:.6g}" for i, (n, c) in enumerate(ground)]
        out += [f"{len(ground) + i + 1} {a} {b} {c:.6g}" for i, (a, b, c) in enumerate(cc)]
        out.append("*RES")
        for i, (a, b, r) in enumerate(rc["res"]):
            out.append(f"{i + 1} {ids[vnet].get(a, a)} {ids[vnet].get(b, b)} "
                       f"{max(r, 1e-3):.6g}")
        out.append("*END")
        out.append("")
    return "\n".join(out) + "\n", stats


def write_spef(def_path: Path, lef: Lef, verilog_path: Path, design: str,
               out: Path) -> dict[str, Any]:
    spef, stats = extract_spef(def_path.read_text(), lef, verilog_path.read_text(), design)
    out.write_text(spef)
    return stats
