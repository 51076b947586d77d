"""Import a NIR graph (https://neuroir.org; PyPI ``nir``) as an integer flexspim network.

Supported graphs are chains ``Input -> (synapse -> neuron)+ -> Output`` with ``Flatten``
allowed anywhere (flattening in C order never changes our ``(c, y, x)`` neuron numbering, so
it is the identity here):

* synapses: ``Linear``, ``Affine`` (bias must be 0), ``Conv2d`` (bias 0, ``groups = 1``;
  padding an int, a pair, "valid", or "same" for odd kernels at stride 1);
* neurons: ``IF``, ``LIF`` (``v_leak = 0``), ``CubaLIF`` only when ``tau_syn == dt`` (the
  synaptic current then lasts one step, so the neuron is a LIF with input gain ``w_in``:
  the macro has no synaptic-current state). ``v_reset`` must be absent or 0 (hard reset).
  ``tau`` and ``r`` must be the same for every neuron of a layer (one leak per layer);
  ``v_threshold`` may differ per neuron (it is then stored in the array).

Anything else raises `ValueError` naming the node and what is unsupported, and so does a
graph that is not one chain: a node not on the path from the Input (for example a synapse
feeding the chain from nowhere), a node with more than one incoming edge, a branch or a
loop.

**Discrete-time semantics** (the float reference, `float_run`, and what the integer network
implements), per time step ``dt`` and layer:

1. ``v += g * (W @ x)`` with ``x`` the step's input spike counts; gain ``g = r * dt`` (IF),
   ``r * dt / tau`` (LIF), ``r * w_in * dt / tau_mem`` (CubaLIF);
2. ``v *= 1 - dt / tau`` (LIF, CubaLIF; clipped at 0 when ``dt > tau``);
3. spike where ``v > v_threshold`` (strictly, as NIR defines it), then ``v = 0`` there.

This is forward Euler of NIR's equations (IF ``dv/dt = R I``, LIF
``tau dv/dt = (v_leak - v) + R I``) with the input current held constant over the step at
``I = W @ x``: one convention for both neuron types, so an IF is exactly a LIF with
``tau -> infinity`` and the same ``dt``. The input is integrated before the leak (the
order of the macro's fire phase); this differs from "leak, then add input" by a factor
``1 - dt/tau`` on the input, which is small when ``tau >> dt``. ``dt`` must be given in the
unit of the graph's time constants, and it must be the step the exporter assumed: a
framework whose IF adds ``r W x`` per step (no ``dt``, e.g. an IAF layer exported with
``r = 1``) is imported with ``dt = 1``.

**Quantization** per layer: ``s = max|g W| / (2**(bw-1) - 1)`` (``bw >= 2``: with one bit
the only positive weight is 0); weights ``round(g W / s)`` (exact ties to even, as NumPy
rounds). The threshold is **exact** on the integer grid: the macro fires on ``V >= theta``,
and ``theta = floor(v_th / s) + 1`` (``v_th / s + 1`` when ``v_th / s`` is an integer, to
within 1e-9 relative), so ``V >= theta`` holds exactly when ``s V > v_th``: NIR's strict
comparison applied to the integer layer's own potential. ``theta`` must fit ``bv`` bits
(else `ValueError`: raise ``bv``). Leak ``V -= V >>> k`` with ``k = round(log2(tau / dt))``
(factor ``1 - 2**-k`` for ``1 - dt/tau``), or no leak when ``k > bv - 1`` (the shift would
always give 0 for positive V) and ``k = 0`` when ``dt >= tau``. The report (`LayerReport`)
gives per layer the scale, the largest weight error ``max|s w_int - g W|``, the leak
factors, and, when events are given (`compare`), the largest potential error and the
spike agreement measured against the float reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from flexspim.config import LayerConfig
from flexspim.golden.batching import TICK, split_steps
from flexspim.golden.network import ConvLayer, FCLayer, Network, conv_output_hw, run_layer

__all__ = ["LayerReport", "NirImport", "import_nir", "float_run", "compare"]

_SYNAPSES = ("Linear", "Affine", "Conv2d")
_NEURONS = ("IF", "LIF", "CubaLIF")
_SUPPORTED = ("Input", "Output", "Flatten") + _SYNAPSES + _NEURONS


@dataclass
class LayerReport:
    """Quantization of one layer (all errors in the float model's units)."""

    name: str
    nodes: tuple
    scale: float
    weight_max_err: float
    weight_rel_rms: float
    leak_float: float          # 1 - dt/tau (1.0: no leak)
    leak_int: float            # 1 - 2**-k (1.0: no leak)
    potential_max_err: float | None = None
    spike_agreement: float | None = None

    def line(self) -> str:
        s = (f"{self.name:<10} scale {self.scale:.4g}  weight err max {self.weight_max_err:.3g} "
             f"(rel rms {self.weight_rel_rms:.2%})  theta exact  "
             f"leak {self.leak_float:.4f} -> {self.leak_int:.4f}")
        if self.spike_agreement is not None:
            s += (f"  | measured: V err max {self.potential_max_err:.3g}, spikes agree "
                  f"{self.spike_agreement:.2%}")
        return s


@dataclass
class _FloatLayer:
    dense: np.ndarray          # (n_out, n_in) effective float weights g * W
    theta: np.ndarray          # (n_out,)
    decay: float               # 1 - dt/tau, or 1


@dataclass
class NirImport:
    """Result of `import_nir`: the integer network, the float reference, the report."""

    network: Network
    float_layers: list
    report: list = field(default_factory=list)

    def report_text(self) -> str:
        return "\n".join(r.line() for r in self.report)


def _get(node, attr):
    return np.asarray(getattr(node, attr), dtype=np.float64)


def _uniform(name: str, node, attr: str) -> float:
    v = _get(node, attr)
    if v.size == 0 or not np.allclose(v, v.flat[0]):
        raise ValueError(f"NIR node {name!r} ({type(node).__name__}): per-neuron `{attr}` is "
                         f"not supported (one value per layer)")
    return float(v.flat[0])


def _chain(graph) -> list[tuple[str, object]]:
    """The graph's nodes in chain order from the Input; anything else is a ValueError."""
    nodes, edges = graph.nodes, list(graph.edges)
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind not in _SUPPORTED:
            raise ValueError(f"NIR node {name!r} ({kind}) is not supported; supported: "
                             f"{', '.join(_SUPPORTED)}")
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise ValueError(f"NIR edge ({a!r}, {b!r}) names an unknown node {end!r}")
        succ[a].append(b)
        pred[b].append(a)
    for n, p in pred.items():
        if len(p) > 1:
            raise ValueError(f"NIR node {n!r} has {len(p)} incoming edges (from "
                             f"{', '.join(map(repr, p))}); only chains are supported")
    starts = [n for n, node in nodes.items() if type(node).__name__ == "Input"]
    if len(starts) != 1:
        raise ValueError(f"NIR graph must have exactly one Input node, not {len(starts)}")
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
        if cur in order:
            raise ValueError(f"NIR node {cur!r} closes a loop; recurrent graphs are not "
                             f"supported")
    off = [n for n in nodes if n not in order]
    if off:
        raise ValueError(f"NIR node(s) {', '.join(map(repr, off))} are not on the chain from "
                         f"the Input {starts[0]!r}; only one chain is supported")
    return [(n, nodes[n]) for n in order]


def _conv_geometry(name, node, shape):
    w = _get(node, "weight")
    if w.ndim != 4:
        raise ValueError(f"NIR node {name!r} (Conv2d): weight must be 4-D, not {w.shape}")
    if int(node.groups) != 1:
        raise ValueError(f"NIR node {name!r} (Conv2d): groups={node.groups} is not supported "
                         f"(only 1)")
    if len(shape) != 3:
        raise ValueError(f"NIR node {name!r} (Conv2d): input shape {shape} is not (C, H, W)")
    pair = lambda v: (int(v), int(v)) if np.ndim(v) == 0 else tuple(int(x) for x in v)  # noqa
    stride, dilation = pair(node.stride), pair(node.dilation)
    pad = node.padding
    if isinstance(pad, str):
        if pad == "valid":
            padding = (0, 0)
        elif pad == "same" and stride == (1, 1) and all(k % 2 for k in w.shape[2:]):
            padding = tuple(d * (k - 1) // 2 for k, d in zip(w.shape[2:], dilation))
        else:
            raise ValueError(f"NIR node {name!r} (Conv2d): padding {pad!r} is not supported "
                             f"with kernel {w.shape[2:]} and stride {stride}")
    else:
        padding = pair(pad)
    return w, stride, padding, dilation


def _per_layer(v, n: int, what: str) -> list[int]:
    vals = [v] * n if isinstance(v, (int, np.integer)) else list(v)
    if len(vals) != n:
        raise ValueError(f"`{what}` must be an int or {n} values (one per layer), not {v!r}")
    return [int(x) for x in vals]


def _theta(v_th: np.ndarray, s: float) -> np.ndarray:
    """Integer thresholds for NIR's strict ``s V > v_th`` on a ``V >= theta`` macro:
    ``floor(v_th / s) + 1``, with ``v_th / s`` snapped to an integer it equals within 1e-9
    relative (so an exact multiple does not fall to the integer below by rounding)."""
    q = v_th / s
    r = np.rint(q)
    snap = np.isclose(q, r, rtol=1e-9, atol=0.0)
    return (np.where(snap, r, np.floor(q)) + 1).astype(np.int64)


def import_nir(graph, bw: int | Sequence[int] = 8, bv: int | Sequence[int] = 16,
               dt: float = 1e-3, saturate: bool = True) -> NirImport:
    """Quantize a NIR graph (a ``nir.NIRGraph`` or a path readable by ``nir.read``).

    Parameters:
        bw, bv: weight and potential resolution, one for all layers or one per layer;
            ``bw >= 2`` (a 1-bit signed weight cannot be positive).
        dt: the time step (> 0) in the unit of the graph's time constants (seconds for
            the usual exporters); it sets every layer's gain and leak (module docstring).
        saturate: the layers' saturate/wrap setting.

    Raises:
        ValueError: an unsupported node or parameter (named), a bad shape, a resolution out
            of range, or a threshold that does not fit ``bv`` bits after scaling.
    """
    if not dt > 0:
        raise ValueError(f"`dt` must be > 0 seconds, not {dt!r}")
    if not hasattr(graph, "nodes"):
        import nir
        graph = nir.read(graph)
    chain = _chain(graph)
    shape = tuple(int(x) for x in np.asarray(next(iter(chain[0][1].input_type.values()))))
    pairs, syn = [], None
    for name, node in chain[1:]:
        kind = type(node).__name__
        if kind == "Flatten":
            shape = (int(np.prod(shape)),)
            continue
        if kind == "Output":
            break
        if kind in _SYNAPSES:
            if syn is not None:
                raise ValueError(f"NIR node {name!r} ({kind}) follows synapse {syn[0]!r} "
                                 f"without a neuron between them; not supported")
            if kind in ("Affine", "Conv2d") and np.any(_get(node, "bias") != 0):
                raise ValueError(f"NIR node {name!r} ({kind}): a non-zero bias is not "
                                 f"supported")
            if kind == "Conv2d":
                w, stride, padding, dilation = _conv_geometry(name, node, shape)
                if shape[0] != w.shape[1]:
                    raise ValueError(f"NIR node {name!r} (Conv2d): {w.shape[1]} input "
                                     f"channels, but the input has shape {shape}")
                syn = (name, "conv", w, shape, stride, padding, dilation)
                ho, wo = conv_output_hw(shape[1:], w.shape[2:], stride, padding, dilation)
                shape = (w.shape[0], ho, wo)
            else:
                w = _get(node, "weight")
                n_in = int(np.prod(shape))
                if w.ndim != 2 or w.shape[1] != n_in:
                    raise ValueError(f"NIR node {name!r} ({kind}): weight {w.shape} does not "
                                     f"take {n_in} inputs")
                syn = (name, "fc", w, shape)
                shape = (w.shape[0],)
            continue
        if syn is None:
            raise ValueError(f"NIR node {name!r} ({kind}) has no synapse before it; "
                             f"not supported")
        pairs.append((syn, (name, node)))
        syn = None
    if syn is not None:
        raise ValueError(f"NIR node {syn[0]!r} is not followed by a neuron node")
    if not pairs:
        raise ValueError("NIR graph has no (synapse, neuron) layer")
    bws, bvs = _per_layer(bw, len(pairs), "bw"), _per_layer(bv, len(pairs), "bv")
    layers, floats, report = [], [], []
    for i, (syn, (nname, neuron)) in enumerate(pairs):
        kind = type(neuron).__name__
        if getattr(neuron, "v_reset", None) is not None and np.any(_get(neuron, "v_reset") != 0):
            raise ValueError(f"NIR node {nname!r} ({kind}): v_reset != 0 is not supported "
                             f"(hard reset to 0 only)")
        if kind in ("LIF", "CubaLIF") and np.any(_get(neuron, "v_leak") != 0):
            raise ValueError(f"NIR node {nname!r} ({kind}): v_leak != 0 is not supported")
        r = _uniform(nname, neuron, "r")
        if kind == "IF":
            gain, tau = r * dt, None
        elif kind == "LIF":
            tau = _uniform(nname, neuron, "tau")
            gain = r * dt / tau
        else:
            tau_syn = _uniform(nname, neuron, "tau_syn")
            if not math.isclose(tau_syn, dt, rel_tol=1e-9):
                raise ValueError(f"NIR node {nname!r} (CubaLIF): tau_syn={tau_syn} must equal "
                                 f"dt={dt} (the macro keeps no synaptic current)")
            tau = _uniform(nname, neuron, "tau_mem")
            gain = r * _uniform(nname, neuron, "w_in") * dt / tau
        cfg_bw, cfg_bv = bws[i], bvs[i]
        LayerConfig(bw=cfg_bw, bv=cfg_bv)           # validates the resolutions
        if cfg_bw < 2:
            raise ValueError(f"`bw` of layer {syn[0]!r} must be in [2, 32] for NIR import "
                             f"(a 1-bit signed weight is -1 or 0, so every positive weight "
                             f"would be lost), not {cfg_bw}")
        w_eff = gain * syn[2]
        qmax = (1 << (cfg_bw - 1)) - 1
        peak = float(np.abs(w_eff).max())
        s = peak / qmax if peak > 0 else 1.0
        w_int = np.clip(np.rint(w_eff / s), -qmax - 1, qmax).astype(np.int64)
        if syn[1] == "conv":
            _, _, w, in_shape, stride, padding, dilation = syn
            ho, wo = conv_output_hw(in_shape[1:], w.shape[2:], stride, padding, dilation)
            n_out = w.shape[0] * ho * wo
        else:
            n_out = syn[2].shape[0]
        vth = _get(neuron, "v_threshold").ravel()
        if vth.size not in (1, n_out):
            raise ValueError(f"NIR node {nname!r} ({kind}): v_threshold has {vth.size} values "
                             f"for {n_out} neurons")
        theta_f = np.broadcast_to(vth, (n_out,)).copy()
        theta_i = _theta(theta_f, s)
        lo, hi = -(1 << (cfg_bv - 1)), (1 << (cfg_bv - 1)) - 1
        if theta_i.min() < lo or theta_i.max() > hi:
            raise ValueError(f"NIR node {nname!r}: threshold {theta_f.max():.4g} / scale "
                             f"{s:.4g} -> {theta_i.max()} does not fit bv={cfg_bv} bits "
                             f"[{lo}, {hi}]; raise bv or lower bw")
        decay = 1.0 if tau is None else max(0.0, 1.0 - dt / tau)
        if tau is None:
            leak_mode, k, decay_i = "none", 0, 1.0
        else:
            k = max(0, int(round(math.log2(tau / dt)))) if tau > dt else 0
            if k > cfg_bv - 1:
                leak_mode, k, decay_i = "none", 0, 1.0
            else:
                leak_mode, decay_i = "shift", 1.0 - 2.0 ** -k
        uniform = bool(np.all(theta_i == theta_i[0]))
        cfg = LayerConfig(bw=cfg_bw, bv=cfg_bv, saturate=saturate, leak_mode=leak_mode, leak=k,
                          threshold=int(theta_i[0]) if uniform else 0,
                          threshold_source="register" if uniform else "array")
        th = None if uniform else theta_i
        lname = f"{syn[0]}"
        if syn[1] == "conv":
            layer = ConvLayer(w_int, syn[3], cfg, syn[4], syn[5], syn[6], th, name=lname)
            dense = layer.dense_weights(w_eff)     # the float kernel, same geometry
        else:
            layer = FCLayer(w_int, cfg, th, name=lname)
            dense = w_eff
        layers.append(layer)
        err = s * w_int - w_eff
        rms = float(np.sqrt(np.mean(err ** 2)) / max(np.sqrt(np.mean(w_eff ** 2)), 1e-300))
        report.append(LayerReport(lname, (syn[0], nname), s, float(np.abs(err).max()), rms,
                                  decay, decay_i))
        floats.append(_FloatLayer(dense, theta_f, decay))
    return NirImport(Network(layers), floats, report)


def float_run(float_layers: Sequence[_FloatLayer], events):
    """The float reference on an event stream: per layer ``(output events, potentials
    before the first fire, final potentials)`` (see the module docstring)."""
    out = []
    ev = np.asarray(events, dtype=np.int64)
    for fl in float_layers:
        n_out, n_in = fl.dense.shape
        v = np.zeros(n_out)
        first = None
        stream = []
        for sources, ticked in split_steps(ev):
            v = v + fl.dense @ np.bincount(sources, minlength=n_in)
            if first is None:
                first = v.copy()
            if ticked:
                v = v * fl.decay
                spikes = v > fl.theta          # NIR: strictly above the threshold
                v[spikes] = 0.0
                stream += np.flatnonzero(spikes).tolist() + [TICK]
        ev = np.asarray(stream, dtype=np.int64)
        out.append((ev, first if first is not None else v, v))
    return out


def compare(imp: NirImport, events, batch_max: int = 1) -> NirImport:
    """Fill the report's measured columns: each layer is driven by **the integer network's**
    input to that layer, in both models (so errors do not compound across layers); the
    potential error is that of the first time step (before any fire), in float units."""
    run = imp.network.run(events, batch_max)
    inputs = [np.asarray(events, np.int64)] + run.outputs[:-1]
    for i, (rep, layer, fl, ev) in enumerate(zip(imp.report, imp.network.layers,
                                                 imp.float_layers, inputs)):
        f_out, f_first, _ = float_run([fl], ev)[0]
        steps = split_steps(ev)
        first_src = steps[0][0] if steps else np.zeros(0, np.int64)
        _, v_int = run_layer(layer, first_src, batch_max)     # no tick: potentials pre-fire
        rep.potential_max_err = float(np.abs(rep.scale * v_int - f_first).max())
        a = _spike_matrix(run.outputs[i], layer.n_out)
        b = _spike_matrix(f_out, layer.n_out)
        rep.spike_agreement = float((a == b).mean()) if a.size else 1.0
    return imp


def _spike_matrix(stream: np.ndarray, n: int) -> np.ndarray:
    rows = []
    for sources, ticked in split_steps(stream):
        if ticked:
            r = np.zeros(n, bool)
            r[sources] = True
            rows.append(r)
    return np.array(rows) if rows else np.zeros((0, n), bool)
