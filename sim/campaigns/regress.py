"""The client of a campaign: expand it, skip what is recorded, submit builds and runs to the engine
(``engine``) as Dask tasks (``tasks``), record each result as it completes, shrink new failures,
show progress, and stop cleanly on a signal. ``lwkt-soc regress`` (``command``) calls
:func:`run_campaign`."""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import socket
import sqlite3
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sim.campaigns.campaign import Campaign, Expansion, RunSpec
from sim.contract.errors import EXIT_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, EnvironmentProblem, UsageError
from sim.campaigns.results_db import ResultsDB
from sim.campaigns.revision import current_revision
from sim.campaigns.engine import DASK_CONFIG, Engine, open_engine, require_dask
from sim.contract.outdir import FileLock
from sim.reports.progress import ProgressDisplay
from sim.campaigns.tasks import ATTEMPTS, build_task, error_result, probe_worker, run_task, shrink_task, stop_runs

__all__ = [
    "run_campaign",
    "CampaignOutcome",
    "campaign_results",
    "result_from_row",
    "Progress",
    "DEFAULT_DB",
    "DEFAULT_ROOT",
]

DEFAULT_ROOT = Path("runs/campaigns")
DEFAULT_DB = DEFAULT_ROOT / "results.sqlite"


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


class Progress:
    """Runs done, failed and remaining, with an ETA (sim/reports/progress.py draws it)."""

    def __init__(self, total: int, *, enabled: bool, stream=None):
        self.total = total
        self.display = ProgressDisplay(total, enabled=enabled, stream=stream)

    def update(self, done: int, failed: int, extra: str = "", final: bool = False) -> None:
        text = (
            f"{done}/{self.total} done, {failed} failed, {self.total - done} remaining, "
            f"ETA {self.display.eta(done)}{extra}"
        )
        self.display.show(done, text, text, final=final)


class _CampaignLock:
    """One client per campaign folder at a time (a second is refused at once, naming the first)."""

    def __init__(self, folder: Path):
        self.path = folder / ".campaign.lock"
        self.lock = FileLock(self.path)

    def __enter__(self):
        if self.path.parent.exists() and not self.path.parent.is_dir():
            raise UsageError(f"--out {self.path.parent}: is a file, not a folder")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            holder = self.lock.acquire(f"pid {os.getpid()} on {socket.gethostname()}")
        except OSError as exc:
            raise EnvironmentProblem(
                f"{self.path.parent}: cannot create or write the campaign folder ({exc.strerror or exc})"
            ) from None
        if holder is not None:
            raise UsageError(f"campaign folder {self.path.parent} is in use by a campaign still going ({holder})")
        return self

    def __exit__(self, *exc):
        self.lock.release()


def run_campaign(
    campaign: Campaign,
    *,
    db_path: Path = DEFAULT_DB,
    folder: Path | None = None,
    scheduler: str | None = None,
    cluster: str | None = None,
    workers: int | None = None,
    client=None,
    progress: bool = True,
    on_result=None,
    rerun: bool = False,
    say=print,
    connect_timeout: float = 30.0,
    wait_workers: float | None = None,
    expansion: Expansion | None = None,
) -> CampaignOutcome:
    """Run every run of ``campaign`` not yet recorded (every one with ``rerun``) and record it.

    ``folder`` is the campaign's folder (default ``runs/campaigns/<name>``); ``client`` an existing Dask
    client to use instead of starting one; ``on_result(result, spec, done, to_do)`` hears of each run as it is
    recorded. ``expansion`` gives the runs when they are not the product of the campaign's lists (make
    mutants' kill suites); they run in its order as far as the workers and the builds allow.
    """
    started = time.perf_counter()
    require_dask()
    expansion = expansion or campaign.expand()
    for why in expansion.skipped:
        say(f"left out: {why}")
    revision = current_revision()
    folder = Path(folder or DEFAULT_ROOT / campaign.name).resolve()
    outcome = CampaignOutcome(campaign, revision, Path(db_path), folder, skipped=expansion.skipped)
    with _CampaignLock(folder):
        db = ResultsDB(db_path)
        try:
            return _run_recorded(
                campaign,
                expansion,
                revision,
                db,
                outcome,
                started,
                scheduler=scheduler,
                cluster=cluster,
                workers=workers,
                client=client,
                progress=progress,
                on_result=on_result,
                rerun=rerun,
                say=say,
                connect_timeout=connect_timeout,
                wait_workers=wait_workers,
            )
        except sqlite3.OperationalError as exc:  # disk full, a lock held too long, a file made read-only
            raise EnvironmentProblem(f"{db.path}: cannot write the results database ({exc})") from None
        finally:
            db.close()


