"""A sample of the mutation catalogue in CI (`make mutants` runs all of it): each planted bug is caught.

Firmware: the kill suite (named scenarios, random workloads, the kernel's directed cocotb tests) with
one random seed, for a spread of the catalogue, through `python -m sim.campaigns.mutants`. Hardware: two
mutants against the HDL unit tests. The full figures are in docs/mutants.md.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.bugs import BUGS, Bug
from sim.contract.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent


def _mutants(tmp_path, *options, timeout=1500):
    return subprocess.run(
        [sys.executable, "-m", "sim.campaigns.mutants", *options, "--out", str(tmp_path), "--db", str(tmp_path / "db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_sample_of_firmware_mutants_is_killed_on_the_campaign_engine(tmp_path):
    options = ("--no-hardware", "--sample", "4", "--seeds", "1", "--jobs", "1")
    result = _mutants(tmp_path, *options)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "mutants: 4/4 killed (100 %)" in result.stdout
    summary = json.loads((tmp_path / "mutants.json").read_text())
    assert [m["name"] for m in summary["mutants"]] == list(BUGS)[:: len(BUGS) // 4][:4]
    assert all(m["killed"] and m["by"] for m in summary["mutants"])
    assert "| firmware |" in (tmp_path / "mutants.md").read_text()
    # Every run is in the results database; the baseline ran whole and passed; a mutant's first failure
    # stops its suite: on one worker, at most the run that had already started is recorded after it.
    from sim.campaigns.mutants import mutation_runs
    from sim.campaigns.results_db import ResultsDB

    db = ResultsDB(tmp_path / "db", create=False)
    rows = db.rows("SELECT bug, kind, status, recorded FROM runs WHERE campaign = 'mutants' ORDER BY recorded")
    suite = len(mutation_runs([], [], 1).runs)
    baseline = [r for r in rows if r["bug"] == ""]
    assert len(baseline) == suite and all(r["status"] == "pass" for r in baseline)
    assert {r["kind"] for r in baseline} == {"scenario", "directed"}
    for mutant in summary["mutants"]:
        mine = [r["status"] for r in rows if r["bug"] == mutant["name"]]
        first = next(i for i, status in enumerate(mine) if status != "pass")
        assert len(mine) - first - 1 <= 1 and len(mine) <= suite, (mutant["name"], mine)
    db.close()
    # Asked again at the same sources, nothing runs: the verdicts come from the database.
    again = _mutants(tmp_path, *options, timeout=300)
    assert again.returncode == 0 and ", 0 to run" in again.stdout, again.stdout[-2000:]
    assert json.loads((tmp_path / "mutants.json").read_text())["mutants"] == summary["mutants"]


def test_two_hardware_mutants_are_killed_by_the_hdl_tests(tmp_path):
    from sim.campaigns.hw_mutants import run_unit_tests

    for name, where in (("arbiter-starve", "test_arbiter.py"), ("decoder-accepts-unmapped", "test_decoder.py")):
        result = run_unit_tests(name, tmp_path / name)
        assert not result["ok"] and result["outcome"] == "fail" and where in result["failed"][0], result
        assert where in (tmp_path / name / "pytest.log").read_text()
    with pytest.raises(KeyError, match="unknown hardware mutant"):
        run_unit_tests("nope", tmp_path)


def test_the_mutant_runner_refuses_an_unknown_name(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sim.campaigns.mutants", "--no-hardware", "--only", "nope", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "unknown mutant 'nope'" in result.stderr


def test_no_mutant_is_on_by_default():
    from firmware.system import System
    from tests.standin_core import StandinCore, _Trace

    system = System([StandinCore()], mode="up", trace=_Trace())
    assert system.bugs == frozenset() and not any(system.bug(bug) for bug in Bug)


def test_the_kernel_names_planted_bugs_through_the_enum_and_plants_each_one():
    """Every ``system.bug(...)`` of the firmware passes a member of Bug that exists, and each member
    has a site: a misspelled name cannot silently never match."""
    import ast

    from firmware.system import System
    from tests.standin_core import StandinCore, _Trace

    used = set()
    for path in (ROOT / "firmware").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "bug":
                [arg] = node.args
                assert isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "Bug", (
                    f"{path}:{node.lineno}: system.bug takes a Bug member"
                )
                assert arg.attr in Bug.__members__, f"{path}:{node.lineno}: no Bug.{arg.attr}"
                used.add(Bug[arg.attr])
    assert used == set(Bug), f"planted bugs with no site in the firmware: {set(Bug) - used}"
    system = System([StandinCore()], mode="up", trace=_Trace(), bugs=frozenset({"no-rotate"}))
    assert system.bug(Bug.NO_ROTATE) and not system.bug(Bug.ENQUEUE_HEAD)
    with pytest.raises(TypeError):
        system.bug("no-rotate")
    with pytest.raises(ValueError, match="unknown planted bug 'no-rotat'"):
        System([StandinCore()], mode="up", trace=_Trace(), bugs=frozenset({"no-rotat"}))


def test_a_qualification_sample_of_generated_firmware_mutants(tmp_path):
    """Two generated firmware mutants through the kill suite on the campaign engine: each gets a verdict,
    a kill names its run and its kind of failure, and the run ends with the qualification line."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.campaigns.qualify",
            "--no-hardware",
            "--sample",
            "2",
            "--sample-seed",
            "3",
            "--seeds",
            "0",
            "--jobs",
            "2",
            "--out",
            str(tmp_path),
            "--db",
            str(tmp_path / "db"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((tmp_path / "qualify.json").read_text())
    line = summary["line"]
    assert re.fullmatch(r"qualification: firmware \d/2 killed \(\d+ %, ±\d+\), 0 equivalent", line), line
    assert line in result.stdout
    assert [m["kind"] for m in summary["mutants"]] == ["firmware", "firmware"]
    for m in summary["mutants"]:
        assert m["verdict"] in ("killed", "survived") and m["id"].startswith("firmware/")
        assert (m["verdict"] == "killed") == bool(m["by"]) == bool(m["failure"]), m
    from sim.campaigns.results_db import ResultsDB

    rows = ResultsDB(tmp_path / "db", create=False).rows("SELECT DISTINCT source_mutant FROM runs")
    assert {r[0] for r in rows} == {""} | {m["id"] for m in summary["mutants"]}


def test_a_generated_hdl_mutant_reaches_the_unit_tests(tmp_path):
    """The unit tests' conftest loads LWKT_SOURCE_MUTANT's module in place of the real one: the MP lock with
    its first RTL condition negated fails its own tests."""
    from sim.campaigns.hw_mutants import run_unit_tests
    from sim.mutation import generate

    [mutant] = [m for m in generate(ROOT / "hdl" / "mplock.py", ROOT) if m.operator == "negate-rtl-condition"][:1]
    result = run_unit_tests("", tmp_path, source_mutant=mutant.id)
    assert not result["ok"] and result["outcome"] == "fail", result
    assert (tmp_path / "pytest.log").exists()


def test_a_generated_hdl_mutant_the_unit_tests_miss_meets_the_proofs(tmp_path):
    """A tile that answers a write with dat_r = 1 (the contract says 0) passes the unit tests, which read
    dat_r only on a read's ack; the decoder's proof (legal-answer) fails on it, and not on the design."""
    from sim.campaigns.hw_mutants import _run_proofs
    from sim.mutation import generate

    source = (ROOT / "hdl" / "tile.py").read_text().splitlines()
    [mutant] = [
        m
        for m in generate(ROOT / "hdl" / "tile.py", ROOT)
        if m.operator == "int-plus-one" and "bus.dat_r.eq(Mux(done & ~bus.we, rdata, 0))" in source[m.line - 1]
    ]
    env = {k: v for k, v in os.environ.items() if k != "LWKT_SOURCE_MUTANT"}
    assert _run_proofs(tmp_path / "design", env, 600, ("decoder",))["ok"]
    result = _run_proofs(tmp_path / "mutant", {**env, "LWKT_SOURCE_MUTANT": mutant.id}, 600, ("decoder",))
    assert not result["ok"] and result["outcome"] == "fail", result
    assert "legal-answer FAILED" in result["message"], result
    assert "legal-answer FAILED" in (tmp_path / "mutant" / "proofs.log").read_text()


def test_the_same_sample_is_found_again_after_its_lines_moved(tmp_path):
    """--same-as: an earlier sample's mutants are found in today's sources by id, or, once lines above
    them moved and their ids went stale, by file, function, operator and change, nearest the old line."""
    from sim.campaigns.qualify import population, same_sample

    everything = population()
    a, b = everything["firmware"][10], everything["hdl"][5]
    file, line, col, operator, k, digest = a.id.rsplit(":", 5)
    moved = f"{file}:{int(line) + 3}:{col}:{operator}:{k}:{digest}"  # as if three lines were added above
    old = [
        {
            "kind": "firmware",
            "id": moved,
            "function": a.function,
            "operator": a.operator,
            "change": f"{a.original} → {a.replacement}",
        },
        {"kind": "hdl", "id": b.id, "function": b.function, "operator": b.operator, "change": "whatever"},
        {
            "kind": "hdl",
            "id": "hdl/gone.py:1:0:int-plus-one:0:00000000",
            "function": "f",
            "operator": "int-plus-one",
            "change": "1 → 2",
        },
    ]
    previous = tmp_path / "qualify.json"
    previous.write_text(json.dumps({"mutants": old}))
    sample, lost = same_sample(previous, everything)
    assert sample["firmware"] == [a] and sample["hdl"] == [b]
    assert lost == ["hdl/gone.py:1:0:int-plus-one:0:00000000"]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(UsageError, match="not the qualify.json"):
        same_sample(tmp_path / "bad.json", everything)
