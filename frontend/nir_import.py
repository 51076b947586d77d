"""Import a NIR graph (https://neuroir.org; PyPI ``nir``) as an integer flexspim network.

Every way a graph can run differently from the framework that exported it is either made
exact here or refused with a one-line `ValueError` naming the node and the reason; nothing is
approximated without appearing in the report (`LayerReport`) and in the network TOML's
``[import]`` table (`import_table`).

**Graphs.** Chains ``Input -> (synapse -> neuron)+ -> Output``:

* synapses ``Linear``, ``Affine`` (bias allowed, see below), ``Conv2d`` (``groups = 1``;
  padding an int, a pair, "valid", or "same" for odd kernels at stride 1);
* ``Flatten`` anywhere (C-order flattening never changes our ``(c, y, x)`` numbering);
* ``SumPool2d`` (any zero padding) and ``AvgPool2d`` (padding 0) between a neuron (or the
  Input) and the next synapse: pooling is linear, so it is folded exactly into that synapse,
  whose float weights become ``W @ P`` (``P`` the pooling matrix, entries 1 or ``1/k``);
  the layer is then fully connected (a conv after a pool becomes its dense matrix);
* neurons ``IF``, ``LIF`` (``v_leak = 0``), ``CubaLIF`` only when ``tau_syn == dt`` (the
  synaptic current then lasts one step: a LIF with input gain ``w_in``; the macro keeps no
  current). ``v_reset`` absent or 0. ``tau``, ``r`` one value per layer; ``v_threshold``
  may differ per neuron (then stored in the array).

Anything else is refused, naming the node: another node type, a graph that is not one chain
(a branch, a node off the chain, two incoming edges) and **recurrent edges**, named as such
(``'lif1' -> 'lin1'``, also inside a subgraph such as snnTorch's RLeaky), since the system
routes feed-forward only.

**Time step.** ``dt`` is in the unit of the graph's time constants and must be the step the
exporter assumed; it is given (``dt=``), set by a framework preset (`PRESETS`), or read from
``graph.metadata["dt"]``; with none of these the import stops. Presets also fix the other
conventions of a framework: the leak order and the reset (below).

**Neuron semantics** (the float reference, `float_run`, per step and layer, ``I = W x + b``):

* gain ``g = r dt`` (IF), ``r dt / tau`` (LIF), ``r w_in dt / tau_mem`` (CubaLIF); decay
  ``d = 1 - dt / tau`` (IF and ``tau = inf``: ``d = 1``, no leak): NIR's forward Euler step
  (``discretization="euler"``). ``"exp"`` is the exact solution of the ODE over a step,
  ``d = exp(-dt / tau)`` and ``g = r (1 - d)`` (``r w_in (1 - d)`` for CubaLIF), what Sinabs'
  LIF computes (its default ``norm_input``) for the ``tau`` it exports;
* leak order ``"leak-first"`` (NIR's forward Euler, and what snnTorch, Norse, Sinabs compute):
  ``v = d v + g I``; ``"input-first"``: ``v = d (v + g I)``;
* spike where ``v > v_threshold`` (strictly, as NIR defines it);
* reset ``"hard"``: ``v = 0``; ``"soft"``: ``v -= v_threshold`` at the spike (it then leaks
  with the rest of ``v``); the snnTorch preset's framework reset subtracts one step later,
  after that step's leak (``v = d v + g I - v_th s_prev``, snnTorch's ``"subtract"``): the
  hardware's soft reset differs by ``(1 - d) v_th`` per spike, which the report measures.

**Hardware mapping**, exact where stated: the macro integrates, then leaks at the tick
(``V = leak(V + w x)``). Leak-first is made exact by dividing the gain by the integer decay
``d_int`` (``d_int (V + g I / d_int) = d_int V + g I``); leak ``V -= V >>> k`` with
``k = round(log2(tau / dt))``, factor ``d_int = 1 - 2**-k``.

**Refusals** (neurons that can never fire or always reset): ``tau <= 0``; ``dt >= tau``
(the leak clears the potential every step: usually a wrong dt, the message names the
presets); a decay that rounds to 0 (``k = 0``); a decay below 1 that rounds to 1
(``k > bv - 1``, or ``2**k`` above every threshold so the shift never changes a potential
below it); ``tau = inf`` with a finite ``r`` (gain 0) or a non-finite gain; a threshold that
does not fit ``bv`` bits (never fires); a layer whose
weights and bias all quantize to 0. ``tau = inf`` is "no leak" (with ``r = inf`` too, as
exporters write for ``beta = 1`` with ``r = tau / dt``, the gain is taken as 1).
Float comparisons use a tolerance suited to float32 exports (`RTOL`, 1e-5 relative).

**Bias** is exact as an always-active input: a layer with a bias gets one more input source
(the last), which is active once in every time step, with the weight ``round(g b / s)``
(quantized with the weights: the scale covers both). For the first layer the host appends
that source's event at the end of every time step (`with_bias_source`; ``input_bias`` in the
TOML); for a later layer the previous layer gets one more neuron (the last), with zero
weights and threshold 0, which therefore fires at every tick (``0 >= 0``) and is routed
like any neuron. The extra neuron is an implementation detail: reports, accuracy and the
output layer never include it (the output layer never has one).

**Quantization** per layer: hardware weights ``w_hw = g W / d_hw`` (``d_hw = d_int`` for
leak-first, else 1), scale ``s = c / (2**(bw-1) - 1)`` with ``c = max|w_hw|`` (``clip =
"max"``) or a percentile of ``|w_hw|`` (values beyond it saturate); weights
``round(w_hw / s)`` (ties to even). The threshold is exact on the integer grid:
``theta = floor(v_th / s) + 1`` (snapped within `RTOL` when the ratio is an integer), so
``V >= theta`` holds exactly when ``s V > v_th``: NIR's strict comparison on the integer
layer's own potential after its leak (``s V`` is the framework's ``v``: with leak-first,
``s d_int (V + w x) = d_int s V + g I``).

**Modules.** This one holds the node semantics, framework conventions and quantization;
reading the file and the chain order is `frontend.nir_graph`, synapse and pool matrices
`frontend.nir_synapses`, the framework-semantics float model and the report's measured
columns `frontend.nir_float`, the ``[import]`` table `frontend.nir_toml` (their public names
are importable from here too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from flexspim.config import LayerConfig
from flexspim.golden.batching import TICK
from flexspim.golden.layers import ConvLayer, FCLayer, conv_output_hw
from flexspim.golden.network import Network

from .nir_float import _FloatLayer, compare, float_run
from .nir_graph import _POOLS, _SUPPORTED, _SYNAPSES, _chain, read_graph  # noqa: F401
from .nir_synapses import _conv_dense, _conv_geometry, _get, _pool_matrix
from .nir_toml import import_table

__all__ = ["LayerReport", "NirImport", "Preset", "PRESETS", "RTOL", "LEAK_ORDERS",
           "DISCRETIZATIONS", "import_nir", "float_run", "compare", "with_bias_source",
           "import_table", "read_graph"]

LEAK_ORDERS = ("leak-first", "input-first")
DISCRETIZATIONS = ("euler", "exp")
RESETS = ("hard", "soft")
#: Relative tolerance of float comparisons: exporters write float32 (eps 1.2e-7), and values
#: such as ``dt / (1 - beta)`` lose a few ulps on the way.
RTOL = 1e-5


@dataclass(frozen=True)
class Preset:
    """A framework's export conventions: ``dt`` for leaky neurons and for IF neurons, the
    leak order, the reset it computes by default, and whether its soft reset subtracts one
    step late (snnTorch). ``source`` says where the figures come from."""

    dt: float
    dt_if: float
    leak_order: str
    reset: str
    late_subtract: bool
    source: str
    discretization: str = "euler"


PRESETS = {
    "snntorch": Preset(1e-4, 1e-4, "leak-first", "soft", True,
                       "snnTorch export_to_nir: dt = 1e-4, tau = dt / (1 - beta), r = tau / dt; "
                       "Leaky's default reset_mechanism 'subtract'"),
    "norse": Preset(1e-6, 1.0, "leak-first", "hard", False,
                    "measured (shared/toolchain.md): LIFBox tau = dt / tau_mem_inv needs "
                    "dt 1e-6, IAF dt 1; Norse resets to v_reset = 0"),
    "sinabs": Preset(1.0, 1.0, "leak-first", "soft", False,
                     "measured (shared/toolchain.md, tests/frameworks): IAF exported with "
                     "r = 1, dt 1; MembraneSubtract is Sinabs' default; its LIF decays by "
                     "exp(-1/tau) with input x (1 - exp(-1/tau))", "exp"),
    "rockpool": Preset(1e-3, 1e-3, "leak-first", "soft", False,
                       "Rockpool's default dt 1e-3, written as float32 (toolchain.md); "
                       "not re-measured here"),
    "lava": Preset(1.0, 1.0, "leak-first", "hard", False,
                   "lava-dl CUBA works in time steps (dt 1), resets to 0; not measured here"),
}


@dataclass
class LayerReport:
    """Quantization of one layer (errors in the float model's units)."""

    name: str
    nodes: tuple
    kind: str                  # IF, LIF or CubaLIF
    dt: float
    gain: float
    scale: float
    weight_max_err: float
    weight_rel_rms: float
    clipped: int               # weights saturated by percentile clipping
    leak_float: float          # 1 - dt/tau or exp(-dt/tau) (1.0: no leak)
    leak_int: float            # 1 - 2**-k (1.0: no leak)
    threshold_float: float     # largest v_threshold
    threshold_int: int         # largest integer theta
    bias: bool
    potential_max_err: float | None = None
    spike_agreement: float | None = None

    def line(self) -> str:
        s = (f"{self.name:<10} {self.kind:<7} scale {self.scale:.4g}  weight err max "
             f"{self.weight_max_err:.3g} (rel rms {self.weight_rel_rms:.2%}"
             + (f", {self.clipped} clipped" if self.clipped else "") + ")  "
             f"decay {self.leak_float:.4f} -> {self.leak_int:.4f}  "
             f"threshold {self.threshold_float:.4g} -> {self.threshold_int}"
             + ("  bias" if self.bias else ""))
        if self.spike_agreement is not None:
            s += (f"  | measured vs framework: V err max {self.potential_max_err:.3g}, "
                  f"spikes agree {self.spike_agreement:.2%}")
        return s


@dataclass
class NirImport:
    """Result of `import_nir`: the integer network, the float reference, the report and
    every choice made (`import_table`)."""

    network: Network
    float_layers: list
    report: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    input_bias: bool = False            # layer 0 has the always-active input source
    bias_units: tuple = ()              # per layer: has the extra always-firing neuron

    def report_text(self) -> str:
        return "\n".join(r.line() for r in self.report)

    def n_real(self, i: int) -> int:
        """Neurons of layer ``i`` without its bias unit."""
        return self.network.layers[i].n_out - int(self.bias_units[i])

    def hardware_events(self, events) -> np.ndarray:
        """The integer network's input for a framework input stream (the bias source added
        to every time step when layer 0 has a bias)."""
        ev = np.asarray(events, dtype=np.int64)
        if not self.input_bias:
            return ev
        return with_bias_source(ev, self.network.layers[0].n_in - 1)


def with_bias_source(events, source: int) -> np.ndarray:
    """``events`` with one event of ``source`` appended to every time step (before its
    tick); events after the last tick are left as they are."""
    ev = np.asarray(events, dtype=np.int64)
    ticks = np.flatnonzero(ev == TICK)
    return np.insert(ev, ticks, source)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=0.0)


