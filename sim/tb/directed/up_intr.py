"""cocotb tests of the uniprocessor kernel's interrupt side: critical sections, preemption,
the preempt_* counters, wait-queue signals from interrupt threads, untimely_switch, and the
hardclock's period once the cycle counter is past 2^32.

The test plays the device behind external line 0 (interrupt source 3): it posts a
request at a chosen cycle (``Device.raise_line``) and the interrupt thread's handler
takes it over the bus (``firmware.device.device_take``: STATUS, DATA, ACK).
Assertions are on the kernel's event trace and counters; ``mark`` records put
the test's own milestones on the same timeline.
"""

from itertools import pairwise

import cocotb
from cocotb.triggers import ClockCycles

from firmware.device import device_take
from hdl import memory_map as mm
from firmware.thread import (
    TDF,
    TDPRI_CRIT,
    TDPRI_INT_HIGH,
    TDPRI_INT_MED,
    TDPRI_KERN_DAEMON,
    TDPRI_KERN_USER,
    WaitQueue,
)
from sim.tb.directed.kernel_helpers import Device, between, index_of, indices, mark, marks, source_of, up_machine

LINE = 0
SOURCE = source_of(LINE)
MAX_CYCLES = 20_000  # the kernel's own execution (the default cost model) takes cycles too
#: Bound on a short kernel path (a switch, an interrupt reaching its ithread) under the default cost
#: model: a few hundred instructions at one per cycle, plus their bus accesses.
KERNEL_PATH_CYCLES = 400


def _preempt_counts(system):
    return (system.sysctl("lwkt.preempt_hit"), system.sysctl("lwkt.preempt_miss"), system.sysctl("lwkt.preempt_weird"))


@cocotb.test()
async def critical_section_defers_interrupt(dut):
    """An interrupt arriving inside a critical section waits for crit_exit, then runs at once."""
    machine = await up_machine(dut)
    system = machine.system
    dev = Device(dut)
    info = {}

    async def handler(td, line):
        mark(td, "handler")
        info["handler_cycle"] = td.k.cycle
        info["data"] = await device_take(td.k, line)
        await td.k.cpu.work(20)

    async def crit_thread(td, arg):
        k = td.k
        k.crit_enter()
        info["t0"] = k.cycle
        dev.raise_after(LINE, 50)
        await k.cpu.work(200)
        info["t1"] = k.cycle
        mark(td, "section-end")
        await k.crit_exit()
        mark(td, "after-crit-exit")
        system.finish()

    async def start(k):
        info["ithd"] = await k.register_ithread(LINE, handler, pri=TDPRI_INT_MED)
        info["td"] = await k.lwkt_create(crit_thread, comm="crit", pri=TDPRI_KERN_DAEMON)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    ithd, td = info["ithd"].td_id, info["td"].td_id
    t0, t1 = info["t0"], info["t1"]
    recs = system.trace.sorted_records()

    assert t1 - t0 >= 200, "the critical section was cut short"
    raised = dev.raised_at[LINE][0]
    assert t0 < raised < t1
    # The handler read the request's data word (the cycle it was posted in) and acknowledged it.
    assert info["data"] == raised
    assert dev.posted == {LINE: 1} and dev.serviced == {LINE: 1}
    # The interrupt was seen and deferred during the section, by the thread in it.
    deferred = system.trace.events("intr_deferred")
    assert len(deferred) == 1, deferred
    assert deferred[0]["tid"] == td and deferred[0]["crit"] == 1
    assert raised <= deferred[0]["cycle"] <= raised + 5, (raised, deferred)
    # Nothing of the interrupt ran inside the section.
    for r in (
        system.trace.events("interrupt")
        + system.trace.events("switch", to=ithd)
        + system.trace.events("mark", label="handler")
    ):
        assert r["cycle"] >= t1, f"{r} inside the critical section [{t0}, {t1})"
    # At crit_exit: splz, claim, preempt, the ithread's handler, then back to the thread.
    order = [
        index_of(recs, "mark", label="section-end"),
        index_of(recs, "splz", tid=td),
        index_of(recs, "interrupt", source=SOURCE, tid=td),
        index_of(recs, "preempt", target=ithd, result="hit", tid=td),
        index_of(recs, "switch", to=ithd, tid=td),
        index_of(recs, "mark", label="handler", tid=ithd),
        index_of(recs, "switch", to=td, tid=ithd),
        index_of(recs, "resume", preemptor=ithd, tid=td),
        index_of(recs, "mark", label="after-crit-exit", tid=td),
    ]
    assert order == sorted(order), [recs[i] for i in order]
    # Right after crit_exit: the path to the handler (splz, claim, schedule, preemption, switch) is
    # kernel code, about 230 cycles under the default cost model (and 10 with free kernel code).
    assert info["handler_cycle"] - t1 <= KERNEL_PATH_CYCLES, "the deferred interrupt did not run right after crit_exit"
    total = system.counters()["total"]
    assert total["interrupts_deferred"] == 1 and total["interrupts"] == 1, total
    assert _preempt_counts(system) == (1, 0, 0)


