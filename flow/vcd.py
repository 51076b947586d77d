"""A small VCD reader: toggles and time spent high, per net bit, inside a time window.

Only what the power flow needs: the ``$scope``/``$var`` header (scalars and vectors, their
scopes) and the value changes (``0!``, ``b0101 #``, ``#<time>``). A vector is split into its
bits, named ``name[i]`` with the declared index range (``[3:0]``), so a bit reads the same as
the netlist's bit-select ``name[3]`` or a split net ``\\name[3]`` (the leading backslash of an
escaped identifier is dropped).

Counting rules (`toggle_counts`):

* a toggle is a change between 0 and 1 of a bit; changes from or to x/z are not toggles (the
  x of an uninitialized register becoming 0 at reset is not switching of the circuit);
* several changes of one bit at the same time stamp count once, from the value before the
  time stamp to the value after it (a zero-delay simulation evaluates in an arbitrary order
  and may show a bit flip and flip back inside one time step: not a transition of the
  circuit, whose real glitches a zero-delay simulation cannot show anyway);
* only changes at times ``t0 < t <= t1`` count; the value at ``t0`` is the state before the
  window; ``high`` is the time inside the window a bit spends at 1 (for the duty).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VcdActivity", "toggle_counts"]

_RANGE = re.compile(r"^\[(-?\d+)(?::(-?\d+))?\]$")


@dataclass
class VcdActivity:
    """Per bit: ``toggles`` and ``high`` (time at 1 in the window), keyed by
    ``(scope path, bit name)``; scope paths are dot-joined (``flexspim_macro.array``)."""

    toggles: dict[tuple[str, str], int]
    high: dict[tuple[str, str], float]
    t0: float
    t1: float
    timescale_ns: float

    def duty(self, key) -> float:
        span = self.t1 - self.t0
        return self.high.get(key, 0.0) / span if span > 0 else 0.0


def _timescale(text: str) -> float:
    m = re.match(r"\s*(\d+)\s*(s|ms|us|ns|ps|fs)", text)
    if not m:
        raise ValueError(f"VCD: cannot read the timescale {text!r}")
    unit = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0, "ps": 1e-3, "fs": 1e-6}[m.group(2)]
    return int(m.group(1)) * unit


def _name(ref: str) -> str:
    ref = ref.strip()
    return ref[1:] if ref.startswith("\\") else ref


def toggle_counts(path: Path | str, t0_ns: float, t1_ns: float,
                  scopes: set[str] | None = None) -> VcdActivity:
    """Toggles and high time of every bit of the VCD at ``path`` in the window
    ``(t0_ns, t1_ns]`` (see the module docstring). ``scopes``: read only variables declared
    directly in these scope paths (None: all).

    Raises:
        ValueError: not a VCD file, or a window outside the dump.
    """
    bits: dict[str, list[tuple[str, str]]] = {}     # id code -> [(scope, bit name)], LSB 1st
    stack: list[str] = []
    timescale = None
    f = open(path, "r", errors="replace")
    with f:
        header: list[str] = []
        for line in f:
            header.append(line)
            if "$enddefinitions" in line:
                break
        else:
            raise ValueError(f"{path}: not a VCD file (no $enddefinitions)")
        tokens = " ".join(header).split()
        i = 0
        while i < len(tokens):
            t = tokens[i]
            if t == "$timescale":
                j = tokens.index("$end", i)
                timescale = _timescale(" ".join(tokens[i + 1:j]))
                i = j
            elif t == "$scope":
                stack.append(_name(tokens[i + 2]))
                i += 3
            elif t == "$upscope":
                stack.pop()
            elif t == "$var":
                j = tokens.index("$end", i)
                width, code, ref = int(tokens[i + 2]), tokens[i + 3], tokens[i + 4]
                rng = tokens[i + 5] if j > i + 5 else None
                scope = ".".join(stack)
                if scopes is None or scope in scopes:
                    name = _name(ref)
                    m = _RANGE.match(rng) if rng else None
                    if width == 1:
                        keys = [name + rng if rng else name]
                    else:
                        hi, lo = (int(m.group(1)), int(m.group(2))) if m and m.group(2) \
                            else (width - 1, 0)
                        step = -1 if hi >= lo else 1
                        # LSB first: index lo .. hi
                        keys = [f"{name}[{k}]" for k in range(lo, hi - step, -step)]
                    bits.setdefault(code, []).extend((scope, k) for k in keys)
                i = j
            i += 1
        if timescale is None:
            timescale = 1.0
        t0, t1 = t0_ns / timescale, t1_ns / timescale
        # per id code: current value (string of bits, MSB first) and the value at the last
        # time stamp's start
        cur: dict[str, str] = {}
        toggles = {k: 0 for lst in bits.values() for k in lst}
        high = {k: 0.0 for lst in bits.values() for k in lst}
        since: dict[str, float] = {}
        pending: dict[str, str] = {}     # value before the current time stamp
        now = 0.0

        def close_stamp():
            # finish the time stamp `now`: compare each changed code with its value before
            for code, before in pending.items():
                after = cur[code]
                if now > t0 and now <= t1:
                    keys = bits[code]
                    n = len(keys)
                    b = before.rjust(n, before[0] if before[:1] in "xz" else "0")
                    a = after.rjust(n, after[0] if after[:1] in "xz" else "0")
                    for k in range(n):
                        x, y = b[n - 1 - k], a[n - 1 - k]
                        if x != y and x in "01" and y in "01":
                            toggles[keys[k]] += 1
            pending.clear()

        def account_high(code: str, upto: float):
            # time at 1 of each bit of `code` from since[code] to `upto`, clipped to window
            lo, hi = max(since.get(code, 0.0), t0), min(upto, t1)
            if hi > lo:
                v = cur.get(code, "")
                keys = bits[code]
                n = len(keys)
                v = v.rjust(n, "0")
                for k in range(n):
                    if v[n - 1 - k] == "1":
                        high[keys[k]] += hi - lo
            since[code] = upto

        for line in f:
            s = line.strip()
            if not s:
                continue
            c = s[0]
            if c == "#":
                close_stamp()
                now = float(s[1:])
                continue
            if c in "01xzXZ":
                val, code = c.lower(), s[1:]
            elif c in "bB":
                val, code = s[1:].split()
                val = val.lower()
            elif c in "rR" or s.startswith("$"):
                continue
            else:
                continue
            if code not in bits:
                continue
            if code not in pending:
                pending[code] = cur.get(code, "x")
            account_high(code, now)
            cur[code] = val
        close_stamp()
    if t0 < 0 or t1 <= t0:
        raise ValueError(f"VCD window ({t0_ns}, {t1_ns}] ns is empty")
    for code in bits:
        account_high(code, t1)
    hs = {k: v * timescale for k, v in high.items()}
    return VcdActivity(toggles, hs, t0_ns, t1_ns, timescale)
