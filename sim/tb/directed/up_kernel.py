"""cocotb tests of the uniprocessor LWKT kernel (seed v1.12) on a 1-CPU SoC: scheduling order,
the free-thread cache, panics, and a reference workload whose trace must not depend on the simulator.

The interrupt side (critical sections, preemption, preempt_* counters, signals from
interrupt threads, untimely_switch) is in up_intr.py.
"""

from pathlib import Path

import cocotb

from firmware.device import device_take
from firmware.thread import (
    CACHE_NTHREADS,
    TDF,
    TDPRI_INT_LOW,
    TDPRI_INT_MED,
    TDPRI_KERN_DAEMON,
    TDPRI_KERN_USER,
    TDPRI_SOFT_NORM,
    Thread,
    WaitQueue,
)
from firmware import thread
from hdl import memory_map as mm
from sim.tb.directed.kernel_helpers import Device, mark, marks, up_machine
from sim.contract.config import RunConfig

MAX_CYCLES = 20_000  # the kernel's own execution (the default cost model) takes cycles too
#: Cycles to let the kernel finish what it was doing when a thread ended the run.
SETTLE_CYCLES = 500
#: Bound on a short kernel path (here: from a call to the panic it raises) under the default cost
#: model: a few hundred instructions at one per cycle, plus their bus accesses.
KERNEL_PATH_CYCLES = 400


@cocotb.test()
async def strict_priority_and_round_robin(dut):
    machine = await up_machine(dut)
    system = machine.system
    order = []
    tds = {}

    async def worker(td, arg):
        k = td.k
        for i in range(3):
            order.append((td.td_comm, i))
            await k.cpu.work(10)
            await k.lwkt_yield()

    async def start(k):
        for name, pri in (("lo", TDPRI_KERN_USER), ("hiA", TDPRI_KERN_DAEMON), ("hiB", TDPRI_KERN_DAEMON)):
            tds[name] = await k.lwkt_create(worker, None, comm=name, pri=pri)

    async def finisher(td, arg):
        system.finish()

    async def start_all(k):
        await start(k)
        tds["end"] = await k.lwkt_create(finisher, None, comm="end", pri=1)

    machine.start({0: start_all})
    outcome = await machine.run(MAX_CYCLES)
    # "end" finished the run from its body; let it exit (its lwkt_exit takes kernel cycles).
    await machine.run_on(SETTLE_CYCLES)
    dut._log.info("order %s", order)
    assert outcome == "done", system.panic
    assert order == [
        ("hiA", 0),
        ("hiB", 0),
        ("hiA", 1),
        ("hiB", 1),
        ("hiA", 2),
        ("hiB", 2),
        ("lo", 0),
        ("lo", 1),
        ("lo", 2),
    ]
    # The same story in the switch records: alternate at priority 12 (a yield hands the CPU to
    # the other thread of that priority), then "lo" (alone at 10: its yields switch nothing),
    # then "end" at 1 once nobody else is runnable, and the idle thread when "end" exits.
    switches = [(r["thread"], r["to_thread"]) for r in system.trace.events("switch")]
    assert switches == [
        ("idle0", "hiA"),
        ("hiA", "hiB"),
        ("hiB", "hiA"),
        ("hiA", "hiB"),
        ("hiB", "hiA"),
        ("hiA", "hiB"),
        ("hiB", "hiA"),
        ("hiA", "hiB"),
        ("hiB", "lo"),
        ("lo", "end"),
        ("end", "idle0"),
    ], switches
    assert [r["tid"] for r in system.trace.events("thread_exit")][:3] == [
        tds["hiA"].td_id,
        tds["hiB"].td_id,
        tds["lo"].td_id,
    ]
    assert system.sysctl("lwkt.switch_count") >= len(switches)
    dut._log.info("counters %s", system.counters()["total"])