def _run_recorded(
    campaign,
    expansion,
    revision,
    db,
    outcome,
    started,
    *,
    scheduler,
    cluster,
    workers,
    client,
    progress,
    on_result,
    rerun,
    say,
    connect_timeout,
    wait_workers,
) -> CampaignOutcome:
    folder = outcome.folder
    keys = {spec: spec.run_key(revision.digest) for spec in expansion.runs}
    recorded = set() if rerun else db.recorded_keys(campaign.name, revision.digest)
    pending = [spec for spec in expansion.runs if keys[spec] not in recorded]
    if campaign.stop_mutant_at_failure and pending:
        failed = db.failed_keys(campaign.name, revision.digest)
        killed = {spec.mutant for spec in expansion.runs if keys[spec] in failed}
        pending = [spec for spec in pending if spec.mutant not in killed]
    outcome.total = len(expansion.runs)
    outcome.already = len(expansion.runs) - len(pending)
    say(
        f"campaign {campaign.name}: {len(expansion.runs)} runs in {len(expansion.configs)} configuration(s) "
        f"at {revision.label}: {outcome.already} already recorded"
        + (" or moot (their mutant is killed)" if campaign.stop_mutant_at_failure else "")
        + f", {len(pending)} to run"
    )
    if pending:
        shutil.rmtree(folder / ATTEMPTS, ignore_errors=True)  # left by a client killed before
        outcome.exit_code = _execute(
            campaign,
            pending,
            keys,
            revision,
            db,
            outcome,
            scheduler=scheduler,
            cluster=cluster,
            workers=workers,
            client=client,
            progress=progress,
            on_result=on_result,
            rerun=rerun,
            say=say,
            connect_timeout=connect_timeout,
            wait_workers=wait_workers,
        )
        shutil.rmtree(folder / ATTEMPTS, ignore_errors=True)
    outcome.results = campaign_results(db, campaign.name, revision.digest, set(keys.values()))
    outcome.wall = time.perf_counter() - started
    if outcome.exit_code == EXIT_OK and any(r["status"] != "pass" for r in outcome.results):
        outcome.exit_code = EXIT_FAILED
    return outcome


def _execute(*args, **kwargs) -> int:
    import dask
    import distributed  # noqa: F401  (its defaults must be loaded before they are overridden)

    with dask.config.set(DASK_CONFIG):  # the workers of a LocalCluster take it too (their nanny passes it)
        return _execute_on(*args, **kwargs)


