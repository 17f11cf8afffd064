"""The runs of ``make coverage`` (``sim/campaigns/coverage_run.py``), as campaign runs.

The set: every named scenario on seed 1 with the faults that act in it, the directed cocotb modules of
the register contract on each build the runs use (with code coverage) or on the random workloads' one,
the kernel's directed modules (with firmware code coverage), then the random workloads with every fault
on, coverage-directed unless asked otherwise. Each is a :class:`CoverageJob`; :func:`job_spec` makes it
the campaign's run, drawing a coverage-directed workload from the bins still open into a spec file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

from hdl.config import SocConfig
from sim.campaigns.campaign import RunSpec, campaign_run
from sim.contract.catalogue import ALL_FAULTS
from sim.contract.config import RunConfig
from sim.contract.directed import DIRECTED_RUNS, REGISTER_MODULES
from sim.contract.hw_coverage import LEVEL_BINS
from sim.contract.outdir import atomic_write

__all__ = [
    "NAMED_RUNS",
    "REGISTER_MODULES",
    "KERNEL_RUNS",
    "CAMPAIGN",
    "CoverageJob",
    "run_configs",
    "make_jobs",
    "job_spec",
]

#: The campaign's name in the results database.
CAMPAIGN = "coverage"
#: Every named scenario on seed 1, with the faults that act in it.
NAMED_RUNS = [
    RunConfig("up-basic"),
    RunConfig("up-preempt", faults=["wait-states", "spurious", "delayed-complete"]),
    RunConfig("up-untimely"),
    RunConfig("smp-pingpong", cpus=4),
    RunConfig("smp-ipi-storm", cpus=4, fifo_depth=4),
    RunConfig("smp-mplock", cpus=4),
    RunConfig("smp-mixed", cpus=4, faults=["spurious", "delayed-complete"]),
    RunConfig("smp-mp-fallback", cpus=4),
]
RANDOM_CPUS, RANDOM_FIFO_DEPTH = 4, LEVEL_BINS
#: The kernel's directed cocotb tests (sim/contract/directed.py, those used by "coverage"), run on plain
#: builds for the firmware's code coverage (lwkt_hold/rele, the UP kernel's corners, the interleavings)
#: and the hardware bins.
KERNEL_RUNS = [run for run in DIRECTED_RUNS.values() if "coverage" in run.uses]


@dataclass(frozen=True)
class CoverageJob:
    """One run of make coverage: its label in the report, its request, and whether its workload is drawn
    towards the bins still open when it is submitted."""

    label: str
    run: RunConfig
    biased: bool = False


def run_configs(code: bool) -> list[SocConfig]:
    """The configurations the directed modules run on: with code coverage every one the runs use
    (RTL points are per build: a build the directed modules skip keeps their lines uncovered),
    else only the random workloads' (its FIFO depth gives every level bin)."""
    randoms = SocConfig(ncpu=RANDOM_CPUS, fifo_depth=RANDOM_FIFO_DEPTH)
    if not code:
        return [randoms]
    from sim.contract.resolve import resolve_run

    configs = [resolve_run(run).soc_config() for run in NAMED_RUNS] + [randoms]
    return list(dict.fromkeys(configs))


def _directed(name: str, soc: SocConfig, **fields) -> RunConfig:
    return RunConfig(
        name,
        seed=0,
        sim="verilator",
        cpus=soc.ncpu,
        fifo_depth=soc.fifo_depth,
        ram_words=soc.ram_words,
        ext_lines=soc.ext_lines,
        kind="directed",
        hw_coverage=True,
        **fields,
    )


def make_jobs(seeds: int, biased: bool, series: str, code: bool) -> list[CoverageJob]:
    """The runs in order: the named scenarios, the directed modules, then ``seeds`` random workloads
    (labelled with ``series``)."""
    measured = {"hw_coverage": True, "rtl_coverage": code, "fw_coverage": code}
    named = [CoverageJob(f"{run.scenario} seed {run.seed}", replace(run, **measured)) for run in NAMED_RUNS]
    directed = [
        CoverageJob(f"directed {m} ({c.ncpu} CPUs, FIFO {c.fifo_depth})", _directed(m, c, rtl_coverage=code))
        for c in run_configs(code)
        for m in REGISTER_MODULES
        if m != "isolation" or c.ncpu >= 2
    ]
    if code:
        directed += [
            CoverageJob(f"kernel {run.name}", _directed(run.name, run.soc, fw_coverage=True)) for run in KERNEL_RUNS
        ]
    randoms = [
        CoverageJob(
            f"{series}random seed {s}",
            RunConfig(
                "random", seed=s, cpus=RANDOM_CPUS, faults=[ALL_FAULTS], fifo_depth=RANDOM_FIFO_DEPTH, **measured
            ),
            biased=biased,
        )
        for s in range(1, seeds + 1)
    ]
    return named + directed + randoms


def job_spec(job: CoverageJob, open_bins: list[str], specs: Path) -> RunSpec:
    """The campaign's run of ``job``. A coverage-directed workload is drawn now, leaning towards
    ``open_bins``, into ``specs/<its hash>.json``: the run repeats exactly, and another draw is another
    configuration of the campaign."""
    run = job.run
    if run.kind != "scenario":
        return RunSpec(CAMPAIGN, run)
    if job.biased:
        from sim.contract.catalogue import parse_faults
        from sim.contract.random_spec import generate_spec
        from sim.coverage.func import stimulus_for

        weights, knobs = stimulus_for(open_bins)
        drawn = generate_spec(run.seed, run.cpus, parse_faults(",".join(run.faults)), weights=weights, knobs=knobs)
        text = drawn.to_json() + "\n"
        path = specs / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
        specs.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
        run = replace(run, spec=str(path))
    return campaign_run(CAMPAIGN, run)
