"""One run contract without a simulator: the field table's options, repeat commands and campaign records
(sim/contract/run_options.py), a request made concrete (sim/contract/resolve.py), and the results
database's configuration columns and ids staying those of the databases already written."""

import argparse
import shlex
import sqlite3
from dataclasses import replace

import pytest

from sim.campaigns.campaign import Campaign, RunSpec
from sim.campaigns.results import collect, reproduce_command
from sim.campaigns.results_db import SCHEMA_VERSION, ResultsDB
from sim.campaigns.revision import Revision
from sim.cli import build_parser
from sim.contract.catalogue import FAULTS, scenario_info
from sim.contract.config import DEFAULT_OUT, RunConfig
from sim.contract.errors import UsageError
from sim.contract.paths import PROJECT_ROOT
from sim.contract.resolve import RunError, resolve_run
from sim.contract.run_options import (
    RECORD_COLUMNS,
    RUN_OPTIONS,
    config_from_record,
    config_record,
    parse_run_arguments,
    run_arguments,
)
from sim.host.runner import main as runner_main
from sim.mutation.operators import generate

REQUESTS = [
    RunConfig("up-basic"),
    RunConfig("random", seed=3, cpus=4, faults=["all"], sim="icarus", fifo_depth=8),
    RunConfig(
        "random",
        seed=0,
        cpus=2,
        faults=["wait-states", "spurious"],
        cost_model="/abs/table.json",
        ram_words=8192,
        cycles=5000,
        bug="no-rotate",
        spec="/abs/spec.json",
        mode="smp",
        rtl_coverage=True,
        fw_coverage=True,
        scenario_modules=["tests.scenarios_extra", "x.y"],
        waves=True,
        out="/tmp/somewhere",
    ),
]


def _cli_fields(config: RunConfig) -> dict:
    return {o.field: getattr(config, o.field) for o in RUN_OPTIONS if o.flag}


@pytest.mark.parametrize("request_", REQUESTS)
def test_the_options_that_repeat_a_run_read_back_as_the_same_run(request_):
    assert _cli_fields(parse_run_arguments(run_arguments(request_))) == _cli_fields(request_)


def test_run_options_are_the_tables_with_the_dataclass_defaults():
    run = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["run"]
    flags = {s for a in run._actions for s in a.option_strings} - {"-h", "--help"}
    assert flags == {o.flag for o in RUN_OPTIONS if o.flag}
    defaults = parse_run_arguments(["--scenario", "up-basic"])
    assert defaults == RunConfig("up-basic") and defaults.out == DEFAULT_OUT


def test_a_repeat_command_lists_the_runs_identity_then_what_differs():
    assert run_arguments(REQUESTS[0]) == [
        "--scenario",
        "up-basic",
        "--seed",
        "1",
        "--fifo-depth",
        "32",
        "--sim",
        "verilator",
    ]
    assert run_arguments(REQUESTS[1]) == [
        *("--scenario", "random", "--seed", "3", "--cpus", "4", "--fifo-depth", "8", "--sim", "icarus"),
        *("--faults", "all"),
    ]


def test_a_campaign_record_reads_back_and_keeps_the_ids_of_databases_already_written():
    for request_ in REQUESTS:
        back = RunConfig(**config_from_record({**config_record(request_), "seed": request_.seed}))
        recorded = {o.field for o in RUN_OPTIONS if o.record}
        assert {f: getattr(back, f) for f in recorded} == {f: getattr(request_, f) for f in recorded}
    # Configuration ids of a campaign recorded before the record came from the field table.
    expansion = Campaign(
        name="tiny",
        scenarios=("up-basic",),
        seeds=(1,),
        fifo_depths=(8,),
        faults=("none", "wait-states"),
        coverage=True,
    ).expand()
    assert {spec.label: spec.config_id for spec in expansion.runs} == {
        "up-basic 1cpu fifo8 faults=none verilator": "234e26d2b5f8",
        "up-basic 1cpu fifo8 faults=wait-states verilator": "de41bc8e77a8",
    }
    spec = expansion.runs[0]
    assert RunSpec.from_dict(spec.as_dict()) == spec and spec.run_dir == "up-basic-c1-f8-verilator-234e26-s1"


def test_a_request_is_made_concrete_from_the_catalogue():
    random = resolve_run(RunConfig("random", faults="all", out="x"))
    info = scenario_info("random")
    assert (random.mode, random.cpus, random.cycles) == (info.mode, info.cpus, info.max_cycles)
    assert random.faults == sorted(FAULTS) and random.out == "x"
    up_on_smp = resolve_run(RunConfig("up-basic", mode="smp"))
    assert (up_on_smp.mode, up_on_smp.cpus) == ("smp", 1)
    for request_, words in [
        (RunConfig("up-basic", cpus=4), "needs --mode smp"),
        (RunConfig("smp-pingpong", cpus=1), "needs at least 2 CPUs"),
        (RunConfig("up-basic", faults=["cpu-stop"]), "cannot act"),
        (RunConfig("random", seed=-1), "seed=-1: must be >= 0"),
        (RunConfig("nope"), "unknown scenario 'nope'"),
        (RunConfig("up-basic", sim="xsim"), "unknown simulator 'xsim'"),
        (RunConfig("up-basic", scenario_modules=["no.such.module"]), "--scenario-module no.such.module"),
    ]:
        with pytest.raises(RunError, match=words):
            resolve_run(request_)