def _execute_on(
    campaign,
    pending,
    keys,
    revision,
    db,
    outcome,
    *,
    scheduler,
    cluster,
    workers,
    client,
    progress,
    on_result,
    rerun,
    say,
    connect_timeout,
    wait_workers,
) -> int:
    from distributed import as_completed
    from distributed.scheduler import KilledWorker
    from sim.host.toolchain import SimulatorMissing

    engine = None
    if client is None:
        engine = open_engine(
            scheduler=scheduler,
            cluster=cluster,
            workers=workers,
            cluster_options=campaign.cluster,
            connect_timeout=connect_timeout,
        )
        client = engine.client
    else:
        engine = Engine(client, None, "the given Dask client")
        engine.close = lambda: None  # not ours to close
    session = None
    previous = signal.getsignal(signal.SIGTERM) if _main_thread() else None
    status, exit_code = "done", EXIT_OK
    futures: dict[str, tuple] = {}  # key -> (kind, what, future)
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
            raise EnvironmentProblem(
                f"worker {addr} on {p['host']} runs other sources (digest {p['digest']}, here "
                f"{revision.digest}): install this checkout on every worker"
            )
        session = db.start_session(
            campaign,
            revision,
            planned=len(pending),
            already=outcome.already,
            engine=engine.description,
            workers=len(probes),
        )
        nonce = uuid.uuid4().hex[:8]
        builds = _submit_builds(client, pending, probes, nonce, futures)
        ac = as_completed([f for fs in builds.values() for f in fs])
        # A configuration's runs are submitted once its builds are done (not as Dask dependencies: those would
        # pin runs to the worker holding the build's result, and keep them from the scheduler's queue). Among
        # the built configurations, runs go in the expansion's order (a kill suite's cheapest runs first).
        order = {spec: index for index, spec in enumerate(pending)}
        waiting: dict[tuple, collections.deque] = {}
        for spec in pending:
            waiting.setdefault(_build_key(spec), collections.deque()).append(spec)
        builds_left = {key: len(fs) for key, fs in builds.items()}
        ready_keys: list = [key for key in waiting if key not in builds]  # built configurations with runs left
        # Tasks in flight at once: enough to keep every worker busy, few enough that a campaign of 10^5 runs
        # never puts them all on the scheduler.
        window = max(32, 4 * max(1, engine.threads()))
        in_flight = 0
        shrinks_wanted = campaign.shrink
        seen_signatures = db.shrunk_signatures(campaign.name)
        bar = Progress(len(pending), enabled=progress)
        done = failed = dropped = 0

        def submit_more() -> None:
            nonlocal in_flight
            while in_flight < window:
                ready_keys[:] = [key for key in ready_keys if waiting[key]]
                if not ready_keys:
                    return
                ready = waiting[min(ready_keys, key=lambda key: order[waiting[key][0]])]
                batch = [ready.popleft() for _ in range(min(campaign.batch, len(ready)))]
                future = client.submit(
                    run_task,
                    [spec.as_dict() for spec in batch],
                    str(outcome.folder),
                    campaign.keep,
                    revision.digest,
                    campaign.run_wall_limit,
                    key=f"run-{keys[batch[0]][:16]}-{nonce}",
                    pure=False,
                )
                futures[future.key] = ("run", batch, future)
                ac.add(future)
                in_flight += 1

        def drop_mutant(mutant) -> None:
            """The first failure of a mutant kills it: its runs not yet done are not needed."""
            nonlocal in_flight, dropped
            for queue in waiting.values():
                keep = [spec for spec in queue if spec.mutant != mutant]
                dropped += len(queue) - len(keep)
                queue.clear()
                queue.extend(keep)
            for key, (kind, what, future) in list(futures.items()):
                if kind == "run" and all(spec.mutant == mutant for spec in what):
                    del futures[key]
                    future.cancel()
                    in_flight -= 1
                    dropped += len(what)

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
                    db.record_shrink(
                        campaign.name,
                        signature,
                        spec,
                        revision,
                        {"status": "error", "detail": f"{type(exc).__name__}: {exc}"},
                    )
                    continue
                results = []
                for spec in what:
                    result = error_result(exc)
                    if isinstance(exc, KilledWorker):
                        result["detail"] = f"the run's task killed its worker too often ({exc})"
                    results.append(
                        {
                            **result,
                            "seed": spec.run.seed,
                            "seconds": None,
                            "out_dir": None,
                            "worker": None,
                            "attempt": 0,
                        }
                    )
            else:
                results = future.result()
            future.release()
            if kind == "build":
                builds_left[what[1]] -= 1
                if not builds_left[what[1]] and what[1] in waiting:
                    ready_keys.append(what[1])
                    submit_more()
                continue
            if kind == "shrink":
                spec, signature = what
                db.record_shrink(campaign.name, signature, spec, revision, results)
                outcome.shrinks += 1
                say(
                    f"shrunk seed {spec.run.seed} ({spec.label}): workload size {results['size_from']} -> "
                    f"{results['size_to']} in {results['runs']} runs"
                )
                continue
            in_flight -= 1
            for spec, result in zip(what, results, strict=True):
                if db.record(spec, revision, session, result, replace=rerun):
                    outcome.new += 1
                done += 1
                failed += result["status"] != "pass"
                if on_result is not None:
                    on_result(result, spec, done, len(pending))
                if campaign.stop_mutant_at_failure and result["status"] in ("fail", "panic", "error"):
                    drop_mutant(spec.mutant)  # a crash kills a mutant too (mutants.judge)
                signature = json.dumps(result["signature"]) if result.get("signature") else None
                if (
                    shrinks_wanted
                    and signature
                    and spec.run.scenario == "random"
                    and result["status"] in ("fail", "panic")
                    and signature not in seen_signatures
                ):
                    seen_signatures.add(signature)
                    shrink = client.submit(
                        shrink_task,
                        spec.as_dict(),
                        result["signature"],
                        campaign.shrink_runs,
                        str(outcome.folder),
                        key=f"shrink-{keys[spec][:16]}-{nonce}",
                        pure=False,
                    )
                    futures[shrink.key] = ("shrink", (spec, result["signature"]), shrink)
                    ac.add(shrink)
            submit_more()
            shrinking = sum(1 for entry in futures.values() if entry[0] == "shrink")
            bar.update(
                done + dropped,
                failed,
                (f"; shrinking {shrinking} signature(s)" if shrinking else "")
                + (f"; {dropped} not needed (their mutant is killed)" if dropped else ""),
                final=done + dropped == len(pending) and not shrinking,
            )
        if outcome.shrinks:
            bar.update(done + dropped, failed, final=True)
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
            if status != "done" and engine is not None and engine.cluster is not None:
                # Cancelling a task does not stop its simulator: on workers we started, stop them, so that
                # none outlives the campaign (a shared scheduler's workers are not ours to clean).
                client.run(stop_runs)
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


