"""Where a conv core's time goes: fan-out unit or macro (`golden.conv_core`, decision 122).

For each conv layer of the dvs-gesture example, the mapper's OS placement (tables copied,
nothing moves) on macros of ``--rows`` x ``--cols`` (P = ``--batch``) gives every macro a
contiguous tile range; the first macro's range runs as a `ConvCoreModel` on the layer's
input stream (the level-1 outputs of the layer before it, ``--steps`` time steps of the
synthetic gesture). Printed: the cores of the layer, the core's tiles, its input events,
batches and accumulates, its engine cycles (macro commands), the fan-out unit's cycles and
``elapsed`` (the two overlapped with two entry tables). Every core of a layer sees every
event of the layer, so the fan-out cycles are the same on all of its cores.

Usage: ``python bench/bench_conv_core.py [--rows 2048] [--cols 64] [--batch 8] [--steps 10]``.
"""

from __future__ import annotations

import argparse

import numpy as np

from flexspim.config import CoreConfig, MacroConfig
from flexspim.frontend.examples import dvs_gesture_events, dvs_gesture_network
from flexspim.golden.batching import TICK
from flexspim.golden.conv_core import ConvCoreLayout, ConvCoreModel
from flexspim.golden.fanout import geometry
from flexspim.golden.layers import ConvLayer
from flexspim.golden.network import run_layer
from flexspim.mapper.hardware import HardwareConfig
from flexspim.mapper.placement import place_layer
from flexspim.mapper.tiling import tile_layer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--cols", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    mc = MacroConfig(rows=a.rows, cols=a.cols, batch_max=a.batch)
    hw = HardwareConfig(mc, cores=4096)
    net = dvs_gesture_network()
    ev = dvs_gesture_events(n_steps=a.steps)
    print(f"macro {a.rows} x {a.cols}, P = {a.batch}, {a.steps} steps")
    print("| layer | cores | core 0 tiles | events | batches | accumulates | engine cycles "
          "| fan-out cycles | elapsed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for layer in net.layers:
        if not isinstance(layer, ConvLayer):
            break
        pl = place_layer(tile_layer(layer, a.cols), hw, "os")
        if pl.mode != "resident":
            print(f"| {layer.name} | {pl.mode}: the table does not fit beside a slot |")
            ev, _ = run_layer(layer, ev, a.batch)
            continue
        mp = pl.macros[0]
        cfg = layer.config
        lay = ConvCoreLayout(mp.tiles[0], len(mp.tiles), v_base=mp.slot_base,
                             v_stride=pl.slot_rows, theta_base=mp.slot_base + cfg.v_rows,
                             w_base=mp.tables[min(mp.tables)], w_stride=pl.table_rows)
        model = ConvCoreModel(CoreConfig(mc), cfg, geometry(layer), lay)
        model.load(layer)
        r = model.run(ev)
        n_ev = int((np.asarray(ev) != TICK).sum())
        print(f"| {layer.name} | {len(pl.macros)} | {lay.t_first}..{lay.t_first + lay.t_count - 1}"
              f" | {n_ev} | {r.batches} | {r.accumulates} | {r.cycles} | {r.fanout_cycles} "
              f"| {r.elapsed} |")
        ev, _ = run_layer(layer, ev, a.batch)


if __name__ == "__main__":
    main()
