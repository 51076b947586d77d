"""What fits the accelerator that ``flexspim run`` executes: one check for ``run`` and ``map``.

The system (``hdl/system.py``, its golden model and the RTL) keeps every weight resident:
a layer goes to one or more cores as its dense fully connected layer (a conv layer as
`ConvLayer.dense_weights`), split by output neurons into chunks of whole neuron slots, each
chunk receiving all of the layer's inputs (multicast). Per neuron slot a core stores the
slot's weights (``n_in * w_rows`` rows), its potential (``v_rows`` rows) and, with
``threshold_source = "array"``, its thresholds (``v_rows`` rows); a slot is
``cols // operand_cols`` neurons. At the layer's operand shape ``N_C`` (`LayerConfig`
``operand_cols``; `mapper.shape` chooses it for ``run --operand-cols auto``) ``w_rows =
ceil(bw / N_C)`` and ``v_rows = ceil(bv / N_C)``; at ``N_C = 1`` they are ``bw`` and ``bv``.

`system_fit` decides, for a network and a core geometry, how many cores the network needs
and which part of which layer each core holds, or refuses with one line that names the
layer and the resource that runs out:

* **operand shape**: a layer's ``operand_cols`` is above the macro's ``max_operand_cols``;
* **rows**: a layer's ``bv`` exceeds what the array can hold, or one neuron slot needs more
  rows than the array has (a neuron's inputs cannot be split across cores: partial sums
  would be clamped separately, not each batch's total);
* **index bits**: a layer has more inputs, or the output layer more neurons, than an
  ``index_bits``-bit event index numbers (the router would drop the larger indices);
* **cores**: the split needs more cores than the system has (``n_cores``) or than the
  generator builds (`flexspim.config.MAX_CORES`).

``flexspim run`` sizes its system with it; ``flexspim map`` prints its verdict beside the
energy plan, since the mapper also models weight streaming (OS), potential swapping and
shared convolution tables, which place layers that the system cannot run.
"""

from __future__ import annotations

from dataclasses import dataclass

from flexspim.config import MAX_CORES, CoreConfig, FCLayout, shape_bits

__all__ = ["DEFAULT_MACRO", "DoesNotFit", "LayerFit", "SystemFit", "system_fit", "RESOURCES"]

#: The macro ``run`` and ``map`` use when neither options nor ``--config`` give one.
DEFAULT_MACRO = {"rows": 2048, "cols": 64, "batch_max": 8}
#: The resources a refusal can name.
RESOURCES = ("rows", "index bits", "cores", "operand shape")


class DoesNotFit(ValueError):
    """The network cannot run on the system; ``resource`` is one of `RESOURCES`."""

    def __init__(self, message: str, resource: str, layer: int | None = None):
        super().__init__(message)
        self.resource, self.layer = resource, layer


@dataclass(frozen=True)
class LayerFit:
    """One layer on the system: ``chunks`` are ``(first neuron, neurons)`` per core.

    ``slot_rows`` rows per neuron slot (weights, potential, thresholds); ``slots`` slots per
    core; ``bound`` is the resource that limits the neurons per core ("rows" or
    "index bits")."""

    index: int
    name: str
    n_in: int
    n_out: int
    slot_rows: int
    slots: int
    neurons_per_core: int
    bound: str
    chunks: tuple[tuple[int, int], ...]

    @property
    def cores(self) -> int:
        return len(self.chunks)


@dataclass(frozen=True)
class SystemFit:
    """Result of `system_fit`: the layers' placements, and whether every layer's spikes fit
    the external output's index range side by side (``monitor``; else only the output
    layer's spikes are observable)."""

    layers: tuple[LayerFit, ...]
    monitor: bool

    @property
    def cores(self) -> int:
        return sum(lf.cores for lf in self.layers)

    @property
    def plan(self) -> list[tuple[int, int, int]]:
        """``(layer, first neuron, neurons)`` per core, in core order."""
        return [(lf.index, a, n) for lf in self.layers for a, n in lf.chunks]

    def per_layer(self) -> str:
        """Per layer, its index and name (an imported layer's name is its NIR node's) and
        its cores: ``layer 0 'fc0' on 1``."""
        return ", ".join(f"layer {lf.index} '{lf.name}' on {lf.cores}" for lf in self.layers)

    def summary(self, n_cores: int | None = None) -> str:
        of = f" of {n_cores}" if n_cores is not None else ""
        return f"fits on {self.cores}{of} cores ({self.per_layer()})"


