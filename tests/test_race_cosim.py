"""The race detector's cocotb tests (tests/cocotb/race.py) on a 2-CPU SoC, both simulators."""
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hdl.config import SocConfig
from sim.host.build import build_soc
from sim.host.runner import run_cocotb
from tests.conftest import require_simulator

COCOTB_DIR = str(Path(__file__).parent / "cocotb")
#: cocotb tests in race.py, all of which must pass.
TESTS = 2


def _passed(results_xml: Path) -> int:
    cases = ET.parse(results_xml).getroot().iter("testcase")
    return sum(1 for case in cases if case.find("failure") is None and case.find("error") is None
               and case.find("skipped") is None)


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_race_detector_on_rtl(sim, tmp_path):
    require_simulator(sim)
    build = build_soc(sim, SocConfig(ncpu=2))
    result = run_cocotb(build, "race", test_dir=tmp_path, python_path=[COCOTB_DIR])
    log = (tmp_path / "sim.log").read_text() if (tmp_path / "sim.log").exists() else ""
    assert result.ok, f"{result.failed} of {result.tests} cocotb tests failed on {sim}:\n{log[-8000:]}"
    assert _passed(result.results_xml) == TESTS, log[-4000:]
