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

from .bugs import Bug
from .frames import kernel_function
from .ipiq import IpiqMixin
from .lwkt import Lwkt, ThreadFunc
from .shared import SharedRecordsMixin
from .smp_sync import MpLockMixin, TokenMixin
from .thread import NO_TDF, TDF, TDPRI_CRIT, TDPRI_INT_MED, TDPRI_MASK, Thread, WaitQueue

__all__ = ["LwktSmp", "IDLE_POLL_CYCLES"]

#: How long an idle CPU that may not halt (TDF_IDLE_NOHLT) waits before looking again.
IDLE_POLL_CYCLES = 16


def _wantresched(ntd: Thread, cur: Thread) -> bool:
    return ntd.pri > cur.pri


async def _maybe_await(value):
    if inspect.isawaitable(value):
        await value


class LwktSmp(SharedRecordsMixin, IpiqMixin, TokenMixin, MpLockMixin, Lwkt):
    """One CPU's kernel in the SMP build (v1.18)."""

    def __init__(self, system, cpu):
        self.gd_tdallq: list[Thread] = []
        super().__init__(system, cpu)
        self.gd_need_resched = False
        self.intr_frames = 0
        self.counters.update(
            {"need_resched": 0, "token_requests": 0, "mplock_acquires": 0, "mplock_contended": 0, "mplock_busts": 0}
        )
        self.init_ipiq()
        self.lbolt_sleepers: list[Thread] = []  # threads sleeping until the next hardclock tick
        self._tried: bool | None = None  # the result of the last MP-lock TRY (for the trace)

    async def setup_interrupts(self) -> None:
        await self.read_ipiq_indices()
        await super().setup_interrupts()

    # -- thread structures ----------------------------------------------------------------------

    def lwkt_init_thread(self, td, stack, flags, gd) -> None:
        super().lwkt_init_thread(td, stack, flags, gd)
        # A structure reused from the free cache is still listed (lwkt_exit leaves it there):
        # bzero + TAILQ_INSERT_TAIL re-lists it at the tail, once.
        gd.prune_tdallq()
        if td in gd.gd_tdallq:
            gd.gd_tdallq.remove(td)
        gd.gd_tdallq.append(td)

    async def lwkt_free_thread(self, td: Thread) -> None:
        self.prune_tdallq()
        if td in self.gd_tdallq:
            self.gd_tdallq.remove(td)
        await super().lwkt_free_thread(td)

    def lwkt_set_comm(self, td: Thread, name: str) -> None:
        td.td_comm = name

    async def lwkt_wait_free(self, td: Thread) -> None:
        """Wait (a hardclock tick at a time, where the seed sleeps up to hz ticks) until nobody
        holds ``td``."""
        k = self
        while await k.td_get(td, "td_refs"):
            k = await k.tsleep_tick("tdreap")

    async def tsleep_tick(self, wmesg: str) -> LwktSmp:
        """Sleep until the next hardclock tick on this CPU (tsleep with a one-tick timeout);
        returns the kernel the thread wakes up on."""
        td = self.curthread
        self.crit_enter()
        self.event("tsleep", wmesg=wmesg)
        await self._lwkt_dequeue(td)
        self.lbolt_sleepers.append(td)
        await self.td_set(td, "td_wmesg", self.wmesg_id(wmesg))
        k = await self.lwkt_switch()
        await k.td_set(td, "td_wmesg", 0)
        await k.crit_exit()
        return k

    async def hardclock(self) -> None:
        await super().hardclock()
        sleepers, self.lbolt_sleepers = self.lbolt_sleepers, []
        for td in sleepers:
            self.event("tsleep_wake", target=td.td_id)
            await self._lwkt_enqueue(td)
        self.tracepoint("hardclock:tick")

    @kernel_function(cost="")
    async def lwkt_acquire(self, td: Thread) -> None:
        """Move ``td`` (not on any run queue, not running) to this CPU. Needs the MP lock, which
        guards a thread changing hands. Everything it learns of the thread comes from the thread's
        record in shared RAM, over the bus: td_cpu, the flags, and the priority and MP count its
        owner saved there (load_state); the old CPU takes no part. The thread runs here from its
        next switch-in on: this CPU's kernel, bus port and debug registers."""
        cpu = await self.td_get(td, "td_cpu")
        # Another CPU's thread: its record may be read only under the MP lock.
        self.kassert(cpu == self.gd_cpuid or self.curthread.td_mpcount > 0, "lwkt_acquire without the MP lock")
        flags = await self.shared_flags(td)
        self.kassert(not flags & TDF.RUNQ, "lwkt_acquire: thread is on a run queue")
        if cpu != self.gd_cpuid:
            self.kassert(
                not flags & (TDF.RUNNING | TDF.PREEMPT_LOCK),
                f"lwkt_acquire: td #{td.td_id} is running or preempted on cpu {cpu}",
            )
            self.cpu.charge(self.costs["lwkt_acquire"])
            self.crit_enter()
            # The old CPU drops the thread from its list of threads itself (prune_tdallq), so no
            # CPU edits another's list (the seed's TAILQ_REMOVE under the BGL).
            await self.load_state(td, int(flags))
            if not self.system.bug(Bug.ACQUIRE_KEEPS_TD_CPU):
                await self.td_set(td, "td_cpu", self.gd_cpuid)
            self.gd_tdallq.append(td)
            self.event("acquire", target=td.td_id, from_cpu=cpu, pri=td.pri, crit=td.crit_count, mpcount=td.td_mpcount)
            await self.crit_exit()

    def prune_tdallq(self) -> None:
        """Forget threads that lwkt_acquire moved to another CPU."""
        self.gd_tdallq = [td for td in self.gd_tdallq if td.td_gd is self]

    async def lwkt_create(
        self,
        func: ThreadFunc,
        arg=None,
        template: Thread | None = None,
        tdflags: TDF = NO_TDF,
        comm: str = "",
        *,
        pri: int | None = None,
        mpsafe: bool = False,
    ) -> Thread:
        """As in v1.12, but the thread starts holding the MP lock (td_mpcount 1)
        unless ``mpsafe`` (an addition) says it does not need it."""
        stop = tdflags & TDF.STOPREQ
        td = await super().lwkt_create(func, arg, template, tdflags | TDF.STOPREQ, comm, pri=pri)
        td.td_mpcount = 0 if mpsafe else 1
        await self.publish_state(td)  # a stopped thread may be acquired before it first runs
        if not stop:
            await self.lwkt_schedule(td)
        return td

    async def kthread_create(
        self, func: ThreadFunc, arg=None, comm: str = "", *, pri: int | None = None, mpsafe: bool = False
    ) -> Thread:
        return await self.lwkt_create(func, arg, None, TDF(0), comm, pri=pri, mpsafe=mpsafe)

    # -- switching ------------------------------------------------------------------------------

    @kernel_function(cost="")
    async def lwkt_switch(self, *, _exiting: bool = False) -> LwktSmp:
        entered = self.exec_cycle
        self.cpu.charge(self.costs["lwkt_switch"])
        td = self.curthread
        if self.gd_intr_nesting_level and td.td_preempted is None and self.system.panic is None:
            self.panic("lwkt_switch: cannot switch from within an interrupt, yet")
        self.crit_enter()
        self.count("switch_count")
        # td_mpcount cannot tell whether we hold the lock (get_mplock counts first): ask it.
        if self.system.bug(Bug.SWITCH_TRUSTS_MPCOUNT):
            mpheld = td.td_mpcount > 0
        else:
            mpheld = await self.mp_lock_held()
        ntd = None if self.system.bug(Bug.SWITCH_IGNORES_PREEMPTED) else td.td_preempted
        if ntd is not None:
            # Resume the preempted thread; take back the MP count it lent us.
            self.kassert(ntd.td_flags & TDF.PREEMPT_LOCK, "lwkt_switch: preempted thread not locked")
            ntd.td_flags |= TDF.PREEMPT_DONE
            if ntd.td_mpcount and not mpheld:
                self.panic(
                    f"MPLOCK NOT HELD ON RETURN: td #{td.td_id} td #{ntd.td_id} {td.td_mpcount} {ntd.td_mpcount}"
                )
            if ntd.td_mpcount:
                td.td_mpcount -= ntd.td_mpcount
                self.kassert(td.td_mpcount >= 0, "lwkt_switch: negative td_mpcount after preemption")
        self._tried = None
        if ntd is None:
            ntd = await self._choose_next(mpheld)
        self.record_pick(td, ntd, mpheld=mpheld, tried=self._tried)
        self.kassert(ntd.td_pri >= TDPRI_CRIT, f"priority problem in lwkt_switch {td.td_pri} {ntd.td_pri}")
        if td.td_release is not None:
            await _maybe_await(td.td_release(td))
        self.tracepoint("lwkt_switch:mplock")
        if ntd.td_mpcount == 0:
            if self.system.bug(Bug.SWITCH_RELEASES_UNHELD) or await self.mp_lock_held():
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
            if not self.system.bug(Bug.NO_ROTATE_MP):
                queue.remove(ntd)
                queue.append(ntd)
            return ntd
        return self.gd_idletd

    async def _td_switch(self, ntd: Thread, *, exiting: bool = False, entered: int | None = None) -> LwktSmp:
        self.tracepoint("td_switch:next", td=ntd)
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
        facts = {
            "critpri": critpri // TDPRI_CRIT,
            "target_cpu": None,
            "mpheld": None,
            "tried": None,
            "cur_mpcount": td.td_mpcount,
        }
        if not _wantresched(ntd, td) and not (self.system.bug(Bug.PREEMPT_LOWER) and ntd.pri < td.pri):
            return self._preempt_result("miss", ntd, **facts)
        if (td.td_pri & ~TDPRI_MASK) > critpri:
            self.need_resched()
            return self._preempt_result("miss", ntd, **facts)
        # The seed's ntd->td_cpu: a word of the thread's record (read over the bus).
        target_cpu = facts["target_cpu"] = await self.td_get(ntd, "td_cpu")
        if target_cpu != self.gd_cpuid:
            return self._preempt_result("miss", ntd, **facts)
        if td is ntd or (td.td_flags | ntd.td_flags) & TDF.PREEMPT_LOCK:
            self.need_resched()
            return self._preempt_result("weird", ntd, **facts)
        if ntd.td_preempted is not None:
            self.need_resched()
            return self._preempt_result("hit", ntd, **facts)
        mpheld = int(await self.mp_lock_held())
        facts["mpheld"] = bool(mpheld)
        self._tried = None
        if mpheld and td.td_mpcount == 0:
            self.panic("lwkt_preempt(): held and no count")
        savecnt = td.td_mpcount
        td.td_mpcount += mpheld
        ntd.td_mpcount += td.td_mpcount
        if mpheld == 0 and ntd.td_mpcount and not await self.cpu_try_mplock():
            td.td_mpcount -= mpheld
            ntd.td_mpcount -= td.td_mpcount
            self.need_resched()
            return self._preempt_result("miss", ntd, **{**facts, "tried": False})
        self._preempt_result("hit", ntd, **{**facts, "tried": self._tried})
        self.cpu.charge(self.costs["lwkt_preempt_hit"])
        ntd.td_preempted = td
        td.td_flags |= TDF.PREEMPT_LOCK
        await self._preempted_switch(ntd)
        self.kassert(
            ntd.td_preempted is not None and td.td_flags & TDF.PREEMPT_DONE,
            "lwkt_preempt: resumed before the preempting thread gave the CPU back",
        )
        if not self.system.bug(Bug.MPCOUNT_NOT_RESTORED):
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
        self.count("schedule_local")
        await self._lwkt_enqueue(td)
        if td.td_preemptable is not None:
            await _maybe_await(td.td_preemptable(td, critpri))
        elif _wantresched(td, self.curthread):
            self.need_resched()

    @kernel_function
    async def lwkt_schedule(self, td: Thread) -> None:
        """Make ``td`` runnable on its CPU: here directly, elsewhere by IPI; a thread on a
        wait queue is handled by the CPU that owns the queue's token. Everything it learns of a
        thread that may not be this CPU's comes from the thread's shared record."""
        self.crit_enter()
        self.event("schedule", target=td.td_id)
        if td is self.curthread:
            await self._lwkt_enqueue(td)
        else:
            wait = await self.td_get(td, "td_wait")
            if wait:
                w = self.system.waitqueue_at(wait)
                if await self.lwkt_trytoken(w.wa_token):
                    # (The seed trusts the td_wait it read before owning the token; another CPU
                    # may have woken the thread in between, so it is read again under the token.)
                    if await self.td_get(td, "td_wait") == wait:
                        await self.waitq_remove(w, td.td_rec)
                        await self.td_set(td, "td_wait", 0)
                        self.event("unwait", target=td.td_id, wait=w.name, by="schedule", **self.waitq_view(w))
                        self.tracepoint("thread:woken", td=td)
                        cpu = await self.td_get(td, "td_cpu")
                        if cpu == self.gd_cpuid:
                            await self._enqueue_and_offer(self.own(td.td_rec), TDPRI_CRIT * 2)
                        else:
                            await self.lwkt_send_ipiq(cpu, "lwkt_schedule", td.td_rec)
                    else:
                        self.count("schedule_wait_changed")  # woken by another CPU in between
                        await self._schedule_unqueued(td, TDPRI_CRIT * 2)
                    await self.lwkt_reltoken(w.wa_token)
                else:
                    owner = await self.tok_get(w.wa_token, "t_cpu")
                    await self.lwkt_send_ipiq(owner, "lwkt_schedule", td.td_rec)
            else:
                await self._schedule_unqueued(td, TDPRI_CRIT)
        await self.crit_exit()

    async def _schedule_unqueued(self, td: Thread, critpri: int) -> None:
        """Schedule a thread on no wait queue: here when it is ours, else by IPI to its CPU."""
        cpu = await self.td_get(td, "td_cpu")
        if cpu == self.gd_cpuid:
            await self._enqueue_and_offer(self.own(td.td_rec), critpri)
        else:
            if self.system.bug(Bug.SCHEDULE_WRONG_CPU):
                cpu = (cpu + 1) % self.system.ncpu
            await self.lwkt_send_ipiq(cpu, "lwkt_schedule", td.td_rec)

    @kernel_function
    async def lwkt_deschedule(self, td: Thread) -> None:
        self.crit_enter()
        local = td is self.curthread or await self.td_get(td, "td_cpu") == self.gd_cpuid
        self.event("deschedule", target=td.td_id, remote=not local)
        if local:
            await self._lwkt_dequeue(self.own(td.td_rec))
        else:
            await self.lwkt_send_ipiq(await self.td_get(td, "td_cpu"), "lwkt_deschedule", td.td_rec)
        await self.crit_exit()

    async def lwkt_setpri(self, td: Thread, pri: int) -> None:
        self._mine(td, "lwkt_setpri")
        await super().lwkt_setpri(td, pri)

    # -- wait queues (in shared RAM) -----------------------------------------------------------------

    @kernel_function
    async def lwkt_block(self, w: WaitQueue, wmesg: str, gen: int) -> int:
        """Block on ``w`` unless it was signalled since ``gen``; returns the new generation."""
        td = self.curthread
        self.tracepoint("thread:blocking", td=td)
        await self.lwkt_gettoken(w.wa_token)
        k = self
        wa_gen = await self.wq_get(w, "wa_gen")
        if wa_gen == gen:
            await self._lwkt_dequeue(td)
            await self.waitq_append(w, td.td_rec)
            await self.td_set(td, "td_wait", w.ram_word)
            await self.td_set(td, "td_wmesg", self.wmesg_id(wmesg))
            self.event("block", wait=w.name, wmesg=wmesg, gen=gen, **self.waitq_view(w))
            k = await self.lwkt_switch()
        else:
            self.event("block_skipped", wait=w.name, gen=gen, wa_gen=wa_gen)
        # As in the seed, the token may have been lost while blocked: reading the generation
        # needs none (the layout leaves wa_gen's reads unguarded).
        gen = await k.wq_get(w, "wa_gen")
        await k.lwkt_reltoken(w.wa_token)
        return gen

    @kernel_function
    async def lwkt_signal(self, w: WaitQueue) -> None:
        """Wake every thread blocked on ``w`` (by IPI to the CPUs they belong to) and advance its
        generation."""
        await self.lwkt_gettoken(w.wa_token)
        gen = (await self.wq_get(w, "wa_gen") + (0 if self.system.bug(Bug.WAIT_GEN_NOT_BUMPED) else 1)) & 0xFFFF_FFFF
        await self.wq_set(w, "wa_gen", gen)
        count = await self.wq_get(w, "wa_count")
        self.event("signal_begin", wait=w.name, gen=gen, **self.waitq_view(w))
        woken = []
        while count:
            record = await self.wq_get(w, "wa_head")
            if not record:
                break
            self.cpu.charge(self.costs["lwkt_signal_wake"])
            count -= 1
            await self.waitq_remove(w, record)
            # The message first: once td_wait is 0 the record's wait fields are its owner's again.
            await self.td_set(record, "td_wmesg", 0)
            await self.td_set(record, "td_wait", 0)
            td = self.system.thread_at(record)
            self.event("unwait", target=td.td_id, wait=w.name, by="signal", **self.waitq_view(w))
            woken.append(td.td_id)
            self.tracepoint("thread:woken", td=td)
            cpu = await self.td_get(record, "td_cpu")
            self.count("signal_local" if cpu == self.gd_cpuid else "signal_remote")
            if cpu == self.gd_cpuid:
                await self._lwkt_enqueue(self.own(record))
            elif not self.system.bug(Bug.SIGNAL_DROP_REMOTE):
                await self.lwkt_send_ipiq(cpu, "lwkt_schedule", record)
            await self.lwkt_regettoken(w.wa_token)
        self.event("signal", wait=w.name, woken=woken, gen=gen)
        await self.lwkt_reltoken(w.wa_token)

    async def waitq_gen(self, w: WaitQueue) -> int:
        """The generation of ``w`` to pass to lwkt_block (taken under the queue's token)."""
        await self.lwkt_gettoken(w.wa_token)
        gen = await self.wq_get(w, "wa_gen")
        await self.lwkt_reltoken(w.wa_token)
        return gen

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

    async def register_ithread(
        self, line: int, handler, *, pri: int = TDPRI_INT_MED, name: str | None = None, mpsafe: bool = True
    ) -> Thread:
        td = await super().register_ithread(line, handler, pri=pri, name=name)
        if mpsafe:
            td.td_mpcount = 0
        kernel = self

        async def preemptable(ntd: Thread, critpri: int) -> None:
            # Each interrupt frame on this CPU holds a critical section of its own; every frame
            # also raises the nesting level (as lwkt_send_ipiq does), so never fewer levels.
            kernel.kassert(
                kernel.intr_frames <= kernel.gd_intr_nesting_level,
                f"{kernel.intr_frames} interrupt frames counted at nesting level {kernel.gd_intr_nesting_level}",
            )
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
