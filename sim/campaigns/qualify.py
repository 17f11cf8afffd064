"""``make qualify``: mutation qualification with generated mutants.

    python -m sim.campaigns.qualify [--sample N] [--sample-seed S] [--seeds R] [--jobs J] [--no-hardware]
                                    [--equivalents FILE] [--db FILE] [--same-as QUALIFY_JSON]
                                    [--no-equiv-proofs] [--out DIR]

Every mutant of the generator's operators (``sim/mutation``) over the kernel modules of
``firmware/`` and the RTL modules of ``hdl/`` is the population; a stratified random sample
of each (strata: file and operator; ``--sample`` mutants of each, by default the size that
gives a ±5 % interval at 95 % confidence), drawn with ``--sample-seed``, meets the kill
suites of ``make mutants`` (``sim/campaigns/mutants.py``): a firmware mutant the named
scenarios, the random workloads and the kernel's directed modules; an hdl mutant the RTL's
unit tests, then the proofs (``prove --quick``: a property no longer proven kills it). Both
run on the campaign engine, recorded in the results database as the campaign ``qualify``; a
mutant's first failing run kills it. An hdl mutant that survives both is put to an
equivalence proof (``sim/mutation/equiv.py``, yosys on the 1-, 2- and 4-CPU SoC): proven, it
is equivalent, with the proof as its reason.

Each sampled mutant's verdict: **killed** (by which run, and the kind of failure: a check,
a kernel panic, a Python exception, a timeout, a unit or directed test), **survived**, or
**equivalent** (listed in ``--equivalents``, default ``campaigns/equivalent-mutants.toml``,
each with the reason a person or a proof gave; not run). The score is killed ÷ (sample −
equivalent) with its Wilson interval, and the run ends with

    qualification: firmware K/N killed (P %, ±I), hdl K/N killed (P %, ±I), E equivalent

Exit 0 when both scores reach their goals (:data:`GOALS`), 1 otherwise or when the baseline
fails, 2 for bad options, 3 when a tool is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from dataclasses import replace
from pathlib import Path

from sim.campaigns.campaign import Expansion, RunSpec
from sim.campaigns.mutants import (
    UNIT_RUN,
    firmware_suite,
    judge,
    run_mutation_campaign,
    why_failed,
    write_summary,
)
from sim.campaigns.regress import DEFAULT_DB
from sim.contract.config import DEFAULT_SIM
from sim.contract.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, EnvironmentProblem, UsageError, report_error
from sim.contract.paths import PROJECT_ROOT
from sim.mutation import Mutant, default_files, generate, parse_id, sample_size, stratified_sample, wilson_interval
from sim.mutation.equiv import proven_equivalent
from sim.reports.tables import markdown_table

__all__ = ["main", "population", "qualification_runs", "GOALS", "CAMPAIGN", "EQUIVALENTS"]

#: The campaign's name in the results database.
CAMPAIGN = "qualify"
#: The share of non-equivalent mutants each part of the verification must kill.
GOALS = {"firmware": 0.90, "hdl": 0.97}
#: Mutants a person or a proof found equivalent to the original, each with the reason.
EQUIVALENTS = Path("campaigns/equivalent-mutants.toml")


def population(root: Path = PROJECT_ROOT) -> dict[str, list[Mutant]]:
    """Every generated mutant of the default files, by kind ("firmware", "hdl")."""
    found: dict[str, list[Mutant]] = {"firmware": [], "hdl": []}
    for path in default_files(root):
        kind = path.relative_to(root).parts[0]
        found[kind].extend(generate(path, root))
    return found


def load_equivalents(path: Path) -> dict[str, str]:
    """id -> reason, from a TOML file of ``[[equivalent]]`` tables (``id``, ``reason``); none when missing."""
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: not a list of equivalent mutants ({exc})") from None
    found = {}
    for entry in data.get("equivalent", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry.get("reason"):
            raise UsageError(f"{path}: each [[equivalent]] needs an id and a reason")
        found[entry["id"]] = str(entry["reason"])
    return found


def same_sample(previous: Path, everything: dict[str, list[Mutant]]) -> tuple[dict[str, list[Mutant]], list[str]]:
    """The mutants of an earlier ``qualify.json``, found again in today's population: by id, or, when
    the lines around one moved (its id went stale), by file, function, operator and change, the
    nearest to its old line. Returns the sample by kind and the ids found nowhere."""
    try:
        old = json.loads(previous.read_text())["mutants"]
        wanted = [(m["kind"], m["id"], m["function"], m["operator"], m["change"]) for m in old]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{previous}: not the qualify.json of an earlier make qualify ({exc})") from None
    by_id = {m.id: m for mutants in everything.values() for m in mutants}
    by_key: dict[tuple, list[Mutant]] = {}
    for mutants in everything.values():
        for m in mutants:
            by_key.setdefault((m.file, m.function, m.operator, f"{m.original} → {m.replacement}"), []).append(m)
    sample: dict[str, list[Mutant]] = {kind: [] for kind in everything}
    lost, taken = [], set()
    for kind, mutant_id, function, operator, change in wanted:
        found = by_id.get(mutant_id)
        if found is None:
            file, line = parse_id(mutant_id)[:2]
            candidates = [m for m in by_key.get((file, function, operator, change), []) if m.id not in taken]
            found = min(candidates, key=lambda m: abs(m.line - line), default=None)
        if found is None:
            lost.append(mutant_id)
        else:
            taken.add(found.id)
            sample.setdefault(kind, []).append(found)
    return sample, lost


def qualification_runs(firmware: list[Mutant], hdl: list[Mutant], seeds: int, sim: str = DEFAULT_SIM) -> Expansion:
    """The baselines, then each firmware mutant's kill suite and each hdl mutant's unit tests."""
    runs: list[RunSpec] = firmware_suite(CAMPAIGN, seeds, sim) if firmware else []
    if hdl:
        runs.append(RunSpec(CAMPAIGN, UNIT_RUN))
    for mutant in firmware:
        runs += firmware_suite(CAMPAIGN, seeds, sim, source_mutant=mutant.id)
    for mutant in hdl:
        runs.append(RunSpec(CAMPAIGN, replace(UNIT_RUN, source_mutant=mutant.id)))
    return Expansion(runs, [])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.campaigns.qualify", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sample", type=int, help="mutants of each kind (default: the size for ±5 %% at 95 %% confidence)"
    )
    parser.add_argument("--sample-seed", type=int, default=1, help="the sample's seed (default 1)")
    parser.add_argument("--seeds", type=int, default=6, help="random workloads in the kill suite (default 6)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel runs: Dask workers (default 2)")
    parser.add_argument("--no-hardware", action="store_true", help="firmware mutants only")
    parser.add_argument("--equivalents", default=str(EQUIVALENTS), help=f"equivalent mutants (default {EQUIVALENTS})")
    parser.add_argument(
        "--db",
        default=str(DEFAULT_DB),
        help=f"the results database (default {DEFAULT_DB}, the one lwkt-soc results reads)",
    )
    parser.add_argument(
        "--same-as",
        metavar="QUALIFY_JSON",
        help="run the sample of an earlier qualify.json again (its mutants found in today's sources), "
        "to compare scores before and after a change",
    )
    parser.add_argument(
        "--no-equiv-proofs",
        dest="equiv_proofs",
        action="store_false",
        help="do not try to prove the hdl survivors equivalent (sim/mutation/equiv.py)",
    )
    parser.add_argument("--out", default="runs/qualify", help="where qualify.json and qualify.md go")
    args = parser.parse_args(argv)
    if args.sample is not None and args.sample < 1 or args.seeds < 0 or args.jobs < 1:
        print("sim.campaigns.qualify: error: --sample and --jobs must be >= 1, --seeds >= 0", file=sys.stderr)
        return EXIT_USAGE
    try:
        equivalents = load_equivalents(Path(args.equivalents))
        everything = population()
        known = {m.id for mutants in everything.values() for m in mutants}
        stale = [mutant_id for mutant_id in equivalents if mutant_id not in known]
        if stale:  # the code at the id changed: its reason may no longer hold, so the mutant counts again
            print(f"{len(stale)} equivalent(s) no longer match today's sources, left out: {', '.join(stale)}")
        if args.no_hardware:
            everything["hdl"] = []
        if args.same_as:
            sample, lost = same_sample(Path(args.same_as), everything)
            sample = {kind: mutants for kind, mutants in sample.items() if mutants}
            print(
                f"same sample as {args.same_as}: "
                + ", ".join(f"{len(m)} {kind}" for kind, m in sample.items())
                + (f"; not found in today's sources: {', '.join(lost)}" if lost else "")
            )
        else:
            sample = {
                kind: stratified_sample(mutants, args.sample or sample_size(population=len(mutants)), args.sample_seed)
                for kind, mutants in everything.items()
                if mutants
            }
        summary = _run(everything, sample, equivalents, args)
    except (UsageError, EnvironmentProblem) as exc:
        return report_error("sim.campaigns.qualify", exc)
    if summary is None:
        return EXIT_FAILED
    print(summary["line"])
    met = all(part["score"] >= GOALS[kind] for kind, part in summary["kinds"].items() if part["measured"])
    return EXIT_OK if met else EXIT_FAILED


def _run(everything: dict, sample: dict, equivalents: dict, args) -> dict | None:
    torun = {kind: [m for m in mutants if m.id not in equivalents] for kind, mutants in sample.items()}
    expansion = qualification_runs(torun.get("firmware", []), torun.get("hdl", []), args.seeds)
    print(
        "qualification sample: "
        + ", ".join(f"{kind} {len(sample[kind])} of {len(everything[kind])} mutants" for kind in sample)
        + (f" (the sample of {args.same_as})" if args.same_as else f" (seed {args.sample_seed})")
        + f"; {sum(len(sample[k]) - len(torun[k]) for k in sample)} known equivalent",
        flush=True,
    )
    started = time.perf_counter()
    outcome = run_mutation_campaign(CAMPAIGN, expansion, args)
    order = {spec.run_key(outcome.revision.digest): i for i, spec in enumerate(expansion.runs)}
    runs: dict[str, list[dict]] = {}
    for result in sorted(outcome.results, key=lambda r: order.get(r["run_key"], len(order))):
        runs.setdefault(result["config"].get("source_mutant", ""), []).append(result)
    baseline = [r for r in runs.get("", []) if r["status"] != "pass"]
    if baseline:
        print(f"the suites fail without any mutant ({why_failed(baseline[0])}): nothing can be measured")
        return None
    verdicts = []
    for kind, mutants in sample.items():
        for m in mutants:
            verdicts.append(_verdict(kind, m, runs.get(m.id, []), equivalents.get(m.id)))
    if args.equiv_proofs:
        _prove_survivors_equivalent(verdicts, Path(args.out))
    kinds = {kind: _score([v for v in verdicts if v["kind"] == kind]) for kind in sample}
    equivalent = sum(v["verdict"] == "equivalent" for v in verdicts)
    line = "qualification: " + ", ".join(
        f"{kind} {p['killed']}/{p['measured']} killed ({100 * p['score']:.0f} %, ±{100 * p['half_width']:.0f})"
        for kind, p in kinds.items()
    )
    line += f", {equivalent} equivalent"
    summary = {
        "line": line,
        "kinds": kinds,
        "goals": GOALS,
        "population": {kind: len(mutants) for kind, mutants in everything.items()},
        "sample_seed": args.sample_seed,
        "seeds": args.seeds,
        "seconds": round(time.perf_counter() - started, 1),
        "revision": outcome.revision.as_dict(),
        "database": str(outcome.db_path),
        "mutants": verdicts,
    }
    write_summary(Path(args.out), "qualify", summary, _markdown(summary))
    return summary


def _prove_survivors_equivalent(verdicts: list[dict], out: Path) -> None:
    """An hdl survivor that yosys proves equivalent to the design at the small sizes
    (sim/mutation/equiv.py) is equivalent, not a survivor; its verdict says so and how."""
    for v in verdicts:
        if v["kind"] != "hdl" or v["verdict"] != "survived":
            continue
        print(f"equivalence proof of survivor {v['id']} ...", flush=True)
        how = proven_equivalent(v["id"], out / "equiv" / v["id"].replace("/", "_").replace(":", "_"))
        if how is not None:
            v["verdict"], v["by"] = "equivalent", how


def _verdict(kind: str, mutant: Mutant, runs: list[dict], equivalent: str | None) -> dict:
    if equivalent is not None:
        verdict, by, how = "equivalent", equivalent, ""
    else:
        verdict, by, how = judge(runs)
    return {
        "kind": kind,
        "id": mutant.id,
        "function": mutant.function,
        "operator": mutant.operator,
        "change": f"{mutant.original} → {mutant.replacement}",
        "verdict": verdict,
        "failure": how,
        "by": by,
        "runs": len(runs),
    }


def _score(verdicts: list[dict]) -> dict:
    """Killed ÷ (sample − equivalent − error), with the Wilson interval's larger half-width."""
    killed = sum(v["verdict"] == "killed" for v in verdicts)
    measured = sum(v["verdict"] in ("killed", "survived") for v in verdicts)
    score = killed / measured if measured else 0.0
    low, high = wilson_interval(killed, measured) if measured else (0.0, 1.0)
    return {
        "killed": killed,
        "measured": measured,
        "survived": measured - killed,
        "errors": sum(v["verdict"] == "error" for v in verdicts),
        "score": round(score, 4),
        "interval": [round(low, 4), round(high, 4)],
        "half_width": round(max(score - low, high - score), 4),
    }


