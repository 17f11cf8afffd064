"""The uniprocessor kernel's interrupt-side cocotb tests (sim/tb/directed/up_intr.py) on both simulators."""

import pytest

from sim.host.runner import run_directed
from tests.conftest import require_simulator

#: cocotb tests in up_intr.py, parametrized ones counted per case.
EXPECTED_TESTS = 18


@pytest.mark.xdist_group("up_kernel")
@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_up_intr(sim, tmp_path):
    require_simulator(sim)
    result = run_directed("up_intr", sim, tmp_path)
    log = (tmp_path / "sim.log").read_text() if (tmp_path / "sim.log").exists() else ""
    assert result.ok, f"{result.failed} of {result.tests} cocotb tests failed on {sim}:\n{log[-8000:]}"
    assert result.tests == EXPECTED_TESTS
