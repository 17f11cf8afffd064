"""Isolation between CPUs (sim/tb/directed/isolation.py) on Icarus and Verilator.

From every CPU, every access that must not affect another CPU (RELEASE of a lock it
does not own, COMPLETE of sources it did not claim, every write of every per-CPU
window, every read, every illegal access) is tried against a victim CPU in a known
state, once per victim; the victim's whole readable state and its RTL state must not
change. MPLOCK.BUST, the documented fault-recovery path, is tested apart.
"""

import re
import time

import pytest

from sim.host.build import build_soc
from sim.contract.directed import directed_run
from sim.host.runner import run_directed
from tests.conftest import require_simulator

CONFIG = directed_run("isolation").soc
#: Two cocotb tests, each parametrized by the victim CPU.
EXPECTED_TESTS = 2 * CONFIG.ncpu


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_isolation(sim, tmp_path):
    require_simulator(sim)
    build_soc(sim, CONFIG)
    start = time.perf_counter()
    result = run_directed("isolation", sim, tmp_path)
    wall = time.perf_counter() - start
    log = (tmp_path / "sim.log").read_text() if (tmp_path / "sim.log").exists() else ""
    assert result.ok, f"{result.failed} of {result.tests} cocotb tests failed on {sim}:\n{log[-8000:]}"
    assert result.tests == EXPECTED_TESTS
    summary = [line.split("INFO", 1)[-1].strip() for line in log.splitlines() if "ISOLATION" in line]
    assert len(summary) == EXPECTED_TESTS, "every test logs its access count"
    total = sum(int(re.search(r"(\d+) bus accesses", line).group(1)) for line in summary)
    print(f"\n{sim}: {total} bus accesses in {wall:.1f} s of simulator wall time")
    print("\n".join(summary))
