"""Mutation testing: plant one known bug at a time and see whether the verification catches it.

    python -m sim.campaigns.mutants [--only NAME,...] [--sample N] [--seeds R] [--jobs J] [--no-hardware]
                                    [--db FILE] [--out DIR]

Firmware mutants are the planted bugs of ``firmware/bugs.py`` (``Bug``), each a
small break of one rule of the seeds, switched on with ``--plant-bug``. Each meets
the kill suite: the named scenarios and ``R`` random workloads with every fault on,
on Verilator, with every run-time check (the scheduling scoreboard, the RAM race
detector, the kernel's own assertions, the scenarios' checks), then the kernel's
directed cocotb modules. Hardware mutants (``hdl/mutants.py``) are built into the
RTL and meet the RTL's unit tests (``sim/campaigns/hw_mutants.py``).

Every run is a run of the campaign ``mutants`` on the campaign engine
(``sim/campaigns/regress.py``: a Dask LocalCluster of ``--jobs`` workers), recorded
in the results database (``lwkt-soc results --campaign mutants``). A mutant is
killed by its first failing run; its other runs are then not run. The suites also
run without any mutant, the baseline: it must pass, or nothing can be measured.
Runs recorded at the same sources are taken from the database, so a second
``make mutants`` runs only what is missing.

The summary ends with ``mutants: K/N killed (P %)``; the exit code is 0 when at
least ``GOAL`` of them were killed, 1 otherwise, 2 for bad options, 3 when a tool
is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from firmware.bugs import BUGS
from sim.campaigns.campaign import Campaign, Expansion, RunSpec, campaign_run
from sim.campaigns.regress import DEFAULT_DB
from sim.contract.catalogue import ALL_FAULTS
from sim.contract.config import DEFAULT_SIM, RunConfig
from sim.contract.directed import DIRECTED_RUNS
from sim.contract.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, EnvironmentProblem, UsageError, report_error
from sim.contract.outdir import atomic_write
from sim.reports.tables import markdown_table

__all__ = [
    "main",
    "kill_suite",
    "directed_suite",
    "mutation_runs",
    "verdicts",
    "why_failed",
    "judge",
    "firmware_suite",
    "failure_kind",
    "GOAL",
    "CAMPAIGN",
    "UNIT_RUN",
    "RUN_WALL_LIMIT",
    "run_mutation_campaign",
    "write_summary",
]

#: The share of mutants the verification must kill.
GOAL = 0.95
#: Seconds a run of a mutation campaign may take: a mutant that loops in Python stops simulated time, so
#: only the wall clock ends its run (a hang, which kills it). Unmutated runs of the suites take under 30 s.
RUN_WALL_LIMIT = 120.0
#: The campaign's name in the results database.
CAMPAIGN = "mutants"
#: The RTL's unit tests as a run: no simulator of ours, no SoC of one configuration.
UNIT_RUN = RunConfig("hdl", seed=0, sim="amaranth", cpus=0, kind="unit")


def kill_suite(seeds: int) -> list[RunConfig]:
    """The scenario runs a firmware mutant meets, cheapest first: every named scenario on seed 1 (the IPI
    storm with a small FIFO), then ``seeds`` random workloads with every fault on."""
    named = [
        RunConfig("up-basic"),
        RunConfig("up-preempt"),
        RunConfig("up-untimely"),
        RunConfig("smp-pingpong", cpus=4),
        RunConfig("smp-ipi-storm", cpus=4, fifo_depth=4),
        RunConfig("smp-mplock", cpus=4),
        RunConfig("smp-mixed", cpus=4),
        RunConfig("smp-mp-fallback", cpus=4),
    ]
    randoms = [
        RunConfig("random", seed=seed, cpus=4, faults=[ALL_FAULTS], fifo_depth=8) for seed in range(1, seeds + 1)
    ]
    return named + randoms


def directed_suite(sim: str = DEFAULT_SIM) -> list[RunConfig]:
    """The kernel's directed cocotb modules a firmware mutant meets after the scenarios (sim/contract/directed.py,
    those used by "mutants"): they reach windows a workload meets only by chance."""
    return [
        RunConfig(
            run.name,
            seed=0,
            sim=sim,
            cpus=run.soc.ncpu,
            fifo_depth=run.soc.fifo_depth,
            ram_words=run.soc.ram_words,
            ext_lines=run.soc.ext_lines,
            kind="directed",
        )
        for run in DIRECTED_RUNS.values()
        if "mutants" in run.uses
    ]


@dataclass(frozen=True)
class Mutant:
    kind: str  # "firmware" or "hardware"
    name: str  # "" for the baseline

    @property
    def key(self) -> tuple[str, str, str]:
        """As RunSpec.mutant: (planted bug, hardware mutant, generated mutant)."""
        return (self.name, "", "") if self.kind == "firmware" else ("", self.name, "")

    @property
    def description(self) -> str:
        if self.kind == "firmware":
            return BUGS[self.name]
        from hdl.mutants import HW_MUTANTS

        return HW_MUTANTS[self.name]


def mutation_runs(firmware: list[str], hardware: list[str], seeds: int, sim: str = DEFAULT_SIM) -> Expansion:
    """Every run of the campaign, in order: the baselines, then each mutant's suite (cheapest run first)."""
    runs = firmware_suite(CAMPAIGN, seeds, sim)
    if hardware:
        runs.append(RunSpec(CAMPAIGN, UNIT_RUN))
    for bug in firmware:
        runs += firmware_suite(CAMPAIGN, seeds, sim, bug=bug)
    for mutant in hardware:
        runs.append(RunSpec(CAMPAIGN, replace(UNIT_RUN, mutant=mutant)))
    return Expansion(runs, [])


