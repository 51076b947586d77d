"""Power from switching activity: a real event stream through the synthesized netlist.

Steps (`measure_power`), each a progress line:

1. **synthesis**: the generated macro or core, Yosys + ABC onto the Liberty (`synth.run_synth`;
   the storage synthesized as flip-flops and read multiplexers, as `flexspim synth` does);
2. **gate-level simulation**: the netlist with the library's cell models
   (``osu018_stdcells.v`` of Debian's ``qflow-tech-osu018``) under Icarus Verilog, zero
   delay, driven by cocotb with the usual drivers (`testbench.power_tb`): random weights and
   potentials, then a stream of accumulates and fires (macro) or of input events (core),
   every result checked against the golden model; ``power.vcd`` holds every net of the
   design's modules;
3. **toggles**: `vcd.toggle_counts` counts each net bit's 0/1 transitions and time at 1 in
   the window of the stream (from the first command to the last result);
4. **OpenSTA**: every pin of every cell gets its net's activity (transitions per clock
   period) and duty, then ``report_power`` per instance, summed by part (storage,
   periphery) and corrected for the three defects of this OpenSTA snapshot below;
5. **energy**: power x window time / synaptic operations = pJ/SOP, at the Liberty's node,
   and scaled to 40 nm (`scale_to_40nm`).

Defects of Debian's OpenSTA (``0~20191111gitc018cb2``) and what this module does about
each (checked by ``tests/flow/test_power.py`` on a hand-computed netlist):

* ``set_power_activity -pins`` does nothing (its Tcl reads the undefined ``$pins`` after
  storing the pins in ``$ports``, and only applies input pins): the activity of each pin is
  set with the command it calls, ``sta::set_power_pin_activity <pin> <activity> <duty>``.
* the first ``report_power`` propagates activities from the inputs through the logic and
  overwrites the user's values on every output pin; once propagated it does not do it
  again. So the script runs one ``report_power`` first, then sets every pin, then reports
  (with ``set_power_activity -input`` before it, the values set afterwards are ignored).
* internal energy is counted twice on output arcs and on clock pins: each transition is
  charged its ``rise_power`` plus its ``fall_power`` instead of one of them (a
  hand-computed inverter and flip-flop clock pin: exactly 2x; Liberty semantics:
  rise_power is the energy of a rising output transition), while a data input pin's own
  table (a flip-flop's D) is charged once. So each instance's internal power becomes
  ``(raw - D) / 2 + D`` with ``D`` its non-clock input pins' own-table power, computed here
  from the Liberty at their measured activity (`libcosts.REF_SLEW_NS` input transition).
* the clock net: with an ideal clock, the ``clk`` net has no driving cell, so its
  switching (all flip-flop CLK pin capacitance, charged and discharged every cycle) is in
  no instance; it is added here as ``C V^2 f``. The same holds for the design's other
  input ports (driven by the testbench, i.e. by the logic in front of the block): their
  nets' switching (``C V^2 / 2`` per transition) is added as a term of its own.

What the numbers are not: zero-delay simulation (no glitches), pin capacitance only (no
wires: `pnr` measured 47 pF of wire on a 16x16 P=4 macro, more than the pins), an ideal
clock (no clock tree), one typical corner.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any, Callable

from .libcosts import LibPower, read_power
from .liberty import Liberty
from .netlist import parse_netlist
from .synth import run_synth
from .tools import FlowError, require, run_logged, tool_version
from .vcd import toggle_counts

__all__ = ["CELL_MODELS", "cell_models", "scale_to_40nm", "SCALE_40NM", "CHIP_PJ_PER_SOP",
           "activity_script", "parse_instance_power", "measure_power", "FORMAT"]

FORMAT = {"format": "flexspim-power", "version": 1}

#: Verilog models of the OSU 0.18 cells (Debian ``qflow-tech-osu018``, `dpkg -L`).
CELL_MODELS = Path("/usr/share/qflow/tech/osu018/osu018_stdcells.v")

#: First-order node scaling of dynamic energy, 180 nm at 1.8 V -> 40 nm at 0.9 V:
#: E = C V^2 with C proportional to the feature size, (40/180) * (0.9/1.8)^2 = 0.0556.
#: 0.9 V is an assumption, a typical 40-nm core supply: the notes of the FlexSpIM paper
#: (architecture.md) give its node, 40 nm, but no supply (the calibration preset's
#: ``supply_v`` is None; decision 166). Leakage is not scaled (it does not follow C V^2; at
#: 0.18 um it is below 0.01% here).
V_180, V_40 = 1.8, 0.9
SCALE_40NM = (40 / 180) * (V_40 / V_180) ** 2

#: FlexSpIM silicon (arXiv 2410.23082): 5.7-7.2 pJ per synaptic operation at 8-bit
#: weights and 16-bit potentials, 40 nm.
CHIP_PJ_PER_SOP = (5.7, 7.2)


def scale_to_40nm(pj: float) -> float:
    """``pj`` (dynamic energy at 0.18 um, 1.8 V) scaled by `SCALE_40NM`."""
    return pj * SCALE_40NM


def cell_models() -> Path:
    if not CELL_MODELS.is_file():
        raise FlowError(f"the cell models {CELL_MODELS} are missing: apt-get install "
                        f"qflow-tech-osu018 (make install does it as root)")
    return CELL_MODELS


# -- OpenSTA ------------------------------------------------------------------------------

def activity_script(liberty: Path, netlist: str, top: str, period_ns: float,
                    pins: list[tuple[str, float, float]],
                    ports: list[tuple[str, float, float]] = (),
                    instances: bool = True) -> str:
    """OpenSTA commands: the netlist, a clock, one ``report_power`` to let it propagate
    (see the module docstring), every pin's (activity per clock period, duty), then
    ``report_power`` for the design and per instance. ``ports``: the input ports'
    (activity, duty): each report propagates them again into the cells they feed directly
    (measured: an inverter on an input port reports the port's activity, whatever was set
    on its output pin), so they must be the measured ones too. No ``set_power_activity -input``:
    after it the pin values set later are ignored (measured: an inverter set to 0.5
    reported 0)."""
    lines = [f"read_liberty {liberty}", f"read_verilog {netlist}", f"link_design {top}",
             f"create_clock -name clk -period {period_ns} [get_ports clk]",
             # a cell fed only by an unconstrained input has no clock, and this OpenSTA
             # then reads its activity per second, not per clock period (measured: an
             # inverter on an input port set to 0.5 reported 1e-15 W)
             "set_input_delay 0 -clock clk [delete_from_list [all_inputs] "
             "[get_ports clk]]",
             *(f"set_power_activity -input_ports [get_ports {{{p}}}] -activity {x:.9g} "
               f"-duty {d:.6g}" for p, x, d in ports),
             "report_power > prime.rpt",
             "proc a {p x d} { sta::set_power_pin_activity [get_pins $p] $x $d }"]
    lines += [f"a {{{p}}} {x:.9g} {d:.6g}" for p, x, d in pins]
    lines.append("puts \"== design\"")
    lines.append("report_power -digits 9")
    if instances:
        lines.append("puts \"== instances\"")
        lines.append("report_power -instances [get_cells -hierarchical *] -digits 9")
    lines.append("exit")
    return "\n".join(lines) + "\n"


_INST_LINE = re.compile(r"^\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)\s+([-+0-9.eE]+)\s+([-+0-9.eE]+)"
                        r"\s+(\S+)\s*$")
_TOTAL = re.compile(r"^Total\s+([-+0-9.eE]+)\s+([-+0-9.eE]+)\s+([-+0-9.eE]+)\s+([-+0-9.eE]+)",
                    re.M)


def parse_instance_power(text: str) -> tuple[dict[str, tuple[float, float, float]],
                                             tuple[float, float, float]]:
    """``({instance: (internal, switching, leakage) W}, design total (same))`` of the
    report `activity_script` prints."""
    if "== instances" not in text or "== design" not in text:
        raise FlowError("OpenSTA printed no power report (see sta.log)")
    design, inst = text.split("== design", 1)[1].split("== instances", 1)
    m = _TOTAL.search(design)
    if not m:
        raise FlowError("OpenSTA's report_power has no Total line (see sta.log)")
    total = (float(m.group(1)), float(m.group(2)), float(m.group(3)))
    out = {}
    for line in inst.splitlines():
        m = _INST_LINE.match(line)
        if m:
            out[m.group(5)] = (float(m.group(1)), float(m.group(2)), float(m.group(3)))
    return out, total


# -- the netlist's pins and their nets ----------------------------------------------------

def _bit(net: str) -> str:
    return net.strip()


def leaf_pins(netlist: dict, top: str, lib: LibPower):
    """``[(instance path, cell, pin, scope path, net)]`` of every library cell pin of
    ``top`` and of its submodule instances (the storage): paths as OpenSTA names them
    (``array/_0922_``), scopes as the VCD does (``flexspim_macro.array``)."""
    out = []

    def walk(module: str, path: str, scope: str):
        for inst, (cell, pins) in netlist[module].items():
            if cell in netlist:
                walk(cell, f"{path}{inst}/", f"{scope}.{inst}")
                continue
            if cell not in lib.cells:
                raise FlowError(f"cell `{cell}` of the netlist is not in the Liberty")
            for pin, net in pins.items():
                out.append((f"{path}{inst}", cell, pin, scope, _bit(net)))

    walk(top, "", top)
    return out


def submodule_scopes(netlist: dict, top: str) -> list[tuple[str, ...]]:
    """Instance paths (tuples of names) of ``top`` and every submodule instance inside it;
    a flattened instance name may itself contain dots (``macro.array``)."""
    out = [(top,)]

    def walk(module: str, path: tuple[str, ...]):
        for inst, (cell, _) in netlist[module].items():
            if cell in netlist:
                out.append(path + (inst,))
                walk(cell, path + (inst,))
    walk(top, (top,))
    return out


def _verilog_path(parts: tuple[str, ...]) -> str:
    """An instance path as a Verilog hierarchical reference (escaped where needed)."""
    return ".".join(p if re.fullmatch(r"[A-Za-z_]\w*", p) else f"\\{p} " for p in parts)


# -- the whole measurement ----------------------------------------------------------------

def measure_power(kind: str, config, lib: Liberty, work: Path, stream: dict, seed: int,
                  say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Synthesize ``config`` (``macro`` or ``core``), run ``stream`` through the netlist,
    and return the ``power.json`` record (see the module docstring). ``work`` keeps the
    netlist, the VCD, the scripts and the logs.

    Raises:
        FlowError: a tool is missing or failed, or the netlist computed a wrong result.
    """
    from .design import verilog_of

    say = say or (lambda s: None)
    for tool in ("yosys", "iverilog", "vvp", "sta"):
        require(tool)
    models = cell_models()
    work.mkdir(parents=True, exist_ok=True)
    say(f"generating Verilog of the {kind}")
    verilog, top = verilog_of(kind, config)
    say(f"yosys: synthesizing {top} to {lib.name}")
    area = run_synth(verilog, top, lib, work)
    say(f"synthesized: {area['cells']} cells, {area['flops']} flip-flops")
    text = (work / "netlist.v").read_text()
    netlist = parse_netlist(text)
    lp = read_power(lib.path)

    # -- gate-level simulation
    scopes = submodule_scopes(netlist, top)
    dump = "module power_dump;\ninitial begin\n  $dumpfile(\"power.vcd\");\n" + "".join(
        f"  $dumpvars(1, {_verilog_path(s)});\n" for s in scopes) + "end\nendmodule\n"
    sim = work / "sim"
    sim.mkdir(exist_ok=True)
    (sim / "power_dump.v").write_text(dump)
    job = {"kind": kind, "config": config.to_dict(), "stream": stream, "seed": seed}
    (sim / "job.json").write_text(json.dumps(job) + "\n")
    (sim / "stream.json").unlink(missing_ok=True)
    say("iverilog + cocotb: gate-level simulation of the stream (zero delay)")
    _simulate(top, [models, work / "netlist.v", sim / "power_dump.v"], sim, say)
    res = json.loads((sim / "stream.json").read_text())
    say(f"simulated {res['cycles']} cycles in the window; the netlist's results equal the "
        f"golden model's")

    # -- toggles
    say("counting toggles in power.vcd")
    act = toggle_counts(sim / "power.vcd", res["t0_ns"], res["t1_ns"],
                        {".".join(p) for p in scopes})
    cycles = res["cycles"]
    period = res["period_ns"]
    pins = leaf_pins(netlist, top, lp)
    missing = sorted({(s, n) for _, _, _, s, n in pins
                      if (s, n) not in act.toggles and not _const(n)})
    if missing:
        raise FlowError(f"{len(missing)} nets of the netlist are not in the VCD (first: "
                        f"{missing[0][0]}.{missing[0][1]})")
    sta_pins = []
    for inst, cell, pin, scope, net in pins:
        if _const(net):
            sta_pins.append((f"{inst}/{pin}", 0.0, 1.0 if net.endswith("1") else 0.0))
        else:
            key = (scope, net)
            sta_pins.append((f"{inst}/{pin}", act.toggles[key] / cycles, act.duty(key)))

    # -- OpenSTA
    say(f"OpenSTA: report_power with the activity of {len(sta_pins)} pins")
    sta = require("sta")
    inputs = top_inputs(text, top)
    ports = [(n, act.toggles[(top, n)] / cycles, act.duty((top, n)))
             for s_, n in act.toggles if s_ == top and n.split("[", 1)[0] in inputs
             and n != "clk"]
    (work / "power.tcl").write_text(activity_script(lib.path, "netlist.v", top, period,
                                                    sta_pins, ports))
    out = run_logged([sta, "-no_splash", "-exit", "power.tcl"], work, work / "power.log",
                     "OpenSTA (sta)")
    if re.search(r"^Error", out, re.M):
        line = next(s for s in out.splitlines() if s.startswith("Error"))
        raise FlowError(f"OpenSTA (sta): {line} (log: {work / 'power.log'})")
    per_inst, total = parse_instance_power(out)
    rec = _record(kind, top, config, lib, lp, area, text, pins, act, res, per_inst, total,
                  stream, seed)
    say(f"total {rec['power_mw']['total']:.3f} mW, {rec['pj_per_sop']['0.18um']:.1f} pJ/SOP "
        f"at 0.18 um")
    rec["model"] = model_comparison(rec, lp, config if kind == "macro" else config.macro)
    return rec


