"""The Dask tasks of a campaign, run in the worker processes: probe the worker's file system, build a
configuration, run a batch of runs into their folders and summarise each, shrink a failing seed.
Each returns a small dict the client records (``sim/campaigns/regress.py``)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

from sim.campaigns.campaign import RunSpec
from sim.contract.errors import EXIT_FAILED, EnvironmentProblem, UsageError
from sim.campaigns.revision import source_digest

__all__ = [
    "ATTEMPTS",
    "CODE_COVERAGE",
    "keep_code_coverage",
    "build_task",
    "run_task",
    "execute_run",
    "WallLimit",
    "stop_runs",
    "shrink_task",
    "probe_worker",
    "filesystem_id",
    "error_result",
]

#: Folder (inside the campaign's) where each attempt of a run writes before it is kept or removed.
ATTEMPTS = ".attempts"
#: Folder (inside the campaign's) of the runs' code coverage data, named by run (make coverage).
CODE_COVERAGE = "data"


def filesystem_id(root: Path) -> str:
    """A name for the file system holding ``root``: workers that read the same one share a build cache."""
    marker = root / ".filesystem-id"
    for _ in range(100):
        try:
            text = marker.read_text().strip()
            if text:
                return text
        except FileNotFoundError:
            root.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pass  # another worker is writing it
            else:
                name = uuid.uuid4().hex[:16]
                with os.fdopen(fd, "w") as f:
                    f.write(name)
                return name
        time.sleep(0.05)
    raise EnvironmentProblem(f"{marker} stays empty")


def probe_worker() -> dict:
    """What the client needs to know about a worker (run on every worker)."""
    from sim.host.build import BUILD_ROOT

    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "fs": filesystem_id(BUILD_ROOT),
        "digest": worker_digest(),
        "build_root": str(BUILD_ROOT),
    }


def stop_runs() -> int:
    """Kill what this worker's runs started (its child processes: simulators, pytest): run on every worker
    when a campaign stops before its end, so that no simulator outlives it. Returns how many."""
    from sim.host.interrupt import child_processes

    pids = child_processes()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return len(pids)


def build_task(sim: str, config: dict, coverage: bool = False) -> dict:
    """Build one configuration on this worker's file system (cached: a no-op when built); ``coverage``: its
    Verilator coverage build."""
    from hdl.config import SocConfig
    from sim.host.build import build_soc

    start = time.perf_counter()
    try:
        build = build_soc(sim, SocConfig(**config), coverage=coverage)
    except EnvironmentProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - a simulator missing, a bad configuration: the campaign stops
        raise EnvironmentProblem(f"{type(exc).__name__}: {exc}") from None
    return {
        "host": socket.gethostname(),
        "directory": str(build.directory),
        "seconds": round(time.perf_counter() - start, 3),
    }


_DIGEST: list[str] = []


def worker_digest() -> str:
    """This worker's source digest, taken once: the code it imported when it started."""
    if not _DIGEST:
        _DIGEST.append(source_digest())
    return _DIGEST[0]


def run_task(specs: list[dict], folder: str, keep: str, digest: str, wall_limit: float | None = None) -> list[dict]:
    """Runs of the campaign, one after the other (a batch: usually one run)."""
    if worker_digest() != digest:
        result = error_result(
            EnvironmentProblem(
                f"worker {socket.gethostname()} runs other sources (digest {worker_digest()}, campaign {digest})"
            )
        )
        return [
            {
                **result,
                "seed": spec["seed"],
                "seconds": 0.0,
                "out_dir": None,
                "worker": socket.gethostname(),
                "attempt": 1,
            }
            for spec in specs
        ]
    return [execute_run(RunSpec.from_dict(spec), Path(folder), keep, wall_limit) for spec in specs]