@cocotb.test()
@cocotb.parametrize(descheduled=[False, True])
async def preemption_is_transparent(dut, descheduled):
    """A preempted thread resumes the moment the preempting ithread blocks, even when a
    higher-priority thread became runnable meanwhile and even when it had descheduled itself."""
    machine = await up_machine(dut)
    system = machine.system
    dev = Device(dut)
    w = WaitQueue("wq")
    info = {}
    done = []

    def finished(td):
        done.append(td.td_comm)
        if len(done) == 3:
            system.finish()

    async def handler(td, line):
        k = td.k
        low = info["low"]
        info["low_on_runq"] = bool(low.td_flags & TDF.RUNQ)
        info["low_preempt_locked"] = bool(low.td_flags & TDF.PREEMPT_LOCK)
        mark(td, "handler")
        await device_take(td.k, line)
        await k.lwkt_signal(w)  # makes "other" (above "low") runnable
        await k.cpu.work(30)

    async def other(td, arg):  # KERN_DAEMON, blocked on w until the interrupt
        gen = w.wa_gen
        await td.k.lwkt_block(w, "other", gen)
        mark(td, "other-runs")
        finished(td)

    async def peer(td, arg):  # same priority as low, queued behind it
        mark(td, "peer-runs")
        finished(td)

    async def low(td, arg):
        k = td.k
        if descheduled:
            await k.lwkt_deschedule_self()
        mark(td, "low-work-start")
        dev.raise_after(LINE, 40)
        await k.cpu.work(150)
        mark(td, "low-work-end")
        if descheduled:
            await k.lwkt_schedule_self()
        await k.lwkt_yield()
        finished(td)

    async def start(k):
        info["ithd"] = await k.register_ithread(LINE, handler, pri=TDPRI_INT_MED)
        info["other"] = await k.lwkt_create(other, comm="other", pri=TDPRI_KERN_DAEMON)
        info["low"] = await k.lwkt_create(low, comm="low", pri=TDPRI_KERN_USER)
        info["peer"] = await k.lwkt_create(peer, comm="peer", pri=TDPRI_KERN_USER)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    ithd, low_id = info["ithd"].td_id, info["low"].td_id
    # The variant really is what it claims to be.
    assert info["low_on_runq"] is (not descheduled)
    assert info["low_preempt_locked"]
    recs = system.trace.sorted_records()
    p = index_of(recs, "preempt", target=ithd, result="hit", tid=low_id)
    r = index_of(recs, "resume", preemptor=ithd, tid=low_id)
    signal = index_of(recs, "signal", wait="wq", tid=ithd)
    assert recs[signal]["woken"] == [info["other"].td_id]
    assert p < signal < r
    # Only the hand-over to the ithread and back happened in between: no other thread ran.
    switches = [(s["tid"], s["to"]) for s in between(recs, p, r, "switch")]
    assert switches == [(low_id, ithd), (ithd, low_id)], switches
    assert [m["label"] for m in between(recs, p, r, "mark")] == ["handler"]
    # The ithread blocked (switched away) and low resumed in the same breath: the switch's own kernel
    # path in between (about 120 cycles under the default cost model).
    back = indices(recs, "switch", tid=ithd, to=low_id)[0]
    assert recs[r]["cycle"] - recs[back]["cycle"] <= KERNEL_PATH_CYCLES
    # low finished its work before the higher-priority thread the ithread woke got the CPU.
    assert marks(system) == ["low-work-start", "handler", "low-work-end", "other-runs", "peer-runs"], marks(system)
    assert _preempt_counts(system) == (1, 0, 0)


