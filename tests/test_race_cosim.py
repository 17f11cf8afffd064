"""The race detector's cocotb tests (sim/tb/directed/race.py) on a 2-CPU SoC, both simulators."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sim.host.runner import run_directed
from tests.conftest import require_simulator

#: cocotb tests in race.py, all of which must pass.
TESTS = 2


def _passed(results_xml: Path) -> int:
    cases = ET.parse(results_xml).getroot().iter("testcase")
    return sum(
        1
        for case in cases
        if case.find("failure") is None and case.find("error") is None and case.find("skipped") is None
    )


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_race_detector_on_rtl(sim, tmp_path):
    require_simulator(sim)
    result = run_directed("race", sim, tmp_path)
    log = (tmp_path / "sim.log").read_text() if (tmp_path / "sim.log").exists() else ""
    assert result.ok, f"{result.failed} of {result.tests} cocotb tests failed on {sim}:\n{log[-8000:]}"
    assert _passed(result.results_xml) == TESTS, log[-4000:]
