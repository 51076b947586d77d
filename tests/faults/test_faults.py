"""Fault-injection tier (``make test-faults``): real processes, real signals, a real full disk.

* SIGINT, sent to the process group as a terminal's Ctrl-C does, at random points (seeded:
  the seed is printed) of ``generate``, ``run`` (golden and ``--rtl``) and ``sweep``: exit
  status 130 (or 0 when it finished first), one ``error:`` line last on stderr, no traceback,
  every process of the group gone within `STOP_S`, and every output folder either as it was
  before or complete and consistent (a manifest whose sha256 matches its Verilog; a run's
  three files all from one job; a sweep that resumes to the byte-identical CSV);
* a second Ctrl-C shortly after the first: never hangs;
* two concurrent runs into one folder: both succeed, the folder holds one job's outputs;
* corrupted sweep cache entries: recomputed, same CSV;
* a full disk (a small tmpfs, root only): exit 1, one line, nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "fc2"
NET, EVENTS = EXAMPLE / "net.toml", EXAMPLE / "events.npy"
#: Seconds from Ctrl-C until the command and all of its children are gone.
STOP_S = float(os.environ.get("FLEXSPIM_STOP_S", "2"))
STAGE = ".flexspim-stage-"

pytestmark = [pytest.mark.faults,
              pytest.mark.skipif(os.environ.get("FLEXSPIM_TIER") != "faults",
                                 reason="fault-injection tier: make test-faults")]


# --- processes ----------------------------------------------------------------------------------

def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            ppid = int(st.rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(d))
    return kids


def descendants(pid: int) -> list[int]:
    kids, out, todo = _children(), [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def launch(*argv, cwd=None) -> subprocess.Popen:
    """``python -m flexspim ARGV`` in its own session (a terminal's foreground group)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "flexspim", *map(str, argv)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=env)


def ctrl_c(p: subprocess.Popen, after: float, again: float | None = None):
    """Ctrl-C (SIGINT to the process group) ``after`` seconds, and a second one ``again``
    seconds later. Returns ``(returncode, stderr, seconds until every process was gone)``."""
    deadline = time.monotonic() + after
    while time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.02)
    family = [p.pid] + descendants(p.pid)
    t0 = time.monotonic()
    try:
        os.killpg(p.pid, signal.SIGINT)
        if again is not None:
            time.sleep(again)
            os.killpg(p.pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
        pytest.fail(f"still running 60 s after Ctrl-C:\n{err[-2000:]}")
    while any(alive(q) for q in family) and time.monotonic() - t0 < 30:
        time.sleep(0.02)
    gone = time.monotonic() - t0
    left = [q for q in family if alive(q)]
    for q in left:
        os.kill(q, signal.SIGKILL)
    assert not left, f"processes left after Ctrl-C: {left}"
    return p.returncode, err, gone


def check_stopped(rc: int, err: str, gone: float, what: str) -> bool:
    """True when the command was interrupted (False: it had finished)."""
    assert "Traceback" not in err, err
    if rc == 0:
        return False
    if rc == -signal.SIGINT and "error:" not in err:
        # Ctrl-C while Python has no handler: before it installs one (start-up, nothing
        # written yet) or after it has reset them (finalization, after the command finished
        # and printed what it wrote): the default action, killed by SIGINT (shell status 130)
        print(f"{what}: Ctrl-C during interpreter start-up or teardown")
        return True
    assert rc in (130, -signal.SIGINT), (rc, err)
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and err.rstrip("\n").splitlines()[-1] == errors[0], err
    assert gone <= STOP_S, f"{what}: {gone:.2f} s from Ctrl-C until every process was gone"
    print(f"{what}: stopped in {gone:.2f} s")
    return True


def no_stage(folder: Path) -> None:
    if folder.is_dir():
        assert not list(folder.glob(STAGE + "*")), list(folder.iterdir())


# --- consistency of outputs -----------------------------------------------------------------

def design(folder: Path):
    """``None`` (no design) or the manifest's parameters, after checking the Verilog named
    by the manifest exists and matches its sha256."""
    files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    if not files:
        return None
    m = json.loads((folder / "manifest.json").read_text())
    v = (folder / m["verilog"]["file"]).read_bytes()
    assert hashlib.sha256(v).hexdigest() == m["verilog"]["sha256"], "manifest/Verilog mix"
    assert v.rstrip().endswith(b"endmodule")
    return m["parameters"]


def run_outputs(folder: Path):
    """``None`` or ``(output_events bytes, {layers.npz arrays})`` of a complete run."""
    names = {"output_events.npy", "layers.npz", "raster.png"}
    present = {p.name for p in folder.iterdir()} & names if folder.is_dir() else set()
    if not present:
        return None
    assert present == names, f"a partial run output: {sorted(present)}"
    with np.load(folder / "layers.npz") as z:
        layers = {k: z[k].tobytes() for k in z.files}
    assert (folder / "raster.png").read_bytes()[:4] == b"\x89PNG"
    return np.load(folder / "output_events.npy").tobytes(), layers


@pytest.fixture(scope="module")
def half(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("ev") / "half.npy"
    ev = np.load(EVENTS)
    np.save(p, ev[: len(ev) // 2])
    return p


@pytest.fixture(scope="module")
def references(tmp_path_factory, half):
    """Golden outputs of the full and the half event file, run without faults."""
    d = tmp_path_factory.mktemp("ref")
    out = {}
    for name, ev in (("full", EVENTS), ("half", half)):
        p = launch("run", NET, ev, "-o", d / name)
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        out[name] = run_outputs(d / name)
    return out


# --- SIGINT at random points ----------------------------------------------------------------

def test_ctrl_c_during_generate(tmp_path, rng):
    out = tmp_path / "g"
    p = launch("generate", "-o", out, "--rows", "8", "--cols", "8")
    assert p.wait(300) == 0
    old = design(out)
    for i in range(4):
        cols = 16 + 8 * i
        p = launch("generate", "-o", out, "--rows", "8", "--cols", cols, "--cores", 2)
        rc, err, gone = ctrl_c(p, float(rng.uniform(0.3, 6.0)))
        check_stopped(rc, err, gone, f"generate #{i}")
        got = design(out)        # the previous design, or this one, complete
        assert got == old or got["core"]["macro"]["cols"] == cols, got
        old = got
        no_stage(out)


def test_ctrl_c_during_a_golden_run(tmp_path, rng, references, half):
    out = tmp_path / "r"
    p = launch("run", NET, EVENTS, "-o", out)
    assert p.wait(300) == 0
    for i in range(5):
        p = launch("run", NET, half if i % 2 == 0 else EVENTS, "-o", out)
        rc, err, gone = ctrl_c(p, float(rng.uniform(0.2, 4.0)))
        check_stopped(rc, err, gone, f"run #{i}")
        assert run_outputs(out) in (references["full"], references["half"])
        no_stage(out)


@pytest.mark.rtl
def test_ctrl_c_during_an_rtl_run(tmp_path, rng, references):
    """Twice mid-way (the first may hit the Verilator build), then a run to completion:
    an interrupted build never leaves the shared build folder unusable."""
    out = tmp_path / "r"
    for i in range(2):
        p = launch("run", NET, EVENTS, "-o", out, "--rtl")
        rc, err, gone = ctrl_c(p, float(rng.uniform(2.0, 15.0)))
        check_stopped(rc, err, gone, f"run --rtl #{i}")
        assert run_outputs(out) in (None, references["full"])
        no_stage(out)
    p = launch("run", NET, EVENTS, "-o", out, "--rtl")
    _, err = p.communicate(timeout=1800)
    assert p.returncode == 0, err
    assert run_outputs(out) == references["full"]


SWEEP = ["--rows", "16,32", "--cols", "16,32", "--batch", "1,2", "--no-network", "-j", "2"]


@pytest.fixture(scope="module")
def sweep_reference(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("sweep-ref") / "s"
    p = launch("sweep", "-o", out, *SWEEP)
    _, err = p.communicate(timeout=1800)
    assert p.returncode == 0, err
    return (out / "sweep.csv").read_bytes()


def test_ctrl_c_during_a_sweep_then_resume(tmp_path, rng, sweep_reference):
    out = tmp_path / "s"
    for i in range(3):
        p = launch("sweep", "-o", out, *SWEEP)
        rc, err, gone = ctrl_c(p, float(rng.uniform(0.5, 4.0)))
        if check_stopped(rc, err, gone, f"sweep #{i}"):
            assert not (out / "sweep.csv").exists() or \
                (out / "sweep.csv").read_bytes() == sweep_reference
        no_stage(out)
    p = launch("sweep", "-o", out, *SWEEP)
    _, err = p.communicate(timeout=1800)
    assert p.returncode == 0, err
    assert (out / "sweep.csv").read_bytes() == sweep_reference


def test_a_second_ctrl_c_never_hangs(tmp_path, rng):
    out = tmp_path / "s"
    for i, again in enumerate((0.0, 0.05, 0.3)):
        p = launch("sweep", "-o", out, *SWEEP[:-2], "-j", "2", "--rows", "16,32,48")
        rc, err, gone = ctrl_c(p, float(rng.uniform(1.0, 3.0)), again=again)
        assert "Traceback" not in err, err
        assert rc in (0, 130, -signal.SIGINT), (rc, err)
        assert gone <= STOP_S + again, f"{gone:.2f} s after the first Ctrl-C"
        print(f"double Ctrl-C #{i}: stopped in {gone:.2f} s")


# --- concurrency ---------------------------------------------------------------------------

def test_two_concurrent_runs_into_one_folder(tmp_path, references, half):
    out = tmp_path / "r"
    for _ in range(3):
        a, b = launch("run", NET, EVENTS, "-o", out), launch("run", NET, half, "-o", out)
        ea, eb = a.communicate(timeout=300)[1], b.communicate(timeout=300)[1]
        assert (a.returncode, b.returncode) == (0, 0), ea + eb
        assert run_outputs(out) in (references["full"], references["half"])
        no_stage(out)


@pytest.mark.rtl
def test_two_concurrent_rtl_runs_of_one_hardware(tmp_path, references, half):
    """Same hardware, so the same build folder: the lock makes them take turns; each gets
    its own result (the defect: one exited 0 with the other job's spikes)."""
    jobs = {"full": launch("run", NET, EVENTS, "-o", tmp_path / "a", "--rtl"),
            "half": launch("run", NET, half, "-o", tmp_path / "b", "--rtl")}
    for name, p in jobs.items():
        _, err = p.communicate(timeout=1800)
        assert p.returncode == 0, err
    assert run_outputs(tmp_path / "a") == references["full"]
    assert run_outputs(tmp_path / "b") == references["half"]


# --- the sweep cache -------------------------------------------------------------------------

def test_corrupted_cache_entries_are_recomputed(tmp_path, sweep_reference, rng):
    out = tmp_path / "s"
    p = launch("sweep", "-o", out, *SWEEP)
    assert p.wait(1800) == 0
    entries = sorted((out / "cache").glob("*.json"))
    area = [e for e in entries if e.name.startswith("area-")]
    point = [e for e in entries if e.name.startswith("point-")]
    area[0].write_text('{"periph_cells": "x"}')
    area[1].write_text(area[1].read_text()[:20])                   # truncated
    point[0].write_text("{}")
    point[1].write_text(point[2].read_text())                       # another point's
    point[3].write_text('{"status": "ok", "reason": ""}')
    p = launch("sweep", "-o", out, *SWEEP)
    _, err = p.communicate(timeout=1800)
    assert p.returncode == 0, err
    assert err.count("corrupt cache entry") == 4, err                 # truncated: a miss
    assert (out / "sweep.csv").read_bytes() == sweep_reference


# --- a full disk -------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk needs root (a small tmpfs)")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def fill(disk: Path, leave: int) -> None:
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    if free > leave:
        (disk / "filler").write_bytes(b"\0" * (free - leave))


@pytest.mark.parametrize("cmd", ["generate", "run", "sweep"])
def test_a_full_disk_is_one_line_and_leaves_the_old_output(small_disk, cmd):
    out = small_disk / "o"
    argv = {"generate": ["generate", "-o", out, "--rows", "4", "--cols", "4"],
            "run": ["run", NET, EVENTS, "-o", out],
            "sweep": ["sweep", "-o", out, "--rows", "16", "--cols", "16", "--no-area",
                      "--no-network", "-j", "1"]}[cmd]
    p = launch(*argv)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    before = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()}
    fill(small_disk, 4096)
    if cmd == "generate":
        argv[argv.index("--cols") + 1] = "8"
    p = launch(*argv)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 1, err
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], err
    assert "Traceback" not in err
    assert {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()} == before
    no_stage(out)


# --- a lost Dask scheduler -----------------------------------------------------------------

def test_a_killed_dask_scheduler_is_one_line(tmp_path):
    pytest.importorskip("dask.distributed")
    import socket

    dask = Path(sys.executable).with_name("dask")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    addr = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
             "start_new_session": True}
    sched = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                              "--no-dashboard"], **quiet)
    worker = None
    try:
        time.sleep(3)
        worker = subprocess.Popen([dask, "worker", addr, "--nworkers", "1",
                                   "--no-dashboard"], **quiet)
        time.sleep(3)
        p = launch("sweep", "-o", tmp_path / "s", "--rows", "16,32,48", "--cols", "16,32",
                   "--no-network", "--scheduler", addr)
        time.sleep(6)
        os.killpg(sched.pid, signal.SIGKILL)
        t0 = time.monotonic()
        _, err = p.communicate(timeout=120)
        print(f"lost scheduler: exited {time.monotonic() - t0:.1f} s after the kill")
    finally:
        for q in (sched, worker):
            if q is not None and q.poll() is None:
                os.killpg(q.pid, signal.SIGKILL)
    if p.returncode == 0:
        pytest.skip("the sweep finished before the scheduler was killed")
    assert p.returncode == 1 and "Traceback" not in err, err
    assert err.strip().splitlines() == [ln for ln in err.strip().splitlines()
                                        if ln.startswith("error: ")] and err.count("\n") == 1
    assert "scheduler" in err and not (tmp_path / "s" / "sweep.csv").exists()