@cocotb.test()
async def preempt_hit_counted(dut):
    """An ithread of higher priority than the running thread preempts it: preempt_hit."""
    machine = await up_machine(dut)
    system = machine.system
    dev = Device(dut)
    info = {}

    async def handler(td, line):
        mark(td, "handler")
        # The process of the thread this interrupt thread preempted (the seed's lwkt_preempted_proc).
        info["preempted_proc"] = td.k.lwkt_preempted_proc()
        await device_take(td.k, line)
        await td.k.cpu.work(10)

    async def low(td, arg):
        mark(td, "work-start")
        dev.raise_after(LINE, 30)
        await td.k.cpu.work(120)
        mark(td, "work-end")
        system.finish()

    async def start(k):
        info["ithd"] = await k.register_ithread(LINE, handler, pri=TDPRI_INT_MED)
        info["low"] = await k.lwkt_create(low, comm="low", pri=TDPRI_KERN_USER)
        info["low"].td_proc = "proc of low"  # kernel threads have none: one for the test to find

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    assert _preempt_counts(system) == (1, 0, 0)
    preempts = [(r["tid"], r["target"], r["result"], r["source"]) for r in system.trace.events("preempt")]
    assert preempts == [(info["low"].td_id, info["ithd"].td_id, "hit", SOURCE)]
    assert marks(system) == ["work-start", "handler", "work-end"]
    assert info["preempted_proc"] == "proc of low"


@cocotb.test()
async def preempt_miss_counted(dut):
    """An ithread whose priority is not above the running thread's only gets queued: preempt_miss,
    once with the thread above it (INT_HIGH) and once at the same priority (INT_MED)."""
    machine = await up_machine(dut)
    system = machine.system
    dev = Device(dut)
    info = {}

    async def handler(td, line):
        mark(td, "handler")
        await device_take(td.k, line)
        await td.k.cpu.work(10)

    async def high(td, arg):
        k = td.k
        for rnd, (pri, after) in enumerate([(TDPRI_INT_HIGH, TDPRI_INT_MED), (TDPRI_INT_MED, TDPRI_KERN_DAEMON)]):
            await k.lwkt_setpri_self(pri)
            mark(td, f"work-start{rnd}")
            dev.raise_after(LINE, 30)
            await k.cpu.work(120)
            mark(td, f"work-end{rnd}")
            # Step down and yield: now the queued ithread runs.
            await k.lwkt_setpri_self(after)
            await k.lwkt_yield()
        mark(td, "done")
        system.finish()

    async def start(k):
        info["ithd"] = await k.register_ithread(LINE, handler, pri=TDPRI_INT_MED)
        info["high"] = await k.lwkt_create(high, comm="high", pri=TDPRI_KERN_DAEMON)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    assert _preempt_counts(system) == (0, 2, 0)
    ithd, high_id = info["ithd"].td_id, info["high"].td_id
    preempts = [(r["tid"], r["target"], r["result"]) for r in system.trace.events("preempt")]
    assert preempts == [(high_id, ithd, "miss")] * 2
    # The interrupts came in during the work, but the ithread only ran after the yield.
    assert marks(system) == ["work-start0", "work-end0", "handler", "work-start1", "work-end1", "handler", "done"], (
        marks(system)
    )
    recs = system.trace.sorted_records()
    for rnd, interrupt in enumerate(indices(recs, "interrupt", source=SOURCE)):
        assert (
            index_of(recs, "mark", label=f"work-start{rnd}")
            < interrupt
            < index_of(recs, "mark", label=f"work-end{rnd}")
        )
    assert system.trace.events("resume") == []