def _uniform(name: str, node, attr: str) -> float:
    v = _get(node, attr).ravel()
    v0 = float(v[0]) if v.size else math.nan
    same = v.size and (np.all(v == v0) or (math.isfinite(v0) and
                                          np.allclose(v, v0, rtol=RTOL, atol=0.0)))
    if not same:
        raise ValueError(f"NIR node {name!r} ({type(node).__name__}): per-neuron `{attr}` is "
                         f"not supported (one value per layer)")
    return v0


def _per_layer(v, n: int, what: str) -> list[int]:
    vals = [v] * n if isinstance(v, (int, np.integer)) else list(v)
    if len(vals) != n:
        raise ValueError(f"`{what}` must be an int or {n} values (one per layer), not {v!r}")
    return [int(x) for x in vals]


def _theta(v_th: np.ndarray, s: float) -> np.ndarray:
    """Integer thresholds for NIR's strict ``s V > v_th`` on a ``V >= theta`` macro:
    ``floor(v_th / s) + 1``, with ``v_th / s`` snapped to an integer it equals within
    `RTOL` (so an exact multiple does not fall to the integer below by float rounding)."""
    q = v_th / s
    r = np.rint(q)
    snap = np.isclose(q, r, rtol=RTOL, atol=0.0)
    return (np.where(snap, r, np.floor(q)) + 1).astype(np.int64)


