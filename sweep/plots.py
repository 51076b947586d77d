"""PNG plots of a sweep's rows (matplotlib, Agg back end).

* ``area.png``: cell area in mm^2 from the Liberty flow (total and storage against the
  array's bit count; periphery against the columns), one colour per P;
* ``energy.png``: energy per SOP of one full accumulate against the resolution (bv, or bw
  when bv is fixed), raw and per 1-bit SOP, one line per P; and the example network's energy
  per SOP;
* ``cycles.png``: cycles per accumulate and per input event against P, one line per bv, and
  input events per second at each geometry's measured Fmax;
* ``pareto.png``: area against energy with the Pareto front (points no other point beats on
  both): one macro's area vs pJ per 1-bit SOP, and the example network's chip area
  (macros x macro area) vs energy per inference;
* ``shape.png``: against the operand shape ``operand_cols`` (issue 20): cycles per
  accumulate (worst case) and per fire pass, one line per (P, bv); periphery and total cell
  area and the measured Fmax, one line per geometry (rows x cols, P): the cost of the
  carry chain; and GSOP/s at that Fmax (fewer cycles, but fewer neurons per slot).

The first three plots draw the points at the sweep's smallest ``operand_cols`` only (with one
shape, every point; with several, their lines would mix the shapes' macros); ``pareto.png``
and ``shape.png`` draw every point. Only rows with ``status`` "ok" (or "rtl-mismatch") are
drawn; a panel with no data says so.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

__all__ = ["pareto_front", "write_plots"]


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points on the front when minimizing both coordinates (ties: the first
    of equal points), sorted by x."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1], i))
    front, best = [], float("inf")
    for i in order:
        if points[i][1] < best:
            front.append(i)
            best = points[i][1]
    return front


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _good(rows):
    return [r for r in rows if r.get("status") in ("ok", "rtl-mismatch")]


def _base(rows):
    """The rows at the smallest ``operand_cols`` among ``rows`` (see the module docstring)."""
    if not rows:
        return rows
    n = min(r.get("operand_cols", 1) for r in rows)
    return [r for r in rows if r.get("operand_cols", 1) == n]


def _empty(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} in this sweep", ha="center", va="center",
            transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _lines(ax, rows, x, y, group, fmt="o-", label=str) -> bool:
    """One line of ``y`` against ``x`` per value of ``group``; False when nothing to draw."""
    groups = defaultdict(dict)
    for r in rows:
        if r.get(x) is not None and r.get(y) is not None:
            groups[r[group]].setdefault(r[x], r[y])
    for g in sorted(groups):
        xs = sorted(groups[g])
        ax.plot(xs, [groups[g][v] for v in xs], fmt, label=label(g))
    return bool(groups)


def _colours(plt, values):
    cmap = plt.get_cmap("viridis")
    vals = sorted(values)
    return {v: cmap(0.85 * k / max(1, len(vals) - 1)) for k, v in enumerate(vals)}


def _save(plt, fig, suptitle: str, path) -> None:
    fig.suptitle(suptitle)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _area(plt, rows, path, title):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    pts = [r for r in rows if r.get("area_um2") is not None]
    if not pts:
        for ax in axes:
            _empty(ax, "area data")
    else:
        col = _colours(plt, {r["batch"] for r in pts})
        styles = dict(zip(sorted({r["cols"] for r in pts}), ("o-", "s--", "^-.", "v:", "D-")))
        geo = {}
        for (P, cols) in sorted({(r["batch"], r["cols"]) for r in pts}):
            sel = sorted((r for r in pts if (r["batch"], r["cols"]) == (P, cols)),
                         key=lambda r: r["rows"])
            geo.update({(r["rows"], r["cols"], P): r for r in sel})
            bits = [r["array_bits"] for r in sel]
            axes[0].plot(bits, [r["area_um2"] * 1e-6 for r in sel], styles.get(cols, "o-"),
                         color=col[P], label=f"P={P}, {cols} cols: total")
            axes[0].plot(bits, [r["storage_um2"] * 1e-6 for r in sel], styles.get(cols, "o-"),
                         color=col[P], mfc="none", alpha=0.5, label=f"P={P}, {cols} cols: "
                                                                     f"storage")
        for (rws, cls, P), r in sorted(geo.items()):
            axes[0].annotate(f"{rws}x{cls}", (r["array_bits"], r["area_um2"] * 1e-6),
                             textcoords="offset points", xytext=(3, -10), fontsize=7)
        axes[0].set_xscale("log")
        axes[0].set_yscale("log")
        axes[0].set_xlabel("array bits (rows x cols; lines: rows grow)")
        axes[0].set_ylabel("macro cell area (mm$^2$)")
        axes[0].set_title("Total (filled) and storage (open)")
        for (P, rws) in sorted({(r["batch"], r["rows"]) for r in pts}):
            sel = sorted((r for r in pts if (r["batch"], r["rows"]) == (P, rws)),
                         key=lambda r: r["cols"])
            axes[1].plot([r["cols"] for r in sel], [r["periph_um2"] * 1e-6 for r in sel], "o-",
                         color=col[P], alpha=0.5 + 0.5 * (rws == max(r["rows"] for r in pts)),
                         label=f"P={P}, {rws} rows")
        axes[1].set_xscale("log", base=2)
        axes[1].set_yscale("log")
        axes[1].set_xlabel("columns")
        axes[1].set_ylabel("periphery cell area (mm$^2$)")
        axes[1].set_title("Periphery (everything but the storage)")
        for ax in axes:
            ax.legend(fontsize=6)
            ax.grid(True, which="both", alpha=0.3)
    _save(plt, fig, f"Area vs geometry (Yosys + ABC, Liberty cell area){title}", path)


def _energy(plt, rows, path, title):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    x = "bv" if len({r["bv"] for r in rows}) > 1 or len({r["bw"] for r in rows}) <= 1 else "bw"
    ax = axes[0]
    if rows:
        col = _colours(plt, {r["batch"] for r in rows})
        for P in sorted(col):
            sel = {r[x]: r for r in rows if r["batch"] == P}
            xs = sorted(sel)
            ax.plot(xs, [sel[v]["acc_pj_per_sop"] for v in xs], "o-", color=col[P],
                    label=f"P={P}")
            ax.plot(xs, [sel[v]["acc_pj_per_1b_sop"] for v in xs], "s--", color=col[P],
                    mfc="none", label=f"P={P}, per 1-bit SOP")
        ax.set_yscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel("pJ per SOP (one full accumulate)")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    else:
        _empty(ax, "valid point")
    ax.set_title("Macro (any rows x cols)")
    ax = axes[1]
    net = [r for r in rows if r.get("net_pj_per_sop") is not None]
    if net:
        many = len({r["dataflow"] for r in net}) > 1
        col = _colours(plt, {r["batch"] for r in net})
        styles = dict(zip(sorted({(r["rows"], r["cols"]) for r in net}),
                          ("o-", "s--", "^-.", "v:", "D-", "P--", "X-.", "*:")))
        for key in sorted({(r["batch"], r["rows"], r["cols"], r["dataflow"]) for r in net}):
            sel = {r[x]: r for r in net if (r["batch"], r["rows"], r["cols"], r["dataflow"])
                   == key}
            xs = sorted(sel)
            P, rws, cls, df = key
            ax.plot(xs, [sel[v]["net_pj_per_sop"] for v in xs], styles.get((rws, cls), "o-"),
                    color=col[P], label=f"{rws}x{cls} P={P}" + (f" {df}" if many else ""))
        ax.set_xlabel(x)
        ax.set_ylabel("pJ per SOP (whole inference)")
        ax.legend(fontsize=6, ncol=2)
        ax.grid(True, alpha=0.3)
    else:
        _empty(ax, "feasible network mapping")
    ax.set_title("dvs-gesture example")
    _save(plt, fig, f"Energy per SOP vs resolution{title}", path)


def _cycles(plt, rows, path, title):
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    if _lines(axes[0], rows, "batch", "acc_cycles", "bv", "o-", lambda g: f"accumulate, bv={g}"):
        _lines(axes[0], rows, "batch", "rtl_acc_cycles", "bv", "kx", lambda g: f"RTL, bv={g}")
        _lines(axes[1], rows, "batch", "cycles_per_event", "bv", "o-", lambda g: f"bv={g}")
        axes[0].set_ylabel("cycles per accumulate")
        axes[1].set_ylabel("cycles per input event (full batches)")
        for ax in axes[:2]:
            ax.set_xlabel("P (weights per accumulate)")
            ax.legend(fontsize=7)
            ax.grid(True, alpha=0.3)
    else:
        for ax in axes[:2]:
            _empty(ax, "valid point")
    ev = [dict(r, geo=f"{r['rows']}x{r['cols']} bv={r['bv']}") for r in rows
          if r.get("events_per_s") is not None]
    if _lines(axes[2], [dict(r, events_per_s=r["events_per_s"] * 1e-6) for r in ev], "batch",
              "events_per_s", "geo", "o-"):
        axes[2].set_xlabel("P (weights per accumulate)")
        axes[2].set_ylabel("input events per second (millions)")
        axes[2].set_title("At each geometry's measured Fmax")
        axes[2].legend(fontsize=6, ncol=2)
        axes[2].grid(True, alpha=0.3)
    else:
        _empty(axes[2], "Fmax data")
    _save(plt, fig, f"Cycles vs P{title}", path)


def _front(ax, pts: list[dict[str, Any]], x: str, y: str, xscale=1.0, yscale=1.0) -> None:
    xy = [(r[x] * xscale, r[y] * yscale) for r in pts]
    ax.scatter([a for a, _ in xy], [b for _, b in xy], c="0.7", s=18, label="points")
    front = pareto_front(xy)
    ax.plot([xy[i][0] for i in front], [xy[i][1] for i in front], "ko-", label="Pareto front")
    for k, i in enumerate(front):
        r = pts[i]
        shape = f" N{r['operand_cols']}" if r.get("operand_cols", 1) != 1 else ""
        ax.annotate(f"{r['rows']}x{r['cols']} P{r['batch']} {r['bw']}/{r['bv']}{shape}", xy[i],
                    textcoords="offset points", xytext=(3, 4 if k % 2 == 0 else -10),
                    fontsize=6)
    ax.set_xscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def _pareto(plt, rows, path, title):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    macro = [r for r in rows if r.get("area_um2") is not None
             and r.get("acc_pj_per_1b_sop") is not None]
    if macro:
        _front(axes[0], macro, "area_um2", "acc_pj_per_1b_sop", xscale=1e-6)
        axes[0].set_xlabel("macro cell area (mm$^2$)")
        axes[0].set_ylabel("pJ per 1-bit SOP (full accumulate)")
    else:
        _empty(axes[0], "area data")
    axes[0].set_title("One macro")
    chip = [r for r in rows if r.get("area_um2") is not None
            and r.get("net_pj_per_inference") is not None]
    if chip:
        chip = [dict(r, chip_um2=r["net_macros"] * r["area_um2"]) for r in chip]
        _front(axes[1], chip, "chip_um2", "net_pj_per_inference", xscale=1e-6, yscale=1e-6)
        axes[1].set_xlabel("chip cell area for the example (macros x macro, mm$^2$)")
        axes[1].set_ylabel("energy per inference (uJ)")
    else:
        _empty(axes[1], "feasible network mapping with area")
    axes[1].set_title("dvs-gesture example")
    _save(plt, fig, f"Area vs energy{title}", path)


def _shape(plt, rows, path, title):
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
    many = len({r.get("operand_cols", 1) for r in rows}) > 1
    note = "" if many else " (one shape in this sweep)"
    cyc = [dict(r, key=(r["batch"], r["bv"])) for r in rows]
    ax = axes[0]
    if _lines(ax, cyc, "operand_cols", "acc_cycles", "key", "o-",
              lambda g: f"accumulate, P={g[0]} bv={g[1]}"):
        _lines(ax, cyc, "operand_cols", "fire_cycles", "key", "s--",
               lambda g: f"fire, P={g[0]} bv={g[1]}")
        _lines(ax, cyc, "operand_cols", "rtl_acc_cycles", "key", "kx",
               lambda g: f"RTL accumulate, P={g[0]} bv={g[1]}")
        ax.set_ylabel("cycles (accumulate: worst case, clamp pass runs)")
        ax.set_title("Cycles" + note)
    else:
        _empty(ax, "valid point")
    geo = [dict(r, geo=(r["rows"], r["cols"], r["batch"])) for r in rows
           if r.get("area_um2") is not None]

    def name(g):
        return f"{g[0]}x{g[1]} P={g[2]}"

    for ax, what, ylabel, tt in (
            (axes[1], "area", "cell area (mm$^2$)", "Periphery (filled), total (open)"),
            (axes[2], "fmax_mhz", "Fmax (MHz, ideal clock, no wires)", "Measured Fmax")):
        if not geo:
            _empty(ax, "area data")
            continue
        if what == "area":
            for g in sorted({r["geo"] for r in geo}):
                sel = {r["operand_cols"]: r for r in geo if r["geo"] == g}
                xs = sorted(sel)
                (line,) = ax.plot(xs, [sel[n]["periph_um2"] * 1e-6 for n in xs], "o-",
                                  label=f"{name(g)}: periphery")
                ax.plot(xs, [sel[n]["area_um2"] * 1e-6 for n in xs], "o--", mfc="none",
                        color=line.get_color(), label=f"{name(g)}: total")
            ax.set_ylim(bottom=0)
        else:
            _lines(ax, geo, "operand_cols", "fmax_mhz", "geo", "o-", name)
        ax.set_ylabel(ylabel)
        ax.set_title(tt + note)
    ops = [dict(r, geo=(r["rows"], r["cols"], r["batch"])) for r in rows
           if r.get("gsops_per_s") is not None]
    if _lines(axes[3], ops, "operand_cols", "gsops_per_s", "geo", "o-", name):
        axes[3].set_ylabel("GSOP/s at the measured Fmax (full accumulates)")
        axes[3].set_title("Throughput: fewer cycles, fewer neurons")
    else:
        _empty(axes[3], "Fmax data")
    shapes = sorted({r.get("operand_cols", 1) for r in rows})
    for ax in axes:
        if ax.lines:
            ax.set_xscale("log", base=2)
            ax.set_xticks(shapes, [str(n) for n in shapes])
            ax.minorticks_off()
            ax.set_xlabel("operand_cols N_C (= the macro's max_operand_cols)")
            ax.legend(fontsize=6)
            ax.grid(True, which="both", alpha=0.3)
    _save(plt, fig, f"Operand shape: cycles, area, Fmax{title}", path)


def write_plots(rows: list[dict[str, Any]], out: Path, title: str = "") -> list[Path]:
    """Write the five PNGs into ``out``; returns their paths. ``rows`` are the sweep's rows,
    before or after `report.derive` (events/s and chip area are derived here if missing)."""
    from .report import derive

    plt = _plt()
    good = _good([derive(dict(r)) for r in rows])
    suffix = f" ({title})" if title else ""
    names = ("area.png", "energy.png", "cycles.png", "pareto.png", "shape.png")
    paths = [out / n for n in names]
    for fn, p in zip((_area, _energy, _cycles, _pareto, _shape), paths):
        fn(plt, _base(good) if fn in (_area, _energy, _cycles) else good, p, suffix)
    return paths
