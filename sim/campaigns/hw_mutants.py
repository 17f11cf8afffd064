"""The RTL's unit tests as one run of a campaign: ``pytest tests/hdl`` against the correct design or a
hardware mutant.

A hardware mutant (``hdl/mutants.py``) is one small bug planted in the RTL by
``SocConfig(mutant=name)``. :func:`run_unit_tests` runs ``tests/hdl`` with
``LWKT_HW_MUTANT=name`` (the harness builds every SoC with it), or with a generated mutant
of an hdl module (``LWKT_SOURCE_MUTANT``, ``sim/mutation``), stops at the first
failure, and keeps pytest's output as ``pytest.log`` in the run's folder. The
unmutated design must pass the same tests: that is the baseline ``make mutants``
runs first, so a test that fails anyway is never counted as a kill.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from hdl.mutants import HW_MUTANTS, MUTANT_ENV
from sim.contract.errors import EnvironmentProblem
from sim.contract.paths import PROJECT_ROOT
from sim.mutation.hook import MUTANT_ENV as SOURCE_MUTANT_ENV

__all__ = ["HW_MUTANTS", "run_unit_tests", "MUTANT_ENV", "UNIT_TESTS", "UNIT_TIMEOUT"]

#: The unit tests, relative to the project's root.
UNIT_TESTS = "tests/hdl"
#: Seconds the unit tests may take; slower is a failure whose outcome is "timeout".
UNIT_TIMEOUT = 600.0

# pytest's short summary: "FAILED tests/hdl/test_x.py::test_y[p] - AssertionError ..."
_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)(?: - (.*))?$", re.MULTILINE)


def run_unit_tests(mutant: str, out: Path, *, source_mutant: str = "", timeout: float = UNIT_TIMEOUT) -> dict:
    """Run the unit tests against ``mutant`` ("" for the correct design), writing ``out/pytest.log``;
    ``source_mutant``: a generated mutant of an hdl module instead (sim/mutation, loaded by tests/conftest.py).

    Returns ``{"ok", "outcome", "failed", "message"}``: ``outcome`` is pass, fail or timeout,
    ``failed`` the first failing test id. Raises ``KeyError`` for an unknown mutant (a typo is
    never a kill) and ``EnvironmentProblem`` when pytest itself could not run the tests.
    """
    if mutant and mutant not in HW_MUTANTS:
        raise KeyError(f"unknown hardware mutant {mutant!r}; known: {', '.join(HW_MUTANTS)}")
    if not (PROJECT_ROOT / UNIT_TESTS).is_dir():
        raise EnvironmentProblem(f"the RTL's unit tests ({UNIT_TESTS}) are not here: run them from a checkout")
    out.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pytest", UNIT_TESTS, "-q", "-x", "-p", "no:cacheprovider"]
    env = {k: v for k, v in os.environ.items() if k not in (MUTANT_ENV, SOURCE_MUTANT_ENV)}
    if mutant:
        env[MUTANT_ENV] = mutant
    if source_mutant:
        env[SOURCE_MUTANT_ENV] = source_mutant
    try:
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        (out / "pytest.log").write_text(_text(exc.stdout) + _text(exc.stderr))
        return {"ok": False, "outcome": "timeout", "failed": [], "message": f"timeout after {timeout:g} s"}
    (out / "pytest.log").write_text(done.stdout + done.stderr)
    if done.returncode not in (0, 1):  # 1: tests failed; anything else: pytest could not run them
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        raise EnvironmentProblem(f"pytest exited with {done.returncode} on {UNIT_TESTS}: " + " | ".join(tail))
    first = _FAILED.search(done.stdout)
    if done.returncode == 0:
        return {"ok": True, "outcome": "pass", "failed": [], "message": None}
    failed = [first.group(1)] if first else [f"{UNIT_TESTS} (failure not named)"]
    message = " ".join((first.group(2) or "").split())[:200] if first else ""
    return {"ok": False, "outcome": "fail", "failed": failed, "message": message or None}


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value or ""


if __name__ == "__main__":
    import tempfile

    for name in sys.argv[1:] or HW_MUTANTS:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            r = run_unit_tests(name, Path(tmp))
        verdict = "killed" if not r["ok"] else "SURVIVED"
        print(f"{name:28} {verdict:8} {time.perf_counter() - start:6.1f} s  {r['failed'][:1]}", flush=True)