@cocotb.test()
async def preempt_weird_counted(dut):
    """The ithread's own line fires again while it runs outside a critical section: sched_ithd
    finds td == ntd (preempt_weird). The line must keep working afterwards."""
    machine = await up_machine(dut)
    system = machine.system
    dev = Device(dut)
    info = {"rounds": 0}

    async def handler(td, line):
        k = td.k
        info["rounds"] += 1
        mark(td, f"handler{info['rounds']}")
        if info["rounds"] == 1:
            # Complete early with the device still asserting its line: it fires again at once.
            await k.intr_complete(source_of(line))
            await k.cpu.work(60)
        await device_take(td.k, line)
        await k.cpu.work(10)
        mark(td, f"handler-end{info['rounds']}")

    async def low(td, arg):
        k = td.k
        for rnd in (1, 2):
            mark(td, f"work-start{rnd}")
            dev.raise_after(LINE, 30)
            await k.cpu.work(200)
            mark(td, f"work-end{rnd}")
        system.finish()

    async def start(k):
        info["ithd"] = await k.register_ithread(LINE, handler, pri=TDPRI_INT_MED)
        info["low"] = await k.lwkt_create(low, comm="low", pri=TDPRI_KERN_USER)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    ithd, low_id = info["ithd"].td_id, info["low"].td_id
    preempts = [(r["tid"], r["target"], r["result"]) for r in system.trace.events("preempt")]
    assert preempts == [(low_id, ithd, "hit"), (ithd, ithd, "weird"), (low_id, ithd, "hit")], preempts
    assert _preempt_counts(system) == (2, 0, 1)
    recs = system.trace.sorted_records()
    weird = index_of(recs, "preempt", result="weird")
    assert index_of(recs, "mark", label="handler1") < weird < index_of(recs, "mark", label="handler-end1")
    # The second interrupt on the line was serviced like the first.
    assert marks(system) == [
        "work-start1",
        "handler1",
        "handler-end1",
        "work-end1",
        "work-start2",
        "handler2",
        "handler-end2",
        "work-end2",
    ], marks(system)


@cocotb.test()
async def signal_before_block_is_not_lost(dut):
    """A signal that lands between reading wa_gen and lwkt_block makes the block return at once."""
    machine = await up_machine(dut)
    system = machine.system
    dev = Device(dut)
    w = WaitQueue("race")
    info = {}

    async def handler(td, line):
        await device_take(td.k, line)
        await td.k.lwkt_signal(w)

    async def waiter(td, arg):
        k = td.k
        gen = w.wa_gen
        mark(td, "gen-read")
        dev.raise_after(LINE, 30)
        await k.cpu.work(150)  # the ithread signals w in here
        mark(td, "work-end")
        info["gen"] = await k.lwkt_block(w, "wait", gen)
        mark(td, "after-block")
        system.finish()

    async def start(k):
        info["ithd"] = await k.register_ithread(LINE, handler, pri=TDPRI_INT_MED)
        info["td"] = await k.lwkt_create(waiter, comm="waiter", pri=TDPRI_KERN_DAEMON)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    td = info["td"].td_id
    recs = system.trace.sorted_records()
    signal = index_of(recs, "signal", wait="race")
    assert recs[signal]["woken"] == [] and recs[signal]["gen"] == 1
    assert index_of(recs, "mark", label="gen-read") < signal < index_of(recs, "mark", label="work-end")
    skipped = index_of(recs, "block_skipped", wait="race", tid=td)
    assert recs[skipped]["gen"] == 0 and recs[skipped]["wa_gen"] == 1
    assert system.trace.events("block") == [], "the thread slept through a signal it had already got"
    assert info["gen"] == 1
    # The thread never left the CPU between its work and the return from lwkt_block.
    end, after = index_of(recs, "mark", label="work-end"), index_of(recs, "mark", label="after-block")
    assert between(recs, end, after, "switch") == []
    # Only lwkt_block's own path in between (token, generation test, release: ~80 cycles of kernel code).
    assert recs[after]["cycle"] - recs[end]["cycle"] <= KERNEL_PATH_CYCLES


