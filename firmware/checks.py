"""Checks that run during every SMP run; a violation stops the run with a clear message.

- at most one CPU is inside a given token's protected region (TokenChecker);
- every IPI message is delivered exactly once and in order per (source, destination)
  (IpiChecker);
- no thread waits forever after being signalled (WaitChecker);
- the MP lock's OWNER register and td_mpcount agree at every switch
  (``MpLockMixin.assert_mp_lock_consistent``);
- WOF and ROE stay clear (read from the RTL at the end of the run, they are sticky);
- a CPU whose MP lock the watchdog freed with BUST never runs again (StoppedChecker).

Besides checking, they keep the latency figures of the report.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .lwkt import Lwkt
    from .thread import Thread, Token

__all__ = ["IpiChecker", "TokenChecker", "WaitChecker", "StoppedChecker", "RunStats", "WAKE_LIMIT_CYCLES"]

#: A thread signalled this many cycles ago that has still not run counts as waiting forever.
WAKE_LIMIT_CYCLES = 100_000


class IpiChecker:
    """Every message sent is received once, in order, per (source, destination)."""

    def __init__(self, system):
        self.system = system
        self.queues: dict[tuple[int, int], deque] = {}
        self.sent_count = 0
        self.received_count = 0
        self.latencies: list[int] = []
        self.completed: dict[tuple[int, int], int] = {}  # (source, dest) -> functions run to the end

    def sent(self, source: int, dest: int, fid: int, handle: int, called: int | None = None) -> None:
        """``called``: the cycle lwkt_send_ipiq was entered, where the latency starts."""
        cycle = self.system.kernels[source].cycle if called is None else called
        self.queues.setdefault((source, dest), deque()).append((fid, handle, cycle))
        self.sent_count += 1

    def received(self, kernel: Lwkt, source: int, fid: int, handle: int) -> None:
        queue = self.queues.get((source, kernel.gd_cpuid))
        if not queue:
            self.system.check_failed(
                kernel,
                f"IPI from cpu {source} (func {fid}, arg {handle:#x}) received but never sent, or received twice",
            )
        want_fid, want_handle, sent_at = queue.popleft()
        if (want_fid, want_handle) != (fid, handle):
            self.system.check_failed(
                kernel,
                f"IPI from cpu {source} out of order: got func {fid} arg "
                f"{handle:#x}, expected func {want_fid} arg {want_handle:#x}",
            )
        self.received_count += 1
        # Ends once RX_FUNC and RX_ARG are read, as the receiver calls the function.
        self.latencies.append(kernel.cycle - sent_at)

    def finished(self, kernel: Lwkt, source: int) -> None:
        """The function of the oldest message from ``source`` returned on ``kernel``'s CPU."""
        pair = (source, kernel.gd_cpuid)
        self.completed[pair] = self.completed.get(pair, 0) + 1

    def waited(self, kernel: Lwkt, dest: int, seq: int) -> None:
        """lwkt_wait_ipiq(dest, seq) returned: the seed's promise is that message ``seq`` (and every one
        before it) has been carried out, its function run to the end."""
        done = self.completed.get((kernel.gd_cpuid, dest), 0)
        if done < seq:
            self.system.check_failed(
                kernel,
                f"lwkt_wait_ipiq returned for message {seq} to cpu {dest}, but only "
                f"{done} of its functions had run to the end",
            )

    def undelivered(self) -> int:
        return sum(len(q) for q in self.queues.values())


def _key(tok: Token):
    """A token's identity: its shared-RAM words (SMP), else the object."""
    return tok.ram_word if tok.ram_word is not None else id(tok)


class TokenChecker:
    """At most one CPU is inside a token's protected region at a time.

    A region starts when a thread of a CPU gets the token and ends when it
    releases it, or when the CPU hands the token to another (the seed's "the
    token may be lost if you block"). Threads of the owning CPU share it.
    """

    def __init__(self, system):
        self.system = system
        self.holders: dict[int, dict[int, int]] = {}  # id(token) -> {cpu: holds}
        self.entries = 0

    def enter(self, kernel: Lwkt, tok: Token) -> None:
        holders = self.holders.setdefault(_key(tok), {})
        others = [cpu for cpu, n in holders.items() if n > 0 and cpu != kernel.gd_cpuid]
        if others:
            self.system.check_failed(
                kernel,
                f"token {tok.name or hex(id(tok))}: cpu {kernel.gd_cpuid} entered while cpu {others[0]} is inside",
            )
        holders[kernel.gd_cpuid] = holders.get(kernel.gd_cpuid, 0) + 1
        self.entries += 1

    def leave(self, kernel: Lwkt, tok: Token) -> None:
        holders = self.holders.get(_key(tok), {})
        if holders.get(kernel.gd_cpuid, 0) > 0:
            holders[kernel.gd_cpuid] -= 1

    def given_away(self, kernel: Lwkt, tok: Token) -> None:
        holders = self.holders.get(_key(tok), {})
        if holders.get(kernel.gd_cpuid, 0) > 0:
            kernel.event("token_lost", token=tok.name, holds=holders[kernel.gd_cpuid])
        holders[kernel.gd_cpuid] = 0


