"""Price of a fan-out memory (the mapper's CSR) against the kernels it would index.

For each layer of the shipped examples: sources, tiles, CSR entries (one per (source, tile,
operand) pair, `mapper.tiling.Tiling`), CSR bits (``ceil(log2 tiles) + ceil(log2 ops)`` per
entry plus one pointer per source, of ``ceil(log2(entries + 1))`` bits) and the kernel bits
the layer stores once (``bw`` x weights). The numbers behind docs/dataflow.md section 4.1.

Usage: ``python bench/bench_fanout.py [--cols N]``.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from flexspim.config import LayerConfig
from flexspim.frontend.examples import dvs_gesture_network
from flexspim.golden.layers import ConvLayer
from flexspim.mapper.tiling import tile_layer


def _bits(n: int) -> int:
    return max(1, math.ceil(math.log2(max(n, 2))))


def price(layer, cols: int) -> dict:
    t = tile_layer(layer, cols)
    n_in = layer.n_in
    _, _, src = t.reach(np.arange(n_in))
    entries = len(src)
    csr = entries * (_bits(t.n_tiles) + _bits(t.table_ops)) + \
        (n_in + 1) * math.ceil(math.log2(entries + 1))
    return {"layer": layer.name, "sources": n_in, "tiles": t.n_tiles, "entries": entries,
            "max per source": int(np.bincount(src).max()), "csr bits": csr,
            "kernel bits": int(layer.weights.size) * layer.config.bw}


def digits_conv_layer() -> ConvLayer:
    """The conv layer of examples/digits_conv (1 -> 3 channels, 8 x 8, 3 x 3, padding 1,
    bw 8); the weights do not change the price."""
    return ConvLayer(np.zeros((3, 1, 3, 3), dtype=np.int64), (1, 8, 8),
                     LayerConfig(bw=8, bv=16), padding=1, name="conv")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cols", type=int, default=256)
    args = ap.parse_args(argv)
    rows = [("dvs-gesture", price(lay, args.cols)) for lay in dvs_gesture_network().layers]
    rows.append(("digits_conv", price(digits_conv_layer(), args.cols)))
    keys = ["layer", "sources", "tiles", "entries", "max per source", "csr bits", "kernel bits"]
    print(f"{'network':12s} " + " ".join(f"{k:>14s}" for k in keys))
    for net, r in rows:
        print(f"{net:12s} " + " ".join(f"{r[k]!s:>14s}" for k in keys))
    dvs = [r for n, r in rows if n == "dvs-gesture"]
    print(f"dvs-gesture total: {sum(r['entries'] for r in dvs)} entries, "
          f"{sum(r['csr bits'] for r in dvs) / 1024:.1f} kbit of CSR, "
          f"{sum(r['kernel bits'] for r in dvs) / 1024:.1f} kbit of kernels")


if __name__ == "__main__":
    main()