@cocotb.test()
async def block_sleeps_until_signal(dut):
    """The normal case: lwkt_block sleeps (the CPU idles) and the ithread's signal wakes it."""
    machine = await up_machine(dut)
    system = machine.system
    dev = Device(dut)
    w = WaitQueue("sleep")
    info = {}

    async def handler(td, line):
        waiter = info["td"]
        info["waiter_state"] = (bool(waiter.td_flags & TDF.RUNQ), waiter.td_wait is w, waiter.td_wmesg)
        await device_take(td.k, line)
        await td.k.lwkt_signal(w)

    async def waiter(td, arg):
        k = td.k
        gen = w.wa_gen
        dev.raise_after(LINE, 100)
        info["gen"] = await k.lwkt_block(w, "wait", gen)
        mark(td, "woken")
        system.finish()

    async def start(k):
        info["ithd"] = await k.register_ithread(LINE, handler, pri=TDPRI_INT_MED)
        info["td"] = await k.lwkt_create(waiter, comm="waiter", pri=TDPRI_KERN_DAEMON)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    td, ithd = info["td"].td_id, info["ithd"].td_id
    idle = system.kernels[0].gd_idletd.td_id
    recs = system.trace.sorted_records()
    block = index_of(recs, "block", wait="sleep", wmesg="wait", tid=td)
    signal = index_of(recs, "signal", wait="sleep", tid=ithd)
    woken = index_of(recs, "mark", label="woken", tid=td)
    assert recs[signal]["woken"] == [td] and recs[signal]["gen"] == 1
    assert block < signal < woken
    assert system.trace.events("block_skipped") == []
    # While blocked it was off the run queue and on the wait queue; the CPU idled.
    assert info["waiter_state"] == (False, True, "wait")
    assert [(s["tid"], s["to"]) for s in between(recs, block, signal, "switch")] == [(td, idle), (idle, ithd)]
    assert recs[signal]["cycle"] - recs[block]["cycle"] >= 90
    assert [(s["tid"], s["to"]) for s in between(recs, signal, woken, "switch")][-1] == (idle, td)
    assert info["gen"] == 1
    assert _preempt_counts(system) == (1, 0, 0)  # the ithread preempted the idle thread


@cocotb.test()
@cocotb.parametrize(untimely=[0, 1], trigger=["direct", "deferred_interrupt"])
async def untimely_switch(dut, untimely, trigger):
    """With lwkt.untimely_switch=1, lwkt_yield_quick switches to an equal-priority runnable thread
    (after a deferred interrupt, or called directly); with 0 it does not."""
    machine = await up_machine(dut, untimely_switch=untimely)
    system = machine.system
    dev = Device(dut)
    info = {}
    done = []

    def finished(td):
        done.append(td.td_comm)
        if len(done) == 2:
            system.finish()

    async def handler(td, line):
        mark(td, "handler")
        await device_take(td.k, line)
        await td.k.cpu.work(10)

    async def a_body(td, arg):
        k = td.k
        mark(td, "A-before")
        if trigger == "direct":
            await k.lwkt_yield_quick()
        else:
            k.crit_enter()
            dev.raise_after(LINE, 20)
            await k.cpu.work(80)
            await k.crit_exit()  # runs the deferred interrupt, then lwkt_yield_quick goes on
        mark(td, "A-after")
        finished(td)

    async def b_body(td, arg):
        mark(td, "B-runs")
        finished(td)

    async def start(k):
        info["ithd"] = await k.register_ithread(LINE, handler, pri=TDPRI_INT_MED)
        info["A"] = await k.lwkt_create(a_body, comm="A", pri=TDPRI_KERN_DAEMON)
        info["B"] = await k.lwkt_create(b_body, comm="B", pri=TDPRI_KERN_DAEMON)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    assert system.sysctl("lwkt.untimely_switch") == untimely
    a, b = info["A"].td_id, info["B"].td_id
    recs = system.trace.sorted_records()
    expected = ["A-before"] + (["handler"] if trigger != "direct" else [])
    if untimely:
        us = index_of(recs, "untimely_switch", tid=a)
        # The next thing that happens is the switch (after lwkt_switch's own pick record).
        nxt = next(r for r in recs[us + 1 :] if r["event"] not in ("pick", "enqueue", "dequeue"))
        assert nxt["event"] == "switch" and (nxt["tid"], nxt["to"]) == (a, b), recs[us : us + 4]
        assert marks(system) == expected + ["B-runs", "A-after"], marks(system)
        if trigger != "direct":
            assert index_of(recs, "resume", tid=a) < us
    else:
        assert system.trace.events("untimely_switch") == []
        assert marks(system) == expected + ["A-after", "B-runs"], marks(system)
        before, after = index_of(recs, "mark", label="A-before"), index_of(recs, "mark", label="A-after")
        assert [s["to"] for s in between(recs, before, after, "switch")] == (
            [] if trigger == "direct" else [info["ithd"].td_id, a]
        )


