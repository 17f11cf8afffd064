"""Checks that run during every SMP run; a violation stops the run with a clear message.

- at most one CPU is inside a given token's protected region (TokenChecker);
- every IPI message is delivered exactly once and in order per (source, destination)
  (IpiChecker);
- no thread waits forever after being signalled (WaitChecker);
- the MP lock's OWNER register and td_mpcount agree at every switch (MpLockChecker);
- a CPU whose MP lock the watchdog freed with BUST never runs again (StoppedChecker).

Each is fed by the kernel's tracepoints (``run_checks.py`` subscribes them) and reads nothing of
the kernel but what a tracepoint hands it and the thread structures it names.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from hdl import memory_map as mm
from sim.checks.stats import Samples

if TYPE_CHECKING:
    from firmware.core import Hardware
    from firmware.lwkt import Lwkt
    from firmware.system import System
    from firmware.thread import Thread, Token

__all__ = ["IpiChecker", "TokenChecker", "WaitChecker", "StoppedChecker", "MpLockChecker", "WAKE_LIMIT_CYCLES", "fail"]

#: A thread signalled this many cycles ago that has still not run counts as waiting forever.
WAKE_LIMIT_CYCLES = 100_000


def fail(kernel: Lwkt, message: str) -> None:
    """A run-time check found a violation: stop the run as a panic on ``kernel``'s CPU would."""
    kernel.panic(f"check failed: {message}")


