"""`flexspim.outputs`: staging, stale stages, the build lock."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from flexspim.outputs import STAGE_PREFIX, build_lock, staged, staged_file


def test_staged_commits_all_files_or_none(tmp_path):
    out = tmp_path / "o"
    with staged(out) as st:
        (st / "a").write_text("1")
        (st / "manifest.json").write_text("{}")
    assert sorted(p.name for p in out.iterdir()) == ["a", "manifest.json"]
    with pytest.raises(RuntimeError):
        with staged(out) as st:
            (st / "a").write_text("2")
            raise RuntimeError("half-way")
    assert (out / "a").read_text() == "1" and sorted(p.name for p in out.iterdir()) == [
        "a", "manifest.json"]


def test_a_failed_first_job_leaves_no_folder(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with staged(tmp_path / "new") as st:
            (st / "a").write_text("1")
            raise KeyboardInterrupt
    assert not (tmp_path / "new").exists()


def test_the_stage_of_a_killed_process_is_removed(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()                                    # a pid that no longer exists
    stale = tmp_path / f"{STAGE_PREFIX}{p.pid}-0000"
    stale.mkdir()
    (stale / "half.v").write_text("module")
    with staged(tmp_path) as st:
        (st / "x").write_text("1")
    assert not stale.exists() and (tmp_path / "x").exists()


def test_staged_file_keeps_the_old_file_on_failure(tmp_path):
    f = tmp_path / "p.png"
    f.write_text("old")
    with pytest.raises(OSError):
        with staged_file(f) as tmp:
            assert tmp.suffix == ".png" and tmp.parent == tmp_path
            tmp.write_text("half")
            raise OSError(28, "No space left on device")
    assert f.read_text() == "old" and list(tmp_path.iterdir()) == [f]


def test_build_lock_makes_jobs_take_turns(tmp_path, capsys):
    build = tmp_path / "sim" / "run-system-abc"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from flexspim.outputs import build_lock\n"
         f"with build_lock(Path({str(build)!r})):\n"
         "    print('held', flush=True); time.sleep(1.0)"],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    t0 = time.monotonic()
    with build_lock(build):
        waited = time.monotonic() - t0
        with build_lock(build):                 # re-entrant in one process
            pass
    holder.wait(10)
    assert waited > 0.3, waited
    assert "waiting for another job" in capsys.readouterr().err
    assert Path(str(build) + ".lock").exists()
