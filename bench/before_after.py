"""Co-simulation speed of two checkouts on the same runs: ``python -m bench.before_after OLD NEW``.

Each checkout runs the same scenarios through its own ``lwkt-soc run``
(``python -m sim.cli run``) and the fastest of ``--repeats`` runs is kept;
the simulated cycles must agree (same behaviour), and the table shows
cycles per wall second for each and the speed-up. This is how
docs/benchmarks.md's before/after table was made, e.g. with ``OLD`` a
``git worktree`` of the commit before an optimisation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CASES = [("up-idle", 1), ("up-basic", 1), ("smp-mixed", 4), ("random", 4), ("random", 16)]


def measure(tree: Path, scenario: str, cpus: int, sim: str, repeats: int) -> dict:
    best = None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            cmd = [
                sys.executable,
                "-m",
                "sim.cli",
                "run",
                "--scenario",
                scenario,
                "--cpus",
                str(cpus),
                "--sim",
                sim,
                "--out",
                out,
            ]
            env = dict(os.environ, PYTHONPATH=str(tree))
            done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed in {tree}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
            counters = json.loads((Path(out) / "counters.json").read_text())
        if best is None or counters["wall_seconds"] < best["wall_seconds"]:
            best = {"cycles": counters["cycles"], "wall_seconds": counters["wall_seconds"]}
    best["cycles_per_second"] = round(best["cycles"] / best["wall_seconds"])
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="checkout before")
    parser.add_argument("new", type=Path, help="checkout after")
    parser.add_argument("--sims", default="verilator,icarus")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    rows = []
    print(
        f"{'simulator':10} {'scenario':10} {'CPUs':>4} {'cycles before':>13} {'after':>7} {'wall before':>11} "
        f"{'after':>7} {'before c/s':>11} {'after c/s':>10} {'speed-up':>8}"
    )
    for sim in args.sims.split(","):
        for scenario, cpus in CASES:
            old = measure(args.old.resolve(), scenario, cpus, sim, args.repeats)
            new = measure(args.new.resolve(), scenario, cpus, sim, args.repeats)
            same = old["cycles"] == new["cycles"]
            speedup = new["cycles_per_second"] / old["cycles_per_second"]
            rows.append(
                {
                    "sim": sim,
                    "scenario": scenario,
                    "cpus": cpus,
                    "before": old,
                    "after": new,
                    "same_cycles": same,
                    "speedup": round(speedup, 2),
                }
            )
            print(
                f"{sim:10} {scenario:10} {cpus:>4} {old['cycles']:>13} {new['cycles']:>7}{'' if same else '*'} "
                f"{old['wall_seconds']:>10.2f}s {new['wall_seconds']:>6.2f}s "
                f"{old['cycles_per_second']:>11,} {new['cycles_per_second']:>10,} {speedup:>7.2f}x",
                flush=True,
            )
    if not all(r["same_cycles"] for r in rows):
        print("* the two checkouts simulated different cycle counts: their behaviour differs")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