@cocotb.test()
async def priority_beats_arrival_order(dut):
    """A thread woken at a higher priority runs before the lower-priority threads queued before it,
    but only when the running thread gives up the CPU (LWKT threads do not preempt each other)."""
    machine = await up_machine(dut)
    system = machine.system
    w = WaitQueue("go")
    tds = {}

    async def sleeper(td, arg):
        await td.k.lwkt_block(w, "go", w.wa_gen)
        mark(td, "sleeper")

    async def plain(td, arg):
        mark(td, td.td_comm)

    async def waker(td, arg):
        k = td.k
        mark(td, "waker-signals")
        await k.lwkt_signal(w)  # sleeper (priority 15) is now runnable
        await k.cpu.work(20)
        mark(td, "waker-still-running")
        await k.lwkt_yield()
        mark(td, "waker-back")
        system.finish()

    async def start(k):
        tds["sleeper"] = await k.lwkt_create(sleeper, comm="sleeper", pri=TDPRI_SOFT_NORM)
        tds["waker"] = await k.lwkt_create(waker, comm="waker", pri=TDPRI_KERN_DAEMON)
        tds["p1"] = await k.lwkt_create(plain, comm="p1", pri=TDPRI_KERN_DAEMON)
        tds["p2"] = await k.kthread_create(plain, comm="p2", pri=TDPRI_KERN_DAEMON)  # scheduled, no flags

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    # waker yields: the woken sleeper (15) first, then round-robin at 12: p1, p2, then waker again.
    assert marks(system) == ["waker-signals", "waker-still-running", "sleeper", "p1", "p2", "waker-back"], marks(system)
    sig = system.trace.events("signal", wait="go")
    assert len(sig) == 1 and sig[0]["woken"] == [tds["sleeper"].td_id]


@cocotb.test()
async def schedule_takes_a_blocked_thread_off_its_wait_queue(dut):
    """lwkt_schedule of a thread blocked on a wait queue takes it off the queue (TAILQ_REMOVE,
    --wa_count): a later signal wakes only the threads still blocked, each once."""
    machine = await up_machine(dut)
    system = machine.system
    w = system.new_waitqueue("wq")
    tds = {}

    async def sleeper(td, arg):
        await td.k.lwkt_block(w, "wq", w.wa_gen)
        mark(td, f"{td.td_comm}-woken")

    async def actor(td, arg):
        k = td.k
        await k.lwkt_schedule(tds["a"])  # a was blocked first: the queue holds b after it
        await k.lwkt_yield()  # a (higher priority) runs now; b stays blocked
        mark(td, "signal")
        await k.lwkt_signal(w)
        await k.lwkt_yield()
        tds["c"] = await k.lwkt_create(sleeper, comm="c", pri=TDPRI_SOFT_NORM)
        await k.lwkt_yield()  # c blocks on the emptied queue, whose token was released since
        mark(td, "schedule-again")
        await k.lwkt_schedule(tds["c"])
        await k.lwkt_yield()
        await k.lwkt_signal(w)  # nobody left to wake
        system.finish()

    async def start(k):
        tds["a"] = await k.lwkt_create(sleeper, comm="a", pri=TDPRI_SOFT_NORM)
        tds["b"] = await k.lwkt_create(sleeper, comm="b", pri=TDPRI_SOFT_NORM)
        await k.lwkt_create(actor, comm="actor", pri=TDPRI_KERN_DAEMON)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    assert marks(system) == ["a-woken", "signal", "b-woken", "schedule-again", "c-woken"], marks(system)
    a, b, c = (tds[n].td_id for n in "abc")
    unwaits = [(r["target"], r["by"], r["count"], r["queued"]) for r in system.trace.events("unwait")]
    assert unwaits == [(a, "schedule", 1, [b]), (b, "signal", 0, []), (c, "schedule", 0, [])], unwaits
    assert [r["woken"] for r in system.trace.events("signal", wait="wq")] == [[b], []]
    assert (w.wa_count, w.wa_waitq, w.wa_gen) == (0, [], 2)


