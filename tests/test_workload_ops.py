"""The random workload's operations for coverage closure, each run on the RTL from a hand-written spec: a child
reuses a cached thread structure, a zombie is reaped into the cache, another CPU's pawn is descheduled and
scheduled again, an interrupt thread is offered the CPU from nested critical sections (critpri miss) and
while holding the MP lock (a hit that lends the count), a blocked thread is woken without a ticket, and a
burst's notes are sent back from inside the receiver's IPI handler."""

import json

import pytest

from sim.contract.config import RunConfig
from sim.coverage.func import run_hits
from sim.host.run import run_scenario
from sim.reports.run_files import RunFiles
from sim.contract.spec_check import SpecError, load_spec_file
from tests.conftest import require_simulator

SPEC = {
    "ncpu": 2,
    "threads": [
        {
            "cpu": 0,
            "pri": 6,
            "ops": [
                ["spawn", 20],
                ["yield"],
                ["spawn", 20],
                ["reap", 30],
                ["desched", 1, 60],
                ["offer", 1, 0],
                ["offer", 0, 1],
                ["wake", 0],
                ["work", 300],
                ["v", 0],
            ],
        },
        {"cpu": 1, "pri": 6, "ops": [["p", 0], ["desched", 0, 40], ["work", 50]]},
    ],
    "devices": [{"line": 0, "cpu": 0, "gaps": [400]}],
}


@pytest.mark.verilator
def test_each_operation_reaches_its_path(tmp_path):
    require_simulator("verilator")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    out = tmp_path / "run"
    assert (
        run_scenario(
            RunConfig("random", sim="verilator", seed=1, cpus=2, out=out, spec=spec, hw_coverage=True), quiet=True
        )
        == 0
    ), (out / "report.txt").read_text()
    hits = run_hits(out)
    for name in (
        "thread.cache-hit",
        "thread.cache-put",
        "deschedule.remote",
        "preempt.miss-critpri",
        "preempt.lend-mpcount",
        "schedule.local",
        "hw.reg.ipi_tx.TX_ARG.write",
    ):
        assert hits.get(name), f"{name} not hit: {sorted(hits)}"
    trace = RunFiles(out).trace()
    reaped = [r for r in trace if r["event"] == "thread_cache"]
    zombies = [r for r in trace if r["event"] == "thread_create" and r["name"].startswith("zombie")]
    assert len(reaped) == len(zombies) == 1 and reaped[0]["target"] == zombies[0]["target"]
    # Both pawns were descheduled from the other CPU and ran to their end.
    moved = {r["target"] for r in trace if r["event"] == "deschedule" and r.get("remote")}
    pawns = {r["target"] for r in trace if r["event"] == "thread_create" and r["name"].startswith("pawn")}
    assert moved == pawns and len(pawns) == 2


def test_the_new_operations_are_checked(tmp_path):
    bad = dict(SPEC, victim=1)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(SpecError, match="deschedules on CPU 1, the victim"):
        load_spec_file(path, 2)
    bad = json.loads(json.dumps(SPEC))
    bad["threads"][0]["ops"].append(["offer", 9, 0])
    path.write_text(json.dumps(bad))
    with pytest.raises(SpecError, match=r"\['offer', 0\.\.4, 0\|1\]"):
        load_spec_file(path, 2)
    bad["threads"][0]["ops"][-1] = ["desched", 3, 10]
    path.write_text(json.dumps(bad))
    with pytest.raises(SpecError, match="sends to CPU 3"):
        load_spec_file(path, 2)
    path.write_text(json.dumps(SPEC))
    assert load_spec_file(path, 2)[0] == SPEC