def _slot_rows(layer) -> int:
    cfg = layer.config
    return cfg.v_rows * (2 if cfg.threshold_source == "array" else 1) + layer.n_in * cfg.w_rows


def system_fit(network, core: CoreConfig, n_cores: int | None = None) -> SystemFit:
    """Place ``network`` on cores of geometry ``core`` (see the module docstring).

    ``n_cores``: the cores available (None: as many as needed, up to `MAX_CORES`).
    Raises `DoesNotFit` (a `ValueError`) naming the layer and the resource.
    """
    macro, lim = core.macro, 1 << core.index_bits
    layers = list(network.layers)
    fits = []
    for i, layer in enumerate(layers):
        name = layer.name or f"layer{i}"
        cfg = layer.config
        where = f"layer {i} ({name})"
        n_c = cfg.operand_cols
        if n_c > macro.max_operand_cols:
            raise DoesNotFit(f"{where}: operand_cols={n_c} but the macro's max_operand_cols is "
                             f"{macro.max_operand_cols} (allowed: powers of two in [1, "
                             f"{macro.max_operand_cols}]; generate with --max-operand-cols "
                             f"{n_c})", "operand shape", i)
        limit = shape_bits(macro, n_c)
        if cfg.bv > limit:
            shape = f" at operand_cols={n_c}" if n_c > 1 else ""
            raise DoesNotFit(f"{where}: bv={cfg.bv} needs more rows than a {macro.rows}-row "
                             f"array can give one operand{shape} (at most {limit})", "rows", i)
        if layer.n_in > lim:
            raise DoesNotFit(f"{where} has {layer.n_in} inputs but index_bits="
                             f"{core.index_bits} numbers only {lim} (index bits)",
                             "index bits", i)
        if i == len(layers) - 1 and layer.n_out > lim:
            raise DoesNotFit(f"{where} (the output layer) has {layer.n_out} neurons but "
                             f"index_bits={core.index_bits} numbers only {lim} on the output "
                             f"(index bits)", "index bits", i)
        per_slot = _slot_rows(layer)
        slots = macro.rows // per_slot
        if slots == 0:
            thr = " and threshold" if cfg.threshold_source == "array" else ""
            conv = "; a conv layer runs as its dense FC layer" \
                if hasattr(layer, "in_shape") else ""
            shape = f" at operand_cols={n_c}" if n_c > 1 else ""
            raise DoesNotFit(f"{where}: one neuron slot needs {per_slot} rows ({layer.n_in} "
                             f"inputs x bw={cfg.bw} plus potential{thr} rows{shape}{conv}) but the "
                             f"array has {macro.rows} rows; the system keeps weights resident "
                             f"and cannot split a neuron's inputs across cores", "rows", i)
        per_slot_neurons = macro.cols // n_c
        chunk = min(slots * per_slot_neurons, lim)
        bound = "rows" if chunk == slots * per_slot_neurons else "index bits"
        chunk -= chunk % per_slot_neurons if chunk > per_slot_neurons else 0
        chunks = tuple((a, min(chunk, layer.n_out - a)) for a in range(0, layer.n_out, chunk))
        for _, n in chunks:      # the layout the driver programs; cannot fail after the above
            try:
                FCLayout.packed(core, cfg, layer.n_in, n)
            except ValueError as e:
                raise DoesNotFit(f"{where}: {e}", "rows", i) from None
        fits.append(LayerFit(i, name, layer.n_in, layer.n_out, per_slot, slots, chunk, bound,
                             chunks))
    result = SystemFit(tuple(fits), sum(lf.n_out for lf in fits) <= lim)
    cap = MAX_CORES if n_cores is None else min(n_cores, MAX_CORES)
    if result.cores > cap:
        have = (f"the system has n_cores={n_cores}" if n_cores is not None
                and n_cores <= MAX_CORES else f"the system generator builds at most "
                f"{MAX_CORES} (MAX_CORES)")
        widest = max(fits, key=lambda lf: lf.cores)
        per = (f"{widest.slots} slot{'s' if widest.slots != 1 else ''} of "
               f"{widest.slot_rows} rows in {macro.rows} rows, {macro.cols} columns each"
               if widest.bound == "rows" else f"index_bits={core.index_bits}")
        raise DoesNotFit(f"the network needs {result.cores} cores ({result.per_layer()}) but "
                         f"{have}; a core holds {widest.neurons_per_core} neurons of "
                         f"{widest.name} ({per})", "cores")
    return result