@cocotb.test()
async def exited_threads_are_reused(dut):
    """lwkt_exit puts the thread on the per-CPU free cache; lwkt_create takes it from there."""
    machine = await up_machine(dut)
    system = machine.system
    info = {}

    async def short(td, arg):
        mark(td, f"{td.td_comm}-runs")
        await td.k.cpu.work(10)
        # returning ends in kthread_exit -> lwkt_exit

    async def creator(td, arg):
        k = td.k
        a = info["A"]
        info["cache_before"] = (
            k.gd_tdfreecount,
            list(k.gd_tdfreeq),
            [bool(t.td_flags & TDF.EXITED) for t in k.gd_tdfreeq],
        )
        info["gen_a"] = a.td_generation
        info["stack_a"] = a.td_kstack
        allocated = k.threads_allocated
        info["C"] = await k.lwkt_create(short, comm="C", pri=TDPRI_KERN_DAEMON)
        info["D"] = await k.lwkt_create(short, comm="D", pri=TDPRI_KERN_DAEMON)
        info["E"] = await k.lwkt_create(short, comm="E", pri=TDPRI_KERN_DAEMON)
        info["new_structures"] = k.threads_allocated - allocated
        info["cache_after_create"] = k.gd_tdfreecount
        mark(td, "created")
        await k.lwkt_yield()  # C, D, E run and exit
        info["cache_end"] = (k.gd_tdfreecount, [t.td_id for t in k.gd_tdfreeq])
        system.finish()

    async def start(k):
        info["A"] = await k.lwkt_create(short, comm="A", pri=TDPRI_KERN_DAEMON)
        info["B"] = await k.lwkt_create(short, comm="B", pri=TDPRI_KERN_DAEMON)
        info["creator"] = await k.lwkt_create(creator, comm="creator", pri=TDPRI_KERN_USER)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    a_id, b_id = info["A"].td_id, info["B"].td_id
    assert [r["tid"] for r in system.trace.events("thread_exit")][:2] == [a_id, b_id]
    count, cached, exited = info["cache_before"]
    assert count == 2 and cached == [info["A"], info["B"]] and exited == [True, True]
    # The next creations take the cached structures, oldest first; the third needs a new one.
    reuse = system.trace.events("thread_reuse")
    assert [(r["target"], r["thread"]) for r in reuse] == [(a_id, "creator"), (b_id, "creator")]
    assert info["C"] is info["A"] and info["C"].td_id == a_id
    assert info["D"] is info["B"] and info["D"].td_id == b_id
    assert info["E"].td_id not in (a_id, b_id)
    assert info["new_structures"] == 1 and info["cache_after_create"] == 0
    assert info["C"].td_generation == info["gen_a"] + 1
    # A cached structure keeps its stack (the cache's point: no kmem_alloc), and its flags say the
    # stack came from the allocator.
    assert info["stack_a"] is not None and info["C"].td_kstack is info["stack_a"]
    assert info["C"].td_flags & TDF.ALLOCATED_STACK
    created = system.trace.events("thread_create", name="C")
    assert len(created) == 1 and created[0]["target"] == a_id
    # The reused structures run their new bodies under their new names.
    c_runs = system.trace.events("mark", label="C-runs")
    assert len(c_runs) == 1 and c_runs[0]["tid"] == a_id and c_runs[0]["thread"] == "C"
    assert marks(system) == ["A-runs", "B-runs", "created", "C-runs", "D-runs", "E-runs"]
    assert info["cache_end"] == (3, [a_id, b_id, info["E"].td_id])
    assert system.counters()["total"]["threads_freed"] == 0
    # Every structure the allocator made is counted once: the idle thread's and each id created.
    made = {system.kernels[0].gd_idletd.td_id} | {r["target"] for r in system.trace.events("thread_create")}
    assert system.counters()["total"]["threads_allocated"] == len(made) == 5, made


