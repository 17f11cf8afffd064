"""The run timeline (sim/reports/timeline.py): interval reconstruction, IPI matching and the PNG."""

import json

import matplotlib.image
import pytest

from sim.reports.timeline import Interval, IpiArrow, idle_threads, match_ipis, render_timeline, run_intervals


def _rec(cycle, cpu, tid, thread, event, **fields):
    return {"cycle": cycle, "cpu": cpu, "tid": tid, "thread": thread, "event": event, **fields}


# Two CPUs: idle0 (#1) and idle1 (#2). cpu0 runs worker (#3), is preempted by ithread0 (#4)
# after an external interrupt, sends an IPI to cpu1 and panics; cpu1 runs helper (#5).
TRACE = [
    _rec(5, 1, 2, "idle1", "thread_create", target=5, name="helper", pri=12),
    _rec(8, 0, 1, "idle0", "thread_create", target=3, name="worker", pri=10),
    _rec(10, 0, 1, "idle0", "switch", to=3, to_thread="worker", to_pri=10),
    _rec(20, 1, 2, "idle1", "switch", to=5, to_thread="helper", to_pri=12),
    _rec(40, 0, 3, "worker", "interrupt", source=3),
    _rec(40, 0, 3, "worker", "preempt", target=4, result="hit"),
    _rec(41, 0, 3, "worker", "switch", to=4, to_thread="ithread0", to_pri=28),
    _rec(50, 1, 5, "helper", "switch", to=2, to_thread="idle1", to_pri=0),
    _rec(60, 0, 4, "ithread0", "switch", to=3, to_thread="worker", to_pri=10),
    _rec(61, 0, 3, "worker", "resume", preemptor=4),
    _rec(70, 0, 3, "worker", "ipi_send", dest=1, func="lwkt_schedule_remote", seq=1),
    _rec(73, 1, 2, "idle1", "interrupt", source=0),
    _rec(75, 1, 2, "idle1", "ipi_receive", source=0, func="lwkt_schedule_remote"),
    _rec(80, 1, 2, "idle1", "switch", to=5, to_thread="helper", to_pri=12),
    _rec(85, 1, 5, "helper", "interrupt", source=1),
    _rec(95, 0, 3, "worker", "panic", message="lwkt_exit: nothing to switch to"),
]

EXPECTED = [
    [
        Interval(0, 10, 1, "idle0", 0),
        Interval(10, 41, 3, "worker", 10),
        Interval(41, 60, 4, "ithread0", 28),
        Interval(60, 100, 3, "worker", 10),
    ],
    [
        Interval(0, 20, 2, "idle1", 0),
        Interval(20, 50, 5, "helper", 12),
        Interval(50, 80, 2, "idle1", 0),
        Interval(80, 100, 5, "helper", 12),
    ],
]

COUNTERS = {
    "outcome": "panic",
    "scenario": "synthetic",
    "seed": 7,
    "mode": "smp",
    "cycles": 95,
    "panic": {"message": "lwkt_exit: nothing to switch to", "cpu": 0, "thread": "worker", "tid": 3, "cycle": 95},
    "per_cpu": [{"cpu": 0}, {"cpu": 1}],
    "checks": [{"name": "no panic", "ok": False, "detail": "panic"}],
}


def _write_run(directory, records=TRACE, counters=COUNTERS):
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "trace.jsonl", "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    (directory / "counters.json").write_text(json.dumps(counters))
    return directory


def test_intervals_follow_the_switches():
    assert run_intervals(TRACE, 2, 100) == EXPECTED
    # the tuples are plain (start, end, tid, name, pri)
    assert run_intervals(TRACE, 2, 100)[0][1] == (10, 41, 3, "worker", 10)


def test_idle_thread_runs_before_the_first_switch_and_on_quiet_cpus():
    assert idle_threads(TRACE, 3) == {0: (1, "idle0"), 1: (2, "idle1"), 2: (0, "idle2")}
    lanes = run_intervals(TRACE, 3, 100)
    assert lanes[2] == [Interval(0, 100, 0, "idle2", 0)]
    assert run_intervals([], 1, 50) == [[Interval(0, 50, 0, "idle0", 0)]]


