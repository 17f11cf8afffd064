"""The uniprocessor kernel's interrupt-side cocotb tests (tests/cocotb/up_intr.py) on both simulators."""
from pathlib import Path

import pytest

from hdl.config import SocConfig
from sim.host.build import build_soc
from sim.host.runner import run_cocotb
from tests.conftest import require_simulator

COCOTB_DIR = str(Path(__file__).parent / "cocotb")
UP_CONFIG = SocConfig(ncpu=1, fifo_depth=4, ram_words=256, ext_lines=4)
#: cocotb tests in up_intr.py, parametrized ones counted per case.
EXPECTED_TESTS = 12


@pytest.mark.xdist_group("up_kernel")
@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_up_intr(sim, tmp_path):
    require_simulator(sim)
    build = build_soc(sim, UP_CONFIG)
    result = run_cocotb(build, "up_intr", test_dir=tmp_path, python_path=[COCOTB_DIR])
    log = (tmp_path / "sim.log").read_text() if (tmp_path / "sim.log").exists() else ""
    assert result.ok, f"{result.failed} of {result.tests} cocotb tests failed on {sim}:\n{log[-8000:]}"
    assert result.tests == EXPECTED_TESTS
