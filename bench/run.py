"""``make bench``: co-simulation speed, latency in cycles and hardware cost.

Prints every figure and writes ``bench/results.json``, ``bench/results.md`` and
the plots ``bench/*.png``; docs/benchmarks.md explains each figure. Times are
taken inside the simulator (builds and simulator start-up excluded). Figures,
per simulator:

- throughput for 1, 2, 4, 8 and 16 CPUs running the seeded ``random``
  workload: simulated cycles, firmware bus transactions and kernel events
  (switches + IPIs sent + token hand-offs) per wall second, and wall time per
  kernel event; and the same SoCs, and a 32-CPU one, idle (``smp-idle``: every
  core taking a 1000-cycle hardclock);
- the simulator alone (``bench/limit.py``: the SoC's Verilog in a bare C++ Verilator
  harness, no cocotb) at 1, 2, 4, 8, 16 and 32 CPUs, with its build time, and
  ``limit_fraction``: the idle co-simulation's cycles per second over that bound;
- ``driver_bound_fraction``: our bus driver's transactions per second over the
  rate at which the co-simulation runs the two cycles an access takes with no
  bus activity, one timer wake-up each (``simulator_only``; 1.0: the driver
  costs nothing); ``driver_speedup``: ours against a plain cocotb driver
  (FallingEdge, RisingEdge, ReadOnly, FallingEdge per transaction);
- ``event_cost_ratio_16_2``: wall time per kernel event at 16 CPUs over 2;
- ``cost_model_speed_ratio``: the speed of co-simulation (simulated cycles per
  wall second) under the zero cost model over that under the default one
  (kernel execution takes cycles), on the ``random`` workload, same seed and
  CPUs, the two taking turns; also the wall time of the whole workload under
  each (the default model's workload is longer in simulated time: the
  kernel's own execution);
- latency in cycles: the hardware's own (``bench/hw_latency.py``) and the
  kernel's (IPI, token hand-off, MP-lock hand-off, context switch) from the
  runs' reports;
- ``shared_ram_share``: the shared-RAM accesses (every object more than one CPU touches: tokens,
  wait queues, thread records, workload words) as a share of all bus transactions, per CPU count,
  from the same throughput runs;
- hardware cost: Yosys cell counts per block (``bench/hw_cost.py``).

``make bench`` then runs ``bench/campaign_bench.py`` (the campaign engine against the local-process stress).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

from bench import goals
from sim.host import toolchain
from firmware.cost_model import COST_MODEL_NAMES, DEFAULT_COST_MODEL
from sim.contract.config import RunConfig
from sim.host.run import run_scenario

ROOT = Path(__file__).resolve().parent
CPU_COUNTS = (1, 2, 4, 8, 16)
#: The idle SoC and the simulator-alone bound also at 32 CPUs (the random workload would take too long).
IDLE_CPU_COUNTS = LIMIT_CPU_COUNTS = CPU_COUNTS + (32,)
LATENCY_KINDS = ("ipi", "token_handoff", "mplock_handoff", "switch")


def kernel_events(report: dict) -> int:
    return report["sysctl"]["lwkt.switch_count"] + report["ipi"]["sent"] + report["latency"]["token_handoff"]["count"]


def run_once(scenario: str, sim: str, cpus: int, seed: int = 1, cost_model: str = DEFAULT_COST_MODEL) -> dict:
    """One run of ``scenario``; its report (raises when the run fails)."""
    with tempfile.TemporaryDirectory() as tmp:
        request = RunConfig(scenario, sim=sim, seed=seed, cpus=cpus, cost_model=cost_model, out=tmp)
        if run_scenario(request, quiet=True) != 0:
            raise RuntimeError(f"{scenario} failed on {sim} with {cpus} CPUs ({cost_model} cost model)")
        return json.loads((Path(tmp) / "report.json").read_text())


def measure_throughput(scenario: str, sim: str, cpus: int, repeats: int) -> tuple[dict, dict]:
    """The fastest of ``repeats`` runs: its figures, and its report."""
    best = None
    for _ in range(repeats):
        report = run_once(scenario, sim, cpus)
        if best is None or report["wall_seconds"] < best["wall_seconds"]:
            best = report
    wall, events = best["wall_seconds"], kernel_events(best)
    figures = {
        "sim": sim,
        "cpus": cpus,
        "scenario": scenario,
        "cycles": best["cycles"],
        "wall_seconds": wall,
        "cycles_per_second": round(best["cycles"] / wall),
        "bus_transactions": best["bus_transactions"],
        "transactions_per_second": round(best["bus_transactions"] / wall),
        "kernel_events": events,
        "events_per_second": round(events / wall) if events else 0,
        "wall_per_event_us": round(wall / events * 1e6, 2) if events else None,
    }
    ram = best.get("shared_ram")
    # The shared data's bus traffic, measured in the same run: its share of all bus transactions.
    figures["shared_ram_accesses"] = ram["accesses"] if ram else 0
    figures["shared_ram_share"] = round(ram["accesses"] / best["bus_transactions"], 3) if ram else 0.0
    return figures, best


def measure_cost_models(sim: str, cpus: int, repeats: int) -> dict:
    """The random workload under the zero and the default cost model, taking turns; the fastest
    run of each, and the default model's cost relative to the zero model."""
    best: dict[str, dict] = {}
    for _ in range(repeats):
        for model in COST_MODEL_NAMES:
            report = run_once("random", sim, cpus, cost_model=model)
            if model not in best or report["wall_seconds"] < best[model]["wall_seconds"]:
                best[model] = report
    figures = {
        model: {
            "cycles": r["cycles"],
            "wall_seconds": r["wall_seconds"],
            "kernel_events": kernel_events(r),
            "kernel_cycles": sum(c.get("kernel_cycles", 0) for c in r["per_cpu"]),
            "wall_per_kcycle_us": round(r["wall_seconds"] / r["cycles"] * 1e9, 2),
        }
        for model, r in best.items()
    }
    zero, default = figures["zero"], figures["default"]
    return {
        "cpus": cpus,
        **figures,
        "speed_ratio": round(default["wall_per_kcycle_us"] / zero["wall_per_kcycle_us"], 2),
        "wall_ratio": round(default["wall_seconds"] / zero["wall_seconds"], 2),
        "cycle_ratio": round(default["cycles"] / zero["cycles"], 2),
    }


