"""Interrupts of one CPU: entry, deferral in critical sections, dispatch, hardclock, ithreads.

The core calls :meth:`InterruptMixin.interrupt_entry` at every interrupt
boundary while its ``irq`` line is high. While the running thread has
interrupts off (:meth:`intr_disable`) the interrupt stays pending in the
controller and lands at the first boundary after they come back on. Inside a
critical section it is only recorded (``gd_reqpri``) and runs when the section
ends (``crit_exit`` -> ``lwkt_yield_quick`` -> ``splz``); otherwise the handler
runs on the interrupted thread's stack: claim, dispatch, complete.

Interrupts-off stretches, each where the machine-dependent code of the seed's
era runs with interrupts disabled: the interrupt frame (the vector is an
interrupt gate, so claim, dispatch and complete run with interrupts off until
the frame returns), and the MP-lock transitions of ``get_mplock`` and
``rel_mplock`` (``mplock.s`` brackets them with ``pushfl; cli`` ... ``popfl``).

Sources: the timer is the hardclock; an external line schedules its interrupt
thread (``sched_ithd``), which may preempt the current thread and completes
the source when it has serviced its device.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from hdl import memory_map as mm
from .bugs import Bug
from .frames import kernel_function, landed_in
from .thread import TDF, TDPRI_CRIT, TDPRI_INT_MED, Thread

__all__ = ["InterruptMixin", "IthreadHandler", "HARDWARE_PRIO", "EVENT_INTERRUPT", "EVENT_IPI_SEND"]

#: async def handler(td, line): services the device of external line ``line``.
IthreadHandler = Callable[[Thread, int], Awaitable[None]]

#: Codes the kernel writes to DEBUG.EVENT (shown on debug.event for one cycle in the waveform).
EVENT_INTERRUPT = 0x100  # | source: an interrupt was claimed
EVENT_IPI_SEND = 0x200  # | destination CPU: an IPI was queued

#: Interrupt-controller priorities the kernel programs: IPIs first, then devices, then the clock.
HARDWARE_PRIO = {mm.SOURCE_IPI: 3, mm.SOURCE_TIMER: 1, mm.SOURCE_SOFT: 1}
EXTERNAL_PRIO = 2


class InterruptMixin:
    """Interrupt handling for :class:`firmware.lwkt.Lwkt`."""

    def init_interrupts(self) -> None:
        self.ithreads: dict[int, Thread] = {}
        self.ithread_handlers: dict[int, IthreadHandler] = {}
        #: External sources claimed here and not completed yet: an interrupt thread completes only
        #: these (one woken from thread context, with no claim, has nothing to complete).
        self.intr_in_service: set[int] = set()
        self.hardclock_ticks = 0
        self.interrupts_taken = 0
        self.interrupts_deferred = 0
        self.cpu.on_interrupt = self.interrupt_entry

    async def setup_interrupts(self) -> None:
        """Program the interrupt controller and start the hardclock (when the run has one)."""
        enable = 0
        for source, prio in HARDWARE_PRIO.items():
            await self.cpu.write(mm.INTC.addr("PRIO", index=source), prio)
        enable |= 1 << mm.SOURCE_SOFT
        if self.system.uses_ipi:
            enable |= 1 << mm.SOURCE_IPI
        hz = self.system.hardclock_period
        if hz:
            now = await self.cpu.read(mm.SYS.CYCLE_LO)
            high = await self.cpu.read(mm.SYS.CYCLE_HI)
            first = (high << 32 | now) + hz
            await self.cpu.write(mm.TIMER.PERIOD, hz)
            await self.cpu.write(mm.TIMER.COMPARE_HI, first >> 32)
            await self.cpu.write(mm.TIMER.COMPARE_LO, first & 0xFFFF_FFFF)
            await self.cpu.write(mm.TIMER.CTRL, 1)
            enable |= 1 << mm.SOURCE_TIMER
        self.intc_enable = enable
        await self.cpu.write(mm.INTC.ENABLE, enable)

    # -- interrupts on and off ------------------------------------------------------------------

    def intr_disable(self) -> int:
        """cli: the running thread takes no interrupt until :meth:`intr_restore`; returns the old state."""
        return self._intr_set(1)

    def intr_enable(self) -> int:
        """sti (the seed's cpu_enable_intr); returns the old state for :meth:`intr_restore`."""
        return self._intr_set(0)

    def intr_restore(self, saved: int) -> None:
        """popfl: interrupts as they were before (a pending one lands at the next boundary)."""
        self.curthread.td_intr_off = saved

    def _intr_set(self, off: int) -> int:
        td = self.curthread
        saved, td.td_intr_off = td.td_intr_off, off
        return saved

    # -- entry ----------------------------------------------------------------------------------

    def _landed_in(self, td: Thread) -> str:
        return landed_in(td.td_kframes, td is self.gd_idletd)

    async def interrupt_entry(self) -> None:
        """An interrupt boundary with ``irq`` high: take it, defer it in a critical section, or
        leave it pending while the thread has interrupts off (the core goes on either way: nothing is
        returned)."""
        td = self.curthread
        if td is None or td.td_intr_off:
            return
        if td.td_pri >= TDPRI_CRIT and not self.system.bug(Bug.INTR_IN_CRIT):
            # The vector pends it once (gd_reqpri); it stays masked until splz runs it.
            if self.gd_reqpri < TDPRI_CRIT:
                self.landings.record(td.td_kframes, td is self.gd_idletd, deferred=True)
                self.gd_reqpri = TDPRI_CRIT
                self.interrupts_deferred += 1
                self.event("intr_deferred", crit=td.crit_count, **{"in": self._landed_in(td)})
            return
        if self.gd_reqpri >= TDPRI_CRIT:
            # Out of the section but splz has not run yet (crit_exit's test is still ahead, or the
            # section ended without a yield): what was pended stays masked until splz.
            return
        self.landings.record(td.td_kframes, td is self.gd_idletd, deferred=False)
        self.cpu.charge(self.costs["intr_entry"])
        await self.do_interrupts(self._landed_in(td))

    @kernel_function
    async def splz(self) -> None:
        """Run the interrupts that were deferred, if the line still asks for them.

        It clears ``gd_reqpri`` (v1.12 clears it in lwkt_yield_quick just before
        calling here, v1.18 here: the same thing for the only caller).
        """
        self.gd_reqpri = 0
        if self.cpu.irq_high():
            self.event("splz")
            await self.do_interrupts("splz")

    async def do_interrupts(self, landed_in: str) -> None:
        """The interrupt frame: claim and dispatch every pending source on the current thread's
        stack, with interrupts off (an interrupt gate) and in a critical section."""
        crit = self.curthread.crit_count
        saved = self.intr_disable()
        self.crit_enter()
        self.gd_intr_nesting_level += 1
        while True:
            source = await self.cpu.read(mm.INTC.CLAIM)
            if source == mm.CLAIM_NONE:
                break
            self.cpu.charge(self.costs["intr_dispatch"])
            self.interrupts_taken += 1
            self.event("interrupt", source=source, crit=crit, **{"in": landed_in})
            await self.cpu.write(mm.DEBUG.EVENT, EVENT_INTERRUPT | source)
            await self.dispatch_interrupt(source)
        self.gd_intr_nesting_level -= 1
        # Every pending source ran (CLAIM came back empty, after any preemption this frame made):
        # what a thread it let run pended meanwhile ran too, so nothing stays masked (doreti).
        self.gd_reqpri = 0
        self.crit_exit_noyield()
        # iret: interrupts on again; anything new lands at the interrupted code's next boundary.
        self.intr_restore(saved)

    async def dispatch_interrupt(self, source: int) -> None:
        if source == mm.SOURCE_TIMER:
            await self.cpu.write(mm.TIMER.ACK, 0)
            await self.hardclock()
            await self.cpu.write(mm.INTC.COMPLETE, source)
        elif source == mm.SOURCE_SOFT:
            await self.cpu.write(mm.INTC.SOFT_CLR, 0)
            await self.cpu.write(mm.INTC.COMPLETE, source)
        elif source == mm.SOURCE_IPI:
            await self.ipi_interrupt()
            await self.cpu.write(mm.INTC.COMPLETE, source)
        else:
            line = source - mm.SOURCE_EXT0
            td = self.ithreads.get(line)
            if td is None:
                self.panic(f"stray interrupt: external line {line} has no interrupt thread")
            # A new claim must be completed again, even if the ithread completed the previous
            # one early (intr_complete) and is still running its handler.
            self.intr_in_service.add(source)
            await self.sched_ithd(td, source)

    async def ipi_interrupt(self) -> None:
        self.panic("IPI interrupt in the uniprocessor build")

    # -- hardclock ------------------------------------------------------------------------------

    async def hardclock(self) -> None:
        self.cpu.charge(self.costs["hardclock"])
        self.hardclock_ticks += 1
        self.event("hardclock", tick=self.hardclock_ticks)
        for hook in self.system.hardclock_hooks:
            await hook(self)

    # -- interrupt threads ----------------------------------------------------------------------

    async def register_ithread(
        self, line: int, handler: IthreadHandler, *, pri: int = TDPRI_INT_MED, name: str | None = None
    ) -> Thread:
        """Create the interrupt thread of external line ``line`` and enable the line here."""
        self.ithread_handlers[line] = handler
        td = await self.lwkt_create(_ithread_main, line, tdflags=TDF.STOPREQ, comm=name or f"ithread{line}", pri=pri)
        self.ithreads[line] = td
        source = mm.SOURCE_EXT0 + line
        await self.cpu.write(mm.INTC.addr("PRIO", index=source), EXTERNAL_PRIO)
        self.intc_enable |= 1 << source
        await self.cpu.write(mm.INTC.ENABLE, self.intc_enable)
        return td

    @kernel_function
    async def sched_ithd(self, td: Thread, source: int) -> None:
        """Schedule an interrupt thread and let it preempt the current thread if it can."""
        await self.lwkt_schedule(td)
        await self.lwkt_preempt(td, source)

    async def intr_complete(self, source: int) -> None:
        """End service of ``source`` (an interrupt thread may do this before it finishes)."""
        if source in self.intr_in_service:
            self.intr_in_service.discard(source)
            await self.cpu.write(mm.INTC.COMPLETE, source)


async def _ithread_main(td: Thread, line: int) -> None:
    """An interrupt thread: service the device, complete the source, sleep until the next one."""
    source = mm.SOURCE_EXT0 + line
    while True:
        await td.k.ithread_handlers[line](td, line)
        k = td.k
        k.crit_enter()
        if "delayed-complete" in k.system.faults:
            # Fault injection: the source stays in service a while after its device was served.
            k.count("delayed_completions")
            await k.cpu.work(k.system.fault_rng(k.gd_cpuid).randint(20, 200))
        if source in k.intr_in_service or k.system.bug(Bug.ITHREAD_COMPLETES_AGAIN):
            k.intr_in_service.discard(source)
            await k.cpu.write(mm.INTC.COMPLETE, source)
        await k.lwkt_deschedule_self()
        k = await k.lwkt_switch()
        await k.crit_exit()
