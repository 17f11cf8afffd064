"""The SMP kernel of one CPU: seed v1.18 on top of the uniprocessor core.

What changes from v1.12 (``firmware/lwkt.py``): scheduling, descheduling and
signalling threads of other CPUs by IPI; tokens owned by CPUs (in shared RAM);
the MP lock with ``td_mpcount``, MP-aware thread selection in ``lwkt_switch``
and preemption that lends the MP count; the ``td_release`` and
``td_preemptable`` hooks; ``need_resched``; the per-CPU list of all threads;
``lwkt_acquire``, ``lwkt_set_comm``, ``lwkt_hold``/``lwkt_rele``/``lwkt_wait_free``.
"""
from __future__ import annotations

import inspect

from .frames import kernel_function
from .ipiq import IpiqMixin
from .lwkt import Lwkt, ThreadFunc
from .smp_sync import MpLockMixin, TokenMixin
from .thread import TDF, TDPRI_CRIT, TDPRI_INT_MED, TDPRI_MASK, Thread, WaitQueue
from .watchdog import heartbeat_address

__all__ = ["LwktSmp", "IDLE_POLL_CYCLES"]

#: How long an idle CPU that may not halt (TDF_IDLE_NOHLT) waits before looking again.
IDLE_POLL_CYCLES = 16


def _wantresched(ntd: Thread, cur: Thread) -> bool:
    return ntd.pri > cur.pri


async def _maybe_await(value):
    if inspect.isawaitable(value):
        await value


