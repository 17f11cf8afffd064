"""Regression campaigns without a simulator: the campaign model, the results database, the queries,
the dask-jobqueue job scripts and the command line's answers to bad input (tests/test_regress.py runs
campaigns on the RTL)."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sim.campaigns.campaign import Campaign, load_campaign, parse_seeds
from sim.cli import main
from sim.contract.errors import UsageError
from sim.campaigns.results import collect, render_markdown, write_png
from sim.campaigns.results_db import SCHEMA_VERSION, ResultsDB
from sim.campaigns.revision import Revision, current_revision

ROOT = Path(__file__).resolve().parent.parent


def test_seeds_take_numbers_ranges_and_lists():
    assert parse_seeds("1-3,7, 5..6") == (1, 2, 3, 5, 6, 7)
    assert parse_seeds([4, "1-2", 4]) == (1, 2, 4)
    for bad, words in [("3-1", "ends before it starts"), ("x", "not a seed"), ([True], "not a seed"), ("", "no seed")]:
        with pytest.raises(UsageError, match=words):
            parse_seeds(bad)


def test_spread_deals_each_seed_to_one_cell_and_varies_every_dimension():
    faults = ("none", "wait-states", "spurious", "delayed-complete", "cpu-stop", "fifo-full", "all")
    campaign = Campaign(
        name="m",
        seeds=tuple(range(1, 163)),
        cpus=(2, 4, 8, 16),
        fifo_depths=(2, 4, 8),
        faults=faults,
        sims=("verilator", "icarus"),
        spread=True,
    )
    expansion = campaign.expand()
    # 4 x 3 x 7 x 2 = 168 cells, less every fault together on 2 CPUs (3 depths x 2 simulators).
    assert len(expansion.configs) == 162 and len(expansion.skipped) == 1
    assert sorted(run.run.seed for run in expansion.runs) == list(range(1, 163))  # each seed once
    by_seed = {run.run.seed: run for run in expansion.runs}
    for a, b in zip(range(1, 12), range(2, 13), strict=True):  # neighbours differ
        assert by_seed[a].config_id != by_seed[b].config_id
    first = [by_seed[s] for s in range(1, 13)]
    assert {r.run.cpus for r in first} == {2, 4, 8, 16} and {r.run.fifo_depth for r in first} == {2, 4, 8}
    assert {r.run.sim for r in first} == {"verilator", "icarus"} and len({tuple(r.run.faults) for r in first}) >= 5
    # Twice the seeds: two per cell; without spread every seed runs on every cell.
    doubled = Campaign(**{**campaign.__dict__, "seeds": tuple(range(1, 325))}).expand()
    per_cell = {}
    for run in doubled.runs:
        per_cell[run.config_id] = per_cell.get(run.config_id, 0) + 1
    assert set(per_cell.values()) == {2}
    assert len(Campaign(**{**campaign.__dict__, "seeds": (1, 2), "spread": False}).expand().runs) == 2 * 162
    assert load_campaign(None, {"spread": True, "seeds": "1-3"}).spread


def test_a_campaign_file_expands_into_runs_and_leaves_out_what_cannot_run(tmp_path):
    path = tmp_path / "nightly.toml"
    path.write_text(
        'scenarios = ["up-basic", "random"]\nseeds = ["1-3"]\ncpus = ["default", 2]\n'
        'faults = ["none", "all"]\nfifo_depths = [8]\ncoverage = true\n[cluster]\ncores = 4\n'
    )
    campaign = load_campaign(path)
    assert campaign.name == "nightly" and campaign.cluster == {"cores": 4} and campaign.coverage
    expansion = campaign.expand()
    labels = sorted(spec.label for spec in expansion.configs.values())
    assert labels == [
        "random 2cpu fifo8 faults=none verilator",
        "random 4cpu fifo8 faults=all verilator",
        "random 4cpu fifo8 faults=none verilator",
        "up-basic 1cpu fifo8 faults=none verilator",
    ]
    assert len(expansion.runs) == 4 * 3 and any("up-basic on 2 CPU(s)" in why for why in expansion.skipped)
    assert any("cpu-stop and fifo-full together need 3 CPUs" in why for why in expansion.skipped)
    run = expansion.runs[0]
    # The key changes with the sources and the seed, never with the order of the lists.
    assert run.run_key("a") != run.run_key("b") and run.run_key("a") == run.run_key("a")
    again = load_campaign(
        None,
        {
            "name": "nightly",
            "scenarios": ["random", "up-basic"],
            "seeds": "3,2,1",
            "cpus": [2, "default"],
            "faults": ["all", "none"],
            "fifo_depths": [8],
            "coverage": True,
        },
    )
    assert {r.run_key("x") for r in again.expand().runs} == {r.run_key("x") for r in expansion.runs}


def test_campaign_options_override_the_file_and_under_a_campaign_table(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[campaign]\nname = "x"\nseeds = [1]\nscenarios = ["up-basic"]\n')
    campaign = load_campaign(path, {"seeds": "5-6", "keep": "all", "name": None})
    assert campaign.name == "x" and campaign.seeds == (5, 6) and campaign.keep == "all"


@pytest.mark.parametrize(
    "text, words",
    [
        ('scenarios = ["nope"]', "unknown scenario 'nope'; valid scenarios:"),
        ("seeds = [", "not valid TOML"),
        ("colour = 1", "unknown key 'colour'; known keys: name, scenarios"),
        ("cpus = [64]", "CPU count must be 1..32"),
        ("fifo_depths = [3]", "FIFO depth must be a power of two"),
        ('faults = ["gremlins"]', "unknown fault 'gremlins'"),
        ('sims = ["xsim"]', "unknown simulator 'xsim'"),
        ('keep = "some"', "keep: 'some'"),
        ('name = "a b"', "campaign name 'a b'"),
        ('scenarios = ["up-basic"]\ncpus = [4]', "no configuration can run (up-basic on 4 CPU(s)"),
        ('cost_models = ["/no/such.json"]', "cost_models:"),
        ('plant_bug = "gremlin"', "unknown planted bug"),
    ],
)
def test_bad_campaigns_are_usage_errors_naming_the_key(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(UsageError, match=None) as info:
        load_campaign(path).expand()
    assert words in str(info.value), str(info.value)


def _result(status="pass", seed=1, bins=("a.bin", "b.bin"), panic=None, failed=()):
    signature = None if status == "pass" else [list(failed), panic or ""]
    return {
        "status": status,
        "code": 0 if status == "pass" else 1,
        "outcome": "panic" if status == "panic" else "done",
        "checks": 10,
        "failed": list(failed),
        "panic": panic,
        "signature": signature,
        "counters": {"scoreboard": {"decisions": 5}},
        "latencies": {"ipi": {"median": 3}},
        "bins": list(bins),
        "cycles": 1000 + seed,
        "sim_seconds": 0.5,
        "seconds": 2.0,
        "out_dir": None,
        "worker": "w",
        "attempt": 1,
    }


def test_the_database_records_a_run_once_and_replaces_only_errors(tmp_path):
    db = ResultsDB(tmp_path / "r.sqlite")
    campaign = Campaign(name="c", scenarios=("up-basic",), seeds=(1, 2))
    runs = campaign.expand().runs
    revision = Revision("f" * 40, False, "d1")
    session = db.start_session(campaign, revision, planned=2, already=0, engine="test", workers=1)
    assert db.record(runs[0], revision, session, _result())
    assert not db.record(runs[0], revision, session, _result("fail", failed=["x"]))  # a retry's duplicate
    assert db.record(runs[1], revision, session, _result("error"))
    assert db.recorded_keys("c", "d1") == {runs[0].run_key("d1")}  # errors run again
    assert db.record(runs[1], revision, session, _result("pass", seed=2))
    rows = db.rows("SELECT seed, status, bins FROM runs ORDER BY seed")
    assert [(r["seed"], r["status"]) for r in rows] == [(1, "pass"), (2, "pass")]
    assert db.decode_bins(rows[0]["bins"]) == ["a.bin", "b.bin"] and len(rows[0]["bins"]) == 1
    assert db.rows("SELECT recorded, failed FROM sessions")[0][:] == (3, 1)
    db.close()
    con = sqlite3.connect(tmp_path / "r.sqlite")
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    with pytest.raises(UsageError, match="schema version 99"):
        ResultsDB(tmp_path / "r.sqlite")
    (tmp_path / "junk.sqlite").write_text("not a database at all" * 100)
    with pytest.raises(UsageError, match="not a results database"):
        ResultsDB(tmp_path / "junk.sqlite")
    with pytest.raises(UsageError, match="no such results database"):
        ResultsDB(tmp_path / "none.sqlite", create=False)
    other = sqlite3.connect(tmp_path / "other.sqlite")  # the right version, not our tables
    other.execute("CREATE TABLE t (x)")
    other.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    other.commit()
    other.close()
    with pytest.raises(UsageError, match="no table"):
        ResultsDB(tmp_path / "other.sqlite")


def _fill(db_path, digest="d1", commit="a" * 40, fail_seed=3):
    db = ResultsDB(db_path)
    campaign = Campaign(name="c", scenarios=("up-basic", "random"), seeds=(1, 2, 3), coverage=True)
    revision = Revision(commit, False, digest)
    session = db.start_session(campaign, revision, planned=6, already=0, engine="test", workers=1)
    for spec in campaign.expand().runs:
        run = spec.run
        if run.scenario == "random" and run.seed == fail_seed:
            result = _result("panic", run.seed, panic="check failed: scoreboard: cycle 12", failed=["no panic"])
        else:
            result = _result(seed=run.seed, bins=("preempt.hit",) if run.seed == 1 else ("preempt.hit", "lwkt.x"))
        db.record(spec, revision, session, result)
    return db


def test_results_matrix_failures_coverage_and_history(tmp_path):
    db = _fill(tmp_path / "r.sqlite")
    _fill(tmp_path / "r.sqlite", digest="d2", commit="b" * 40, fail_seed=99).close()
    data = collect(db, commit="latest")
    assert data["revisions"][0]["commit"] == "b" * 40 and data["totals"]["pass"] == 6
    data = collect(db, commit="aaaa")
    assert data["totals"] == {
        "runs": 6,
        "pass": 5,
        "fail": 0,
        "panic": 1,
        "error": 0,
        "run_seconds": 12.0,
        "simulated_cycles": 6012,
    }
    (failure,) = data["failures"]
    assert failure["first_seed"] == 3 and failure["checks"] == ["no panic"]
    assert "run --scenario random --seed 3 --cpus 4" in failure["reproduce"]
    assert failure["shrink"] is None
    assert data["coverage"]["runs"] == 6 and data["coverage"]["runs_per_bin"]["preempt.hit"] == 5
    random_id = next(m["config_id"] for m in data["matrix"] if m["label"].startswith("random"))
    history = collect(db, commit="all", history_seed=3, history_config=random_id[:6])["history"]
    assert [(p["revision"], p["status"]) for p in history["points"]] == [("a" * 10, "panic"), ("b" * 10, "pass")]
    trend = collect(db, commit="all", history_config=random_id)
    assert [p["pass_rate"] for p in trend["history"]["points"]] == [pytest.approx(2 / 3, abs=1e-3), 1.0]
    markdown = render_markdown(trend)
    assert "## Pass/fail by configuration" in markdown and "## History of configuration" in markdown
    assert write_png(trend, tmp_path / "trend.png").stat().st_size > 1000
    with pytest.raises(UsageError, match="no run recorded for it"):
        collect(db, commit="cccc")
    with pytest.raises(UsageError, match="no campaign 'zz'"):
        collect(db, campaign="zz")
    db.close()


def test_results_command_writes_markdown_json_and_png(tmp_path, capsys):
    _fill(tmp_path / "r.sqlite").close()
    assert main(["results", "--db", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "out")]) == 0
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"results.md", "results.json", "results.png"}
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["schema"] == "lwkt-soc-results/1" and len(data["matrix"]) == 2
    capsys.readouterr()
    assert main(["results", "--db", str(tmp_path / "r.sqlite"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["campaign"] == "c"


def test_the_revision_is_read_from_the_git_folder(tmp_path):
    revision = current_revision()
    assert len(revision.digest) == 16 and revision.dirty in (True, False, None)
    assert len(revision.commit) == 40 or revision.commit == "unknown"
    # A tree without .git: the commit is unknown unless named, the digest still there.
    for folder in ("hdl", "firmware", "sim"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.py").write_text(folder)
    bare = current_revision(tmp_path)
    assert bare.commit == "unknown" and bare.dirty is None
    (tmp_path / "sim" / "x.py").write_text("changed")
    assert current_revision(tmp_path).digest != bare.digest


@pytest.mark.parametrize(
    "kind, directive",
    [("slurm", "#SBATCH -p short"), ("sge", "#$ -q short"), ("lsf", "#BSUB -q short"), ("pbs", "#PBS -q short")],
)
def test_jobqueue_job_scripts(tmp_path, capsys, kind, directive):
    """What --cluster would submit, without submitting it: the queue, one thread and one worker process per
    core, the project's Python, and the prologue from the campaign's [cluster] table."""
    path = tmp_path / "c.toml"
    path.write_text(
        'scenarios = ["random"]\nseeds = [1]\n[cluster]\ncores = 4\nmemory = "8GB"\n'
        'walltime = "01:00:00"\njob_script_prologue = ["source /opt/lwkt/.venv/bin/activate"]\n'
        'scheduler_options = {host = "127.0.0.1", dashboard_address = "127.0.0.1:0"}\n'
    )
    assert main(["regress", str(path), "--cluster", kind, "--cluster-option", "queue=short", "--print-job-script"]) == 0
    script = capsys.readouterr().out
    assert directive in script and "source /opt/lwkt/.venv/bin/activate" in script
    assert f"{sys.executable} -m distributed.cli.dask_worker tcp://127.0.0.1:" in script
    assert "--nthreads 1" in script and "--nworkers 4" in script


def test_regress_refuses_bad_input_in_one_line(tmp_path):
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("seeds = [1,\n")
    db = str(tmp_path / "r.sqlite")
    for argv, code, fragment in [
        (["regress", str(bad_toml)], 2, "not valid TOML"),
        (["regress", str(tmp_path / "none.toml")], 2, "no such campaign file"),
        (["regress", "--scenarios", "nope"], 2, "unknown scenario 'nope'"),
        (
            ["regress", "--seeds", "1", "--scheduler", "tcp://nohost", "--db", db, "--out", str(tmp_path / "n")],
            2,
            "not a Dask scheduler address",
        ),
        (
            [
                "regress",
                "--seeds",
                "1",
                "--scenarios",
                "up-basic",
                "--scheduler",
                "tcp://127.0.0.1:9",
                "--connect-timeout",
                "1",
                "--db",
                db,
                "--out",
                str(tmp_path / "c"),
            ],
            3,
            "cannot reach the Dask scheduler",
        ),
        (["regress", "--print-job-script"], 2, "needs --cluster"),
        (["regress", "--cluster", "slurm", "--print-job-script"], 2, "--cluster slurm:"),
        (
            [
                "regress",
                "--seeds",
                "1",
                "--scenarios",
                "up-basic",
                "--cluster",
                "slurm",
                "--cluster-option",
                "cores=2",
                "--cluster-option",
                "memory=4GB",
                "--cluster-option",
                'scheduler_options={host="127.0.0.1"}',
                "--db",
                db,
                "--out",
                str(tmp_path / "s"),
            ],
            3,
            "sbatch not found",
        ),
        (["results", "--db", str(tmp_path / "none.sqlite")], 2, "no such results database"),
    ]:
        result = subprocess.run(
            [sys.executable, "-m", "sim.cli", *argv], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == code and fragment in result.stderr, (argv, result.stderr[-2000:])
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "n").exists()  # a malformed address makes nothing


def test_progress_lines_and_the_dashboard_without_bokeh(monkeypatch):
    import io
    from sim.campaigns.engine import Engine as _Engine
    from sim.campaigns.regress import Progress

    stream = io.StringIO()
    bar = Progress(4, enabled=True, stream=stream)
    bar.update(0, 0)
    bar.update(4, 1, final=True)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "  progress: 0/4 done, 0 failed, 4 remaining, ETA ?"
    assert lines[-1].startswith("  progress: 4/4 done, 1 failed, 0 remaining, ETA 0:00:0")
    monkeypatch.setitem(sys.modules, "bokeh", None)  # as if it were not installed
    assert _Engine(None, None, "test").dashboard == "pip install bokeh"


def test_each_configuration_is_built_once_per_worker_file_system(tmp_path):
    from sim.campaigns.regress import _submit_builds
    from sim.campaigns.tasks import build_task, filesystem_id

    class Client:  # records what would go to Dask
        def __init__(self):
            self.calls = []

        def submit(self, function, *args, **kwargs):
            self.calls.append((function, args, kwargs))
            return type("Future", (), {"key": kwargs["key"]})()

    # Workers on one file system share its marker; another file system has its own.
    shared, local = tmp_path / "shared", tmp_path / "local"
    assert filesystem_id(shared) == filesystem_id(shared) != filesystem_id(local)
    probes = {
        "tcp://a:1": {"fs": filesystem_id(shared), "host": "a"},
        "tcp://b:1": {"fs": filesystem_id(shared), "host": "b"},
        "tcp://c:1": {"fs": filesystem_id(local), "host": "c"},
    }
    runs = Campaign(name="b", scenarios=("random",), cpus=(2, 4), seeds=(1, 2, 3)).expand().runs
    client, futures = Client(), {}
    builds = _submit_builds(client, runs, probes, "nonce", futures)
    assert len(builds) == 2 and all(len(fs) == 2 for fs in builds.values()) and len(client.calls) == 4
    for function, (sim, config, coverage), kwargs in client.calls:
        assert function is build_task and sim == "verilator" and config["ncpu"] in (2, 4) and not coverage
        assert kwargs["workers"] in (["tcp://a:1", "tcp://b:1"], ["tcp://c:1"]) and kwargs["pure"] is False


def test_the_campaign_bench_extrapolates_and_renders():
    from bench.campaign_bench import extrapolate, render

    t = {
        "seeds": 40,
        "workers": 2,
        "sim": "verilator",
        "local_seconds": 30.0,
        "campaign_seconds": 31.0,
        "overhead_percent": 3.3,
        "local_runs_per_minute": 80.0,
        "campaign_runs_per_minute": 77.4,
        "mean_run_seconds": 2.0,
    }
    s = {"per_task_ms": 4.0, "tasks_per_second": 250, "db_write_ms": 0.3}
    d = {
        "rows": 100_000,
        "bytes": 216_000_000,
        "bytes_per_run": 2160,
        "lookup_recorded_seconds": 0.2,
        "results_report_seconds": 0.8,
        "expand_and_key_seconds": 3.0,
    }
    e = extrapolate(t, s, d)
    assert e["database_mb"] == 216.0 and e["client_write_seconds"] == 30 and e["scheduler_saturation_workers"] == 500
    assert "+3.3 %" in render({"throughput": t, "scheduler": s, "database": d, "extrapolation": e})


def test_the_shipped_nightly_campaign_expands(capsys):
    """campaigns/nightly.toml (the README's make regress example) parses and expands into runs."""
    from sim.cli import main

    assert main(["regress", "campaigns/nightly.toml", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "campaign nightly:" in out and " runs in " in out


def test_a_run_past_its_wall_clock_limit_is_stopped_as_a_hang():
    """A mutant can loop in Python without letting simulated time pass: the wall clock ends its run, killing
    only what the run started, and the run fails with outcome "hang"."""
    import subprocess
    import time

    from sim.campaigns.tasks import WallLimit

    started = time.perf_counter()
    with WallLimit(1.0) as limit:
        child = subprocess.Popen(["sleep", "30"])
        child.wait()
    assert limit.fired and child.returncode == -9 and time.perf_counter() - started < 10
    result = limit.result()
    assert result["status"] == "fail" and result["outcome"] == "hang" and "1 s of wall-clock time" in result["panic"]
    with WallLimit(5.0) as quick:
        subprocess.run(["true"], check=True)
    assert not quick.fired
