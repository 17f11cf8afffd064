"""Hardware mutants against the HDL unit tests.

A hardware mutant (``hdl/mutants.py``) is one small bug planted in the RTL by
``SocConfig(mutant=name)``. :func:`run_hw_mutant` runs ``tests/hdl`` with
``LWKT_HW_MUTANT=name`` (the harness builds every SoC with it) and stops at the
first failure: the mutant is killed when the suite fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from hdl.mutants import HW_MUTANTS, MUTANT_ENV
from sim.contract.paths import PROJECT_ROOT

__all__ = ["HW_MUTANTS", "run_hw_mutant", "MUTANT_ENV"]


# pytest's short summary: "FAILED tests/hdl/test_x.py::test_y[p] - AssertionError ..."
_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


def run_hw_mutant(name: str, *, timeout: float = 600) -> dict:
    """Run the HDL unit tests against mutant ``name``.

    Returns ``{"name", "killed", "by", "seconds"}``; ``by`` is the first failing
    test id ('' when the mutant survived). A suite that does not finish within
    ``timeout`` seconds counts as killed, by "timeout". Raises ``KeyError`` for
    an unknown mutant (so that a typo is never counted as a kill) and
    ``RuntimeError`` when pytest itself could not run the tests.
    """
    if name not in HW_MUTANTS:
        raise KeyError(f"unknown hardware mutant {name!r}; known: {', '.join(HW_MUTANTS)}")
    command = [sys.executable, "-m", "pytest", "tests/hdl", "-q", "-x", "-p", "no:cacheprovider"]
    env = dict(os.environ, **{MUTANT_ENV: name})
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {
            "name": name,
            "killed": True,
            "by": f"timeout after {timeout:g} s",
            "seconds": round(time.perf_counter() - start, 1),
        }
    seconds = round(time.perf_counter() - start, 1)
    if done.returncode not in (0, 1):  # 1: tests failed; anything else: pytest could not run them
        tail = (done.stdout + done.stderr).strip().splitlines()[-5:]
        raise RuntimeError(f"pytest exited with {done.returncode} for mutant {name}: " + " | ".join(tail))
    first = _FAILED.search(done.stdout)
    by = first.group(1) if first else ("" if done.returncode == 0 else "tests/hdl (failure not named)")
    return {"name": name, "killed": done.returncode == 1, "by": by, "seconds": seconds}


if __name__ == "__main__":
    for mutant in sys.argv[1:] or HW_MUTANTS:
        r = run_hw_mutant(mutant)
        print(
            f"{r['name']:28} {'killed' if r['killed'] else 'SURVIVED':8} {r['seconds']:6.1f} s  {r['by']}", flush=True
        )