class WallLimit:
    """Kills what a run started (this worker's new child processes) once it outlasts ``seconds`` of wall-clock
    time. A mutation campaign needs it: a mutant can loop forever in Python without letting simulated time
    pass, and no cycle budget would end that run."""

    def __init__(self, seconds: float | None):
        self.seconds, self.fired, self._timer = seconds, False, None

    def __enter__(self) -> WallLimit:
        if self.seconds:
            from sim.host.interrupt import child_processes

            before = set(child_processes())

            def fire() -> None:
                self.fired = True
                for pid in set(child_processes()) - before:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass

            self._timer = threading.Timer(self.seconds, fire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def result(self) -> dict:
        """A run stopped by the limit: it failed to end (a hang), which kills a mutant."""
        message = f"no end after {self.seconds:g} s of wall-clock time: the run hung"
        return _verdict(False, "hang", ["ends within the wall-clock limit"], message, checks=0)


def execute_run(spec: RunSpec, folder: Path, keep: str, wall_limit: float | None = None) -> dict:
    """Run ``spec`` into its own attempt folder; returns what the database records. Never raises: a run that
    cannot run or report is a result with status ``error``; one that outlasts ``wall_limit`` seconds is
    stopped and fails with outcome ``hang``."""
    attempts = folder / ATTEMPTS
    attempts.mkdir(parents=True, exist_ok=True)
    me = f"{socket.gethostname()}-{os.getpid()}"
    out = attempts / f"{spec.run_dir}.{me}"
    shutil.rmtree(out, ignore_errors=True)
    # A folder another process left for the same run is an attempt that died with its worker.
    earlier = sum(1 for _ in attempts.glob(f"{spec.run_dir}.*"))
    start = time.perf_counter()
    result = {"seed": spec.run.seed, "worker": me, "attempt": earlier + 1}
    # The unit tests and proofs run in subprocesses with their own time limits (hw_mutants.UNIT_TIMEOUT);
    # the wall-clock limit is for a simulation whose mutated Python stops simulated time.
    limit = WallLimit(None if spec.run.kind == "unit" else wall_limit)
    try:
        with limit:
            result.update(_run_kind(spec.run, out))
        keep_code_coverage(spec.run, out, folder / CODE_COVERAGE, spec.run_dir)
    except Exception as exc:  # noqa: BLE001 - whatever it was, the campaign records it and goes on
        result.update(error_result(exc))
    if limit.fired:
        result.update(limit.result())
    result["seconds"] = round(time.perf_counter() - start, 2)
    if out.exists() and (keep == "all" or keep == "failed" and result["status"] != "pass"):
        final = folder / spec.run_dir
        shutil.rmtree(final, ignore_errors=True)
        os.replace(out, final)
        result["out_dir"] = str(final)
    else:
        shutil.rmtree(out, ignore_errors=True)
        result["out_dir"] = None
    return result


def _run_kind(run, out: Path) -> dict:
    """Run ``run`` into ``out`` as its kind says: a scenario, a directed cocotb module, or the RTL's unit
    tests; its summary."""
    if run.kind == "scenario":
        from sim.host.run import run_scenario

        return summarise_run(out, run_scenario(replace(run, out=str(out)), quiet=True), run.hw_coverage)
    out.mkdir(parents=True, exist_ok=True)
    if run.kind == "directed":
        from sim.contract.directed import DIRECTED_RUNS, DirectedRun
        from sim.coverage.func import directed_hits
        from sim.host.runner import run_directed

        # A row of the table (its module and test), or a module of the register contract by name; on the
        # SoC the run asks for.
        row = DIRECTED_RUNS.get(run.scenario)
        directed = DirectedRun(
            run.scenario, row.module if row else run.scenario, run.soc_config(), row.testcase if row else None
        )
        result = run_directed(
            directed,
            run.sim,
            out,
            first=("sim.tb.fw_coverage_start",) if run.fw_coverage else (),
            bug=run.bug,
            source_mutant=run.source_mutant,
            hw_coverage=run.hw_coverage,
            fw_coverage=run.fw_coverage,
            coverage_build=run.rtl_coverage,
        )
        summary = summarise_directed(result)
        if run.hw_coverage:
            hits = directed_hits(out)
            summary["bins"] = sorted(hits)
            summary["counters"] = {"bin_hits": hits}
        return summary
    if run.kind == "unit":
        from sim.campaigns.hw_mutants import run_unit_tests

        return _unit_summary(run_unit_tests(run.mutant, out, source_mutant=run.source_mutant))
    raise UsageError(f"a campaign cannot run runs of kind {run.kind!r}")


def keep_code_coverage(run, out: Path, data: Path, name: str) -> None:
    """Keep a run's code coverage data as ``data/<name>.rtl.dat`` and ``.fw.dat`` (make coverage merges
    them): Verilator's from a scenario (rtl_coverage.dat) or a directed module (coverage.dat), coverage.py's."""
    from sim.contract.outdir import FW_COVERAGE_DATA

    wanted = {"rtl": run.rtl_coverage, "fw": run.fw_coverage}
    sources = {"rtl": ("rtl_coverage.dat", "coverage.dat"), "fw": (FW_COVERAGE_DATA,)}
    for kind, files in sources.items():
        found = next((out / f for f in files if (out / f).exists()), None) if wanted[kind] else None
        if found is not None:
            data.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found, data / f"{name}.{kind}.dat")


def summarise_directed(result) -> dict:
    """The summary of a directed cocotb module's run: its tests, the failing ones and the first failure's
    message (from cocotb's results.xml)."""
    import xml.etree.ElementTree as ET

    failed, message = [], None
    try:
        cases = list(ET.parse(result.results_xml).getroot().iter("testcase"))
    except (OSError, ET.ParseError):
        cases = []
    for case in cases:
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if failure is not None:
            failed.append(str(case.get("name")))
            if message is None:
                message = " ".join((failure.get("message") or "").split())[:200] or None
    ok = result.ok
    if not ok and not failed:
        failed = ["no test ran" if not cases else "the module failed"]
    return _verdict(ok, "pass" if ok else "fail", failed, message, checks=len(cases))


