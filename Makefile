# flexspim: one-command set-up and test tiers. Everything runs inside ./.venv.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# pytest-xdist workers; CI machines have 2 cores. --dist worksteal: a worker that runs out
# of tests takes pending ones from the other (with the default "load" one worker can sit
# idle for minutes while the other works through a queue of long RTL tests).
JOBS   ?= 2
# extra pytest arguments for test / regress, e.g. PYTEST_ARGS="--cpu-top 30 --durations 30"
PYTEST_ARGS ?=
# yosys, opensta (sta), qflow-tech-osu018 (OSU 0.18 Liberty + LEF), graywolf, qrouter, qflow:
# the synthesis / timing / place-and-route flow (`flexspim synth`, `flexspim pnr`, flow/);
# iverilog: the second simulator (`make test-icarus`)
APT_PACKAGES := g++ make perl ccache yosys opensta qflow-tech-osu018 graywolf qrouter qflow iverilog

.PHONY: install test test-icarus test-faults regress formal lint-rtl test-frameworks bench \
	bench-golden bench-macro bench-core bench-system bench-synth bench-shape bench-power pnr lint \
	clean help

help:
	@echo "make install       system packages (apt-get, when root) + .venv with flexspim[dev]"
	@echo "make test          fast tier: golden model + RTL tests (CI runs this)"
	@echo "make test-icarus   macro and core RTL regressions on Icarus Verilog (SIM=icarus)"
	@echo "make regress       long tier: more seeds, bigger geometries, 10^4 macro accumulates and"
	@echo "                   10^3 multi-layer event streams on the RTL, functional coverage table"
	@echo "make test-faults   fault injection: Ctrl-C at random points, concurrent runs, full disk"
	@echo "make test-frameworks  optional: snnTorch, Norse, Sinabs (CPU torch) export -> import -> run"
	@echo "make formal        bounded proofs (FIFO, router, adder, shaped accumulate) + mutants"
	@echo "make bench         all benchmark tables (bench-golden, bench-macro)"
	@echo "make bench-golden  golden-model throughput table"
	@echo "make bench-macro   macro conversion/build/simulation table (16..256)"
	@echo "make bench-core    neuron-core events/s table (64x64, P = 1, 4, 8, 16)"
	@echo "make bench-system  2-core system: RTL and golden-model events/s"
	@echo "make bench-synth   area (um2) and Fmax (MHz) on the OSU 0.18 Liberty: macro/core 64x64, 256x256"
	@echo "make bench-shape   operand shape (issue 20): cycles, Fmax, periphery area for max_operand_cols"
	@echo "                   1, 2, 4, 8 at 64x64 P = 1 and 8 (OSU 0.18; ~30-60 min, results cached)"
	@echo "make bench-power   pJ/SOP from toggles (OpenSTA) and the Liberty-costed model: macro/core 16x16"
	@echo "make pnr           place and route a 16x16 macro with qflow, post-route timing (slow; not in make test)"
	@echo "make lint          ruff on the Python sources"
	@echo "make lint-rtl      Verilator -Wall gate on generated Verilog (scoped waivers, pinned counts) + pyslang"

install:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  pkgs="$(APT_PACKAGES)"; \
	  $(PYTHON) -c "import ensurepip" 2>/dev/null || pkgs="$$pkgs python3-venv"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkgs >/dev/null) \
	    || echo "warning: apt-get install $$pkgs failed; ccache is optional, a C++ compiler is not; flexspim synth/pnr need yosys opensta qflow-tech-osu018 graywolf qrouter qflow"; \
	else echo "note: not root or no apt-get; make sure g++, make and perl are installed (and, for flexspim synth/pnr, yosys, opensta, qflow-tech-osu018, graywolf, qrouter, qflow)"; fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@$(VENV)/bin/flexspim --version

test:
	$(PY) -m pytest -n $(JOBS) --dist worksteal -q $(PYTEST_ARGS)

# One process: the tests time how fast Ctrl-C stops every child, so they must not compete
# with each other for the two cores.
test-faults:
	FLEXSPIM_TIER=faults $(PY) -m pytest -p no:randomly -q tests/faults
# The same cocotb regressions on the second simulator (5-25x slower than Verilator), and
# broken RTL variants that it must catch (tests/hdl/test_icarus_mutants.py).
test-icarus:
	SIM=icarus $(PY) -m pytest -n $(JOBS) -q tests/hdl/test_rtl_macro.py tests/hdl/test_rtl_core.py \
	  tests/hdl/test_icarus_mutants.py

# long tier: everything of the fast tier with more seeds and bigger geometries, the slow
# tests, and tests/hdl/test_regress_scale.py (10^4 macro accumulates, 10^3 multi-layer event
# streams on the RTL); ends with the functional coverage table
regress:
	FLEXSPIM_TIER=regress $(PY) -m pytest -n $(JOBS) --dist worksteal -q $(PYTEST_ARGS)

