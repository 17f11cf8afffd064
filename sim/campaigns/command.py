"""``lwkt-soc regress``: run a campaign on Dask and record every run in the results database.

    lwkt-soc regress nightly.toml                       # a LocalCluster sized to this machine
    lwkt-soc regress nightly.toml --scheduler tcp://host:8786
    lwkt-soc regress nightly.toml --cluster slurm --cluster-option cores=8 --cluster-option memory=16GB

Each run is one Dask task that calls ``run_scenario`` in the worker process, into its own
folder, and returns a small dict; the client writes it to the results database
(``sim/campaigns/results_db.py``) as each task completes, keyed by the run key, so a run is
recorded once however often Dask ran it, a client killed at any point loses only
runs not yet written, and a campaign run again skips what is recorded for the same
sources. Each configuration is built once per worker file system by a build task
before its runs (the build cache and its lock in ``sim/host/build.py`` stay the
mechanism: a worker that joins later builds on first use). One seed of each new
failure signature of a random workload is shrunk by a Dask task too.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from pathlib import Path

from sim.campaigns.campaign import KEEP, Campaign, load_campaign
from sim.contract.config import SIMULATORS
from sim.contract.errors import EXIT_OK, UsageError
from sim.campaigns.engine import JOBQUEUE, default_workers, jobqueue_cluster, scheduler_address
from sim.campaigns.regress import DEFAULT_DB, DEFAULT_ROOT, CampaignOutcome, run_campaign

__all__ = ["add_arguments", "command", "print_summary"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "campaign",
        nargs="?",
        metavar="CAMPAIGN.toml",
        help="the campaign file (docs/campaigns.md); options below override its keys",
    )
    p.add_argument("--name", help="campaign name (default: the file's name, or 'campaign')")
    p.add_argument("--scenarios", metavar="LIST", help="comma-separated scenario names")
    p.add_argument("--seeds", metavar="LIST", help="seeds and ranges, e.g. 1-40,50")
    p.add_argument("--cpus", metavar="LIST", help="CPU counts, e.g. 2,4 ('default': the scenario's)")
    p.add_argument("--fifo-depths", metavar="LIST", help="IPI FIFO depths, e.g. 8,32")
    p.add_argument(
        "--faults",
        action="append",
        metavar="SET",
        help="a fault set (none, all, or a comma-separated list); repeat for several sets",
    )
    p.add_argument("--sims", metavar="LIST", help=f"simulators: {','.join(SIMULATORS)}")
    p.add_argument("--cost-models", metavar="LIST", help="cost models: zero, default or JSON tables")
    p.add_argument(
        "--coverage",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="record each run's functional coverage bins (hardware bins included)",
    )
    p.add_argument("--cycles", type=int, metavar="C", help="cycle budget of every run (default: the scenario's)")
    p.add_argument("--keep", choices=KEEP, help="run folders to keep (default failed)")
    p.add_argument(
        "--shrink",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="shrink one failing random seed per new failure signature (default on)",
    )
    p.add_argument("--shrink-runs", type=int, metavar="N", help="at most N runs per shrink (default 40)")
    p.add_argument("--batch", type=int, metavar="N", help="runs per Dask task (default 1; see docs/campaigns.md)")
    p.add_argument(
        "--spread",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="deal the seeds out over the configurations (one run per seed) instead of running "
        "every seed on every configuration",
    )
    p.add_argument("--plant-bug", metavar="NAME", help="tests only: a planted scheduling bug in every run")
    p.add_argument(
        "--scenario-module",
        action="append",
        metavar="MODULE",
        help="tests only: import MODULE to register more scenarios",
    )
    p.add_argument("--db", default=str(DEFAULT_DB), metavar="FILE", help=f"results database (default {DEFAULT_DB})")
    p.add_argument("--out", metavar="DIR", help=f"campaign folder (default {DEFAULT_ROOT}/<name>)")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help=f"LocalCluster worker processes (default: this machine's cores, {default_workers()})",
    )
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://host:8786")
    where.add_argument("--cluster", choices=sorted(JOBQUEUE), help="a batch system through dask-jobqueue")
    p.add_argument(
        "--cluster-option",
        action="append",
        metavar="KEY=VALUE",
        default=[],
        help="a dask-jobqueue option (value in TOML syntax), over the file's [cluster] table",
    )
    p.add_argument(
        "--print-job-script",
        action="store_true",
        help="with --cluster: print the job script dask-jobqueue would submit, and stop",
    )
    p.add_argument(
        "--connect-timeout", type=float, default=30.0, metavar="S", help="seconds to reach --scheduler (default 30)"
    )
    p.add_argument(
        "--wait-workers",
        type=float,
        default=None,
        metavar="S",
        help="seconds to wait for the first worker (default 120; 900 with --cluster)",
    )
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
            options[key.strip()] = value  # a bare word: a string
    return options


def campaign_from_args(args) -> Campaign:
    overrides = {
        "name": args.name,
        "scenarios": _split(args.scenarios),
        "seeds": args.seeds,
        "cpus": _ints("cpus", args.cpus, allow_default=True),
        "fifo_depths": _ints("fifo-depths", args.fifo_depths),
        "faults": args.faults,
        "sims": _split(args.sims),
        "cost_models": _split(args.cost_models),
        "coverage": args.coverage,
        "cycles": args.cycles,
        "keep": args.keep,
        "shrink": args.shrink,
        "shrink_runs": args.shrink_runs,
        "batch": args.batch,
        "spread": args.spread,
        "plant_bug": args.plant_bug,
        "scenario_modules": args.scenario_module,
    }
    campaign = load_campaign(args.campaign, overrides)
    if args.cluster_option:
        campaign = Campaign(
            **{**campaign.__dict__, "cluster": {**campaign.cluster, **_cluster_options(args.cluster_option)}}
        )
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
        scheduler_address(args.scheduler)  # a malformed address fails before anything is made
    if args.dry_run:
        expansion = campaign.expand()
        for why in expansion.skipped:
            print(f"left out: {why}")
        for config_id, spec in expansion.configs.items():
            print(f"  {config_id}  {spec.label}")
        print(f"campaign {campaign.name}: {len(expansion.runs)} runs in {len(expansion.configs)} configuration(s)")
        return EXIT_OK
    outcome = run_campaign(
        campaign,
        db_path=Path(args.db),
        folder=Path(args.out) if args.out else None,
        scheduler=args.scheduler,
        cluster=args.cluster,
        workers=args.workers,
        progress=not args.no_progress,
        connect_timeout=args.connect_timeout,
        wait_workers=args.wait_workers,
    )
    print_summary(outcome, db_arg=args.db)
    return outcome.exit_code


def print_summary(outcome: CampaignOutcome, *, db_arg: str | None = None) -> None:
    from sim.contract.run_options import command_name

    counts = outcome.counts
    total = len(outcome.results)
    runs = f"{total} runs" if total == outcome.total else f"{total} of {outcome.total} runs recorded"
    print(
        f"\ncampaign {outcome.campaign.name} at {outcome.revision.label}: {runs}: {counts['pass']} pass, "
        f"{counts['fail']} fail, {counts['panic']} panic, {counts['error']} error ({outcome.new} recorded now, "
        f"{outcome.already} before) in {outcome.wall:.1f} s"
    )
    signatures = {json.dumps(r["signature"]) for r in outcome.results if r["signature"]}
    if signatures:
        print(f"failure signatures: {len(signatures)}; shrunk now: {outcome.shrinks}")
    db = db_arg or str(outcome.db_path)
    print(f"results: {outcome.db_path}; {command_name()} results --db {db} --campaign {outcome.campaign.name}")
    if any(r["out_dir"] for r in outcome.results):
        print(f"run folders kept in {outcome.folder}")
