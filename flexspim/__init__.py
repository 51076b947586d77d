"""flexspim: generator and verification kit for event-based digital CIM SNN accelerators.

Sub-packages: `flexspim.config` (the one configuration module), `flexspim.golden` (the NumPy
specification), `flexspim.hdl` (Amaranth RTL), `flexspim.testbench` (cocotb harness and
drivers), and the CLI (`python -m flexspim`).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("flexspim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
