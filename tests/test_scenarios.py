"""Named scenarios end to end through `lwkt-soc run`, on both simulators."""

import json
from pathlib import Path

import pytest

from sim.contract.config import RunConfig
from sim.cli import main
from sim.host.run import run_scenario
from sim.tb.scenarios import SCENARIOS
from sim.contract.trace import read_trace
from tests.conftest import require_simulator

UP_SCENARIOS = ["up-basic", "up-preempt", "up-untimely"]
EXTRA = ("tests.scenarios_extra",)


@pytest.mark.parametrize("name", UP_SCENARIOS)
def test_scenario_passes_and_traces_match_across_simulators(name, tmp_path):
    require_simulator("icarus")
    traces = {}
    for sim in ("icarus", "verilator"):
        out = tmp_path / sim
        assert run_scenario(RunConfig(name, sim=sim, seed=7, out=out), quiet=True) == 0, (out / "sim.log").read_text()[
            -4000:
        ]
        counters = json.loads((out / "counters.json").read_text())
        assert counters["outcome"] == "done" and all(c["ok"] for c in counters["checks"])
        assert counters["sysctl"]["lwkt.switch_count"] > 0
        # The UP build reports switch latency too: lwkt_switch and the machine switch run as kernel
        # code (the default cost model) and write three debug registers. Seen: median 70 to 90.
        switch = json.loads((out / "report.json").read_text())["latency"]["switch"]
        assert switch["count"] > 0 and 3 <= switch["median"] <= switch["p99"] <= switch["max"] <= 200, switch
        records = read_trace(out / "trace.jsonl")
        assert records and {"cycle", "cpu", "tid", "thread", "event"} <= set(records[0])
        assert [r["cycle"] for r in records] == sorted(r["cycle"] for r in records)
        traces[sim] = (out / "trace.jsonl").read_bytes()
    assert traces["icarus"] == traces["verilator"], "the same scenario and seed gave different traces"


def test_different_seeds_give_different_runs(tmp_path):
    runs = []
    for seed in (1, 2):
        assert (
            run_scenario(RunConfig("up-preempt", sim="verilator", seed=seed, out=tmp_path / str(seed)), quiet=True) == 0
        )
        runs.append((tmp_path / str(seed) / "trace.jsonl").read_bytes())
    assert runs[0] != runs[1]


def test_panic_stops_the_run_and_keeps_its_outputs(tmp_path):
    code = run_scenario(
        RunConfig("test-crit-underflow", sim="verilator", out=tmp_path, scenario_modules=EXTRA), quiet=True
    )
    assert code == 1
    counters = json.loads((tmp_path / "counters.json").read_text())
    panic = counters["panic"]
    assert counters["outcome"] == "panic"
    assert "td_pri is/would-go negative" in panic["message"]
    assert panic["cpu"] == 0 and panic["thread"] == "underflow" and panic["cycle"] > 100
    records = read_trace(tmp_path / "trace.jsonl")
    assert records[-1]["event"] == "panic" and records[-1]["thread"] == "underflow"


def test_python_exception_in_firmware_is_a_panic_with_its_origin(tmp_path):
    """A Python exception in firmware stops the run as a panic naming the exception, its file and
    line (report and trace), with the traceback in sim.log."""
    code = run_scenario(
        RunConfig("test-python-error", sim="verilator", out=tmp_path, scenario_modules=EXTRA), quiet=True
    )
    assert code == 1
    report = json.loads((tmp_path / "report.json").read_text())
    panic = report["panic"]
    assert panic["message"] == "KeyError: 'missing'" and panic["thread"] == "buggy"
    exc = panic["exception"]
    assert exc["type"] == "KeyError" and exc["file"].endswith("tests/scenarios_extra_tb.py")
    assert exc["function"] == "buggy" and 'return table["missing"]' in exc["traceback"]
    source = (Path(exc["file"])).read_text().splitlines()
    assert 'table["missing"]' in source[exc["line"] - 1]
    text = (tmp_path / "report.txt").read_text()
    assert f"raised by KeyError at {exc['file']}:{exc['line']} in buggy" in text
    log = (tmp_path / "sim.log").read_text()
    assert "Traceback (most recent call last)" in log and 'return table["missing"]' in log
    last = read_trace(tmp_path / "trace.jsonl")[-1]
    assert last["event"] == "panic" and last["exception"] == f"KeyError at {exc['file']}:{exc['line']}"


@pytest.mark.parametrize("seed", [1, 2])
def test_an_up_scenario_runs_on_the_smp_kernel(tmp_path, seed):
    """up-basic with --mode smp (its wait queue's token in shared RAM) on one CPU."""
    assert run_scenario(RunConfig("up-basic", sim="verilator", seed=seed, mode="smp", out=tmp_path), quiet=True) == 0, (
        tmp_path / "report.txt"
    ).read_text()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["mode"] == "smp" and report["ok"] and report["cpus"] == 1


def test_failed_check_exits_1(tmp_path):
    assert (
        run_scenario(RunConfig("test-failing-check", sim="verilator", out=tmp_path, scenario_modules=EXTRA), quiet=True)
        == 1
    )
    checks = json.loads((tmp_path / "counters.json").read_text())["checks"]
    assert [c["name"] for c in checks if not c["ok"]] == ["deliberately false"]


def test_unknown_scenario_lists_the_valid_ones(capsys):
    assert main(["run", "--scenario", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown scenario 'nope'" in err
    for name in SCENARIOS:
        if not name.startswith("test-"):
            assert name in err


def test_list_names_every_scenario(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in UP_SCENARIOS + ["up-idle"]:
        assert name in out
