"""The uniprocessor kernel under cocotb (sim/tb/directed/up_kernel.py) on both simulators, and the
check that one workload gives byte-identical event traces on Icarus and Verilator.

Each simulator runs the cocotb module once per pytest session; the trace comparison
reuses those runs (all tests here share an xdist group, so they share a worker).
"""

from pathlib import Path

import pytest

from sim.host import toolchain
from sim.host.runner import CocotbResult, run_directed
from tests.conftest import require_simulator

SIMS = ["icarus", "verilator"]
#: cocotb tests in up_kernel.py, parametrized ones counted per case.
EXPECTED_TESTS = 15

_runs: dict[str, tuple[CocotbResult, Path, str]] = {}


def _run(sim: str, tmp_path_factory) -> tuple[CocotbResult, Path, str]:
    """Run up_kernel on ``sim`` once; returns the result, the reference trace and the log."""
    if sim not in _runs:
        test_dir = tmp_path_factory.mktemp(f"up_kernel_{sim}")
        trace = test_dir / "reference_trace.jsonl"
        result = run_directed("up_kernel", sim, test_dir)
        log_file = test_dir / "sim.log"
        _runs[sim] = (result, trace, log_file.read_text() if log_file.exists() else "")
    return _runs[sim]


@pytest.mark.xdist_group("up_kernel")
@pytest.mark.parametrize("sim", SIMS)
def test_up_kernel(sim, tmp_path_factory):
    require_simulator(sim)
    result, _, log = _run(sim, tmp_path_factory)
    assert result.ok, f"{result.failed} of {result.tests} cocotb tests failed on {sim}:\n{log[-8000:]}"
    assert result.tests == EXPECTED_TESTS


@pytest.mark.xdist_group("up_kernel")
def test_same_trace_on_both_simulators(tmp_path_factory):
    for sim in SIMS:
        try:
            toolchain.activate(sim)
        except toolchain.SimulatorMissing as exc:
            pytest.skip(f"the cross-simulator trace comparison needs both simulators: {exc}")
    traces = {}
    for sim in SIMS:
        _, trace, log = _run(sim, tmp_path_factory)
        assert trace.exists(), f"{sim} wrote no reference trace:\n{log[-4000:]}"
        traces[sim] = trace.read_bytes()
    icarus, verilator = traces["icarus"], traces["verilator"]
    for kind in (b"hardclock", b"interrupt", b"preempt", b"resume", b"intr_deferred", b"thread_reuse"):
        assert b'"event":"%s"' % kind in icarus, f"the reference trace has no {kind.decode()} record"
    if icarus != verilator:
        a, b = icarus.splitlines(), verilator.splitlines()
        first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        pytest.fail(
            f"traces differ first at line {first + 1} ({len(a)} vs {len(b)} lines):\n"
            f"icarus:    {a[first] if first < len(a) else '<end>'}\n"
            f"verilator: {b[first] if first < len(b) else '<end>'}"
        )