def model_comparison(rec: dict, lp: LibPower, macro) -> dict[str, Any]:
    """The energy model (`energy.counts`, `energy.model.layer_energy`) on the same
    operations, with per-operation costs derived from the Liberty (`libcosts.derived_costs`),
    term by term beside the activity-based figure.

    Terms of the measurement: *clock* = every flip-flop's CLK pin (its Liberty energy for
    one rising and one falling edge per cycle, as the corrected OpenSTA charges it) plus the
    clock net; *storage* = the storage module's cells minus their clock part; *periphery* =
    the other cells minus their clock part, plus the input nets. Model terms: *array* (bit
    reads and writes), *adders* (full-adder evaluations), and *clock* (flip-flops x cycles x
    `clock_per_flop_cycle`, a term `energy/` does not have)."""
    from flexspim.energy.costs import EnergyCosts
    from flexspim.energy.counts import Counts, count_accumulate, count_fire
    from flexspim.energy.model import layer_energy

    from .libcosts import derived_costs

    dc = derived_costs(lp, macro.rows)
    costs = EnergyCosts(array_read_bit=dc["array_read_bit"],
                        array_write_bit=dc["array_write_bit"], full_adder=dc["full_adder"])
    c = Counts()
    for o in rec["ops"]:
        if o["kind"] == "acc":
            count_accumulate(c, o["active"], o["n"], o["bv"], macro.guard_cycles,
                             o["saturate"], o["cycles"], o["active"] * o["n"])
        else:
            count_fire(c, o["active"], o["cycles"], o["work"])
    e = layer_energy(c, costs, "none")
    w = rec["window"]
    cycles = w["cycles"]
    window_s = cycles * w["period_ns"] * 1e-9
    clk_pin = sum(t.lookup(input_transition_time=0.0, input_net_transition=0.0)
                  for t in lp.cells["DFFPOSX1"].pins["CLK"].internal[""].values())
    p = rec["power_mw"]

    def pj(mw):
        return mw * 1e-3 * window_s * 1e12

    clk_storage = rec["storage_flops"] * clk_pin * cycles
    clk_periph = (rec["flops"] - rec["storage_flops"]) * clk_pin * cycles
    st, pe = p["storage"], p["periphery"]
    measured = {
        "clock": clk_storage + clk_periph + pj(p["clock_net"]),
        "storage": pj(st["internal"] + st["switching"]) - clk_storage,
        "periphery": pj(pe["internal"] + pe["switching"] + p["input_nets"]) - clk_periph,
    }
    model_clock = rec["flops"] * cycles * dc["clock_per_flop_cycle"]
    model = {"clock": model_clock, "array": e.array, "adders": e.adders}
    sops = rec["operations"]["sops"]
    meas_total = sum(measured.values())
    no_clock = e.array + e.adders
    return {
        "costs_pj": {k: dc[k] for k in ("array_read_bit", "array_write_bit", "full_adder",
                                        "clock_per_flop_cycle")},
        "how": dc["how"],
        "counts": c.to_dict(),
        "model_pj": model, "measured_pj": measured,
        "pj_per_sop": no_clock / sops, "pj_per_sop_with_clock": (no_clock + model_clock) / sops,
        "measured_dynamic_pj_per_sop": meas_total / sops,
        "ratio_with_clock": meas_total / (no_clock + model_clock),
        "ratio_without_clock": meas_total / no_clock,
        "term_ratio": {"clock": measured["clock"] / model_clock,
                       "storage / array": measured["storage"] / e.array if e.array else None,
                       "periphery / adders": measured["periphery"] / e.adders
                       if e.adders else None},
    }