@cocotb.test()
async def free_thread_cache_holds_six(dut):
    """lwkt_free_thread caches up to CACHE_NTHREADS exited allocator-owned threads and frees the rest;
    lwkt_alloc_thread hands cached ones back, most recently freed first."""
    assert CACHE_NTHREADS == 6
    machine = await up_machine(dut)
    system = machine.system
    info = {}

    async def body(td, arg):
        k = td.k
        # A structure that is not the allocator's (a template) is never cached, even with room.
        template = Thread(system.next_tid())
        static = await k.lwkt_alloc_thread(template)
        info["static_flags"] = static.td_flags
        static.td_flags |= TDF.EXITED
        await k.lwkt_free_thread(static)
        info["count_after_static"] = k.gd_tdfreecount
        info["static_id"] = static.td_id
        allocated0 = k.threads_allocated
        tds = [await k.lwkt_alloc_thread() for _ in range(CACHE_NTHREADS + 2)]
        info["fresh"] = k.threads_allocated - allocated0
        info["flags"] = [t.td_flags & (TDF.ALLOCATED_THREAD | TDF.ALLOCATED_STACK) for t in tds]
        info["ids"] = [t.td_id for t in tds]
        for t in tds:
            t.td_flags |= TDF.EXITED  # as lwkt_exit leaves them
            await k.lwkt_free_thread(t)
        info["count_after_free"] = k.gd_tdfreecount
        info["freed_after_free"] = k.threads_freed
        info["freed_gd"] = [t.td_gd for t in tds[CACHE_NTHREADS:]]
        # Allocate again: six reuses, then a new structure.
        allocated1 = k.threads_allocated
        again = [await k.lwkt_alloc_thread() for _ in range(CACHE_NTHREADS + 1)]
        info["again_ids"] = [t.td_id for t in again]
        info["again_fresh"] = k.threads_allocated - allocated1
        info["again_exited"] = [bool(t.td_flags & TDF.EXITED) for t in again]
        info["cache_end"] = k.gd_tdfreecount
        system.finish()

    async def start(k):
        info["td"] = await k.lwkt_create(body, comm="alloc", pri=TDPRI_KERN_DAEMON)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    ids = info["ids"]
    assert info["fresh"] == CACHE_NTHREADS + 2 and len(set(ids)) == len(ids)
    assert info["flags"] == [TDF.ALLOCATED_THREAD | TDF.ALLOCATED_STACK] * len(ids)
    cached = [r["target"] for r in system.trace.events("thread_cache")]
    freed = [r["target"] for r in system.trace.events("thread_free")]
    assert cached == ids[:CACHE_NTHREADS] and freed == ids[CACHE_NTHREADS:], (cached, freed)
    assert info["count_after_free"] == CACHE_NTHREADS and info["freed_after_free"] == 2
    assert info["freed_gd"] == [None, None]
    assert not info["static_flags"] & TDF.ALLOCATED_THREAD and info["static_flags"] & TDF.ALLOCATED_STACK
    assert info["count_after_static"] == 0
    assert info["static_id"] not in cached + freed
    # LIFO: the last structure cached is the first handed out again.
    reuse = [r["target"] for r in system.trace.events("thread_reuse")]
    assert reuse == list(reversed(ids[:CACHE_NTHREADS])), reuse
    assert info["again_ids"][:CACHE_NTHREADS] == reuse
    assert info["again_ids"][CACHE_NTHREADS] not in ids and info["again_fresh"] == 1
    assert info["again_exited"] == [False] * (CACHE_NTHREADS + 1)  # lwkt_init_thread cleared them
    assert info["cache_end"] == 0 and system.counters()["total"]["threads_freed"] == 2


@cocotb.test()
async def crit_underflow_panics(dut):
    """One crit_exit too many panics: run outcome "panic", naming the CPU, thread and cycle."""
    machine = await up_machine(dut)
    system = machine.system
    info = {}

    async def bad(td, arg):
        k = td.k
        k.crit_enter()
        k.crit_enter()
        await k.crit_exit()
        await k.crit_exit()
        mark(td, "balanced")
        await k.cpu.work(15)
        info["cycle"] = k.cycle
        await k.crit_exit()  # one too many
        mark(td, "after-underflow")

    async def bystander(td, arg):
        mark(td, "bystander")

    async def start(k):
        info["bad"] = await k.lwkt_create(bad, comm="bad", pri=TDPRI_KERN_DAEMON)
        await k.lwkt_create(bystander, comm="bystander", pri=TDPRI_KERN_USER)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "panic"
    panic = system.panic
    assert "td_pri is/would-go negative" in panic.message, panic.message
    assert (panic.cpu, panic.thread, panic.tid, panic.cycle) == (0, "bad", info["bad"].td_id, info["cycle"])
    assert f"cycle {info['cycle']}" in str(panic) and "cpu 0" in str(panic) and "'bad'" in str(panic)
    recs = system.trace.events("panic")
    assert len(recs) == 1 and recs[0]["message"] == panic.message and recs[0]["cycle"] == info["cycle"]
    # Nothing ran after the panic.
    assert marks(system) == ["balanced"]


