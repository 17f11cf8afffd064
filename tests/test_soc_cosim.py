"""The integrated SoC under cocotb, on Icarus and Verilator, with 1, 2, 4 and 16 CPUs."""
from pathlib import Path

import pytest

from hdl.config import SocConfig
from sim.host.build import build_soc
from sim.host.runner import run_cocotb
from tests.conftest import require_simulator

COCOTB_DIR = str(Path(__file__).parent / "cocotb")


@pytest.mark.parametrize("ncpu", [1, 2, 4, 16])
@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_soc(sim, ncpu, tmp_path):
    require_simulator(sim)
    config = SocConfig(ncpu=ncpu, fifo_depth=8 if ncpu == 16 else 32, ram_words=1024)
    build = build_soc(sim, config)
    result = run_cocotb(build, "soc_checks", test_dir=tmp_path, python_path=[COCOTB_DIR])
    log = (tmp_path / "sim.log").read_text() if (tmp_path / "sim.log").exists() else ""
    assert result.ok, f"{result.failed} of {result.tests} cocotb tests failed on {sim}:\n{log[-6000:]}"
    assert result.tests == 6
    print(log[-3000:])
