"""The shared Verilator runtime (`testbench.sim.shared_runtime`): a build folder links the
prebuilt object instead of compiling ``verilated*.cpp``, and a folder whose runtime switches
differ is rebuilt on its own."""

from __future__ import annotations

import pytest

from flexspim.testbench import sim

try:
    import cocotb
except ImportError:  # pragma: no cover
    cocotb = None

VERILOG = """module flexspim_rt_probe(clk, a, q);
  input clk;
  input [3:0] a;
  output reg [3:0] q;
  always @(posedge clk) q <= a + 4'd1;
endmodule
"""

if cocotb is not None:
    @cocotb.test()
    async def probe_adds_one(dut):
        from cocotb.clock import Clock
        from cocotb.triggers import ReadOnly, RisingEdge

        cocotb.start_soon(Clock(dut.clk, 10, "ns").start())
        for a in (0, 7, 15):
            dut.a.value = a
            await RisingEdge(dut.clk)
            await ReadOnly()
            assert int(dut.q.value) == (a + 1) % 16
            await RisingEdge(dut.clk)


CLASSES_MK = """# Verilated -*- Makefile -*-
VM_C11 = 1
VM_TIMING = 0
VM_PARALLEL_BUILDS = 1
VM_TRACE = 0

VM_CLASSES_FAST += \\
  Vtop \\

VM_GLOBAL_FAST += \\
  verilated \\
  verilated_vpi \\

VM_GLOBAL_SLOW += \\

"""


def test_runtime_switches_reads_the_classes_file(tmp_path):
    assert sim.runtime_switches(tmp_path) is None
    (tmp_path / "Vtop_classes.mk").write_text(CLASSES_MK)
    # the switches and the runtime files; VM_PARALLEL_BUILDS concerns the design's own files
    assert sim.runtime_switches(tmp_path) == (
        "VM_C11=1\nVM_TIMING=0\nVM_TRACE=0\n"
        "VM_GLOBAL_FAST+=verilated\nVM_GLOBAL_FAST+=verilated_vpi\n")


def _build(tmp_path, name):
    # the runtime in the usual build/sim (other tests built it already); the design here
    src = tmp_path / "flexspim_rt_probe.v"
    src.write_text(VERILOG)
    build = tmp_path / name
    sim.run_cocotb(toplevel="flexspim_rt_probe", sources=[src], test_module="test_sim_runtime",
                   build_dir=build, seed=1)
    return (build / "build.log").read_text()


@pytest.mark.rtl
def test_build_links_the_shared_runtime(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEXSPIM_SHARED_RUNTIME", "1")
    log = _build(tmp_path, "a")
    assert "-o verilated.o" not in log and "-o verilated_vpi.o" not in log
    link = [line for line in log.splitlines() if line.endswith("-o flexspim_rt_probe")]
    assert len(link) == 1 and "/_runtime-" in link[0] and "runtime.o" in link[0], link


@pytest.mark.rtl
@pytest.mark.slow
def test_a_folder_with_other_switches_builds_its_own_runtime(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEXSPIM_SHARED_RUNTIME", "1")
    real = sim.shared_runtime

    def wrong(args, waves=False):
        obj, switches = real(args, waves)
        return obj, switches.replace("VM_TRACE=0", "VM_TRACE=1")

    monkeypatch.setattr(sim, "shared_runtime", wrong)
    log = _build(tmp_path, "b")
    assert "-o verilated.o" in log      # compiled in the folder after the mismatch
