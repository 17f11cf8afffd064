"""The integrated SoC under cocotb, on Icarus and Verilator, with 1, 2, 4 and 16 CPUs."""

import pytest

from hdl.config import SocConfig
from sim.contract.directed import DirectedRun
from sim.host.runner import run_directed
from tests.conftest import require_simulator


@pytest.mark.parametrize("ncpu", [1, 2, 4, 16])
@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_soc(sim, ncpu, tmp_path):
    require_simulator(sim)
    config = SocConfig(ncpu=ncpu, fifo_depth=8 if ncpu == 16 else 32, ram_words=1024)
    result = run_directed(DirectedRun("soc_checks", "soc_checks", config), sim, tmp_path)
    log = (tmp_path / "sim.log").read_text() if (tmp_path / "sim.log").exists() else ""
    assert result.ok, f"{result.failed} of {result.tests} cocotb tests failed on {sim}:\n{log[-6000:]}"
    assert result.tests == 6
    print(log[-3000:])
