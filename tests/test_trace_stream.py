"""The streamed trace of ``lwkt-soc run`` (sim/contract/trace.py): the same file as the in-memory trace,
memory bounded by one cycle's records, and what a crash or a full disk leaves."""

from __future__ import annotations

import errno
import json
import random

import pytest

from sim.contract.trace import StreamedTrace, Trace, read_trace, salvage_spool, spool_path


def _emissions(seed: int, n: int = 2000, late: bool = False) -> list[tuple]:
    """Records as a simulator makes them: cycles never go back, several CPUs in the same cycle in any order."""
    rng, cycle, out = random.Random(seed), 0, []
    for i in range(n):
        cycle += rng.choice([0, 0, 1, 3, 17])
        out.append((cycle, rng.randrange(4), i, f"t{i % 7}", rng.choice(["pick", "switch", "mark"]), {"n": i}))
    if late:  # one record for a cycle already written (never made by today's kernel; still kept in order)
        out.insert(n // 2, (out[n // 4][0], 3, 99999, "late", "mark", {"n": -1}))
    return out


def _write_both(tmp_path, emissions):
    memory, streamed = Trace(), StreamedTrace(tmp_path / "s" / "trace.jsonl")
    biggest = 0
    for cycle, cpu, tid, thread, event, fields in emissions:
        memory.emit(cycle, cpu, tid, thread, event, **fields)
        streamed.emit(cycle, cpu, tid, thread, event, **fields)
        biggest = max(biggest, len(streamed.records))
    memory.write_jsonl(tmp_path / "m.jsonl")
    return memory, streamed, biggest


@pytest.mark.parametrize("late", [False, True], ids=["in-cycle-order", "a-late-record"])
def test_the_streamed_file_is_the_in_memory_file_and_memory_holds_one_cycle(tmp_path, late):
    emissions = _emissions(5, late=late)
    memory, streamed, biggest = _write_both(tmp_path, emissions)
    per_cycle = max(sum(1 for e in emissions if e[0] == c) for c in {e[0] for e in emissions})
    if not late:
        assert biggest <= per_cycle  # what waits in memory: the current cycle's records only
    assert list(streamed.sorted_records()) == memory.sorted_records()  # read back while the run goes on
    assert streamed.events("mark", thread="t3") == memory.events("mark", thread="t3")
    streamed.write_jsonl(tmp_path / "s" / "trace.jsonl")
    assert (tmp_path / "s" / "trace.jsonl").read_bytes() == (tmp_path / "m.jsonl").read_bytes()
    assert not spool_path(tmp_path / "s" / "trace.jsonl").exists()


def test_a_crash_leaves_the_trace_up_to_the_last_flush_in_whole_lines(tmp_path):
    final = tmp_path / "trace.jsonl"
    trace = StreamedTrace(final)
    for cycle in range(100):
        trace.emit(cycle, 0, 1, "a", "mark", label=str(cycle))
    trace.flush()  # the progress tick: cycles 0..98 reach the disk; 99 is the current cycle
    with open(spool_path(final), "a") as f:
        f.write('{"cycle":99,"cpu":0,"ti')  # the simulator died in the middle of a write
    assert salvage_spool(final) == 99
    records = read_trace(final)
    assert [r["cycle"] for r in records] == list(range(99))
    assert not spool_path(final).exists()
    assert salvage_spool(tmp_path / "none.jsonl") is None


class _FullDisk:
    def writelines(self, lines):
        raise OSError(errno.ENOSPC, "No space left on device")

    flush = close = lambda self: None


def test_a_full_disk_stops_the_spool_and_names_the_final_file(tmp_path):
    final = tmp_path / "trace.jsonl"
    trace = StreamedTrace(final)
    trace._file.close()
    trace._file = _FullDisk()
    for cycle in range(10):  # the kernel goes on emitting: the error waits for the end
        trace.emit(cycle, 0, 1, "a", "mark")
    trace.flush()
    with pytest.raises(OSError) as reading:  # a check may not judge half a trace
        list(trace.sorted_records())
    assert reading.value.filename == str(final)
    with pytest.raises(OSError) as raised:
        trace.write_jsonl(final)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(final)
    assert not final.exists() and not spool_path(final).exists()


def test_the_run_folder_clears_a_dead_runs_spool_and_snapshot(tmp_path):
    from sim.contract.outdir import SNAPSHOT_FILE, RunFolder

    spool_path(tmp_path / "trace.jsonl").write_text("{}\n")
    (tmp_path / SNAPSHOT_FILE).write_text(json.dumps({}))
    with RunFolder(tmp_path, "test") as folder:
        folder.clear()
    assert not spool_path(tmp_path / "trace.jsonl").exists() and not (tmp_path / SNAPSHOT_FILE).exists()


def test_latency_samples_are_a_histogram_and_spread_reads_it_as_the_plain_samples():
    from sim.checks.stats import Samples
    from sim.reports.report import spread

    rng = random.Random(3)
    values = [rng.choice([5, 7, 7, 40, 900]) + rng.randrange(3) for _ in range(1001)]
    samples = Samples()
    for v in values:
        samples.append(v)
    pairs = samples.pairs()
    assert len(samples) == 1001 and list(samples) == sorted(values) and len(pairs) <= 15
    assert sum(n for _, n in pairs) == 1001 and [v for v, _ in pairs] == sorted(set(values))
    assert spread(pairs) == spread(values)  # an older counters.json holds the plain samples
    ordered = sorted(values)
    assert spread(pairs) == {"count": 1001, "median": ordered[500], "p99": ordered[990], "max": ordered[-1]}
    assert spread([]) == {"count": 0, "median": None, "p99": None, "max": None}