async def _cross_cpu(dut, op: str) -> tuple:
    """Run one cross-CPU operation in the UP build; returns (system, the actor's id, cycle of the call)."""
    machine = await up_machine(dut)
    system = machine.system
    w = WaitQueue("wq")
    info = {}

    async def waiter(td, arg):
        await td.k.lwkt_block(w, "wq", w.wa_gen)
        mark(td, "waiter-woken")

    async def actor(td, arg):
        k = td.k
        target = info.get("waiter") or info["stopped"]
        info["waiting"] = target.td_wait is w
        if op == "free_live":
            target = await k.lwkt_alloc_thread()
        elif op == "schedule_foreign_token":
            w.wa_token.t_cpu = 1  # the wait queue's token belongs to CPU 1
        else:
            target.td_cpu = 1  # the thread belongs to CPU 1
        info["cycle"] = k.cycle
        if op in ("schedule", "schedule_waiter", "schedule_foreign_token"):
            await k.lwkt_schedule(target)
        elif op == "deschedule":
            await k.lwkt_deschedule(target)
        elif op == "signal":
            await k.lwkt_signal(w)
        elif op == "free_live":
            await k.lwkt_free_thread(target)
        mark(td, "survived")
        system.finish()

    async def start(k):
        if op in ("schedule_waiter", "schedule_foreign_token", "signal"):
            info["waiter"] = await k.lwkt_create(waiter, comm="waiter", pri=TDPRI_KERN_DAEMON)
        else:
            info["stopped"] = await k.lwkt_create(waiter, comm="stopped", tdflags=TDF.STOPREQ, pri=TDPRI_KERN_DAEMON)
        info["actor"] = await k.lwkt_create(actor, comm="actor", pri=TDPRI_KERN_USER)

    machine.start({0: start})
    outcome = await machine.run(MAX_CYCLES)
    assert outcome == "panic", f"{op}: outcome {outcome}, marks {marks(system)}"
    if op in ("schedule_waiter", "schedule_foreign_token", "signal"):
        assert info["waiting"], "the target was not blocked on the wait queue"
    return system, info["actor"].td_id, info["cycle"]


@cocotb.test()
@cocotb.parametrize(
    case=[
        ("schedule", "lwkt_schedule: cpu mismatch3"),
        ("schedule_waiter", "lwkt_schedule: cpu mismatch1"),
        ("schedule_foreign_token", "lwkt_schedule: cpu mismatch2"),
        ("deschedule", "lwkt_deschedule: cpu mismatch"),
        ("signal", "lwkt_signal: cpu mismatch"),
        ("free_live", "lwkt_free_thread: did not exit!"),
    ]
)
async def cross_cpu_operations_panic(dut, case):
    """In the UP build, touching a thread or wait queue of another CPU panics with the seed's
    message (and so does freeing a thread that did not exit)."""
    op, message = case
    system, actor, cycle = await _cross_cpu(dut, op)
    panic = system.panic
    assert panic.message.startswith(message), (op, panic.message)
    # The panic comes from inside the call, after the kernel code that leads to it.
    assert (panic.cpu, panic.thread, panic.tid) == (0, "actor", actor)
    assert cycle <= panic.cycle <= cycle + KERNEL_PATH_CYCLES, (panic.cycle, cycle)
    assert "survived" not in marks(system) and "waiter-woken" not in marks(system)


