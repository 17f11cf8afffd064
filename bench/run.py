"""``make bench``: co-simulation speed of the kernel, printed and written to bench/results.json.

Figures: simulated cycles per wall second, measured inside the simulator from
kernel boot to the end of the workload (builds and simulator start-up excluded),
for an idle core with a 1000-cycle hardclock (``up-idle``) and for ``up-basic``,
on each simulator. An idle core waits for its irq line without Python per cycle,
so its figure should be far above the busy one.
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", default="verilator,icarus", help="comma-separated simulators")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure; the best is kept")
    parser.add_argument("--out", default=str(ROOT / "results.json"))
    args = parser.parse_args(argv)
    results = []
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
    print(f"\n{'simulator':10} {'case':34} {'cycles':>9} {'wall s':>8} {'cycles/s':>10} {'bus ops':>8}")
    for r in results:
        print(f"{r['sim']:10} {r['label']:34} {r['cycles']:>9} {r['wall_seconds']:>8.3f} "
              f"{r['cycles_per_second']:>10,} {r['bus_transactions']:>8}")
    for sim in {r["sim"] for r in results}:
        idle = next(r for r in results if r["sim"] == sim and r["scenario"] == "up-idle")
        busy = next(r for r in results if r["sim"] == sim and r["scenario"] == "up-basic")
        print(f"{sim}: idle/busy speed ratio {idle['cycles_per_second'] / busy['cycles_per_second']:.1f}")
    Path(args.out).write_text(json.dumps({"machine": platform.platform(), "python": sys.version.split()[0],
                                          "results": results}, indent=2) + "\n")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