def _build_key(spec: RunSpec) -> tuple | None:
    """The build a run needs: (simulator, SocConfig, Verilator coverage build); None for the RTL's unit
    tests, which need none."""
    run = spec.run
    if run.kind == "unit":
        return None
    return run.sim, run.soc_config(), run.rtl_coverage


def _submit_builds(client, pending, probes: dict, nonce: str, futures: dict) -> dict:
    """One build task per configuration and worker file system, on a worker of that file system."""
    groups: dict[str, list[str]] = {}
    for address, probe in probes.items():
        groups.setdefault(probe["fs"], []).append(address)
    builds: dict[tuple, list] = {}
    for spec in pending:
        key = _build_key(spec)
        if key is None or key in builds:
            continue
        builds[key] = []
        sim, soc, coverage = key
        for fs, addresses in sorted(groups.items()):
            future = client.submit(
                build_task,
                sim,
                asdict(soc),
                coverage,
                key=f"build-{sim}-{soc.slug}{'-cov' if coverage else ''}-{fs[:8]}-{nonce}",
                pure=False,
                workers=addresses,
                allow_other_workers=True,
            )
            futures[future.key] = ("build", (probes[addresses[0]]["host"], key), future)
            builds[key].append(future)
    return builds


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise_stop(signum, frame):
    raise _Stop()


def campaign_results(db: ResultsDB, campaign: str, digest: str, keys: set[str] | None = None) -> list[dict]:
    """Every recorded run of ``campaign`` at ``digest`` (only ``keys`` when given), as result dicts."""
    rows = db.rows(
        "SELECT runs.*, configs.config FROM runs JOIN configs USING (config_id) WHERE campaign = ? "
        "AND source_digest = ? ORDER BY config_id, seed",
        (campaign, digest),
    )
    return [result_from_row(db, row) for row in rows if keys is None or row["run_key"] in keys]


def result_from_row(db: ResultsDB, row) -> dict:
    counters = json.loads(row["counters"] or "{}")
    return {
        "run_key": row["run_key"],
        "seed": row["seed"],
        "status": row["status"],
        "code": row["exit_code"],
        "outcome": row["outcome"],
        "checks": row["checks"] or 0,
        "failed": json.loads(row["failed_checks"]),
        "panic": row["panic"],
        "signature": json.loads(row["signature"]) if row["signature"] else None,
        "counters": counters,
        "landings": {f: tuple(v) for f, v in (counters.get("landings") or {}).items()},
        "scoreboard": counters.get("scoreboard") or {},
        "shared_ram": counters.get("shared_ram") or {},
        "latencies": json.loads(row["latencies"] or "{}"),
        "bins": db.decode_bins(row["bins"]),
        "cycles": row["cycles"],
        "seconds": row["wall_seconds"],
        "out_dir": row["out_dir"],
        "config": json.loads(row["config"]),
        "config_id": row["config_id"],
        "attempt": row["attempt"],
        "worker": row["worker"],
    }
