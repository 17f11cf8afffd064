"""Mutation testing: plant one known bug at a time and see whether the verification catches it.

    python -m sim.campaigns.mutants [--only NAME,...] [--sample N] [--seeds R] [--jobs J] [--no-hardware]

Firmware mutants are the planted bugs of ``firmware/bugs.py`` (``Bug``), each a
small break of one rule of the seeds, switched on with ``--plant-bug``. Each runs
through the kill suite: the named scenarios and ``R`` random workloads with every
fault on, on Verilator, with every run-time check (the scheduling scoreboard, the
RAM race detector, the kernel's own assertions, the scenarios' checks); it is
killed by the first run that fails, and that run's failed check or panic says by
what. Hardware mutants (``hdl/mutants.py``) are built into the RTL through an
elaboration parameter and meet the HDL unit tests (``sim/campaigns/hw_mutants.py``).

The suite first runs without any mutant: it must pass, or nothing can be
measured. The summary ends with ``mutants: K/N killed (P %)``; the exit code is 0
when at least ``GOAL`` of them were killed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from firmware.bugs import BUGS
from sim.contract.catalogue import ALL_FAULTS
from sim.contract.config import DEFAULT_SIM, RunConfig
from sim.contract.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from sim.contract.outdir import atomic_write
from sim.contract.directed import DIRECTED_RUNS
from sim.reports.run_files import RunFiles
from sim.reports.tables import markdown_table

__all__ = ["main", "kill_suite", "run_firmware_mutant", "GOAL"]

#: The share of mutants the verification must kill.
GOAL = 0.95


def kill_suite(seeds: int) -> list[RunConfig]:
    """The runs a firmware mutant meets, cheapest first: every named scenario on seed 1 (the IPI storm with
    a small FIFO), then ``seeds`` random workloads with every fault on."""
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


def _describe(run: RunConfig) -> str:
    return f"{run.scenario} seed {run.seed}" + (f" --faults {','.join(run.faults)}" if run.faults else "")


def _why(report: dict) -> str:
    """What stopped a run: its panic (a failed run-time check is one) or its first failed check."""
    if report.get("panic"):
        return report["panic"]["message"]
    failed = [c for c in report["checks"] if not c["ok"]]
    return f"check '{failed[0]['name']}': {failed[0]['detail']}" if failed else f"outcome {report['outcome']}"


#: The kernel's directed cocotb tests, after the scenarios (sim/contract/directed.py, those used by
#: "mutants"). They reach windows a workload meets only by chance.
COCOTB_SUITE = [run for run in DIRECTED_RUNS.values() if "mutants" in run.uses]


def _cocotb_kill(bug: str, sim: str) -> str | None:
    """Run the directed cocotb tests with ``bug`` planted; the first failing test, or None."""
    import xml.etree.ElementTree as ET
    from sim.host.runner import run_directed

    for run in COCOTB_SUITE:
        module = run.module
        with tempfile.TemporaryDirectory() as tmp:
            try:
                result = run_directed(run, sim, Path(tmp), bug=bug)
            except RuntimeError as exc:  # the simulator died: that is caught too
                return f"{module}: {exc}"
            if not result.ok:
                for case in ET.parse(result.results_xml).getroot().iter("testcase"):
                    failure = case.find("failure")
                    if failure is not None:
                        message = " ".join((failure.get("message") or "").split())[:160]
                        return f"cocotb {module}.{case.get('name')}: {message}"
                return f"cocotb {module}: failed"
    return None


def run_firmware_mutant(bug: str, seeds: int, sim: str = DEFAULT_SIM) -> dict:
    """Run the kill suite with ``bug`` planted (``""``: none) until a run fails: the scenarios, then the
    kernel's directed cocotb tests."""
    from sim.host.run import run_scenario

    start = time.perf_counter()
    runs = 0
    for run in kill_suite(seeds):
        runs += 1
        with tempfile.TemporaryDirectory() as tmp:
            code = run_scenario(replace(run, sim=sim, bug=bug, out=tmp), quiet=True)
            if code != 0:
                why = _why(RunFiles(tmp).report())
                return {
                    "kind": "firmware",
                    "name": bug,
                    "killed": True,
                    "by": f"{_describe(run)}: {why}",
                    "runs": runs,
                    "seconds": round(time.perf_counter() - start, 1),
                }
    by = _cocotb_kill(bug, sim)
    return {
        "kind": "firmware",
        "name": bug,
        "killed": by is not None,
        "by": by or "",
        "runs": runs + 1,
        "seconds": round(time.perf_counter() - start, 1),
    }


def _hardware(name: str) -> dict:
    from sim.campaigns.hw_mutants import run_hw_mutant

    result = run_hw_mutant(name)
    return {
        "kind": "hardware",
        "name": name,
        "killed": result["killed"],
        "by": result["by"],
        "runs": 1,
        "seconds": result["seconds"],
    }


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
    parser.add_argument("--jobs", type=int, default=2, help="mutants run in parallel (default 2)")
    parser.add_argument("--no-hardware", action="store_true", help="firmware mutants only")
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

    started = time.perf_counter()
    baseline = run_firmware_mutant("", args.seeds)
    if baseline["killed"]:
        print(f"the kill suite fails without any mutant ({baseline['by']}): nothing can be measured")
        return EXIT_FAILED
    print(
        f"kill suite: {len(kill_suite(args.seeds))} runs per firmware mutant (passes unmutated in "
        f"{baseline['seconds']} s); hardware mutants meet the HDL unit tests",
        flush=True,
    )
    results = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_firmware_mutant, name, args.seeds) for name in fw_names]
        futures += [pool.submit(_hardware, name) for name in hw_names]
        for future in futures:
            r = future.result()
            results.append(r)
            verdict = "killed" if r["killed"] else "SURVIVED"
            print(f"  {r['kind']:8} {r['name']:26} {verdict:8} {r['seconds']:6.1f} s  {r['by'][:150]}", flush=True)
    killed = sum(r["killed"] for r in results)
    total = len(results)
    share = killed / total if total else 1.0
    summary = {
        "killed": killed,
        "total": total,
        "share": round(share, 4),
        "goal": GOAL,
        "seconds": round(time.perf_counter() - started, 1),
        "seeds": args.seeds,
        "mutants": results,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "mutants.json", json.dumps(summary, indent=2) + "\n")
    atomic_write(out / "mutants.md", _markdown(summary))
    for r in results:
        if not r["killed"]:
            print(f"survived: {r['name']} ({r['kind']}): {_describe_mutant(r)}")
    print(f"mutants: {killed}/{total} killed ({100 * share:.0f} %)")
    return EXIT_OK if share >= GOAL else EXIT_FAILED


def _describe_mutant(r: dict) -> str:
    if r["kind"] == "firmware":
        return BUGS[r["name"]]
    from hdl.mutants import HW_MUTANTS

    return HW_MUTANTS[r["name"]]


def _markdown(summary: dict) -> str:
    lines = [
        "# Mutants",
        "",
        f"{summary['killed']}/{summary['total']} killed "
        f"({100 * summary['share']:.0f} %, goal {100 * summary['goal']:.0f} %) in {summary['seconds']} s; "
        f"kill suite with {summary['seeds']} random seeds.",
        "",
    ]
    lines += markdown_table(
        ["kind", "mutant", "the bug", "killed", "by"],
        [
            [
                r["kind"],
                f"`{r['name']}`",
                _describe_mutant(r),
                "yes" if r["killed"] else "**no**",
                r["by"].replace("|", "\\|")[:200],
            ]
            for r in summary["mutants"]
        ],
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