def _graph_layers(chain):
    """Walk the chain: ``[(synapse, (neuron name, node))]``; a synapse is a dict with the
    float dense matrix (pooling folded in), the bias, the conv geometry (None when fully
    connected) and the node names."""
    shape = tuple(int(x) for x in np.asarray(next(iter(chain[0][1].input_type.values()))))
    pairs, syn, pre, pre_names = [], None, None, []
    for name, node in chain[1:]:
        kind = type(node).__name__
        if kind == "Flatten":
            shape = (int(np.prod(shape)),)
            continue
        if kind == "Output":
            break
        if kind in _POOLS:
            if syn is not None:
                raise ValueError(f"NIR node {name!r} ({kind}) follows synapse {syn['name']!r}"
                                 f" without a neuron between them; not supported")
            mat, shape = _pool_matrix(name, node, shape)
            pre = mat if pre is None else mat @ pre
            pre_names.append(name)
            continue
        if kind in _SYNAPSES:
            if syn is not None:
                raise ValueError(f"NIR node {name!r} ({kind}) follows synapse {syn['name']!r} "
                                 f"without a neuron between them; not supported")
            bias = None
            if kind in ("Affine", "Conv2d"):
                b = _get(node, "bias").ravel()
                bias = b if np.any(b != 0) else None
            n_in = int(np.prod(shape)) if pre is None else pre.shape[1]
            if kind == "Conv2d":
                w, stride, padding, dilation = _conv_geometry(name, node, shape)
                ho, wo = conv_output_hw(shape[1:], w.shape[2:], stride, padding, dilation)
                out_shape = (w.shape[0], ho, wo)
                if bias is not None:
                    if bias.size != w.shape[0]:
                        raise ValueError(f"NIR node {name!r} (Conv2d): {bias.size} bias values "
                                         f"for {w.shape[0]} output channels")
                    bias = np.repeat(bias, ho * wo)
                conv = None if pre is not None else (w, shape, stride, padding, dilation)
                dense = _conv_dense(w, shape, stride, padding, dilation)
            else:
                w = _get(node, "weight")
                if w.ndim != 2 or w.shape[1] != int(np.prod(shape)):
                    raise ValueError(f"NIR node {name!r} ({kind}): weight {w.shape} does not "
                                     f"take {int(np.prod(shape))} inputs")
                out_shape, conv, dense = (w.shape[0],), None, w
                if bias is not None and bias.size != w.shape[0]:
                    raise ValueError(f"NIR node {name!r} ({kind}): {bias.size} bias values for "
                                     f"{w.shape[0]} outputs")
            if pre is not None:
                dense = dense @ pre
            syn = {"name": name, "dense": dense, "bias": bias, "conv": conv,
                   "nodes": tuple(pre_names) + (name,), "n_in": n_in}
            pre, pre_names, shape = None, [], out_shape
            continue
        if syn is None:
            if pre is not None:
                raise ValueError(f"NIR node {pre_names[-1]!r} ({type(node).__name__} follows "
                                 f"it) is not followed by a synapse to fold it into")
            raise ValueError(f"NIR node {name!r} ({kind}) has no synapse before it; "
                             f"not supported")
        pairs.append((syn, (name, node)))
        syn = None
    if pre is not None:
        raise ValueError(f"NIR node {pre_names[-1]!r} (pooling) after the last neuron layer "
                         f"cannot be folded: no synapse follows it")
    if syn is not None:
        raise ValueError(f"NIR node {syn['name']!r} is not followed by a neuron node")
    if not pairs:
        raise ValueError("NIR graph has no (synapse, neuron) layer")
    return pairs


