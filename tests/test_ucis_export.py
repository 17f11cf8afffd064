"""UCIS XML export of the functional coverage (sim/coverage/ucis.py, pyucis): round trip, schema, merge,
and pyucis's own report tool reading the files."""

import json
import subprocess
import sys

import pytest

from sim.contract.errors import EXIT_USAGE, UsageError
from sim.coverage.func import MODEL
from sim.coverage.ucis import export_run, main, merge_ucis, read_tests, read_ucis, write_ucis

DESCRIPTIONS = dict(MODEL)
#: A bin of another prefix with no description (the hardware bins may come this way).
HITS = {
    "preempt.hit": 3,
    "interrupt.landed-in.lwkt_switch": 2,
    "interrupt.landed-in.(thread code)": 7,
    "mplock.bust": 1,
    "hw.ipi.fifo-full": 4,
}


def _all(hits):
    return {name: hits.get(name, 0) for name in list(DESCRIPTIONS) + [n for n in hits if n not in DESCRIPTIONS]}


def test_round_trip_and_schema(tmp_path):
    from ucis.xml import validate_ucis_xml

    path = write_ucis(
        HITS,
        DESCRIPTIONS,
        tmp_path / "run.ucis.xml",
        test_name="up-preempt seed 1",
        seed=1,
        sim_cycles=1234,
        wall_seconds=0.5,
    )
    assert validate_ucis_xml(str(path))  # pyucis's ucis.xsd
    assert read_ucis(path) == _all(HITS)
    assert read_tests(path) == [{"name": "up-preempt seed 1", "seed": "1", "ok": True}]
    text = path.read_text()
    assert '<coverpoint name="preempt"' in text and '<coverpoint name="hw"' in text and 'cgName="lwkt_kernel"' in text


def test_merge_sums_hits(tmp_path):
    a = write_ucis(HITS, DESCRIPTIONS, tmp_path / "a.xml", test_name="a", seed=1)
    b = write_ucis(
        {"preempt.hit": 4, "switch.idle": 2, "hw.other": 1},
        DESCRIPTIONS,
        tmp_path / "b.xml",
        test_name="b",
        seed=2,
        ok=False,
    )
    merged = merge_ucis([a, b], tmp_path / "m.xml")
    expected = _all(HITS)
    expected.update({"preempt.hit": 7, "switch.idle": 2, "hw.other": 1})
    assert merged == expected and read_ucis(tmp_path / "m.xml") == expected
    assert [(t["name"], t["ok"]) for t in read_tests(tmp_path / "m.xml")] == [("a", True), ("b", False)]
    with pytest.raises(UsageError):
        merge_ucis([a], a)


def test_pyucis_report_reads_it(tmp_path):
    path = write_ucis(HITS, DESCRIPTIONS, tmp_path / "run.ucis.xml", test_name="t")
    # The ucis command prints a banner on stdout: the report goes to a file.
    subprocess.run(
        [sys.executable, "-m", "ucis", "report", str(path), "-of", "json", "-o", str(tmp_path / "r.json")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    report = json.loads((tmp_path / "r.json").read_text())
    bins = {b["name"]: b["count"] for cg in report["covergroups"] for cp in cg["coverpoints"] for b in cp["bins"]}
    assert bins == _all(HITS)


def test_export_of_a_run_folder_and_bad_files(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "report.json").write_text(json.dumps({"scenario": "up-preempt", "seed": 3, "ok": True, "cycles": 99}))
    (run / "trace.jsonl").write_text(
        json.dumps({"event": "intr_deferred", "in": "lwkt_gettoken", "crit": 1, "tid": 3}) + "\n"
    )
    (run / "counters.json").write_text(json.dumps({"total": {"token_fast": 2}, "hw_coverage": {"intc.claim-none": 1}}))
    path = export_run(run)
    assert path == run / "coverage.ucis.xml"
    hits = read_ucis(path)
    assert hits["interrupt.landed-in.lwkt_gettoken"] == 1 and hits["interrupt.deferred"] == 1
    assert hits["token.local-fast-path"] == 2 and hits["hw.intc.claim-none"] == 1
    assert sum(hits.values()) == 5 and set(hits) == set(MODEL)
    assert read_tests(path)[0]["name"] == "up-preempt seed 3"
    (tmp_path / "bad.xml").write_text("<UCIS/>\n")
    assert main(["--read", str(tmp_path / "bad.xml")]) == EXIT_USAGE
    assert main(["--read", str(tmp_path / "missing.xml")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "not a valid UCIS XML file" in err and "no such UCIS file" in err and "Traceback" not in err
