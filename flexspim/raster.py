"""Spike raster plots of event streams (PNG, matplotlib's Agg back end)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["spike_times", "raster_png"]

TICK = -1


def spike_times(stream) -> tuple[np.ndarray, np.ndarray]:
    """``(time step, neuron)`` of every spike of a stream (the step = ticks before it)."""
    ev = np.asarray(stream, dtype=np.int64)
    step = np.cumsum(ev == TICK) - (ev == TICK)
    keep = ev != TICK
    return step[keep], ev[keep]


def raster_png(streams: list, names: list[str], path: Path, title: str = "") -> Path:
    """One raster per stream, stacked; returns the path written."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("the raster plot needs matplotlib: pip install 'flexspim[plot]'") \
            from None
    fig, axes = plt.subplots(len(streams), 1, figsize=(8, 1.8 + 1.6 * len(streams)),
                             sharex=True, squeeze=False)
    for ax, stream, name in zip(axes[:, 0], streams, names):
        t, n = spike_times(stream)
        ax.scatter(t, n, s=4, marker="|", color="k")
        ax.set_ylabel(f"{name}\nneuron")
        ax.set_title(f"{name}: {len(t)} spikes", fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time step")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
