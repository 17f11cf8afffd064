"""cocotb tests of the SMP LWKT kernel (seed v1.18) on a 2-CPU SoC, continued from smp_kernel.py.

The MP lock with td_mpcount, preemption that lends the MP count, need_resched and the
td_release hook, lwkt_acquire, written the way smp_kernel.py's tests are.
"""

from __future__ import annotations


import cocotb
from cocotb.triggers import FallingEdge

from firmware.device import device_take
from firmware.smp import IDLE_POLL_CYCLES
from firmware.ram_layout import THREAD_FIELDS, RamLayout
from firmware.thread import (
    TDF,
    TDPRI_CRIT,
    TDPRI_INT_HIGH,
    TDPRI_INT_MED,
    TDPRI_KERN_DAEMON,
    TDPRI_KERN_USER,
    TDPRI_USER_NORM,
)
from hdl import memory_map as mm
from sim.tb.directed.kernel_helpers import (
    LINE,
    MAX_CYCLES,
    NCPU,
    SOURCE,
    KERNEL_PATH_CYCLES,
    Device,
    Done,
    final_checks_ok,
    index_of,
    indices,
    mark,
    marks,
    owner,
    smp_machine,
    until,
)


# -- 4. the MP lock ------------------------------------------------------------------------------------


@cocotb.test(skip=NCPU != 2)
async def mplock_recursion_and_owner(dut):
    """get_mplock/rel_mplock nest through td_mpcount; the OWNER register follows the first
    hold and the last release; a try from the other CPU fails while it is held."""
    machine = await smp_machine(dut)
    system = machine.system
    info = {"seq": []}
    done = Done(system, 2)

    async def giant(td, arg):  # created holding the MP lock (td_mpcount 1)
        k = td.k

        async def rec(label):
            info["seq"].append((label, td.td_mpcount, owner(system), await k.cpu.read(mm.MPLOCK.OWNER)))

        await rec("start")
        await k.get_mplock()
        await rec("get")
        await k.get_mplock()
        await rec("get")
        info["held"] = True
        await until(k, lambda: "try1" in info, "CPU 1's try")
        await k.rel_mplock()
        await rec("rel")
        await k.rel_mplock()
        await rec("rel")
        await k.rel_mplock()
        await rec("rel")
        info["released"] = True
        await until(k, lambda: "owner3" in info, "CPU 1's second try and release")
        await k.get_mplock()
        await rec("get")
        await k.rel_mplock()
        await rec("rel")
        info["acquires"] = await k.cpu.read(mm.MPLOCK.ACQUIRES)
        info["failed_tries"] = await k.cpu.read(mm.MPLOCK.FAILED_TRIES)
        done()

    async def other(td, arg):  # CPU 1, MP-safe
        k = td.k
        await until(k, lambda: info.get("held"), "CPU 0 to hold the lock")
        info["try1"] = await k.cpu_try_mplock()
        await until(k, lambda: info.get("released"), "CPU 0 to release")
        info["try2"] = await k.cpu_try_mplock()
        info["owner2"] = owner(system)
        await k.cpu_rel_mplock()
        info["owner3"] = owner(system)
        done()

    async def boot0(k):
        # kthread_create: lwkt_create without flags, scheduled at once, holding the MP lock.
        await k.kthread_create(giant, comm="giant", pri=TDPRI_KERN_USER)

    async def boot1(k):
        await k.lwkt_create(other, comm="other", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({0: boot0, 1: boot1})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    free = mm.OWNER_FREE
    assert info["seq"] == [
        ("start", 1, 0, 0),
        ("get", 2, 0, 0),
        ("get", 3, 0, 0),
        ("rel", 2, 0, 0),
        ("rel", 1, 0, 0),
        ("rel", 0, None, free),
        ("get", 1, 0, 0),
        ("rel", 0, None, free),
    ], info["seq"]
    assert info["try1"] is False and info["try2"] is True
    assert info["owner2"] == 1 and info["owner3"] is None
    # Hardware counters: three free->owned transitions (CPU 0 twice, CPU 1 once), one failed try.
    assert info["acquires"] == 3 and info["failed_tries"] == 1
    per_cpu = system.counters()["per_cpu"]
    assert per_cpu[1]["mplock_contended"] == 1 and per_cpu[0]["mplock_acquires"] == 2
    final_checks_ok(machine)


@cocotb.test(skip=NCPU != 2)
async def get_mplock_switches_away_while_the_lock_is_busy(dut):
    """get_mplock of a thread on CPU 1 while CPU 0 holds the lock: the count goes up, the TRY
    fails, and the thread switches away from inside get_mplock with only lwkt_switch's own
    critical section (mplock.s wraps that switch in one more: a deviation); lwkt_switch runs it
    again once it has the lock for it, after CPU 0's release."""
    machine = await smp_machine(dut)
    system = machine.system
    info = {}
    done = Done(system, 2)

    async def giant(td, arg):  # CPU 0, created holding the MP lock
        k = td.k
        await until(k, lambda: "asking" in info, "CPU 1 to ask for the lock")
        await k.cpu.work(600)  # CPU 1 fails its TRY and switches away meanwhile
        mark(td, "release")
        await k.rel_mplock()
        done()

    async def waiter(td, arg):  # CPU 1, MP-safe
        k = td.k
        info["asking"] = True
        mark(td, "get")
        await k.get_mplock()
        mark(td, "got")
        info["got"] = (td.td_mpcount, owner(system), td.crit_count)
        await k.rel_mplock()
        done()

    async def boot0(k):
        await k.lwkt_create(giant, comm="giant", pri=TDPRI_KERN_USER)

    async def boot1(k):
        await until(k, lambda: owner(system) == 0, "CPU 0 to take the MP lock", limit=2000)
        info["waiter"] = await k.lwkt_create(waiter, comm="waiter", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({0: boot0, 1: boot1})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    recs = system.trace.sorted_records()
    wid = info["waiter"].td_id
    get, got = index_of(recs, "mark", label="get"), index_of(recs, "mark", label="got")
    release = index_of(recs, "mark", label="release")
    (wait,) = [i for i in indices(recs, "mplock_wait", cpu=1) if get < i < got]
    away = [i for i in indices(recs, "switch", cpu=1) if recs[i]["tid"] == wid and get < i < got]
    # It left once, from inside get_mplock, counted (1) and in lwkt_switch's section alone.
    assert len(away) == 1 and wait < away[0] < release < got, (away, wait, release, got)
    assert (recs[away[0]]["mpcount"], recs[away[0]]["crit"]) == (1, 1), recs[away[0]]
    # Back with the lock and its count, out of every critical section.
    assert info["got"] == (1, 1, 0), info["got"]
    assert system.counters()["per_cpu"][1]["mplock_handoff"] == 1
    final_checks_ok(machine)


#: How long CPU 1's holder keeps the MP lock: long against CPU 0's boot and a few polls, each of
#: which is a few hundred cycles of kernel code under the default cost model.
HOLD_CYCLES = 2000


async def _mplock_held_by_cpu1(dut, *, with_mpsafe: bool):
    """CPU 1's thread holds the MP lock for a while; CPU 0 then gets a thread that needs it
    (and, with ``with_mpsafe``, a lower-priority MP-safe one)."""
    machine = await smp_machine(dut)
    system = machine.system
    k0 = system.kernels[0]
    info = {"safe_steps": 0, "nohlt_samples": 0}
    done = Done(system, 2)

    async def holder(td, arg):  # CPU 1, holds the MP lock from its creation
        k = td.k
        info["holder_owner"] = owner(system)
        await k.cpu.work(HOLD_CYCLES)
        await k.rel_mplock()
        mark(td, "released")
        info["released_owner"] = owner(system)
        done()

    async def giant(td, arg):  # CPU 0, needs the MP lock
        k = td.k
        mark(td, "giant-runs")
        info["giant_owner"] = owner(system)
        info["giant_mpcount"] = td.td_mpcount
        info["idle_cycles_at_run"] = k.cpu.idle_cycles
        info["switch_count_at_run"] = k.counters["switch_count"]
        done()

    async def safe(td, arg):  # CPU 0, MP-safe, lower priority
        k = td.k
        while "giant_owner" not in info:
            info["safe_steps"] += 1
            info.setdefault("safe_owner", set()).add(owner(system))
            await k.cpu.work(20)
            await k.lwkt_yield()

    async def boot0(k):
        # CPU 1's boot creates and switches to the holder: a few hundred cycles of kernel code.
        await until(k, lambda: owner(system) == 1, "CPU 1 to take the MP lock", limit=1000)
        info["boot_idle_cycles"] = k.cpu.idle_cycles
        info["boot_switch_count"] = k.counters["switch_count"]
        info["giant"] = await k.lwkt_create(giant, comm="giant", pri=TDPRI_KERN_DAEMON)
        if with_mpsafe:
            info["safe"] = await k.lwkt_create(safe, comm="safe", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot1(k):
        await k.lwkt_create(holder, comm="holder", pri=TDPRI_KERN_USER)

    async def watch_idle():
        idle = k0.gd_idletd
        while True:
            await FallingEdge(dut.clk)
            if idle.td_flags & TDF.IDLE_NOHLT:
                info["nohlt_samples"] += 1

    cocotb.start_soon(watch_idle())
    machine.start({0: boot0, 1: boot1})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    return machine, info


@cocotb.test(skip=NCPU != 2)
async def mplock_busy_runs_mpsafe_thread_instead(dut):
    """While CPU 1 holds the MP lock, lwkt_switch on CPU 0 skips the higher-priority thread that
    needs it and runs the MP-safe one; the first switch after the release runs the first."""
    machine, info = await _mplock_held_by_cpu1(dut, with_mpsafe=True)
    system = machine.system
    recs = system.trace.sorted_records()
    giant, safe = info["giant"].td_id, info["safe"].td_id
    released = index_of(recs, "mark", label="released")
    to_giant = index_of(recs, "switch", cpu=0, to=giant)
    to_safe = indices(recs, "switch", cpu=0, to=safe)
    assert info["holder_owner"] == 1 and info["released_owner"] is None
    assert to_safe and to_safe[0] < released < to_giant
    assert info["safe_steps"] >= 5 and info["safe_owner"] == {1}
    # The MP-safe thread yields every 20 cycles (plus the yield's kernel path): the giant runs at the
    # first switch after the release.
    assert recs[to_giant]["cycle"] - recs[released]["cycle"] <= 20 + KERNEL_PATH_CYCLES
    assert info["giant_owner"] == 0 and info["giant_mpcount"] == 1
    contended = system.counters()["per_cpu"][0]["mplock_contended"]
    assert contended >= info["safe_steps"] - 1, (contended, info["safe_steps"])
    assert machine.counters()["smp"]["mplock_contended_tries"] == contended
    assert info["nohlt_samples"] == 0  # there was always an MP-safe thread to run
    final_checks_ok(machine)


@cocotb.test(skip=NCPU != 2)
async def mplock_busy_idle_polls(dut):
    """With only a thread that needs the MP lock, CPU 0's idle thread is told not to halt
    (TDF_IDLE_NOHLT): it keeps switching (to itself) and trying the lock, and the thread runs
    within a poll period of the release."""
    machine, info = await _mplock_held_by_cpu1(dut, with_mpsafe=False)
    system = machine.system
    recs = system.trace.sorted_records()
    giant = info["giant"].td_id
    released = index_of(recs, "mark", label="released")
    to_giant = index_of(recs, "switch", cpu=0, to=giant)
    assert released < to_giant
    delay = recs[to_giant]["cycle"] - recs[released]["cycle"]
    assert delay <= IDLE_POLL_CYCLES + KERNEL_PATH_CYCLES, delay
    # No switch on CPU 0 before the giant's: the idle thread chose itself every time ...
    assert not [i for i in indices(recs, "switch", cpu=0) if i < to_giant]
    polls = info["switch_count_at_run"] - info["boot_switch_count"]
    # ... about once per poll period (and a failing lwkt_switch) over the hold, and it never halted.
    assert polls >= HOLD_CYCLES // (IDLE_POLL_CYCLES + KERNEL_PATH_CYCLES), polls
    assert info["idle_cycles_at_run"] == info["boot_idle_cycles"]
    dut._log.info(
        "idle polls while the MP lock was busy: %d lwkt_switch calls, NOHLT seen in %d cycles, "
        "giant ran %d cycles after the release",
        polls,
        info["nohlt_samples"],
        delay,
    )
    assert info["nohlt_samples"] >= polls - 1
    contended = system.counters()["per_cpu"][0]["mplock_contended"]
    assert contended >= polls - 1 and machine.counters()["smp"]["mplock_contended_tries"] == contended
    assert info["giant_owner"] == 0
    final_checks_ok(machine)


# -- 5. preemption -----------------------------------------------------------------------------------


@cocotb.test(skip=NCPU != 2)
async def ithread_preemption_lends_mp_count(dut):
    """An MP-safe interrupt thread preempts (through its td_preemptable hook) a thread holding
    the MP lock: it runs with the lent count, the lock stays held throughout, and the preempted
    thread gets its td_mpcount back; td_release does not run for a preemption."""
    machine = await smp_machine(dut)
    system = machine.system
    dev = Device(dut)
    info = {}

    async def handler(td, line):
        low = info["low"]
        info["in_handler"] = (
            td.td_mpcount,
            low.td_mpcount,
            owner(system),
            bool(low.td_flags & TDF.PREEMPT_LOCK),
            td.td_preempted is low,
        )
        mark(td, "handler")
        await device_take(td.k, line)
        await td.k.cpu.work(20)

    async def low(td, arg):  # holds the MP lock (td_mpcount 1)
        k = td.k
        td.td_release = lambda t: mark(t, "release")
        info["before"] = (td.td_mpcount, owner(system))
        mark(td, "low-work")
        dev.raise_after(LINE, 30)
        await k.cpu.work(150)
        info["after"] = (td.td_mpcount, owner(system), info["ithd"].td_mpcount)
        mark(td, "low-done")
        await k.rel_mplock()
        info["released"] = owner(system)

    async def finisher(td, arg):  # runs once "low" has exited
        system.finish()

    async def boot0(k):
        await k.lwkt_create(finisher, comm="finisher", pri=1, mpsafe=True)
        info["ithd"] = ithd = await k.register_ithread(LINE, handler, pri=TDPRI_INT_MED)
        info["ithd_mpcount"] = ithd.td_mpcount
        hook = ithd.td_preemptable
        info["hook_calls"] = []

        async def watched_hook(ntd, critpri):  # the kernel's hook, with a note of each call
            info["hook_calls"].append((ntd.td_comm, critpri, ntd.td_gd.curthread.td_comm))
            await hook(ntd, critpri)

        ithd.td_preemptable = watched_hook
        info["low"] = await k.lwkt_create(low, comm="low", pri=TDPRI_KERN_USER)

    machine.start({0: boot0})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    ithd, low_id = info["ithd"].td_id, info["low"].td_id
    recs = system.trace.sorted_records()
    assert info["ithd_mpcount"] == 0
    # lwkt_schedule (called by the interrupt) offered the CPU through the hook, with its own
    # critical section as the one to ignore; the hook then preempted "low".
    assert info["hook_calls"] == [(info["ithd"].td_comm, TDPRI_CRIT, "low")], info["hook_calls"]
    assert info["before"] == (1, 0)
    # In the handler: ithread count 0 + lent (1 held + 1 counted), the preempted one counts 2.
    assert info["in_handler"] == (2, 2, 0, True, True), info["in_handler"]
    assert info["after"] == (1, 0, 0) and info["released"] is None
    order = [
        index_of(recs, "mark", label="low-work"),
        index_of(recs, "interrupt", cpu=0, source=SOURCE),
        index_of(recs, "preempt", cpu=0, target=ithd, result="hit"),
        index_of(recs, "switch", cpu=0, tid=low_id, to=ithd),
        index_of(recs, "mark", label="handler"),
        index_of(recs, "switch", cpu=0, tid=ithd, to=low_id),
        index_of(recs, "resume", cpu=0, preemptor=ithd),
        index_of(recs, "mark", label="low-done"),
    ]
    assert order == sorted(order), [recs[i] for i in order]
    # The critpri lwkt_preempt judged by: lwkt_schedule's own section plus one for the single
    # interrupt frame on the CPU (each frame holds a critical section of its own), in sections.
    hit = recs[order[2]]
    assert hit["critpri"] == 2 and hit["crit"] <= hit["critpri"], hit
    # td_release ran once, when "low" exited, not when it was preempted.
    assert marks(system) == ["low-work", "handler", "low-done", "release"], marks(system)
    c = system.sysctl
    assert (c("lwkt.preempt_hit"), c("lwkt.preempt_miss"), c("lwkt.preempt_weird")) == (1, 0, 0)
    final_checks_ok(machine)


@cocotb.test(skip=NCPU != 2)
async def preempt_miss_when_mp_lock_busy(dut):
    """An interrupt thread that needs the MP lock cannot preempt while CPU 1 holds it:
    preempt_miss and need_resched, its td_mpcount is restored, and it runs (an ordinary
    switch) once the lock is free."""
    machine = await smp_machine(dut)
    system = machine.system
    dev = Device(dut)
    k0 = system.kernels[0]
    info = {"safe_steps": 0}
    done = Done(system, 2)

    async def holder(td, arg):  # CPU 1
        k = td.k
        await k.cpu.work(HOLD_CYCLES)
        await k.rel_mplock()
        mark(td, "released")
        done()

    async def handler(td, line):
        info["in_handler"] = (td.td_mpcount, owner(system), td.td_preempted)
        mark(td, "handler")
        await device_take(td.k, line)
        await td.k.cpu.work(10)
        info["handled"] = True

    async def safe(td, arg):  # CPU 0, MP-safe
        k = td.k
        dev.raise_after(LINE, 30)
        while not info.get("handled"):
            info["safe_steps"] += 1
            if k.counters["preempt_miss"] and "after_miss" not in info:
                info["after_miss"] = (
                    info["ithd"].td_mpcount,
                    td.td_mpcount,
                    owner(system),
                    bool(info["ithd"].td_flags & TDF.RUNQ),
                )
            await k.cpu.work(20)
            await k.lwkt_yield()
        done()

    async def boot0(k):
        # CPU 1's boot creates and switches to the holder: a few hundred cycles of kernel code.
        await until(k, lambda: owner(system) == 1, "CPU 1 to take the MP lock", limit=1000)
        info["ithd"] = await k.register_ithread(LINE, handler, pri=TDPRI_INT_MED, mpsafe=False)
        await k.lwkt_create(safe, comm="safe", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot1(k):
        await k.lwkt_create(holder, comm="holder", pri=TDPRI_KERN_USER)

    machine.start({0: boot0, 1: boot1})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    ithd = info["ithd"].td_id
    recs = system.trace.sorted_records()
    miss = index_of(recs, "preempt", cpu=0, target=ithd)
    assert recs[miss]["result"] == "miss"
    released = index_of(recs, "mark", label="released")
    to_ithd = index_of(recs, "switch", cpu=0, to=ithd)
    assert miss < released < to_ithd < index_of(recs, "mark", label="handler")
    assert info["after_miss"] == (1, 0, 1, True), info["after_miss"]
    # An ordinary switch (not a preemption): its own count only, and the lock is CPU 0's now.
    assert info["in_handler"] == (1, 0, None)
    assert not system.trace.events("resume")
    c = system.sysctl
    assert (c("lwkt.preempt_hit"), c("lwkt.preempt_miss")) == (0, 1)
    assert k0.counters["need_resched"] >= 1
    assert info["safe_steps"] >= 5
    final_checks_ok(machine)


@cocotb.test(skip=NCPU != 2)
async def an_offer_from_a_nested_section_misses_and_one_from_none_preempts(dut):
    """A thread schedules its CPU's interrupt thread from thread code (lwkt_schedule offers the CPU
    through the td_preemptable hook, with lwkt_schedule's own section as critpri). One section deeper
    the offer misses and asks for a reschedule: the interrupt thread runs at the next yield. With no
    section of its own the offer preempts at once."""
    machine = await smp_machine(dut)
    system = machine.system
    info = {}

    async def handler(td, line):  # scheduled, not interrupted: nothing to take from the device
        mark(td, "handler", crit=td.crit_count)
        await td.k.cpu.work(10)

    async def low(td, arg):
        k = td.k
        ithd = info["ithd"]
        k.crit_enter()
        await k.lwkt_schedule(ithd)
        mark(td, "nested-offered")
        info["resched"] = k.gd_need_resched
        await k.crit_exit()
        mark(td, "yield")
        await k.lwkt_yield()
        await k.lwkt_schedule(ithd)
        mark(td, "plain-offered")
        system.finish()

    async def boot0(k):
        info["ithd"] = await k.register_ithread(LINE, handler, pri=TDPRI_INT_MED)
        await k.lwkt_create(low, comm="low", pri=TDPRI_KERN_USER)

    machine.start({0: boot0})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    ithd = info["ithd"].td_id
    offers = [(r["result"], r["crit"], r["critpri"]) for r in system.trace.events("preempt", target=ithd)]
    assert offers == [("miss", 2, 1), ("hit", 1, 1)], offers
    assert info["resched"] is True
    assert marks(system) == ["nested-offered", "yield", "handler", "handler", "plain-offered"], marks(system)
    c = system.sysctl
    assert (c("lwkt.preempt_hit"), c("lwkt.preempt_miss"), c("lwkt.preempt_weird")) == (1, 1, 0)
    final_checks_ok(machine)


@cocotb.test(skip=NCPU != 2)
async def an_offer_of_a_preempted_interrupt_thread_is_weird(dut):
    """v1.18 tests priority first, so its "weird" case (the target is locked by a preemption) needs a
    preemptor that has lowered itself below the thread it preempted: interrupt thread B preempts A, drops
    below A and schedules it. lwkt_preempt refuses (preempt_weird, need_resched); A resumes only when B
    gives the CPU back."""
    machine = await smp_machine(dut)
    system = machine.system
    dev = Device(dut)
    second = LINE + 1
    info = {}

    async def handler_a(td, line):
        mark(td, "a-start")
        await device_take(td.k, line)
        dev.raise_after(second, 10)
        await td.k.cpu.work(120)  # B preempts here
        mark(td, "a-end")
        info["a_done"] = True

    async def handler_b(td, line):
        k = td.k
        mark(td, "b-start")
        await device_take(k, line)
        await k.lwkt_setpri_self(TDPRI_KERN_DAEMON)  # below A (TDPRI_INT_MED)
        info["a_locked"] = bool(info["a"].td_flags & TDF.PREEMPT_LOCK)
        await k.lwkt_schedule(info["a"])
        info["resched"] = k.gd_need_resched
        mark(td, "b-end")

    async def waiter(td, arg):
        k = td.k
        dev.raise_after(LINE, 20)
        while not info.get("a_done"):
            await k.cpu.work(30)
            await k.lwkt_yield()
        system.finish()

    async def boot0(k):
        info["a"] = await k.register_ithread(LINE, handler_a, pri=TDPRI_INT_MED)
        info["b"] = await k.register_ithread(second, handler_b, pri=TDPRI_INT_HIGH)
        await k.lwkt_create(waiter, comm="waiter", pri=TDPRI_USER_NORM)

    machine.start({0: boot0})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    a, b = info["a"].td_id, info["b"].td_id
    results = [(r["target"], r["result"]) for r in system.trace.events("preempt", cpu=0) if r["target"] in (a, b)]
    assert results == [(a, "hit"), (b, "hit"), (a, "weird")], results
    assert info["a_locked"] is True and info["resched"] is True
    assert marks(system) == ["a-start", "b-start", "b-end", "a-end"], marks(system)
    assert system.sysctl("lwkt.preempt_weird") == 1
    final_checks_ok(machine)


# -- 6. need_resched and td_release -----------------------------------------------------------------


@cocotb.test(skip=NCPU != 2)
async def need_resched_and_release_hook(dut):
    """Scheduling a higher-priority thread without a td_preemptable hook does not switch: it sets
    need_resched, and lwkt_check_resched yields to it. A lower-priority one sets nothing. The
    td_release hook runs each time the thread switches away."""
    machine = await smp_machine(dut)
    system = machine.system
    k0 = system.kernels[0]
    info = {}
    done = Done(system, 1)

    async def high(td, arg):
        mark(td, "high-runs")

    async def lower(td, arg):
        mark(td, "lower-runs")
        done()

    async def low(td, arg):
        k = td.k
        # Creating this thread from the idle thread asked for a reschedule: honour it first.
        info["flag_at_start"] = k.gd_need_resched
        await k.lwkt_check_resched()
        info["flag_after_first_check"] = k.gd_need_resched
        td.td_release = lambda t: mark(t, "release")
        n0 = k.counters["need_resched"]
        await k.lwkt_schedule(info["lower"])
        info["after_lower"] = (k.counters["need_resched"] - n0, k.gd_need_resched)
        await k.lwkt_schedule(info["high"])
        info["after_high"] = (k.counters["need_resched"] - n0, k.gd_need_resched)
        await k.cpu.work(50)
        mark(td, "low-continues")
        await k.lwkt_check_resched()
        info["flag_after_check"] = k.gd_need_resched
        mark(td, "low-after-check")
        await k.lwkt_check_resched()  # nothing pending: no switch
        mark(td, "low-end")

    async def boot0(k):
        info["high"] = await k.lwkt_create(high, comm="high", tdflags=TDF.STOPREQ, pri=TDPRI_KERN_DAEMON, mpsafe=True)
        info["lower"] = await k.lwkt_create(lower, comm="lower", tdflags=TDF.STOPREQ, pri=TDPRI_USER_NORM, mpsafe=True)
        info["low"] = await k.lwkt_create(low, comm="low", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({0: boot0})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    assert info["high"].td_preemptable is None
    assert info["flag_at_start"] is True and info["flag_after_first_check"] is False
    assert info["after_lower"] == (0, False) and info["after_high"] == (1, True)
    assert info["flag_after_check"] is False
    assert marks(system) == [
        "low-continues",
        "release",
        "high-runs",
        "low-after-check",
        "low-end",
        "release",
        "lower-runs",
    ], marks(system)
    # The release marks are the low thread's, each right before it switches away.
    low_id = info["low"].td_id
    recs = system.trace.sorted_records()
    for i in indices(recs, "mark", label="release"):
        assert recs[i]["tid"] == low_id
        assert recs[i + 1]["event"] == "switch" and recs[i + 1]["tid"] == low_id, recs[i + 1]
    assert len(system.trace.events("yield", tid=low_id)) == 2  # the boot-time request, then high's
    assert k0.counters["preempt_hit"] == 0
    final_checks_ok(machine)


# -- 7. lwkt_acquire -----------------------------------------------------------------------------------


@cocotb.test(skip=NCPU != 2)
async def acquire_moves_thread_to_this_cpu(dut):
    """lwkt_acquire (by a thread holding the MP lock) moves a stopped thread of CPU 1 to CPU 0:
    td_cpu, td_gd and both CPUs' gd_tdallq; its priority, critical section and MP count come
    from its record in shared RAM, as CPU 1 saved them; scheduling it then runs it on CPU 0 with
    no IPI. The thread is a reused structure (an exited thread from CPU 1's cache): it is listed
    once."""
    machine = await smp_machine(dut)
    system = machine.system
    k0, k1 = system.kernels
    info = {}
    done = Done(system, 1)

    async def short(td, arg):
        info["short"] = td
        info["short_listed"] = k1.gd_tdallq.count(td)

    async def creator(td, arg):  # CPU 1, after "short" has exited
        k = td.k
        info["wanderer"] = await k.lwkt_create(
            wanderer, comm="wanderer", tdflags=TDF.STOPREQ, pri=TDPRI_KERN_USER, mpsafe=False
        )

    async def wanderer(td, arg):
        mark(td, "wanderer-runs")
        info["ran_on"] = td.k.gd_cpuid
        done()

    async def acq(td, arg):  # CPU 0, holds the MP lock
        k = td.k
        await until(k, lambda: "wanderer" in info, "the thread to exist")
        w = info["wanderer"]
        info["before"] = (
            await k.td_get(w, "td_cpu"),
            w.td_gd is k1,
            k1.gd_tdallq.count(w),
            w in k0.gd_tdallq,
            td.td_mpcount,
        )
        await k.lwkt_acquire(w)
        info["after"] = (await k.td_get(w, "td_cpu"), w.td_gd is k0, k0.gd_tdallq.count(w))
        await k.lwkt_acquire(w)  # already ours: nothing to do
        k.lwkt_set_comm(w, "moved")
        mark(td, "schedule")
        await k.lwkt_schedule(w)

    async def boot0(k):
        await k.lwkt_create(acq, comm="acq", pri=TDPRI_KERN_USER)

    async def boot1(k):
        await k.lwkt_create(short, comm="short", pri=TDPRI_KERN_DAEMON, mpsafe=True)
        await k.lwkt_create(creator, comm="creator", pri=TDPRI_KERN_USER, mpsafe=True)

    cpu0_accesses = []
    machine.bench.masters[0].add_monitor(lambda cycle, cpu, address, write, _: cpu0_accesses.append((address, write)))
    machine.start({0: boot0, 1: boot1})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    wid = info["wanderer"].td_id
    assert info["wanderer"] is info["short"] and info["short_listed"] == 1
    assert [r["target"] for r in system.trace.events("thread_reuse", cpu=1)] == [wid]
    assert info["before"] == (1, True, 1, False, 1)
    # (CPU 1 drops it from its own list at its next list operation: no CPU edits another's list.)
    assert info["after"] == (0, True, 1)
    acquires = system.trace.events("acquire")
    assert [(r["cpu"], r["target"], r["from_cpu"]) for r in acquires] == [(0, wid, 1)]
    # Read on CPU 0 from the record: the priority lwkt_create gave it, lwkt_init_thread's
    # critical section, and the MP count a thread that is not MP-safe starts with.
    assert [(r["pri"], r["crit"], r["mpcount"]) for r in acquires] == [(TDPRI_KERN_USER, 1, 1)]
    # ... over CPU 0's bus port (the Python structure CPU 1 left is not what it reads).
    rec = info["wanderer"].td_rec
    wanted = {RamLayout.address(rec + THREAD_FIELDS[f]) for f in ("td_pri", "td_mpcount")}
    assert wanted <= {address for address, write in cpu0_accesses if not write}
    assert info["ran_on"] == 0
    run = system.trace.events("mark", label="wanderer-runs")
    assert run[0]["cpu"] == 0 and run[0]["thread"] == "moved"
    assert system.trace.events("switch", cpu=0, to=wid)[0]["to_thread"] == "moved"
    assert not system.trace.events("ipi_send")
    assert not [r for r in system.trace.events(cpu=1, tid=wid) if r["thread"] == "moved"]
    final_checks_ok(machine)