class WaitChecker:
    """A thread taken off a wait queue runs again within WAKE_LIMIT_CYCLES."""

    def __init__(self, system, limit: int = WAKE_LIMIT_CYCLES):
        self.system = system
        self.limit = limit
        self.pending: dict[int, tuple[int, Thread]] = {}
        self.woken_count = 0

    def woken(self, td: Thread, cycle: int) -> None:
        self.woken_count += 1
        self.pending.setdefault(td.td_id, (cycle, td))

    def blocking(self, td: Thread) -> None:
        self.pending.pop(td.td_id, None)

    def ran(self, td: Thread) -> None:
        self.pending.pop(td.td_id, None)

    def tick(self, kernel: Lwkt) -> None:
        for cycle, td in list(self.pending.values()):
            if kernel.cycle - cycle > self.limit:
                self.system.check_failed(
                    kernel,
                    f"td #{td.td_id} ({td.td_comm}) was signalled at cycle "
                    f"{cycle} and has not run for {kernel.cycle - cycle} cycles",
                )

    def stranded(self) -> list[str]:
        return [f"td #{td.td_id} ({td.td_comm}) signalled at {cycle}" for cycle, td in self.pending.values()]


class StoppedChecker:
    """No BUST frees the lock of a live CPU: a CPU the watchdog declared stopped never runs again.

    The watchdog reports each BUST that freed the lock (:meth:`busted`). From then on any bus
    access of that CPU stops the run, naming the BUST; at the end, every CPU declared stopped
    must be one that really stopped (its core frozen by the ``cpu-stop`` fault).
    """

    def __init__(self, system):
        self.system = system
        self.stopped: dict[int, int] = {}  # cpu -> cycle of the BUST that freed its lock

    def busted(self, kernel: Lwkt, cpu: int) -> None:
        self.stopped[cpu] = cycle = kernel.cycle
        system = self.system

        def live_access() -> None:
            system.check_failed(
                system.kernels[cpu],
                f"the MP-lock watchdog on cpu {kernel.gd_cpuid} freed cpu "
                f"{cpu}'s lock with BUST at cycle {cycle}, and cpu {cpu} is "
                f"live: it made a bus access at cycle {system.kernels[cpu].cycle}",
            )

        system.kernels[cpu].cpu.on_access = live_access

    def live(self) -> list[int]:
        """CPUs declared stopped whose core did not stop."""
        return sorted(cpu for cpu in self.stopped if not getattr(self.system.kernels[cpu].cpu, "frozen", False))


class RunStats:
    """Latency figures: token hand-offs, the MP lock, context switches.

    Only Python bookkeeping at points the kernel passes anyway: recording never
    touches the bus or waits, so it cannot change a run.
    """

    def __init__(self):
        self.token_handoffs: list[int] = []
        self.mplock_holds: list[int] = []
        self.mplock_handoffs: list[int] = []
        self.switches: list[int] = []
        self.mplock_acquisitions = 0
        self._held_since: dict[int, int] = {}
        # CPUs whose last TRY failed and that have not had the lock since: the waiters.
        self._mplock_waiting: set[int] = set()
        # The last RELEASE while some CPU was waiting: (cycle acknowledged, the waiters then).
        self._mplock_released_to: tuple[int, frozenset[int]] | None = None
        # td_id -> cycle its switcher entered lwkt_switch, until that thread runs.
        self._switch_entered: dict[int, int] = {}

    def token_handoff(self, cycles: int) -> None:
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

    def switch_entered(self, ntd: Thread, cycle: int) -> None:
        """lwkt_switch, entered at ``cycle``, is handing the core to ``ntd``."""
        self._switch_entered[ntd.td_id] = cycle

    def thread_resumed(self, td: Thread, cycle: int) -> None:
        """``td`` runs again; a switch counts only when lwkt_switch picked it (not a preemption)."""
        start = self._switch_entered.pop(td.td_id, None)
        if start is not None:
            self.switches.append(cycle - start)