def why_failed(result: dict) -> str:
    """What a failing run says: its run, then its panic (a failed run-time check is one) or failed checks."""
    config = result["config"]
    if config.get("kind") == "unit":
        failed = result["failed"][0] if result["failed"] else ""
        where = f"unit test {failed}" if failed else "the unit tests"
        if failed.startswith("formal/"):
            where = f"proof {failed}"
    elif config.get("kind") == "directed":
        where = f"cocotb {config['scenario']}" + (f".{result['failed'][0]}" if result["failed"] else "")
    else:
        faults = config.get("faults", "none")
        where = f"{config['scenario']} seed {result['seed']}" + (f" --faults {faults}" if faults != "none" else "")
    if result["outcome"] == "timeout":
        return f"{where}: timeout (only the cycle budget caught it)"
    if result["panic"]:
        return f"{where}: {result['panic']}"
    if config.get("kind") in ("unit", "directed"):
        return where  # the failing test is named already
    return f"{where}: failed {', '.join(result['failed'])}" if result["failed"] else f"{where}: {result['outcome']}"


def failure_kind(result: dict) -> str:
    """The kind of failure that killed a mutant: the check that failed, a kernel panic, a Python exception
    in the firmware, a timeout, or a unit or directed test."""
    kind = result["config"].get("kind", "scenario")
    if kind == "unit":
        if result["failed"] and result["failed"][0].startswith("formal/"):
            return "proof" if result["outcome"] != "timeout" else "proofs: timeout"
        return "unit test" if result["outcome"] != "timeout" else "unit tests: timeout"
    if kind == "directed":
        return "directed test"
    if result["outcome"] in ("timeout", "hang"):
        return result["outcome"]
    if result["outcome"] == "crashed":
        return "crash"
    panic = result["panic"] or ""
    if panic.startswith("check failed: "):
        return "check: " + panic[len("check failed: ") :].split(":")[0]
    if "Error" in panic.split(":")[0]:  # a Python exception in the firmware (firmware/panic.py)
        return "exception"
    if panic:
        return "kernel panic"
    return "check: " + (result["failed"][0] if result["failed"] else result["outcome"])


def judge(runs: list[dict]) -> tuple[str, str, str]:
    """A mutant's verdict from its runs in the suite's order, what says why, and the kind of failure:
    killed by the first failing run, else survived.

    A run that ended as ``error`` (the simulator wrote nothing: the kernel crashed before its run
    began) or ``crashed`` (the simulator died mid-run) kills too, as a ``crash``: a campaign measures
    mutants only once the baseline, the same runs without a mutant, all passed on the same machine."""
    failing = [r for r in runs if r["status"] in ("fail", "panic", "error")]
    if failing:
        first = failing[0]
        if first["status"] == "error" or first["outcome"] == "crashed":
            return "killed", f"{why_failed(first)} (the run crashed)", "crash"
        return "killed", why_failed(first), failure_kind(first)
    return "survived", "", ""


