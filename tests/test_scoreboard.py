"""The scheduling scoreboard (sim/checks/scoreboard.py) on hand-written record sequences,
and `lwkt-soc check` on run folders made here."""

import json

import pytest

from sim.checks.scoreboard import RecordError, Scoreboard, check_records
from sim.cli import main

IDLE, A, B, C = 1, 2, 3, 4


class Feed:
    """Writes records with a rising cycle, as the kernel emits them on one CPU."""

    def __init__(self, mode="up", ncpu=1):
        self.board = Scoreboard(mode, ncpu)
        self.records, self.messages, self.cycle = [], [], 0

    def __call__(self, event, tid, cpu=0, **fields):
        self.cycle += 10
        rec = {"cycle": self.cycle, "cpu": cpu, "tid": tid, "thread": f"t{tid}", "event": event, **fields}
        self.records.append(rec)
        msg = self.board.feed(rec)
        if msg is not None:
            self.messages.append(msg)
        return msg

    def create(self, tid, pri, cur=IDLE, mpcount=0):
        self("thread_create", cur, target=tid, name=f"t{tid}", pri=pri)
        return self("enqueue", cur, target=tid, pri=pri, mpcount=mpcount)

    def pick(self, cur, to, cur_mpcount=0, mpheld=False, tried=None, preempted=None):
        return self(
            "pick", cur, to=to, cur_mpcount=cur_mpcount, mpheld=mpheld, tried=tried, idle=IDLE, preempted=preempted
        )

    def switch(self, cur, to, pri=0, mpcount=0, to_mpcount=0):
        return self(
            "switch",
            cur,
            to=to,
            to_thread=f"t{to}",
            to_pri=pri,
            crit=1,
            mpcount=mpcount,
            to_mpcount=to_mpcount,
            exiting=False,
        )


def _two_threads(feed):
    assert feed.create(A, 10) is None
    assert feed.create(B, 10) is None


# -- UP: queues and lwkt_switch ------------------------------------------------------------------


def test_round_robin_at_one_priority_passes():
    feed = Feed()
    _two_threads(feed)
    assert feed.pick(IDLE, A) is None
    assert feed.switch(IDLE, A, pri=10) is None
    assert feed.pick(A, B) is None
    assert feed.switch(A, B, pri=10) is None
    assert feed.pick(B, A) is None
    summary = feed.board.summary()
    assert feed.messages == []
    assert (summary["picks"], summary["enqueues"], summary["decisions"]) == (3, 2, 5)
    assert summary["undecidable"] == 0 and summary["mismatches"] == 0


def test_pick_without_rotation_is_a_mismatch():
    feed = Feed()
    _two_threads(feed)
    feed.pick(IDLE, A)
    feed.switch(IDLE, A, pri=10)
    msg = feed.pick(A, A)  # the kernel kept A: it did not move it to the tail
    assert msg is not None
    assert msg.startswith("cycle 70 cpu 0: lwkt_switch picked td 2 (pri 10)")
    assert "the model expects td 3 (pri 10, head of queue 10)" in msg
    assert feed.board.summary()["mismatches"] == 1


def test_enqueue_at_the_head_is_a_mismatch():
    feed = Feed()
    _two_threads(feed)
    msg = feed.pick(IDLE, B)  # B came second: only an insert at the head puts it first
    assert msg is not None and "picked td 3" in msg and "expects td 2" in msg


def test_highest_priority_queue_first_and_idle_when_empty():
    feed = Feed()
    feed.create(A, 5)
    feed.create(B, 20)
    assert feed.pick(IDLE, A) is not None  # B is on a higher queue
    feed = Feed()
    assert feed.pick(IDLE, IDLE) is None
    msg = feed.pick(IDLE, A)
    assert msg is not None and "the idle thread td 1 (nothing queued)" in msg


def test_enqueue_twice_and_dequeue_of_an_unqueued_thread():
    feed = Feed()
    feed.create(A, 10)
    assert "enqueued twice" in feed("enqueue", IDLE, target=A, pri=10, mpcount=0)
    assert feed("dequeue", IDLE, target=A, pri=10) is None
    msg = feed("dequeue", IDLE, target=A, pri=10)
    assert msg is not None and "on no run queue" in msg
    feed("thread_create", IDLE, target=B, name="b", pri=7)
    assert "expects queue 7" in feed("enqueue", IDLE, target=B, pri=9, mpcount=0)