def _resolve(graph, dt, preset, reset, leak_order, discretization=None):
    """The conventions in force: given values override the preset's; dt falls back on the
    graph's metadata."""
    pre = None
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"`preset` must be one of {', '.join(PRESETS)}; not {preset!r}")
        pre = PRESETS[preset]
    meta = getattr(graph, "metadata", None) or {}
    if dt is not None:
        if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
            raise ValueError(f"`dt` must be a finite number > 0, not {dt!r}")
        dt_lif = dt_if = float(dt)
        dt_from = "given"
    elif pre is not None:
        dt_lif, dt_if, dt_from = pre.dt, pre.dt_if, f"preset {preset}"
    elif "dt" in meta:
        try:
            dt_lif = dt_if = float(np.asarray(meta["dt"]).ravel()[0])
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"the NIR graph's metadata dt {meta['dt']!r} is not a "
                             f"number") from None
        if not (math.isfinite(dt_lif) and dt_lif > 0):
            raise ValueError(f"the NIR graph's metadata dt must be > 0, not {dt_lif}")
        dt_from = "graph metadata"
    else:
        raise ValueError("`dt` is required: the graph carries no dt; give the step the "
                         "exporter assumed (--dt) or its framework (--from "
                         + "|".join(PRESETS) + ")")
    leak_order = leak_order or (pre.leak_order if pre else "leak-first")
    if leak_order not in LEAK_ORDERS:
        raise ValueError(f"`leak_order` must be one of {', '.join(LEAK_ORDERS)}; "
                         f"not {leak_order!r}")
    late = bool(pre and pre.late_subtract and reset in (None, "soft"))
    reset = reset or (pre.reset if pre else "hard")
    if reset not in RESETS:
        raise ValueError(f"`reset` must be one of {', '.join(RESETS)}; not {reset!r}")
    disc = discretization or (pre.discretization if pre else "euler")
    if disc not in DISCRETIZATIONS:
        raise ValueError(f"`discretization` must be one of {', '.join(DISCRETIZATIONS)}; "
                         f"not {disc!r}")
    return dict(dt_lif=dt_lif, dt_if=dt_if, dt_from=dt_from, leak_order=leak_order,
                reset=reset, late_subtract=late and reset == "soft", preset=preset,
                discretization=disc)