def run_program(sim: str, module: str, cpus: int, result_file: str, params: dict | None = None) -> dict:
    """Run one of bench's cocotb programs on a ``cpus``-CPU SoC (``params``: its run.json's); the JSON
    it writes."""
    from hdl.config import SocConfig
    from sim.contract.config import RunConfig
    from sim.host.build import build_soc
    from sim.host.runner import run_cocotb

    with tempfile.TemporaryDirectory() as tmp:
        soc = SocConfig(ncpu=cpus)
        config = RunConfig.directed(module, soc, sim, Path(tmp), params=params)
        result = run_cocotb(
            build_soc(sim, soc), module, test_dir=Path(tmp), config=config, python_path=[str(ROOT.parent)]
        )
        if not result.ok:
            raise RuntimeError(f"{module} failed on {sim}: {(Path(tmp) / 'sim.log').read_text()[-2000:]}")
        return json.loads((Path(tmp) / result_file).read_text())


def latency_rows(report: dict) -> dict:
    return {kind: report["latency"][kind] for kind in LATENCY_KINDS if kind in report["latency"]}


def measure_sim(sim: str, cpu_counts, repeats: int, transactions: int, idle_counts=None) -> dict:
    throughput, idle, latency, cost_models = [], [], {}, []
    idle_counts = cpu_counts if idle_counts is None else idle_counts
    for cpus in sorted(set(cpu_counts) | set(idle_counts)):
        print(f"  {sim}: {cpus} CPU(s)", flush=True)
        if cpus in cpu_counts:
            figures, report = measure_throughput("random", sim, cpus, repeats)
            throughput.append(figures)
            latency[cpus] = latency_rows(report)
        if cpus in idle_counts:
            # The fastest of repeats too: limit_fraction divides by it, and an idle run lasts under a second.
            idle_figures, _ = measure_throughput("smp-idle", sim, cpus, repeats)
            idle.append(idle_figures)
        if cpus in cpu_counts:
            cost_models.append(measure_cost_models(sim, cpus, repeats))
    driver = run_program(sim, "bench.driver_bench", 4, "driver.json", {"transactions": transactions})
    hardware = {
        cpus: run_program(sim, "bench.hw_latency", cpus, "hw_latency.json")
        for cpus in (2, 4, 16)
        if cpus in cpu_counts or cpus == 4
    }
    per_event = {r["cpus"]: r["wall_per_event_us"] for r in throughput}
    ratio = round(per_event[16] / per_event[2], 2) if per_event.get(16) and per_event.get(2) else None
    return {
        "throughput": throughput,
        "idle": idle,
        "driver": driver,
        "hardware_latency": hardware,
        "kernel_latency": latency,
        "event_cost_ratio_16_2": ratio,
        "cost_models": cost_models,
    }