def test_setpri_requeues_at_the_tail_of_the_new_queue():
    feed = Feed()
    feed.create(A, 10)
    feed.create(B, 12)
    feed("dequeue", IDLE, target=A, pri=10)
    feed("setpri", IDLE, target=A, old=10, pri=12)
    feed("enqueue", IDLE, target=A, pri=12, mpcount=0)
    assert feed.pick(IDLE, B) is None  # A is behind B in queue 12
    assert feed.messages == []
    assert "no dequeue first" in feed("setpri", IDLE, target=B, old=12, pri=3)


def test_unknown_threads_are_undecidable_not_mismatches():
    feed = Feed()
    assert feed("enqueue", IDLE, target=9, pri=4, mpcount=0) is None  # no thread_create seen
    assert feed.pick(IDLE, 9) is None
    summary = feed.board.summary()
    assert summary["undecidable"] == 1 and summary["mismatches"] == 0
    assert feed("interrupt", IDLE, line=3) is None  # events the model does not need


def test_switch_must_follow_the_pick():
    feed = Feed()
    _two_threads(feed)
    feed.pick(IDLE, A)
    msg = feed.switch(IDLE, B, pri=10)
    assert msg is not None and "td_switch to td 3, the model expects td 2" in msg


def test_missing_field_is_a_record_error():
    with pytest.raises(RecordError, match="'to'"):
        Scoreboard("up", 1).feed({"cycle": 1, "cpu": 0, "tid": 1, "thread": "idle0", "event": "pick"})
    with pytest.raises(RecordError, match="outside"):
        Scoreboard("smp", 2).feed({"cycle": 1, "cpu": 2, "tid": 1, "event": "enqueue", "target": 2, "pri": 1})


# -- UP: lwkt_preempt -----------------------------------------------------------------------------


def _running_a(feed, ithread_pri):
    feed.create(A, 10)
    feed.pick(IDLE, A)
    feed.switch(IDLE, A, pri=10)
    feed.create(C, ithread_pri, cur=A)


def test_preempt_hit_by_a_lower_priority_thread_is_a_mismatch():
    feed = Feed()
    _running_a(feed, 5)
    msg = feed("preempt", A, target=C, result="hit", pri=10, target_pri=5, crit=1)
    assert msg is not None and "was a hit, the model expects a miss (target pri 5 <= current pri 10)" in msg
    feed = Feed()
    _running_a(feed, 5)
    assert feed("preempt", A, target=C, result="miss", pri=10, target_pri=5, crit=1) is None


def test_preemption_resumes_the_preempted_thread():
    feed = Feed()
    _running_a(feed, 20)
    assert feed("preempt", A, target=C, result="hit", pri=10, target_pri=20, crit=1) is None
    assert feed.switch(A, C, pri=20) is None
    # C blocks: lwkt_switch must resume A although C itself is queued higher.
    assert feed.pick(C, A, preempted=A) is None
    feed.switch(C, A, pri=10)
    # A is PREEMPT_LOCK until its resume record: a preemption attempt meanwhile is weird.
    assert "expects a weird" in feed("preempt", A, target=C, result="miss", pri=10, target_pri=20, crit=1)
    assert feed("resume", A, preemptor=C) is None
    assert feed("preempt", A, target=C, result="hit", pri=10, target_pri=20, crit=1) is None


def test_pick_disagreeing_with_the_preemption_link():
    feed = Feed()
    _running_a(feed, 20)
    feed("preempt", A, target=C, result="hit", pri=10, target_pri=20, crit=1)
    feed.switch(A, C, pri=20)
    msg = feed.pick(C, C, preempted=A)
    assert msg is not None and "expects td 2 (pri 10, the thread it preempted)" in msg
    other = Feed()
    _running_a(other, 20)
    assert "the model has it preempting nothing" in other.pick(A, A, preempted=C)


# -- SMP: the MP lock in lwkt_switch ------------------------------------------------------------------


def _smp_queues(feed, threads):
    for tid, pri, mpcount in threads:
        feed.create(tid, pri, mpcount=mpcount)


