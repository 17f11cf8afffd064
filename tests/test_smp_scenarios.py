"""The SMP scenarios through `lwkt-soc run`, on both simulators, with their run-time checks."""

import json

import pytest

from sim.contract.config import RunConfig
from sim.host.run import run_scenario
from tests.conftest import require_simulator

SMP_SCENARIOS = ["smp-pingpong", "smp-ipi-storm", "smp-mplock", "smp-mixed"]


def _run(name, sim, tmp_path, **kwargs):
    out = tmp_path / f"{name}-{sim}-{kwargs.get('cpus')}-{kwargs.get('fifo_depth', 32)}"
    code = run_scenario(RunConfig(name, sim=sim, out=out, **kwargs), quiet=True)
    counters = json.loads((out / "counters.json").read_text())
    failed = [c for c in counters["checks"] if not c["ok"]]
    assert code == 0 and not failed, f"{name} on {sim}: {failed or counters.get('panic')}"
    return out, counters


def _latency(out):
    return json.loads((out / "report.json").read_text())["latency"]


# Every switch writes the three debug registers (a bus cycle each at least) before the
# new thread runs.
MIN_SWITCH_CYCLES = 3


@pytest.mark.parametrize("cpus", [2, 4])
@pytest.mark.parametrize("name", SMP_SCENARIOS)
def test_smp_scenario_on_both_simulators(name, cpus, tmp_path):
    require_simulator("icarus")
    outs = {}
    for sim in ("verilator", "icarus"):
        out, counters = _run(name, sim, tmp_path, cpus=cpus, seed=11)
        smp = counters["smp"]
        assert smp["ipi_sent"] == smp["ipi_received"]
        check_names = {c["name"] for c in counters["checks"]}
        assert {
            "WOF and ROE stay clear",
            "every IPI delivered exactly once, in order",
            "no thread waits forever after being signalled",
            "the kernel's counters agree with its trace",
        } <= check_names
        outs[sim] = out
    assert (outs["verilator"] / "trace.jsonl").read_bytes() == (outs["icarus"] / "trace.jsonl").read_bytes(), (
        "the same scenario and seed gave different traces on the two simulators"
    )
    # The latencies come from the same cycles as the trace: identical on both simulators.
    assert _latency(outs["verilator"]) == _latency(outs["icarus"])


@pytest.mark.parametrize("sim", ["verilator", "icarus"])
def test_ipi_storm_with_fifo_depth_4_drains_without_deadlock(sim, tmp_path):
    require_simulator(sim)
    _, counters = _run("smp-ipi-storm", sim, tmp_path, cpus=4, fifo_depth=4, seed=2)
    assert counters["total"]["ipiq_fifofull"] > 0
    assert counters["outcome"] == "done"


@pytest.mark.parametrize("sim", ["verilator", "icarus"])
def test_mixed_on_8_cpus(sim, tmp_path):
    require_simulator(sim)
    _, counters = _run("smp-mixed", sim, tmp_path, cpus=8, seed=4)
    smp = counters["smp"]
    # Token hand-off latency and MP-lock contention are part of the run's counters.
    # Latencies are histograms, [[cycles, how often], ...] by cycles (sim/checks/stats.py).
    assert smp["token_handoff_cycles"] and smp["token_handoff_cycles"][0][0] > 0
    assert smp["mplock_acquisitions"] > 0 and "mplock_contended_tries" in smp
    assert len(counters["per_cpu"]) == 8
    # Only switches that change threads count: lwkt_switch calls minus preemptions' own switches.
    switches = counters["switch_cycles"]
    assert 0 < sum(n for _, n in switches) <= counters["sysctl"]["lwkt.switch_count"]
    assert switches[0][0] >= MIN_SWITCH_CYCLES


def test_ipi_storm_on_32_cpus(tmp_path):
    """The contract's largest SoC: every CPU sends to every other, so all 992 FIFOs of the IPI
    matrix carry traffic. On Icarus, whose build is seconds; make bench builds 32 CPUs on Verilator."""
    require_simulator("icarus")
    _, counters = _run("smp-ipi-storm", "icarus", tmp_path, cpus=32, seed=1)
    smp = counters["smp"]
    assert len(counters["per_cpu"]) == 32
    assert smp["ipi_sent"] == smp["ipi_received"] >= 32 * 31
    assert counters["outcome"] == "done"


def test_mplock_contention_is_counted(tmp_path):
    out, counters = _run("smp-mplock", "verilator", tmp_path, cpus=4, seed=1)
    smp = counters["smp"]
    assert smp["mplock_contended_tries"] > 0 and smp["mplock_hold_cycles"]
    # Hand-offs to waiting CPUs happened; not every acquisition is one (each thread that ends also
    # takes the lock to count itself in the workload's shared end count).
    assert 1 <= sum(n for _, n in smp["mplock_handoff_cycles"]) <= smp["mplock_acquisitions"] - 1
    # The waiter's TRY read completes at least a cycle after the RELEASE write's ack.
    assert smp["mplock_handoff_cycles"][0][0] >= 1
    latency = _latency(out)
    # Seen (default cost model): hand-off median 33 (waiters poll every 16 cycles, each poll a failing
    # lwkt_switch of kernel code), switch median 117.
    assert 1 <= latency["mplock_handoff"]["median"] <= 200, latency["mplock_handoff"]
    assert latency["mplock_handoff"]["median"] <= latency["mplock_handoff"]["p99"] <= latency["mplock_handoff"]["max"]
    assert latency["switch"]["count"] > 0 and MIN_SWITCH_CYCLES <= latency["switch"]["median"] <= 200


def test_mixed_reports_every_latency(tmp_path):
    out, counters = _run("smp-mixed", "verilator", tmp_path, cpus=4, seed=1)
    latency = _latency(out)
    # Seen (4 CPUs, seed 1, default cost model): IPI median 189, token hand-off 283, MP-lock
    # hand-off 98 (three), switch 112 (33 switches).
    for key in ("ipi", "token_handoff", "mplock_handoff", "mplock_hold", "switch"):
        assert latency[key]["count"] > 0 and 1 <= latency[key]["median"] <= latency[key]["max"], (key, latency)
    assert MIN_SWITCH_CYCLES <= latency["switch"]["median"] <= 200
    assert latency["ipi"]["median"] <= 400 and latency["mplock_handoff"]["median"] <= 200
    # A hand-off goes to a CPU already waiting: each one follows a failed TRY of its own.
    assert latency["mplock_handoff"]["count"] <= counters["smp"]["mplock_contended_tries"]
    # Every traced switch is one lwkt_switch made, except those of lwkt_preempt (a switch
    # right after a successful preempt event on the same CPU).
    last: dict[int, dict] = {}
    switched = 0
    for record in (json.loads(line) for line in (out / "trace.jsonl").read_text().splitlines()):
        before = last.get(record["cpu"], {})
        if record["event"] == "switch" and not (before.get("event") == "preempt" and before["result"] == "hit"):
            switched += 1
        last[record["cpu"]] = record
    assert latency["switch"]["count"] == switched
