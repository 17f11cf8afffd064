"""Regression campaigns on Dask (a LocalCluster on loopback with 2 workers) and the RTL on Verilator: a
campaign of short runs and what the database holds, a failing and a panicking run with a reproduce command
run as printed, a shrink, resuming after a SIGKILL of the campaign, and a worker killed mid-campaign."""

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.campaigns.campaign import Campaign
from sim.campaigns.engine import local_cluster
from sim.campaigns.regress import run_campaign
from sim.campaigns.tasks import ATTEMPTS
from sim.campaigns.results import collect
from sim.campaigns.results_db import ResultsDB

pytestmark = [pytest.mark.verilator, pytest.mark.xdist_group("regress")]

ROOT = Path(__file__).resolve().parent.parent
#: Pinned so that a tree edited while the tests run does not make the workers' sources differ.
DIGEST = "test-regress"


@pytest.fixture(scope="module")
def client():
    from distributed import Client

    previous = os.environ.get("LWKT_SOC_SOURCE_DIGEST")
    os.environ["LWKT_SOC_SOURCE_DIGEST"] = DIGEST  # the workers inherit it
    cluster = local_cluster(2, dashboard=False)
    with Client(cluster) as c:
        yield c
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    cluster.close()
    if previous is None:
        os.environ.pop("LWKT_SOC_SOURCE_DIGEST", None)
    else:
        os.environ["LWKT_SOC_SOURCE_DIGEST"] = previous


def _quiet(*_):
    pass


def test_a_campaign_records_every_run_once_and_resumes(client, tmp_path):
    campaign = Campaign(
        name="smoke", scenarios=("up-basic", "smp-pingpong", "random"), cpus=(1, 2), seeds=(1, 2), coverage=True
    )
    db_path, folder = tmp_path / "r.sqlite", tmp_path / "smoke"
    seen = []
    outcome = run_campaign(
        campaign,
        db_path=db_path,
        folder=folder,
        client=client,
        progress=False,
        say=_quiet,
        on_result=lambda r, spec, done, total: seen.append((spec.label, r["seed"], done, total)),
    )
    assert outcome.exit_code == 0 and outcome.counts == {"pass": 8, "fail": 0, "panic": 0, "error": 0}, outcome.results
    assert any("smp-pingpong on 1 CPU(s)" in why for why in outcome.skipped)
    assert sorted(done for *_, done, _ in seen) == list(range(1, 9)) and {t for *_, t in seen} == {8}
    db = ResultsDB(db_path, create=False)
    rows = db.rows(
        "SELECT runs.*, configs.config FROM runs JOIN configs USING (config_id) ORDER BY scenario, cpus, seed"
    )
    assert [(r["scenario"], r["cpus"], r["seed"]) for r in rows] == [
        ("random", 1, 1),
        ("random", 1, 2),
        ("random", 2, 1),
        ("random", 2, 2),
        ("smp-pingpong", 2, 1),
        ("smp-pingpong", 2, 2),
        ("up-basic", 1, 1),
        ("up-basic", 1, 2),
    ]
    for r in rows:
        assert r["status"] == "pass" and r["exit_code"] == 0 and r["outcome"] == "done" and r["attempt"] == 1
        assert r["source_digest"] == DIGEST and r["campaign"] == "smoke" and r["faults"] == "none"
        assert json.loads(r["failed_checks"]) == [] and r["panic"] is None and r["signature"] is None
        assert r["cycles"] > 1000 and r["wall_seconds"] > 0 and r["sim_seconds"] > 0 and r["checks"] > 3
        assert json.loads(r["counters"])["scoreboard"]["decisions"] > 0
        assert json.loads(r["latencies"])["switch"]["count"] > 0
        assert len(db.decode_bins(r["bins"])) > 10
        assert r["out_dir"] is None and r["worker"]
        assert json.loads(r["config"])["scenario"] == r["scenario"]
    # Passing run folders are removed, and no attempt is left behind.
    assert sorted(p.name for p in folder.iterdir()) == [".campaign.lock"]
    session = db.rows("SELECT * FROM sessions")[0]
    assert (session["status"], session["planned"], session["recorded"], session["failed"]) == ("done", 8, 8, 0)
    data = collect(db)
    assert len(data["matrix"]) == 4 and data["coverage"]["runs"] == 8 and data["coverage"]["hit"] > 40
    db.close()

    # Run again at the same sources: every run is recorded, nothing runs, nothing starts.
    again = run_campaign(campaign, db_path=db_path, folder=folder, client=None, progress=False, say=_quiet)
    assert (again.new, again.already, len(again.results), again.exit_code) == (0, 8, 8, 0)
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM sessions").fetchone()[0] == 1