@cocotb.test()
async def hardclock_keeps_its_period_past_2_to_the_32_cycles(dut):
    """setup_interrupts puts the first COMPARE one period after the 64-bit cycle count (CYCLE_LO, then
    the CYCLE_HI it latched), so the hardclock ticks once a period however long the machine has been
    up: with the SoC's cycle counter moved past 2^32 before boot (a high word of 3, as after about
    two minutes at 100 MHz), the first tick comes one period after boot and the next ones a period
    apart, and COMPARE keeps the counter's high word."""
    period, ticks_wanted = 1000, 4
    preset = 3 << 32 | 0x100  # far from a carry into the high word during the test
    machine = await up_machine(dut, hardclock_period=period)
    system = machine.system
    machine.bench.probe("cycle").value = preset
    await ClockCycles(dut.clk, 1)
    info = {}

    async def watcher(td, arg):
        k = td.k
        while k.hardclock_ticks < ticks_wanted and k.cycle - info["boot"] < (ticks_wanted + 2) * period:
            await k.cpu.work(50)
        system.finish()

    async def start(k):
        info["boot"] = k.cycle  # setup_interrupts has run: the timer is armed
        await k.lwkt_create(watcher, comm="watcher", pri=TDPRI_KERN_USER)

    machine.start({0: start})
    outcome = await machine.run(MAX_CYCLES)
    ticks = [r["cycle"] for r in system.trace.events("hardclock")]
    assert outcome == "done", f"{outcome} ({system.panic}) after {len(ticks)} ticks, one per {period} cycles wanted"
    compare = int(machine.bench.probe("cpu0.timer.compare").value)
    assert ticks and period - KERNEL_PATH_CYCLES <= ticks[0] - info["boot"] <= period + KERNEL_PATH_CYCLES, (
        info["boot"],
        ticks[:8],
    )
    gaps = [b - a for a, b in pairwise(ticks)]
    assert len(ticks) == ticks_wanted and all(abs(g - period) <= KERNEL_PATH_CYCLES for g in gaps), gaps[:8]
    assert compare >> 32 == preset >> 32, hex(compare)


@cocotb.test()
@cocotb.parametrize(hardclock=[0, 1_000])
async def boot_enables_only_the_sources_it_serves(dut, hardclock):
    """setup_interrupts enables the soft interrupt, and the timer when the run has a hardclock;
    never the IPI source, which the UP build has no handler for."""
    machine = await up_machine(dut, hardclock_period=hardclock)
    seen = {}

    async def reader(td, arg):
        seen["enable"] = await td.k.cpu.read(mm.INTC.ENABLE)
        machine.system.finish()

    async def start(k):
        await k.lwkt_create(reader, comm="reader", pri=TDPRI_KERN_DAEMON)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", machine.system.panic
    expected = 1 << mm.SOURCE_SOFT | (1 << mm.SOURCE_TIMER if hardclock else 0)
    assert seen["enable"] == expected, (hex(seen["enable"]), hex(expected))


