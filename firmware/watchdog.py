"""The MP-lock watchdog: recovers the lock from a CPU that stopped while holding it.

Every CPU of the SMP build writes a heartbeat word in shared RAM at each
hardclock tick. The watchdog, a kernel thread on another CPU, samples the MP
lock's OWNER register at every hardclock tick (sleeping in between, so it never
starves the threads of its own CPU); when the same CPU has owned the lock for
``patience`` samples and its heartbeat has not moved, that CPU is
declared stopped and the lock is freed with BUST (the register's fault-recovery
path).
"""
from __future__ import annotations

from hdl import memory_map as mm
from .thread import TDPRI_INT_SUPPORT, Thread

__all__ = ["start_mplock_watchdog"]


async def start_mplock_watchdog(k, *, patience: int = 3) -> Thread:
    """Start the watchdog thread on CPU ``k``; it runs until the run ends."""

    async def watchdog(td: Thread, arg) -> None:
        kernel = td.k
        suspect, seen, beat = None, 0, None
        while True:
            kernel = await kernel.tsleep_tick("mpwatch")
            owner = await kernel.cpu.read(mm.MPLOCK.OWNER)
            if owner == mm.OWNER_FREE or owner == kernel.gd_cpuid or owner in kernel.system.dead_cpus:
                suspect, seen = None, 0
                continue
            ram = kernel.system.ram
            heartbeat = await kernel.cpu.read(ram.address(ram.heartbeat(owner)))
            if owner != suspect or heartbeat != beat:
                suspect, seen, beat = owner, 1, heartbeat
                continue
            seen += 1
            if seen >= patience:
                await kernel.cpu.write(mm.MPLOCK.BUST, 0)
                kernel.system.dead_cpus.add(owner)
                kernel.count("mplock_busts")
                kernel.event("mplock_bust", stopped_cpu=owner, ticks=seen)
                suspect, seen = None, 0

    return await k.lwkt_create(watchdog, None, comm=f"mpwatchdog{k.gd_cpuid}", pri=TDPRI_INT_SUPPORT,
                               mpsafe=True)
