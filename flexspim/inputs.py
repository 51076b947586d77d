"""Validation of every input kind, in one place, before any work or allocation.

* TOML files (`load_config`): the tables and keys a command accepts; an unknown or
  misplaced one is an error with a "did you mean" (``[sytem]`` -> ``[system]``, a top-level
  ``rows`` -> ``rows`` in ``[macro]``); a table that is not a table is an error.
* Event files (`read_events`, `stream_events`, `check_tonic`): one ``.npy`` array (not an
  empty file, not an ``.npz``, not pickled objects); a 1-D integer stream whose values are
  range-checked in their own dtype before the cast to int64 (so a uint64 ``2**64 - 1`` is
  rejected, not wrapped to a tick); tonic-format events with integer fields, and a time span
  whose bin count is checked against `MAX_STEPS` before any array is allocated.
* Command-line values that argparse cannot check alone (`check_range`, `check_unused`).

Every failure is a `ValueError` whose message names the option or file, the bad value and
what is allowed; the CLI prints it as one ``error:`` line with exit status 2.
"""

from __future__ import annotations

import difflib
import tomllib
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

__all__ = ["MAX_STEPS", "MAX_EVENTS", "load_config", "check_tables", "did_you_mean",
           "read_events", "stream_events", "check_tonic", "check_nir", "check_range",
           "check_unused"]

#: Most time steps an input may have (stream ticks, tonic bins): beyond this a typo in a time
#: step (``--dt-us 1``) would allocate gigabytes or run for hours.
MAX_STEPS = 1 << 20
#: Most input events a generated input may have.
MAX_EVENTS = 1 << 28


def did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_toml(path: Path, option: str) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except IsADirectoryError:
        raise ValueError(f"`{option}` {path} is a folder, not a TOML file") from None
    except OSError as e:
        raise ValueError(f"cannot read `{option}` {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"`{option}` {path} is not valid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"`{option}` {path} is not valid TOML (not UTF-8: {e.reason})") \
            from None


def check_tables(doc: dict, path: Path, option: str,
                 tables: Mapping[str, tuple[str, ...] | None],
                 integers: tuple[str, ...] = ()) -> dict:
    """Check a parsed TOML document against ``tables`` (name -> allowed keys, or None when
    the table's own loader checks its keys); the values of the tables in ``integers`` must
    be integers (checked even where a command-line option overrides them). Returns
    ``doc``."""
    for name, value in doc.items():
        if name not in tables:
            owner = [t for t, keys in tables.items() if keys and name in keys]
            hint = (f" (did you mean {name} in [{owner[0]}]?)" if owner
                    else did_you_mean(name, tables))
            raise ValueError(f"`{option}` {path}: unknown "
                             f"{'table' if isinstance(value, dict) else 'key'} {name!r}{hint}; "
                             f"allowed tables: {', '.join(f'[{t}]' for t in tables)}")
        if not isinstance(value, dict):
            raise ValueError(f"`{option}` {path}: `{name}` must be a table ([{name}]), "
                             f"not {value!r}")
        keys = tables[name]
        if keys is None:
            continue
        for k in value:
            if k not in keys:
                owner = [t for t, ks in tables.items() if ks and k in ks and t != name]
                hint = (f" (did you mean [{owner[0]}]?)" if owner
                        else did_you_mean(k, keys))
                raise ValueError(f"`{option}` {path}: unknown key {k!r} in [{name}]{hint}; "
                                 f"allowed: {', '.join(keys)}")
            v = value[k]
            if name in integers and (isinstance(v, bool) or not isinstance(v, int)):
                raise ValueError(f"`{option}` {path}: `{k}` in [{name}] must be an integer, "
                                 f"not {v!r}")
    return doc


def load_config(path: Path | None, option: str,
                tables: Mapping[str, tuple[str, ...] | None],
                integers: tuple[str, ...] = ()) -> dict:
    """Parse and check a TOML file (``{}`` when ``path`` is None), see `check_tables`."""
    if path is None:
        return {}
    return check_tables(load_toml(path, option), path, option, tables, integers)


