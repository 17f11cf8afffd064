"""The random workload, fault injection, stress runs, shrinking, and cross-simulator equivalence
of every named scenario."""

import json

import pytest

from sim.contract.config import RunConfig
from sim.contract.errors import UsageError

from sim.campaigns import stress
from sim.contract.catalogue import FAULTS, parse_faults
from sim.host.run import RunError, run_scenario
from sim.contract.catalogue import SCENARIOS
from sim.contract.random_spec import RandomSpec, generate_spec
from sim.campaigns.shrink import failure_signature, shrink
from tests.conftest import require_simulator

NAMED = sorted(name for name in SCENARIOS if not name.startswith("test-"))


@pytest.mark.parametrize("name", NAMED)
def test_every_named_scenario_gives_identical_traces_on_both_simulators(name, tmp_path):
    require_simulator("icarus")
    traces = []
    for sim in ("verilator", "icarus"):
        out = tmp_path / sim
        assert run_scenario(RunConfig(name, sim=sim, seed=5, out=out), quiet=True) == 0, (
            out / "report.txt"
        ).read_text()
        traces.append((out / "trace.jsonl").read_bytes())
    assert traces[0] == traces[1], f"{name}: traces differ between Verilator and Icarus"


def test_random_with_every_fault_is_identical_on_both_simulators(tmp_path):
    require_simulator("icarus")
    traces, reports = [], []
    for sim in ("verilator", "icarus"):
        out = tmp_path / sim
        assert run_scenario(RunConfig("random", sim=sim, seed=9, out=out, faults="all", fifo_depth=8), quiet=True) == 0
        traces.append((out / "trace.jsonl").read_bytes())
        reports.append(json.loads((out / "counters.json").read_text()))
    assert traces[0] == traces[1]
    faults = reports[0]["faults"]
    assert faults["enabled"] == sorted(FAULTS) and faults["wait_states"] > 0 and faults["dead_cpus"] == [3]


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_alone_keeps_every_check(fault, tmp_path):
    assert (
        run_scenario(
            RunConfig("random", sim="verilator", seed=12, out=tmp_path, faults=fault, fifo_depth=8), quiet=True
        )
        == 0
    )
    report = json.loads((tmp_path / "report.json").read_text())
    names = [c["name"] for c in report["checks"]]
    if fault == "cpu-stop":
        assert "a CPU stopped holding the MP lock was recovered with BUST" in names
        assert report["sysctl"]["lwkt.ipiq_count"] >= 0 and report["per_cpu"][0]["mplock_busts"] == 1
    if fault == "fifo-full":
        assert report["sysctl"]["lwkt.ipiq_fifofull"] > 0


def test_a_busy_mp_lock_owner_is_not_taken_for_stopped(tmp_path):
    """Issue 24's seed 1095: CPU 6 waits thousands of cycles in lwkt_gettoken holding the MP lock while
    CPU 7 is stopped. The first watchdog freed CPU 6's lock too (its heartbeat stalls in a critical
    section) and the race detector stopped the run; now only the stopped CPU loses it."""
    assert (
        run_scenario(
            RunConfig("random", sim="verilator", seed=1095, out=tmp_path, cpus=8, fifo_depth=4, faults="all"),
            quiet=True,
        )
        == 0
    ), (tmp_path / "report.txt").read_text()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["mplock"]["busts"] == 1
    counters = json.loads((tmp_path / "counters.json").read_text())
    assert counters["faults"]["dead_cpus"] == [7]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["no BUST freed the MP lock of a live CPU"]["ok"]


def test_a_thread_back_from_a_switch_regets_a_token_another_thread_fetched(tmp_path):
    """Seed 22 on 4 CPUs with 8-entry FIFOs: a thread holding a queue's token waits for the MP lock
    and switches away; the token goes to another CPU and a second thread of the first CPU fetches it
    back. The first, resumed, re-gets it (lwkt_regettoken: the CPU owns it) and reads the queue.
    The race detector once took that for an access riding on the second thread's hold."""
    config = RunConfig("random", sim="verilator", seed=22, out=tmp_path, cpus=4, fifo_depth=8, faults="all")
    assert run_scenario(config, quiet=True) == 0, (tmp_path / "report.txt").read_text()
    counters = json.loads((tmp_path / "counters.json").read_text())
    assert counters["shared_ram"]["guarded"] > 0 and counters["shared_ram"]["races"] == 0


def test_fault_names_are_checked():
    assert parse_faults("all") == frozenset(FAULTS) and parse_faults("") == frozenset()
    with pytest.raises(ValueError, match="unknown fault 'gremlins'"):
        parse_faults("spurious,gremlins")
    with pytest.raises(RunError, match="unknown fault"):
        run_scenario(RunConfig("random", faults="gremlins", out="/tmp/unused"), quiet=True)