def test_a_failing_run_and_panics_are_recorded_with_a_reproduce_command(client, tmp_path):
    campaign = Campaign(
        name="bugs",
        scenarios=("up-basic", "test-failing-check", "test-crit-underflow"),
        seeds=(1,),
        plant_bug="no-rotate",
        scenario_modules=("tests.scenarios_extra",),
    )
    db_path, folder = tmp_path / "r.sqlite", tmp_path / "bugs"
    outcome = run_campaign(campaign, db_path=db_path, folder=folder, client=client, progress=False, say=_quiet)
    assert outcome.exit_code == 1
    status = {r["config"]["scenario"]: r for r in outcome.results}
    assert status["test-failing-check"]["status"] == "fail"
    assert status["test-failing-check"]["failed"] == ["deliberately false"]
    assert status["test-crit-underflow"]["status"] == "panic"
    assert "td_pri is/would-go negative" in status["test-crit-underflow"]["panic"]
    assert status["up-basic"]["status"] == "panic"
    assert status["up-basic"]["panic"].startswith("check failed: scoreboard:")
    for r in outcome.results:  # failing runs keep their folder
        assert Path(r["out_dir"]).is_dir() and (Path(r["out_dir"]) / "report.json").is_file()
    db = ResultsDB(db_path, create=False)
    failures = collect(db)["failures"]
    db.close()
    assert len(failures) == 3 and all(f["shrink"]["status"] == "n/a" for f in failures)
    (scoreboard,) = [f for f in failures if f["panic"].startswith("check failed: scoreboard")]
    assert scoreboard["first_seed"] == 1 and "lwkt_switch picked td #" in scoreboard["panic"]
    # The reproduce command works as printed (from another folder, with its own output folder).
    done = subprocess.run(
        scoreboard["reproduce"], shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    (report,) = (tmp_path / "runs" / "repro").glob("*/report.json")
    assert json.loads(report.read_text())["panic"]["message"] == status["up-basic"]["panic"]


def test_a_simulator_that_dies_is_recorded_as_crashed_and_grouped_by_how(client, tmp_path):
    campaign = Campaign(
        name="crash", scenarios=("test-crash",), seeds=(1, 2), scenario_modules=("tests.scenarios_extra",)
    )
    db_path, folder = tmp_path / "r.sqlite", tmp_path / "crash"
    outcome = run_campaign(campaign, db_path=db_path, folder=folder, client=client, progress=False, say=_quiet)
    assert outcome.exit_code == 1 and len(outcome.results) == 2
    for r in outcome.results:  # a failed run (not an error to run again), its report kept
        assert (r["status"], r["outcome"], r["code"]) == ("fail", "crashed", 3)
        assert r["signature"] == [["the simulator ran to the end"], "crashed: killed by SIGKILL"]
        report = json.loads((Path(r["out_dir"]) / "report.json").read_text())
        assert report["crash"]["how"] == "killed by SIGKILL" and report["outcome"] == "crashed"
    db = ResultsDB(db_path, create=False)
    (failure,) = collect(db)["failures"]
    rows = db.rows("SELECT outcome, status FROM runs")
    db.close()
    assert failure["panic"] == "crashed: killed by SIGKILL" and failure["runs"] == 2 and failure["first_seed"] == 1
    assert [tuple(r) for r in rows] == [("crashed", "fail")] * 2


def test_one_seed_of_a_new_signature_is_shrunk_by_a_task(client, tmp_path):
    campaign = Campaign(
        name="shrink", scenarios=("random",), cpus=(2,), seeds=(3,), plant_bug="enqueue-head", shrink_runs=3
    )
    db_path, folder = tmp_path / "r.sqlite", tmp_path / "shrink"
    outcome = run_campaign(campaign, db_path=db_path, folder=folder, client=client, progress=False, say=_quiet)
    assert outcome.exit_code == 1 and outcome.shrinks == 1
    db = ResultsDB(db_path, create=False)
    (row,) = db.rows("SELECT * FROM shrinks")
    assert row["status"] in ("shrunk", "not-smaller") and row["runs"] == 3 and row["seed"] == 3
    assert row["size_to"] <= row["size_from"] and Path(row["spec_path"]).is_file()
    (failure,) = collect(db)["failures"]
    assert f"--spec {row['spec_path']}" in failure["shrink"]["reproduce"]
    db.close()
    # Known now: a second campaign with the same failure does not shrink it again.
    again = run_campaign(
        campaign, db_path=db_path, folder=folder, client=client, progress=False, say=_quiet, rerun=True
    )
    assert again.shrinks == 0


def _regress(db: Path, out: Path, seeds: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sim.cli",
        "regress",
        "--name",
        "killed",
        "--scenarios",
        "random",
        "--cpus",
        "2",
        "--seeds",
        seeds,
        "--workers",
        "2",
        "--db",
        str(db),
        "--out",
        str(out),
    ]


def test_a_campaign_killed_with_sigkill_loses_nothing_and_finishes_when_run_again(tmp_path):
    from sim.host.interrupt import child_processes

    db, out = tmp_path / "r.sqlite", tmp_path / "killed"
    env = dict(os.environ, LWKT_SOC_SOURCE_DIGEST=DIGEST)
    first = subprocess.Popen(
        _regress(db, out, "21-26"), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline, recorded = time.monotonic() + 120, 0
    try:
        while time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.2)
            try:
                recorded = sqlite3.connect(db).execute("SELECT count(*) FROM runs").fetchone()[0]
            except sqlite3.Error:
                continue
            if recorded >= 2:
                break
    finally:
        descendants = child_processes(first.pid)
        first.kill()
        output = first.communicate()[0]
        for pid in descendants:  # its workers and simulators, by id
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    assert 2 <= recorded < 6, output
    assert "dashboard:" in output and "progress: 0/6 done, 0 failed, 6 remaining, ETA ?" in output
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    before = dict(con.execute("SELECT run_key, recorded FROM runs").fetchall())
    con.close()

    second = subprocess.run(_regress(db, out, "21-26"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"{len(before)} already recorded, {6 - len(before)} to run" in second.stdout
    con = sqlite3.connect(db)
    rows = con.execute("SELECT run_key, recorded, seed, status FROM runs").fetchall()
    assert sorted(r[2] for r in rows) == list(range(21, 27)) and {r[3] for r in rows} == {"pass"}
    assert all(before[key] == when for key, when, *_ in rows if key in before)  # what was written stays
    assert [s for (s,) in con.execute("SELECT status FROM sessions ORDER BY id")] == ["running", "done"]


def test_a_worker_killed_mid_campaign_costs_its_run_one_retry(tmp_path, monkeypatch):
    from distributed import Client

    monkeypatch.setenv("LWKT_SOC_SOURCE_DIGEST", DIGEST)
    cluster = local_cluster(2, dashboard=False)
    folder = tmp_path / "w"
    killed = {}

    def kill_one(result, spec, done, total):
        if killed:
            return
        # The worker that just reported starts its next run: kill it once that run's folder exists.
        pid = int(result["worker"].rsplit("-", 1)[1])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            running = [p for p in (folder / ATTEMPTS).glob(f"*-{pid}") if p.is_dir()]
            if running:
                killed.update(pid=pid, run=running[0].name.split(".", 1)[0])
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    try:
        with Client(cluster) as client:
            workers = set(client.run(os.getpid).values())
            campaign = Campaign(name="w", scenarios=("random",), cpus=(2,), seeds=tuple(range(31, 37)))
            outcome = run_campaign(
                campaign,
                db_path=tmp_path / "r.sqlite",
                folder=folder,
                client=client,
                progress=False,
                say=_quiet,
                on_result=kill_one,
            )
    finally:
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        cluster.close()
    assert killed and killed["pid"] in workers
    assert outcome.exit_code == 0 and outcome.counts["pass"] == 6
    rows = sqlite3.connect(tmp_path / "r.sqlite").execute("SELECT seed, attempt FROM runs").fetchall()
    assert sorted(seed for seed, _ in rows) == list(range(31, 37))  # nothing lost, nothing twice
    retried = {seed for seed, attempt in rows if attempt == 2}
    assert retried == {int(killed["run"].rsplit("-s", 1)[1])} and {a for _, a in rows} == {1, 2}
    assert not (folder / ATTEMPTS).exists()


def test_a_campaign_on_a_running_scheduler(tmp_path):
    """--scheduler: a scheduler and workers started apart (as on several machines, here on loopback)."""
    env = dict(os.environ, LWKT_SOC_SOURCE_DIGEST=DIGEST)
    scheduler_file = tmp_path / "scheduler.json"
    started = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--dashboard-address",
                "127.0.0.1:0",
                "--scheduler-file",
                str(scheduler_file),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        # The scheduler writes its file in more than one write: wait until it reads whole.
        deadline, address = time.monotonic() + 60, None
        while address is None and time.monotonic() < deadline:
            try:
                address = json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
        assert address, f"the scheduler wrote no readable {scheduler_file.name} in 60 s"
        started.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "distributed.cli.dask_worker",
                    address,
                    "--nworkers",
                    "2",
                    "--nthreads",
                    "1",
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "sim.cli",
                "regress",
                "--name",
                "remote",
                "--scenarios",
                "up-basic",
                "--seeds",
                "1-2",
                "--scheduler",
                address,
                "--db",
                str(tmp_path / "r.sqlite"),
                "--out",
                str(tmp_path / "remote"),
                "--no-progress",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        for process in reversed(started):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"engine: scheduler {address}" in done.stdout and "2 runs: 2 pass" in done.stdout
    rows = (
        sqlite3.connect(tmp_path / "r.sqlite")
        .execute("SELECT seed, runs.status, engine FROM runs JOIN sessions ON sessions.id = runs.session")
        .fetchall()
    )
    assert sorted(rows) == [(1, "pass", f"scheduler {address}"), (2, "pass", f"scheduler {address}")]


def test_a_campaign_stopped_by_sigterm_stops_its_running_simulators(tmp_path):
    """Cancelling a Dask task does not stop the simulator it started, and one stuck in a Python loop (a
    mutant's) does not even notice its worker go: the client stops them on the workers it started, so none
    outlives the campaign."""
    from sim.host.interrupt import child_processes

    campaign = tmp_path / "hang.toml"
    campaign.write_text(
        'name = "hang"\nscenarios = ["test-hang"]\nscenario_modules = ["tests.scenarios_extra"]\n'
        'seeds = ["1-4"]\nshrink = false\n'
    )
    command = [sys.executable, "-m", "sim.cli", "regress", str(campaign), "--workers", "2"]
    command += ["--db", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "out"), "--no-progress"]
    env = dict(os.environ, LWKT_SOC_SOURCE_DIGEST=DIGEST)
    client = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    simulators: list[int] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and client.poll() is None and len(simulators) < 2:
            time.sleep(0.5)
            running = list((tmp_path / "out" / ATTEMPTS).glob("*/progress"))
            if len(running) >= 2:
                simulators = [pid for pid in child_processes(client.pid) if _is_simulator(pid)]
        assert len(simulators) >= 2, "two runs never started"
        client.send_signal(signal.SIGTERM)
        output = client.communicate(timeout=120)[0]
    finally:
        for pid in child_processes(client.pid) if client.poll() is None else []:
            os.kill(pid, signal.SIGKILL)
        client.kill()
    assert client.returncode == 143 and "interrupted (SIGTERM)" in output, output[-2000:]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in simulators):
        time.sleep(0.2)
    assert not [pid for pid in simulators if _alive(pid)], "a simulator outlived its campaign"


def _is_simulator(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return False
    return command.endswith("/lwkt_soc") or command.endswith("vvp")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