def _markdown(summary: dict) -> str:
    lines = ["# Mutation qualification", "", summary["line"], ""]
    lines.append(
        f"Population {summary['population']}; sample seed {summary['sample_seed']}; kill suite with "
        f"{summary['seeds']} random seeds; {summary['seconds']} s; every run in {summary['database']}, "
        f"campaign `{CAMPAIGN}`."
    )
    failures: dict[str, int] = {}
    for v in summary["mutants"]:
        if v["verdict"] == "killed":
            failures[v["failure"]] = failures.get(v["failure"], 0) + 1
    lines += ["", "## Kills by kind of failure", ""]
    lines += markdown_table(
        ["failure", "mutants"], [[k, n] for k, n in sorted(failures.items(), key=lambda kv: -kv[1])]
    )
    for verdict in ("survived", "equivalent", "error", "killed"):
        mine = [v for v in summary["mutants"] if v["verdict"] == verdict]
        if not mine:
            continue
        lines += ["", f"## {verdict.capitalize()} ({len(mine)})", ""]
        lines += markdown_table(
            ["kind", "mutant", "function", "change", "by" if verdict != "equivalent" else "why equivalent"],
            [
                [v["kind"], f"`{v['id']}`", v["function"], f"`{v['change']}`".replace("|", "\\|"), v["by"][:160]]
                for v in mine
            ],
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
