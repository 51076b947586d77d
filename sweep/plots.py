"""PNG plots of a sweep's rows (matplotlib, Agg back end).

* ``area.png``: area in NAND2 equivalents (total, periphery, storage) against the array's
  bit count, one colour per P;
* ``energy.png``: energy per SOP of one full accumulate against the resolution (bv, or bw
  when bv is fixed), raw and per 1-bit SOP, one line per P; and the example network's energy
  per SOP;
* ``cycles.png``: cycles per accumulate and per input event against P, one line per bv;
* ``pareto.png``: area against energy with the Pareto front (points no other point beats on
  both): one macro's area vs pJ per 1-bit SOP, and the example network's chip area
  (macros x macro area) vs energy per inference.

Only rows with ``status`` "ok" (or "rtl-mismatch") are drawn; a panel with no data says so.
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


def _empty(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} in this sweep", ha="center", va="center",
            transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _lines(ax, rows, x, y, group, fmt="o-", label=str) -> bool:
    groups = defaultdict(dict)
    for r in rows:
        if r.get(x) is not None and r.get(y) is not None:
            groups[r[group]].setdefault(r[x], r[y])
    for g in sorted(groups):
        xs = sorted(groups[g])
        ax.plot(xs, [groups[g][v] for v in xs], fmt, label=label(g))
    return bool(groups)


def _area(plt, rows, path, title):
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    pts = [r for r in rows if r.get("total_nand2") is not None]
    if not pts:
        _empty(ax, "area data")
    else:
        cmap = plt.get_cmap("viridis")
        Ps = sorted({r["batch"] for r in pts})
        for k, P in enumerate(Ps):
            c = cmap(k / max(1, len(Ps) - 1))
            sel = sorted((r for r in pts if r["batch"] == P), key=lambda r: r["array_bits"])
            xs = [r["array_bits"] for r in sel]
            ax.plot(xs, [r["total_nand2"] for r in sel], "o-", color=c, label=f"total, P={P}")
            ax.plot(xs, [r["periph_nand2"] for r in sel], "s--", color=c, mfc="none",
                    label=f"periphery, P={P}")
        geo = {r["array_bits"]: r for r in pts}
        xs = sorted(geo)
        ax.plot(xs, [geo[x]["array_nand2"] for x in xs], "k:", label="storage (analytic)")
        for x in xs:
            ax.annotate(f"{geo[x]['rows']}x{geo[x]['cols']}", (x, geo[x]["total_nand2"]),
                        textcoords="offset points", xytext=(3, 4), fontsize=7)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("array bits (rows x cols)")
        ax.set_ylabel("area (NAND2 equivalents)")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    ax.set_title(f"Area vs geometry{title}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _energy(plt, rows, path, title):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    x = "bv" if len({r["bv"] for r in rows}) > 1 or len({r["bw"] for r in rows}) <= 1 else "bw"
    ax = axes[0]
    if _lines(ax, rows, x, "acc_pj_per_sop", "batch", "o-", lambda g: f"P={g}"):
        _lines(ax, rows, x, "acc_pj_per_1b_sop", "batch", "s--", lambda g: f"P={g}, per 1b-SOP")
        ax.set_yscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel("pJ per SOP (one full accumulate)")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    else:
        _empty(ax, "valid point")
    ax.set_title("Macro")
    ax = axes[1]
    net = [dict(r, _g=f"{r['rows']}x{r['cols']} P={r['batch']} {r['dataflow']}")
           for r in rows if r.get("net_pj_per_sop") is not None]
    if net and _lines(ax, net, x, "net_pj_per_sop", "_g", "o-"):
        ax.set_xlabel(x)
        ax.set_ylabel("pJ per SOP (whole inference)")
        ax.legend(fontsize=6)
        ax.grid(True, alpha=0.3)
    else:
        _empty(ax, "feasible network mapping")
    ax.set_title("dvs-gesture example")
    fig.suptitle(f"Energy per SOP vs resolution{title}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cycles(plt, rows, path, title):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    if _lines(axes[0], rows, "batch", "acc_cycles", "bv", "o-", lambda g: f"accumulate, bv={g}"):
        _lines(axes[0], rows, "batch", "rtl_acc_cycles", "bv", "kx", lambda g: f"RTL, bv={g}")
        _lines(axes[1], rows, "batch", "cycles_per_event", "bv", "o-", lambda g: f"bv={g}")
        axes[0].set_ylabel("cycles per accumulate")
        axes[1].set_ylabel("cycles per input event (full batches)")
        for ax in axes:
            ax.set_xlabel("P (weights per accumulate)")
            ax.legend(fontsize=7)
            ax.grid(True, alpha=0.3)
    else:
        for ax in axes:
            _empty(ax, "valid point")
    fig.suptitle(f"Cycles vs P{title}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _front(ax, pts: list[dict[str, Any]], x: str, y: str, xscale=1.0, yscale=1.0) -> None:
    xy = [(r[x] * xscale, r[y] * yscale) for r in pts]
    ax.scatter([a for a, _ in xy], [b for _, b in xy], c="0.7", s=18, label="points")
    front = pareto_front(xy)
    ax.plot([xy[i][0] for i in front], [xy[i][1] for i in front], "ko-", label="Pareto front")
    for i in front:
        r = pts[i]
        ax.annotate(f"{r['rows']}x{r['cols']} P{r['batch']} {r['bw']}/{r['bv']}", xy[i],
                    textcoords="offset points", xytext=(3, 3), fontsize=6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def _pareto(plt, rows, path, title):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    macro = [r for r in rows if r.get("total_nand2") is not None
             and r.get("acc_pj_per_1b_sop") is not None]
    if macro:
        _front(axes[0], macro, "total_nand2", "acc_pj_per_1b_sop")
        axes[0].set_xlabel("macro area (NAND2 eq.)")
        axes[0].set_ylabel("pJ per 1-bit SOP (full accumulate)")
    else:
        _empty(axes[0], "area data")
    axes[0].set_title("One macro")
    chip = [r for r in rows if r.get("total_nand2") is not None
            and r.get("net_pj_per_inference") is not None]
    if chip:
        chip = [dict(r, chip_nand2=r["net_macros"] * r["total_nand2"]) for r in chip]
        _front(axes[1], chip, "chip_nand2", "net_pj_per_inference", yscale=1e-6)
        axes[1].set_xlabel("chip area for the example (macros x macro, NAND2 eq.)")
        axes[1].set_ylabel("energy per inference (uJ)")
    else:
        _empty(axes[1], "feasible network mapping with area")
    axes[1].set_title("dvs-gesture example")
    fig.suptitle(f"Area vs energy{title}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(rows: list[dict[str, Any]], out: Path, title: str = "") -> list[Path]:
    """Write the four PNGs into ``out``; returns their paths."""
    plt = _plt()
    good = _good(rows)
    suffix = f" ({title})" if title else ""
    paths = [out / n for n in ("area.png", "energy.png", "cycles.png", "pareto.png")]
    for fn, p in zip((_area, _energy, _cycles, _pareto), paths):
        fn(plt, good, p, suffix)
    return paths