def _neuron(nname, neuron, dt_lif, dt_if, discretization="euler"):
    """``(kind, dt, gain, tau)`` of a neuron node, ``tau`` None for no leak; refusals of
    neurons that can never fire or always reset."""
    kind = type(neuron).__name__
    if getattr(neuron, "v_reset", None) is not None and np.any(_get(neuron, "v_reset") != 0):
        raise ValueError(f"NIR node {nname!r} ({kind}): v_reset != 0 is not supported "
                         f"(reset to 0, or soft reset)")
    if kind in ("LIF", "CubaLIF") and np.any(_get(neuron, "v_leak") != 0):
        raise ValueError(f"NIR node {nname!r} ({kind}): v_leak != 0 is not supported")
    r = _uniform(nname, neuron, "r")
    if kind == "IF":
        dt, tau, gain = dt_if, None, r * dt_if
    else:
        dt = dt_lif
        tau = _uniform(nname, neuron, "tau" if kind == "LIF" else "tau_mem")
        if math.isnan(tau) or tau <= 0:
            raise ValueError(f"NIR node {nname!r} ({kind}): tau={tau} must be > 0 (a "
                             f"negative or zero time constant clears the potential every "
                             f"step)")
        if kind == "CubaLIF":
            tau_syn = _uniform(nname, neuron, "tau_syn")
            if not _close(tau_syn, dt):
                raise ValueError(f"NIR node {nname!r} (CubaLIF): tau_syn={tau_syn} must equal "
                                 f"dt={dt} (the macro keeps no synaptic current)")
            r = r * _uniform(nname, neuron, "w_in")
        if math.isinf(tau):
            if math.isinf(r):       # r = tau / dt written for beta = 1: r dt / tau = 1
                gain, tau = 1.0, None
            else:
                raise ValueError(f"NIR node {nname!r} ({kind}): tau=inf with r={r} gives the "
                                 f"input gain r dt / tau = 0: the neurons can never fire")
        else:
            if dt >= tau or _close(dt, tau):
                raise ValueError(f"NIR node {nname!r} ({kind}): dt={dt:.6g} >= tau={tau:.6g}, "
                                 f"so the leak clears the potential every step; dt must be "
                                 f"the exporter's step (presets: " + ", ".join(
                                     f"{k} {p.dt:g}" for k, p in PRESETS.items()) + ")")
            gain = r * (dt / tau if discretization == "euler" else -math.expm1(-dt / tau))
    if not math.isfinite(gain) or gain <= 0:
        raise ValueError(f"NIR node {nname!r} ({kind}): input gain {gain} (r={r}, dt={dt}) "
                         f"must be finite and > 0, else the neurons never fire")
    return kind, dt, gain, tau


