"""The scheduling bugs a test can plant in the kernel, one at a time (``System(bugs=...)``; run.json's
``bug``; ``make mutants``): each must be caught by the verification.

The kernel asks ``system.bug(Bug.NAME)``, which takes only members of :class:`Bug`: a misspelled
name is an AttributeError the first time its line runs, and ``tests/test_mutants.py`` checks every
``Bug.`` the firmware names. The value of a member is the name a user types.
"""

from __future__ import annotations

import enum

__all__ = ["Bug", "BUGS"]


class Bug(enum.StrEnum):
    NO_ROTATE = "no-rotate"
    ENQUEUE_HEAD = "enqueue-head"
    PREEMPT_LOWER = "preempt-lower"
    NO_ROTATE_MP = "no-rotate-mp"
    SWITCH_IGNORES_PREEMPTED = "switch-ignores-preempted"
    DEQUEUE_LEAVES_QUEUE = "dequeue-leaves-queue"
    CRIT_EXIT_NO_SPLZ = "crit-exit-no-splz"
    INTR_IN_CRIT = "intr-in-crit"
    TOKEN_SKIP_FETCH = "token-skip-fetch"
    FIFO_DRAIN_THRESHOLD = "fifo-drain-threshold"
    IPI_POP_BEFORE_RUN = "ipi-pop-before-run"
    MPCOUNT_NOT_RESTORED = "mpcount-not-restored"
    WAIT_GEN_NOT_BUMPED = "wait-gen-not-bumped"
    SCHEDULE_WRONG_CPU = "schedule-wrong-cpu"
    SIGNAL_DROP_REMOTE = "signal-drop-remote"
    MPLOCK_RELEASE_EARLY = "mplock-release-early"
    ACQUIRE_KEEPS_TD_CPU = "acquire-keeps-td-cpu"
    SWITCH_RELEASES_UNHELD = "switch-releases-unheld"
    ITHREAD_COMPLETES_AGAIN = "ithread-completes-again"
    IPI_WAIT_UNSIGNED = "ipi-wait-unsigned"
    SWITCH_TRUSTS_MPCOUNT = "switch-trusts-mpcount"
    SAVE_SKIPS_MPCOUNT = "save-skips-mpcount"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Bug.NO_ROTATE: "lwkt_switch (v1.12 path) leaves the picked thread at the head of its queue",
    Bug.ENQUEUE_HEAD: "_lwkt_enqueue inserts at the head of the run queue instead of the tail",
    Bug.PREEMPT_LOWER: "lwkt_preempt lets a lower-priority thread preempt",
    Bug.NO_ROTATE_MP: "v1.18's MP-aware pick leaves the picked thread at the head of its queue",
    Bug.SWITCH_IGNORES_PREEMPTED: (
        "lwkt_switch picks from the run queue instead of resuming the thread the current one preempted"
    ),
    Bug.DEQUEUE_LEAVES_QUEUE: "_lwkt_dequeue clears RUNQ but leaves the thread on its run queue",
    Bug.CRIT_EXIT_NO_SPLZ: "crit_exit leaving the last section never runs the interrupts it deferred",
    Bug.INTR_IN_CRIT: "an interrupt inside a critical section is taken at once instead of deferred",
    Bug.TOKEN_SKIP_FETCH: "lwkt_gettoken enters the section without asking the owner for the token",
    Bug.FIFO_DRAIN_THRESHOLD: "lwkt_send_ipiq never drains its own queues (threshold the depth, not half of it)",
    Bug.IPI_POP_BEFORE_RUN: "lwkt_process_ipiq pops a message before running its function",
    Bug.MPCOUNT_NOT_RESTORED: "lwkt_preempt does not take back the MP count it lent",
    Bug.WAIT_GEN_NOT_BUMPED: "lwkt_signal does not advance the wait queue's generation",
    Bug.SCHEDULE_WRONG_CPU: "lwkt_schedule of another CPU's thread sends the IPI to the next CPU",
    Bug.SIGNAL_DROP_REMOTE: "lwkt_signal takes a thread of another CPU off the queue but never schedules it",
    Bug.MPLOCK_RELEASE_EARLY: "rel_mplock frees the MP lock when the count drops to 1",
    Bug.ACQUIRE_KEEPS_TD_CPU: "lwkt_acquire moves the thread without writing its td_cpu",
    Bug.SWITCH_RELEASES_UNHELD: (
        "lwkt_switch to a thread without MP count releases the MP lock without asking whether this CPU holds it"
    ),
    Bug.ITHREAD_COMPLETES_AGAIN: "an interrupt thread completes its source even when its handler completed it early",
    Bug.SWITCH_TRUSTS_MPCOUNT: "lwkt_switch takes a non-zero td_mpcount for the MP lock held instead of asking OWNER",
    Bug.IPI_WAIT_UNSIGNED: "lwkt_wait_ipiq compares TX_RINDEX with the sequence number as integers, not modulo 2^32",
    Bug.SAVE_SKIPS_MPCOUNT: (
        "a thread that may move to another CPU has its priority saved in its shared record, but not its MP count"
    ),
}

#: name -> what the bug does, in the catalogue's order.
BUGS: dict[str, str] = {bug.value: bug.description for bug in Bug}
