"""``make bench``: co-simulation speed, latency in cycles and hardware cost.

Prints every figure and writes ``bench/results.json``, ``bench/results.md`` and
the plots ``bench/*.png``; docs/benchmarks.md explains each figure. Times are
taken inside the simulator (builds and simulator start-up excluded). Figures,
per simulator:

- throughput for 1, 2, 4, 8 and 16 CPUs running the seeded ``random``
  workload: simulated cycles, firmware bus transactions and kernel events
  (switches + IPIs sent + token hand-offs) per wall second, and wall time per
  kernel event; and the same SoCs idle (``smp-idle``: every core taking a
  1000-cycle hardclock);
- ``driver_speedup``: our bus driver against a plain cocotb driver
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

from sim import toolchain
from sim.run import run_scenario

ROOT = Path(__file__).resolve().parent
CPU_COUNTS = (1, 2, 4, 8, 16)
LATENCY_KINDS = ("ipi", "token_handoff", "mplock_handoff", "switch")


def kernel_events(report: dict) -> int:
    return (report["sysctl"]["lwkt.switch_count"] + report["ipi"]["sent"]
            + report["latency"]["token_handoff"]["count"])


def run_once(scenario: str, sim: str, cpus: int, seed: int = 1, cost_model: str = "default") -> dict:
    """One run of ``scenario``; its report (raises when the run fails)."""
    with tempfile.TemporaryDirectory() as tmp:
        if run_scenario(scenario, sim=sim, seed=seed, cpus=cpus, out=Path(tmp), quiet=True,
                        cost_model=cost_model) != 0:
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
    figures = {"sim": sim, "cpus": cpus, "scenario": scenario, "cycles": best["cycles"],
               "wall_seconds": wall, "cycles_per_second": round(best["cycles"] / wall),
               "bus_transactions": best["bus_transactions"],
               "transactions_per_second": round(best["bus_transactions"] / wall),
               "kernel_events": events, "events_per_second": round(events / wall) if events else 0,
               "wall_per_event_us": round(wall / events * 1e6, 2) if events else None}
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
        for model in ("zero", "default"):
            report = run_once("random", sim, cpus, cost_model=model)
            if model not in best or report["wall_seconds"] < best[model]["wall_seconds"]:
                best[model] = report
    figures = {model: {"cycles": r["cycles"], "wall_seconds": r["wall_seconds"],
                       "kernel_events": kernel_events(r),
                       "kernel_cycles": sum(c.get("kernel_cycles", 0) for c in r["per_cpu"]),
                       "wall_per_kcycle_us": round(r["wall_seconds"] / r["cycles"] * 1e9, 2)}
               for model, r in best.items()}
    zero, default = figures["zero"], figures["default"]
    return {"cpus": cpus, **figures,
            "speed_ratio": round(default["wall_per_kcycle_us"] / zero["wall_per_kcycle_us"], 2),
            "wall_ratio": round(default["wall_seconds"] / zero["wall_seconds"], 2),
            "cycle_ratio": round(default["cycles"] / zero["cycles"], 2)}


def run_program(sim: str, module: str, cpus: int, result_file: str, env: dict[str, str] | None = None) -> dict:
    """Run one of bench's cocotb programs on a ``cpus``-CPU SoC; the JSON it writes."""
    from hdl.config import SocConfig
    from sim.build import build_soc
    from sim.runner import run_cocotb
    with tempfile.TemporaryDirectory() as tmp:
        result = run_cocotb(build_soc(sim, SocConfig(ncpu=cpus)), module, test_dir=Path(tmp),
                            python_path=[str(ROOT.parent)], extra_env={"LWKT_BENCH_OUT": tmp, **(env or {})})
        if not result.ok:
            raise RuntimeError(f"{module} failed on {sim}: {(Path(tmp) / 'sim.log').read_text()[-2000:]}")
        return json.loads((Path(tmp) / result_file).read_text())


def latency_rows(report: dict) -> dict:
    return {kind: report["latency"][kind] for kind in LATENCY_KINDS if kind in report["latency"]}