def test_the_seed_is_the_whole_workload():
    a = generate_spec(21, 4, parse_faults("all"))
    assert RandomSpec.from_json(a.to_json()) == a
    assert generate_spec(21, 4, parse_faults("all")) == a
    assert generate_spec(22, 4, parse_faults("all")) != a


def test_a_replayed_spec_reproduces_the_seed_exactly(tmp_path):
    spec = generate_spec(4, 4, frozenset())
    path = tmp_path / "spec.json"
    path.write_text(spec.to_json())
    assert run_scenario(RunConfig("random", sim="verilator", seed=4, out=tmp_path / "seed"), quiet=True) == 0
    assert (
        run_scenario(RunConfig("random", sim="verilator", seed=4, out=tmp_path / "replay", spec=path), quiet=True) == 0
    )
    config = json.loads((tmp_path / "replay" / "run.json").read_text())
    report = json.loads((tmp_path / "replay" / "report.json").read_text())
    assert config["spec"] == str(path) and report["spec"] == {"path": str(path), "sha256": config["spec_sha256"]}
    assert (tmp_path / "seed" / "trace.jsonl").read_bytes() == (tmp_path / "replay" / "trace.jsonl").read_bytes()


def test_shrinking_keeps_the_failure_and_drops_the_rest():
    spec = generate_spec(7, 4, frozenset())
    spec.threads[1].ops.insert(2, ["poison"])
    original = spec.size()

    def still_fails(candidate):  # stands in for a run: it fails while the poisoned op is present
        return any(op[0] == "poison" for t in candidate.threads for op in t.ops)

    smallest = shrink(spec, still_fails, log=lambda *_: None)
    assert still_fails(smallest)
    assert smallest.size() == 1 and len(smallest.threads) == 1 and original > 5


def test_shrinking_a_real_failing_run(tmp_path):
    """A planted scheduling bug makes the scoreboard stop the run; the shrunk spec still fails so in the
    simulator, and is smaller."""
    spec = generate_spec(3, 2, frozenset())
    calls = []

    def signature(candidate):
        calls.append(candidate.size())
        path = tmp_path / f"spec{len(calls)}.json"
        path.write_text(candidate.to_json())
        try:
            run_scenario(
                RunConfig(
                    "random", sim="verilator", seed=3, cpus=2, out=tmp_path / "run", spec=path, bug="enqueue-head"
                ),
                quiet=True,
            )
        except UsageError as exc:  # a removal that leaves a queue short of tickets
            return ("unrunnable", str(exc))
        return failure_signature(json.loads((tmp_path / "run" / "report.json").read_text()))

    target = signature(spec)
    assert target[1].startswith("check failed: scoreboard:"), target

    def still_fails(candidate):
        return signature(candidate) == target

    smallest = shrink(spec, still_fails, log=lambda *_: None)
    assert smallest.size() < spec.size()
    assert still_fails(smallest)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["outcome"] == "panic" and "scoreboard" in report["panic"]["message"]


#: Small matrices for CI (make stress runs 2,4,8,16 CPUs x depths 2,4,8 x 7 fault sets x both simulators):
#: Verilator on builds other tests make anyway, Icarus across CPU counts and depths.
STRESS_MATRICES = {
    "verilator": (12, ["--cpus", "4", "--fifo-depths", "8"]),
    "icarus": (4, ["--cpus", "2,3", "--fifo-depths", "2,4", "--faults", "all", "--faults", "none"]),
}


@pytest.mark.parametrize("sim", list(STRESS_MATRICES))
def test_stress_summary(sim, tmp_path, capsys):
    require_simulator(sim)
    seeds, matrix = STRESS_MATRICES[sim]
    code = stress.main(
        [
            "--seeds",
            str(seeds),
            "--first",
            "101",
            "--sims",
            sim,
            "--jobs",
            "1",
            "--out",
            str(tmp_path),
            "--db",
            str(tmp_path / "results.sqlite"),
            *matrix,
        ]
    )
    out = capsys.readouterr().out
    assert f"seeds run: {seeds} over" in out and "checks evaluated:" in out and "MP-lock BUSTs:" in out
    assert "violations: 0" in out, out[-3000:]
    assert code == 0
    # The seeds went to different cells, and the campaign is in the results database.
    from sim.campaigns.regress import campaign_results
    from sim.campaigns.results_db import ResultsDB
    from sim.campaigns.revision import source_digest

    db = ResultsDB(tmp_path / "results.sqlite", create=False)
    rows = campaign_results(db, "stress", source_digest())
    assert sorted(r["seed"] for r in rows) == list(range(101, 101 + seeds))
    cells = {r["config_id"] for r in rows}
    assert len(cells) == (7 if sim == "verilator" else 4), cells
    if sim == "icarus":
        assert "left out: random on 2 CPU(s) with faults all" in out
