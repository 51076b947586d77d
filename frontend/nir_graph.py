"""Reading a NIR graph: the file, the node kinds the importer knows, and the chain order.

`read_graph` turns every failure of ``nir.read`` into one `ValueError` naming the file;
`_chain` checks that the graph is one feed-forward chain from its Input (no subgraph, no
recurrent edge, no fork or join) of supported nodes and returns it in order. What each node
means is `frontend.nir_import`'s job.
"""

from __future__ import annotations

__all__ = ["read_graph"]

_SYNAPSES = ("Linear", "Affine", "Conv2d")
_NEURONS = ("IF", "LIF", "CubaLIF")
_POOLS = ("SumPool2d", "AvgPool2d")
_SUPPORTED = ("Input", "Output", "Flatten") + _POOLS + _SYNAPSES + _NEURONS


def _find_cycle(edges, start_nodes) -> tuple[str, str] | None:
    """A back edge ``(a, b)`` of a depth-first search (``b`` is an ancestor of ``a``)."""
    succ: dict = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
    state: dict = {}
    for root in list(start_nodes) + list(succ):
        if root in state:
            continue
        stack = [(root, iter(succ.get(root, [])))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return node, nxt
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ.get(nxt, []))))
    return None


def _chain(graph) -> list[tuple[str, object]]:
    """The graph's nodes in chain order from the Input; anything else is a ValueError."""
    nodes, edges = graph.nodes, [tuple(e) for e in graph.edges]
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind == "NIRGraph":
            inner = _find_cycle([tuple(e) for e in node.edges], list(node.nodes))
            if inner:
                raise ValueError(f"NIR node {name!r} is a recurrent subgraph (edge "
                                 f"{inner[0]!r} -> {inner[1]!r} feeds back, e.g. snnTorch's "
                                 f"RLeaky); recurrent connections are not supported (the "
                                 f"system routes feed-forward only)")
            raise ValueError(f"NIR node {name!r} is a subgraph; only flat graphs are supported")
        if kind not in _SUPPORTED:
            raise ValueError(f"NIR node {name!r} ({kind}) is not supported; supported: "
                             f"{', '.join(_SUPPORTED)}")
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise ValueError(f"NIR edge ({a!r}, {b!r}) names an unknown node {end!r}")
    starts = [n for n, node in nodes.items() if type(node).__name__ == "Input"]
    if len(starts) != 1:
        raise ValueError(f"NIR graph must have exactly one Input node, not {len(starts)}")
    back = _find_cycle(edges, starts)
    if back:
        raise ValueError(f"NIR edge {back[0]!r} -> {back[1]!r} is recurrent (it feeds back "
                         f"to an earlier node); recurrent connections are not supported (the "
                         f"system routes feed-forward only)")
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        succ[a].append(b)
        pred[b].append(a)
    for n, p in pred.items():
        if len(p) > 1:
            raise ValueError(f"NIR node {n!r} has {len(p)} incoming edges (from "
                             f"{', '.join(map(repr, p))}); only chains are supported")
    order, cur = [], starts[0]
    while True:
        order.append(cur)
        nxt = succ[cur]
        if not nxt:
            break
        if len(nxt) > 1:
            raise ValueError(f"NIR node {cur!r} feeds {len(nxt)} nodes; only chains are "
                             f"supported")
        cur = nxt[0]
    off = [n for n in nodes if n not in order]
    if off:
        raise ValueError(f"NIR node(s) {', '.join(map(repr, off))} are not on the chain from "
                         f"the Input {starts[0]!r}; only one chain is supported")
    return [(n, nodes[n]) for n in order]


def read_graph(path):
    """``nir.read`` with every failure as one `ValueError` naming the file."""
    try:
        import nir
    except ImportError:
        raise ValueError("reading .nir files needs the optional dependency: "
                         "pip install 'flexspim[nir]'") from None
    try:
        return nir.read(path)
    except Exception as e:   # h5py/nir raise many types for a bad or missing file
        raise ValueError(f"cannot read NIR file {path}: {e}") from None