@cocotb.test()
async def reference_workload(dut):
    """A mixed workload (hardclock, two interrupt lines, wait queues, preemption, round-robin, exit and
    reuse). Its trace goes to reference_trace.jsonl in the run folder, which the pytest wrapper compares
    across simulators."""
    machine = await up_machine(dut, hardclock_period=400)
    system = machine.system
    dev = Device(dut)
    ticks = WaitQueue("tick")
    data = WaitQueue("data")
    info = {"ticks_seen": 0, "data_seen": 0, "data_posted": 0}
    done = []

    def finished(td):
        done.append(td.td_comm)
        if len(done) == 5:
            system.finish()

    async def on_tick(k):
        await k.lwkt_signal(ticks)

    system.hardclock_hooks.append(on_tick)

    async def dev_handler(td, line):
        k = td.k
        await device_take(td.k, line)
        await k.cpu.work(15 + 10 * line)
        info["data_posted"] += 1
        await k.lwkt_signal(data)

    async def ticker(td, arg):
        k = td.k
        gen = ticks.wa_gen
        for _ in range(3):
            gen = await k.lwkt_block(ticks, "tick", gen)
            info["ticks_seen"] += 1
            await k.cpu.work(20)

    async def consumer(td, arg):
        # Counts what the handler posted, not wake-ups: a signal before it blocks finds nobody.
        k = td.k
        gen = data.wa_gen
        while info["data_seen"] < 3:
            if info["data_seen"] == info["data_posted"]:
                gen = await k.lwkt_block(data, "data", gen)
                continue
            info["data_seen"] += 1
            k.crit_enter()
            await k.cpu.work(40)
            await k.crit_exit()

    async def worker(td, arg):
        k = td.k
        for _ in range(4):
            await k.cpu.work(60)
            await k.lwkt_yield()

    async def child(td, arg):
        await td.k.cpu.work(5)

    async def spawner(td, arg):
        k = td.k
        for i in range(3):
            await k.lwkt_create(child, i, comm=f"child{i}", pri=TDPRI_KERN_DAEMON)
            await k.cpu.work(30)
            await k.lwkt_yield()

    def wrap(body):
        async def run(td, arg):
            await body(td, arg)
            finished(td)

        return run

    async def start(k):
        await k.register_ithread(0, dev_handler, pri=TDPRI_INT_MED)
        await k.register_ithread(1, dev_handler, pri=TDPRI_INT_LOW)
        await k.lwkt_create(wrap(ticker), comm="ticker", pri=TDPRI_SOFT_NORM)
        await k.lwkt_create(wrap(consumer), comm="consumer", pri=TDPRI_KERN_DAEMON)
        await k.lwkt_create(wrap(worker), comm="workerA", pri=TDPRI_KERN_USER)
        await k.lwkt_create(wrap(worker), comm="workerB", pri=TDPRI_KERN_USER)
        await k.lwkt_create(wrap(spawner), comm="spawner", pri=TDPRI_KERN_USER)
        # Line 0 asks twice, the second time once the first was serviced (a level line raised again
        # while still high would merge the two); line 1 asks when no other handler runs, so each of
        # the three requests preempts a thread. (The kernel's own cycles make boot ~400 cycles long.)
        cocotb.start_soon(dev.request_after(0, [150, 1200]))
        dev.raise_after(1, 2500)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    system.trace.write_jsonl(Path(RunConfig.from_environment().out) / "reference_trace.jsonl")
    c = system.sysctl
    dut._log.info("reference workload: %d records, counters %s", len(system.trace.records), system.counters()["total"])
    assert info["ticks_seen"] == 3 and info["data_seen"] == 3
    assert sorted(done) == ["consumer", "spawner", "ticker", "workerA", "workerB"]
    for kind in (
        "hardclock",
        "interrupt",
        "preempt",
        "resume",
        "block",
        "signal",
        "thread_reuse",
        "thread_exit",
        "yield",
    ):
        assert system.trace.events(kind), f"the reference workload has no {kind} event"
    assert c("lwkt.preempt_hit") >= 3
    # The children reuse the structures of exited threads once some have exited.
    assert len(system.trace.events("thread_create")) == 2 + 5 + 3