def firmware_suite(campaign: str, seeds: int, sim: str, **mutant: str) -> list[RunSpec]:
    """The kill suite of one firmware mutant as campaign runs: ``mutant`` is ``bug=`` (a planted bug) or
    ``source_mutant=`` (a generated one); none for the baseline."""
    scenarios = [campaign_run(campaign, replace(run, sim=sim, **mutant)) for run in kill_suite(seeds)]
    return scenarios + [RunSpec(campaign, replace(run, **mutant)) for run in directed_suite(sim)]


def verdicts(mutants: list[Mutant], expansion: Expansion, results: list[dict], digest: str) -> list[dict]:
    """Each mutant's verdict from its recorded runs: killed by its first failing run in the suite's order,
    survived when every run passed, ``error`` when a run could not run and none failed."""
    order = {spec.run_key(digest): index for index, spec in enumerate(expansion.runs)}
    mine: dict[tuple[str, str, str], list[dict]] = {}
    for result in sorted(results, key=lambda r: order.get(r["run_key"], len(order))):
        config = result["config"]
        key = (config.get("bug", ""), config.get("mutant", ""), config.get("source_mutant", ""))
        mine.setdefault(key, []).append(result)
    verdicts = []
    for mutant in mutants:
        runs = mine.get(mutant.key, [])
        verdict, by, failure = judge(runs)
        verdicts.append(
            {
                "kind": mutant.kind,
                "name": mutant.name,
                "verdict": verdict,
                "killed": verdict == "killed",
                "timeout": failure == "timeout",
                "by": by,
                "runs": len(runs),
                "seconds": round(sum(r["seconds"] or 0 for r in runs), 1),
            }
        )
    return verdicts


def _select(names: list[str], only: str | None, sample: int | None) -> list[str]:
    if only:
        wanted = [n.strip() for n in only.split(",") if n.strip()]
        return [n for n in names if n in wanted]
    if sample:
        step = max(1, len(names) // sample)
        return names[::step][:sample]  # spread over the catalogue, the same every time
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.campaigns.mutants", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated mutant names (default: all)")
    parser.add_argument("--sample", type=int, help="only this many of each kind, spread over the catalogue")
    parser.add_argument("--seeds", type=int, default=6, help="random workloads in the kill suite (default 6)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel runs: Dask workers (default 2)")
    parser.add_argument("--no-hardware", action="store_true", help="firmware mutants only")
    parser.add_argument(
        "--db",
        default=str(DEFAULT_DB),
        help=f"the results database (default {DEFAULT_DB}, the one lwkt-soc results reads)",
    )
    parser.add_argument("--out", default="runs/mutants", help="where mutants.json and mutants.md go")
    args = parser.parse_args(argv)
    hw_names: list[str] = []
    if not args.no_hardware:
        from hdl.mutants import HW_MUTANTS

        hw_names = _select(list(HW_MUTANTS), args.only, args.sample)
    fw_names = _select(list(BUGS), args.only, args.sample)
    if args.only:
        unknown = set(n.strip() for n in args.only.split(",")) - set(fw_names) - set(hw_names)
        if unknown:
            print(f"sim.campaigns.mutants: error: unknown mutant {sorted(unknown)[0]!r}", file=sys.stderr)
            return EXIT_USAGE
    if args.seeds < 0 or args.jobs < 1:
        print("sim.campaigns.mutants: error: --seeds must be >= 0 and --jobs >= 1", file=sys.stderr)
        return EXIT_USAGE
    mutants = [Mutant("firmware", n) for n in fw_names] + [Mutant("hardware", n) for n in hw_names]
    try:
        expansion = mutation_runs(fw_names, hw_names, args.seeds)
        summary = _run(mutants, expansion, args)
    except (UsageError, EnvironmentProblem) as exc:
        return report_error("sim.campaigns.mutants", exc)
    if summary is None:
        return EXIT_FAILED
    for r in summary["mutants"]:
        if not r["killed"]:
            print(f"{r['verdict']}: {r['name']} ({r['kind']}): {Mutant(r['kind'], r['name']).description}")
    print(f"mutants: {summary['killed']}/{summary['total']} killed ({100 * summary['share']:.0f} %)")
    return EXIT_OK if summary["share"] >= GOAL and not summary["errors"] else EXIT_FAILED


