"""Every run-time checker of a run, subscribed to its System: the one place that wires them.

:class:`RunChecks` feeds the scoreboard every trace record and each checker the tracepoints it
needs; at the end it gives the checks' verdicts and the figures they kept for counters.json.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.checks.checkers import IpiChecker, MpLockChecker, StoppedChecker, TokenChecker, WaitChecker, fail
from sim.checks.counter_trace import Tally, disagreements
from sim.checks.scoreboard import RecordError, Scoreboard
from sim.checks.stats import RunStats

if TYPE_CHECKING:
    from firmware.lwkt import Lwkt
    from firmware.system import System

__all__ = ["RunChecks", "Verdict"]

#: (name, ok, detail, evaluated): evaluated is False when there was nothing to check.
Verdict = tuple[str, bool, str, bool]


class RunChecks:
    """The checkers of one run of ``system``; the SMP ones only on the SMP build."""

    def __init__(self, system: System):
        self.system = system
        self.scoreboard = Scoreboard(system.mode, system.ncpu)
        self.stats = RunStats()
        self.ipi = IpiChecker()
        self.tokens = TokenChecker()
        self.waits = WaitChecker()
        self.stopped = StoppedChecker(system)
        self.mplock = MpLockChecker(system.hardware)
        #: The records the counters count, tallied as they are made (a long run's trace is on disk).
        self.tally = Tally()
        system.record_observers.append(self._record)
        on = system.on_tracepoint
        # Both builds switch threads.
        on("td_switch:entered", self.stats.switch_entered)
        on("thread:resumed", self.stats.thread_resumed)
        # Wake-ups in both builds: the UP build has no SMP switch to clear them, so a UP run that
        # signalled a thread quiesces for the machine's whole window (as it always has).
        on("thread:woken", self.waits.woken)
        if system.mode != "smp":
            return
        on("ipi:sent", self.ipi.sent)
        on("ipi:received", self.ipi.received)
        on("ipi:finished", self.ipi.finished)
        on("ipi:waited", self.ipi.waited)
        on("token:enter", self.tokens.enter)
        on("token:leave", self.tokens.leave)
        on("token:given_away", self.tokens.given_away)
        on("token:reheld", self.tokens.reheld)
        on("token:handoff", self.stats.token_handoff)
        on("mplock:acquired", self.stats.mplock_acquired)
        on("mplock:try_failed", self.stats.mplock_try_failed)
        on("mplock:released", self.stats.mplock_released)
        on("mplock:busted", self.stopped.busted)
        on("thread:blocking", self.waits.blocking)
        # The lock's consistency first: a thread that should not run is not counted as having run.
        on("td_switch:next", self.mplock.switching_to)
        on("td_switch:next", self.waits.ran)
        on("hardclock:tick", self.waits.tick)

    def _record(self, kernel: Lwkt, record: dict) -> None:
        """Every decision is judged against the reference model as it is made. The model takes
        whether the CPU held the MP lock from the record; the RTL's OWNER register vouches for it."""
        self.tally.hear(record)
        mismatch = self.mplock.record_mismatch(kernel, record) if self.system.mode == "smp" else None
        if mismatch is not None:
            if self.system.panic is None:
                fail(kernel, f"scoreboard: {mismatch}")
            return
        try:
            mismatch = self.scoreboard.feed(record)
        except RecordError as exc:  # the kernel emitted a record the model cannot read
            mismatch = f"unreadable record: {exc}"
        if mismatch is not None and self.system.panic is None:
            fail(kernel, f"scoreboard: {mismatch}")

    # -- the end of the run ----------------------------------------------------------------------

    @property
    def dead_cpus(self) -> list[int]:
        """The CPUs the MP-lock watchdog declared stopped (and freed the lock of), in order."""
        return sorted(self.stopped.stopped)

    def in_flight(self) -> bool:
        """Messages or wake-ups still on their way (the machine lets them land before the final checks)."""
        return bool(self.ipi.undelivered() or self.waits.pending)

    def scoreboard_verdict(self) -> Verdict:
        board = self.scoreboard
        return (
            "every scheduling decision matches the reference model",
            board.mismatches == 0,
            f"{board.decisions} decisions, {board.undecidable} undecidable",
            board.decisions > 0,
        )

    def counter_verdict(self) -> Verdict:
        """The kernel's counters against its trace (``counter_trace``)."""
        problems = disagreements(self.system.counters()["per_cpu"], self.tally)
        return (
            "the kernel's counters agree with its trace",
            not problems,
            "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""),
            True,
        )

    def smp_verdicts(self) -> list[Verdict]:
        """The end-of-run checks of the SMP build the checkers can make (none on the UP build)."""
        if self.system.mode != "smp":
            return []
        stranded = self.waits.stranded()
        live = self.stopped.live()
        return [
            (
                "every IPI delivered exactly once, in order",
                self.ipi.undelivered() == 0,
                f"{self.ipi.received_count} of {self.ipi.sent_count} delivered",
                self.ipi.sent_count > 0,
            ),
            (
                "no thread waits forever after being signalled",
                not stranded,
                "; ".join(stranded[:3]) or f"{self.waits.woken_count} wake-ups",
                self.waits.woken_count > 0,
            ),
            (
                "no BUST freed the MP lock of a live CPU",
                not live,
                f"busted {self.dead_cpus}; live among them: {live}",
                bool(self.stopped.stopped),
            ),
        ]

    def counters(self, kernel_total: dict) -> dict:
        """The checkers' sections of counters.json; ``kernel_total``: the kernels' summed counters."""
        stats = self.stats
        result = {
            "scoreboard": self.scoreboard.summary(),
            # Both builds switch threads: outside the "smp" section.
            "switch_cycles": stats.switches.pairs(),
        }
        if self.system.mode == "smp":
            result["smp"] = {
                "ipi_sent": self.ipi.sent_count,
                "ipi_received": self.ipi.received_count,
                "ipi_latency_cycles": self.ipi.latencies.pairs(),
                "token_handoff_cycles": stats.token_handoffs.pairs(),
                "mplock_acquisitions": stats.mplock_acquisitions,
                "mplock_hold_cycles": stats.mplock_holds.pairs(),
                "mplock_handoff_cycles": stats.mplock_handoffs.pairs(),
                "mplock_contended_tries": kernel_total.get("mplock_contended", 0),
                "mplock_busts": kernel_total.get("mplock_busts", 0),
                "token_entries": self.tokens.entries,
            }
        return result
