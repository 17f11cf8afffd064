"""The run's latency figures: token hand-offs, the MP lock, context switches.

Fed by the kernel's tracepoints like the checkers (``run_checks.py``), so the kernel keeps no
figures of its own beyond its counters.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from firmware.lwkt import Lwkt
    from firmware.thread import Thread

__all__ = ["RunStats", "Samples"]


class Samples:
    """Cycle samples of one latency, kept as a histogram (value -> how often): a run of any length
    holds as many entries as it saw distinct values, not one per sample. In counters.json:
    ``[[value, count], ...]`` by value (sim/reports/report.py's ``spread`` reads it)."""

    def __init__(self):
        self._counts: Counter[int] = Counter()
        self._n = 0

    def append(self, value: int) -> None:
        self._counts[value] += 1
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def __iter__(self):
        """Every sample, in value order (as many times as it was seen)."""
        for value, count in sorted(self._counts.items()):
            for _ in range(count):
                yield value

    def pairs(self) -> list[list[int]]:
        return [[value, count] for value, count in sorted(self._counts.items())]


class RunStats:
    """Latency figures: token hand-offs, the MP lock, context switches.

    Only Python bookkeeping at points the kernel passes anyway: recording never
    touches the bus or waits, so it cannot change a run.
    """

    def __init__(self):
        self.token_handoffs = Samples()
        self.mplock_holds = Samples()
        self.mplock_handoffs = Samples()
        self.switches = Samples()
        self.mplock_acquisitions = 0
        self._held_since: dict[int, int] = {}
        # CPUs whose last TRY failed and that have not had the lock since: the waiters.
        self._mplock_waiting: set[int] = set()
        # The last RELEASE while some CPU was waiting: (cycle acknowledged, the waiters then).
        self._mplock_released_to: tuple[int, frozenset[int]] | None = None
        # td_id -> cycle its switcher entered lwkt_switch, until that thread runs.
        self._switch_entered: dict[int, int] = {}

    def token_handoff(self, kernel: Lwkt, cycles: int) -> None:
        self.token_handoffs.append(cycles)

    def mplock_acquired(self, kernel: Lwkt) -> None:
        cpu = kernel.gd_cpuid
        self.mplock_acquisitions += 1
        self._held_since[cpu] = kernel.cycle
        # The first acquisition after a release ends the hand-off; it counts only when
        # one of the CPUs already waiting got the lock (not the releaser, not a newcomer).
        released = self._mplock_released_to
        self._mplock_released_to = None
        if released is not None and cpu in released[1]:
            self.mplock_handoffs.append(kernel.cycle - released[0])
        self._mplock_waiting.discard(cpu)

    def mplock_try_failed(self, kernel: Lwkt) -> None:
        self._mplock_waiting.add(kernel.gd_cpuid)

    def mplock_released(self, kernel: Lwkt) -> None:
        cpu = kernel.gd_cpuid
        start = self._held_since.pop(cpu, None)
        if start is not None:
            self.mplock_holds.append(kernel.cycle - start)
        waiters = frozenset(self._mplock_waiting - {cpu})
        self._mplock_released_to = (kernel.cycle, waiters) if waiters else None

    def switch_entered(self, kernel: Lwkt, td: Thread, cycle: int) -> None:
        """lwkt_switch, entered at ``cycle``, is handing the core to ``td``."""
        self._switch_entered[td.td_id] = cycle

    def thread_resumed(self, kernel: Lwkt, td: Thread) -> None:
        """``td`` runs again; a switch counts only when lwkt_switch picked it (not a preemption)."""
        start = self._switch_entered.pop(td.td_id, None)
        if start is not None:
            self.switches.append(kernel.cycle - start)