def _run(mutants: list[Mutant], expansion: Expansion, args) -> dict | None:
    """Run the campaign and write mutants.json and mutants.md; None when the baseline fails."""

    per_mutant = {}
    for spec in expansion.runs:
        per_mutant[spec.mutant] = per_mutant.get(spec.mutant, 0) + 1
    fw_suite = per_mutant.get(("", "", ""), 0) - (1 if any(m.kind == "hardware" for m in mutants) else 0)
    print(
        f"kill suite: {fw_suite} runs per firmware mutant ({len(kill_suite(args.seeds))} scenario runs, then the "
        f"kernel's directed cocotb modules); hardware mutants meet the RTL's unit tests; each suite also runs "
        f"without a mutant first",
        flush=True,
    )
    names = {m.key: m for m in mutants}

    def line(result, spec, done, total):
        if result["status"] in ("fail", "panic") and spec.mutant in names:
            m = names[spec.mutant]
            print(f"  [{done}/{total}] {m.kind:8} {m.name:26} killed by {why_failed(_with_config(result, spec))[:140]}")

    started = time.perf_counter()
    outcome = run_mutation_campaign(CAMPAIGN, expansion, args, on_result=line)
    digest = outcome.revision.digest
    [baseline] = verdicts([Mutant("baseline", "")], expansion, outcome.results, digest)
    if baseline["verdict"] != "survived":
        print(f"the suites fail without any mutant ({baseline['by']}): nothing can be measured")
        return None
    results = verdicts(mutants, expansion, outcome.results, digest)
    killed = sum(r["killed"] for r in results)
    total = len(results)
    summary = {
        "killed": killed,
        "total": total,
        "share": round(killed / total if total else 1.0, 4),
        "goal": GOAL,
        "errors": sum(r["verdict"] == "error" for r in results),
        "seconds": round(time.perf_counter() - started, 1),
        "seeds": args.seeds,
        "revision": outcome.revision.as_dict(),
        "database": str(outcome.db_path),
        "mutants": results,
    }
    write_summary(Path(args.out), "mutants", summary, _markdown(summary))
    return summary


def run_mutation_campaign(name: str, expansion: Expansion, args, *, on_result=None):
    """Run a mutation campaign's runs on the engine (``args``: its --db, --out and --jobs): each mutant's
    first failure stops its suite, a run past RUN_WALL_LIMIT fails as a hang. Exits with the signal's code
    when interrupted (the runs so far are recorded)."""
    from sim.campaigns.regress import run_campaign

    campaign = Campaign(
        name=name, shrink=False, keep="none", stop_mutant_at_failure=True, run_wall_limit=RUN_WALL_LIMIT
    )
    outcome = run_campaign(
        campaign,
        expansion=expansion,
        db_path=Path(args.db),
        folder=Path(args.out),
        workers=args.jobs,
        progress=False,
        on_result=on_result,
        say=lambda text: print(text, flush=True),
    )
    if outcome.exit_code not in (EXIT_OK, EXIT_FAILED):
        raise SystemExit(outcome.exit_code)
    return outcome


def write_summary(out: Path, stem: str, summary: dict, markdown: str) -> None:
    """``out/<stem>.json`` and ``out/<stem>.md``."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / f"{stem}.json", json.dumps(summary, indent=2) + "\n")
    atomic_write(out / f"{stem}.md", markdown)


def _with_config(result: dict, spec: RunSpec) -> dict:
    """A result as the engine hands it over, with its configuration (as campaign_results gives it)."""
    return {**result, "config": spec.config()}


def _markdown(summary: dict) -> str:
    lines = [
        "# Mutants",
        "",
        f"{summary['killed']}/{summary['total']} killed "
        f"({100 * summary['share']:.0f} %, goal {100 * summary['goal']:.0f} %) in {summary['seconds']} s; "
        f"kill suite with {summary['seeds']} random seeds; every run in {summary['database']}, campaign "
        f"`{CAMPAIGN}`.",
        "",
    ]
    lines += markdown_table(
        ["kind", "mutant", "the bug", "verdict", "by"],
        [
            [
                r["kind"],
                f"`{r['name']}`",
                Mutant(r["kind"], r["name"]).description,
                r["verdict"] if r["killed"] else f"**{r['verdict']}**",
                r["by"].replace("|", "\\|")[:200],
            ]
            for r in summary["mutants"]
        ],
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
