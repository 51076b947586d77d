"""The shipped example: a DVS-gesture-sized convolutional SNN and its synthetic input.

Topology of ``dvs-gesture`` (input: DVS Gesture's 2 x 128 x 128 events downsampled by 2,
as is common, to 2 x 64 x 64; every conv is 3 x 3, stride 2, padding 1)::

    layer  kind   shape out        neurons  bw  bv  leak           threshold  table rows
    conv1  conv   16 x 32 x 32      16384    4  12  shift 3 (1/8)  12          2*9*4  =   72
    conv2  conv   32 x 16 x 16       8192    4  12  shift 3        20         16*9*4  =  576
    conv3  conv   64 x  8 x  8       4096    3  10  shift 3        20         32*9*3  =  864
    conv4  conv   32 x  4 x  4        512    3  10  shift 3        30         64*9*3  = 1728
    fc     fc     11                   11    3  10  shift 3        40        512*3    = 1536

(11 outputs: the DVS Gesture classes.) All layers saturate and reset hard. The weights are
**not trained**: they are drawn from a fixed seed (normal, mean 0.2, sd 0.45 x the largest
weight, rounded and clipped) so that every layer fires at a plausible rate on the synthetic
gestures (measured over the 11 gestures, input seed 0, P = 8: the conv layers fire 1-9% of
their neurons per 5 ms step, the classifier 6-13%); the example exists to exercise
the mapper and the energy model at a realistic size, not to classify. With 2048-row macros
every table fits one macro, so both dataflows are feasible for every layer.

``fc-8b16b`` is the workload of the FlexSpIM chip's published energy per SOP (issue 23,
`flexspim.energy.presets`): one FC layer of 62 inputs to 256 IF neurons (no leak, hard reset,
threshold 8192), 8-bit weights and 16-bit potentials, which fills a 512 x 256 macro exactly
(62 x 8 weight rows + 16 potential rows = 512 rows; 256 columns), and an input in which
every source spikes once per time step, in a random order per step, so every P = 1 pass
adds one weight into all 256 columns (the chip's 16 SOP per cycle, see the presets module).
Each neuron's weights are 31 values in [-127, 127] and their negatives, shuffled: a step
adds 0 to every potential, so the potentials are 0 at every tick, no partial sum leaves
+-31 x 127 (no pass clamps: the cycle count is exact) and no neuron fires. (A first
version drew the weights like dvs-gesture's; the potentials of neurons whose 62 weights
summed below 0 drifted past -2**15 and clamped.) What the workload exercises is the
accumulates and the fire pass every step runs whether a neuron fires or not.
"""

from __future__ import annotations

import numpy as np

from flexspim.config import LayerConfig
from flexspim.golden.layers import ConvLayer, FCLayer
from flexspim.golden.network import Network

from .dvs import events_to_stream, synthetic_gesture

__all__ = ["EXAMPLES", "dvs_gesture_network", "dvs_gesture_events", "fc_8b16b_network",
           "fc_8b16b_events", "example"]

EXAMPLES = ("dvs-gesture", "fc-8b16b")
SENSOR = (128, 128, 2)
DOWNSAMPLE = 2

# name, c_out, bw, bv, threshold
_CONVS = (("conv1", 16, 4, 12, 12), ("conv2", 32, 4, 12, 20), ("conv3", 64, 3, 10, 20),
          ("conv4", 32, 3, 10, 30))
_FC_THRESHOLD = 40


def _weights(rng, bw, shape):
    lo, hi = -(1 << (bw - 1)), (1 << (bw - 1)) - 1
    return np.clip(np.rint(rng.normal(0.2, 0.45 * hi, size=shape)), lo, hi).astype(np.int64)


def dvs_gesture_network(seed: int = 0) -> Network:
    """The example network (see the module docstring); same seed, same weights. The shipped
    example (`example`, ``flexspim map --example``) is always seed 0."""
    rng = np.random.default_rng(seed)
    shape = (2, 128 // DOWNSAMPLE, 128 // DOWNSAMPLE)
    layers = []
    for name, c_out, bw, bv, th in _CONVS:
        cfg = LayerConfig(bw=bw, bv=bv, leak_mode="shift", leak=3, threshold=th)
        layer = ConvLayer(_weights(rng, bw, (c_out, shape[0], 3, 3)), shape, cfg, stride=2,
                          padding=1, name=name)
        layers.append(layer)
        shape = layer.out_shape
    cfg = LayerConfig(bw=3, bv=10, leak_mode="shift", leak=3, threshold=_FC_THRESHOLD)
    layers.append(FCLayer(_weights(rng, 3, (11, int(np.prod(shape)))), cfg, name="fc"))
    return Network(layers)


def dvs_gesture_events(seed: int = 0, gesture: int = 0, dt_us: int = 5_000,
                       n_steps: int = 40, **kwargs) -> np.ndarray:
    """Synthetic gesture ``gesture`` as an event stream for `dvs_gesture_network`:
    ``n_steps`` bins of ``dt_us`` (default 40 x 5 ms = 200 ms)."""
    rng = np.random.default_rng(seed)
    kwargs.setdefault("duration_us", dt_us * n_steps)
    ev = synthetic_gesture(rng, gesture, SENSOR, **kwargs)
    return events_to_stream(ev, SENSOR, dt_us, n_steps=n_steps, downsample=DOWNSAMPLE, t0=0)


#: ``fc-8b16b``: inputs, neurons, threshold (see the module docstring).
FC8_INPUTS, FC8_NEURONS, FC8_THRESHOLD = 62, 256, 8192


def fc_8b16b_network(seed: int = 0) -> Network:
    """The ``fc-8b16b`` network (module docstring); same seed, same weights."""
    rng = np.random.default_rng(seed)
    cfg = LayerConfig(bw=8, bv=16, leak_mode="none", threshold=FC8_THRESHOLD)
    half = rng.integers(-127, 128, size=(FC8_NEURONS, FC8_INPUTS // 2))
    w = np.concatenate([half, -half], axis=1)          # each neuron's weights sum to 0
    w = np.take_along_axis(w, rng.permuted(np.tile(np.arange(FC8_INPUTS), (FC8_NEURONS, 1)),
                                           axis=1), axis=1)
    return Network([FCLayer(w, cfg, name="fc")])


def fc_8b16b_events(seed: int = 0, n_steps: int = 40) -> np.ndarray:
    """Every one of the `FC8_INPUTS` sources once per step, in a random order per step,
    ``n_steps`` steps (each closed by a tick, -1)."""
    rng = np.random.default_rng(seed)
    steps = [np.append(rng.permutation(FC8_INPUTS), -1) for _ in range(n_steps)]
    return np.concatenate(steps).astype(np.int64)


def example(name: str, seed: int = 0, **events_kwargs):
    """``(network, events)`` of a shipped example. The network is always the same (weights
    from seed 0); ``seed`` and ``events_kwargs`` (e.g. ``n_steps``, ``dt_us``, ``gesture``,
    see `dvs_gesture_events`) only change the generated input.

    Raises:
        ValueError: an unknown example name.
    """
    if name not in EXAMPLES:
        raise ValueError(f"`--example` must be one of {', '.join(EXAMPLES)}; not {name!r}")
    if name == "fc-8b16b":
        if set(events_kwargs) - {"n_steps"}:
            raise ValueError(f"`{sorted(set(events_kwargs) - {'n_steps'})[0]}` does not apply "
                             f"to the fc-8b16b example (its input is not binned)")
        return fc_8b16b_network(0), fc_8b16b_events(seed, **events_kwargs)
    return dvs_gesture_network(0), dvs_gesture_events(seed, **events_kwargs)