@pytest.mark.parametrize(
    "threads, expected",
    [
        # head needs the lock, the TRY failed: the first thread with mpcount 0, from its queue down
        ([(A, 20, 1), (B, 20, 1), (C, 10, 0)], C),
        ([(A, 20, 1), (B, 20, 0), (C, 10, 0)], B),
        ([(A, 20, 1), (B, 20, 1), (C, 10, 1)], IDLE),
    ],
)
def test_mp_lock_fallback(threads, expected):
    others = [t for t in (A, B, C, IDLE) if t != expected]
    feed = Feed("smp", 2)
    _smp_queues(feed, threads)
    assert feed.pick(IDLE, expected, tried=False) is None, feed.messages
    for wrong in others:
        feed = Feed("smp", 2)
        _smp_queues(feed, threads)
        msg = feed.pick(IDLE, wrong, tried=False)
        assert msg is not None and "the TRY for head td 2 failed" in msg


def test_mp_lock_try_results_and_consistency():
    threads = [(A, 20, 1), (C, 10, 0)]
    feed = Feed("smp", 2)
    _smp_queues(feed, threads)
    assert feed.pick(IDLE, A, tried=True) is None  # the TRY got the lock: the head
    feed = Feed("smp", 2)
    _smp_queues(feed, threads)
    assert "expects a TRY" in feed.pick(IDLE, A, tried=None)
    feed = Feed("smp", 2)
    _smp_queues(feed, threads)
    assert "expects no TRY" in feed.pick(IDLE, A, mpheld=True, tried=True)
    feed = Feed("smp", 2)
    _smp_queues(feed, threads)
    assert feed.pick(IDLE, A, mpheld=True) is None


def test_current_thread_mpcount_comes_from_the_pick():
    feed = Feed("smp", 2)
    _smp_queues(feed, [(A, 20, 0), (C, 10, 0)])
    feed.pick(IDLE, A)
    feed.switch(IDLE, A, pri=20)
    feed.pick(A, A)  # rotates A; A is alone in queue 20
    # A took the MP lock meanwhile (get_mplock's record): its count at the pick is 1, the TRY fails.
    assert feed("mp_count", A, op="get", mpcount=1) is None
    assert feed.pick(A, C, cur_mpcount=1, tried=False) is None
    assert feed.messages == []


def test_mp_counts_follow_get_and_rel_mplock():
    feed = Feed("smp", 2)
    _smp_queues(feed, [(A, 20, 0)])
    feed.pick(IDLE, A)
    feed.switch(IDLE, A, pri=20)
    assert feed("mp_count", A, op="get", mpcount=1) is None
    assert feed("mp_count", A, op="get", mpcount=2) is None
    assert feed("mp_count", A, op="rel", mpcount=1) is None
    # A rel_mplock that takes two holds away, then a pick that reports a count nobody made.
    msg = feed("mp_count", A, op="rel", mpcount=-1)
    assert msg is not None and "rel_mplock: td 2's MP count went from 1 to -1, the model expects 0" in msg
    msg = feed.pick(A, A, cur_mpcount=3)
    assert msg is not None and "lwkt_switch: td 2's MP count is 3, the model has -1" in msg


# -- SMP: lwkt_preempt (v1.18) --------------------------------------------------------------------------


def _smp_preempt(feed, **fields):
    base = dict(
        target=C,
        pri=10,
        target_pri=20,
        crit=1,
        critpri=1,
        target_cpu=0,
        mpheld=False,
        tried=None,
        cur_mpcount=0,
        target_mpcount=0,
    )
    base.update(fields)
    return feed("preempt", A, **base)


def _smp_running_a(feed, target_mpcount=0):
    feed.create(A, 10)
    feed.pick(IDLE, A)
    feed.switch(IDLE, A, pri=10)
    feed.create(C, 20, cur=A, mpcount=target_mpcount)


def test_v118_crit_above_critpri_is_a_miss():
    feed = Feed("smp", 2)
    _smp_running_a(feed)
    msg = _smp_preempt(feed, result="hit", crit=2, critpri=1)
    assert msg is not None and "expects a miss (the current thread holds 2 critical sections" in msg
    feed = Feed("smp", 2)
    _smp_running_a(feed)
    assert _smp_preempt(feed, result="miss", crit=2, critpri=1) is None
    feed = Feed("smp", 2)
    _smp_running_a(feed)
    assert _smp_preempt(feed, result="hit", crit=2, critpri=2) is None
    assert feed.switch(A, C, pri=20) is None


