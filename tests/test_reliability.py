"""Regression tests of issue 14, one group per defect family (numbers as in the issue):

1. concurrent RTL runs into one folder mixed their results;
2. outputs written in place (a failure half-way left a mix of old and new files);
3. Ctrl-C gave a raw KeyboardInterrupt;
4. bad input silently accepted;
5. work-size limits checked after allocating;
6. tracebacks instead of one line;
7. the sweep cache trusted blindly.

They use only the command line (`flexspim.cli.main`) and patch the simulator, the plotter or
a writer to inject a fault, so each one fails on the code before the fix. The slow
fault-injection tier (real SIGINT, real Verilator, a full tmpfs) is ``make test-faults``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import errno
import json
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from flexspim.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fc2"
NET, EVENTS = str(EXAMPLE / "net.toml"), str(EXAMPLE / "events.npy")


def call(argv, capsys) -> tuple[int, str]:
    """``main(argv)``; a KeyboardInterrupt escaping it is a failure, not a pytest abort."""
    try:
        rc = main([str(a) for a in argv])
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped flexspim.cli.main")
    return rc, capsys.readouterr().err


def one_line(err: str) -> str:
    """The one ``error:`` line, last on stderr (progress lines may precede it)."""
    lines = err.strip("\n").splitlines()
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert "Traceback" not in err
    return errors[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def half_events(tmp_path) -> Path:
    ev = np.load(EVENTS)
    p = tmp_path / "half.npy"
    np.save(p, ev[: len(ev) // 2])
    return p


@pytest.fixture
def no_raster(monkeypatch):
    """raster_png without matplotlib (thread-safe and fast): a fixed PNG signature and the
    spike counts, so a raster from another job's layers is detectable."""
    import flexspim.raster

    def fake(layers, names, path, title=""):
        Path(path).write_bytes(b"\x89PNG" + json.dumps(
            [int((np.asarray(e) != -1).sum()) for e in layers]).encode())

    monkeypatch.setattr(flexspim.raster, "raster_png", fake)


@pytest.fixture
def no_plots(monkeypatch):
    """The sweep's four PNGs as small stand-ins (matplotlib takes seconds): the tests here
    are about which files appear, not what they draw."""
    import flexspim.sweep.plots

    def fake(rows, out, title=""):
        files = []
        for name in ("area", "energy", "cycles", "pareto"):
            files.append(Path(out) / f"{name}.png")
            files[-1].write_bytes(b"\x89PNG" + json.dumps(len(rows)).encode())
        return files

    monkeypatch.setattr(flexspim.sweep.plots, "write_plots", fake)


# --- 1: concurrent RTL runs ---------------------------------------------------------------------

def _golden_sim(folder: Path) -> None:
    """What ``testbench/run_tb.py`` does, on the golden system model instead of Verilator."""
    from flexspim.config import SystemConfig
    from flexspim.frontend.netfile import load_network
    from flexspim.testbench.system_driver import GoldenBackend, SystemDriver

    job = json.loads((folder / "job.json").read_text())
    system = SystemConfig.from_dict(job["system"])
    events = np.load(folder / "events.npy")
    drv = SystemDriver(GoldenBackend(system), system)

    async def go():
        await drv.load(load_network(job["network"]), monitor=True)
        return await drv.run(events)

    run = asyncio.run(go())
    np.savez(folder / "rtl_result.npz", output=run.output,
             **{f"layer{i}": e for i, e in enumerate(run.layers)},
             **{f"potentials{i}": v for i, v in enumerate(run.potentials)})


