"""``lwkt-soc regress``: run a campaign on Dask and record every run in the results database.

    lwkt-soc regress nightly.toml                       # a LocalCluster sized to this machine
    lwkt-soc regress nightly.toml --scheduler tcp://host:8786
    lwkt-soc regress nightly.toml --cluster slurm --cluster-option cores=8 --cluster-option memory=16GB

Each run is one Dask task that calls ``run_scenario`` in the worker process, into its own
folder, and returns a small dict; the client writes it to the results database
(``sim/results_db.py``) as each task completes, keyed by the run key, so a run is
recorded once however often Dask ran it, a client killed at any point loses only
runs not yet written, and a campaign run again skips what is recorded for the same
sources. Each configuration is built once per worker file system by a build task
before its runs (the build cache and its lock in ``sim/build.py`` stay the
mechanism: a worker that joins later builds on first use). One seed of each new
failure signature of a random workload is shrunk by a Dask task too.
"""
from __future__ import annotations

import argparse
import collections
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import socket
import sqlite3
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .campaign import KEEP, Campaign, RunSpec, load_campaign
from .errors import (EXIT_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, EnvironmentProblem, UsageError)
from .results_db import ResultsDB
from .revision import current_revision, source_digest

__all__ = ["run_campaign", "CampaignOutcome", "add_arguments", "command", "execute_run", "JOBQUEUE",
           "DEFAULT_DB", "DEFAULT_ROOT"]

DEFAULT_ROOT = Path("runs/campaigns")
DEFAULT_DB = DEFAULT_ROOT / "results.sqlite"
#: --cluster KIND -> the dask-jobqueue class.
JOBQUEUE = {"slurm": "SLURMCluster", "sge": "SGECluster", "lsf": "LSFCluster", "pbs": "PBSCluster"}
#: Dask settings for a campaign: its housekeeping (the event-loop tick, the system monitor, the statistical
#: profiler sampling the task's thread, the nanny's memory poll) cost 8 % of a core in all (client and two
#: workers) while idle on the development machine, taken from the simulators; these bring it to 1.4 %.
DASK_CONFIG = {"distributed.admin.tick.interval": "1s", "distributed.admin.system-monitor.interval": "5s",
               "distributed.worker.profile.enabled": False, "distributed.worker.memory.monitor-interval": "1s"}
#: Folder (inside the campaign's) where each attempt of a run writes before it is kept or removed.
ATTEMPTS = ".attempts"


# --- on the workers -----------------------------------------------------------------------------------

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
                pass                                # another worker is writing it
            else:
                name = uuid.uuid4().hex[:16]
                with os.fdopen(fd, "w") as f:
                    f.write(name)
                return name
        time.sleep(0.05)
    raise EnvironmentProblem(f"{marker} stays empty")


def probe_worker() -> dict:
    """What the client needs to know about a worker (run on every worker)."""
    from .build import BUILD_ROOT
    return {"host": socket.gethostname(), "pid": os.getpid(), "fs": filesystem_id(BUILD_ROOT),
            "digest": worker_digest(), "build_root": str(BUILD_ROOT)}


def build_task(sim: str, config: dict) -> dict:
    """Build one configuration on this worker's file system (cached: a no-op when built)."""
    from hdl.config import SocConfig
    from .build import build_soc
    start = time.perf_counter()
    try:
        build = build_soc(sim, SocConfig(**config))
    except EnvironmentProblem:
        raise
    except Exception as exc:  # noqa: BLE001 - a simulator missing, a bad configuration: the campaign stops
        raise EnvironmentProblem(f"{type(exc).__name__}: {exc}") from None
    return {"host": socket.gethostname(), "directory": str(build.directory),
            "seconds": round(time.perf_counter() - start, 3)}


_DIGEST: list[str] = []


def worker_digest() -> str:
    """This worker's source digest, taken once: the code it imported when it started."""
    if not _DIGEST:
        _DIGEST.append(source_digest())
    return _DIGEST[0]


def run_task(specs: list[dict], folder: str, keep: str, digest: str) -> list[dict]:
    """Runs of the campaign, one after the other (a batch: usually one run)."""
    if worker_digest() != digest:
        result = error_result(EnvironmentProblem(f"worker {socket.gethostname()} runs other sources (digest "
                                                 f"{worker_digest()}, campaign {digest})"))
        return [{**result, "seed": spec["seed"], "seconds": 0.0, "out_dir": None, "worker": socket.gethostname(),
                 "attempt": 1} for spec in specs]
    return [execute_run(RunSpec.from_dict(spec), Path(folder), keep) for spec in specs]


