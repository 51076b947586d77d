"""The hybrid-dataflow study: all-WS, all-OS and hybrid on the example network over input
sparsities and array sizes.

Input sparsity is varied by thinning one synthetic gesture stream (each input event kept
with probability ``keep``, seeded), so the time steps, the gesture and the network stay the
same and only the event count changes. Every point is a full `plan_network` (level-1 run,
placement both ways, dry-run counts, pricing).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flexspim.config import MacroConfig
from flexspim.frontend.dvs import input_density
from flexspim.golden.batching import TICK

from .hardware import HardwareConfig
from .plan import NoFeasibleMapping, plan_network

__all__ = ["StudyPoint", "run_study", "thin", "table", "plot", "check_plot_path"]


@dataclass(frozen=True)
class StudyPoint:
    rows: int
    cols: int
    keep: float
    density: float          # input events per input and time step
    ws: float | None        # pJ, None when infeasible on the cores
    os: float | None
    hybrid: float | None
    dataflows: str          # hybrid choice, one letter per layer (W/O)
    macros: int             # macros the hybrid choice uses

    def saved_vs(self, other: float | None) -> float | None:
        if other is None or self.hybrid is None or other == 0:
            return None
        return 1.0 - self.hybrid / other


def thin(events: np.ndarray, keep: float, seed: int = 0) -> np.ndarray:
    """Keep each input event with probability ``keep`` (ticks always stay)."""
    if not 0 < keep <= 1:
        raise ValueError(f"`keep` must be in (0, 1], not {keep}")
    ev = np.asarray(events)
    r = np.random.default_rng(seed).random(ev.size)
    return ev[(ev == TICK) | (r < keep)]


def run_study(network, events, sizes, keeps, cores: int, batch_max: int = 8,
              buffer_bits: int = 8 * 1024 * 1024, progress=None) -> list[StudyPoint]:
    """One `StudyPoint` per ``(rows, cols)`` in ``sizes`` and ``keep`` in ``keeps``."""
    out = []
    n_in = network.layers[0].n_in
    total = len(sizes) * len(keeps)
    for rows, cols in sizes:
        hw = HardwareConfig(MacroConfig(rows=rows, cols=cols, batch_max=batch_max),
                            cores=cores, buffer_bits=buffer_bits)
        for keep in keeps:
            if progress:
                progress(f"[{len(out) + 1}/{total}] {rows} x {cols}, keep {keep:.0%}")
            ev = thin(events, keep)
            density = input_density(ev, n_in)
            try:
                plan = plan_network(network, hw, ev, "hybrid")
            except NoFeasibleMapping:
                out.append(StudyPoint(rows, cols, keep, density, None, None, None, "-", 0))
                continue
            t = plan.totals()
            out.append(StudyPoint(rows, cols, keep, density, t["ws"], t["os"], t["hybrid"],
                                  "".join("W" if d == "ws" else "O"
                                          for d in plan.choice.dataflows),
                                  plan.choice.macros))
    return out


def _uj(x) -> str:
    return "n/a" if x is None else f"{x / 1e6:.2f}"


def _pct(x) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def table(points) -> str:
    """A Markdown table of the study."""
    lines = ["| rows x cols | input density | all-WS uJ | all-OS uJ | hybrid uJ | "
             "saved vs WS | saved vs OS | hybrid per layer | macros |",
             "|---|---|---|---|---|---|---|---|---|"]
    for p in points:
        lines.append(f"| {p.rows} x {p.cols} | {p.density:.3f} | {_uj(p.ws)} | {_uj(p.os)} | "
                     f"{_uj(p.hybrid)} | {_pct(p.saved_vs(p.ws))} | {_pct(p.saved_vs(p.os))} "
                     f"| {p.dataflows} | {p.macros} |")
    return "\n".join(lines)


def check_plot_path(path) -> None:
    """Fail early (before a long study) if ``path`` cannot receive the PNG plot.

    Raises:
        ValueError: not a ``.png`` name, a missing or unwritable folder, or no matplotlib.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"`--plot` must name a .png file, not {str(path)!r}")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"`--plot` {path}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"`--plot` {path}: not writable")
    if importlib.util.find_spec("matplotlib") is None:
        raise ValueError("the study plot needs matplotlib: pip install matplotlib (or "
                         "pip install 'flexspim[dev]')")


def plot(points, path, title: str = "") -> None:
    """Energy per inference against input density, one panel per array size (PNG). An
    array size where nothing fits gets a panel saying so.

    Raises:
        ValueError: no point has a feasible mapping (there would be nothing to plot).
    """
    if all(getattr(p, k) is None for p in points for k in ("ws", "os", "hybrid")):
        raise ValueError("no study point has a feasible mapping (every array size is too "
                         "small for the network on these cores); no plot written")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401  (NullFormatter)

    sizes = sorted({(p.rows, p.cols) for p in points})
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.6), squeeze=False,
                             sharey=True)
    for ax, size in zip(axes[0], sizes):
        pts = sorted((p for p in points if (p.rows, p.cols) == size), key=lambda p: p.density)
        x = [p.density for p in pts]
        ax.set_title(f"{size[0]} x {size[1]} macros")
        ax.set_xlabel("input events per input per step")
        drawn = False
        for key, style in (("ws", "s--"), ("os", "o-"), ("hybrid", "k^:")):
            y = [getattr(p, key) for p in pts]
            xs = [a for a, b in zip(x, y) if b is not None]
            ys = [b / 1e6 for b in y if b is not None]
            if ys:
                ax.plot(xs, ys, style, label={"ws": "all-WS", "os": "all-OS",
                                              "hybrid": "hybrid"}[key])
                drawn = True
        if not drawn:
            ax.text(0.5, 0.5, "no feasible mapping", ha="center", va="center",
                    transform=ax.transAxes)
            continue
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("energy per inference (uJ)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