def test_1_concurrent_rtl_runs_into_one_folder_never_mix(tmp_path, monkeypatch, capsys,
                                                         no_raster):
    from flexspim.testbench import sim

    half = half_events(tmp_path)
    want = {}
    for name, ev in (("full", EVENTS), ("half", half)):
        assert call(["run", NET, ev, "-o", tmp_path / name], capsys)[0] == 0
        want[name] = snapshot(tmp_path / name)
        # the golden runs' summary says "golden"; the RTL jobs' (simulated by the golden
        # model below) say "rtl" and are otherwise the same bytes
        summary = json.loads(want[name]["summary.json"])
        assert summary["model"] == "golden"
        want[name]["summary.json"] = (json.dumps({**summary, "model": "rtl"}, indent=1)
                                      + "\n").encode()
    assert want["full"]["output_events.npy"] != want["half"]["output_events.npy"]

    both_staged = threading.Barrier(2, timeout=30)
    run_dirs = []

    def fake_run_cocotb(*, extra_env, **kw):
        folder = Path(extra_env["FLEXSPIM_RUN_DIR"])
        run_dirs.append(folder)
        both_staged.wait()          # the other job has written its job files too
        _golden_sim(folder)

    monkeypatch.setattr(sim, "run_cocotb", fake_run_cocotb)
    monkeypatch.setattr(sim, "emit_verilog", lambda c, name, out: Path(out) / f"{name}.v")
    shared = tmp_path / "shared"
    rcs = {}

    def job(name, ev, fifo):
        # different hardware (FIFO depth), so the two jobs do not wait for one build lock
        try:
            rcs[name] = main(["run", NET, str(ev), "-o", str(shared), "--rtl",
                              "--fifo-depth", str(fifo)])
        except BaseException as e:  # noqa: BLE001 - reported below
            rcs[name] = e

    threads = [threading.Thread(target=job, args=a) for a in
               (("full", EVENTS, 16), ("half", half, 32))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    capsys.readouterr()
    assert rcs == {"full": 0, "half": 0}, rcs
    assert len(set(run_dirs)) == 2 and not any(shared in d.parents or d == shared
                                               for d in run_dirs), run_dirs
    got = snapshot(shared)
    assert got in (want["full"], want["half"]), "the folder mixes the two jobs' outputs"


# --- 2: outputs written in place ----------------------------------------------------------------

def _no_space(*a, **k):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_2_generate_failing_half_way_leaves_the_previous_output(tmp_path, monkeypatch, capsys):
    import flexspim.hdl.emit as emit

    out = tmp_path / "g"
    assert call(["generate", "-o", out, "--rows", "4", "--cols", "4"], capsys)[0] == 0
    before = snapshot(out)
    monkeypatch.setattr(emit, "tool_versions", _no_space)   # after the .v is written
    rc, err = call(["generate", "-o", out, "--rows", "4", "--cols", "8"], capsys)
    assert rc == 1 and "No space left on device" in one_line(err)
    assert snapshot(out) == before
    assert sorted(p.name for p in out.iterdir()) == sorted(before)


def test_2_run_failing_half_way_leaves_the_previous_output(tmp_path, monkeypatch, capsys,
                                                           no_raster):
    import flexspim.raster

    out = tmp_path / "r"
    assert call(["run", NET, EVENTS, "-o", out], capsys)[0] == 0
    before = snapshot(out)
    monkeypatch.setattr(flexspim.raster, "raster_png", _no_space)   # the last file
    rc, err = call(["run", NET, half_events(tmp_path), "-o", out], capsys)
    assert rc == 1 and "No space left on device" in one_line(err)
    assert snapshot(out) == before


def test_2_sweep_failing_half_way_leaves_the_previous_output(tmp_path, monkeypatch, capsys,
                                                             no_plots):
    import flexspim.sweep.plots

    out = tmp_path / "s"
    base = ["sweep", "-o", out, "--cols", "16", "--no-area", "--no-network", "-j", "1"]
    assert call(base + ["--rows", "16"], capsys)[0] == 0
    before = snapshot(out)
    monkeypatch.setattr(flexspim.sweep.plots, "write_plots", _no_space)  # after the CSV
    rc, err = call(base + ["--rows", "32"], capsys)
    assert rc == 1 and "No space left on device" in one_line(err)
    assert snapshot(out) == before


def test_2_study_plot_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch, capsys):
    import flexspim.mapper.study as study

    plot = tmp_path / "s.png"
    plot.write_bytes(b"old plot")

    def half_plot(points, path, title=""):
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(study, "run_study", lambda *a, **k: [])
    monkeypatch.setattr(study, "table", lambda points: "")
    monkeypatch.setattr(study, "plot", half_plot)
    rc, err = call(["study", "--plot", plot, "--sizes", "1024x32", "--keep", "1"], capsys)
    assert rc == 1 and "No space left on device" in one_line(err)
    assert plot.read_bytes() == b"old plot" and sorted(tmp_path.iterdir()) == [plot]


# --- 3: Ctrl-C ----------------------------------------------------------------------------------

def test_3_ctrl_c_in_generate_is_one_line_130_and_writes_nothing(tmp_path, monkeypatch,
                                                                 capsys):
    import flexspim.hdl.emit as emit

    real = emit.write_design

    def interrupted(component, name, out_dir, *a, **k):
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / f"{name}.v").write_text("module half")     # half-written
        raise KeyboardInterrupt

    monkeypatch.setattr(emit, "write_design", interrupted)
    out = tmp_path / "g"
    rc, err = call(["generate", "-o", out, "--rows", "4", "--cols", "4"], capsys)
    assert rc == 130 and "interrupted" in one_line(err)
    assert not out.exists()
    assert real is not None


