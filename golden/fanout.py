"""The conv address generator (the core's fan-out unit): input event -> accumulates.

Specification of what a core issues for a batch of input events on the layer described by a
`ConvGeometry` (docs/dataflow.md, section 4, has the decision and the numbers). It computes,
from registers only, what the mapper's CSR (`mapper.tiling.Tiling.reach`) lists; a test
checks that the two agree on every geometry it draws.

Numbering is the network's: source ``s = c*h*w + y*w + x`` (and, with ``bias``, the bias
source ``c_in*h*w``); tile ``t = ct*n_pos + p`` holds channels ``ct*cols ..`` of output
position ``p = oy*out_w + ox``; table ``ct``'s operand ``op = c*kh*kw + ky*kw + kx`` (the bias
operand ``c_in*kh*kw``); a spike of column ``col`` of tile ``(ct, p)`` is output neuron
``(ct*cols + col)*n_pos + p``.

Per event (`event_entries`), as the hardware computes it:

1. ``c, y, x`` by two divisions: ``divmod(s, h*w)`` then ``divmod(rest, w)``.
2. ``(qy, ry) = divmod(y + pad_y, stride_y)``, likewise ``(qx, rx)``.
3. Taps in ``(ky, kx)`` ascending order. The tap reaches output row ``oy`` when
   ``oy * stride_y = y + pad_y - ky * dil_y``; ``(qy, ry)`` is that quantity's quotient and
   remainder by ``stride_y``, kept **incrementally** from one ``ky`` to the next (subtract
   ``dil_y mod stride_y`` from ``ry`` and ``dil_y div stride_y`` from ``qy``, borrowing one
   stride when ``ry`` goes negative), so the hardware divides only once per axis and event.
   The tap is valid when ``ry == 0`` and ``0 <= qy < out_h`` (same for x), and then gives
   the **entry** ``(p, op)``.

Divisions are restoring, one quotient bit per step; `divide` returns the steps: the bit
length of the largest quotient the registers allow (0 when the divisor is 1, so an FC layer,
``h = w = 1``, ``stride = 1``, needs none).

Cycles (`event_cycles`, `phase_steps`; the unit is `flexspim.hdl.fanout.FanoutUnit`, one
event at a time). An event costs, from the cycle its handshake is taken to the cycle the
unit takes the next one, with an output that never stalls::

    1 + steps_c + steps_y + steps_ay + steps_ax + steps_op + steps_row + taps

``1``: the cycle that takes the event (an out-of-range source costs that cycle only and
sends nothing). Then six serial phases of one step per cycle, each with its step count from
the registers alone (so every in-range source of a layer costs the same):

* ``steps_c``: ``c, rest = divmod(s, h*w)``: 0 when ``h*w = 1``, else the bit length of
  ``c_in - 1 + bias`` (the bias source divides too: its quotient ``c_in`` makes its operand);
* ``steps_y``: ``y, x = divmod(rest, w)``: 0 when ``w = 1``, else the bit length of ``h - 1``;
* ``steps_ay``, ``steps_ax``: ``divmod(y + pad_y, stride_y)`` and the same for x: 0 when the
  stride is 1, else the bit length of ``(h - 1 + pad_y) // stride_y``;
* ``steps_op``: ``c * kh * kw`` (the event's first operand), shift-and-add over the bits of
  ``kh * kw``: 0 when ``kh * kw = 1``, else its bit length;
* ``steps_row``: ``qy * out_w`` (the first tap row's position), over the bits of ``out_w``:
  0 when ``out_w = 1``, else its bit length.

A phase with no step costs no cycle. ``taps``: one cycle per kernel tap, ``kh * kw``, valid
or not (the incremental rule above walks them all; one entry leaves per valid tap), or 1 for
the bias source (one entry flagged ``all``). Each cycle the output holds a valid entry that
is not taken adds one cycle (back-pressure stalls the unit, nothing is dropped).
`batch_cycles`: the events of a batch one after another, the sum of their costs.

Per batch (`batch_accumulates`): one accumulate per tile of the core's range that the batch
reaches, in **ascending tile order**, its operands in batch order (exactly
`mapper.program.LayerProgram.run`); the bias source reaches every tile.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

from flexspim.config import ConvGeometry

from .layers import ConvLayer, FCLayer

__all__ = ["geometry", "divide", "event_entries", "batch_accumulates", "output_neuron",
           "Accumulate", "ALL_TILES", "PHASES", "phase_steps", "event_cycles", "batch_cycles"]

#: `event_entries` of the bias source: it reaches every tile with the bias operand.
ALL_TILES = None


def geometry(layer) -> ConvGeometry:
    """The generator's registers for an `FCLayer` (a 1 x 1 convolution) or a `ConvLayer`.

    Raises:
        ValueError: another layer type, or a kernel, stride or dilation beyond `MAX_KERNEL`.
    """
    if isinstance(layer, FCLayer):
        n_out, n_in = layer.weights.shape
        return ConvGeometry.fc(n_in, n_out)
    if isinstance(layer, ConvLayer):
        c_out, c_in, kh, kw = layer.weights.shape
        _, h, w = layer.in_shape
        return ConvGeometry(c_in=c_in, h=h, w=w, c_out=c_out, kh=kh, kw=kw,
                            stride=layer.stride, padding=layer.padding,
                            dilation=layer.dilation)
    raise ValueError(f"`layer` must be an FCLayer or ConvLayer, not {type(layer).__name__}")


def divide(n: int, d: int, q_max: int) -> tuple[int, int, int]:
    """``(n // d, n % d, steps)`` by restoring division with a quotient of ``q_max.bit_length()``
    bits (``q_max``: the largest quotient the registers allow; the caller guarantees
    ``n // d <= q_max``). Steps: one per quotient bit; none when ``d`` is 1."""
    if d == 1:
        return n, 0, 0
    steps = q_max.bit_length()
    q, r = 0, n
    for i in reversed(range(steps)):
        if r >= d << i:
            r -= d << i
            q |= 1 << i
    if r >= d:   # pragma: no cover - the caller's bound was wrong
        raise AssertionError(f"quotient of {n} / {d} exceeds {q_max}")
    return q, r, steps


def _axis_taps(v: int, n: int, pad: int, stride: int, dil: int, k: int,
               n_out: int) -> list[tuple]:
    """Valid ``(k_index, o)`` of coordinate ``v`` of an axis of ``n`` inputs, by the
    incremental quotient/remainder rule."""
    q, r, _ = divide(v + pad, stride, (n - 1 + pad) // stride)
    dq, dr = divmod(dil, stride)
    out = []
    for kk in range(k):
        if r == 0 and 0 <= q < n_out:
            out.append((kk, q))
        r, q = r - dr, q - dq
        if r < 0:
            r, q = r + stride, q - 1
    return out


def event_entries(g: ConvGeometry, s: int) -> list[tuple[int, int]] | None:
    """Entries ``(p, op)`` of source ``s``, in tap order; `ALL_TILES` for the bias source.

    Raises:
        ValueError: ``s`` outside ``0 .. g.n_in - 1`` (the core drops and counts it).
    """
    if not 0 <= s < g.n_in:
        raise ValueError(f"source {s} is outside the layer's {g.n_in} inputs")
    if g.bias and s == g.n_in - 1:
        return ALL_TILES
    c, rest, _ = divide(s, g.h * g.w, g.c_in - 1 + int(g.bias))
    y, x, _ = divide(rest, g.w, g.h - 1)
    ys = _axis_taps(y, g.h, g.padding[0], g.stride[0], g.dilation[0], g.kh, g.out_h)
    xs = _axis_taps(x, g.w, g.padding[1], g.stride[1], g.dilation[1], g.kw, g.out_w)
    return [(oy * g.out_w + ox, c * g.kh * g.kw + ky * g.kw + kx)
            for ky, oy in ys for kx, ox in xs]


#: The serial phases of an event, in order (module docstring).
PHASES = ("c", "y", "ay", "ax", "op", "row")


def _mul_steps(m: int) -> int:
    """Shift-and-add steps of a multiply by the register value ``m``: none for 1."""
    return 0 if m == 1 else m.bit_length()


def phase_steps(g: ConvGeometry) -> dict[str, int]:
    """Steps (cycles) of each of `PHASES` for any in-range source of ``g``."""
    plane = g.h * g.w
    (ph, pw), (sy, sx) = g.padding, g.stride
    return {
        "c": divide(0, plane, g.c_in - 1 + int(g.bias))[2],
        "y": divide(0, g.w, g.h - 1)[2],
        "ay": divide(0, sy, (g.h - 1 + ph) // sy)[2],
        "ax": divide(0, sx, (g.w - 1 + pw) // sx)[2],
        "op": _mul_steps(g.kh * g.kw),
        "row": _mul_steps(g.out_w),
    }


def event_cycles(g: ConvGeometry, s: int) -> int:
    """Cycles the fan-out unit spends on source ``s`` with an output that never stalls
    (module docstring): 1 for a source outside the layer (dropped)."""
    if not 0 <= s < g.n_in:
        return 1
    taps = 1 if g.bias and s == g.n_in - 1 else g.kh * g.kw
    return 1 + sum(phase_steps(g).values()) + taps


def batch_cycles(g: ConvGeometry, sources: Sequence[int]) -> int:
    """Cycles of a batch's events through the unit, one after another, no stall."""
    return sum(event_cycles(g, s) for s in sources)


class Accumulate(NamedTuple):
    tile: int                 # global tile index ct * n_pos + p
    ops: tuple[int, ...]      # table operands, in batch order


def batch_accumulates(g: ConvGeometry, sources: Sequence[int], cols: int, t_first: int = 0,
                      t_count: int | None = None) -> list[Accumulate]:
    """The accumulates a core holding tiles ``t_first .. t_first + t_count - 1`` issues for
    one batch of distinct ``sources`` (module docstring): ascending tile, operands in batch
    order, a tile the batch does not reach skipped."""
    t_count = g.n_tiles(cols) - t_first if t_count is None else t_count
    if len(set(sources)) != len(sources):
        raise ValueError(f"a batch holds distinct sources, not {list(sources)}")
    ops: dict[int, list[int]] = {}
    for s in sources:
        entries = event_entries(g, s)
        if entries is ALL_TILES:
            entries = [(p, g.table_ops - 1) for p in range(g.n_pos)]
        for p, op in entries:
            ops.setdefault(p, []).append(op)
    return [Accumulate(t, tuple(ops[t % g.n_pos]))
            for t in range(t_first, t_first + t_count) if t % g.n_pos in ops]


def output_neuron(g: ConvGeometry, cols: int, tile: int, col: int) -> int:
    """Network index of the neuron in column ``col`` of ``tile``."""
    ct, p = divmod(tile, g.n_pos)
    return (ct * cols + col) * g.n_pos + p