def _const(net: str) -> bool:
    return bool(re.fullmatch(r"1'[hb][01]", net))


def _simulate(top: str, sources: list[Path], sim: Path, say) -> None:
    """The cocotb run of `testbench.power_tb` on Icarus, writing ``power.vcd`` (not FST)."""
    from cocotb_tools.runner import Icarus

    class VcdIcarus(Icarus):
        # cocotb passes vvp `-none` (no dump) or `-fst`; the reader wants VCD
        def _test_command(self):
            return [[("-vcd" if a in ("-none", "-fst") else a) for a in c]
                    for c in super()._test_command()]

    runner = VcdIcarus()
    log = sim / "iverilog.log"
    try:
        runner.build(sources=sources, hdl_toplevel=top, build_dir=sim,
                     build_args=["-g2005", "-s", "power_dump"], timescale=("1ns", "1ps"),
                     log_file=log, always=True)
    except (SystemExit, Exception) as e:       # noqa: BLE001 - one line with the log
        raise FlowError(f"iverilog failed to compile the netlist ({e}; log: {log})") from None
    results = sim / "results.xml"
    env = {"FLEXSPIM_POWER_DIR": str(sim.resolve())}
    try:
        runner.test(test_module="flexspim.testbench.power_tb", hdl_toplevel=top,
                    build_dir=sim, test_dir=sim, extra_env=env,
                    results_xml=str(results.resolve()), log_file=sim / "sim.log")
    except SystemExit:
        pass
    from cocotb_tools.check_results import get_results

    try:
        n, failed = get_results(results)
    except Exception:                          # noqa: BLE001
        n, failed = 0, 1
    if failed or n == 0 or not (sim / "stream.json").is_file():
        tail = ""
        if (sim / "sim.log").is_file():
            bad = [s for s in (sim / "sim.log").read_text(errors="replace").splitlines()
                   if "AssertionError" in s or "Error" in s]
            tail = bad[-1].strip() if bad else ""
        raise FlowError(f"the gate-level simulation failed: {tail} (log: {sim / 'sim.log'})")


