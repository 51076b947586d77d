"""Synthetic DVS gesture-like event streams, in tonic's event format, and their conversion to
flexspim event streams.

**Event format** (the same as ``tonic.datasets.DVSGesture``): a NumPy structured array with
fields ``x`` (int16), ``y`` (int16), ``p`` (bool, True = ON = brightness increase) and ``t``
(int64, microseconds), sorted by ``t``. The sensor size is ``(W, H, 2)`` as in tonic. A user
with a real tonic dataset passes its events to `events_to_stream` the same way.

**Generator** (`synthetic_gesture`): a bright shape (disk, square, bar or cross) on a dark
background moves, rotates or scales along one of `GESTURES` (11 classes, like DVS Gesture).
The scene is rendered with anti-aliased edges every ``frame_us``; every pixel keeps a
log-intensity reference and emits one event per ``contrast`` crossed (ON when brighter,
OFF when darker), the DVS pixel model, with timestamps spread uniformly inside the frame
interval; background-activity noise adds ``noise_hz`` random events per pixel and second.
Events come only from moving edges, so streams are sparse the way DVS streams are (a few
percent of pixels active per millisecond-scale bin).

**Conversion** (`events_to_stream`): pixel ``(x, y)`` of polarity ``p`` is source
``p * H * W + y * W + x`` (channel-major ``(c, y, x)`` flattening with c = 0 for OFF, 1 for
ON; a following `golden.layers.ConvLayer` takes ``in_shape = (2, H, W)``). Time is cut
into bins of ``dt_us``; a bin's events keep their time order (ties: array order), a tick ends
every bin, and a pixel that fires twice in a bin is two events (the batching rule splits
them into two batches).
"""

from __future__ import annotations

import numpy as np

from flexspim.golden.batching import TICK

__all__ = ["EVENT_DTYPE", "GESTURES", "SHAPES", "make_events", "synthetic_gesture",
           "synthetic_dataset", "events_to_stream", "input_density"]

EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("p", bool), ("t", np.int64)])
GESTURES = ("right", "left", "up", "down", "rotate_cw", "rotate_ccw", "grow", "shrink",
            "circle", "wave", "zigzag")
SHAPES = ("disk", "square", "bar", "cross")