def test_3_ctrl_c_in_run_is_one_line_130_and_keeps_the_previous_output(tmp_path, monkeypatch,
                                                                       capsys, no_raster):
    import flexspim.raster

    out = tmp_path / "r"
    assert call(["run", NET, EVENTS, "-o", out], capsys)[0] == 0
    before = snapshot(out)

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(flexspim.raster, "raster_png", interrupted)
    rc, err = call(["run", NET, half_events(tmp_path), "-o", out], capsys)
    assert rc == 130 and "interrupted" in one_line(err)
    assert snapshot(out) == before


# --- 4: bad input silently accepted -------------------------------------------------------------

def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _dup_network(tmp_path) -> Path:
    """Two 18 -> 18 layers both named "a": they load (same array, same shape) and one
    layer's outputs would overwrite the other's in layers.npz."""
    layer = '[[layers]]\nname = "a"\ntype = "fc"\nbw = 3\nbv = 8\nthreshold = 2\n'
    np.savez(tmp_path / "dup.npz", **{"a.weights": np.ones((18, 18), dtype=np.int64)})
    return _write(tmp_path / "dup.toml", 'format = "flexspim-network"\nversion = 1\n'
                  'arrays = "dup.npz"\n' + layer + layer)


@pytest.mark.parametrize("make_argv, needle", [
    (lambda d: ["run", NET, d / "u64.npy", "-o", d / "o"], "18446744073709551615"),
    (lambda d: ["run", _dup_network(d), EVENTS, "-o", d / "o"], "'a'"),
    (lambda d: ["generate", "-o", d / "o", "--rows", "4", "--cols", "4", "--config",
                _write(d / "c.toml", "[sytem]\nn_cores = 2\n")], "sytem"),
    (lambda d: ["run", NET, EVENTS, "-o", d / "o", "--config",
                _write(d / "c.toml", "[sytem]\nn_cores = 2\n")], "sytem"),
    (lambda d: ["generate", "-o", d / "o", "--config",
                _write(d / "c.toml", "rows = 4\ncols = 4\n")], "'rows'"),
    (lambda d: ["map", NET, "--energy", _write(d / "e.toml", "dram_bit = 1\n")],
     "dram_bit"),
    (lambda d: ["generate", "-o", d / "o", "--rows", "4", "--cols", "4", "--top", "macro",
                "--cores", "2"], "--cores"),
    (lambda d: ["generate", "-o", d / "o", "--rows", "4", "--cols", "4", "--fifo-depth",
                "4"], "--fifo-depth"),
    (lambda d: ["run", NET, d / "stream.npy", "-o", d / "o", "--dt-us", "0"], "0"),
    (lambda d: ["run", NET, d / "stream.npy", "-o", d / "o", "--dt-us", "5"], "--dt-us"),
    (lambda d: ["generate", "-o", "", "--rows", "4", "--cols", "4"], "''"),
    (lambda d: ["run", NET, d / "notick.npy", "-o", d / "o"], "no tick"),
])
def test_4_bad_input_is_rejected(tmp_path, monkeypatch, capsys, make_argv, needle):
    np.save(tmp_path / "u64.npy", np.array([0, 2**64 - 1, 3], dtype=np.uint64))
    np.save(tmp_path / "stream.npy", np.array([0, 1, -1]))
    np.save(tmp_path / "notick.npy", np.array([0, 1, 2]))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    rc, err = call(make_argv(tmp_path), capsys)
    assert rc == 2 and needle in one_line(err)
    assert not (tmp_path / "o").exists() and not list(cwd.iterdir())


# --- 5: work-size limits ------------------------------------------------------------------------