def execute_run(spec: RunSpec, folder: Path, keep: str) -> dict:
    """Run ``spec`` into its own attempt folder; returns what the database records. Never raises: a run that
    cannot run or report is a result with status ``error``."""
    from .run import run_scenario
    attempts = folder / ATTEMPTS
    attempts.mkdir(parents=True, exist_ok=True)
    me = f"{socket.gethostname()}-{os.getpid()}"
    out = attempts / f"{spec.run_dir}.{me}"
    shutil.rmtree(out, ignore_errors=True)
    # A folder another process left for the same run is an attempt that died with its worker.
    earlier = sum(1 for _ in attempts.glob(f"{spec.run_dir}.*"))
    start = time.perf_counter()
    result = {"seed": spec.seed, "worker": me, "attempt": earlier + 1}
    try:
        code = run_scenario(spec.scenario, sim=spec.sim, seed=spec.seed, out=out, cpus=spec.cpus, cycles=spec.cycles,
                            fifo_depth=spec.fifo_depth, quiet=True,
                            faults="" if spec.faults == "none" else spec.faults, cost_model=spec.cost_model,
                            scenario_modules=spec.scenario_modules, ram_words=spec.ram_words, bug=spec.bug,
                            hw_coverage=spec.coverage)
        result.update(summarise_run(out, code, spec.coverage))
    except Exception as exc:            # noqa: BLE001 - whatever it was, the campaign records it and goes on
        result.update(error_result(exc))
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


def summarise_run(out: Path, code: int, coverage: bool) -> dict:
    """The small dict a run task returns, from the run's folder."""
    from .func_coverage import run_hits
    from .run_files import RunFiles
    from .shrink import failure_signature
    report = RunFiles(out).report()
    failed = [c["name"] for c in report["checks"] if not c["ok"]]
    if code == 0:
        status = "pass"
    elif report["outcome"] == "panic":
        status = "panic"
    elif report["outcome"] == "interrupted":
        status = "error"
    else:
        status = "fail"
    landings = {row["function"]: [sum(row["taken"]), sum(row["deferred"])]
                for row in report.get("interrupt_landings", [])}
    counters = {"sysctl": report.get("sysctl") or {}, "ipi": report.get("ipi"), "mplock": report.get("mplock"),
                "scoreboard": report.get("scoreboard") or {}, "shared_ram": report.get("shared_ram") or {},
                "faults": (report.get("faults") or {}).get("injected"), "landings": landings,
                "bus_transactions": report.get("bus_transactions")}
    signature = None
    if status != "pass":
        checks, panic = failure_signature(report)
        signature = [list(checks), panic]
    return {"status": status, "code": code, "outcome": report["outcome"], "checks": len(report["checks"]),
            "failed": failed, "panic": (report.get("panic") or {}).get("message"), "signature": signature,
            "counters": counters, "latencies": report.get("latency") or {}, "cycles": report.get("cycles"),
            "sim_seconds": report.get("wall_seconds"), "bins": sorted(run_hits(out)) if coverage else None}


def error_result(exc: BaseException) -> dict:
    """A run that could not run or report: recorded, and run again when the campaign is."""
    from .errors import EXIT_ENVIRONMENT, EXIT_USAGE
    kind = type(exc).__name__
    message = str(exc).splitlines()[0] if str(exc) else kind
    code = EXIT_USAGE if isinstance(exc, UsageError) else EXIT_ENVIRONMENT if isinstance(
        exc, EnvironmentProblem) else EXIT_FAILED
    return {"status": "error", "code": code, "outcome": "error", "checks": 0, "failed": [f"run error: {kind}"],
            "panic": None, "signature": [["run error"], f"{kind}: {re.sub(r'[0-9]+', '#', message)}"],
            "detail": message, "counters": {}, "latencies": {}, "cycles": None, "sim_seconds": None, "bins": None}


def shrink_task(spec: dict, target: list, budget: int, folder: str) -> dict:
    """Shrink the workload of one failing random seed; at most ``budget`` runs."""
    from .faults import parse_faults
    from .scenarios.random_workload import generate_spec
    from .shrink import shrink, spec_signature
    run = RunSpec.from_dict(spec)
    faults = "" if run.faults == "none" else run.faults
    workload = generate_spec(run.seed, run.cpus, parse_faults(faults))
    wanted = (tuple(target[0]), target[1])
    runs = 0

    def still_fails(candidate) -> bool:
        nonlocal runs
        if runs >= budget:
            return False
        runs += 1
        return spec_signature(candidate, run.seed, sim=run.sim, cpus=run.cpus, cycles=run.cycles,
                              fifo_depth=run.fifo_depth, faults=faults, cost_model=run.cost_model,
                              ram_words=run.ram_words, bug=run.bug,
                              scenario_modules=run.scenario_modules) == wanted

    smallest = shrink(workload, still_fails, log=lambda *_: None)
    out = Path(folder) / "shrinks" / f"{run.run_dir}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.json").write_text(smallest.to_json())
    return {"status": "shrunk" if smallest.size() < workload.size() else "not-smaller",
            "size_from": workload.size(), "size_to": smallest.size(), "runs": runs, "spec": smallest.to_json(),
            "spec_path": str(out / "spec.json")}


