"""``make bench``: co-simulation speed, printed and written to bench/results.json.

Figures, on each simulator (builds and simulator start-up excluded):

- simulated cycles per wall second for an idle core with a 1000-cycle hardclock
  (``up-idle``) and for ``up-basic``: an idle core waits for its irq line without
  Python per cycle, so its figure should be far above the busy one;
- our bus driver against a plain cocotb driver (FallingEdge, RisingEdge,
  ReadOnly, FallingEdge per transaction) on the same 4-CPU SoC:
  ``driver_speedup`` is our transactions per second over the baseline's;
- scaling: ``smp-mixed`` on 2, 4, 8 and 16 CPUs: cycles, bus transactions and
  kernel events (switches, IPIs, token hand-offs) per wall second, and wall
  time per kernel event; ``event_cost_ratio_16_2`` is that time at 16 CPUs over
  that at 2.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from sim import toolchain
from sim.run import run_scenario

ROOT = Path(__file__).resolve().parent
CASES = [("up-idle", "idle core, 1000-cycle hardclock"), ("up-basic", "up-basic workload")]


def measure(scenario: str, sim: str, seed: int = 1, repeats: int = 3) -> dict:
    best = None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            code = run_scenario(scenario, sim=sim, seed=seed, out=Path(tmp), quiet=True)
            total = time.perf_counter() - start
            counters = json.loads((Path(tmp) / "counters.json").read_text())
        if code != 0:
            raise RuntimeError(f"{scenario} failed on {sim}")
        rate = counters["cycles"] / counters["wall_seconds"]
        if best is None or rate > best["cycles_per_second"]:
            best = {"scenario": scenario, "sim": sim, "cycles": counters["cycles"],
                    "wall_seconds": counters["wall_seconds"], "cycles_per_second": round(rate),
                    "bus_transactions": counters["bus_transactions"],
                    "switches": counters["sysctl"]["lwkt.switch_count"],
                    "process_seconds": round(total, 3)}
    return best


def measure_driver(sim: str, transactions: int = 3000) -> dict:
    from hdl.config import SocConfig
    from sim.build import build_soc
    from sim.runner import run_cocotb
    with tempfile.TemporaryDirectory() as tmp:
        result = run_cocotb(build_soc(sim, SocConfig(ncpu=4)), "bench.driver_bench", test_dir=Path(tmp),
                            python_path=[str(ROOT.parent)],
                            extra_env={"LWKT_BENCH_OUT": tmp, "LWKT_BENCH_TRANSACTIONS": str(transactions)})
        if not result.ok:
            raise RuntimeError(f"the driver benchmark failed on {sim}")
        return json.loads((Path(tmp) / "driver.json").read_text())


def measure_scaling(sim: str, cpus: int, seed: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        if run_scenario("smp-mixed", sim=sim, seed=seed, cpus=cpus, out=Path(tmp), quiet=True) != 0:
            raise RuntimeError(f"smp-mixed failed on {sim} with {cpus} CPUs")
        report = json.loads((Path(tmp) / "report.json").read_text())
    wall = report["wall_seconds"]
    events = (report["sysctl"]["lwkt.switch_count"] + report["ipi"]["sent"]
              + report["latency"]["token_handoff"]["count"])
    return {"sim": sim, "cpus": cpus, "cycles": report["cycles"], "wall_seconds": wall,
            "cycles_per_second": round(report["cycles"] / wall), "bus_transactions": report["bus_transactions"],
            "transactions_per_second": round(report["bus_transactions"] / wall), "kernel_events": events,
            "events_per_second": round(events / wall), "wall_per_event_us": round(wall / events * 1e6, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", default="verilator,icarus", help="comma-separated simulators")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure; the best is kept")
    parser.add_argument("--out", default=str(ROOT / "results.json"))
    args = parser.parse_args(argv)
    results = []
    drivers, scaling = {}, []
    for sim in args.sims.split(","):
        try:
            toolchain.activate(sim)
        except toolchain.SimulatorMissing as exc:
            print(f"skipping {sim}: {exc}")
            continue
        for scenario, label in CASES:
            r = measure(scenario, sim, repeats=args.repeats)
            r["label"] = label
            results.append(r)
        drivers[sim] = measure_driver(sim)
        for cpus in (2, 4, 8, 16):
            scaling.append(measure_scaling(sim, cpus))
    print(f"\n{'simulator':10} {'case':34} {'cycles':>9} {'wall s':>8} {'cycles/s':>10} {'bus ops':>8}")
    for r in results:
        print(f"{r['sim']:10} {r['label']:34} {r['cycles']:>9} {r['wall_seconds']:>8.3f} "
              f"{r['cycles_per_second']:>10,} {r['bus_transactions']:>8}")
    for sim in {r["sim"] for r in results}:
        idle = next(r for r in results if r["sim"] == sim and r["scenario"] == "up-idle")
        busy = next(r for r in results if r["sim"] == sim and r["scenario"] == "up-basic")
        print(f"{sim}: idle/busy speed ratio {idle['cycles_per_second'] / busy['cycles_per_second']:.1f}")
    print(f"\n{'simulator':10} {'driver':10} {'transactions/s':>15}")
    for sim, d in drivers.items():
        print(f"{sim:10} {'baseline':10} {d['baseline']['transactions_per_second']:>15,.0f}")
        print(f"{sim:10} {'ours':10} {d['ours']['transactions_per_second']:>15,.0f}   "
              f"speed-up {d['driver_speedup']:.2f}x")
    print(f"\n{'simulator':10} {'CPUs':>4} {'cycles/s':>10} {'bus ops/s':>10} {'events/s':>9} {'us/event':>9}")
    for r in scaling:
        print(f"{r['sim']:10} {r['cpus']:>4} {r['cycles_per_second']:>10,} {r['transactions_per_second']:>10,} "
              f"{r['events_per_second']:>9,} {r['wall_per_event_us']:>9}")
    ratios = {}
    for sim in drivers:
        per = {r["cpus"]: r["wall_per_event_us"] for r in scaling if r["sim"] == sim}
        ratios[sim] = round(per[16] / per[2], 2)
        print(f"{sim}: wall time per kernel event, 16 CPUs over 2: {ratios[sim]}")
    Path(args.out).write_text(json.dumps({
        "machine": platform.platform(), "python": sys.version.split()[0], "results": results,
        "drivers": drivers, "driver_speedup": {sim: round(d["driver_speedup"], 2) for sim, d in drivers.items()},
        "scaling": scaling, "event_cost_ratio_16_2": ratios}, indent=2) + "\n")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