class IpiChecker:
    """Every message sent is received once, in order, per (source, destination)."""

    def __init__(self):
        self.queues: dict[tuple[int, int], deque] = {}
        self.sent_count = 0
        self.received_count = 0
        self.latencies = Samples()
        self.completed: dict[tuple[int, int], int] = {}  # (source, dest) -> functions run to the end

    def sent(self, kernel: Lwkt, dest: int, fid: int, arg: int, called: int | None = None) -> None:
        """``called``: the cycle lwkt_send_ipiq was entered, where the latency starts."""
        cycle = kernel.cycle if called is None else called
        self.queues.setdefault((kernel.gd_cpuid, dest), deque()).append((fid, arg, cycle))
        self.sent_count += 1

    def received(self, kernel: Lwkt, source: int, fid: int, arg: int) -> None:
        queue = self.queues.get((source, kernel.gd_cpuid))
        if not queue:
            fail(
                kernel,
                f"IPI from cpu {source} (func {fid}, arg {arg:#x}) received but never sent, or received twice",
            )
        want_fid, want_handle, sent_at = queue.popleft()
        if (want_fid, want_handle) != (fid, arg):
            fail(
                kernel,
                f"IPI from cpu {source} out of order: got func {fid} arg "
                f"{arg:#x}, expected func {want_fid} arg {want_handle:#x}",
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
        # Sequence numbers are write indices, which start at IPI_INDEX_RESET and wrap at 2**32.
        number = (seq - mm.IPI_INDEX_RESET) & 0xFFFF_FFFF
        if done < number:
            fail(
                kernel,
                f"lwkt_wait_ipiq returned for message {number} (index {seq:#x}) to cpu {dest}, but only "
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

    def __init__(self):
        self.holders: dict[int, dict[int, int]] = {}  # id(token) -> {cpu: holds}
        self.entries = 0

    def enter(self, kernel: Lwkt, tok: Token) -> None:
        holders = self.holders.setdefault(_key(tok), {})
        others = [cpu for cpu, n in holders.items() if n > 0 and cpu != kernel.gd_cpuid]
        if others:
            fail(
                kernel,
                f"token {tok.name or hex(id(tok))}: cpu {kernel.gd_cpuid} entered while cpu {others[0]} is inside",
            )
        holders[kernel.gd_cpuid] = holders.get(kernel.gd_cpuid, 0) + 1
        self.entries += 1

    def leave(self, kernel: Lwkt, tok: Token) -> None:
        holders = self.holders.get(_key(tok), {})
        if holders.get(kernel.gd_cpuid, 0) > 0:
            holders[kernel.gd_cpuid] -= 1

    def reheld(self, kernel: Lwkt, tok: Token) -> None:
        """lwkt_regettoken found the token this CPU's: if the CPU was not inside (it came back by a
        hand-over no thread of it asked for), it enters now, and no other CPU may be inside."""
        if self.holders.get(_key(tok), {}).get(kernel.gd_cpuid, 0) == 0:
            self.enter(kernel, tok)

    def given_away(self, kernel: Lwkt, tok: Token) -> None:
        holders = self.holders.get(_key(tok), {})
        if holders.get(kernel.gd_cpuid, 0) > 0:
            kernel.event("token_lost", token=tok.name, holds=holders[kernel.gd_cpuid])
        holders[kernel.gd_cpuid] = 0


class WaitChecker:
    """A thread taken off a wait queue runs again within WAKE_LIMIT_CYCLES."""

    def __init__(self, limit: int = WAKE_LIMIT_CYCLES):
        self.limit = limit
        self.pending: dict[int, tuple[int, Thread]] = {}
        self.woken_count = 0

    def woken(self, kernel: Lwkt, td: Thread) -> None:
        self.woken_count += 1
        self.pending.setdefault(td.td_id, (kernel.cycle, td))

    def blocking(self, kernel: Lwkt, td: Thread) -> None:
        self.pending.pop(td.td_id, None)

    def ran(self, kernel: Lwkt, td: Thread) -> None:
        self.pending.pop(td.td_id, None)

    def tick(self, kernel: Lwkt) -> None:
        for cycle, td in list(self.pending.values()):
            if kernel.cycle - cycle > self.limit:
                fail(
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

    def __init__(self, system: System):
        self.system = system
        self.stopped: dict[int, int] = {}  # cpu -> cycle of the BUST that freed its lock

    def busted(self, kernel: Lwkt, cpu: int) -> None:
        self.stopped[cpu] = cycle = kernel.cycle
        system = self.system

        def live_access() -> None:
            fail(
                system.kernels[cpu],
                f"the MP-lock watchdog on cpu {kernel.gd_cpuid} freed cpu "
                f"{cpu}'s lock with BUST at cycle {cycle}, and cpu {cpu} is "
                f"live: it made a bus access at cycle {system.kernels[cpu].cycle}",
            )

        system.kernels[cpu].cpu.on_access = live_access

    def live(self) -> list[int]:
        """CPUs declared stopped whose core did not stop."""
        return sorted(cpu for cpu in self.stopped if not getattr(self.system.kernels[cpu].cpu, "frozen", False))


class MpLockChecker:
    """The MP lock's OWNER register and td_mpcount agree at every switch of the SMP kernel: OWNER
    says this CPU exactly when the thread about to run holds counts. Reads OWNER through the
    hardware probe, without a bus cycle, so checking cannot change the run."""

    def __init__(self, hardware: Hardware | None):
        self.hardware = hardware

    def switching_to(self, kernel: Lwkt, td: Thread) -> None:
        if self.hardware is None:
            return
        owner = self.hardware.mplock_owner()
        if (owner == kernel.gd_cpuid) != (td.td_mpcount > 0):
            fail(
                kernel,
                f"MP lock: switching to td #{td.td_id} ({td.td_comm}) with td_mpcount "
                f"{td.td_mpcount} but OWNER is {'free' if owner is None else owner}",
            )

    def record_mismatch(self, kernel: Lwkt, record: dict) -> str | None:
        """A pick or preempt record says whether the CPU held the MP lock (``mpheld``) and what its TRY
        returned (``tried``): it holds the lock now exactly when it held it or its TRY won. The
        scoreboard's model takes both from the record; OWNER vouches for them (None: it agrees). An
        ``mplock_try`` or ``mplock_release`` record names the owner the trace shows: it must be OWNER's,
        this CPU exactly after a TRY that won, never this CPU after a failed TRY or a RELEASE; and a thread
        waits for the lock (``mplock_wait``) only while its CPU does not own it."""
        if self.hardware is None:
            return None
        event = record.get("event")
        if event in ("mplock_try", "mplock_release"):
            return self._owner_mismatch(kernel, record)
        if event == "mplock_wait" and self.hardware.mplock_owner() == kernel.gd_cpuid:
            # get_mplock waits (switches away) only after its TRY failed; an interrupt thread that
            # preempted in between has given back any lock it took (lwkt_preempt's return).
            return f"td #{record['tid']} on cpu {kernel.gd_cpuid} waits for the MP lock its CPU owns"
        if event not in ("pick", "preempt") or record.get("mpheld") is None:
            return None
        owner = self.hardware.mplock_owner()
        claims = bool(record["mpheld"]) or record.get("tried") is True
        if claims == (owner == kernel.gd_cpuid):
            return None
        return (
            f"{record['event']} record of cpu {kernel.gd_cpuid} says mpheld={bool(record['mpheld'])}, "
            f"tried={record.get('tried')}, but the MP lock's OWNER is {'nobody' if owner is None else f'cpu {owner}'}"
        )

    def _owner_mismatch(self, kernel: Lwkt, record: dict) -> str | None:
        owner, cpu = self.hardware.mplock_owner(), kernel.gd_cpuid
        mine = record["event"] == "mplock_try" and record.get("ok") is True
        if record.get("owner") == owner and (owner == cpu) == mine:
            return None
        what = f"ok={record.get('ok')}" if record["event"] == "mplock_try" else "after the RELEASE"
        return (
            f"{record['event']} record of cpu {cpu} ({what}) names owner {record.get('owner')}, but the MP lock's "
            f"OWNER is {'nobody' if owner is None else f'cpu {owner}'}"
        )