# --- the client ---------------------------------------------------------------------------------------

@dataclass
class CampaignOutcome:
    """What a campaign left: every run of it at this revision (recorded earlier or now)."""
    campaign: Campaign
    revision: object
    db_path: Path
    folder: Path
    results: list[dict] = field(default_factory=list)
    total: int = 0
    new: int = 0
    already: int = 0
    skipped: list[str] = field(default_factory=list)
    wall: float = 0.0
    exit_code: int = EXIT_OK
    shrinks: int = 0

    @property
    def counts(self) -> dict[str, int]:
        counts = {status: 0 for status in ("pass", "fail", "panic", "error")}
        for r in self.results:
            counts[r["status"]] += 1
        return counts


class _Stop(Exception):
    """SIGTERM while the campaign runs (SIGINT is KeyboardInterrupt)."""


class _Engine:
    """A Dask client and, when we started it, its cluster."""

    def __init__(self, client, cluster, description: str):
        self.client, self.cluster, self.description = client, cluster, description

    @property
    def dashboard(self) -> str:
        try:
            import bokeh  # noqa: F401  (the dashboard needs it)
        except ImportError:
            return "pip install bokeh"
        link = None
        try:
            if "dashboard" in self.client.scheduler_info().get("services", {}):
                link = self.client.dashboard_link
        except Exception:  # noqa: BLE001 - a dashboard we cannot name is no reason to stop
            link = None
        return link or "none on this scheduler"

    def threads(self) -> int:
        return sum(self.client.nthreads().values())

    def close(self) -> None:
        # Shutdown chatter of the workers (closed streams, heartbeats) is not the user's business.
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        try:
            self.client.close(timeout=20)
        except Exception:  # noqa: BLE001
            pass
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=20)
            except Exception:  # noqa: BLE001
                pass


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def open_engine(*, scheduler: str | None = None, cluster: str | None = None, workers: int | None = None,
                cluster_options: dict | None = None, connect_timeout: float = 30.0) -> _Engine:
    """Connect to a scheduler, start a jobqueue cluster, or start a LocalCluster on loopback."""
    logging.getLogger("distributed").setLevel(logging.ERROR)
    from distributed import Client
    if scheduler:
        address = scheduler_address(scheduler)
        try:
            client = Client(address, timeout=connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise EnvironmentProblem(f"cannot reach the Dask scheduler at {address} within {connect_timeout:g} s "
                                     f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") \
                from None
        return _Engine(client, None, f"scheduler {address}")
    if cluster:
        jq, jobs, maximum = jobqueue_cluster(cluster, cluster_options or {})
        submit = jq.job_cls.submit_command
        if shutil.which(submit) is None:        # else the jobs fail in the background and no worker comes
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
            jq.close()
            raise EnvironmentProblem(f"--cluster {cluster}: {submit} not found; run the campaign where jobs can "
                                     f"be submitted")
        if maximum:
            jq.adapt(minimum_jobs=jobs, maximum_jobs=maximum)
        else:
            jq.scale(jobs=jobs)
        return _Engine(Client(jq), jq, f"{cluster} through dask-jobqueue ({jobs} job(s)"
                                        + (f", up to {maximum}" if maximum else "") + ")")
    n = workers or default_workers()
    try:
        local = local_cluster(n)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot start a local Dask cluster ({exc})") from None
    return _Engine(Client(local), local, f"LocalCluster of {n} worker(s) on 127.0.0.1")


def scheduler_address(text: str) -> str:
    """``--scheduler`` as a Dask address (``tcp://`` when no protocol is given), or a usage error."""
    from distributed.comm.addressing import parse_address
    address = text if "://" in text else f"tcp://{text}"
    try:
        protocol, location = parse_address(address)
        if protocol in ("tcp", "tls") and not re.fullmatch(r"[^:\s]+:\d+|\[[0-9a-fA-F:]+\]:\d+", location):
            raise ValueError("expected HOST:PORT")
    except ValueError as exc:
        raise UsageError(f"--scheduler {text!r}: not a Dask scheduler address ({exc}); "
                         f"for example tcp://10.0.0.5:8786") from None
    return address


def local_cluster(workers: int, *, dashboard: bool | None = None):
    """A LocalCluster on loopback: one thread per worker process (each run is a simulator process of its own),
    the dashboard on a free port when bokeh is there (``dashboard`` None) or asked for."""
    from distributed import LocalCluster
    if dashboard is None:
        try:
            import bokeh  # noqa: F401
            dashboard = True
        except ImportError:
            dashboard = False
    # The scheduler's HTTP server (health, metrics) listens anyway: on loopback, on a free port.
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": dashboard},
                        silence_logs=logging.CRITICAL)


def jobqueue_cluster(kind: str, options: dict):
    """A dask-jobqueue cluster of ``kind`` (nothing submitted yet); ``jobs``/``maximum_jobs`` are ours."""
    if kind not in JOBQUEUE:
        raise UsageError(f"--cluster {kind!r}: one of {', '.join(JOBQUEUE)}")
    try:
        import dask_jobqueue
    except ImportError:
        raise EnvironmentProblem("--cluster needs dask-jobqueue: pip install 'lwkt-soc[cluster]'") from None
    options = dict(options)
    jobs = options.pop("jobs", 1)
    maximum = options.pop("maximum_jobs", None)
    if not isinstance(jobs, int) or jobs < 0 or (maximum is not None and (not isinstance(maximum, int)
                                                                          or maximum < jobs)):
        raise UsageError(f"--cluster {kind}: jobs must be an integer >= 0, and maximum_jobs one >= jobs")
    if "cores" in options and "processes" not in options:
        options["processes"] = options["cores"]     # a worker process per core, one run each
    try:
        cluster = getattr(dask_jobqueue, JOBQUEUE[kind])(**options)
    except (ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"--cluster {kind}: {' '.join(str(exc).split())}") from None
    return cluster, jobs, maximum


class Progress:
    """Runs done, failed and remaining, with an ETA: a bar on a terminal, a line every 10 % elsewhere."""

    def __init__(self, total: int, *, enabled: bool, stream=None):
        self.total, self.enabled = total, enabled and total > 0
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.start = time.monotonic()
        self.shown_tenth = -1
        self.last = 0.0

    def update(self, done: int, failed: int, extra: str = "", final: bool = False) -> None:
        if not self.enabled:
            return
        remaining = self.total - done
        elapsed = time.monotonic() - self.start
        eta = _duration(elapsed / done * remaining) if done else "?"
        text = f"{done}/{self.total} done, {failed} failed, {remaining} remaining, ETA {eta}{extra}"
        if self.tty:
            filled = int(30 * done / self.total)
            self.stream.write(f"\r  [{'#' * filled}{'.' * (30 - filled)}] {text}\033[K")
            if final:
                self.stream.write("\n")
            self.stream.flush()
            return
        tenth = 10 * done // self.total
        if final or tenth > self.shown_tenth and time.monotonic() - self.last > 1:
            self.shown_tenth, self.last = tenth, time.monotonic()
            print(f"  progress: {text}", file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"


class _CampaignLock:
    """One client per campaign folder at a time (a second is refused at once, naming the first)."""

    def __init__(self, folder: Path):
        self.path = folder / ".campaign.lock"
        self.file = None

    def __enter__(self):
        if self.path.parent.exists() and not self.path.parent.is_dir():
            raise UsageError(f"--out {self.path.parent}: is a file, not a folder")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(self.path, "a+")
        except OSError as exc:
            raise EnvironmentProblem(f"{self.path.parent}: cannot create or write the campaign folder "
                                     f"({exc.strerror or exc})") from None
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.file.seek(0)
            holder = self.file.read().strip() or "another client"
            self.file.close()
            raise UsageError(f"campaign folder {self.path.parent} is in use by a campaign still going ({holder})") \
                from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        self.file.flush()
        return self

    def __exit__(self, *exc):
        self.file.close()


def run_campaign(campaign: Campaign, *, db_path: Path = DEFAULT_DB, folder: Path | None = None,
                 scheduler: str | None = None, cluster: str | None = None, workers: int | None = None,
                 client=None, progress: bool = True, on_result=None, rerun: bool = False, say=print,
                 connect_timeout: float = 30.0, wait_workers: float | None = None) -> CampaignOutcome:
    """Run every run of ``campaign`` not yet recorded (every one with ``rerun``) and record it.

    ``folder`` is the campaign's folder (default ``runs/campaigns/<name>``); ``client`` an existing Dask
    client to use instead of starting one; ``on_result(result, spec, done, to_do)`` hears of each run as it is
    recorded.
    """
    started = time.perf_counter()
    expansion = campaign.expand()
    for why in expansion.skipped:
        say(f"left out: {why}")
    revision = current_revision()
    folder = Path(folder or DEFAULT_ROOT / campaign.name).resolve()
    outcome = CampaignOutcome(campaign, revision, Path(db_path), folder, skipped=expansion.skipped)
    with _CampaignLock(folder):
        db = ResultsDB(db_path)
        try:
            return _run_recorded(campaign, expansion, revision, db, outcome, started, scheduler=scheduler,
                                 cluster=cluster, workers=workers, client=client, progress=progress,
                                 on_result=on_result, rerun=rerun, say=say, connect_timeout=connect_timeout,
                                 wait_workers=wait_workers)
        except sqlite3.OperationalError as exc:     # disk full, a lock held too long, a file made read-only
            raise EnvironmentProblem(f"{db.path}: cannot write the results database ({exc})") from None
        finally:
            db.close()


def _run_recorded(campaign, expansion, revision, db, outcome, started, *, scheduler, cluster, workers, client,
                  progress, on_result, rerun, say, connect_timeout, wait_workers) -> CampaignOutcome:
    folder = outcome.folder
    keys = {spec: spec.run_key(revision.digest) for spec in expansion.runs}
    recorded = set() if rerun else db.recorded_keys(campaign.name, revision.digest)
    pending = [spec for spec in expansion.runs if keys[spec] not in recorded]
    outcome.total = len(expansion.runs)
    outcome.already = len(expansion.runs) - len(pending)
    say(f"campaign {campaign.name}: {len(expansion.runs)} runs in {len(expansion.configs)} configuration(s) "
        f"at {revision.label}: {outcome.already} already recorded, {len(pending)} to run")
    if pending:
        shutil.rmtree(folder / ATTEMPTS, ignore_errors=True)      # left by a client killed before
        outcome.exit_code = _execute(campaign, pending, keys, revision, db, outcome, scheduler=scheduler,
                                     cluster=cluster, workers=workers, client=client, progress=progress,
                                     on_result=on_result, rerun=rerun, say=say, connect_timeout=connect_timeout,
                                     wait_workers=wait_workers)
        shutil.rmtree(folder / ATTEMPTS, ignore_errors=True)
    outcome.results = campaign_results(db, campaign.name, revision.digest, set(keys.values()))
    outcome.wall = time.perf_counter() - started
    if outcome.exit_code == EXIT_OK and any(r["status"] != "pass" for r in outcome.results):
        outcome.exit_code = EXIT_FAILED
    return outcome


def _execute(*args, **kwargs) -> int:
    import dask
    import distributed  # noqa: F401  (its defaults must be loaded before they are overridden)
    with dask.config.set(DASK_CONFIG):          # the workers of a LocalCluster take it too (their nanny passes it)
        return _execute_on(*args, **kwargs)


def _execute_on(campaign, pending, keys, revision, db, outcome, *, scheduler, cluster, workers, client, progress,
                on_result, rerun, say, connect_timeout, wait_workers) -> int:
    from distributed import as_completed
    from distributed.scheduler import KilledWorker
    from .toolchain import SimulatorMissing

    engine = None
    if client is None:
        engine = open_engine(scheduler=scheduler, cluster=cluster, workers=workers,
                             cluster_options=campaign.cluster, connect_timeout=connect_timeout)
        client = engine.client
    else:
        engine = _Engine(client, None, "the given Dask client")
        engine.close = lambda: None              # not ours to close
    session = None
    previous = signal.getsignal(signal.SIGTERM) if _main_thread() else None
    status, exit_code = "done", EXIT_OK
    futures: dict[str, tuple] = {}           # key -> (kind, what, future)
    try:
        if _main_thread():
            signal.signal(signal.SIGTERM, _raise_stop)
        say(f"engine: {engine.description}; dashboard: {engine.dashboard}")
        timeout = wait_workers if wait_workers is not None else (900 if cluster else 120)
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, OSError):
            raise EnvironmentProblem(f"no Dask worker joined within {timeout:g} s ({engine.description})") from None
        probes = client.run(probe_worker)
        foreign = {addr: p for addr, p in probes.items() if p["digest"] != revision.digest}
        if foreign:
            addr, p = next(iter(foreign.items()))
            raise EnvironmentProblem(f"worker {addr} on {p['host']} runs other sources (digest {p['digest']}, here "
                                     f"{revision.digest}): install this checkout on every worker")
        session = db.start_session(campaign, revision, planned=len(pending), already=outcome.already,
                                   engine=engine.description, workers=len(probes))
        nonce = uuid.uuid4().hex[:8]
        builds = _submit_builds(client, pending, probes, nonce, futures)
        ac = as_completed([f for fs in builds.values() for f in fs])
        # A configuration's runs are submitted once its builds are done (not as Dask dependencies: those would
        # pin runs to the worker holding the build's result, and keep them from the scheduler's queue).
        waiting: dict[tuple, collections.deque] = {}
        for spec in pending:
            waiting.setdefault(_build_key(spec), collections.deque()).append(spec)
        builds_left = {key: len(fs) for key, fs in builds.items()}
        ready_keys: collections.deque = collections.deque()        # built configurations with runs left
        # Tasks in flight at once: enough to keep every worker busy, few enough that a campaign of 10^5 runs
        # never puts them all on the scheduler.
        window = max(32, 4 * max(1, engine.threads()))
        in_flight = 0
        shrinks_wanted = campaign.shrink
        seen_signatures = db.shrunk_signatures(campaign.name)
        bar = Progress(len(pending), enabled=progress)
        done = failed = 0

        def submit_more() -> None:
            nonlocal in_flight
            while in_flight < window and ready_keys:
                ready = waiting[ready_keys[0]]
                batch = [ready.popleft() for _ in range(min(campaign.batch, len(ready)))]
                if not ready:
                    ready_keys.popleft()
                future = client.submit(run_task, [spec.as_dict() for spec in batch], str(outcome.folder),
                                       campaign.keep, revision.digest, key=f"run-{keys[batch[0]][:16]}-{nonce}",
                                       pure=False)
                futures[future.key] = ("run", batch, future)
                ac.add(future)
                in_flight += 1

        submit_more()
        bar.update(0, 0)
        for future in ac:
            kind, what, _ = futures.pop(future.key, (None, None, None))
            if kind is None:
                continue
            if future.status != "finished":
                exc = _exception(future)
                if kind == "build" or isinstance(exc, (EnvironmentProblem, SimulatorMissing)):
                    host = what[0] if kind == "build" else "a worker"
                    raise EnvironmentProblem(f"a build for the campaign failed on {host}: {exc}")
                if kind == "shrink":
                    spec, signature = what
                    db.record_shrink(campaign.name, signature, spec, revision,
                                     {"status": "error", "detail": f"{type(exc).__name__}: {exc}"})
                    continue
                results = []
                for spec in what:
                    result = error_result(exc)
                    if isinstance(exc, KilledWorker):
                        result["detail"] = f"the run's task killed its worker too often ({exc})"
                    results.append({**result, "seed": spec.seed, "seconds": None, "out_dir": None, "worker": None,
                                    "attempt": 0})
            else:
                results = future.result()
            future.release()
            if kind == "build":
                builds_left[what[1]] -= 1
                if not builds_left[what[1]]:
                    ready_keys.append(what[1])
                    submit_more()
                continue
            if kind == "shrink":
                spec, signature = what
                db.record_shrink(campaign.name, signature, spec, revision, results)
                outcome.shrinks += 1
                say(f"shrunk seed {spec.seed} ({spec.label}): workload size {results['size_from']} -> "
                    f"{results['size_to']} in {results['runs']} runs")
                continue
            in_flight -= 1
            for spec, result in zip(what, results):
                if db.record(spec, revision, session, result, replace=rerun):
                    outcome.new += 1
                done += 1
                failed += result["status"] != "pass"
                if on_result is not None:
                    on_result(result, spec, done, len(pending))
                signature = json.dumps(result["signature"]) if result.get("signature") else None
                if (shrinks_wanted and signature and spec.scenario == "random"
                        and result["status"] in ("fail", "panic") and signature not in seen_signatures):
                    seen_signatures.add(signature)
                    shrink = client.submit(shrink_task, spec.as_dict(), result["signature"], campaign.shrink_runs,
                                           str(outcome.folder), key=f"shrink-{keys[spec][:16]}-{nonce}", pure=False)
                    futures[shrink.key] = ("shrink", (spec, result["signature"]), shrink)
                    ac.add(shrink)
            submit_more()
            shrinking = sum(1 for entry in futures.values() if entry[0] == "shrink")
            bar.update(done, failed, f"; shrinking {shrinking} signature(s)" if shrinking else "",
                       final=done == len(pending) and not shrinking)
        if outcome.shrinks:
            bar.update(done, failed, final=True)
    except KeyboardInterrupt:
        status, exit_code = "interrupted", EXIT_SIGINT
        say("\ninterrupted (SIGINT): the runs recorded so far are kept; run the campaign again to finish it")
    except _Stop:
        status, exit_code = "interrupted", EXIT_SIGTERM
        say("\ninterrupted (SIGTERM): the runs recorded so far are kept; run the campaign again to finish it")
    except BaseException:
        status = "error"
        raise
    finally:
        if _main_thread() and previous is not None:
            signal.signal(signal.SIGTERM, previous)
        try:
            if futures:
                client.cancel([entry[2] for entry in futures.values()], force=True)
        except Exception:  # noqa: BLE001 - the cluster is going away anyway
            pass
        if session is not None:
            db.finish_session(session, status)
        if engine is not None:
            engine.close()
    return exit_code


def _exception(future) -> BaseException:
    try:
        return future.exception()
    except BaseException as exc:  # noqa: BLE001 - a cancelled future raises instead of returning it
        return exc


def _build_key(spec: RunSpec) -> tuple:
    return spec.sim, spec.cpus, spec.fifo_depth, spec.ram_words


def _submit_builds(client, pending, probes: dict, nonce: str, futures: dict) -> dict:
    """One build task per configuration and worker file system, on a worker of that file system."""
    groups: dict[str, list[str]] = {}
    for address, probe in probes.items():
        groups.setdefault(probe["fs"], []).append(address)
    builds: dict[tuple, list] = {}
    for spec in pending:
        key = _build_key(spec)
        if key in builds:
            continue
        builds[key] = []
        sim, cpus, fifo, ram = key
        for fs, addresses in sorted(groups.items()):
            future = client.submit(build_task, sim, {"ncpu": cpus, "fifo_depth": fifo, "ram_words": ram},
                                   key=f"build-{sim}-c{cpus}-f{fifo}-r{ram}-{fs[:8]}-{nonce}", pure=False,
                                   workers=addresses, allow_other_workers=True)
            futures[future.key] = ("build", (probes[addresses[0]]["host"], key), future)
            builds[key].append(future)
    return builds


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_stop(signum, frame):
    raise _Stop()


def campaign_results(db: ResultsDB, campaign: str, digest: str, keys: set[str] | None = None) -> list[dict]:
    """Every recorded run of ``campaign`` at ``digest`` (only ``keys`` when given), as result dicts."""
    rows = db.rows("SELECT runs.*, configs.config FROM runs JOIN configs USING (config_id) WHERE campaign = ? "
                   "AND source_digest = ? ORDER BY config_id, seed", (campaign, digest))
    return [result_from_row(db, row) for row in rows if keys is None or row["run_key"] in keys]


def result_from_row(db: ResultsDB, row) -> dict:
    counters = json.loads(row["counters"] or "{}")
    return {"run_key": row["run_key"], "seed": row["seed"], "status": row["status"], "code": row["exit_code"],
            "outcome": row["outcome"], "checks": row["checks"] or 0, "failed": json.loads(row["failed_checks"]),
            "panic": row["panic"], "signature": json.loads(row["signature"]) if row["signature"] else None,
            "counters": counters, "landings": {f: tuple(v) for f, v in (counters.get("landings") or {}).items()},
            "scoreboard": counters.get("scoreboard") or {}, "shared_ram": counters.get("shared_ram") or {},
            "latencies": json.loads(row["latencies"] or "{}"), "bins": db.decode_bins(row["bins"]),
            "cycles": row["cycles"], "seconds": row["wall_seconds"], "out_dir": row["out_dir"],
            "config": json.loads(row["config"]), "config_id": row["config_id"], "attempt": row["attempt"],
            "worker": row["worker"]}


# --- the command --------------------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("campaign", nargs="?", metavar="CAMPAIGN.toml",
                   help="the campaign file (docs/campaigns.md); options below override its keys")
    p.add_argument("--name", help="campaign name (default: the file's name, or 'campaign')")
    p.add_argument("--scenarios", metavar="LIST", help="comma-separated scenario names")
    p.add_argument("--seeds", metavar="LIST", help="seeds and ranges, e.g. 1-40,50")
    p.add_argument("--cpus", metavar="LIST", help="CPU counts, e.g. 2,4 ('default': the scenario's)")
    p.add_argument("--fifo-depths", metavar="LIST", help="IPI FIFO depths, e.g. 8,32")
    p.add_argument("--faults", action="append", metavar="SET",
                   help="a fault set (none, all, or a comma-separated list); repeat for several sets")
    p.add_argument("--sims", metavar="LIST", help="simulators: verilator,icarus")
    p.add_argument("--cost-models", metavar="LIST", help="cost models: zero, default or JSON tables")
    p.add_argument("--coverage", action=argparse.BooleanOptionalAction, default=None,
                   help="record each run's functional coverage bins (hardware bins included)")
    p.add_argument("--cycles", type=int, metavar="C", help="cycle budget of every run (default: the scenario's)")
    p.add_argument("--keep", choices=KEEP, help="run folders to keep (default failed)")
    p.add_argument("--shrink", action=argparse.BooleanOptionalAction, default=None,
                   help="shrink one failing random seed per new failure signature (default on)")
    p.add_argument("--shrink-runs", type=int, metavar="N", help="at most N runs per shrink (default 40)")
    p.add_argument("--batch", type=int, metavar="N", help="runs per Dask task (default 1; see docs/campaigns.md)")
    p.add_argument("--spread", action=argparse.BooleanOptionalAction, default=None,
                   help="deal the seeds out over the configurations (one run per seed) instead of running "
                        "every seed on every configuration")
    p.add_argument("--plant-bug", metavar="NAME", help="tests only: a planted scheduling bug in every run")
    p.add_argument("--scenario-module", action="append", metavar="MODULE",
                   help="tests only: import MODULE to register more scenarios")
    p.add_argument("--db", default=str(DEFAULT_DB), metavar="FILE",
                   help=f"results database (default {DEFAULT_DB})")
    p.add_argument("--out", metavar="DIR", help=f"campaign folder (default {DEFAULT_ROOT}/<name>)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, metavar="N",
                       help=f"LocalCluster worker processes (default: this machine's cores, {default_workers()})")
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://host:8786")
    where.add_argument("--cluster", choices=sorted(JOBQUEUE), help="a batch system through dask-jobqueue")
    p.add_argument("--cluster-option", action="append", metavar="KEY=VALUE", default=[],
                   help="a dask-jobqueue option (value in TOML syntax), over the file's [cluster] table")
    p.add_argument("--print-job-script", action="store_true",
                   help="with --cluster: print the job script dask-jobqueue would submit, and stop")
    p.add_argument("--connect-timeout", type=float, default=30.0, metavar="S",
                   help="seconds to reach --scheduler (default 30)")
    p.add_argument("--wait-workers", type=float, default=None, metavar="S",
                   help="seconds to wait for the first worker (default 120; 900 with --cluster)")
    p.add_argument("--rerun", action="store_true", help="run again what is recorded already (and replace it)")
    p.add_argument("--dry-run", action="store_true", help="list the configurations and the runs to do, and stop")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [item.strip() for item in text.split(",") if item.strip()]