def test_v118_preempt_order_and_mp_step():
    feed = Feed("smp", 2)
    _smp_running_a(feed)
    # The record's td_cpu (read from the thread's record) is checked against the model's cpu.
    assert "lwkt_preempt read td_cpu 1 for td 4, the model has it on cpu 0" in _smp_preempt(
        feed, result="hit", target_cpu=1
    )
    feed = Feed("smp", 2)
    _smp_running_a(feed, target_mpcount=1)  # C needs the lock, this CPU does not hold it
    assert _smp_preempt(feed, result="miss", tried=False) is None
    assert "expects a miss (the TRY for the MP lock failed)" in _smp_preempt(feed, result="hit", tried=False)
    feed = Feed("smp", 2)
    _smp_running_a(feed)
    assert "expects no TRY" in _smp_preempt(feed, result="hit", tried=True)
    feed = Feed("smp", 2)
    _smp_running_a(feed)
    msg = _smp_preempt(feed, result="hit", mpheld=True, cur_mpcount=1, target_mpcount=1)
    assert msg is not None and "lent td 4 an MP count of 1, the model expects 0 + 1 + 1" in msg


def _a_preempted_by_c_who_gives_back(feed):
    """A (count 1, lock held) is preempted by C (count 0), which then runs with 0 + 1 + 1 = 2."""
    feed.create(A, 10, mpcount=1)
    feed.pick(IDLE, A, mpheld=True)
    feed.switch(IDLE, A, pri=10, to_mpcount=1)
    feed.create(C, 20, cur=A, mpcount=0)
    assert _smp_preempt(feed, result="hit", mpheld=True, cur_mpcount=1, target_mpcount=2) is None
    assert feed("dequeue", A, target=C, pri=20) is None
    assert feed.switch(A, C, pri=20, mpcount=2, to_mpcount=2) is None


def test_a_preempted_thread_takes_back_the_mp_count_it_lent():
    """When C gives the CPU back, lwkt_switch takes A's 2 off C's count: the pick reports C at 0."""
    feed = Feed("smp", 2)
    _a_preempted_by_c_who_gives_back(feed)
    assert feed.pick(C, A, cur_mpcount=0, mpheld=True, preempted=A) is None
    feed = Feed("smp", 2)
    _a_preempted_by_c_who_gives_back(feed)
    bad = feed.pick(C, A, cur_mpcount=2, mpheld=True, preempted=A)  # the count not taken back
    assert bad is not None and "td 4's MP count is 2, the model has 0" in bad


# -- offline ----------------------------------------------------------------------------------------------


def test_check_records_on_a_list():
    feed = Feed()
    _two_threads(feed)
    feed.pick(IDLE, A)
    feed.switch(IDLE, A, pri=10)
    feed.pick(A, A)
    summary, messages = check_records(feed.records, "up", 1)
    assert len(messages) == 1 and "expects td 3" in messages[0]
    assert summary["mismatches"] == 1 and summary["picks"] == 2 and summary["decisions"] == 4
    summary, messages = check_records(feed.records[:-1], "up", 1)
    assert messages == [] and summary["mismatches"] == 0