@cocotb.test()
async def setpri_and_deschedule_of_threads_that_are_not_running(dut):
    """lwkt_setpri of a blocked thread (on no run queue) changes only its priority: it runs at the new
    one once signalled. lwkt_deschedule of a runnable thread takes it off its queue: it runs only once
    lwkt_schedule puts it back. A soft interrupt raised by a thread is taken, lowered and completed."""
    machine = await up_machine(dut)
    system = machine.system
    w = WaitQueue("w")
    info = {}

    async def sleeper(td, arg):
        mark(td, "sleeper-blocks")
        await td.k.lwkt_block(w, "w", w.wa_gen)
        info["sleeper_pri"] = td.pri
        mark(td, "sleeper-woken")

    async def parked(td, arg):
        mark(td, "parked-runs")
        system.finish()

    async def boss(td, arg):
        k = td.k
        sleeper_td, parked_td = info["sleeper"], info["parked"]
        await k.lwkt_yield()  # the sleeper (same priority, queued behind) runs and blocks
        await k.lwkt_setpri(sleeper_td, TDPRI_SOFT_NORM)
        info["after_setpri"] = (sleeper_td.pri, bool(sleeper_td.td_flags & TDF.RUNQ))
        await k.lwkt_deschedule(parked_td)
        info["parked_queued"] = bool(parked_td.td_flags & TDF.RUNQ)
        await k.cpu.write(mm.INTC.SOFT_SET, 0)
        await k.cpu.work(20)
        info["soft_pending"] = await k.cpu.read(mm.INTC.PENDING) >> mm.SOURCE_SOFT & 1
        await k.lwkt_signal(w)
        mark(td, "signalled")
        await k.lwkt_yield()  # the sleeper, now above this thread, runs to its end
        info["parked_after"] = bool(parked_td.td_flags & TDF.RUNQ)
        mark(td, "schedules-parked")
        await k.lwkt_schedule(parked_td)

    async def start(k):
        info["parked"] = await k.lwkt_create(parked, comm="parked", pri=TDPRI_KERN_USER)
        info["boss"] = await k.lwkt_create(boss, comm="boss", pri=TDPRI_KERN_DAEMON)
        info["sleeper"] = await k.lwkt_create(sleeper, comm="sleeper", pri=TDPRI_KERN_DAEMON)

    machine.start({0: start})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    assert marks(system) == ["sleeper-blocks", "signalled", "sleeper-woken", "schedules-parked", "parked-runs"], marks(
        system
    )
    sleeper_id = info["sleeper"].td_id
    (setpri,) = system.trace.events("setpri", target=sleeper_id)
    assert (setpri["old"], setpri["pri"]) == (TDPRI_KERN_DAEMON, TDPRI_SOFT_NORM)
    assert info["after_setpri"] == (TDPRI_SOFT_NORM, False) and info["sleeper_pri"] == TDPRI_SOFT_NORM
    assert info["parked_queued"] is False and info["parked_after"] is False
    soft = system.trace.events("interrupt", source=mm.SOURCE_SOFT)
    assert len(soft) == 1 and soft[0]["thread"] == "boss" and info["soft_pending"] == 0, soft


@cocotb.test()
async def priorities_and_settings_are_the_seeds(dut):
    """The priority table of the seeds' sys/thread.h and the sysctl defaults, written out here: a kernel
    whose constants drift from them runs other schedules than the seeds'."""
    machine = await up_machine(dut)
    table = (
        thread.TDPRI_IDLE_THREAD,
        thread.TDPRI_USER_IDLE,
        thread.TDPRI_USER_NORM,
        thread.TDPRI_USER_REAL,
        thread.TDPRI_KERN_USER,
        thread.TDPRI_KERN_DAEMON,
        thread.TDPRI_SOFT_TIMER,
        thread.TDPRI_SOFT_NORM,
        thread.TDPRI_INT_SUPPORT,
        thread.TDPRI_INT_LOW,
        thread.TDPRI_INT_MED,
        thread.TDPRI_INT_HIGH,
        thread.TDPRI_MAX,
        thread.TDPRI_MASK,
        thread.TDPRI_CRIT,
    )
    assert table == (0, 4, 6, 8, 10, 12, 14, 15, 20, 27, 28, 29, 31, 31, 32), table
    assert machine.system.settings == {"lwkt.untimely_switch": 0, "lwkt.token_debug": 0, "debug.mplock_cli": 1}
