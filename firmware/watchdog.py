"""The MP-lock watchdog: recovers the lock from a CPU that stopped while holding it.

What tells a stopped CPU from a busy one is the hardware: the MP lock's
OWNER_QUIET register counts the cycles since the owner's port last had a bus
request up. A CPU that runs kernel code makes requests all the time, in a
critical section too (a token wait polls the IPI FIFOs and the token's words);
only a stopped core goes silent. (A heartbeat written at hardclock, the first
design, is deferred inside critical sections, so a CPU waiting long for a
token looked stopped and lost its lock.)

The watchdog, a kernel thread on one CPU, samples OWNER and OWNER_QUIET at every
hardclock tick (sleeping in between, so it never starves its CPU's threads).
When another CPU owns the lock and has been quiet for ``quiet_cycles`` or more
(10,000 cycles, or 4 hardclock periods if that is longer),
it writes BUST with ``quiet_cycles``: the hardware frees the lock only if the
owner is still that quiet in the cycle of the write, so a CPU that made any
access since the sample keeps its lock. BUSTS read before and after tells
whether the lock was freed; the owner read first is the CPU freed, since a new
owner would have made a request (its TRY) fewer than ``quiet_cycles`` ago.

The rule: the lock of CPU c is freed iff c owned it and made no bus request for
``quiet_cycles`` cycles. Detection time: from the owner's last request, at most
``quiet_cycles`` + one hardclock period of the watchdog's CPU + the time its
thread waits to run after the tick (it runs at TDPRI_INT_SUPPORT, above every
kernel and user thread, below interrupt threads; a tick that lands in a critical
section is taken at its end) + its five bus accesses.
"""

from __future__ import annotations

from hdl import memory_map as mm
from .thread import TDPRI_INT_SUPPORT, Thread

__all__ = ["start_mplock_watchdog", "quiet_threshold", "STOPPED_QUIET_CYCLES"]

#: A lock owner with no bus request for this many cycles (or 4 hardclock periods, if longer) has
#: stopped. Live kernel code is never that quiet: outside critical sections the hardclock interrupt
#: makes accesses every period, and the longest stretch of work inside one in the workloads here is
#: 4,000 cycles (the fifo-full fault's deaf section). An idle CPU halts, but holds no lock.
STOPPED_QUIET_CYCLES = 10_000


def quiet_threshold(hardclock_period: int) -> int:
    """The quiet time that means "stopped" for a kernel ticking every ``hardclock_period`` cycles."""
    return max(STOPPED_QUIET_CYCLES, 4 * hardclock_period)


async def start_mplock_watchdog(k, *, quiet_cycles: int | None = None) -> Thread:
    """Start the watchdog thread on CPU ``k``; it runs until the run ends. ``quiet_cycles``: the
    threshold (default :func:`quiet_threshold` of the run's hardclock period)."""
    if quiet_cycles is None:
        quiet_cycles = quiet_threshold(k.system.hardclock_period)

    async def watchdog(td: Thread, arg) -> None:
        kernel = td.k
        while True:
            kernel = await kernel.tsleep_tick("mpwatch")
            owner = await kernel.cpu.read(mm.MPLOCK.OWNER)
            if owner == mm.OWNER_FREE or owner == kernel.gd_cpuid:
                continue
            quiet = await kernel.cpu.read(mm.MPLOCK.OWNER_QUIET)
            if quiet < quiet_cycles:
                continue
            before = await kernel.cpu.read(mm.MPLOCK.BUSTS)
            await kernel.cpu.write(mm.MPLOCK.BUST, quiet_cycles)
            if await kernel.cpu.read(mm.MPLOCK.BUSTS) == before:
                continue  # the owner made a request since the sample: not stopped
            kernel.tracepoint("mplock:busted", cpu=owner)
            kernel.count("mplock_busts")
            kernel.event("mplock_bust", stopped_cpu=owner, quiet=quiet)

    return await k.lwkt_create(watchdog, None, comm=f"mpwatchdog{k.gd_cpuid}", pri=TDPRI_INT_SUPPORT, mpsafe=True)
