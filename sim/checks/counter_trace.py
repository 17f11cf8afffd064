"""The kernel's counters against its trace: each counter that has a record of its own must count
exactly those records, per CPU.

The counters (counters.json, the sysctl figures, the coverage bins built on them) and the trace
(what the scoreboard and the other checkers judge) are written by separate statements of the
kernel. A counter that stops counting, counts twice, or counts the wrong outcome, and a record
that is no longer emitted, make the two disagree; nothing else would notice a counter.

A run may end while a CPU is between a counter and its record (the kernel counts an IPI before
its pushes and records it after them), so each CPU may be off by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

__all__ = ["PAIRS", "SLACK", "Tally", "disagreements"]

#: counter -> (the record it counts, which of those records; None: every one)
PAIRS: dict[str, tuple[str, Callable[[dict], bool] | None]] = {
    "interrupts": ("interrupt", None),
    "interrupts_deferred": ("intr_deferred", None),
    "hardclock_ticks": ("hardclock", None),
    "switch_count": ("pick", None),
    "preempt_hit": ("preempt", lambda r: r.get("result") == "hit"),
    "preempt_miss": ("preempt", lambda r: r.get("result") == "miss"),
    "preempt_weird": ("preempt", lambda r: r.get("result") == "weird"),
    "ipiq_count": ("ipi_send", None),
    "ipiq_received": ("ipi_receive", None),
    "ipiq_fifofull": ("ipiq_fifofull", None),
    "mplock_acquires": ("mplock_try", lambda r: r.get("ok") is True),
    "mplock_contended": ("mplock_try", lambda r: r.get("ok") is False),
    "mplock_busts": ("mplock_bust", None),
}

#: How far a CPU's counter may be from its records (a run stopped between the two).
SLACK = 1


class Tally:
    """The records each counter of PAIRS counts, per CPU, tallied as the kernel makes them (``hear``: a
    record observer), so the end of a run need not read its trace back."""

    def __init__(self):
        self.seen: dict[tuple[int, str], int] = {}
        self._by_event: dict[str, list[tuple[str, Callable[[dict], bool] | None]]] = {}
        for counter, (event, which) in PAIRS.items():
            self._by_event.setdefault(event, []).append((counter, which))

    def hear(self, record: dict) -> None:
        for counter, which in self._by_event.get(record["event"], ()):
            if which is None or which(record):
                key = (record["cpu"], counter)
                self.seen[key] = self.seen.get(key, 0) + 1


def disagreements(per_cpu: list[dict], records: Iterable[dict] | Tally) -> list[str]:
    """``per_cpu``: each CPU's counters (``System.counters()["per_cpu"]``); ``records``: the trace, or a
    :class:`Tally` of it. Returns one line per counter and CPU that disagrees by more than SLACK."""
    if isinstance(records, Tally):
        tally = records
    else:
        tally = Tally()
        for record in records:
            tally.hear(record)
    seen = tally.seen
    problems = []
    for counters in per_cpu:
        cpu = counters["cpu"]
        for counter in PAIRS:
            count, logged = counters.get(counter, 0), seen.get((cpu, counter), 0)
            if abs(count - logged) > SLACK:
                problems.append(f"cpu {cpu}: {counter} is {count}, the trace has {logged} {PAIRS[counter][0]} records")
    return problems