def test_5_a_huge_sweep_range_is_rejected_before_it_is_built(tmp_path, capsys):
    tracemalloc.start()
    try:
        rc, err = call(["sweep", "-o", tmp_path / "o", "--rows", "1:3000000", "--cols", "16",
                        "--no-area", "--no-network"], capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rc == 2 and "1:3000000" in one_line(err)
    assert peak < 20e6, f"{peak / 1e6:.0f} MB allocated before the limit was checked"


def test_5_tonic_events_spanning_years_are_rejected_before_allocating(tmp_path, capsys):
    ev = np.zeros(2, dtype=[("x", "<i2"), ("y", "<i2"), ("p", "?"), ("t", "<i8")])
    ev["t"] = [0, 10**12]
    np.save(tmp_path / "long.npy", ev)
    tracemalloc.start()
    try:
        rc, err = call(["run", NET, tmp_path / "long.npy", "-o", tmp_path / "o"], capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rc == 2 and "long.npy" in one_line(err)
    assert peak < 50e6, f"{peak / 1e6:.0f} MB allocated before the limit was checked"


def test_5_the_example_gesture_length_is_limited_up_front():
    # a subprocess with a timeout: the unchecked version renders frames for hours
    r = subprocess.run([sys.executable, "-m", "flexspim", "map", "--example", "dvs-gesture",
                        "--dt-us", "1000000000"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "1000000000" in one_line(r.stderr)


def test_5_never_more_workers_than_tasks(tmp_path, monkeypatch, capsys, no_plots):
    seen = []

    class Recording(cf.ThreadPoolExecutor):
        def __init__(self, max_workers=None, **kw):
            seen.append(max_workers)
            super().__init__(max_workers=max_workers)

    monkeypatch.setattr(cf, "ProcessPoolExecutor", Recording)
    rc, _ = call(["sweep", "-o", tmp_path / "o", "--rows", "16", "--cols", "16",
                  "--no-area", "--no-network", "-j", "100"], capsys)
    assert rc == 0 and all(n <= 1 for n in seen), seen


# --- 6: tracebacks instead of one line ----------------------------------------------------------

def _nir_tau0(d: Path) -> Path:
    nir = pytest.importorskip("nir")
    g = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([4])),
               "fc": nir.Affine(weight=np.ones((3, 4)), bias=np.zeros(3)),
               "lif": nir.LIF(tau=np.zeros(3), r=np.ones(3), v_leak=np.zeros(3),
                              v_threshold=np.ones(3)),
               "output": nir.Output(output_type=np.array([3]))},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")])
    nir.write(d / "tau0.nir", g)
    return d / "tau0.nir"


@pytest.mark.parametrize("make_argv, needle", [
    *[(lambda d, c=c: [*c, "-o", d / "afile"], "afile") for c in (
        ["generate", "--rows", "4", "--cols", "4"], ["run", NET, EVENTS],
        ["sweep", "--rows", "16", "--cols", "16", "--no-area", "--no-network"])],
    *[(lambda d, c=c: [*c, "-o", d / "afile" / "sub"], "afile") for c in (
        ["generate", "--rows", "4", "--cols", "4"], ["run", NET, EVENTS],
        ["sweep", "--rows", "16", "--cols", "16", "--no-area", "--no-network"])],
    *[(lambda d, c=c: [*c, "-o", d / ("x" * 300)], "x" * 40) for c in (
        ["generate", "--rows", "4", "--cols", "4"], ["run", NET, EVENTS],
        ["sweep", "--rows", "16", "--cols", "16", "--no-area", "--no-network"])],
    (lambda d: ["generate", "-o", d / "o", "--config", _write(d / "c.toml", "macro = 5\n")],
     "5"),
    (lambda d: ["run", NET, EVENTS, "-o", d / "o", "--config",
                _write(d / "c.toml", "[core]\nfifo = 3\n")], "fifo"),
    (lambda d: ["run", NET, d / "empty.npy", "-o", d / "o"], "empty.npy"),
    (lambda d: ["run", NET, d / "arch.npz", "-o", d / "o"], "arch.npz"),
    (lambda d: ["map", _nir_tau0(d)], "tau"),
])
def test_6_errors_are_one_line(tmp_path, monkeypatch, capsys, make_argv, needle):
    import flexspim.commands.run as run_cmd

    def never(*a, **k):
        raise AssertionError("simulated before the output folder was checked")

    monkeypatch.setattr(run_cmd, "run_golden", never)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "empty.npy").write_bytes(b"")
    np.savez(tmp_path / "arch.npz", a=np.zeros(3))
    rc, err = call(make_argv(tmp_path), capsys)
    assert rc == 2 and needle in one_line(err)
    assert not (tmp_path / "o").exists()


# --- 7: the sweep cache -------------------------------------------------------------------------

@pytest.mark.parametrize("corrupt", ["{}", "[]", '{"status": "ok"}', "swap", "null"])
def test_7_a_corrupt_cache_entry_is_recomputed(tmp_path, capsys, corrupt, no_plots):
    out = tmp_path / "s"
    argv = ["sweep", "-o", out, "--rows", "16,32", "--cols", "16", "--no-area",
            "--no-network", "-j", "1"]
    assert call(argv, capsys)[0] == 0
    csv = (out / "sweep.csv").read_bytes()
    a, b = sorted((out / "cache").glob("point-*.json"))
    if corrupt == "swap":                       # another point's (valid) result
        a.write_bytes(b.read_bytes())
    else:
        a.write_text(corrupt)
    rc, err = call(argv, capsys)
    assert rc == 0, err
    assert (out / "sweep.csv").read_bytes() == csv
    assert "corrupt cache entry" in err