def _run_dir(tmp_path, records, mode="up", cpus=1):
    run = tmp_path / "run"
    run.mkdir()
    (run / "report.json").write_text(json.dumps({"mode": mode, "cpus": cpus}))
    (run / "trace.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def test_cli_check_exit_codes(tmp_path, capsys):
    feed = Feed()
    _two_threads(feed)
    feed.pick(IDLE, A)
    good = _run_dir(tmp_path, feed.records)
    assert main(["check", str(good)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("scoreboard: 3 decisions") and "0 mismatches" in out
    feed.switch(IDLE, A, pri=10)
    feed.pick(A, A)
    (good / "trace.jsonl").write_text("".join(json.dumps(r) + "\n" for r in feed.records))
    assert main(["check", str(good)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "1 mismatches" in out[0] and "lwkt_switch picked td 2" in out[1]


@pytest.mark.parametrize(
    "damage, words",
    [
        ("no-dir", "no such run folder"),
        ("bad-line", "trace.jsonl: line 2 is not JSON"),
        ("no-report", "holds no report.json"),
        ("bad-report", "needs 'mode'"),
        ("no-field", "lacks field 'to'"),
    ],
)
def test_cli_check_usage_errors(tmp_path, capsys, damage, words):
    run = _run_dir(tmp_path, [{"cycle": 1, "cpu": 0, "tid": 1, "thread": "idle0", "event": "yield"}])
    if damage == "no-dir":
        run = tmp_path / "absent"
    elif damage == "bad-line":
        with open(run / "trace.jsonl", "a") as f:
            f.write('{"cycle": 2, "cpu": 0,\n')
    elif damage == "no-report":
        (run / "report.json").unlink()
    elif damage == "bad-report":
        (run / "report.json").write_text('{"mode": "mp"}')
    else:
        (run / "trace.jsonl").write_text('{"cycle": 2, "cpu": 0, "tid": 1, "event": "pick"}\n')
    assert main(["check", str(run)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lwkt-soc: error: ") and words in err[0], captured.err
    assert "Traceback" not in captured.err and captured.out == ""


# -- wait queues: lwkt_block, lwkt_signal, lwkt_schedule of a blocked thread ----------------------


def _blocked(feed, *tids, wait="wq"):
    """Threads created and blocked on ``wait`` one after another (each leaves its run queue first)."""
    for n, tid in enumerate(tids):
        feed.create(tid, 10)
        assert feed("dequeue", tid, target=tid, pri=10) is None
        queued = list(tids[: n + 1])
        assert feed("block", tid, wait=wait, wmesg="w", gen=0, count=len(queued), queued=queued) is None


def test_block_signal_and_schedule_that_follow_the_seed_pass():
    feed = Feed()
    _blocked(feed, A, B, C)
    # lwkt_schedule of B takes it off the middle of the queue.
    assert feed("unwait", IDLE, target=B, wait="wq", by="schedule", count=2, queued=[A, C]) is None
    assert feed("signal_begin", IDLE, wait="wq", gen=1, count=2, queued=[A, C]) is None
    assert feed("unwait", IDLE, target=A, wait="wq", by="signal", count=1, queued=[C]) is None
    assert feed("unwait", IDLE, target=C, wait="wq", by="signal", count=0, queued=[]) is None
    assert feed("signal", IDLE, wait="wq", woken=[A, C], gen=1) is None
    # A blocking that read generation 0 before the signal is skipped.
    assert feed("block_skipped", A, wait="wq", gen=0, wa_gen=1) is None
    summary = feed.board.summary()
    assert (summary["blocks"], summary["unwaits"], summary["signals"]) == (4, 3, 1) and summary["mismatches"] == 0


@pytest.mark.parametrize(
    "case, records, expected",
    [
        # lwkt_schedule left the thread on the queue (its TAILQ_REMOVE lost): the queue still holds it.
        ("stale entry", [("unwait", dict(target=A, by="schedule", count=1, queued=[A, B]))], "holds [2, 3]"),
        # The count not decremented.
        ("count", [("unwait", dict(target=A, by="schedule", count=2, queued=[B]))], "wa_count 2"),
        # A signal that does not advance the generation.
        ("gen", [("signal_begin", dict(gen=0, count=2, queued=[A, B]))], "expects 1"),
        # A signal that wakes the second waiter first.
        (
            "order",
            [("signal_begin", dict(gen=1, count=2, queued=[A, B])), ("unwait", dict(target=B, by="signal"))],
            "before td 2",
        ),
        # A thread taken off a queue it is not on.
        ("absent", [("unwait", dict(target=C, by="schedule"))], "on no wait queue"),
        # Blocking with the current generation skipped.
        ("skip", [("block_skipped", dict(gen=0, wa_gen=0))], "no signal came in between"),
        # Blocking with a stale generation.
        ("stale gen", [("signal_begin", dict(gen=1)), ("block", dict(gen=0))], "must be skipped"),
        # A signal that leaves a waiter behind.
        (
            "left behind",
            [
                ("signal_begin", dict(gen=1, count=2, queued=[A, B])),
                ("unwait", dict(target=A, by="signal", count=1, queued=[B])),
                ("signal", dict(woken=[A], gen=1)),
            ],
            "expects every waiter",
        ),
    ],
)
def test_wait_queue_mistakes_are_named(case, records, expected):
    feed = Feed()
    _blocked(feed, A, B)
    feed.create(C, 10)
    for event, fields in records:
        feed(event, C, wait="wq", **fields)
    assert len(feed.messages) >= 1 and expected in feed.messages[0], (case, feed.messages)


def test_a_thread_blocked_and_enqueued_is_named():
    feed = Feed()
    _blocked(feed, A)
    msg = feed("enqueue", IDLE, target=A, pri=10, mpcount=0)
    assert msg is not None and "wait queue wq" in msg
