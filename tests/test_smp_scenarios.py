"""The SMP scenarios through `lwkt-soc run`, on both simulators, with their run-time checks."""
import json

import pytest

from sim.run import run_scenario
from tests.conftest import require_simulator

SMP_SCENARIOS = ["smp-pingpong", "smp-ipi-storm", "smp-mplock", "smp-mixed"]


def _run(name, sim, tmp_path, **kwargs):
    out = tmp_path / f"{name}-{sim}-{kwargs.get('cpus')}-{kwargs.get('fifo_depth', 32)}"
    code = run_scenario(name, sim=sim, out=out, quiet=True, **kwargs)
    counters = json.loads((out / "counters.json").read_text())
    failed = [c for c in counters["checks"] if not c["ok"]]
    assert code == 0 and not failed, f"{name} on {sim}: {failed or counters.get('panic')}"
    return out, counters


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
        assert {"WOF and ROE stay clear", "every IPI delivered exactly once, in order",
                "no thread waits forever after being signalled"} <= check_names
        outs[sim] = out
    assert (outs["verilator"] / "trace.jsonl").read_bytes() == (outs["icarus"] / "trace.jsonl").read_bytes(), \
        "the same scenario and seed gave different traces on the two simulators"


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
    assert smp["token_handoff_cycles"] and min(smp["token_handoff_cycles"]) > 0
    assert smp["mplock_acquisitions"] > 0 and "mplock_contended_tries" in smp
    assert len(counters["per_cpu"]) == 8


def test_mplock_contention_is_counted(tmp_path):
    _, counters = _run("smp-mplock", "verilator", tmp_path, cpus=4, seed=1)
    smp = counters["smp"]
    assert smp["mplock_contended_tries"] > 0 and smp["mplock_hold_cycles"]