def test_the_runner_checks_a_source_mutant_as_a_run_does_and_repeats_a_directed_run_with_it(tmp_path, capsys):
    """``python -m sim.host.runner NAME --source-mutant ID`` refuses an id resolve_run refuses (exit 2, one
    line, nothing run), and a campaign's repeat command of a directed run with a source mutant passes it on."""
    good = generate(PROJECT_ROOT / "firmware" / "thread.py", PROJECT_ROOT)[0].id
    stale = good.rsplit(":", 1)[0] + (":00000000" if not good.endswith(":00000000") else ":ffffffff")
    out = tmp_path / "out"
    for bad, words in [
        (stale, "stale mutant"),
        ("nope", "not a mutant id"),
        ("firmware/no.py:1:0:int-plus-one:0:00000000", "no file"),
    ]:
        assert runner_main(["smp_kernel", "--source-mutant", bad, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"sim.host.runner: error: source mutant {bad!r}: ") and err.count("\n") == 1, err
        assert words in err and not out.exists()
        with pytest.raises(RunError, match=words):
            resolve_run(RunConfig("up-basic", source_mutant=bad))
    run = replace(RunConfig("smp_kernel", kind="directed"), source_mutant=good)
    line = shlex.join(shlex.split(reproduce_command(RunSpec("qualify", run), "runs/x"))[1:])
    assert line == f"-m sim.host.runner smp_kernel --sim {run.sim} --source-mutant {good} --out runs/x"


def _schema_1(path):
    """Rebuild the runs table as schema 1 had it: its configuration columns in the order first written, no
    ``mutant``, ``source_mutant`` or ``kind`` column, and ``user_version`` 1."""
    db = sqlite3.connect(path)
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'runs'").fetchone()
    lines = sql.splitlines()
    config = {line.split()[0]: line for line in lines if line.split()[0] in dict(RECORD_COLUMNS)}
    old = ["scenario", "sim", "cpus", "fifo_depth", "ram_words", "faults", "cost_model", "bug", "coverage", "seed"]
    rest = [line for line in lines if line.split()[0] not in config]
    at = next(i for i, line in enumerate(rest) if line.split()[0] == "config_id") + 1
    db.executescript(
        "DROP INDEX runs_by_campaign; DROP INDEX runs_by_config; DROP TABLE runs;"
        + "\n".join(rest[:at] + [config[name] for name in old] + rest[at:])
        + "; PRAGMA user_version = 1; UPDATE meta SET value = '1' WHERE key = 'schema_version';"
    )
    db.close()


def test_a_database_of_schema_1_is_migrated_keeping_its_runs_and_one_without_a_column_is_refused(tmp_path):
    path = tmp_path / "old.sqlite"
    ResultsDB(path).close()
    _schema_1(path)
    bare = sqlite3.connect(path)
    bare.execute(
        "INSERT INTO runs (run_key, campaign, session, commit_sha, source_digest, config_id, scenario, sim, cpus, "
        "fifo_depth, ram_words, faults, cost_model, bug, coverage, seed, status, failed_checks, recorded) "
        "VALUES ('k0', 'c', 1, 'x', 'd0', 'i0', 'up-basic', 'verilator', 1, 32, 4096, 'none', 'default', '', 0, "
        "9, 'pass', '[]', 0)"
    )
    bare.commit()
    bare.close()
    db = ResultsDB(path)  # migrated to schema 3, step by step, as it opens
    assert db.rows("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 3
    (old,) = db.rows("SELECT seed, kind, mutant, source_mutant FROM runs")
    assert tuple(old) == (9, "scenario", "", "")
    campaign = Campaign(name="c", scenarios=("up-basic",), seeds=(1, 2))
    revision = Revision("a" * 40, False, "d1")
    session = db.start_session(campaign, revision, planned=2, already=0, engine="test", workers=1)
    for spec in campaign.expand().runs:
        result = {"status": "pass", "code": 0, "outcome": "done", "failed": [], "checks": 3, "cycles": 10}
        assert db.record(spec, revision, session, result)
    (row,) = collect(db, commit="d1")["matrix"]
    assert row["label"] == "up-basic 1cpu fifo32 faults=none verilator" and row["pass"] == 2
    db.close()
    bare = sqlite3.connect(path)
    bare.execute("ALTER TABLE runs DROP COLUMN bug")
    bare.close()
    with pytest.raises(UsageError, match="runs table has no column bug"):
        ResultsDB(path)


def test_a_field_added_to_the_record_keeps_the_ids_of_configurations_recorded_before_it():
    """mutant and kind are left out of a configuration's record at their defaults: its id is the one it
    had before they existed; a mutant's configuration is another one."""
    (spec,) = Campaign(name="c", scenarios=("up-basic",), seeds=(1,)).expand().runs
    assert "mutant" not in spec.config() and "kind" not in spec.config()
    mutated = RunSpec("c", replace(spec.run, mutant="arbiter-starve"))
    assert mutated.config()["mutant"] == "arbiter-starve" and mutated.config_id != spec.config_id
    assert RunSpec.from_dict(mutated.as_dict()).run.mutant == "arbiter-starve"


def test_a_spec_of_a_campaign_runs_as_the_campaign_asked(tmp_path):
    (spec,) = Campaign(name="c", scenarios=("random",), seeds=(7,), faults=("all",), coverage=True).expand().runs
    resolved = resolve_run(replace(spec.run, out=str(tmp_path)))
    assert resolved.faults == sorted(FAULTS) and resolved.hw_coverage and resolved.cycles == 400_000
    assert spec.config()["faults"] == ",".join(FAULTS) and spec.config()["cycles"] is None