def _record(kind, top, config, lib, lp, area, text, pins, act, res, per_inst, total,
            stream, seed) -> dict[str, Any]:
    cycles, period = res["cycles"], res["period_ns"]
    f_hz = 1e9 / period
    V = lp.voltage
    # sum by part; internal halved (OpenSTA's double count)
    parts = {"storage": [0.0, 0.0, 0.0], "periphery": [0.0, 0.0, 0.0]}
    storage_prefix = {p.rsplit("/", 1)[0] + "/" for p, *_ in pins if "/" in p}
    cell_of = {p: c for p, c, *_ in pins}
    n_leaf = 0
    from .libcosts import REF_SLEW_NS

    # per instance: internal power of its data input pins' own tables (counted once)
    own: dict[str, float] = {}
    for inst, cell, pin, scope, net in pins:
        pp = lp.cells[cell].pins[pin]
        if pp.direction == "input" and "" in pp.internal and pin != "CLK" and \
                not _const(net):
            a = act.toggles.get((scope, net), 0) / cycles
            own[inst] = own.get(inst, 0.0) + lp.internal(cell, pin, 0.0, REF_SLEW_NS) \
                * 1e-12 * a * f_hz
    for inst, (i, s, lk) in per_inst.items():
        if inst not in cell_of:
            continue        # a hierarchical instance (its cells are listed on their own)
        n_leaf += 1
        part = "storage" if any(inst.startswith(sp) for sp in storage_prefix) else "periphery"
        d = min(own.get(inst, 0.0), i)
        parts[part][0] += (i - d) / 2 + d
        parts[part][1] += s
        parts[part][2] += lk
    # nets without a driving cell: the clock and the other input ports of the top
    inputs = top_inputs(text, top)
    clk_cap = in_energy_pj = 0.0
    loads: dict[str, float] = {}
    # submodule instances whose `clk` is the top's clock (the storage)
    parsed = parse_netlist(text)
    clk_scopes = {top} | {f"{top}.{i}" for i, (c, p) in parsed[top].items()
                          if c in parsed and p.get("clk") == "clk"}
    for inst, cell, pin, scope, net in pins:
        pp = lp.cells[cell].pins[pin]
        if pp.direction != "input":
            continue
        if scope == top:
            loads[net] = loads.get(net, 0.0) + pp.capacitance
        elif net == "clk" and scope in clk_scopes:
            clk_cap += pp.capacitance
    for net, cap in loads.items():
        base = net.split("[", 1)[0]
        if base not in inputs:
            continue
        if base == "clk":
            clk_cap += cap
        else:
            in_energy_pj += act.toggles.get((top, net), 0) * 0.5 * cap * V ** 2
    clock_net_w = clk_cap * 1e-12 * V ** 2 * f_hz
    window_s = cycles * period * 1e-9
    inputs_w = in_energy_pj * 1e-12 / window_s
    internal = parts["storage"][0] + parts["periphery"][0]
    switching = parts["storage"][1] + parts["periphery"][1]
    leakage = parts["storage"][2] + parts["periphery"][2]
    dynamic = internal + switching + clock_net_w + inputs_w
    total_w = dynamic + leakage
    sops = sum(o["active"] * o["n"] for o in res["ops"] if o["kind"] == "acc")
    energy_pj = total_w * window_s * 1e12
    dyn_pj = dynamic * window_s * 1e12
    pj_sop = energy_pj / sops if sops else math.nan
    toggles = sum(act.toggles.values())
    return {
        **FORMAT,
        "top": top, "kind": kind, "params": config.to_dict(), "stream": stream, "seed": seed,
        "liberty": lib.summary(),
        "tools": {"yosys": tool_version("yosys"), "sta": tool_version("sta"),
                  "iverilog": _iverilog_version()},
        "cells": area["cells"], "flops": area["flops"],
        "storage_flops": area["storage"]["flops"],
        "window": {"cycles": cycles, "period_ns": period, "clock_mhz": f_hz / 1e6,
                   "t0_ns": res["t0_ns"], "t1_ns": res["t1_ns"]},
        "operations": {
            "accumulates": sum(o["kind"] == "acc" for o in res["ops"]),
            "fires": sum(o["kind"] == "fire" for o in res["ops"]),
            "sops": sops, "busy_cycles": sum(o["cycles"] for o in res["ops"]),
            **{k: res[k] for k in ("events", "ticks", "spikes") if k in res}},
        "ops": res["ops"],
        "toggles": {"total": toggles, "nets": len(act.toggles),
                    "per_cycle": toggles / cycles if cycles else 0.0},
        "power_mw": {
            "internal": internal * 1e3, "switching": switching * 1e3,
            "clock_net": clock_net_w * 1e3, "input_nets": inputs_w * 1e3,
            "dynamic": dynamic * 1e3, "leakage": leakage * 1e3, "total": total_w * 1e3,
            "storage": {k: v * 1e3 for k, v in zip(("internal", "switching", "leakage"),
                                                    parts["storage"])},
            "periphery": {k: v * 1e3 for k, v in zip(("internal", "switching", "leakage"),
                                                      parts["periphery"])},
        },
        "opensta_raw_mw": {"internal": total[0] * 1e3, "switching": total[1] * 1e3,
                           "leakage": total[2] * 1e3,
                           "instances_reported": n_leaf, "cells": area["cells"]},
        "clock_pin_cap_pf": clk_cap,
        "energy_pj": {"window": energy_pj, "dynamic": dyn_pj},
        "pj_per_sop": {"0.18um": pj_sop, "40nm": scale_to_40nm(dyn_pj / sops) if sops
                       else math.nan, "chip_40nm": list(CHIP_PJ_PER_SOP)},
        "scaling": {"factor": SCALE_40NM,
                    "formula": "E40 = E180 * (40/180) * (0.9 V / 1.8 V)^2 (C ~ feature "
                               "size, E = C V^2; dynamic energy only)"},
        "corrections": [
            "OpenSTA internal power halved on output arcs and clock pins (it charges "
            "rise_power + fall_power per transition), data-pin tables kept",
            "clock net C V^2 f added (ideal clock: no driving cell)",
            "input-port nets C V^2 / 2 per toggle added (driven by the testbench)"],
    }


def top_inputs(text: str, top: str) -> set[str]:
    """Input port names of module ``top`` in the netlist ``text``."""
    m = re.search(rf"^module {re.escape(top)}\(.*?^endmodule", text, re.S | re.M)
    body = m.group(0) if m else ""
    return set(re.findall(r"^\s*input\s+(?:\[[^\]]*\]\s*)?(\w+)\s*;", body, re.M))


def _iverilog_version() -> str:
    path = shutil.which("iverilog")
    if path is None:
        return "not installed"
    import subprocess

    try:
        r = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (r.stdout.strip().splitlines() or [""])[0]

