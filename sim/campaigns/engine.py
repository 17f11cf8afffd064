"""Where a campaign's runs execute: a Dask scheduler to connect to, a batch system through
dask-jobqueue, or a LocalCluster on loopback; the Dask settings that keep an idle engine cheap."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil

from sim.contract.errors import EnvironmentProblem, UsageError

__all__ = [
    "Engine",
    "open_engine",
    "local_cluster",
    "jobqueue_cluster",
    "require_dask",
    "scheduler_address",
    "default_workers",
    "JOBQUEUE",
    "require_dask",
    "DASK_CONFIG",
]

#: --cluster KIND -> the dask-jobqueue class.
JOBQUEUE = {"slurm": "SLURMCluster", "sge": "SGECluster", "lsf": "LSFCluster", "pbs": "PBSCluster"}
#: Dask settings for a campaign: its housekeeping (the event-loop tick, the system monitor, the statistical
#: profiler sampling the task's thread, the nanny's memory poll) cost 8 % of a core in all (client and two
#: workers) while idle on the development machine, taken from the simulators; these bring it to 1.4 %.
DASK_CONFIG = {
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.profile.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
}


class Engine:
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


def require_dask() -> None:
    """Campaigns run on Dask, an extra of the package: a clear error where it is not installed."""
    if importlib.util.find_spec("distributed") is None:
        raise EnvironmentProblem(
            "campaigns run on Dask, which is not installed: pip install 'lwkt-soc[campaigns]' "
            "(make regress and make stress install it)"
        )


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def open_engine(
    *,
    scheduler: str | None = None,
    cluster: str | None = None,
    workers: int | None = None,
    cluster_options: dict | None = None,
    connect_timeout: float = 30.0,
) -> Engine:
    """Connect to a scheduler, start a jobqueue cluster, or start a LocalCluster on loopback."""
    logging.getLogger("distributed").setLevel(logging.ERROR)
    from distributed import Client

    if scheduler:
        address = scheduler_address(scheduler)
        try:
            client = Client(address, timeout=connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise EnvironmentProblem(
                f"cannot reach the Dask scheduler at {address} within {connect_timeout:g} s "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
            ) from None
        return Engine(client, None, f"scheduler {address}")
    if cluster:
        jq, jobs, maximum = jobqueue_cluster(cluster, cluster_options or {})
        submit = jq.job_cls.submit_command
        if shutil.which(submit) is None:  # else the jobs fail in the background and no worker comes
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
            jq.close()
            raise EnvironmentProblem(
                f"--cluster {cluster}: {submit} not found; run the campaign where jobs can be submitted"
            )
        if maximum:
            jq.adapt(minimum_jobs=jobs, maximum_jobs=maximum)
        else:
            jq.scale(jobs=jobs)
        return Engine(
            Client(jq),
            jq,
            f"{cluster} through dask-jobqueue ({jobs} job(s)" + (f", up to {maximum}" if maximum else "") + ")",
        )
    n = workers or default_workers()
    try:
        local = local_cluster(n)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot start a local Dask cluster ({exc})") from None
    return Engine(Client(local), local, f"LocalCluster of {n} worker(s) on 127.0.0.1")


def scheduler_address(text: str) -> str:
    """``--scheduler`` as a Dask address (``tcp://`` when no protocol is given), or a usage error."""
    from distributed.comm.addressing import parse_address

    address = text if "://" in text else f"tcp://{text}"
    try:
        protocol, location = parse_address(address)
        if protocol in ("tcp", "tls") and not re.fullmatch(r"[^:\s]+:\d+|\[[0-9a-fA-F:]+\]:\d+", location):
            raise ValueError("expected HOST:PORT")
    except ValueError as exc:
        raise UsageError(
            f"--scheduler {text!r}: not a Dask scheduler address ({exc}); for example tcp://10.0.0.5:8786"
        ) from None
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
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"dashboard": dashboard},
        silence_logs=logging.CRITICAL,
    )


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
    if (
        not isinstance(jobs, int)
        or jobs < 0
        or (maximum is not None and (not isinstance(maximum, int) or maximum < jobs))
    ):
        raise UsageError(f"--cluster {kind}: jobs must be an integer >= 0, and maximum_jobs one >= jobs")
    if "cores" in options and "processes" not in options:
        options["processes"] = options["cores"]  # a worker process per core, one run each
    try:
        cluster = getattr(dask_jobqueue, JOBQUEUE[kind])(**options)
    except (ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"--cluster {kind}: {' '.join(str(exc).split())}") from None
    return cluster, jobs, maximum