def read_events(path: Path, option: str) -> np.ndarray:
    """The one array of an ``.npy`` event file; every way of failing is a ValueError."""
    try:
        if Path(path).is_dir():
            raise ValueError(f"`{option}` {path} is a folder, not an .npy file")
        if Path(path).exists() and Path(path).stat().st_size == 0:
            raise ValueError(f"`{option}` {path} is an empty file (0 bytes), not an .npy "
                             f"array")
        raw = np.load(path, allow_pickle=False, mmap_mode=None)
    except ValueError as e:
        if str(e).startswith(f"`{option}`"):
            raise
        raise ValueError(f"`{option}` {path} is not a valid .npy array: "
                         f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    except OSError as e:
        raise ValueError(f"cannot read `{option}` {path}: {e.strerror or e}") from None
    except (EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"`{option}` {path} is not a valid .npy array: {e}") from None
    if not isinstance(raw, np.ndarray):
        if hasattr(raw, "close"):
            raw.close()
        raise ValueError(f"`{option}` {path} must be one .npy array (np.save), not an .npz "
                         f"archive")
    return raw


def stream_events(raw: np.ndarray, n_in: int, option: str, path: Path) -> np.ndarray:
    """A 1-D integer stream checked in its own dtype (sources in [0, n_in), -1 = tick), then
    cast to int64."""
    if raw.ndim != 1 or not np.issubdtype(raw.dtype, np.integer):
        raise ValueError(f"`{option}` {path} must hold a 1-D integer stream (-1 = tick) or "
                         f"tonic events (fields x, y, p, t), not {raw.dtype} {raw.shape}")
    if raw.size:
        lo, hi = raw.min(), raw.max()
        if lo < -1 or hi >= n_in:
            bad = lo if lo < -1 else hi
            i = int(np.flatnonzero(raw == bad)[0])
            raise ValueError(f"`{option}`: event {i} of {path} has source {int(bad)}; "
                             f"sources must be in [0, {n_in - 1}] (or -1 for a tick)")
    ev = raw.astype(np.int64)
    ticks = int((ev == -1).sum())
    if ticks > MAX_STEPS:
        raise ValueError(f"`{option}` {path} has {ticks} time steps; the limit is {MAX_STEPS}")
    if ev.size and ticks == 0:
        raise ValueError(f"`{option}` {path} has {ev.size} events but no tick (-1): end "
                         f"every time step with -1, or nothing is ever fired")
    return ev


def check_tonic(raw: np.ndarray, option: str, path: Path, dt_us: int,
                n_steps: int | None = None) -> None:
    """Fields and dtypes of tonic-format events, and the number of time bins they span at
    ``dt_us`` (checked against `MAX_STEPS` before `events_to_stream` allocates them)."""
    names = raw.dtype.names or ()
    missing = [f for f in ("x", "y", "p", "t") if f not in names]
    if missing:
        raise ValueError(f"tonic-format `{option}` {path} lack the field(s) "
                         f"{', '.join(missing)} (need x, y, p, t)")
    if raw.ndim != 1:
        raise ValueError(f"tonic-format `{option}` {path} must be a 1-D structured array, "
                         f"not shape {raw.shape}")
    for f in ("x", "y", "t"):
        dt = raw.dtype[f]
        if not np.issubdtype(dt, np.integer):
            raise ValueError(f"tonic-format `{option}` {path}: field `{f}` must be integers, "
                             f"not {dt}")
    p = raw.dtype["p"]
    if not (p == np.bool_ or np.issubdtype(p, np.integer)):
        raise ValueError(f"tonic-format `{option}` {path}: field `p` must be bool or 0/1, "
                         f"not {p}")
    if not raw.size:
        return
    if p != np.bool_ and (raw["p"].min() < 0 or raw["p"].max() > 1):
        raise ValueError(f"tonic-format `{option}` {path}: polarity `p` must be bool or 0/1 "
                         f"(OFF/ON), not values in [{raw['p'].min()}, {raw['p'].max()}]; "
                         f"convert -1/+1 polarities with p > 0")
    for f in ("x", "y", "t"):
        v = raw[f]
        if v.min() < 0 or v.max() > np.iinfo(np.int64).max:
            raise ValueError(f"tonic-format `{option}` {path}: field `{f}` must be >= 0 (and "
                             f"fit int64), not values in [{v.min()}, {v.max()}]")
    if n_steps is None:
        span = int(raw["t"].max()) - int(raw["t"].min())
        steps = span // int(dt_us) + 1
        if steps > MAX_STEPS:
            raise ValueError(f"tonic-format `{option}` {path} span {span} µs: {steps} time "
                             f"steps of {dt_us} µs; the limit is {MAX_STEPS} (raise --dt-us)")


def check_nir(graph, path: Path) -> None:
    """Every numeric parameter of a NIR graph's nodes is finite, and every time constant
    (``tau*``) positive, before the importer divides by them. ``+inf`` is let through for
    time constants and ``r``: ``tau = r = inf`` is how snnTorch exports ``beta = 1`` (no
    leak), which the importer reads exactly and refuses, with its reason, in any other
    combination."""
    for name, node in getattr(graph, "nodes", {}).items():
        fields = vars(node) if hasattr(node, "__dict__") else {}
        for field, value in fields.items():
            if isinstance(value, (np.ndarray, float, int)) and not isinstance(value, bool):
                arr = np.asarray(value)
                if arr.dtype.kind not in "fiu":
                    continue
                bad = ~np.isfinite(arr) if arr.dtype.kind == "f" else np.zeros(arr.shape, bool)
                if field.startswith("tau") or field == "r":
                    bad &= ~np.isposinf(arr)
                if bad.any():
                    raise ValueError(f"NIR file {path}: node {name!r} has a non-finite "
                                     f"`{field}` ({arr[bad].flat[0]})")
                if field.startswith("tau") and arr.size and (arr <= 0).any():
                    raise ValueError(f"NIR file {path}: node {name!r} has `{field}` = "
                                     f"{arr[arr <= 0].flat[0]}; time constants must be > 0")
            elif hasattr(value, "nodes"):
                check_nir(value, path)


def check_range(option: str, value: Any, lo: float, hi: float, what: str = "an integer") -> None:
    """``lo <= value <= hi`` (None passes: the option was not given)."""
    if value is not None and not lo <= value <= hi:
        raise ValueError(f"`{option}` must be {what} in [{lo}, {hi}], not {value}")


def check_unused(given: Mapping[str, bool], why: str) -> None:
    """Options given although they do not apply: the first is an error naming it."""
    bad = [k for k, v in given.items() if v]
    if bad:
        raise ValueError(f"`{bad[0]}` does not apply {why}")