class LwktSmp(IpiqMixin, TokenMixin, MpLockMixin, Lwkt):
    """One CPU's kernel in the SMP build (v1.18)."""

    def __init__(self, system, cpu):
        self.gd_tdallq: list[Thread] = []
        super().__init__(system, cpu)
        self.gd_need_resched = False
        self.intr_frames = 0
        self.counters.update({"need_resched": 0, "token_requests": 0, "mplock_acquires": 0,
                              "mplock_contended": 0, "mplock_busts": 0})
        self.init_ipiq()
        self.lbolt_sleepers: list[Thread] = []  # threads sleeping until the next hardclock tick

    # -- thread structures ----------------------------------------------------------------------

    def lwkt_init_thread(self, td, stack, flags, gd) -> None:
        super().lwkt_init_thread(td, stack, flags, gd)
        # A structure reused from the free cache is still listed (lwkt_exit leaves it there):
        # bzero + TAILQ_INSERT_TAIL re-lists it at the tail, once.
        if td in gd.gd_tdallq:
            gd.gd_tdallq.remove(td)
        gd.gd_tdallq.append(td)

    async def lwkt_free_thread(self, td: Thread) -> None:
        if td in self.gd_tdallq:
            self.gd_tdallq.remove(td)
        await super().lwkt_free_thread(td)

    def lwkt_set_comm(self, td: Thread, name: str) -> None:
        td.td_comm = name

    def lwkt_hold(self, td: Thread) -> None:
        self.cpu.charge(self.costs["lwkt_hold"])
        td.td_refs += 1

    def lwkt_rele(self, td: Thread) -> None:
        self.kassert(td.td_refs > 0, f"lwkt_rele: td #{td.td_id} has no references")
        self.cpu.charge(self.costs["lwkt_hold"])
        td.td_refs -= 1

    async def lwkt_wait_free(self, td: Thread) -> None:
        """Wait (a hardclock tick at a time, where the seed sleeps up to hz ticks) until nobody
        holds ``td``."""
        k = self
        while td.td_refs:
            k = await k.tsleep_tick("tdreap")

    async def tsleep_tick(self, wmesg: str) -> "LwktSmp":
        """Sleep until the next hardclock tick on this CPU (tsleep with a one-tick timeout);
        returns the kernel the thread wakes up on."""
        td = self.curthread
        self.crit_enter()
        self._lwkt_dequeue(td)
        self.lbolt_sleepers.append(td)
        td.td_wmesg = wmesg
        k = await self.lwkt_switch()
        td.td_wmesg = None
        await k.crit_exit()
        return k

    async def hardclock(self) -> None:
        await super().hardclock()
        # The heartbeat the MP-lock watchdog looks at.
        await self.cpu.write(heartbeat_address(self.gd_cpuid), self.hardclock_ticks)
        sleepers, self.lbolt_sleepers = self.lbolt_sleepers, []
        for td in sleepers:
            self._lwkt_enqueue(td)
        self.system.wait_checker.tick(self)

    def lwkt_acquire(self, td: Thread) -> None:
        """Move ``td`` (not on any run queue, not running) to this CPU. Needs the MP lock, which
        guards the per-CPU thread lists while a thread changes hands. The thread runs here from
        its next switch-in on: this CPU's kernel, bus port and debug registers."""
        self.kassert(not td.td_flags & TDF.RUNQ, "lwkt_acquire: thread is on a run queue")
        gd = td.td_gd
        if gd is not self:
            self.kassert(not td.td_flags & (TDF.RUNNING | TDF.PREEMPT_LOCK),
                         f"lwkt_acquire: td #{td.td_id} is running or preempted on cpu {gd.gd_cpuid}")
            self.kassert(self.curthread.td_mpcount > 0, "lwkt_acquire without the MP lock")
            self.cpu.charge(self.costs["lwkt_acquire"])
            self.crit_enter()
            gd.gd_tdallq.remove(td)
            td.td_gd = self
            td.td_cpu = self.gd_cpuid
            self.gd_tdallq.append(td)
            self.crit_exit_noyield()
            self.event("acquire", target=td.td_id, from_cpu=gd.gd_cpuid)

    async def lwkt_create(self, func: ThreadFunc, arg=None, template: Thread | None = None,
                          tdflags: TDF = TDF(0), comm: str = "", *, pri: int | None = None,
                          mpsafe: bool = False) -> Thread:
        """As in v1.12, but the thread starts holding the MP lock (td_mpcount 1)
        unless ``mpsafe`` (an addition) says it does not need it."""
        stop = tdflags & TDF.STOPREQ
        td = await super().lwkt_create(func, arg, template, tdflags | TDF.STOPREQ, comm, pri=pri)
        td.td_mpcount = 0 if mpsafe else 1
        if not stop:
            await self.lwkt_schedule(td)
        return td

    async def kthread_create(self, func: ThreadFunc, arg=None, comm: str = "", *,
                             pri: int | None = None, mpsafe: bool = False) -> Thread:
        return await self.lwkt_create(func, arg, None, TDF(0), comm, pri=pri, mpsafe=mpsafe)

    # -- switching ------------------------------------------------------------------------------

    @kernel_function(cost="")
    async def lwkt_switch(self, *, _exiting: bool = False) -> "LwktSmp":
        entered = self.exec_cycle
        self.cpu.charge(self.costs["lwkt_switch"])
        td = self.curthread
        if self.gd_intr_nesting_level and td.td_preempted is None and self.system.panic is None:
            self.panic("lwkt_switch: cannot switch from within an interrupt, yet")
        self.crit_enter()
        self.count("switch_count")
        # td_mpcount cannot tell whether we hold the lock (get_mplock counts first): ask it.
        mpheld = await self.mp_lock_held()
        ntd = td.td_preempted
        if ntd is not None:
            # Resume the preempted thread; take back the MP count it lent us.
            self.kassert(ntd.td_flags & TDF.PREEMPT_LOCK, "lwkt_switch: preempted thread not locked")
            ntd.td_flags |= TDF.PREEMPT_DONE
            if ntd.td_mpcount and not mpheld:
                self.panic(f"MPLOCK NOT HELD ON RETURN: td #{td.td_id} td #{ntd.td_id} "
                           f"{td.td_mpcount} {ntd.td_mpcount}")
            if ntd.td_mpcount:
                td.td_mpcount -= ntd.td_mpcount
                self.kassert(td.td_mpcount >= 0, "lwkt_switch: negative td_mpcount after preemption")
        else:
            ntd = await self._choose_next(mpheld)
        self.kassert(ntd.td_pri >= TDPRI_CRIT, f"priority problem in lwkt_switch {td.td_pri} {ntd.td_pri}")
        if td.td_release is not None:
            await _maybe_await(td.td_release(td))
        self.tracepoint("lwkt_switch:mplock")
        if ntd.td_mpcount == 0:
            if await self.mp_lock_held():
                await self.cpu_rel_mplock()
        elif not await self.mp_lock_held():
            self.panic(f"lwkt_switch: td #{ntd.td_id} needs the MP lock and this CPU does not hold it")
        k = self
        if td is not ntd:
            k = await self._td_switch(ntd, exiting=_exiting, entered=entered)
        elif _exiting:
            self.panic("lwkt_exit: nothing to switch to")
        await k.crit_exit()
        return k

    async def _choose_next(self, mpheld: bool) -> Thread:
        """Highest priority first, round-robin within it; skip threads that need an MP lock
        this CPU cannot get; the idle thread (told not to halt) when none can run."""
        scan = self.costs["lwkt_switch_scan"]
        while self.gd_runqmask:
            self.cpu.charge(scan)
            nq = self.gd_runqmask.bit_length() - 1
            queue = self.gd_tdrunq[nq]
            if not queue:
                self.gd_runqmask &= ~(1 << nq)
                continue
            ntd = queue[0]
            if ntd.td_mpcount and not mpheld and not await self.cpu_try_mplock():
                # It needs the MP lock and cannot have it: find one that does not.
                rqmask = self.gd_runqmask
                ntd = None
                while rqmask:
                    self.cpu.charge(scan)
                    ntd = next((t for t in self.gd_tdrunq[nq] if t.td_mpcount == 0), None)
                    if ntd is not None:
                        break
                    rqmask &= ~(1 << nq)
                    nq = rqmask.bit_length() - 1
                if ntd is None:
                    idle = self.gd_idletd
                    idle.td_flags |= TDF.IDLE_NOHLT
                    return idle
            queue = self.gd_tdrunq[nq]
            self.cpu.charge(self.costs["lwkt_switch_pick"])
            queue.remove(ntd)
            queue.append(ntd)
            return ntd
        return self.gd_idletd

    async def _td_switch(self, ntd: Thread, *, exiting: bool = False, entered: int | None = None) -> "LwktSmp":
        await self.assert_mp_lock_consistent(ntd)
        self.system.wait_checker.ran(ntd)
        return await super()._td_switch(ntd, exiting=exiting, entered=entered)

    # -- preemption ------------------------------------------------------------------------------

    def need_resched(self) -> None:
        """Ask for a reschedule at the next check (the AST of a return to user mode)."""
        self.gd_need_resched = True
        self.count("need_resched")

    @kernel_function
    async def lwkt_check_resched(self) -> None:
        """Honour need_resched: the point where a thread would return to user mode."""
        if self.gd_need_resched:
            self.gd_need_resched = False
            await self.lwkt_yield()

    @kernel_function
    async def lwkt_preempt(self, ntd: Thread, critpri: int) -> None:
        """Let ``ntd`` preempt the current thread. ``critpri`` is the critical-section depth
        of the caller's callers that may be ignored; ``ntd`` inherits our MP count."""
        td = self.curthread
        self.kassert(ntd.td_pri >= TDPRI_CRIT, f"BADCRIT0 {ntd.td_pri}")
        if not _wantresched(ntd, td):
            return self._preempt_result("miss", ntd)
        if (td.td_pri & ~TDPRI_MASK) > critpri:
            self.need_resched()
            return self._preempt_result("miss", ntd)
        if ntd.td_cpu != self.gd_cpuid:
            return self._preempt_result("miss", ntd)
        if td is ntd or (td.td_flags | ntd.td_flags) & TDF.PREEMPT_LOCK:
            self.need_resched()
            return self._preempt_result("weird", ntd)
        if ntd.td_preempted is not None:
            self.need_resched()
            return self._preempt_result("hit", ntd)
        mpheld = int(await self.mp_lock_held())
        if mpheld and td.td_mpcount == 0:
            self.panic("lwkt_preempt(): held and no count")
        savecnt = td.td_mpcount
        td.td_mpcount += mpheld
        ntd.td_mpcount += td.td_mpcount
        if mpheld == 0 and ntd.td_mpcount and not await self.cpu_try_mplock():
            td.td_mpcount -= mpheld
            ntd.td_mpcount -= td.td_mpcount
            self.need_resched()
            return self._preempt_result("miss", ntd)
        self._preempt_result("hit", ntd)
        self.cpu.charge(self.costs["lwkt_preempt_hit"])
        ntd.td_preempted = td
        td.td_flags |= TDF.PREEMPT_LOCK
        await self._preempted_switch(ntd)
        self.kassert(ntd.td_preempted is not None and td.td_flags & TDF.PREEMPT_DONE,
                     "lwkt_preempt: resumed before the preempting thread gave the CPU back")
        td.td_mpcount -= mpheld
        self.kassert(savecnt == td.td_mpcount, "lwkt_preempt: MP count not restored")
        held = await self.mp_lock_held()
        if mpheld == 0 and held:
            await self.cpu_rel_mplock()
        elif mpheld and not held:
            self.panic("lwkt_preempt(): MP lock was not held through")
        ntd.td_preempted = None
        td.td_flags &= ~(TDF.PREEMPT_LOCK | TDF.PREEMPT_DONE)
        self.event("resume", preemptor=ntd.td_id)

    # -- scheduling -------------------------------------------------------------------------------

    async def _enqueue_and_offer(self, td: Thread, critpri: int) -> None:
        self._lwkt_enqueue(td)
        if td.td_preemptable is not None:
            await _maybe_await(td.td_preemptable(td, critpri))
        elif _wantresched(td, self.curthread):
            self.need_resched()

    @kernel_function
    async def lwkt_schedule(self, td: Thread) -> None:
        """Make ``td`` runnable on its CPU: here directly, elsewhere by IPI; a thread on a
        wait queue is handled by the CPU that owns the queue's token."""
        self.crit_enter()
        self.event("schedule", target=td.td_id)
        if td is self.curthread:
            self._lwkt_enqueue(td)
        else:
            w = td.td_wait
            if w is not None:
                if await self.lwkt_trytoken(w.wa_token):
                    w.wa_waitq.remove(td)
                    w.wa_count -= 1
                    td.td_wait = None
                    self.system.wait_checker.woken(td, self.cycle)
                    if td.td_cpu == self.gd_cpuid:
                        await self._enqueue_and_offer(td, TDPRI_CRIT * 2)
                    else:
                        await self.lwkt_send_ipiq(td.td_cpu, "lwkt_schedule", td)
                    await self.lwkt_reltoken(w.wa_token)
                else:
                    owner = await self.tok_get(w.wa_token, "t_cpu")
                    await self.lwkt_send_ipiq(owner, "lwkt_schedule", td)
            elif td.td_cpu == self.gd_cpuid:
                await self._enqueue_and_offer(td, TDPRI_CRIT)
            else:
                await self.lwkt_send_ipiq(td.td_cpu, "lwkt_schedule", td)
        await self.crit_exit()

    async def lwkt_setpri(self, td: Thread, pri: int) -> None:
        self.kassert(td.td_cpu == self.gd_cpuid, f"lwkt_setpri: td #{td.td_id} is not on this cpu")
        await super().lwkt_setpri(td, pri)

    async def schedule_remote(self, td: Thread, up_message: str) -> None:
        """A thread of another CPU is scheduled there, by IPI."""
        await self.lwkt_send_ipiq(td.td_cpu, "lwkt_schedule", td)

    async def deschedule_remote(self, td: Thread, up_message: str) -> None:
        await self.lwkt_send_ipiq(td.td_cpu, "lwkt_deschedule", td)

    async def lwkt_block(self, w: WaitQueue, wmesg: str, gen: int) -> int:
        self.system.wait_checker.blocking(self.curthread)
        return await super().lwkt_block(w, wmesg, gen)

    # -- interrupts ----------------------------------------------------------------------------------

    async def do_interrupts(self, landed_in: str) -> None:
        self.intr_frames += 1
        try:
            await super().do_interrupts(landed_in)
        finally:
            self.intr_frames -= 1

    @kernel_function
    async def sched_ithd(self, td: Thread, source: int) -> None:
        # v1.18: lwkt_schedule offers the CPU through the thread's td_preemptable hook.
        await self.lwkt_schedule(td)

    async def register_ithread(self, line: int, handler, *, pri: int = TDPRI_INT_MED,
                               name: str | None = None, mpsafe: bool = True) -> Thread:
        td = await super().register_ithread(line, handler, pri=pri, name=name)
        if mpsafe:
            td.td_mpcount = 0
        kernel = self

        async def preemptable(ntd: Thread, critpri: int) -> None:
            # Each interrupt frame on this CPU holds a critical section of its own.
            await kernel.lwkt_preempt(ntd, critpri + TDPRI_CRIT * kernel.intr_frames)

        td.td_preemptable = preemptable
        return td

    # -- idle ---------------------------------------------------------------------------------------

    async def idle_wait(self) -> None:
        """Halt until an interrupt, unless lwkt_switch asked the idle thread to keep polling."""
        idle = self.gd_idletd
        if idle.td_flags & TDF.IDLE_NOHLT:
            idle.td_flags &= ~TDF.IDLE_NOHLT
            await self.cpu.work(IDLE_POLL_CYCLES)
            return
        await super().idle_wait()
