"""The RTL's unit tests and proofs as one run of a campaign: ``pytest tests/hdl``, then for a generated
mutant ``prove --quick``, against the correct design or a hardware mutant.

A hardware mutant (``hdl/mutants.py``) is one small bug planted in the RTL by
``SocConfig(mutant=name)``. :func:`run_unit_tests` runs ``tests/hdl`` with
``LWKT_HW_MUTANT=name`` (the harness builds every SoC with it), or with a generated mutant
of an hdl module (``LWKT_SOURCE_MUTANT``, ``sim/mutation``), stops at the first
failure, and keeps pytest's output as ``pytest.log`` in the run's folder. A generated
mutant the tests pass then meets the proofs (``formal/``, each block's smallest sizes,
about a minute; output in ``proofs.log``): they state what the tests sample. The
unmutated design must pass the same tests and proofs: that is the baseline ``make mutants``
and ``make qualify`` run first, so a check that fails anyway is never counted as a kill.
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

__all__ = ["HW_MUTANTS", "run_unit_tests", "MUTANT_ENV", "UNIT_TESTS", "UNIT_TIMEOUT", "PROOF_COMMAND"]

#: The unit tests, relative to the project's root.
UNIT_TESTS = "tests/hdl"
#: Seconds the unit tests may take; slower is a failure whose outcome is "timeout".
UNIT_TIMEOUT = 600.0

#: The proofs a generated hdl mutant meets after the unit tests: the mutant is loaded first (as
#: tests/conftest.py does for pytest), then every block's smallest sizes are proved.
PROOF_COMMAND = (
    "import sys; from pathlib import Path; from sim.mutation.hook import install_from_environment; "
    "install_from_environment(Path.cwd()); from formal.prove import main; sys.exit(main(sys.argv[1:]))"
)
# prove's line for a property that is not proven ("decoder[ncpu=2,cpu=0] legal-answer FAILED step 3", or
# "BOUNDED 8": no counterexample from reset, but the induction no longer goes through), or for covers.
_PROOF_LINE = re.compile(r"^(\S+ \S+ (?:FAILED.*|BOUNDED \d+)|\S+ covers (\d+)/(\d+) reached.*)$", re.MULTILINE)

# pytest's short summary: "FAILED tests/hdl/test_x.py::test_y[p] - AssertionError ..."
_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)(?: - (.*))?$", re.MULTILINE)


def run_unit_tests(
    mutant: str, out: Path, *, source_mutant: str = "", timeout: float = UNIT_TIMEOUT, proofs: bool = True
) -> dict:
    """Run the unit tests against ``mutant`` ("" for the correct design), writing ``out/pytest.log``;
    ``source_mutant``: a generated mutant of an hdl module instead (sim/mutation, loaded by tests/conftest.py).
    Unless ``proofs`` is False, the correct design and a generated mutant that pass the tests meet the
    proofs too (``out/proofs.log``); a planted hardware mutant is built only by the tests' harness.

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
    done = _run_logged(command, env, timeout, out / "pytest.log")
    if done is None:
        return {"ok": False, "outcome": "timeout", "failed": [], "message": f"timeout after {timeout:g} s"}
    if done.returncode not in (0, 1):  # 1: tests failed; anything else: pytest could not run them
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        raise EnvironmentProblem(f"pytest exited with {done.returncode} on {UNIT_TESTS}: " + " | ".join(tail))
    first = _FAILED.search(done.stdout)
    if done.returncode == 0:
        if proofs and not mutant:
            return _run_proofs(out, env, timeout)
        return {"ok": True, "outcome": "pass", "failed": [], "message": None}
    failed = [first.group(1)] if first else [f"{UNIT_TESTS} (failure not named)"]
    message = " ".join((first.group(2) or "").split())[:200] if first else ""
    return {"ok": False, "outcome": "fail", "failed": failed, "message": message or None}


def _run_proofs(out: Path, env: dict, timeout: float, blocks: tuple[str, ...] = ()) -> dict:
    """``prove --quick`` (of ``blocks``, default all) with the same mutant loaded; a property that fails
    (or a cover no longer reached) is a failure named by its line."""
    command = [sys.executable, "-c", PROOF_COMMAND, *blocks, "--quick", "--out", str(out / "formal")]
    done = _run_logged(command, env, timeout, out / "proofs.log")
    if done is None:
        return {"ok": False, "outcome": "timeout", "failed": [], "message": f"proofs: timeout after {timeout:g} s"}
    if done.returncode == 3:
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:]
        raise EnvironmentProblem("prove could not run: " + " | ".join(tail))
    # Every property of the design is PROVEN (the baseline): one that is not, for the mutant, is a kill.
    bad = [m.group(1) for m in _PROOF_LINE.finditer(done.stdout) if m.group(2) is None or m.group(2) != m.group(3)]
    if done.returncode == 0 and not bad:
        return {"ok": True, "outcome": "pass", "failed": [], "message": None}
    tail = (done.stdout + done.stderr).strip().splitlines()[-1:]
    what = bad[0] if bad else (tail[0] if tail else f"exit code {done.returncode}")
    return {"ok": False, "outcome": "fail", "failed": ["formal/prove.py --quick"], "message": what[:200]}


def _run_logged(command: list[str], env: dict, timeout: float, log: Path) -> subprocess.CompletedProcess | None:
    """Run ``command`` in the project's root, its output into ``log``; None when it outlasted ``timeout``
    (the log then holds what it wrote)."""
    try:
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        log.write_text(_text(exc.stdout) + _text(exc.stderr))
        return None
    log.write_text(done.stdout + done.stderr)
    return done


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
