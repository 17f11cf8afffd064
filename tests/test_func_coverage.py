"""Functional coverage (sim/func_coverage.py): the bins read the trace, the runner writes its outputs and
merges earlier coverage. A small version of `make coverage` (two random seeds)."""
import json

from sim.func_coverage import BINS, bins_hit, main


def test_bins_read_the_records_they_name():
    records = [
        {"event": "preempt", "result": "miss", "pri": 12, "target_pri": 27, "crit": 2, "critpri": 1, "cpu": 0,
         "target_cpu": 0, "mpheld": None, "tried": None, "tid": 3},
        {"event": "preempt", "result": "hit", "pri": 12, "target_pri": 27, "crit": 1, "critpri": 1, "cpu": 0,
         "target_cpu": 0, "mpheld": True, "tried": None, "tid": 3},
        {"event": "intr_deferred", "in": "lwkt_gettoken", "crit": 1, "tid": 3},
        {"event": "block_skipped", "wait": "q", "gen": 1, "wa_gen": 2, "tid": 3},
        {"event": "pick", "to": 1, "idle": 1, "tid": 3, "preempted": None, "tried": False},
        {"event": "mark", "label": "nothing"},
    ]
    hits = bins_hit(records)
    assert hits == {"preempt.miss-critpri": 1, "preempt.hit": 1, "preempt.lend-mpcount": 1,
                    "interrupt.landed-in.lwkt_gettoken": 1, "interrupt.deferred": 1, "wait.lost-wakeup-window": 1, "switch.mp-fallback": 1,
                    "switch.idle": 1}, hits


def test_make_coverage_small(tmp_path, capsys):
    first = tmp_path / "first"
    main(["--seeds", "1", "--out", str(first)])
    out = capsys.readouterr().out
    result = json.loads((first / "coverage.json").read_text())
    assert result["total"] == len(BINS) and 0 < result["covered"] < result["total"]
    assert result["curve"] == sorted(result["curve"]) and len(result["curve"]) == 9
    assert f"functional coverage: {result['covered']}/{len(BINS)} bins" in out
    assert (first / "coverage.png").stat().st_size > 0 and "**not hit**" in (first / "coverage.md").read_text()
    assert result["bins"]["preempt.hit"]["first"] == "up-preempt seed 1"
    # Merging: the earlier hits are added to the new runs' (here the named scenarios alone).
    second = tmp_path / "second"
    main(["--seeds", "0", "--merge", str(first / "coverage.json"), "--out", str(second)])
    merged = json.loads((second / "coverage.json").read_text())
    assert merged["covered"] >= result["covered"]
    assert merged["bins"]["mplock.contended"]["hits"] > result["bins"]["mplock.contended"]["hits"] > 0
    assert merged["bins"]["preempt.hit"]["first"] == "up-preempt seed 1"
