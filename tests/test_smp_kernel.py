"""The SMP kernel's directed tests (sim/tb/directed/smp_kernel.py, smp_kernel_mp.py, smp_kernel_ipiq.py,
interleavings.py, migration.py, watchdog.py) on both simulators.

Seven runs per simulator (sim/contract/directed.py):
- smp_kernel and smp_kernel_mp on 2 CPUs (default FIFO depth and RAM): everything but the 4-CPU test;
- smp_kernel's 4-CPU tests (a wake-up forwarded by the wait queue's token owner; a message that
  arrives during a pass of lwkt_process_ipiq) on 4 CPUs;
- smp_kernel_ipiq on 2 CPUs with 4-entry IPI FIFOs (bursts that pass the half-full mark);
- interleavings on the same build: interrupts timed into the windows of crit_exit, get_mplock,
  rel_mplock, a remote lwkt_gettoken, lwkt_send_ipiq's drain at FIFO full and lwkt_switch's
  MP-lock hand-over;
- migration on 4 CPUs: a thread moved twelve times round the CPUs by lwkt_acquire;
- watchdog on 4 CPUs: the MP-lock watchdog keeps a busy owner's lock, frees a stopped one's, and
  a BUST of a live CPU stops the run.
"""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sim.host.runner import run_directed
from tests.conftest import require_simulator

SIMS = ["icarus", "verilator"]

#: directed run (sim/contract/directed.py) -> tests that must pass
RUNS = {
    "smp_kernel": 20,
    "smp_kernel_mp": 10,
    "smp_kernel-4cpu": 2,
    "smp_kernel_ipiq": 6,
    "interleavings": 9,
    "migration": 1,
    "watchdog": 4,
}


def _passed(results_xml: Path) -> int:
    cases = ET.parse(results_xml).getroot().iter("testcase")
    return sum(
        1
        for case in cases
        if case.find("failure") is None and case.find("error") is None and case.find("skipped") is None
    )


@pytest.mark.xdist_group("smp_kernel")
@pytest.mark.parametrize("run", list(RUNS))
@pytest.mark.parametrize("sim", SIMS)
def test_smp_kernel(sim, run, tmp_path):
    require_simulator(sim)
    expected = RUNS[run]
    result = run_directed(run, sim, tmp_path)
    log = (tmp_path / "sim.log").read_text() if (tmp_path / "sim.log").exists() else ""
    assert result.ok, f"{result.failed} of {result.tests} cocotb tests failed on {sim} ({run}):\n{log[-8000:]}"
    assert _passed(result.results_xml) == expected, log[-4000:]