def measure_sim(sim: str, cpu_counts, repeats: int, transactions: int) -> dict:
    throughput, idle, latency, cost_models = [], [], {}, []
    for cpus in cpu_counts:
        print(f"  {sim}: {cpus} CPU(s)", flush=True)
        figures, report = measure_throughput("random", sim, cpus, repeats)
        throughput.append(figures)
        latency[cpus] = latency_rows(report)
        idle_figures, _ = measure_throughput("smp-idle", sim, cpus, 1)
        idle.append(idle_figures)
        cost_models.append(measure_cost_models(sim, cpus, repeats))
    driver = run_program(sim, "bench.driver_bench", 4, "driver.json",
                         {"LWKT_BENCH_TRANSACTIONS": str(transactions)})
    hardware = {cpus: run_program(sim, "bench.hw_latency", cpus, "hw_latency.json") for cpus in (2, 4, 16)
                if cpus in cpu_counts or cpus == 4}
    per_event = {r["cpus"]: r["wall_per_event_us"] for r in throughput}
    ratio = round(per_event[16] / per_event[2], 2) if per_event.get(16) and per_event.get(2) else None
    return {"throughput": throughput, "idle": idle, "driver": driver, "hardware_latency": hardware,
            "kernel_latency": latency, "event_cost_ratio_16_2": ratio, "cost_models": cost_models}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", default="verilator,icarus", help="comma-separated simulators")
    parser.add_argument("--cpus", default=",".join(map(str, CPU_COUNTS)), help="comma-separated CPU counts")
    parser.add_argument("--repeats", type=int, default=2, help="runs per throughput figure; the fastest is kept")
    parser.add_argument("--transactions", type=int, default=3000, help="reads per driver in the driver comparison")
    parser.add_argument("--no-hw-cost", action="store_true", help="skip the Yosys synthesis (hardware cost)")
    parser.add_argument("--out", default=str(ROOT), help="folder for results.json, results.md and the plots")
    args = parser.parse_args(argv)
    try:
        cpu_counts = tuple(sorted({int(c) for c in args.cpus.split(",")}))
    except ValueError:
        parser.error(f"--cpus takes comma-separated CPU counts, not {args.cpus!r}")
    if not all(1 <= c <= 32 for c in cpu_counts):
        parser.error("--cpus: every CPU count must be in 1..32")
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
        per_sim[sim] = measure_sim(sim, cpu_counts, args.repeats, args.transactions)

    hw_cost = None
    if not args.no_hw_cost:
        from bench import hw_cost as hw
        if hw.main(["--out", str(out / "hw_cost.json"), "--plot", str(out / "hw_cost.png")]) == 0:
            hw_cost = json.loads((out / "hw_cost.json").read_text())
        else:
            print("hardware cost skipped (see above)")

    results = {
        "machine": platform.platform(), "python": sys.version.split()[0],
        "simulators": {sim: toolchain.simulator_version(sim) for sim in per_sim},
        "per_simulator": per_sim,
        "driver_speedup": {sim: round(r["driver"]["driver_speedup"], 2) for sim, r in per_sim.items()},
        "event_cost_ratio_16_2": {sim: r["event_cost_ratio_16_2"] for sim, r in per_sim.items()},
        # How many times slower the default cost model simulates than the zero one (worst CPU count).
        "cost_model_speed_ratio": {sim: max(row["speed_ratio"] for row in r["cost_models"])
                                   for sim, r in per_sim.items() if r["cost_models"]},
        "shared_ram_share": {sim: {str(row["cpus"]): row["shared_ram_share"] for row in r["throughput"]}
                             for sim, r in per_sim.items()},
        "hardware_cost": hw_cost,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    from bench.report import render_markdown, write_plots
    markdown = render_markdown(results)
    (out / "results.md").write_text(markdown)
    plots = write_plots(results, out)
    print()
    print(markdown)
    print(f"written: {out / 'results.json'}, {out / 'results.md'}, " + ", ".join(str(p) for p in plots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