@cocotb.test()
async def yield_quick_inside_a_section_runs_the_pended_interrupt(dut):
    """The seed's lwkt_yield_quick masks the critical-section part away ("if called directly will run
    splz() even if in a critical section"): a deferred interrupt is taken there, inside the section.
    v1.12's lwkt_preempt then asserts its caller was in no section of its own (BADPRI): the run stops."""
    machine = await up_machine(dut)
    system = machine.system
    dev = Device(dut)
    info = {}

    async def handler(td, line):
        mark(td, "handler")
        await device_take(td.k, line)

    async def crit_thread(td, arg):
        k = td.k
        k.crit_enter()
        dev.raise_after(LINE, 20)
        await k.cpu.work(100)
        info["pended"] = k.gd_reqpri
        mark(td, "yield-quick")
        await k.lwkt_yield_quick()
        mark(td, "still-in-section")
        await k.crit_exit()
        system.finish()

    async def start(k):
        await k.register_ithread(LINE, handler, pri=TDPRI_INT_MED)
        info["crit"] = await k.lwkt_create(crit_thread, comm="crit", pri=TDPRI_KERN_DAEMON)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "panic", system.outcome
    recs = system.trace.sorted_records()
    deferred = index_of(recs, "intr_deferred")
    taken = index_of(recs, "interrupt", source=SOURCE)
    assert deferred < index_of(recs, "mark", label="yield-quick") < taken, recs[taken]
    assert recs[taken]["in"] == "splz" and recs[taken]["crit"] == 1, recs[taken]
    assert info["pended"] > 0 and marks(system) == ["yield-quick"], marks(system)
    # The thread's own section and the one the interrupt path holds: two, where v1.12 allows one.
    panic = system.panic
    assert panic.message == f"BADPRI {2 * TDPRI_CRIT + TDPRI_KERN_DAEMON}", panic.message
    assert (panic.thread, panic.tid) == ("crit", info["crit"].td_id)


@cocotb.test()
async def an_overrun_request_is_acknowledged_with_its_overrun(dut):
    """A second request posted while the first is pending overruns (STATUS.OVERRUN, the first DATA
    kept): the driver acknowledges the request and the overrun together, so the device is clear."""
    machine = await up_machine(dut)
    system = machine.system
    dev = Device(dut)
    info = {}
    status = mm.DEVICE.addr("STATUS", index=LINE)

    async def handler(td, line):
        info["status_in_handler"] = await td.k.cpu.read(status)
        info["data"] = await device_take(td.k, line)
        info["status_after"] = await td.k.cpu.read(status)

    async def crit_thread(td, arg):
        k = td.k
        k.crit_enter()
        dev.raise_after(LINE, 20)
        dev.raise_after(LINE, 60)  # while the first is pending
        await k.cpu.work(150)
        await k.crit_exit()
        mark(td, "served")
        system.finish()

    async def start(k):
        info["ithd"] = await k.register_ithread(LINE, handler, pri=TDPRI_INT_MED)
        await k.lwkt_create(crit_thread, comm="crit", pri=TDPRI_KERN_DAEMON)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    # An interrupt thread registered without a name is named after its line, in the trace too.
    ithd = info["ithd"]
    assert ithd.td_comm == f"ithread{LINE}"
    assert {r["to_thread"] for r in system.trace.events("switch", to=ithd.td_id)} == {f"ithread{LINE}"}
    request, overrun = 1, 2  # STATUS bits (hdl/memory_map.py)
    assert info["status_in_handler"] == request | overrun, info
    assert info["data"] == dev.raised_at[LINE][0] & 0xFFFF_FFFF  # the overrun's data word is dropped
    assert info["status_after"] == 0, info
    assert dev.posted == {LINE: 2} and dev.serviced == {LINE: 1}
    # The sysctl table names only the kernel's own counters, under lwkt.
    assert system.sysctl("lwkt.switch_count") == sum(k.counters["switch_count"] for k in system.kernels)
    for bad in ("lwkt.no_such_counter", "vm.switch_count"):
        try:
            system.sysctl(bad)
        except KeyError as exc:
            assert "unknown sysctl" in str(exc), exc
        else:
            raise AssertionError(f"sysctl {bad} answered")


@cocotb.test()
async def a_stray_interrupt_panics(dut):
    """An external line enabled with no interrupt thread behind it (here enabled by hand): the kernel
    cannot serve it and says so."""
    machine = await up_machine(dut)
    system = machine.system
    dev = Device(dut)

    async def enabler(td, arg):
        k = td.k
        source = source_of(LINE)
        await k.cpu.write(mm.INTC.addr("PRIO", index=source), 2)
        await k.cpu.write(mm.INTC.ENABLE, await k.cpu.read(mm.INTC.ENABLE) | 1 << source)
        dev.raise_after(LINE, 10)
        await k.cpu.work(200)
        mark(td, "survived")

    async def start(k):
        await k.lwkt_create(enabler, comm="enabler", pri=TDPRI_KERN_USER)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "panic", system.outcome
    assert system.panic.message == f"stray interrupt: external line {LINE} has no interrupt thread", system.panic
    assert "survived" not in marks(system)