def _ints(key: str, text: str | None, allow_default: bool = False) -> list | None:
    items = _split(text)
    if items is None:
        return None
    result = []
    for item in items:
        if allow_default and item == "default":
            result.append(item)
        elif re.fullmatch(r"\d+", item):
            result.append(int(item))
        else:
            raise UsageError(f"--{key}: {item!r} is not a number")
    return result


def _cluster_options(pairs: list[str]) -> dict:
    import tomllib
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--cluster-option {pair!r}: expected KEY=VALUE")
        try:
            options[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            options[key.strip()] = value           # a bare word: a string
    return options


def campaign_from_args(args) -> Campaign:
    overrides = {
        "name": args.name, "scenarios": _split(args.scenarios), "seeds": args.seeds,
        "cpus": _ints("cpus", args.cpus, allow_default=True), "fifo_depths": _ints("fifo-depths", args.fifo_depths),
        "faults": args.faults, "sims": _split(args.sims), "cost_models": _split(args.cost_models),
        "coverage": args.coverage, "cycles": args.cycles, "keep": args.keep, "shrink": args.shrink,
        "shrink_runs": args.shrink_runs, "batch": args.batch, "spread": args.spread, "plant_bug": args.plant_bug, "scenario_modules": args.scenario_module,
    }
    campaign = load_campaign(args.campaign, overrides)
    if args.cluster_option:
        campaign = Campaign(**{**campaign.__dict__, "cluster": {**campaign.cluster,
                                                                **_cluster_options(args.cluster_option)}})
    return campaign


def command(args) -> int:
    """``lwkt-soc regress``."""
    campaign = campaign_from_args(args)
    if args.print_job_script:
        if not args.cluster:
            raise UsageError("--print-job-script needs --cluster slurm|sge|lsf|pbs")
        jq, _, _ = jobqueue_cluster(args.cluster, campaign.cluster)
        try:
            print(jq.job_script())
        finally:
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
            jq.close()
        return EXIT_OK
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: must be at least 1")
    if args.scheduler:
        scheduler_address(args.scheduler)          # a malformed address fails before anything is made
    if args.dry_run:
        expansion = campaign.expand()
        for why in expansion.skipped:
            print(f"left out: {why}")
        for config_id, spec in expansion.configs.items():
            print(f"  {config_id}  {spec.label}")
        print(f"campaign {campaign.name}: {len(expansion.runs)} runs in {len(expansion.configs)} configuration(s)")
        return EXIT_OK
    outcome = run_campaign(campaign, db_path=Path(args.db), folder=Path(args.out) if args.out else None,
                           scheduler=args.scheduler, cluster=args.cluster, workers=args.workers,
                           progress=not args.no_progress, connect_timeout=args.connect_timeout,
                           wait_workers=args.wait_workers)
    print_summary(outcome, db_arg=args.db)
    return outcome.exit_code


def print_summary(outcome: CampaignOutcome, *, db_arg: str | None = None) -> None:
    from .shrink import command_name
    counts = outcome.counts
    total = len(outcome.results)
    runs = f"{total} runs" if total == outcome.total else f"{total} of {outcome.total} runs recorded"
    print(f"\ncampaign {outcome.campaign.name} at {outcome.revision.label}: {runs}: {counts['pass']} pass, "
          f"{counts['fail']} fail, {counts['panic']} panic, {counts['error']} error ({outcome.new} recorded now, "
          f"{outcome.already} before) in {outcome.wall:.1f} s")
    signatures = {json.dumps(r["signature"]) for r in outcome.results if r["signature"]}
    if signatures:
        print(f"failure signatures: {len(signatures)}; shrunk now: {outcome.shrinks}")
    db = db_arg or str(outcome.db_path)
    print(f"results: {outcome.db_path}; {command_name()} results --db {db} --campaign {outcome.campaign.name}")
    if any(r["out_dir"] for r in outcome.results):
        print(f"run folders kept in {outcome.folder}")