def make_events(x, y, p, t) -> np.ndarray:
    """A tonic-format structured array from field arrays, sorted by ``t`` (stable)."""
    ev = np.zeros(len(t), dtype=EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"], ev["t"] = x, y, p, t
    return ev[np.argsort(ev["t"], kind="stable")]


def _render(shape: str, w: int, h: int, cx, cy, size, angle) -> np.ndarray:
    """Brightness in [0.1, 1]: an anti-aliased shape (signed distance, 1-pixel edge)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    c, s = np.cos(angle), np.sin(angle)
    u = (xx - cx) * c + (yy - cy) * s
    v = -(xx - cx) * s + (yy - cy) * c
    if shape == "disk":
        d = np.hypot(u, v) - size
    elif shape == "square":
        d = np.maximum(np.abs(u), np.abs(v)) - size
    elif shape == "bar":
        d = np.maximum(np.abs(u) - size, np.abs(v) - size / 4)
    else:  # cross
        d = np.minimum(np.maximum(np.abs(u) - size, np.abs(v) - size / 5),
                       np.maximum(np.abs(v) - size, np.abs(u) - size / 5))
    return 0.1 + 0.9 * np.clip(0.5 - d, 0.0, 1.0)


def _trajectory(gesture: str, f: np.ndarray, w: int, h: int, size0: float, rng):
    """Centre, size and angle of the shape at clip fractions ``f`` in [0, 1]."""
    jx, jy = rng.uniform(-0.05, 0.05, 2)
    cx = np.full_like(f, (0.5 + jx) * w)
    cy = np.full_like(f, (0.5 + jy) * h)
    size = np.full_like(f, size0)
    angle = np.full_like(f, rng.uniform(0, np.pi))
    span = 0.5
    if gesture == "right":
        cx = (0.25 + jx + span * f) * w
    elif gesture == "left":
        cx = (0.75 + jx - span * f) * w
    elif gesture == "up":
        cy = (0.75 + jy - span * f) * h
    elif gesture == "down":
        cy = (0.25 + jy + span * f) * h
    elif gesture in ("rotate_cw", "rotate_ccw"):
        angle = angle + (1 if gesture == "rotate_cw" else -1) * 2 * np.pi * f
    elif gesture == "grow":
        size = size0 * (0.4 + 1.2 * f)
    elif gesture == "shrink":
        size = size0 * (1.6 - 1.2 * f)
    elif gesture == "circle":
        cx = cx + 0.2 * w * np.cos(2 * np.pi * f)
        cy = cy + 0.2 * h * np.sin(2 * np.pi * f)
    elif gesture == "wave":
        cx = cx + 0.25 * w * np.sin(4 * np.pi * f)
    else:  # zigzag
        cx = cx + 0.25 * w * (2 * np.abs(2 * ((2 * f) % 1) - 1) - 1)
        cy = (0.25 + jy + span * f) * h
    return cx, cy, size, angle


def synthetic_gesture(rng: np.random.Generator, gesture: str | int, sensor_size=(128, 128, 2),
                      duration_us: int = 500_000, frame_us: int = 2_000,
                      contrast: float = 0.4, noise_hz: float = 0.2,
                      shape: str | None = None) -> np.ndarray:
    """One synthetic gesture clip (see the module docstring).

    Parameters:
        gesture: a name of `GESTURES` or its index (the class label).
        sensor_size: ``(W, H, 2)``, as tonic gives it.
        duration_us, frame_us: clip length and rendering interval (µs, > 0).
        contrast: log-intensity step per event (the DVS threshold), > 0.
        noise_hz: background events per pixel and second, >= 0.
        shape: one of `SHAPES`; drawn when None.

    Raises:
        ValueError: any parameter out of range, naming it.
    """
    if isinstance(gesture, (int, np.integer)) and not isinstance(gesture, bool):
        if not 0 <= gesture < len(GESTURES):
            raise ValueError(f"`gesture` index must be in [0, {len(GESTURES) - 1}], "
                             f"not {gesture}")
        gesture = GESTURES[gesture]
    if gesture not in GESTURES:
        raise ValueError(f"`gesture` must be one of {', '.join(GESTURES)}; not {gesture!r}")
    if len(sensor_size) != 3 or sensor_size[2] != 2 or min(sensor_size[:2]) < 4:
        raise ValueError(f"`sensor_size` must be (W, H, 2) with W, H >= 4, not {sensor_size}")
    for name, v, lo in (("duration_us", duration_us, 1), ("frame_us", frame_us, 1)):
        if int(v) != v or v < lo:
            raise ValueError(f"`{name}` must be an integer >= {lo}, not {v!r}")
    if not contrast > 0:
        raise ValueError(f"`contrast` must be > 0, not {contrast!r}")
    if not noise_hz >= 0:
        raise ValueError(f"`noise_hz` must be >= 0, not {noise_hz!r}")
    shape = shape or str(rng.choice(SHAPES))
    if shape not in SHAPES:
        raise ValueError(f"`shape` must be one of {', '.join(SHAPES)}; not {shape!r}")
    w, h = int(sensor_size[0]), int(sensor_size[1])
    n_frames = max(2, duration_us // frame_us + 1)
    f = np.linspace(0.0, 1.0, n_frames)
    cx, cy, size, angle = _trajectory(gesture, f, w, h, rng.uniform(0.12, 0.2) * min(w, h),
                                      rng)
    ref = np.log(_render(shape, w, h, cx[0], cy[0], size[0], angle[0]))
    xs, ys, ps, ts = [], [], [], []
    for k in range(1, n_frames):
        cur = np.log(_render(shape, w, h, cx[k], cy[k], size[k], angle[k]))
        n = np.fix((cur - ref) / contrast).astype(np.int64)   # events per pixel, signed
        ref = ref + n * contrast
        yy, xx = np.nonzero(n)
        reps = np.abs(n[yy, xx])
        xs.append(np.repeat(xx, reps))
        ys.append(np.repeat(yy, reps))
        ps.append(np.repeat(n[yy, xx] > 0, reps))
        ts.append(rng.integers((k - 1) * frame_us, k * frame_us, size=int(reps.sum())))
    n_noise = rng.poisson(noise_hz * w * h * duration_us * 1e-6)
    xs.append(rng.integers(0, w, n_noise))
    ys.append(rng.integers(0, h, n_noise))
    ps.append(rng.random(n_noise) < 0.5)
    ts.append(rng.integers(0, duration_us, n_noise))
    return make_events(np.concatenate(xs), np.concatenate(ys), np.concatenate(ps),
                       np.concatenate(ts))


def synthetic_dataset(rng: np.random.Generator, per_class: int = 1, **kwargs):
    """``per_class`` clips of every gesture: a list of ``(events, label)``."""
    return [(synthetic_gesture(rng, g, **kwargs), g)
            for g in range(len(GESTURES)) for _ in range(per_class)]


def events_to_stream(events: np.ndarray, sensor_size, dt_us: int, n_steps: int | None = None,
                     downsample: int = 1, t0: int | None = None) -> np.ndarray:
    """tonic-format events to a flexspim event stream (see the module docstring).

    Parameters:
        sensor_size: ``(W, H, 2)`` of the events.
        dt_us: time-bin (time step) length in µs, >= 1.
        n_steps: number of time steps (bins after the last are dropped; missing bins are
            empty steps); by default up to the last event.
        downsample: integer factor on x and y (pixel ``(x, y)`` -> ``(x // d, y // d)``),
            so the stream's inputs are ``2 * ceil(H / d) * ceil(W / d)``.
        t0: time of the first bin's start; the first event's time by default.

    Raises:
        ValueError: a missing field, an out-of-range coordinate, polarity or parameter.
    """
    names = set(events.dtype.names or ())
    if not {"x", "y", "p", "t"} <= names:
        raise ValueError(f"`events` must have fields x, y, p, t; not {sorted(names)}")
    if int(dt_us) != dt_us or dt_us < 1:
        raise ValueError(f"`dt_us` must be an integer >= 1, not {dt_us!r}")
    if int(downsample) != downsample or downsample < 1:
        raise ValueError(f"`downsample` must be an integer >= 1, not {downsample!r}")
    p = events["p"]
    if p.dtype != bool and p.size and (not np.issubdtype(p.dtype, np.integer)
                                       or p.min() < 0 or p.max() > 1):
        raise ValueError(f"polarity `p` of `events` must be bool or 0/1 (OFF/ON), not "
                         f"{p.dtype} values in [{p.min()}, {p.max()}]; convert -1/+1 "
                         f"polarities with p > 0")
    w, h = int(sensor_size[0]), int(sensor_size[1])
    x, y = events["x"].astype(np.int64), events["y"].astype(np.int64)
    if x.size and (x.min() < 0 or x.max() >= w or y.min() < 0 or y.max() >= h):
        raise ValueError(f"event coordinates must be inside the sensor ({w} x {h})")
    wd, hd = -(-w // downsample), -(-h // downsample)
    src = events["p"].astype(np.int64) * hd * wd + (y // downsample) * wd + x // downsample
    t = events["t"].astype(np.int64)
    order = np.argsort(t, kind="stable")
    src, t = src[order], t[order]
    start = (int(t[0]) if t.size else 0) if t0 is None else int(t0)
    keep = t >= start
    src, t = src[keep], t[keep]
    step = (t - start) // int(dt_us)
    if n_steps is None:
        n_steps = int(step.max()) + 1 if step.size else 0
    keep = step < n_steps
    src, step = src[keep], step[keep]
    # insert a tick after each bin: event i goes after the ticks of all earlier bins
    out = np.full(src.size + n_steps, TICK, dtype=np.int64)
    out[np.arange(src.size) + step] = src
    return out


def input_density(stream: np.ndarray, n_in: int) -> float:
    """Mean fraction of the ``n_in`` inputs that fire per time step (repeats count)."""
    s = np.asarray(stream)
    steps = max(1, int((s == TICK).sum()))
    return float((s != TICK).sum()) / (steps * n_in)
