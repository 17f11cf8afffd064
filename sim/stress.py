"""``make stress``: many seeds of the random workload with faults on, in parallel, and a summary.

    python -m sim.stress --seeds 200 --sim verilator --jobs 2

prints the seeds run, the checks evaluated, a line ``violations: N`` (failed
checks over all runs), the first failing seed with the command that
reproduces it, and how many interrupts landed inside each kernel function over
all runs (taken there, or deferred to the end of the critical section they
landed in). Exit status 0 when there was no violation.

The seeds run as a small local campaign (``sim/regress.py``): a Dask LocalCluster of ``--jobs``
workers, every run recorded in ``OUT/results.sqlite``, so seeds already run at the same sources
are taken from there instead of being run again.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from hdl.config import ConfigError, SocConfig
from .errors import EXIT_USAGE, EnvironmentProblem, UsageError, report_error
from .faults import FAULTS, check_faults, parse_faults
from .scenarios import get_scenario
from .func_coverage import MODEL, reachable, run_hits
from .run_files import RunFiles
from .shrink import command_name

__all__ = ["main", "run_seed", "MAIN_FUNCTIONS"]

#: Kernel functions whose interrupt landings the summary always lists, zero or not.
MAIN_FUNCTIONS = ("lwkt_switch", "lwkt_schedule", "lwkt_gettoken", "get_mplock", "lwkt_send_ipiq")


def run_seed(seed: int, sim: str, cpus: int, faults: str, fifo_depth: int, out: Path) -> dict:
    """One random run; returns its seed, outcome and failed checks (how stress ran before campaigns:
    bench/campaign_bench.py measures the campaign against a process pool over this)."""
    from .run import run_scenario
    folder = out / f"seed-{seed}"
    start = time.perf_counter()
    try:
        code = run_scenario("random", sim=sim, seed=seed, out=folder, cpus=cpus, faults=faults,
                            fifo_depth=fifo_depth, quiet=True, hw_coverage=True)
        report = RunFiles(folder).report()
        bins = sorted(run_hits(folder))
        failed = [c["name"] for c in report["checks"] if not c["ok"]]
        landings = {row["function"]: (sum(row["taken"]), sum(row["deferred"]))
                    for row in report.get("interrupt_landings", [])}
        result = {"seed": seed, "code": code, "outcome": report["outcome"], "checks": len(report["checks"]),
                  "failed": failed, "panic": (report["panic"] or {}).get("message"), "landings": landings,
                  "scoreboard": report.get("scoreboard") or {}, "shared_ram": report.get("shared_ram") or {},
                  "bins": bins}
    except Exception as exc:  # a run that could not even report is a violation too
        result = {"seed": seed, "code": 1, "outcome": "error", "checks": 1, "failed": [f"run error: {exc}"],
                  "panic": None, "landings": {}, "scoreboard": {}, "shared_ram": {}, "bins": []}
    result["seconds"] = round(time.perf_counter() - start, 2)
    if result["code"] == 0:
        shutil.rmtree(folder, ignore_errors=True)  # keep only the failing runs
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.stress", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="number of seeds (default 20)")
    parser.add_argument("--first", type=int, default=1, help="first seed (default 1)")
    parser.add_argument("--sim", choices=["verilator", "icarus"], default="verilator")
    parser.add_argument("--cpus", type=int, default=4)
    parser.add_argument("--fifo-depth", type=int, default=8, help="IPI FIFO depth (default 8: more pressure)")
    parser.add_argument("--faults", default="all", help=f"faults to inject: all, none, or a list of {', '.join(FAULTS)}")
    parser.add_argument("--jobs", type=int, default=2, help="parallel runs: Dask workers (default 2)")
    parser.add_argument("--out", default="runs/stress", help="where failing runs are kept")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.jobs < 1:
        parser.error("--seeds and --jobs must be at least 1")
    # Bad options are one line and exit 2 before any run: never counted as violations.
    try:
        SocConfig(ncpu=args.cpus, fifo_depth=args.fifo_depth)
        check_faults(parse_faults(args.faults), get_scenario("random"), args.cpus)
    except (ConfigError, ValueError) as exc:
        print(f"sim.stress: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out).resolve()
    started = time.perf_counter()
    seeds = range(args.first, args.first + args.seeds)
    try:
        results = _campaign(args, seeds, out)
    except (UsageError, EnvironmentProblem) as exc:
        return report_error("sim.stress", exc)
    wall = time.perf_counter() - started
    results.sort(key=lambda r: r["seed"])
    violations = sum(len(r["failed"]) for r in results)
    failing = [r for r in results if r["code"] != 0]
    print(f"\nseeds run: {len(results)} ({args.sim}, {args.cpus} CPUs, FIFO depth {args.fifo_depth}, "
          f"faults: {args.faults}) in {wall:.1f} s")
    print(f"checks evaluated: {sum(r['checks'] for r in results)}")
    print(f"violations: {violations}")
    board = {key: sum(r["scoreboard"].get(key, 0) for r in results) for key in ("decisions", "undecidable", "mismatches")}
    ram = {key: sum(r["shared_ram"].get(key, 0) for r in results) for key in ("accesses", "guarded", "races")}
    print(f"scoreboard: {board['decisions']} scheduling decisions checked, {board['undecidable']} undecidable, "
          f"{board['mismatches']} mismatches")
    print(f"shared RAM: {ram['accesses']} accesses, {ram['guarded']} to guarded words checked, {ram['races']} races")
    _print_landings(results)
    hit = {name for r in results for name in r["bins"]}
    print(f"functional coverage: {len(hit)}/{len(MODEL)} bins of sim/func_coverage.py "
          f"({len(hit & set(reachable()))}/{len(reachable())} reachable; the register sweeps and named "
          f"scenarios of make coverage add the rest)")
    if failing:
        first = failing[0]
        print(f"first failing seed: {first['seed']} ({', '.join(first['failed'])})"
              + (f"; panic: {first['panic']}" if first["panic"] else ""))
        print(f"reproduce: {command_name()} run --scenario random --seed {first['seed']} --cpus {args.cpus} "
              f"--fifo-depth {args.fifo_depth} --faults {args.faults} --sim {args.sim} --waves")
        print(f"failing runs kept in {out}")
    return 1 if violations else 0


def _campaign(args, seeds, out: Path) -> list[dict]:
    """The seeds as a small local campaign (``sim/regress.py``): a LocalCluster of ``--jobs`` workers, every
    run recorded in OUT/results.sqlite, so a second stress at the same sources runs only what is missing."""
    from .campaign import Campaign
    from .regress import run_campaign

    def line(r, spec, done, total):
        status = "ok" if r["code"] == 0 else f"FAILED ({', '.join(r['failed'])})"
        print(f"  [{done}/{total}] seed {r['seed']}: {r['outcome']} in {r['seconds']} s {status}", flush=True)

    campaign = Campaign(name="stress", scenarios=("random",), seeds=tuple(seeds), cpus=(args.cpus,),
                        fifo_depths=(args.fifo_depth,), faults=(args.faults or "none",), sims=(args.sim,),
                        coverage=True, shrink=False)
    outcome = run_campaign(campaign, db_path=out / "results.sqlite", folder=out, workers=args.jobs, progress=False,
                           on_result=line, say=lambda text: print(text, flush=True))
    return outcome.results


def _print_landings(results: list[dict]) -> None:
    """The interrupts that landed inside each kernel function, over all runs (most first)."""
    totals: dict[str, list[int]] = {name: [0, 0] for name in MAIN_FUNCTIONS}
    for r in results:
        for function, (taken, deferred) in r["landings"].items():
            total = totals.setdefault(function, [0, 0])
            total[0] += taken
            total[1] += deferred
    print("interrupts landed inside kernel functions, over all runs (taken / deferred):")
    width = max(map(len, totals))
    for function, (taken, deferred) in sorted(totals.items(), key=lambda kv: (-sum(kv[1]), kv[0])):
        print(f"  {function:{width}}  {taken:7} / {deferred:<7}")


if __name__ == "__main__":
    sys.exit(main())