def import_nir(graph, bw: int | Sequence[int] = 8, bv: int | Sequence[int] = 16,
               dt: float | None = None, saturate: bool = True, preset: str | None = None,
               reset: str | None = None, leak_order: str | None = None,
               clip: str | float = "max", discretization: str | None = None) -> NirImport:
    """Quantize a NIR graph (a ``nir.NIRGraph`` or a path readable by ``nir.read``).

    Parameters:
        bw, bv: weight and potential resolution, one for all layers or one per layer;
            ``bw >= 2`` (a 1-bit signed weight cannot be positive).
        dt: the time step (> 0) in the unit of the graph's time constants; None: the
            preset's, else ``graph.metadata["dt"]``, else an error.
        saturate: the layers' saturate/wrap setting.
        preset: a framework of `PRESETS` (dt, leak order, reset).
        reset: "hard" or "soft" (default: the preset's, else "hard").
        leak_order: "leak-first" or "input-first" (default: the preset's, else leak-first).
        clip: "max" (scale from the largest weight) or a percentile in (0, 100] of the
            layer's ``|weights|`` (larger weights saturate; counted in the report).
        discretization: "euler" (NIR's step: ``d = 1 - dt/tau``, ``g = r dt/tau``) or
            "exp" (``d = exp(-dt/tau)``, ``g = r (1 - d)``); default: the preset's, else
            euler.

    Raises:
        ValueError: an unsupported node or parameter (named), neurons that can never fire
            or always reset, a bad shape, a resolution out of range, or a threshold that
            does not fit ``bv`` bits after scaling.
    """
    if not hasattr(graph, "nodes"):
        graph = read_graph(graph)
    if clip != "max" and not (isinstance(clip, (int, float)) and 0 < clip <= 100):
        raise ValueError(f"`clip` must be 'max' or a percentile in (0, 100], not {clip!r}")
    chain = _chain(graph)
    pairs = _graph_layers(chain)
    conv = _resolve(graph, dt, preset, reset, leak_order, discretization)
    n = len(pairs)
    bws, bvs = _per_layer(bw, n, "bw"), _per_layer(bv, n, "bv")
    # a layer whose synapse has a bias needs the always-active source: the previous layer
    # grows a neuron that fires at every tick (layer 0: the host's input event)
    has_bias = [syn["bias"] is not None for syn, _ in pairs]
    units = tuple(has_bias[i + 1] if i + 1 < n else False for i in range(n))
    layers, floats, report, rows = [], [], [], []
    for i, (syn, (nname, neuron)) in enumerate(pairs):
        kind, ldt, gain, tau = _neuron(nname, neuron, conv["dt_lif"], conv["dt_if"],
                                       conv["discretization"])
        cfg_bw, cfg_bv = bws[i], bvs[i]
        LayerConfig(bw=cfg_bw, bv=cfg_bv)           # validates the resolutions
        if cfg_bw < 2:
            raise ValueError(f"`bw` of layer {syn['name']!r} must be in [2, 32] for NIR "
                             f"import (a 1-bit signed weight is -1 or 0, so every positive "
                             f"weight would be lost), not {cfg_bw}")
        lname = syn["name"]
        decay = 1.0 if tau is None else 1.0 - ldt / tau if conv["discretization"] == "euler" \
            else math.exp(-ldt / tau)
        if tau is None:
            leak_mode, k, decay_i = "none", 0, 1.0
        else:
            euler = conv["discretization"] == "euler"
            k = int(round(math.log2(tau / ldt if euler else 1.0 / (1.0 - decay))))
            if k < 1:
                what = "1 - dt/tau" if euler else "exp(-dt/tau)"
                raise ValueError(f"NIR node {nname!r} ({kind}): decay {what} = {decay:.4g} "
                                 f"rounds to 0 (leak shift 0 clears the potential every "
                                 f"step); the neurons always reset. Is dt={ldt:g} right?")
            if k > cfg_bv - 1:
                raise ValueError(f"NIR node {nname!r} ({kind}): decay {decay:.6g} needs leak "
                                 f"shift {k} but bv={cfg_bv} allows at most {cfg_bv - 1}, so "
                                 f"it would round to 1 (no leak); raise `bv` of layer "
                                 f"{lname!r} to {k + 1}")
            leak_mode, decay_i = "shift", 1.0 - 2.0 ** -k
        d_hw = decay_i if conv["leak_order"] == "leak-first" else 1.0
        factor = gain / d_hw                    # float weight -> hardware weight
        w_eff = gain * syn["dense"]
        b_eff = None if syn["bias"] is None else gain * syn["bias"]
        w_hw = factor * syn["dense"]
        b_hw = None if syn["bias"] is None else factor * syn["bias"]
        qmax = (1 << (cfg_bw - 1)) - 1
        # the weights as trained (a conv kernel, not its dense matrix full of zeros)
        mags = np.abs(factor * (syn["conv"][0] if syn["conv"] is not None else syn["dense"]))
        mags = mags.ravel() if b_hw is None else np.r_[mags.ravel(), np.abs(b_hw)]
        top = float(mags.max()) if clip == "max" else float(np.percentile(mags, clip))
        if not top > 0:
            raise ValueError(f"NIR node {lname!r}: every weight is 0, the neurons of "
                             f"{nname!r} can never fire")
        s = top / qmax
        w_int = np.clip(np.rint(w_hw / s), -qmax - 1, qmax).astype(np.int64)
        clipped = int((np.abs(w_hw / s) > qmax + 0.5).sum())
        b_int = None
        if b_hw is not None:
            b_int = np.clip(np.rint(b_hw / s), -qmax - 1, qmax).astype(np.int64)
            clipped += int((np.abs(b_hw / s) > qmax + 0.5).sum())
        if not w_int.any() and (b_int is None or not b_int.any()):
            raise ValueError(f"NIR node {lname!r}: every weight rounds to 0 at bw={cfg_bw}; "
                             f"the neurons of {nname!r} can never fire (raise bw)")
        n_out = w_hw.shape[0]
        vth = _get(neuron, "v_threshold").ravel()
        if vth.size not in (1, n_out):
            raise ValueError(f"NIR node {nname!r} ({kind}): v_threshold has {vth.size} values "
                             f"for {n_out} neurons")
        theta_f = np.broadcast_to(vth, (n_out,)).astype(np.float64)
        theta_i = _theta(theta_f, s)
        lo, hi = -(1 << (cfg_bv - 1)), (1 << (cfg_bv - 1)) - 1
        if theta_i.max() > hi:
            raise ValueError(f"NIR node {nname!r}: threshold {theta_f.max():.4g} / scale "
                             f"{s:.4g} -> {theta_i.max()} does not fit bv={cfg_bv} bits "
                             f"[{lo}, {hi}] (the neurons could never fire); raise bv or "
                             f"lower bw")
        if leak_mode == "shift" and (1 << k) > abs(theta_i).max():
            raise ValueError(f"NIR node {nname!r} ({kind}): leak shift {k} (decay "
                             f"{decay:.4g}) never changes a potential below the threshold "
                             f"{theta_i.max()}, so the decay rounds to 1; raise bw of layer "
                             f"{lname!r} (a finer scale)")
        # the always-active source (last input) and the always-firing unit (last neuron)
        if b_int is not None:
            w_int = np.concatenate([w_int, b_int[:, None]], axis=1)
        if units[i]:
            w_int = np.vstack([w_int, np.zeros((1, w_int.shape[1]), np.int64)])
            theta_i = np.r_[theta_i, 0]
        uniform = bool(np.all(theta_i == theta_i[0]))
        cfg = LayerConfig(bw=cfg_bw, bv=cfg_bv, saturate=saturate, leak_mode=leak_mode, leak=k,
                          threshold=int(theta_i[0]) if uniform else 0,
                          threshold_source="register" if uniform else "array",
                          reset=conv["reset"])
        th = None if uniform else theta_i
        if syn["conv"] is not None and b_int is None and not units[i]:
            w, in_shape, stride, padding, dilation = syn["conv"]
            kern = np.clip(np.rint(factor * w / s), -qmax - 1, qmax).astype(np.int64)
            layer = ConvLayer(kern, in_shape, cfg, stride, padding, dilation, th, name=lname)
        else:
            layer = FCLayer(w_int, cfg, th, name=lname)
        layers.append(layer)
        err = s * np.clip(np.rint(w_hw / s), -qmax - 1, qmax) - w_hw
        rms = float(np.sqrt(np.mean(err ** 2)) / max(np.sqrt(np.mean(w_hw ** 2)), 1e-300))
        report.append(LayerReport(lname, syn["nodes"] + (nname,), kind, ldt, gain, s,
                                  float(np.abs(err).max()), rms, clipped, decay, decay_i,
                                  float(theta_f.max()), int(theta_i[:n_out].max()),
                                  b_int is not None))
        floats.append(_FloatLayer(w_eff, theta_f, decay, b_eff, conv["leak_order"],
                                  conv["reset"], conv["late_subtract"]))
        rows.append({"name": lname, "nodes": list(syn["nodes"] + (nname,)), "neuron": kind,
                     "dt": ldt, "tau": math.inf if tau is None else tau, "gain": gain,
                     "scale": s, "clip": clip, "decay_float": decay, "decay_int": decay_i,
                     "threshold_float_max": float(theta_f.max()), "bias": b_int is not None,
                     "bias_unit": units[i], "clipped": clipped})
    settings = {"preset": conv["preset"] or "", "dt_source": conv["dt_from"],
                "leak_order": conv["leak_order"], "reset": conv["reset"],
                "discretization": conv["discretization"],
                "late_subtract_in_framework": conv["late_subtract"], "saturate": saturate,
                "input_bias": has_bias[0], "layers": rows}
    return NirImport(Network(layers), floats, report, settings, has_bias[0], units)