def test_empty_intervals_are_left_out():
    records = TRACE[:3] + [
        _rec(10, 0, 3, "worker", "switch", to=6, to_thread="blip", to_pri=20),
        _rec(30, 0, 6, "blip", "switch", to=3, to_thread="worker", to_pri=10),
    ]
    assert run_intervals(records, 1, 40) == [
        [Interval(0, 10, 1, "idle0", 0), Interval(10, 30, 6, "blip", 20), Interval(30, 40, 3, "worker", 10)]
    ]
    # a switch at the very end leaves no empty interval behind either
    assert run_intervals(records, 1, 30)[0][-1] == Interval(10, 30, 6, "blip", 20)


def test_ipis_pair_in_order_per_source_and_destination():
    arrows, lost = match_ipis(TRACE)
    assert arrows == [IpiArrow(0, 70, 1, 75, "lwkt_schedule_remote")]
    assert lost == []
    records = [
        _rec(10, 0, 1, "a", "ipi_send", dest=1, func="f", seq=1),
        _rec(11, 2, 3, "c", "ipi_send", dest=1, func="h", seq=1),
        _rec(12, 0, 1, "a", "ipi_send", dest=1, func="g", seq=2),
        _rec(15, 1, 2, "b", "ipi_receive", source=0, func="f"),
        _rec(16, 1, 2, "b", "ipi_receive", source=0, func="g"),
        _rec(17, 0, 1, "a", "ipi_send", dest=1, func="k", seq=3),
    ]
    arrows, lost = match_ipis(records)
    assert arrows == [IpiArrow(0, 10, 1, 15, "f"), IpiArrow(0, 12, 1, 16, "g")]
    assert [(s["cpu"], s["func"]) for s in lost] == [(2, "h"), (0, "k")]


def test_render_writes_a_png(tmp_path):
    run = _write_run(tmp_path / "run")
    path = render_timeline(run)
    assert path == run / "timeline.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    assert 800 <= width <= 4000 and 200 <= height <= 2000
    assert image.std() > 0.05  # not a blank canvas


def test_render_to_another_path_and_thin_out_arrows(tmp_path):
    records = [_rec(1, 0, 1, "idle0", "thread_create", target=3, name="t", pri=10)]
    for i in range(400):
        records.append(_rec(10 + 5 * i, i % 4, 1, "idle", "ipi_send", dest=(i + 1) % 4, func="f", seq=i))
        records.append(_rec(12 + 5 * i, (i + 1) % 4, 1, "idle", "ipi_receive", source=i % 4, func="f"))
    counters = {
        "outcome": "done",
        "scenario": "many-ipis",
        "seed": 1,
        "mode": "smp",
        "cycles": 2020,
        "panic": None,
        "per_cpu": [{"cpu": c} for c in range(4)],
        "checks": [],
    }
    run = _write_run(tmp_path / "run", records, counters)
    out = render_timeline(run, tmp_path / "pictures" / "t.png", max_arrows=50)
    assert out == tmp_path / "pictures" / "t.png"
    assert matplotlib.image.imread(out).shape[1] >= 800
    assert not (run / "timeline.png").exists()


def test_missing_trace_is_an_error(tmp_path):
    from sim.contract.errors import UsageError

    with pytest.raises(UsageError, match="holds no trace.jsonl"):
        render_timeline(tmp_path)


def test_arrows_are_thinned_per_pair_and_capped():
    from sim.reports.timeline import _thin_out

    arrows = [IpiArrow(i % 4, 10 * i, (i + 1) % 4, 10 * i + 3, "f") for i in range(400)]
    kept, step = _thin_out(arrows, 50)
    assert len(kept) <= 50 and step > 1
    assert {(a.source, a.dest) for a in kept} == {(0, 1), (1, 2), (2, 3), (3, 0)}
    assert _thin_out(arrows[:10], 50) == (arrows[:10], 1)
    many_pairs = [IpiArrow(s, s, d, s + 1, "f") for s in range(16) for d in range(16) if s != d]
    assert len(_thin_out(many_pairs, 100)[0]) <= 100
