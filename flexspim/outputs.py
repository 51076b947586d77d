"""Atomic, isolated outputs: every command's files appear complete and together, or not at all.

A command writes into a private staging folder (`staged`) and, only when everything is
written, its files are renamed into the destination folder: each rename is atomic, all of a
job's renames happen under an exclusive lock on the destination (two jobs never interleave
theirs) and with SIGINT deferred (Ctrl-C never stops a job half-way through them). An error,
a full disk or Ctrl-C before that point deletes the staging folder and leaves the destination
as it was. Two concurrent jobs into one folder therefore both succeed and the folder holds
the complete output of whichever committed last, never a mix.

The staging folder is a hidden ``.flexspim-stage-<pid>-<random>`` inside the destination
(same file system, so the renames are atomic); one left behind by a killed process
(``kill -9``) is removed by the next job into that folder.

`check_out_dir` validates an output folder before any work (empty, a file, under a file,
not writable, too long); `build_lock` serializes jobs that share a simulator build folder.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import os
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Iterator

__all__ = ["out_dir_arg", "check_out_dir", "check_out_file", "staged", "staged_file",
           "build_lock", "stderr_to", "STAGE_PREFIX"]

STAGE_PREFIX = ".flexspim-stage-"
_NAME_MAX = 255
_PATH_MAX = 4095


def out_dir_arg(text: str) -> Path:
    """argparse ``type`` of an output path: an empty string is an error, not ``.``."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"an output path must not be empty, not {text!r}")
    return Path(text)


def _check_path(path: Path, option: str) -> Path:
    """The nearest existing ancestor of ``path`` (``path`` itself when it exists)."""
    text = str(path)
    if not text.strip():
        raise ValueError(f"`{option}` must not be empty, not {text!r}")
    full = Path(os.path.abspath(path))
    if len(os.fsencode(str(full))) > _PATH_MAX:
        raise ValueError(f"`{option}` {text[:60]}... is too long ({len(os.fsencode(str(full)))}"
                         f" bytes as an absolute path; the limit is {_PATH_MAX})")
    for part in full.parts:
        if len(os.fsencode(part)) > _NAME_MAX:
            raise ValueError(f"`{option}` {text[:60]}...: the name {part[:40]}... is "
                             f"{len(os.fsencode(part))} bytes long; the limit is {_NAME_MAX}")
    anc = full
    while not os.path.lexists(anc):
        anc = anc.parent
    return anc


def check_out_dir(path: Path, option: str = "-o") -> None:
    """Raise `ValueError` (naming ``option`` and ``path``) unless ``path`` is, or can be
    created as, a writable folder. Nothing is created."""
    anc = _check_path(path, option)
    if anc == Path(os.path.abspath(path)):
        if not anc.is_dir():
            raise ValueError(f"`{option}` {path} is a file, not a folder")
    elif not anc.is_dir():
        raise ValueError(f"`{option}` {path}: {anc} is a file, so no folder can be created "
                         f"under it")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise ValueError(f"`{option}` {path}: {anc} is not writable")


def check_out_file(path: Path, option: str) -> None:
    """Raise `ValueError` unless file ``path`` can be written (its folder exists or can be
    created, and ``path`` is not a folder)."""
    anc = _check_path(path, option)
    full = Path(os.path.abspath(path))
    if anc == full:
        if full.is_dir():
            raise ValueError(f"`{option}` {path} is a folder, not a file")
        anc = full.parent
    if not anc.is_dir():
        raise ValueError(f"`{option}` {path}: {anc} is a file, so no folder can be created "
                         f"under it")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise ValueError(f"`{option}` {path}: {anc} is not writable")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(dest: Path) -> None:
    """Staging folders of processes that no longer exist (killed with SIGKILL)."""
    for p in dest.glob(STAGE_PREFIX + "*"):
        try:
            pid = int(p.name[len(STAGE_PREFIX):].split("-")[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def _deferred_sigint() -> Iterator[None]:
    """Block SIGINT (at the OS level) for the enclosed renames; a Ctrl-C pressed meanwhile is
    delivered right after them."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def _dir_lock(folder: Path) -> Iterator[None]:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)       # releases the lock


@contextlib.contextmanager
def staged(dest: Path) -> Iterator[Path]:
    """A private, empty folder to write a job's files into; committed to ``dest`` on success.

    On a normal exit of the ``with`` block every file in the staging folder is renamed into
    ``dest``, in the order the files were created and ``manifest.json`` last (a manifest
    never describes files that are not in place yet). On any exception (including
    KeyboardInterrupt and a full disk) the staging folder is deleted and ``dest`` is left as
    it was; a ``dest`` created here is removed again when it is still empty.
    """
    dest = Path(dest)
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    _remove_stale(dest)
    stage = dest / f"{STAGE_PREFIX}{os.getpid()}-{os.urandom(4).hex()}"
    stage.mkdir()
    try:
        try:
            yield stage
        except OSError as e:        # name the destination, not the private staging folder
            if e.errno is None:
                raise
            raise OSError(e.errno, e.strerror, str(dest)) from None
        files = sorted(stage.iterdir(),
                       key=lambda p: (p.name == "manifest.json", p.stat().st_mtime_ns, p.name))
        for f in files:
            if not f.is_file():
                raise RuntimeError(f"staged output {f.name} is not a file")
        with _deferred_sigint(), _dir_lock(dest):
            for f in files:
                os.replace(f, dest / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                dest.rmdir()          # only succeeds when nothing was committed


@contextlib.contextmanager
def staged_file(path: Path) -> Iterator[Path]:
    """A temporary name beside ``path`` (same suffix, so writers that infer a format from it
    still work); renamed onto ``path`` on success, deleted on any exception."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}-{os.urandom(4).hex()}{path.suffix}")
    try:
        try:
            yield tmp
        except OSError as e:
            if e.errno is None:
                raise
            raise OSError(e.errno, e.strerror, str(path)) from None
        with _deferred_sigint():
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


_held: dict[str, int] = {}
_held_guard = threading.Lock()


@contextlib.contextmanager
def build_lock(build_dir: Path) -> Iterator[None]:
    """Exclusive lock on a simulator build folder (``<build_dir>.lock`` beside it), so jobs of
    the same hardware (same folder) build and simulate one after the other instead of
    overwriting each other's files. Re-entrant within one process; released when the
    process dies."""
    build_dir = Path(build_dir)
    key = str(build_dir.resolve())
    with _held_guard:
        if key in _held:
            nested = True
        else:
            nested = False
    if nested:
        yield
        return
    build_dir.mkdir(parents=True, exist_ok=True)
    lock = build_dir.with_name(build_dir.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            print(f"waiting for another job using {build_dir} ...", file=sys.stderr,
                  flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        with _held_guard:
            _held[key] = fd
        try:
            yield
        finally:
            with _held_guard:
                _held.pop(key, None)
    finally:
        os.close(fd)


@contextlib.contextmanager
def stderr_to(log: Path) -> Iterator[Path]:
    """Send file descriptor 2 (which child processes such as the simulator inherit) to
    ``log`` while the block runs, so what they print when Ctrl-C reaches them (make's
    "Interrupt", a KeyboardInterrupt traceback inside cocotb) stays out of the one-line error
    the user sees. The simulator's stdout (its progress bar) is left alone."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log, "w") as f:
            os.dup2(f.fileno(), 2)
            yield log
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