# Optional tier, not in CI: export from snnTorch, Norse and Sinabs (CPU torch), import, run.
# The frameworks live in their own venvs (never in .venv); each export runs there, flexspim
# in .venv. torch==2.13.0 is the CPU wheel (plain `torch` pulls a CUDA build). snnTorch 1.0.0
# needs nir>=1.0.6 and Sinabs 3.1.3 pins nir<=1.0.4, so Sinabs has a venv of its own; Norse
# shares snnTorch's. Versions are the ones the tests were measured with.
FW_VENV ?= .venv-frameworks
SINABS_VENV ?= .venv-sinabs
# neurobench 2.3.0 (NeuroBench's metrics, tests/frameworks/test_neurobench.py) pulls numba,
# tonic and torchaudio: a venv of its own, so it cannot move the other frameworks' versions.
NB_VENV ?= .venv-neurobench
test-frameworks:
	@test -x $(FW_VENV)/bin/python || $(PYTHON) -m venv $(FW_VENV)
	$(FW_VENV)/bin/python -m pip install -q torch==2.13.0 snntorch==1.0.0 norse==1.1.0 \
	  nirtorch==2.6 "nir>=1.0.6"
	@test -x $(SINABS_VENV)/bin/python || $(PYTHON) -m venv $(SINABS_VENV)
	$(SINABS_VENV)/bin/python -m pip install -q torch==2.13.0 sinabs==3.1.3
	@test -x $(NB_VENV)/bin/python || $(PYTHON) -m venv $(NB_VENV)
	$(NB_VENV)/bin/python -m pip install -q torch==2.13.0 snntorch==1.0.0 "nir>=1.0.6" \
	  nirtorch==2.6 neurobench==2.3.0
	FLEXSPIM_FRAMEWORK_PYTHON=$(abspath $(FW_VENV))/bin/python \
	  FLEXSPIM_SINABS_PYTHON=$(abspath $(SINABS_VENV))/bin/python \
	  FLEXSPIM_NEUROBENCH_PYTHON=$(abspath $(NB_VENV))/bin/python \
	  $(PY) -m pytest -n 1 -q tests/frameworks
formal:
	$(PY) -m flexspim.formal

bench: bench-golden bench-macro bench-core bench-system

bench-golden:
	$(PY) bench/bench_golden.py

bench-macro:
	$(PY) bench/bench_macro.py

bench-core:
	$(PY) bench/bench_core.py --workloads balanced,saturating

bench-system:
	$(PY) bench/bench_system.py

# Place and route of a 16x16 macro with qflow (graywolf + qrouter), parasitics extracted from
# the routed DEF, OpenSTA before and after routing: slow (~40 minutes on a shared machine), so
# outside `make test`; writes build/pnr-16x16/pnr.json and prints a summary (docs/flow.md).
.PHONY: pnr
pnr:
	$(VENV)/bin/flexspim pnr -o build/pnr-16x16 --rows 16 --cols 16 --batch 4

# README's power table (issue 23): macro and core 16x16 P=1, activity-based (gate-level
# toggles -> OpenSTA) and the Liberty-costed energy model, 0.18 um and scaled to 40 nm
bench-power:
	$(PY) bench/bench_power.py

# README's area / Fmax table: macro and core at 64x64 and 256x256, OSU 0.18 Liberty
bench-synth:
	$(PY) bench/bench_synth.py

# README's operand-shape table (issue 20): the 64x64 macro at P = 1 and 8 with max_operand_cols
# 1, 2, 4, 8 through `flexspim synth`'s flow (OSU 0.18, OpenSTA), cycles from golden/cycles.py;
# runs kept in build/bench-shape/ (a rerun redoes nothing), records in build/bench-shape/shape.json
bench-shape:
	$(PY) bench/bench_shape.py

lint:
	$(VENV)/bin/ruff check flexspim flow golden hdl testbench mapper energy frontend sweep formal tests bench examples

lint-rtl:
	$(PY) -m flexspim.lintgate

clean:
	rm -rf build sim_build .pytest_cache

# Geometry sweep shown in docs/sweep.md (24 points, 8 geometries synthesized to the OSU 0.18
# Liberty with the storage as flip-flops; ~15 min on 2 busy cores, mostly Yosys/ABC on the
# 32x64 arrays); results are cached in build/sweep-demo/cache, so a rerun is instant.
# Rerun it after any change to the RTL or the flow (the cache key then changes).
.PHONY: sweep-demo
sweep-demo:
	$(VENV)/bin/flexspim sweep --rows 16,32 --cols 16,64 --batch 1,8 --bv 6,10,16 --bw 2 \
	  -j $(JOBS) -o build/sweep-demo --title "bw=2, dvs-gesture example"
	mkdir -p docs/sweep
	cp build/sweep-demo/*.png build/sweep-demo/sweep.csv docs/sweep/

# The operand-shape axis (issue 20) in docs/sweep.md: a 32x16 macro at P = 1 and 8 for
# max_operand_cols = operand_cols = 1, 2, 4, 8 (8 syntheses, ~8 min at -j 1 on a busy machine)
.PHONY: sweep-shape-demo
sweep-shape-demo:
	$(VENV)/bin/flexspim sweep --rows 32 --cols 16 --batch 1,8 --bw 2 --bv 8 \
	  --operand-cols 1:8:2x -j 1 -o build/sweep-shape --title "32x16, bw=2, bv=8"
	mkdir -p docs/sweep
	cp build/sweep-shape/shape.png docs/sweep/shape-axis.png
	cp build/sweep-shape/sweep.csv docs/sweep/shape-axis.csv
