"""The LWKT core of one CPU: scheduler, critical sections, preemption, wait queues, threads.

Re-implements DragonFly BSD's ``kern/lwkt_thread.c`` (v1.12, the uniprocessor
version; see ``../shared/seeds``) in Python for the simulated SoC. One
:class:`Lwkt` instance is one CPU's ``globaldata`` together with the functions
that act on it. Everything that a CPU owns (run queues, the free-thread
cache, critical-section counts) is touched only by that CPU's instance: the
run-queue helpers, lwkt_setpri and the switch assert that the thread belongs to
it, and the core refuses any access that does not come from the thread running
on it. (Wait queues and some fields of other CPUs' threads are still Python
objects shared under the seed's tokens and MP lock; see docs/kernel.md.)

The functions keep the seed's names and meanings. Those that may switch
threads, take an interrupt or touch the bus are coroutines; ``crit_enter`` and
the run-queue helpers are plain functions, as in C they never block.

Kernel code runs on a core through the core protocol (``firmware/core.py``):
every bus access is an interrupt boundary, and each function charges the
cycles its body costs (``firmware/cost_model.py``), so interrupts land inside
kernel functions. A thread may move to another CPU (``lwkt_acquire``) while it
is switched out: it then resumes on the other CPU's kernel, so every function
that can switch continues with the kernel ``lwkt_switch`` returns (the
``mycpu`` of C, read again after a switch).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING
from collections.abc import Awaitable, Callable

from hdl import memory_map as mm
from .bugs import Bug
from .frames import Landings, kernel_function
from .intr import InterruptMixin
from .panic import KernelPanic
from .thread import (
    CACHE_NTHREADS,
    NO_TDF,
    NQS,
    TDF,
    TDPRI_CRIT,
    TDPRI_IDLE_THREAD,
    TDPRI_MASK,
    TDPRI_MAX,
    Thread,
    Token,
    WaitQueue,
)

if TYPE_CHECKING:
    from .core import Core
    from .system import System

__all__ = ["Lwkt", "ThreadFunc", "COUNTERS"]

#: async def func(td, arg): the body of a thread created by lwkt_create/kthread_create.
ThreadFunc = Callable[[Thread, object], Awaitable[None]]

#: The seed's sysctl counters (lwkt.*), kept per CPU; "lwkt.untimely_switch" is a setting.
COUNTERS = ("switch_count", "preempt_hit", "preempt_miss", "preempt_weird")


class _ThreadExit(BaseException):
    """Unwinds the coroutine of a thread that called lwkt_exit (never returns in C)."""


class Lwkt(InterruptMixin):
    """One CPU's LWKT kernel: its globaldata and the lwkt_* functions.

    Parameters
    ----------
    system : System
        The run this kernel belongs to (trace, sysctl settings, thread ids).
    cpu : Core
        The core it runs on.
    """

    def __init__(self, system: System, cpu: Core):
        self.system = system
        self.cpu = cpu
        self.gd_cpuid = cpu.id
        #: Cycles per operation of the run's cost model.
        self.costs = system.cost_model.cycles(system.mode)
        self._crit_enter_cost = self.costs["crit_enter"]
        self._crit_exit_cost = self.costs["crit_exit"]
        self._tracepoints = system.tracepoints
        self._record_observers = system.record_observers
        self.landings = Landings()
        self.counters = {name: 0 for name in COUNTERS}
        self.lwkt_gdinit()
        self.gd_tdfreeq: deque[Thread] = deque()
        self.gd_tdfreecount = 0
        self.gd_reqpri = 0
        self.gd_intr_nesting_level = 0
        self.curthread: Thread | None = None
        # Threads whose structures were given back to the allocator (zfree).
        self.threads_freed = 0
        self.threads_allocated = 0
        self.gd_idletd = self._new_thread()
        self.lwkt_init_thread(self.gd_idletd, object(), 0, self)
        self.gd_idletd.td_comm = f"idle{self.gd_cpuid}"
        self.gd_idletd.td_pri = TDPRI_IDLE_THREAD + TDPRI_CRIT
        self.init_interrupts()

    # -- diagnostics ---------------------------------------------------------------------------

    @property
    def cycle(self) -> int:
        """The current cycle (trace records carry it)."""
        return self.cpu.cycle

    @property
    def exec_cycle(self) -> int:
        """Where this CPU's instruction stream is: the current cycle plus the kernel cycles owed
        (computation before the code running now, spent at the next core operation). Latencies
        start from it, so computation charged before a measurement is not counted in it."""
        return self.cpu.cycle + self.cpu.debt

    def panic(self, message: str) -> None:
        td = self.curthread
        raise KernelPanic(message, self.gd_cpuid, td.td_comm if td else "-", td.td_id if td else 0, self.cycle)

    def kassert(self, condition, message: str) -> None:
        if not condition:
            self.panic(message)

    def _mine(self, td: Thread, what: str) -> None:
        """Per-CPU state is changed only by its own CPU: anything else is a loud bug."""
        if td.td_gd is not self:
            owner = td.td_gd.gd_cpuid if td.td_gd is not None else None
            self.panic(f"{what}: thread #{td.td_id} ({td.td_comm}) belongs to cpu {owner}, not to cpu {self.gd_cpuid}")

    def event(self, kind: str, **fields) -> None:
        td = self.curthread
        record = self.system.trace.emit(
            self.cycle, self.gd_cpuid, td.td_id if td else 0, td.td_comm if td else "-", kind, **fields
        )
        # The checkers see every record as it is made (a scoreboard judges each decision at once).
        for observer in self._record_observers:
            observer(self, record)

    def tracepoint(self, name: str, **fields) -> None:
        """Run the callbacks put on tracepoint ``name`` (``System.on_tracepoint``): a test's, or a
        checker's, which reads ``fields``."""
        for callback in self._tracepoints.get(name, ()):
            callback(self, **fields)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    # -- critical sections (thread2.h) ----------------------------------------------------------

    def crit_enter(self) -> None:
        self.curthread.td_pri += TDPRI_CRIT
        self.cpu.charge(self._crit_enter_cost)

    async def crit_exit(self) -> None:
        td = self.curthread
        td.td_pri -= TDPRI_CRIT
        if td.td_pri < 0:
            self.crit_panic()
        if td.td_pri < TDPRI_CRIT:
            if self._tracepoints:
                self.tracepoint("crit_exit:window")
            if self._crit_exit_cost:
                # Out of the last section, before the gd_reqpri test: an interrupt may land here.
                td.td_kframes.append("crit_exit")
                try:
                    await self.cpu.spend(self._crit_exit_cost)
                finally:
                    td.td_kframes.pop()
        else:
            self.cpu.charge(self._crit_exit_cost)
        if td.td_pri < self.gd_reqpri and not self.system.bug(Bug.CRIT_EXIT_NO_SPLZ):
            await self.lwkt_yield_quick()

    def crit_exit_noyield(self) -> None:
        td = self.curthread
        td.td_pri -= TDPRI_CRIT
        if td.td_pri < 0:
            self.crit_panic()
        self.cpu.charge(self._crit_enter_cost)

    def crit_panic(self) -> None:
        td = self.curthread
        lpri = td.td_pri
        td.td_pri = 0
        self.panic(f"td_pri is/would-go negative! td #{td.td_id} ({td.td_comm}) {lpri}")

    # -- run queues -----------------------------------------------------------------------------

    def lwkt_gdinit(self) -> None:
        self.gd_tdrunq: list[deque[Thread]] = [deque() for _ in range(NQS)]
        self.gd_runqmask = 0

    async def _lwkt_dequeue(self, td: Thread) -> None:
        self._mine(td, "_lwkt_dequeue")
        self.kassert(self.curthread.td_pri >= TDPRI_CRIT, "_lwkt_dequeue outside a critical section")
        self.cpu.charge(self.costs["_lwkt_dequeue"])
        if td.td_flags & TDF.RUNQ:
            td.td_flags &= ~TDF.RUNQ
            if not self.system.bug(Bug.DEQUEUE_LEAVES_QUEUE):
                self.gd_tdrunq[td.td_pri & TDPRI_MASK].remove(td)
            # The ready mask is cleaned up lazily by lwkt_switch.
            self.event("dequeue", target=td.td_id, pri=td.pri)
            await self.publish_state(td)

    async def _lwkt_enqueue(self, td: Thread) -> None:
        self._mine(td, "_lwkt_enqueue")
        self.kassert(self.curthread.td_pri >= TDPRI_CRIT, "_lwkt_enqueue outside a critical section")
        self.cpu.charge(self.costs["_lwkt_enqueue"])
        if not td.td_flags & TDF.RUNQ:
            nq = td.td_pri & TDPRI_MASK
            td.td_flags |= TDF.RUNQ
            if self.system.bug(Bug.ENQUEUE_HEAD):
                self.gd_tdrunq[nq].appendleft(td)
            else:
                self.gd_tdrunq[nq].append(td)
            self.gd_runqmask |= 1 << nq
            self.event("enqueue", target=td.td_id, pri=nq, mpcount=td.td_mpcount)
            await self.publish_state(td)

    async def publish_state(self, td: Thread) -> None:
        """Make what other CPUs may read of ``td`` visible to them: its flags, and its priority and
        MP count while it can move to another CPU (the SMP build keeps them in shared RAM)."""

    def runnable(self) -> bool:
        """Some thread other than the idle thread may be ready (the mask may be stale)."""
        return self.gd_runqmask != 0

    # -- wait queues ----------------------------------------------------------------------------

    @staticmethod
    def lwkt_init_wait(w: WaitQueue) -> None:
        """TAILQ_INIT, as in the seed (the count and generation start at 0 in a zeroed structure)."""
        w.wa_waitq.clear()

    def waitq_view(self, w: WaitQueue) -> dict:
        """What ``w`` holds now, for its trace records (``count``: wa_count; ``queued``: the thread
        ids on it, head first): the scoreboard compares them with its own model of the queue. Read
        as a checker reads it, never used by the kernel's logic."""
        return {"count": w.wa_count, "queued": [t.td_id for t in w.wa_waitq]}

    # -- thread structures ------------------------------------------------------------------------

    #: The thread structure of this build (the SMP build keeps the shared fields in RAM).
    thread_class = Thread

    def _new_thread(self) -> Thread:
        td = self.thread_class(self.system.next_tid())
        self.threads_allocated += 1
        return td

    @kernel_function
    async def lwkt_alloc_thread(self, td: Thread | None = None) -> Thread:
        """A thread structure: from this CPU's free cache when it has one, else a new one."""
        flags = TDF(0)
        if td is None:
            self.crit_enter()
            if self.gd_tdfreecount > 0:
                self.gd_tdfreecount -= 1
                td = self.gd_tdfreeq[0] if self.gd_tdfreeq else None
                self.kassert(
                    td is not None and td.td_flags & TDF.EXITED, "lwkt_alloc_thread: unexpected NULL or corrupted td"
                )
                self.gd_tdfreeq.popleft()
                await self.crit_exit()
                flags = td.td_flags & (TDF.ALLOCATED_STACK | TDF.ALLOCATED_THREAD)
                self.event("thread_reuse", target=td.td_id)
            else:
                await self.crit_exit()
                self.count("thread_cache_miss")
                self.cpu.charge(self.costs["zalloc"])
                td = self._new_thread()
                td.td_kstack = None
                flags |= TDF.ALLOCATED_THREAD
        if td.td_kstack is None:
            self.cpu.charge(self.costs["kmem_alloc"])
            flags |= TDF.ALLOCATED_STACK
        stack = td.td_kstack if td.td_kstack is not None else object()
        self.lwkt_init_thread(td, stack, flags, self)
        await self.publish_thread(td)
        return td

    async def publish_thread(self, td: Thread) -> None:
        """Write a newly initialised thread's shared record (the SMP build has one in RAM)."""

    def not_waiting(self, td: Thread) -> bool:
        """``td`` (this CPU's running thread) is on no wait queue."""
        return td.td_wait is None

    def lwkt_init_thread(self, td: Thread, stack: object, flags: TDF, gd: Lwkt) -> None:
        self.cpu.charge(self.costs["lwkt_init_thread"] + self.costs["bzero_thread"])
        generation = td.td_generation
        td.reset()
        td.td_generation = generation + 1
        td.td_kstack = stack
        td.td_flags |= flags
        td.td_gd = gd
        if td.td_rec == 0:
            td.td_cpu = gd.gd_cpuid  # the SMP build writes it in the shared record (publish_thread)
        td.td_pri = TDPRI_CRIT

    @kernel_function
    async def lwkt_free_thread(self, td: Thread) -> None:
        """Give an exited thread back: into the cache while it has room, else to the allocator."""
        self.kassert(td.td_flags & TDF.EXITED, f"lwkt_free_thread: did not exit! td #{td.td_id}")
        self.crit_enter()
        if self.gd_tdfreecount < CACHE_NTHREADS and td.td_flags & TDF.ALLOCATED_THREAD:
            self.gd_tdfreecount += 1
            self.gd_tdfreeq.appendleft(td)
            await self.crit_exit()
            self.event("thread_cache", target=td.td_id)
        else:
            await self.crit_exit()
            if td.td_kstack is not None and td.td_flags & TDF.ALLOCATED_STACK:
                td.td_kstack = None
            if td.td_flags & TDF.ALLOCATED_THREAD:
                td.td_gd = None
                td.td_context = None
                self.threads_freed += 1
                self.event("thread_free", target=td.td_id)

    # -- switching ----------------------------------------------------------------------------------

    @kernel_function(cost="")
    async def lwkt_switch(self, *, _exiting: bool = False) -> Lwkt:
        """Switch to the highest-priority runnable thread (round-robin within a priority),
        or resume the thread the current one preempted, or run the idle thread.

        Returns the kernel the current thread runs on when it gets the CPU back
        (another CPU's when the thread moved meanwhile)."""
        entered = self.exec_cycle
        self.cpu.charge(self.costs["lwkt_switch"])
        td = self.curthread
        if self.gd_intr_nesting_level and td.td_preempted is None:
            self.panic("lwkt_switch: cannot switch from within an interrupt, yet")
        self.crit_enter()
        self.count("switch_count")
        ntd = td.td_preempted
        if ntd is not None:
            # Resume the thread we preempted, whether or not it is on the run queue.
            self.kassert(ntd.td_flags & TDF.PREEMPT_LOCK, "lwkt_switch: preempted thread not locked")
            ntd.td_flags |= TDF.PREEMPT_DONE
        else:
            ntd = None
            scan = self.costs["lwkt_switch_scan"]
            while self.gd_runqmask:
                self.cpu.charge(scan)
                nq = self.gd_runqmask.bit_length() - 1
                queue = self.gd_tdrunq[nq]
                if not queue:
                    self.gd_runqmask &= ~(1 << nq)
                    continue
                self.cpu.charge(self.costs["lwkt_switch_pick"])
                ntd = queue[0]
                if not self.system.bug(Bug.NO_ROTATE):
                    queue.rotate(-1)
                break
            if ntd is None:
                ntd = self.gd_idletd
        self.record_pick(td, ntd)
        self.kassert(ntd.td_pri >= TDPRI_CRIT, f"priority problem in lwkt_switch {td.td_pri} {ntd.td_pri}")
        k = self
        if td is not ntd:
            k = await self._td_switch(ntd, exiting=_exiting, entered=entered)
        elif _exiting:
            self.panic("lwkt_exit: nothing to switch to")
        await k.crit_exit()
        return k

    def record_pick(self, td: Thread, ntd: Thread, *, mpheld: bool = False, tried: bool | None = None) -> None:
        """The trace record of lwkt_switch's decision, with the inputs a reference model needs."""
        preempted = td.td_preempted
        self.event(
            "pick",
            to=ntd.td_id,
            cur_mpcount=td.td_mpcount,
            mpheld=mpheld,
            tried=tried,
            idle=self.gd_idletd.td_id,
            preempted=preempted.td_id if preempted is not None else None,
        )

    async def _td_switch(self, ntd: Thread, *, exiting: bool = False, entered: int | None = None) -> Lwkt:
        """The machine-dependent switch: hand the core to ``ntd``'s context.

        ``entered``: the cycle lwkt_switch was entered, for the switch latency
        (None when lwkt_preempt switches). Returns the kernel the current thread
        runs on when it is switched back to.
        """
        td = self.curthread
        self._mine(ntd, "td_switch")
        self.event(
            "switch",
            to=ntd.td_id,
            to_thread=ntd.td_comm,
            to_pri=ntd.pri,
            crit=td.crit_count,
            mpcount=td.td_mpcount,
            to_mpcount=ntd.td_mpcount,
            exiting=exiting,
        )
        # One context per thread: the thread switched to is not running anywhere (its RUNNING
        # was cleared when it last left a CPU, and a new thread starts without it).
        self.kassert(not ntd.td_flags & TDF.RUNNING, f"_td_switch: td #{ntd.td_id} is already running")
        td.td_flags &= ~TDF.RUNNING
        ntd.td_flags |= TDF.RUNNING
        await self.publish_state(td)
        await self.publish_state(ntd)
        await self.show_thread(ntd)
        self.curthread = ntd
        if ntd.td_context is None:
            ntd.td_context = self.cpu.new_context(ntd.td_comm, self._thread_body(ntd))
        if entered is not None:
            self.tracepoint("td_switch:entered", td=ntd, cycle=entered)
        self.cpu.charge(self.costs["td_switch"])
        if exiting:
            await self.cpu.switch(None, ntd.td_context)
            raise _ThreadExit()
        await self.cpu.switch(td.td_context, ntd.td_context)
        # td runs again, here or on the CPU that acquired it meanwhile: the end of the switch that picked it.
        k = td.td_gd
        k.tracepoint("thread:resumed", td=td)
        return k

    async def show_thread(self, td: Thread) -> None:
        """Write the running thread to the debug registers, for the waveform."""
        await self.cpu.write(mm.DEBUG.CURTHREAD, td.td_id)
        await self.cpu.write(mm.DEBUG.PRI, td.pri)
        await self.cpu.write(mm.DEBUG.CRITDEPTH, td.crit_count)

    def _thread_body(self, td: Thread):
        """cpu_set_thread_handler: the startup of a new thread, then its function, then exit."""
        func, arg = td.td_func, td.td_arg

        async def body():
            try:
                k = td.td_gd
                # A new thread's first run ends the switch that picked it.
                k.tracepoint("thread:resumed", td=td)
                # A new thread starts inside the critical section of the switch that ran it.
                await k.crit_exit()
                await func(td, arg)
                await td.td_gd.kthread_exit()
            except _ThreadExit:
                return
            except KernelPanic as panic:
                self.system.on_panic(panic)
            except Exception as exc:  # a bus error or a bug in firmware: still a panic, with its traceback
                gd = td.td_gd or self
                self.system.on_panic(KernelPanic.from_exception(exc, gd.gd_cpuid, td.td_comm, td.td_id, gd.cycle))

        return body

    # -- preemption ---------------------------------------------------------------------------------

    @kernel_function
    async def lwkt_preempt(self, ntd: Thread, id: int) -> None:
        """Let ``ntd`` preempt the current thread; it gives the CPU back when it blocks."""
        td = self.curthread
        self.kassert(ntd.td_pri >= TDPRI_CRIT, f"BADCRIT0 {ntd.td_pri}")
        self.kassert((td.td_pri & ~TDPRI_MASK) == TDPRI_CRIT, f"BADPRI {td.td_pri}")
        if td is ntd or (td.td_flags | ntd.td_flags) & TDF.PREEMPT_LOCK:
            return self._preempt_result("weird", ntd, source=id)
        if ntd.td_preempted is not None:
            return self._preempt_result("hit", ntd, source=id)
        if ntd.pri <= td.pri and not (self.system.bug(Bug.PREEMPT_LOWER) and ntd.pri < td.pri):
            return self._preempt_result("miss", ntd, source=id)
        self._preempt_result("hit", ntd, source=id)
        self.cpu.charge(self.costs["lwkt_preempt_hit"])
        ntd.td_preempted = td
        td.td_flags |= TDF.PREEMPT_LOCK
        await self._preempted_switch(ntd)
        self.kassert(
            ntd.td_preempted is not None and td.td_flags & TDF.PREEMPT_DONE,
            "lwkt_preempt: resumed before the preempting thread gave the CPU back",
        )
        ntd.td_preempted = None
        td.td_flags &= ~(TDF.PREEMPT_LOCK | TDF.PREEMPT_DONE)
        self.event("resume", preemptor=ntd.td_id)

    async def _preempted_switch(self, ntd: Thread) -> None:
        """Switch to the preempting thread; the preempted one (PREEMPT_LOCK, so no CPU can
        acquire it) always resumes here."""
        k = await self._td_switch(ntd)
        if k is not self:
            self.panic(f"lwkt_preempt: a preempted thread came back on cpu {k.gd_cpuid}")

    def _preempt_result(self, result: str, ntd: Thread, **fields) -> None:
        """Count a preemption attempt by the seed's rules (preempt_hit/miss/weird) and trace it with
        the inputs of the decision."""
        td = self.curthread
        self.count(f"preempt_{result}")
        self.event(
            "preempt",
            target=ntd.td_id,
            result=result,
            pri=td.pri,
            target_pri=ntd.pri,
            crit=td.crit_count,
            target_mpcount=ntd.td_mpcount,
            **fields,
        )

    # -- yielding -----------------------------------------------------------------------------------

    @kernel_function
    async def lwkt_yield_quick(self) -> None:
        """Run pending interrupts if any; with untimely_switch, also switch now."""
        td = self.curthread
        if (td.td_pri & TDPRI_MASK) < self.gd_reqpri:
            await self.splz()
        if self.system.untimely_switch and self.gd_intr_nesting_level == 0:
            self.crit_enter()
            self.event("untimely_switch")
            if td.td_flags & TDF.RUNQ:
                k = await self.lwkt_switch()
            else:
                await self.lwkt_schedule_self()
                k = await self.lwkt_switch()
                await k.lwkt_deschedule_self()
            k.crit_exit_noyield()

    @kernel_function
    async def lwkt_yield(self) -> Lwkt:
        """Yield to threads of higher or equal priority; returns the kernel the thread runs on after."""
        self.event("yield", crit=self.curthread.crit_count)
        await self.lwkt_schedule_self()
        return await self.lwkt_switch()

    # -- scheduling ---------------------------------------------------------------------------------

    @kernel_function
    async def lwkt_schedule_self(self) -> None:
        td = self.curthread
        self.crit_enter()
        self.kassert(self.not_waiting(td), "lwkt_schedule_self(): td_wait not NULL!")
        await self._lwkt_enqueue(td)
        await self.crit_exit()

    @kernel_function
    async def lwkt_schedule(self, td: Thread) -> None:
        """Make ``td`` runnable, taking it off the wait queue it is blocked on."""
        self.crit_enter()
        self.event("schedule", target=td.td_id)
        if td is self.curthread:
            await self._lwkt_enqueue(td)
        else:
            w = td.td_wait
            if w is not None:
                if self.lwkt_havetoken(w.wa_token):
                    w.wa_waitq.remove(td)
                    w.wa_count -= 1
                    td.td_wait = None
                    self.event("unwait", target=td.td_id, wait=w.name, by="schedule", **self.waitq_view(w))
                    if td.td_cpu == self.gd_cpuid:
                        await self._lwkt_enqueue(td)
                    else:
                        await self.schedule_remote(td, "lwkt_schedule: cpu mismatch1")
                else:
                    await self.schedule_remote(td, "lwkt_schedule: cpu mismatch2")
            elif td.td_cpu == self.gd_cpuid:
                await self._lwkt_enqueue(td)
            else:
                await self.schedule_remote(td, "lwkt_schedule: cpu mismatch3")
        await self.crit_exit()

    async def schedule_remote(self, td: Thread, up_message: str) -> None:
        """Scheduling a thread of another CPU: impossible in the uniprocessor build (the SMP
        build sends it by IPI)."""
        self.panic(up_message)

    async def deschedule_remote(self, td: Thread, up_message: str) -> None:
        self.panic(up_message)

    @kernel_function
    async def lwkt_deschedule_self(self) -> None:
        td = self.curthread
        self.crit_enter()
        self.kassert(self.not_waiting(td), "lwkt_schedule_self(): td_wait not NULL!")
        self.event("deschedule", target=td.td_id, remote=False)
        await self._lwkt_dequeue(td)
        await self.crit_exit()

    @kernel_function
    async def lwkt_deschedule(self, td: Thread) -> None:
        self.crit_enter()
        local = td is self.curthread or td.td_cpu == self.gd_cpuid
        self.event("deschedule", target=td.td_id, remote=not local)
        if local:
            await self._lwkt_dequeue(td)
        else:
            await self.deschedule_remote(td, "lwkt_deschedule: cpu mismatch")
        await self.crit_exit()

    @kernel_function
    async def lwkt_setpri(self, td: Thread, pri: int) -> None:
        """Change ``td``'s priority, keeping its critical-section count; does not switch."""
        self.kassert(pri >= 0, f"lwkt_setpri: negative priority {pri}")
        self._mine(td, "lwkt_setpri")
        self.crit_enter()
        old = td.pri
        if td.td_flags & TDF.RUNQ:
            await self._lwkt_dequeue(td)
            td.td_pri = (td.td_pri & ~TDPRI_MASK) + pri
            self.event("setpri", target=td.td_id, old=old, pri=pri)
            await self._lwkt_enqueue(td)
        else:
            td.td_pri = (td.td_pri & ~TDPRI_MASK) + pri
            self.event("setpri", target=td.td_id, old=old, pri=pri)
            await self.publish_state(td)  # a thread that may move keeps its record's priority current
        await self.crit_exit()

    async def lwkt_setpri_self(self, pri: int) -> None:
        self.kassert(0 <= pri <= TDPRI_MAX, f"lwkt_setpri_self: priority {pri} out of range")
        await self.lwkt_setpri(self.curthread, pri)

    def lwkt_preempted_proc(self):
        """The process of the thread at the bottom of the preemption chain."""
        td = self.curthread
        while td.td_preempted is not None:
            td = td.td_preempted
        return td.td_proc

    # -- blocking -----------------------------------------------------------------------------------

    @kernel_function
    async def lwkt_block(self, w: WaitQueue, wmesg: str, gen: int) -> int:
        """Block on ``w`` unless it was signalled since ``gen`` was read; returns the new generation.

        (C passes ``int *gen`` and updates it; here the updated value is returned.)
        """
        td = self.curthread
        await self.lwkt_gettoken(w.wa_token)
        k = self
        if w.wa_gen == gen:
            await self._lwkt_dequeue(td)
            w.wa_waitq.append(td)
            w.wa_count += 1
            td.td_wait = w
            td.td_wmesg = wmesg
            self.event("block", wait=w.name, wmesg=wmesg, gen=gen, **self.waitq_view(w))
            k = await self.lwkt_switch()
        else:
            self.event("block_skipped", wait=w.name, gen=gen, wa_gen=w.wa_gen)
        gen = w.wa_gen
        await k.lwkt_reltoken(w.wa_token)
        return gen

    @kernel_function
    async def lwkt_signal(self, w: WaitQueue) -> None:
        """Wake every thread blocked on ``w`` and advance its generation."""
        await self.lwkt_gettoken(w.wa_token)
        w.wa_gen += 1
        count = w.wa_count
        self.event("signal_begin", wait=w.name, gen=w.wa_gen, **self.waitq_view(w))
        woken = []
        while w.wa_waitq and count:
            self.cpu.charge(self.costs["lwkt_signal_wake"])
            count -= 1
            w.wa_count -= 1
            td = w.wa_waitq.pop(0)
            td.td_wait = None
            td.td_wmesg = None
            self.event("unwait", target=td.td_id, wait=w.name, by="signal", **self.waitq_view(w))
            woken.append(td.td_id)
            self.tracepoint("thread:woken", td=td)
            if td.td_cpu == self.gd_cpuid:
                await self._lwkt_enqueue(td)
            else:
                await self.schedule_remote(td, "lwkt_signal: cpu mismatch")
            await self.lwkt_regettoken(w.wa_token)
        self.event("signal", wait=w.name, woken=woken, gen=w.wa_gen)
        await self.lwkt_reltoken(w.wa_token)

    # -- tokens (the uniprocessor build: a token is a critical section) --------------------------

    def lwkt_havetoken(self, tok: Token) -> bool:
        return tok.t_cpu == self.gd_cpuid

    @kernel_function
    async def lwkt_gettoken(self, tok: Token) -> None:
        self.crit_enter()

    @kernel_function
    async def lwkt_reltoken(self, tok: Token) -> None:
        if tok.t_cpu == self.gd_cpuid:
            tok.t_cpu = tok.t_reqcpu
        await self.crit_exit()

    async def lwkt_regettoken(self, tok: Token) -> int:
        return 0

    # -- thread creation and exit -------------------------------------------------------------------

    def _set_thread_handler(self, td: Thread, func: ThreadFunc, arg) -> None:
        td.td_func = func
        td.td_arg = arg
        td.td_context = None

    @kernel_function
    async def lwkt_create(
        self,
        func: ThreadFunc,
        arg=None,
        template: Thread | None = None,
        tdflags: TDF = NO_TDF,
        comm: str = "",
        *,
        pri: int | None = None,
    ) -> Thread:
        """Create a thread running ``func(td, arg)`` and schedule it (unless TDF.STOPREQ).

        ``pri`` (an addition to the seed's interface) sets the priority before
        the thread is first scheduled; without it the thread starts at priority 0.
        """
        td = await self.lwkt_alloc_thread(template)
        self._set_thread_handler(td, func, arg)
        td.td_flags |= TDF.VERBOSE | tdflags
        td.td_comm = comm or f"td{td.td_id}"
        if pri is not None:
            td.td_pri = (td.td_pri & ~TDPRI_MASK) + pri
        self.event("thread_create", target=td.td_id, name=td.td_comm, pri=td.pri)
        if not td.td_flags & TDF.STOPREQ:
            await self.lwkt_schedule(td)
        else:
            td.td_flags &= ~TDF.STOPREQ
        return td

    async def kthread_create(self, func: ThreadFunc, arg=None, comm: str = "", *, pri: int | None = None) -> Thread:
        """lwkt_create without a template or flags: the thread is always scheduled."""
        return await self.lwkt_create(func, arg, None, TDF(0), comm, pri=pri)

    @kernel_function
    async def lwkt_exit(self) -> None:
        """End the current thread: it goes to the free cache and the CPU moves on."""
        td = self.curthread
        self.event("thread_exit", verbose=bool(td.td_flags & TDF.VERBOSE))
        self.crit_enter()
        await self.lwkt_deschedule_self()
        self.gd_tdfreecount += 1
        self.gd_tdfreeq.append(td)
        td.td_flags |= TDF.EXITED
        await self.lwkt_switch(_exiting=True)

    async def kthread_exit(self) -> None:
        await self.lwkt_exit()

    # -- boot and idle ------------------------------------------------------------------------------

    async def idle_wait(self) -> None:
        """Halt until an interrupt and take it; first run what a critical section pended (the idle
        loop's splz)."""
        if self.gd_reqpri:
            await self.splz()
            # splz leaves nothing pended (what the line no longer asks for is dropped): else the
            # idle thread would come back here and spin instead of halting.
            self.kassert(not self.gd_reqpri, f"splz left gd_reqpri {self.gd_reqpri}")
            return
        await self.cpu.wait_for_interrupt()
        await self.interrupt_entry()

    async def idle_main(self, start: Callable[[Lwkt], Awaitable[None]] | None = None) -> None:
        """The boot context becomes the idle thread: set up, run ``start``, then idle forever."""
        idle = self.gd_idletd
        idle.td_context = self.cpu.boot_context(idle.td_comm)
        idle.td_flags |= TDF.RUNNING
        self.curthread = idle
        try:
            await self.publish_thread(idle)
            await self.show_thread(idle)
            await self.setup_interrupts()
            if start is not None:
                await start(self)
            self.crit_exit_noyield()
            while True:
                if self.runnable():
                    await self.lwkt_switch()
                    if not self.gd_idletd.td_flags & TDF.IDLE_NOHLT:
                        continue
                # Halt, or with TDF_IDLE_NOHLT poll (interrupts are taken in between, as
                # the seed's idle loop enables them between switches).
                await self.idle_wait()
        except KernelPanic as panic:
            self.system.on_panic(panic)
        except Exception as exc:
            td = self.curthread
            self.system.on_panic(KernelPanic.from_exception(exc, self.gd_cpuid, td.td_comm, td.td_id, self.cycle))
