"""The runs of ``make coverage`` (``sim/coverage/run.py``), and one run of them in a worker process.

The set: every named scenario on seed 1 with the faults that act in it, the directed cocotb modules of
the register contract on each build the runs use (with code coverage) or on the random workloads' one,
the kernel's directed modules (with code coverage), then the random workloads with every fault on,
coverage-directed unless asked otherwise. Each run returns its bins, whether it passed, and its UCIS
file; its code coverage data is kept in ``out/data``, and a failing run's folder under ``out/runs``.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

from hdl.config import SocConfig
from sim.contract.catalogue import ALL_FAULTS
from sim.contract.config import HW_COVERAGE_FILE, RunConfig
from sim.contract.directed import DIRECTED_RUNS, REGISTER_MODULES, DirectedRun
from sim.contract.errors import EXIT_OK, EnvironmentProblem, UsageError
from sim.contract.hw_coverage import LEVEL_BINS
from sim.contract.outdir import FW_COVERAGE_DATA, atomic_write
from sim.coverage.func import MODEL, run_hits

__all__ = ["NAMED_RUNS", "REGISTER_MODULES", "KERNEL_RUNS", "run_configs", "make_jobs", "run_job"]

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


def make_jobs(seeds: int, biased: bool, series: str, code: bool) -> list[dict]:
    """The runs in order: the named scenarios, the directed modules, then ``seeds`` random workloads
    (labelled with ``series``); a scenario job carries its RunConfig in ``run``."""
    named = [{"label": f"{run.scenario} seed {run.seed}", "kind": "scenario", "run": run} for run in NAMED_RUNS]
    directed = [
        {
            "label": f"directed {m} ({c.ncpu} CPUs, FIFO {c.fifo_depth})",
            "kind": "directed",
            "module": m,
            "config": asdict(c),
        }
        for c in run_configs(code)
        for m in REGISTER_MODULES
        if m != "isolation" or c.ncpu >= 2
    ]
    if code:
        directed += [{"label": f"kernel {run.name}", "kind": "kernel", "run_name": run.name} for run in KERNEL_RUNS]
    randoms = [
        {
            "label": f"{series}random seed {s}",
            "kind": "scenario",
            "run": RunConfig("random", seed=s, cpus=RANDOM_CPUS, faults=[ALL_FAULTS], fifo_depth=RANDOM_FIFO_DEPTH),
            "biased": biased,
        }
        for s in range(1, seeds + 1)
    ]
    return named + directed + randoms


def _slug(label: str) -> str:
    return label.replace(" ", "-")


def run_job(job: dict, out: Path, code: bool) -> dict:
    """One run (in a worker process): its bins, whether it passed, and its code coverage files kept
    in ``out/data``. Failing runs keep their folder under ``out/runs``."""
    started = time.perf_counter()
    folder = out / "runs" / _slug(job["label"])
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    try:
        if job["kind"] == "directed":
            hits, ok = _directed(
                job["module"], SocConfig(**job["config"]), folder, data / f"{_slug(job['label'])}.rtl.dat", code
            )
        elif job["kind"] == "kernel":
            hits, ok = _kernel(job, folder, data / f"{_slug(job['label'])}.fw.dat")
        else:
            hits, ok = _scenario(job, folder, data, code)
        error = None
    except (UsageError, EnvironmentProblem):
        raise
    except Exception as exc:  # a run that cannot even report counts as a failed run
        hits, ok, error = {}, False, f"{type(exc).__name__}: {exc}"
    if ok:
        shutil.rmtree(folder, ignore_errors=True)
    ucis = None
    if hits:
        from sim.coverage.ucis import write_ucis

        ucis = str(
            write_ucis(
                hits,
                MODEL,
                out / "ucis" / f"{_slug(job['label'])}.xml",
                test_name=job["label"],
                seed=job["run"].seed if "run" in job else None,
                ok=ok,
            )
        )
    return {
        "label": job["label"],
        "hits": hits,
        "ok": ok,
        "error": error,
        "ucis": ucis,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _scenario(job: dict, folder: Path, data: Path, code: bool) -> tuple[dict, bool]:
    from sim.host.run import run_scenario

    run = job["run"]
    spec = None
    if job.get("weights") is not None:
        # The draws of a coverage-directed seed, as a spec file: the run can be repeated exactly.
        from sim.contract.catalogue import parse_faults
        from sim.contract.random_spec import generate_spec

        spec = data.parent / "specs" / f"{_slug(job['label'])}.json"
        spec.parent.mkdir(parents=True, exist_ok=True)
        drawn = generate_spec(
            run.seed, run.cpus, parse_faults(",".join(run.faults)), weights=job["weights"], knobs=job["knobs"]
        )
        atomic_write(spec, drawn.to_json() + "\n")
    measured = replace(
        run,
        out=str(folder),
        spec=None if spec is None else str(spec),
        hw_coverage=True,
        rtl_coverage=code,
        fw_coverage=code,
    )
    code_rc = run_scenario(measured, quiet=True)
    hits = run_hits(folder)
    slug = _slug(job["label"])
    for name, kind in (("rtl_coverage.dat", "rtl"), ("fw_coverage.dat", "fw")):
        if (folder / name).exists():
            shutil.copyfile(folder / name, data / f"{slug}.{kind}.dat")
    return hits, code_rc == EXIT_OK


def _directed(module: str, config: SocConfig, folder: Path, rtl_dat: Path, code: bool) -> tuple[dict, bool]:
    """A register module, on the coverage build of ``config`` when ``code``: its RTL points too."""
    from sim.host.runner import run_directed

    result = run_directed(
        DirectedRun(module, module, config), "verilator", _fresh(folder), hw_coverage=True, coverage_build=code
    )
    if code and (folder / "coverage.dat").exists():
        shutil.copyfile(folder / "coverage.dat", rtl_dat)
    return _hw_hits(folder), result.ok


def _kernel(job: dict, folder: Path, fw_dat: Path) -> tuple[dict, bool]:
    """A directed kernel module on a plain build (its RTL points would be a build no register test
    covers): firmware coverage through sim/tb/fw_coverage_start.py, imported before the module."""
    from sim.host.runner import run_directed

    result = run_directed(
        job["run_name"],
        "verilator",
        _fresh(folder),
        first=("sim.tb.fw_coverage_start",),
        hw_coverage=True,
        fw_coverage=True,
    )
    if (folder / FW_COVERAGE_DATA).exists():
        shutil.copyfile(folder / FW_COVERAGE_DATA, fw_dat)
    return _hw_hits(folder), result.ok


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _hw_hits(folder: Path) -> dict:
    """The hardware bins a directed run recorded (sim/tb/testbench.py), as functional-coverage names."""
    from sim.contract.hw_coverage import read_hits

    return {f"hw.{name}": n for name, n in read_hits(folder / HW_COVERAGE_FILE).items() if n}
