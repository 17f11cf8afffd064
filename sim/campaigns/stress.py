"""``make stress``: the random workload with faults on, across the configuration space, in parallel.

    python -m sim.campaigns.stress --seeds 336 --jobs 2
    python -m sim.campaigns.stress --seeds 2000 --first 20001 --sims verilator

runs the ``random`` scenario on a matrix: CPU counts (default 2, 4, 8, 16) x IPI FIFO depths
(default 2, 4, 8) x fault sets (default: none, each fault alone, all of them) x simulators
(default Verilator and Icarus). The seeds are dealt out over the matrix's cells, one run per seed
(``spread`` in docs/campaigns.md), so N seeds are N runs and every cell gets about N/cells of its own;
a cell that cannot run (every fault together on 2 CPUs) is left out and named.

It prints the runs, the checks evaluated, a line ``violations: N`` (failed checks over all runs),
the scheduling decisions and shared-RAM accesses checked, the MP-lock BUSTs, the failures per
cell with the command that reproduces each failing seed, and how many interrupts landed inside
each kernel function (taken there, or deferred to the end of the critical section they landed
in). Exit status 0 when there was no violation.

The seeds run as a local campaign (``sim/campaigns/regress.py``) named ``stress``: a Dask LocalCluster of
``--jobs`` workers, every run recorded in the campaigns' results database (``runs/campaigns/results.sqlite``,
or ``--db``; ``lwkt-soc results --campaign stress`` shows the matrix and the failure signatures), so runs
already recorded at the same sources are taken from there instead of being run again.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

from hdl.config import ConfigError
from sim.contract.errors import EXIT_USAGE, EnvironmentProblem, UsageError, report_error
from sim.contract.catalogue import ALL_FAULTS, FAULTS, NO_FAULTS
from sim.contract.config import SIMULATORS, RunConfig
from sim.contract.run_options import repeat_command
from sim.coverage.func import MODEL, reachable, run_hits
from sim.reports.run_files import RunFiles
from sim.campaigns.regress import DEFAULT_DB, DEFAULT_ROOT

__all__ = ["main", "run_seed", "MAIN_FUNCTIONS"]

#: Kernel functions whose interrupt landings the summary always lists, zero or not.
MAIN_FUNCTIONS = ("lwkt_switch", "lwkt_schedule", "lwkt_gettoken", "get_mplock", "lwkt_send_ipiq")


def run_seed(seed: int, sim: str, cpus: int, faults: str, fifo_depth: int, out: Path) -> dict:
    """One random run; returns its seed, outcome and failed checks (how stress ran before campaigns:
    bench/campaign_bench.py measures the campaign against a process pool over this)."""
    from sim.host.run import run_scenario

    folder = out / f"seed-{seed}"
    start = time.perf_counter()
    try:
        request = RunConfig(
            "random",
            seed=seed,
            sim=sim,
            cpus=cpus,
            fifo_depth=fifo_depth,
            faults=[faults],
            hw_coverage=True,
            out=str(folder),
        )
        code = run_scenario(request, quiet=True)
        report = RunFiles(folder).report()
        bins = sorted(run_hits(folder))
        failed = [c["name"] for c in report["checks"] if not c["ok"]]
        landings = {
            row["function"]: (sum(row["taken"]), sum(row["deferred"])) for row in report.get("interrupt_landings", [])
        }
        result = {
            "seed": seed,
            "code": code,
            "outcome": report["outcome"],
            "checks": len(report["checks"]),
            "failed": failed,
            "panic": (report["panic"] or {}).get("message"),
            "landings": landings,
            "scoreboard": report.get("scoreboard") or {},
            "shared_ram": report.get("shared_ram") or {},
            "bins": bins,
        }
    except Exception as exc:  # a run that could not even report is a violation too
        result = {
            "seed": seed,
            "code": 1,
            "outcome": "error",
            "checks": 1,
            "failed": [f"run error: {exc}"],
            "panic": None,
            "landings": {},
            "scoreboard": {},
            "shared_ram": {},
            "bins": [],
        }
    result["seconds"] = round(time.perf_counter() - start, 2)
    if result["code"] == 0:
        shutil.rmtree(folder, ignore_errors=True)  # keep only the failing runs
    return result


#: The default matrix.
CPU_COUNTS = (2, 4, 8, 16)
FIFO_DEPTHS = (2, 4, 8)
FAULT_SETS = (NO_FAULTS, *FAULTS, ALL_FAULTS)
SIMS = SIMULATORS


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(dict.fromkeys(int(item) for item in text.split(",") if item.strip()))
    except ValueError:
        raise UsageError(f"--{what}: {text!r} is not a comma-separated list of numbers") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.campaigns.stress", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="number of seeds, one run each, dealt out over the matrix (default: one per cell)",
    )
    parser.add_argument("--first", type=int, default=1, help="first seed (default 1)")
    parser.add_argument(
        "--sims", "--sim", default=",".join(SIMS), metavar="LIST", help="simulators (default verilator,icarus)"
    )
    parser.add_argument(
        "--cpus", default=",".join(map(str, CPU_COUNTS)), metavar="LIST", help="CPU counts (default 2,4,8,16)"
    )
    parser.add_argument(
        "--fifo-depths",
        "--fifo-depth",
        default=",".join(map(str, FIFO_DEPTHS)),
        metavar="LIST",
        help="IPI FIFO depths (default 2,4,8)",
    )
    parser.add_argument(
        "--faults",
        action="append",
        metavar="SET",
        help=f"a fault set: all, none, or a comma-separated list of {', '.join(FAULTS)}; repeat "
        f"for several sets (default: none, each fault alone, all)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="parallel runs: Dask workers (default 2)")
    parser.add_argument(
        "--db",
        default=str(DEFAULT_DB),
        help=f"the results database (default {DEFAULT_DB}, the one lwkt-soc results reads)",
    )
    parser.add_argument(
        "--out", default=str(DEFAULT_ROOT / "stress"), help=f"failing runs (default {DEFAULT_ROOT / 'stress'})"
    )
    args = parser.parse_args(argv)
    if args.seeds is not None and args.seeds < 1 or args.jobs < 1:
        parser.error("--seeds and --jobs must be at least 1")
    out = Path(args.out).resolve()
    # Bad options are one line and exit 2 before any run: never counted as violations.
    try:
        campaign = _matrix(args)
        expansion = campaign.expand()
    except (ConfigError, ValueError, UsageError) as exc:
        print(f"sim.campaigns.stress: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    cells = len(expansion.configs)
    print(
        f"stress: {len(expansion.runs)} runs over {cells} configurations "
        f"(cpus {args.cpus}; FIFO depths {args.fifo_depths}; {len(campaign.faults)} fault sets; {args.sims})"
    )
    started = time.perf_counter()
    try:
        results = _campaign(campaign, out, Path(args.db).resolve(), args.jobs)
    except (UsageError, EnvironmentProblem) as exc:
        return report_error("sim.campaigns.stress", exc)
    wall = time.perf_counter() - started
    return _summary(results, wall, out, cells, Path(args.db))


def _matrix(args):
    """The stress campaign the options describe (a usage error for a bad value)."""
    from sim.campaigns.campaign import Campaign

    fault_sets = tuple(dict.fromkeys(f or NO_FAULTS for f in (args.faults or FAULT_SETS)))
    cpus, depths = _ints(args.cpus, "cpus"), _ints(args.fifo_depths, "fifo-depths")
    sims = tuple(dict.fromkeys(item.strip() for item in args.sims.split(",") if item.strip()))
    # Names, ranges and cells that cannot run are the campaign's to refuse (Campaign.expand).
    probe = Campaign(
        name="stress",
        scenarios=("random",),
        seeds=(args.first,),
        cpus=cpus,
        fifo_depths=depths,
        faults=fault_sets,
        sims=sims,
        coverage=True,
        shrink=False,
        spread=True,
    )
    count = args.seeds if args.seeds is not None else _cells(probe)
    return replace(probe, seeds=tuple(range(args.first, args.first + count)))


def _cells(campaign) -> int:
    """The configurations of ``campaign`` that can run."""
    return len(replace(campaign, spread=False).expand().configs)


def _summary(results: list[dict], wall: float, out: Path, cells: int, db: Path) -> int:
    from sim.campaigns.campaign import RunSpec, config_label

    results.sort(key=lambda r: (r["config_id"], r["seed"]))
    violations = sum(len(r["failed"]) for r in results)
    failing = [r for r in results if r["code"] != 0]
    sims = sorted({r["config"]["sim"] for r in results})
    print(f"\nseeds run: {len(results)} over {cells} configurations in {wall:.1f} s")
    for sim in sims:
        mine = [r for r in results if r["config"]["sim"] == sim]
        print(f"  {sim}: {len(mine)} runs, {sum(1 for r in mine if r['code'] != 0)} failed")
    print(f"checks evaluated: {sum(r['checks'] for r in results)}")
    print(f"violations: {violations}")
    board = {
        key: sum(r["scoreboard"].get(key, 0) for r in results) for key in ("decisions", "undecidable", "mismatches")
    }
    ram = {key: sum(r["shared_ram"].get(key, 0) for r in results) for key in ("accesses", "guarded", "races")}
    busts = sum((r["counters"].get("mplock") or {}).get("busts", 0) for r in results)
    stops = sum(1 for r in results if "cpu-stop" in r["config"]["faults"] or r["config"]["faults"] == ALL_FAULTS)
    print(
        f"scoreboard: {board['decisions']} scheduling decisions checked, {board['undecidable']} undecidable, "
        f"{board['mismatches']} mismatches"
    )
    print(f"shared RAM: {ram['accesses']} accesses, {ram['guarded']} to guarded words checked, {ram['races']} races")
    print(f"MP-lock BUSTs: {busts} (runs with a stopped CPU: {stops})")
    _print_landings(results)
    hit = {name for r in results for name in (r["bins"] or ())}
    print(
        f"functional coverage: {len(hit)}/{len(MODEL)} bins of sim/coverage/func.py "
        f"({len(hit & set(reachable()))}/{len(reachable())} reachable; the register sweeps and named "
        f"scenarios of make coverage add the rest)"
    )
    if failing:
        print(f"failing seeds ({len(failing)}):")
        for r in failing:
            c = r["config"]
            print(
                f"  {config_label(c)} seed {r['seed']}: {', '.join(r['failed'])}"
                + (f"; panic: {r['panic']}" if r["panic"] else "")
            )
            run = RunSpec.from_dict({**c, "campaign": "stress", "seed": r["seed"]}).run
            print(f"    reproduce: {repeat_command(replace(run, waves=True))}")
        print(f"failing runs kept in {out}; lwkt-soc results --db {db} --campaign stress")
    return 1 if violations else 0


def _campaign(campaign, out: Path, db: Path, jobs: int) -> list[dict]:
    """The matrix as a local campaign (``sim/campaigns/regress.py``): a LocalCluster of ``jobs`` workers, every run
    recorded in ``db`` (the campaigns' database unless asked otherwise), so a second stress at the same sources
    runs only what is missing."""
    from sim.campaigns.regress import run_campaign

    def line(r, spec, done, total):
        status = "ok" if r["code"] == 0 else f"FAILED ({', '.join(r['failed'])})"
        print(
            f"  [{done}/{total}] {spec.label} seed {r['seed']}: {r['outcome']} in {r['seconds']} s {status}", flush=True
        )

    outcome = run_campaign(
        campaign,
        db_path=db,
        folder=out,
        workers=jobs,
        progress=False,
        on_result=line,
        say=lambda text: print(text, flush=True),
    )
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
