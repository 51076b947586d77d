"""Area and Fmax of one macro geometry from the real-library flow (`flexspim.flow`).

Each geometry's macro is synthesized with Yosys + ABC to a Liberty (default: OSU 0.18 um, the
same flow as ``flexspim synth``) and timed with OpenSTA. The periphery (accumulate unit,
adders, fire unit, sequencer, row-port glue) is always synthesized. The storage (the array
module, found by `flexspim.flow.storage`) is priced one of two ways, ``storage``:

* ``synth`` (default): synthesized too, as flip-flops and read multiplexers: what it costs
  built from standard cells. Its read paths are in the Fmax.
* ``bitcell``: a custom CIM bitcell macro, black-boxed in synthesis and priced per bit by
  `bitcell_nand2` (below) times the Liberty's NAND2 area; its access time is not in the Fmax
  (a custom macro's comes from its own characterization).

The per-bit cost of a custom macro is `flexspim.flow.bitcell` (its derivation is there).

Results per geometry are cached by the sweep (`sweep.runner`); the key includes
`tools_key`: Yosys and OpenSTA versions and the flow's source.
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flexspim.config import MacroConfig, _Config
from flexspim.flow.bitcell import BITCELL_6T_NAND2, PORT_GROWTH, bitcell_nand2

__all__ = ["BITCELL_6T_NAND2", "PORT_GROWTH", "STORAGE_MODES", "AreaOptions",
           "bitcell_nand2", "tools_key", "yosys_version", "evaluate_area"]

STORAGE_MODES = ("synth", "bitcell")


@functools.lru_cache(maxsize=1)
def tools_key() -> str:
    """Yosys and OpenSTA versions plus a hash of the flow's source: part of the area cache
    key, so a tool upgrade or a flow change never serves a stale area."""
    from flexspim.flow.tools import tool_version

    src = Path(__file__).resolve().parent.parent / "flow"
    h = hashlib.sha256()
    for f in sorted(src.glob("*.py")):
        h.update(f.name.encode() + f.read_bytes())
    return f"{tool_version('yosys')} | {tool_version('sta')} | flow {h.hexdigest()[:16]}"


#: The sweep runner's name for `tools_key`.
yosys_version = tools_key


@dataclass(frozen=True)
class AreaOptions(_Config):
    """Area settings (part of the area cache key).

    Attributes:
        storage: ``synth`` (storage as flip-flops) or ``bitcell`` (custom macro, per bit).
        bitcell_nand2: 6T bitcell in NAND2 equivalents (``bitcell`` mode).
        port_growth: ``k`` in ``(1 + k r)^2`` (``bitcell`` mode).
        liberty: the Liberty file ("" = the default OSU 0.18 library).
        liberty_sha256: its hash (so an edited file is not served from the cache).
    """

    storage: str = "synth"
    bitcell_nand2: float = BITCELL_6T_NAND2
    port_growth: float = PORT_GROWTH
    liberty: str = ""
    liberty_sha256: str = ""

    def __post_init__(self):
        if self.storage not in STORAGE_MODES:
            raise ValueError(f"`storage` must be one of {', '.join(STORAGE_MODES)}, "
                             f"not {self.storage!r}")
        for name, lo, hi in (("bitcell_nand2", 0, 1000), ("port_growth", -1e-12, 10)):
            b = getattr(self, name)
            if isinstance(b, bool) or not isinstance(b, (int, float)) or not lo < b < hi:
                raise ValueError(f"`{name}` must be a number in ({max(lo, 0)}, {hi}), "
                                 f"not {b!r}")


def evaluate_area(macro: dict, options: dict) -> dict[str, Any]:
    """Area and timing figures of one geometry (module-level, plain dicts: runs in worker
    processes).

    Returns ``area_um2``, ``storage_um2``, ``periph_um2``, ``periph_cells``,
    ``periph_flops``, ``storage_cells``, ``storage_flops``, ``array_bits``,
    ``array_read_ports``, ``bitcell_um2`` (``bitcell`` mode), ``total_nand2``,
    ``storage_nand2``, ``periph_nand2`` (in the Liberty's NAND2), ``crit_ns``, ``fmax_mhz``,
    ``crit_from``, ``crit_to`` and ``synth_s``.

    Raises:
        ValueError: an invalid geometry or Liberty. FlowError: a tool is missing or failed.
    """
    from flexspim.flow import default_liberty, load_liberty
    from flexspim.flow.design import verilog_of
    from flexspim.flow.sta import run_sta
    from flexspim.flow.synth import run_synth

    cfg, opts = MacroConfig.from_dict(macro), AreaOptions.from_dict(options)
    lib = load_liberty(opts.liberty or default_liberty())
    t0 = time.perf_counter()
    verilog, top = verilog_of("macro", cfg)
    box = opts.storage == "bitcell"
    with tempfile.TemporaryDirectory(prefix="flexspim-area-") as tmp:
        syn = run_synth(verilog, top, lib, Path(tmp), blackbox_storage=box)
        tim = run_sta(Path(tmp), top, lib)
    bits, ports = cfg.rows * cfg.cols, cfg.batch_max + 1
    nand2 = lib.areas[lib.nand2] if lib.nand2 else None
    a = syn["area_um2"]
    out: dict[str, Any] = {
        "periph_um2": a["periphery"], "periph_cells": syn["periphery"]["cells"],
        "periph_flops": syn["periphery"]["flops"],
        "array_bits": bits, "array_read_ports": ports,
    }
    if box:
        if nand2 is None:
            raise ValueError(f"the Liberty {lib.name} has no two-input NAND cell, so the "
                             f"per-bit storage cost (in NAND2 equivalents) has no unit")
        out["bitcell_um2"] = bitcell_nand2(ports, opts.bitcell_nand2, opts.port_growth) * nand2
        out["storage_um2"] = bits * out["bitcell_um2"]
    else:
        out.update(storage_um2=a["storage"], storage_cells=syn["storage"]["cells"],
                   storage_flops=syn["storage"]["flops"])
    out["area_um2"] = out["periph_um2"] + out["storage_um2"]
    if nand2:
        for k in ("total", "storage", "periph"):
            out[f"{k}_nand2"] = out["area_um2" if k == "total" else f"{k}_um2"] / nand2
    out.update(crit_ns=tim["critical_path_ns"], fmax_mhz=tim["fmax_mhz"],
               crit_from=tim["start_register"], crit_to=tim["end_register"])
    out["synth_s"] = time.perf_counter() - t0
    return out
