"""The scheduling scoreboard: a reference model of the seeds' scheduling rules.

It replays the kernel's trace records (per CPU, in emission order) against its
own run queues, wait queues and preemption links, written from the seeds' text
(``lwkt_switch``, ``lwkt_preempt``, ``_lwkt_enqueue``/``_lwkt_dequeue``,
``lwkt_block``/``lwkt_signal`` and ``lwkt_schedule`` of a blocked thread; mode
"up" follows v1.12, "smp" v1.18), and names every decision the kernel took
differently. It never calls kernel code, so a bug shared by both cannot hide.

Where the records do not tell the model what it needs (a thread it never heard
of, an MP count it cannot know) the decision is counted as undecidable and the
model takes the kernel's view to go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware.builds import MODES
from firmware.thread import NQS

__all__ = ["Scoreboard", "RecordError", "check_records", "DECISION_KINDS"]

#: Kinds counted as decisions; the others are consistency checks on the way.
DECISION_KINDS = ("picks", "preempts", "enqueues", "dequeues", "blocks", "unwaits", "signals")
_OTHER_KINDS = ("switches", "resumes", "setpri", "acquires", "mpcounts")


class RecordError(ValueError):
    """A record lacks a field the model cannot do without."""


class _Undecidable(Exception):
    """The model does not know enough to judge this decision."""


@dataclass
class _Td:
    tid: int
    pri: int | None = None
    mpcount: int | None = None  # None: not known (SMP)
    cpu: int | None = None
    queue: tuple[int, int] | None = None  # (cpu, nq) while on a run queue
    preempted: int | None = None  # td_preempted: the thread this one preempted
    locked: bool = False  # TDF_PREEMPT_LOCK
    lent: int = 0  # the mpheld lwkt_preempt added to our count, taken back at resume
    wait: str | None = None  # td_wait: the wait queue it is blocked on


@dataclass
class _Wait:
    """A wait queue as lwkt_init_wait leaves a zeroed one: empty, generation 0."""

    queue: list[int] = field(default_factory=list)
    gen: int = 0
    #: cpu -> (the queue when its lwkt_signal began, the threads it has taken off so far)
    signals: dict[int, tuple[list[int], list[int]]] = field(default_factory=dict)
    #: cpus whose signal in progress saw another CPU change the queue (its token was lost)
    disturbed: set[int] = field(default_factory=set)


class _Cpu:
    def __init__(self, cpuid: int):
        self.id = cpuid
        self.runq: list[list[int]] = [[] for _ in range(NQS)]
        self.idle: int | None = None
        self.expect: tuple[int, str] | None = None  # the switch the last decision calls for


def _need(rec: dict, name: str):
    if rec.get(name) is None:
        raise RecordError(f"{rec.get('event')} record lacks field {name!r}")
    return rec[name]


class Scoreboard:
    """Feed it records one at a time; ``feed`` returns a one-line mismatch or None."""

    def __init__(self, mode: str, ncpu: int):
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: must be 'up' or 'smp'")
        if ncpu < 1:
            raise ValueError(f"ncpu {ncpu}: must be >= 1")
        self.mode, self.ncpu, self.smp = mode, ncpu, mode == "smp"
        self.cpus = [_Cpu(i) for i in range(ncpu)]
        self.threads: dict[int, _Td] = {}
        self.waits: dict[str, _Wait] = {}
        self.counts = {k: {"seen": 0, "undecidable": 0, "mismatches": 0} for k in DECISION_KINDS + _OTHER_KINDS}
        self._msgs: list[str] = []
        self._handlers = {
            "thread_create": self._thread_create,
            "enqueue": self._enqueue,
            "dequeue": self._dequeue,
            "setpri": self._setpri,
            "pick": self._pick,
            "switch": self._switch,
            "preempt": self._preempt,
            "resume": self._resume,
            "acquire": self._acquire,
            "block": self._block,
            "block_skipped": self._block_skipped,
            "unwait": self._unwait,
            "signal_begin": self._signal_begin,
            "signal": self._signal,
            "mp_count": self._mp_count,
        }

    # -- counters ---------------------------------------------------------------------------

    @property
    def decisions(self) -> int:
        return sum(self.counts[k]["seen"] for k in DECISION_KINDS)

    @property
    def undecidable(self) -> int:
        return sum(self.counts[k]["undecidable"] for k in DECISION_KINDS)

    @property
    def mismatches(self) -> int:
        return sum(c["mismatches"] for c in self.counts.values())

    def summary(self) -> dict:
        out = {"decisions": self.decisions, "undecidable": self.undecidable, "mismatches": self.mismatches}
        out.update({k: self.counts[k]["seen"] for k in DECISION_KINDS})
        out["by_kind"] = {k: dict(v) for k, v in self.counts.items()}
        return out

    def _bad(self, kind: str, text: str) -> None:
        self.counts[kind]["mismatches"] += 1
        self._msgs.append(text)

    # -- entry point --------------------------------------------------------------------------

    def feed(self, record: dict) -> str | None:
        handler = self._handlers.get(record.get("event"))
        if handler is None:
            return None
        cpuid = _need(record, "cpu")
        if not 0 <= cpuid < self.ncpu:
            raise RecordError(f"{record['event']} record on cpu {cpuid}, outside 0..{self.ncpu - 1}")
        _need(record, "cycle")
        _need(record, "tid")
        self._msgs = []
        handler(record, self.cpus[cpuid])
        if not self._msgs:
            return None
        return f"cycle {record['cycle']} cpu {cpuid}: " + "; ".join(self._msgs)

    # -- threads and queues ------------------------------------------------------------------------

    def _adopt(self, tid: int, cpu: _Cpu, **fields) -> _Td:
        td = self.threads[tid] = _Td(tid, cpu=cpu.id, mpcount=None if self.smp else 0)
        for k, v in fields.items():
            if v is not None:
                setattr(td, k, v)
        return td

    def _unqueue(self, td: _Td) -> None:
        if td.queue is not None:
            cpuid, nq = td.queue
            self.cpus[cpuid].runq[nq].remove(td.tid)
            td.queue = None

    def _rotate(self, cpu: _Cpu, tid: int) -> None:
        """TAILQ_REMOVE + TAILQ_INSERT_TAIL of the thread picked, when it is on this CPU's queue."""
        td = self.threads.get(tid)
        if td is not None and td.queue is not None and td.queue[0] == cpu.id:
            q = cpu.runq[td.queue[1]]
            q.remove(tid)
            q.append(tid)

    def _mp(self, tid: int, cur: int, cur_mpcount: int | None) -> int:
        count = cur_mpcount if tid == cur else self.threads[tid].mpcount
        if count is None:
            raise _Undecidable(f"td {tid}'s MP count is unknown")
        return count

    def _desc(self, cpu: _Cpu, tid: int | None, why: str = "") -> str:
        """ "td 5 (pri 12, why)"; the idle thread named as such."""
        notes = [] if why == "" else [why]
        td = self.threads.get(tid)
        if tid is not None and tid == cpu.idle:
            return f"the idle thread td {tid}" + (f" ({why})" if why else "")
        if td is not None and td.pri is not None:
            notes.insert(0, f"pri {td.pri}")
        return f"td {tid}" + (f" ({', '.join(notes)})" if notes else "")

    def _thread_create(self, rec: dict, cpu: _Cpu) -> None:
        tid = _need(rec, "target")
        old = self.threads.get(tid)
        if old is not None:  # a structure reused from the free cache: bzero'd
            self._unqueue(old)
        self._adopt(tid, cpu, pri=rec.get("pri"))

    def _enqueue(self, rec: dict, cpu: _Cpu) -> None:
        kind = "enqueues"
        self.counts[kind]["seen"] += 1
        tid, nq = _need(rec, "target"), _need(rec, "pri")
        td = self.threads.get(tid)
        if td is None:
            self.counts[kind]["undecidable"] += 1
            td = self._adopt(tid, cpu)
        elif td.queue is not None:
            self._bad(kind, f"td {tid} enqueued twice: it is already on cpu {td.queue[0]} queue {td.queue[1]}")
            self._unqueue(td)
        elif td.pri is not None and td.pri != nq:
            self._bad(
                kind, f"_lwkt_enqueue put td {tid} on queue {nq}, the model expects queue {td.pri} (its priority)"
            )
        elif td.cpu is not None and td.cpu != cpu.id:
            self._bad(kind, f"_lwkt_enqueue put td {tid} on this cpu's queue, the model has it on cpu {td.cpu}")
        elif td.wait is not None:
            self._bad(kind, f"_lwkt_enqueue put td {tid} on a run queue while the model has it on wait queue {td.wait}")
        td.pri, td.cpu, td.queue = nq, cpu.id, (cpu.id, nq)
        self._mp_seen(td, rec.get("mpcount"), "_lwkt_enqueue")
        cpu.runq[nq].append(tid)  # TAILQ_INSERT_TAIL

    def _thread(self, kind: str, tid: int, cpu: _Cpu) -> _Td:
        """The model's thread ``tid``, or, for one it never heard of, a new one (undecidable)."""
        td = self.threads.get(tid)
        if td is None:
            self.counts[kind]["undecidable"] += 1
            td = self._adopt(tid, cpu)
        return td

    def _known(self, kind: str, tid: int, cpu: _Cpu, **fields) -> _Td | None:
        """The model's thread ``tid``; None for one it never heard of: the decision is undecidable, and
        the thread is adopted as the kernel has it (``fields``)."""
        td = self.threads.get(tid)
        if td is None:
            self.counts[kind]["undecidable"] += 1
            self._adopt(tid, cpu, **fields)
        return td

    def _dequeue(self, rec: dict, cpu: _Cpu) -> None:
        kind = "dequeues"
        self.counts[kind]["seen"] += 1
        tid, nq = _need(rec, "target"), _need(rec, "pri")
        td = self._known(kind, tid, cpu, pri=nq)
        if td is None:
            return
        if td.queue != (cpu.id, nq):
            where = "on no run queue" if td.queue is None else f"on cpu {td.queue[0]} queue {td.queue[1]}"
            self._bad(kind, f"_lwkt_dequeue took td {tid} off queue {nq}, the model has it {where}")
        self._unqueue(td)

    def _setpri(self, rec: dict, cpu: _Cpu) -> None:
        kind = "setpri"
        self.counts[kind]["seen"] += 1
        tid, pri = _need(rec, "target"), _need(rec, "pri")
        td = self._known(kind, tid, cpu, pri=pri)
        if td is None:
            return
        if td.queue is not None:
            # lwkt_setpri dequeues a queued thread first: the queue is found from td_pri.
            self._bad(
                kind,
                f"lwkt_setpri changed td {tid}'s priority while the model has it on queue "
                f"{td.queue[1]} (no dequeue first)",
            )
            self._unqueue(td)
        elif rec.get("old") is not None and td.pri is not None and rec["old"] != td.pri:
            self._bad(kind, f"lwkt_setpri of td {tid} from pri {rec['old']}, the model has pri {td.pri}")
        td.pri = pri

    def _acquire(self, rec: dict, cpu: _Cpu) -> None:
        kind = "acquires"
        self.counts[kind]["seen"] += 1
        tid = _need(rec, "target")
        td = self.threads.get(tid)
        if td is None:
            self.counts[kind]["undecidable"] += 1
            td = self._adopt(tid, cpu)
        elif td.queue is not None:
            self._bad(
                kind, f"lwkt_acquire took td {tid} while the model has it on cpu {td.queue[0]} queue {td.queue[1]}"
            )
            self._unqueue(td)
        elif rec.get("from_cpu") is not None and td.cpu is not None and td.cpu != rec["from_cpu"]:
            self._bad(kind, f"lwkt_acquire took td {tid} from cpu {rec['from_cpu']}, the model has it on cpu {td.cpu}")
        # What the new CPU read from the thread's record must be what the old one left there.
        if rec.get("pri") is not None and td.pri is not None and rec["pri"] != td.pri:
            self._bad(kind, f"lwkt_acquire read pri {rec['pri']} for td {tid}, the model has pri {td.pri}")
        self._mp_seen(td, rec.get("mpcount"), "lwkt_acquire (the thread's record)")
        td.cpu = cpu.id

    # -- lwkt_switch ---------------------------------------------------------------------------------

    def _pick(self, rec: dict, cpu: _Cpu) -> None:
        kind = "picks"
        self.counts[kind]["seen"] += 1
        to, cur = _need(rec, "to"), rec["tid"]
        if rec.get("idle") is not None:
            cpu.idle = rec["idle"]
            if cpu.idle not in self.threads:  # made at boot, without a thread_create record
                self._adopt(cpu.idle, cpu, pri=0, mpcount=0)
        tried = rec.get("tried")
        cur_mpcount = rec.get("cur_mpcount") if self.smp else 0
        curtd = self.threads.get(cur)
        preempted = curtd.preempted if curtd is not None else None
        if curtd is not None and self.smp:
            back = self.threads.get(preempted) if preempted is not None else None
            if back is not None and back.mpcount and curtd.mpcount is not None:
                curtd.mpcount -= back.mpcount  # the preempted thread takes back the count it lent
            self._mp_seen(curtd, cur_mpcount, "lwkt_switch")
        if "preempted" in rec and rec["preempted"] != preempted:
            self._bad(
                kind,
                f"lwkt_switch: the kernel has td {cur} preempting td {rec['preempted']}, "
                f"the model has it preempting {'nothing' if preempted is None else f'td {preempted}'}",
            )
            preempted = rec["preempted"]
            if curtd is not None:
                curtd.preempted = preempted
        try:
            if preempted is not None:
                # Rule 1: resume the thread we preempted, without looking at the queues.
                if tried is not None:
                    self._bad(
                        kind,
                        "lwkt_switch tried the MP lock while resuming a preempted thread, the model expects no TRY",
                    )
                expected, why = preempted, "the thread it preempted"
            else:
                expected, why = self._scan(cpu, cur, cur_mpcount, bool(rec.get("mpheld")), tried)
            if expected != to:
                self._bad(
                    kind,
                    f"lwkt_switch picked {self._desc(cpu, to)}, the model expects {self._desc(cpu, expected, why)}",
                )
        except _Undecidable:
            self.counts[kind]["undecidable"] += 1
        if preempted is None:
            self._rotate(cpu, to)  # the kernel's pick, so that a mismatch does not cascade
        cpu.expect = (to, "the thread lwkt_switch picked") if to != cur else None

    def _scan(self, cpu: _Cpu, cur: int, cur_mpcount: int | None, mpheld: bool, tried) -> tuple[int, str]:
        """Rules 2 to 4: the expected pick from the run queues; checks the TRY on the way."""
        nq = next((q for q in range(NQS - 1, -1, -1) if cpu.runq[q]), None)
        if nq is None:
            if tried is not None:
                self._bad("picks", "lwkt_switch tried the MP lock with nothing queued, the model expects no TRY")
            return self._idle(cpu), "nothing queued"
        head = cpu.runq[nq][0]
        needs = self.smp and not mpheld and self._mp(head, cur, cur_mpcount) > 0
        if not needs:
            if tried is not None:
                self._bad(
                    "picks",
                    f"lwkt_switch tried the MP lock, the model expects no TRY (head td {head} "
                    f"{'needs no MP lock' if not mpheld else 'and the lock is held'})",
                )
            return head, f"head of queue {nq}"
        if tried is None:
            self._bad(
                "picks",
                f"lwkt_switch did not try the MP lock, the model expects a TRY (head td {head} "
                f"needs it and it is not held)",
            )
            raise _Undecidable("no TRY result")
        if tried:
            return head, f"head of queue {nq}, the TRY got the MP lock"
        # v1.18: TAILQ_FOREACH over queue nq, then the lower queues of the mask.
        failed = f"the TRY for head td {head} failed"
        for q in range(nq, -1, -1):
            for tid in cpu.runq[q]:
                if self._mp(tid, cur, cur_mpcount) == 0:
                    return tid, f"first thread needing no MP lock from queue {nq} down, {failed}"
        return self._idle(cpu), f"no queued thread runs without the MP lock, {failed}"

    @staticmethod
    def _idle(cpu: _Cpu) -> int:
        if cpu.idle is None:
            raise _Undecidable("idle thread unknown")
        return cpu.idle

    def _switch(self, rec: dict, cpu: _Cpu) -> None:
        kind = "switches"
        self.counts[kind]["seen"] += 1
        to, cur = _need(rec, "to"), rec["tid"]
        expect, cpu.expect = cpu.expect, None
        if expect is not None and expect[0] != to:
            self._bad(kind, f"td_switch to td {to}, the model expects td {expect[0]} ({expect[1]})")
        old = self.threads.get(cur)
        if old is not None:
            self._mp_seen(old, rec.get("mpcount"), "td_switch (the thread leaving)")
        new = self.threads.get(to)
        if new is None:
            self.counts[kind]["undecidable"] += 1
            new = self._adopt(to, cpu, pri=rec.get("to_pri"))
        self._mp_seen(new, rec.get("to_mpcount"), "td_switch (the thread it switches to)")
        if rec.get("exiting") and old is not None:
            self._unqueue(old)

    # -- lwkt_preempt --------------------------------------------------------------------------------

    def _preempt(self, rec: dict, cpu: _Cpu) -> None:
        kind = "preempts"
        self.counts[kind]["seen"] += 1
        tid, result, cur = _need(rec, "target"), _need(rec, "result"), rec["tid"]
        td, curtd = self.threads.get(tid), self.threads.get(cur)
        try:
            if td is None or curtd is None:
                raise _Undecidable("thread unknown")
            pri = rec["pri"] if rec.get("pri") is not None else curtd.pri
            tpri = rec["target_pri"] if rec.get("target_pri") is not None else td.pri
            if pri is None or tpri is None:
                raise _Undecidable("priority unknown")
            if td.pri is not None and tpri != td.pri:
                self._bad(kind, f"lwkt_preempt: the kernel has td {tid} at pri {tpri}, the model at pri {td.pri}")
            rule = self._rule_smp if self.smp else self._rule_up
            expected, why = rule(rec, cpu, td, curtd, pri, tpri)
            if expected != result:
                self._bad(
                    kind,
                    f"lwkt_preempt of {self._desc(cpu, tid)} over td {cur} (pri {pri}) was a {result}, "
                    f"the model expects a {expected} ({why})",
                )
        except _Undecidable:
            self.counts[kind]["undecidable"] += 1
        if td is None:
            td = self._adopt(tid, cpu, pri=rec.get("target_pri"))
        if curtd is None:
            curtd = self._adopt(cur, cpu, pri=rec.get("pri"))
        if result == "hit" and td.preempted is None and tid != cur:
            self._hit(rec, cpu, td, curtd)

    def _hit(self, rec: dict, cpu: _Cpu, td: _Td, curtd: _Td) -> None:
        """A hit that switches: the target preempts the current thread, which is locked until resumed."""
        td.preempted, curtd.locked = curtd.tid, True
        cpu.expect = (td.tid, "the thread that preempted")
        if not self.smp:
            return
        curtd.lent = int(bool(rec.get("mpheld")))
        cur_count = rec.get("cur_mpcount")
        if cur_count is not None:
            self._mp_seen(curtd, cur_count, "lwkt_preempt (the current thread)")
            curtd.mpcount = cur_count + curtd.lent
        if rec.get("target_mpcount") is not None:
            td.mpcount = rec["target_mpcount"]

    @staticmethod
    def _lock_reason(td: _Td, curtd: _Td) -> str | None:
        if td.tid == curtd.tid:
            return "the target is the current thread"
        if curtd.locked or td.locked:
            return f"td {curtd.tid if curtd.locked else td.tid} is PREEMPT_LOCK"
        return None

    def _rule_up(self, rec: dict, cpu: _Cpu, td: _Td, curtd: _Td, pri: int, tpri: int) -> tuple[str, str]:
        """v1.12 lwkt_preempt: weird, already preempting, priority, then hit."""
        if rec.get("tried") is not None:
            self._bad("preempts", "lwkt_preempt tried the MP lock in the UP build")
        weird = self._lock_reason(td, curtd)
        if weird:
            return "weird", weird
        if td.preempted is not None:
            return "hit", f"td {td.tid} already preempted td {td.preempted}"
        if tpri <= pri:
            return "miss", f"target pri {tpri} <= current pri {pri}"
        return "hit", f"target pri {tpri} > current pri {pri}"

    def _rule_smp(self, rec: dict, cpu: _Cpu, td: _Td, curtd: _Td, pri: int, tpri: int) -> tuple[str, str]:
        """v1.18 lwkt_preempt, its tests in the seed's order; the MP step last."""
        expected = self._smp_before_mp(rec, cpu, td, curtd, pri, tpri)
        if expected is not None:
            if rec.get("tried") is not None:
                self._bad(
                    "preempts",
                    f"lwkt_preempt tried the MP lock, the model expects no TRY (decided "
                    f"before the MP step: {expected[1]})",
                )
            return expected
        tried, mpheld = rec.get("tried"), bool(rec.get("mpheld"))
        cur_count, lent = rec.get("cur_mpcount"), rec.get("target_mpcount")
        if (
            td.mpcount is not None
            and cur_count is not None
            and lent is not None
            and rec.get("result") == "hit"
            and lent != td.mpcount + cur_count + mpheld
        ):
            self._bad(
                "preempts",
                f"lwkt_preempt lent td {td.tid} an MP count of {lent}, the model expects "
                f"{td.mpcount} + {cur_count} + {int(mpheld)}",
            )
        if mpheld:
            needs = False
        elif td.mpcount is not None and cur_count is not None:
            needs = td.mpcount + cur_count > 0
        elif rec.get("result") == "hit" and lent is not None:
            needs = lent > 0  # the kernel's td_mpcount after lending, which the TRY looks at
        elif td.mpcount:
            needs = True
        else:
            raise _Undecidable("the current thread's MP count is unknown")
        if not needs:
            if tried is not None:
                self._bad("preempts", "lwkt_preempt tried the MP lock, the model expects no TRY")
            return "hit", "MP lock held or not needed"
        if tried is None:
            self._bad(
                "preempts",
                f"lwkt_preempt did not try the MP lock, the model expects a TRY "
                f"(td {td.tid} needs it and it is not held)",
            )
            raise _Undecidable("no TRY result")
        return ("hit", "the TRY got the MP lock") if tried else ("miss", "the TRY for the MP lock failed")

    def _smp_before_mp(self, rec, cpu, td, curtd, pri, tpri) -> tuple[str, str] | None:
        if tpri <= pri:
            return "miss", f"target pri {tpri} <= current pri {pri}"
        crit, critpri = rec.get("crit"), rec.get("critpri")
        if crit is None or critpri is None:
            raise _Undecidable("crit or critpri missing")
        if crit > critpri:
            return "miss", f"the current thread holds {crit} critical sections, more than critpri {critpri}"
        # Whose thread the target is: the model's, the record's td_cpu (read from RAM) only checked.
        read = rec.get("target_cpu")
        if read is not None and td.cpu is not None and read != td.cpu:
            self._bad("preempts", f"lwkt_preempt read td_cpu {read} for td {td.tid}, the model has it on cpu {td.cpu}")
        target_cpu = td.cpu if td.cpu is not None else read
        if target_cpu is None:
            raise _Undecidable(f"td {td.tid}'s cpu is unknown")
        if target_cpu != cpu.id:
            return "miss", f"td {td.tid} belongs to cpu {target_cpu}"
        weird = self._lock_reason(td, curtd)
        if weird:
            return "weird", weird
        if td.preempted is not None:
            return "hit", f"td {td.tid} already preempted td {td.preempted}"
        return None

    def _resume(self, rec: dict, cpu: _Cpu) -> None:
        kind = "resumes"
        self.counts[kind]["seen"] += 1
        by, cur = _need(rec, "preemptor"), rec["tid"]
        ptd, curtd = self.threads.get(by), self.threads.get(cur)
        if ptd is None or curtd is None:
            self.counts[kind]["undecidable"] += 1
            return
        if ptd.preempted != cur:
            self._bad(
                kind,
                f"td {cur} resumed from td {by}, the model has td {by} preempting "
                f"{'nothing' if ptd.preempted is None else f'td {ptd.preempted}'}",
            )
        ptd.preempted, curtd.locked = None, False
        if curtd.mpcount is not None:
            curtd.mpcount -= curtd.lent  # lwkt_preempt takes back the mpheld it added
        curtd.lent = 0

    # -- MP counts: get_mplock and rel_mplock -----------------------------------------------------------

    def _mp_seen(self, td: _Td, count: int | None, where: str) -> None:
        """A record's td_mpcount of ``td``: judged against the model's when the model knows it (from
        an earlier record and the changes it modelled since), then the model's."""
        if count is None or not self.smp:
            return
        if td.mpcount is not None and td.mpcount != count:
            self._bad("mpcounts", f"{where}: td {td.tid}'s MP count is {count}, the model has {td.mpcount}")
        td.mpcount = count

    def _mp_count(self, rec: dict, cpu: _Cpu) -> None:
        """get_mplock adds one hold, rel_mplock takes one away: the count after must follow."""
        kind = "mpcounts"
        self.counts[kind]["seen"] += 1
        op, count = rec.get("op"), _need(rec, "mpcount")
        td = self.threads.get(rec["tid"])
        if td is None:
            self.counts[kind]["undecidable"] += 1
            self._adopt(rec["tid"], cpu, mpcount=count)
            return
        if td.mpcount is None:
            self.counts[kind]["undecidable"] += 1
        elif op in ("get", "rel"):
            expected = td.mpcount + (1 if op == "get" else -1)
            if count != expected:
                self._bad(
                    kind,
                    f"{'get_mplock' if op == 'get' else 'rel_mplock'}: td {td.tid}'s MP count went from "
                    f"{td.mpcount} to {count}, the model expects {expected}",
                )
        td.mpcount = count

    # -- wait queues: lwkt_block, lwkt_signal, lwkt_schedule of a blocked thread --------------------------

    def _wait(self, name: str, cpu: _Cpu) -> _Wait:
        w = self.waits.get(name)
        if w is None:
            w = self.waits[name] = _Wait()
        for other in w.signals:
            if other != cpu.id:
                w.disturbed.add(other)
        return w

    def _wait_record(self, kind: str, rec: dict, cpu: _Cpu) -> tuple[str, _Wait]:
        """A wait-queue record counted under ``kind``: its queue's name and the model's queue."""
        self.counts[kind]["seen"] += 1
        name = _need(rec, "wait")
        return name, self._wait(name, cpu)

    def _holds(self, kind: str, rec: dict, name: str, w: _Wait) -> None:
        """The queue's own words as the record shows them (``count``, ``queued``) against the model's."""
        count, queued = rec.get("count"), rec.get("queued")
        if queued is not None and list(queued) != w.queue:
            self._bad(kind, f"wait queue {name} holds {list(queued)}, the model has {w.queue}")
        elif count is not None and count != len(w.queue):
            self._bad(kind, f"wait queue {name} has wa_count {count}, the model has {len(w.queue)} threads on it")

    def _block(self, rec: dict, cpu: _Cpu) -> None:
        kind = "blocks"
        tid = rec["tid"]
        name, w = self._wait_record(kind, rec, cpu)
        gen = rec.get("gen")
        if gen is not None and gen != w.gen:
            self._bad(
                kind,
                f"lwkt_block: td {tid} blocked on {name} with generation {gen}, the model's is {w.gen} "
                f"(it was signalled since: the block must be skipped)",
            )
        td = self._thread(kind, tid, cpu)
        if td.wait is not None:
            self._bad(kind, f"lwkt_block: td {tid} blocked on {name} while the model has it on {td.wait}")
            self._off_wait(td)
        if td.queue is not None:
            self._bad(kind, f"lwkt_block: td {tid} blocked on {name} while the model has it on run queue {td.queue[1]}")
        w.queue.append(tid)  # TAILQ_INSERT_TAIL
        td.wait = name
        self._holds(kind, rec, name, w)

    def _block_skipped(self, rec: dict, cpu: _Cpu) -> None:
        kind = "blocks"
        name, w = self._wait_record(kind, rec, cpu)
        gen, wa_gen = rec.get("gen"), rec.get("wa_gen")
        if wa_gen is not None and wa_gen != w.gen:
            self._bad(kind, f"lwkt_block read generation {wa_gen} of {name}, the model's is {w.gen}")
        elif gen is not None and gen == w.gen:
            self._bad(
                kind,
                f"lwkt_block did not block on {name} with generation {gen}, the model's current one "
                f"(no signal came in between)",
            )

    def _off_wait(self, td: _Td) -> None:
        w = self.waits.get(td.wait)
        if w is not None and td.tid in w.queue:
            w.queue.remove(td.tid)
        td.wait = None

    def _unwait(self, rec: dict, cpu: _Cpu) -> None:
        kind = "unwaits"
        tid, by = _need(rec, "target"), rec.get("by")
        name, w = self._wait_record(kind, rec, cpu)
        td = self.threads.get(tid)
        if tid not in w.queue:
            where = "on no wait queue" if td is None or td.wait is None else f"on {td.wait}"
            who = f"lwkt_{by}" if by else "the kernel"
            self._bad(kind, f"{who} took td {tid} off {name}, the model has it {where}")
        elif by == "signal" and w.queue[0] != tid:
            self._bad(kind, f"lwkt_signal woke td {tid} of {name} before td {w.queue[0]}, the head")
        if td is not None:
            self._off_wait(td)
        if tid in w.queue:
            w.queue.remove(tid)
        if by == "signal":
            if cpu.id not in w.signals:
                self._bad(kind, f"lwkt_signal woke td {tid} of {name} outside a signal")
            else:
                w.signals[cpu.id][1].append(tid)
        self._holds(kind, rec, name, w)

    def _signal_begin(self, rec: dict, cpu: _Cpu) -> None:
        kind = "signals"
        name, w = self._wait_record(kind, rec, cpu)
        gen = rec.get("gen")
        expected = (w.gen + 1) & 0xFFFF_FFFF
        if gen is not None and gen != expected:
            self._bad(kind, f"lwkt_signal set {name}'s generation to {gen}, the model expects {expected}")
        w.gen = expected if gen is None else gen
        self._holds(kind, rec, name, w)
        w.signals[cpu.id] = (list(w.queue), [])
        w.disturbed.discard(cpu.id)

    def _signal(self, rec: dict, cpu: _Cpu) -> None:
        name = _need(rec, "wait")
        w = self.waits.get(name)
        if w is None or cpu.id not in w.signals:
            return  # a trace from before the wait records: nothing to judge
        queued, taken = w.signals.pop(cpu.id)
        woken = list(rec.get("woken") or [])
        if woken != taken:
            self._bad("signals", f"lwkt_signal of {name} reports waking {woken}, it took {taken} off the queue")
        elif cpu.id in w.disturbed:
            self.counts["signals"]["undecidable"] += 1  # its token was lost on the way
        elif taken != queued:
            self._bad("signals", f"lwkt_signal of {name} woke {taken}, the model expects every waiter: {queued}")
        w.disturbed.discard(cpu.id)


def check_records(records, mode: str, ncpu: int) -> tuple[dict, list[str]]:
    """Run a whole trace through a scoreboard: its summary and every mismatch message."""
    board = Scoreboard(mode, ncpu)
    messages = [m for m in map(board.feed, records) if m is not None]
    return board.summary(), messages