def _unit_summary(result: dict) -> dict:
    return _verdict(result["ok"], result["outcome"], result["failed"], result["message"], checks=0)


def _verdict(ok: bool, outcome: str, failed: list[str], message: str | None, *, checks: int) -> dict:
    """A run's summary when it has no report of its own (a directed module, the unit tests)."""
    return {
        "status": "pass" if ok else "fail",
        "code": 0 if ok else EXIT_FAILED,
        "outcome": outcome,
        "checks": checks,
        "failed": failed,
        "panic": message,
        "signature": None if ok else [sorted(failed), re.sub(r"[0-9]+", "#", message or "")],
        "counters": {},
        "latencies": {},
        "cycles": None,
        "sim_seconds": None,
        "bins": None,
    }


def summarise_run(out: Path, code: int, coverage: bool) -> dict:
    """The small dict a run task returns, from the run's folder."""
    from sim.coverage.func import run_hits
    from sim.reports.run_files import RunFiles
    from sim.campaigns.shrink import failure_signature

    report = RunFiles(out).report()
    hits = run_hits(out) if coverage else None
    failed = [c["name"] for c in report["checks"] if not c["ok"]]
    if code == 0:
        status = "pass"
    elif report["outcome"] == "panic":
        status = "panic"
    elif report["outcome"] == "interrupted":
        status = "error"
    else:
        status = "fail"
    landings = {
        row["function"]: [sum(row["taken"]), sum(row["deferred"])] for row in report.get("interrupt_landings", [])
    }
    counters = {
        "sysctl": report.get("sysctl") or {},
        "ipi": report.get("ipi"),
        "mplock": report.get("mplock"),
        "scoreboard": report.get("scoreboard") or {},
        "shared_ram": report.get("shared_ram") or {},
        "faults": (report.get("faults") or {}).get("injected"),
        "landings": landings,
        "bus_transactions": report.get("bus_transactions"),
    }
    if hits is not None:  # how often each bin was hit (make coverage's tallies and UCIS files)
        counters["bin_hits"] = hits
    signature = None
    if status != "pass":
        checks, panic = failure_signature(report)
        signature = [list(checks), panic]
    return {
        "status": status,
        "code": code,
        "outcome": report["outcome"],
        "checks": len(report["checks"]),
        "failed": failed,
        "panic": (report.get("panic") or {}).get("message"),
        "signature": signature,
        "counters": counters,
        "latencies": report.get("latency") or {},
        "cycles": report.get("cycles"),
        "sim_seconds": report.get("wall_seconds"),
        "bins": sorted(hits) if hits is not None else None,
    }


def error_result(exc: BaseException) -> dict:
    """A run that could not run or report: recorded, and run again when the campaign is."""
    from sim.contract.errors import EXIT_ENVIRONMENT, EXIT_USAGE

    kind = type(exc).__name__
    message = str(exc).splitlines()[0] if str(exc) else kind
    code = (
        EXIT_USAGE
        if isinstance(exc, UsageError)
        else EXIT_ENVIRONMENT
        if isinstance(exc, EnvironmentProblem)
        else EXIT_FAILED
    )
    return {
        "status": "error",
        "code": code,
        "outcome": "error",
        "checks": 0,
        "failed": [f"run error: {kind}"],
        "panic": None,
        "signature": [["run error"], f"{kind}: {re.sub(r'[0-9]+', '#', message)}"],
        "detail": message,
        "counters": {},
        "latencies": {},
        "cycles": None,
        "sim_seconds": None,
        "bins": None,
    }


def shrink_task(spec: dict, target: list, budget: int, folder: str) -> dict:
    """Shrink the workload of one failing random seed; at most ``budget`` runs."""
    from sim.contract.random_spec import generate_spec
    from sim.campaigns.shrink import shrink, spec_signature

    run = RunSpec.from_dict(spec)
    workload = generate_spec(run.run.seed, run.run.cpus, frozenset(run.run.faults))
    wanted = (tuple(target[0]), target[1])
    runs = 0

    def still_fails(candidate) -> bool:
        nonlocal runs
        if runs >= budget:
            return False
        runs += 1
        return spec_signature(candidate, run.run) == wanted

    smallest = shrink(workload, still_fails, log=lambda *_: None)
    out = Path(folder) / "shrinks" / f"{run.run_dir}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.json").write_text(smallest.to_json())
    return {
        "status": "shrunk" if smallest.size() < workload.size() else "not-smaller",
        "size_from": workload.size(),
        "size_to": smallest.size(),
        "runs": runs,
        "spec": smallest.to_json(),
        "spec_path": str(out / "spec.json"),
    }
