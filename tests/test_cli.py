"""The console entry point."""

import subprocess
import sys

from flexspim import __version__
from flexspim.cli import main


def test_version_and_help_from_the_installed_script():
    r = subprocess.run([sys.executable, "-m", "flexspim", "--version"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout.strip() == f"flexspim {__version__}"
    r = subprocess.run([sys.executable, "-m", "flexspim", "--help"], capture_output=True,
                       text=True)
    assert r.returncode == 0
    for cmd in ("generate", "cycles"):
        assert cmd in r.stdout


def test_cycles_command(capsys):
    assert main(["cycles", "--rows", "64", "--cols", "64", "--batch", "8", "--bv", "16"]) == 0
    out = capsys.readouterr().out
    # 1 issue + 1 read-ahead + bv 16 + (guard 4 for P = 8 + clamp bv 16) when saturating,
    # the worst case (without an overflow the clamp pass is 1 cycle: 23)
    assert "accumulate (bv=16, saturate): 38 cycles (23 without overflow)" in out
    assert main(["cycles", "--rows", "4", "--cols", "4", "--bv", "8"]) == 2
    assert "`bv` must be an integer in [1, 4], not 8" in capsys.readouterr().err