def measure_limit(cpu_counts, cycles: int) -> list[dict]:
    """bench/limit.py at each CPU count: the simulator alone, nothing public (builds are cached)."""
    from bench import limit

    rows = []
    for cpus in cpu_counts:
        print(f"  limit: {cpus} CPU(s), {cycles:,} cycles", flush=True)
        rows.append(limit.measure(cpus, cycles))
    return rows


def limit_fractions(idle: list[dict], limit: list[dict]) -> dict[str, float]:
    """Idle co-simulation cycles/s over the simulator-alone bound, per CPU count measured by both."""
    bound = {row["cpus"]: row["cycles_per_second"] for row in limit}
    return {
        str(row["cpus"]): round(row["cycles_per_second"] / bound[row["cpus"]], 3)
        for row in idle
        if row["cpus"] in bound
    }


def _counts(parser, option: str, text: str) -> tuple[int, ...]:
    try:
        counts = tuple(sorted({int(c) for c in text.split(",") if c.strip()}))
    except ValueError:
        parser.error(f"{option} takes comma-separated CPU counts, not {text!r}")
    if not all(1 <= c <= 32 for c in counts):
        parser.error(f"{option}: every CPU count must be in 1..32")
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", default="verilator,icarus", help="comma-separated simulators")
    parser.add_argument("--cpus", help="comma-separated CPU counts (default: " + ",".join(map(str, CPU_COUNTS)) + ")")
    parser.add_argument(
        "--idle-cpus",
        help="CPU counts of the idle SoC (default: --cpus if given, else " + ",".join(map(str, IDLE_CPU_COUNTS)) + ")",
    )
    parser.add_argument(
        "--limit-cpus", help="CPU counts of the simulator-alone bound, '' for none (default: --idle-cpus)"
    )
    parser.add_argument("--limit-cycles", type=int, default=200_000, help="clock cycles per limit measurement")
    parser.add_argument("--repeats", type=int, default=2, help="runs per throughput figure; the fastest is kept")
    parser.add_argument("--transactions", type=int, default=3000, help="reads per driver in the driver comparison")
    parser.add_argument("--no-hw-cost", action="store_true", help="skip the Yosys synthesis (hardware cost)")
    parser.add_argument("--no-32", action="store_true", help="skip the fresh 32-CPU builds and their random workload")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="every piece, quickly (1 repeat, 300 transactions, 20,000 limit cycles, no hardware "
        "cost): to check they run, not figures to keep",
    )
    parser.add_argument("--out", default=str(ROOT), help="folder for results.json, results.md and the plots")
    args = parser.parse_args(argv)
    cpu_counts = _counts(parser, "--cpus", args.cpus) if args.cpus is not None else CPU_COUNTS
    idle_counts = (
        _counts(parser, "--idle-cpus", args.idle_cpus)
        if args.idle_cpus is not None
        else cpu_counts
        if args.cpus is not None
        else IDLE_CPU_COUNTS
    )
    limit_counts = _counts(parser, "--limit-cpus", args.limit_cpus) if args.limit_cpus is not None else idle_counts
    if args.quick:
        args.repeats, args.transactions, args.limit_cycles, args.no_hw_cost, args.no_32 = 1, 300, 20_000, True, True
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    per_sim = {}
    for sim in args.sims.split(","):
        try:
            toolchain.activate(sim)
        except (toolchain.SimulatorMissing, ValueError) as exc:
            print(f"skipping {sim}: {exc}")
            continue
        print(f"measuring on {sim}", flush=True)
        per_sim[sim] = measure_sim(sim, cpu_counts, args.repeats, args.transactions, idle_counts)

    # The bound is Verilator's (the faster simulator) whichever simulators the co-simulation ran on.
    limit = []
    if limit_counts:
        try:
            toolchain.activate("verilator")
        except toolchain.SimulatorMissing as exc:
            print(f"skipping the simulator-alone bound: {exc}")
        else:
            print("measuring the simulator alone (bench/limit.py)", flush=True)
            limit = measure_limit(limit_counts, args.limit_cycles)

    hw_cost = None
    if not args.no_hw_cost:
        from bench import hw_cost as hw

        if hw.main(["--out", str(out / "hw_cost.json"), "--plot", str(out / "hw_cost.png")]) == 0:
            hw_cost = json.loads((out / "hw_cost.json").read_text())
        else:
            print("hardware cost skipped (see above)")

    results = {
        "machine": platform.platform(),
        "python": sys.version.split()[0],
        "simulators": {sim: toolchain.simulator_version(sim) for sim in per_sim},
        "per_simulator": per_sim,
        # Our driver's rate over cocotb and the simulator running an access's two cycles, no bus (1.0: free).
        "driver_bound_fraction": {sim: round(r["driver"]["driver_bound_fraction"], 3) for sim, r in per_sim.items()},
        "driver_speedup": {sim: round(r["driver"]["driver_speedup"], 2) for sim, r in per_sim.items()},
        # The simulator alone (no cocotb, nothing public; Verilator at -O3): cycles/s and build time per CPU count.
        "limit": {"cycles": args.limit_cycles, "results": limit},
        # Idle co-simulation cycles/s over that bound, per simulator and CPU count.
        "limit_fraction": {sim: limit_fractions(r["idle"], limit) for sim, r in per_sim.items()},
        "event_cost_ratio_16_2": {sim: r["event_cost_ratio_16_2"] for sim, r in per_sim.items()},
        # How many times slower the default cost model simulates than the zero one (worst CPU count).
        "cost_model_speed_ratio": {
            sim: max(row["speed_ratio"] for row in r["cost_models"]) for sim, r in per_sim.items() if r["cost_models"]
        },
        "shared_ram_share": {
            sim: {str(row["cpus"]): row["shared_ram_share"] for row in r["throughput"]} for sim, r in per_sim.items()
        },
        "hardware_cost": hw_cost,
        # The generated Verilog's size (MB) at the idle run's CPU counts.
        "verilog_mb": {str(n): goals.verilog_megabytes(n) for n in idle_counts},
        # 32 CPUs, when the idle SoC is measured there: a fresh build per simulator (seconds) and the
        # random workload on it.
        "cpus_32": goals.measure_32(list(per_sim)) if 32 in idle_counts and not args.no_32 else {},
    }
    # Each goal of docs/benchmarks.md as a figure of this run: met or not.
    results["goals"] = goals.evaluate(results)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    from bench.report import render_markdown, write_plots

    markdown = render_markdown(results)
    (out / "results.md").write_text(markdown)
    plots = write_plots(results, out)
    print()
    print(markdown)
    print(goals.markdown(results["goals"]))
    print(f"written: {out / 'results.json'}, {out / 'results.md'}, " + ", ".join(str(p) for p in plots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
