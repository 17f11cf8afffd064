"""The lwkt_hold/lwkt_rele race tests (sim/tb/directed/hold_rele.py) on both simulators, 2 CPUs.

A sysctl reader on CPU 0 copies a thread of CPU 1 out in two parts and sleeps in a page fault
between them while the thread exits, is reaped (lwkt_wait_free, lwkt_free_thread) and its
structure reused: without hold/rele the record is torn, with them lwkt_wait_free waits.
"""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sim.host.runner import run_directed
from tests.conftest import require_simulator

SIMS = ["icarus", "verilator"]
#: Both cocotb tests: the race without hold/rele, and with them.
EXPECTED = 2


def _passed(results_xml: Path) -> int:
    cases = ET.parse(results_xml).getroot().iter("testcase")
    return sum(
        1
        for case in cases
        if case.find("failure") is None and case.find("error") is None and case.find("skipped") is None
    )


@pytest.mark.xdist_group("hold_rele")
@pytest.mark.parametrize("sim", SIMS)
def test_hold_rele(sim, tmp_path):
    require_simulator(sim)
    result = run_directed("hold_rele", sim, tmp_path)
    log = (tmp_path / "sim.log").read_text() if (tmp_path / "sim.log").exists() else ""
    assert result.ok, f"{result.failed} of {result.tests} cocotb tests failed on {sim}:\n{log[-8000:]}"
    assert _passed(result.results_xml) == EXPECTED, log[-4000:]
