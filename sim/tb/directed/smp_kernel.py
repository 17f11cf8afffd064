"""cocotb tests of the SMP LWKT kernel (seed v1.18) on a 2-CPU SoC (one test needs 4 CPUs).

Remote scheduling through IPIs (a thread blocked on a wait queue through the CPU that owns the
queue's token), tokens in shared RAM, run-time checks and kernel assertions that stop a run,
lwkt_hold/rele/wait_free across CPUs, and a thread structure going round the free cache. The
MP lock, preemption, need_resched and lwkt_acquire are in smp_kernel_mp.py; the IPI-queue tests
with a 4-entry FIFO in smp_kernel_ipiq.py.

Thread bodies only record what they see (into ``info``) and put ``mark`` records on
the trace; the assertions run after the run, on the records, the counters and the
RTL probes sampled during the run.
"""

from __future__ import annotations

import inspect
from collections import Counter

import cocotb

from firmware.thread import TDF, TDPRI_KERN_DAEMON, TDPRI_KERN_USER, Token
from hdl import memory_map as mm
from sim.tb.directed.kernel_helpers import (
    KERNEL_PATH_CYCLES,
    MAX_CYCLES,
    NCPU,
    Done,
    after,
    blocked_on,
    final_checks_ok,
    index_of,
    indices,
    mark,
    marks,
    owner,
    peek_td,
    smp_machine,
    until,
)


# -- 1. remote wake-up of a blocked thread --------------------------------------------------------------


@cocotb.test(skip=NCPU != 2)
async def signal_wakes_blocked_thread_on_other_cpu(dut):
    """A thread of CPU 1 blocks on a wait queue whose token starts on CPU 0; a thread of CPU 0
    signals it: the token comes over by IPI, the wake-up goes to CPU 1 as an lwkt_schedule IPI,
    CPU 1 receives it and switches to the thread, whose lwkt_block returns a new generation."""
    machine = await smp_machine(dut)
    system = machine.system
    wq = system.new_waitqueue("wq")
    info = {}
    done = Done(system, 2)

    async def sleeper(td, arg):
        k = td.k
        info["token_owner_before"] = await k.tok_get(wq.wa_token, "t_cpu")
        info["gen0"] = gen = await k.waitq_gen(wq)
        info["gen1"] = await k.lwkt_block(wq, "wq", gen)
        mark(td, "sleeper-woken")
        info["wa_gen"] = await k.wq_get(wq, "wa_gen")
        done()

    async def waker(td, arg):
        k = td.k
        await until(k, lambda: blocked_on(system, wq), "the sleeper to block")
        mark(td, "signal-start")
        await k.lwkt_signal(wq)
        info["token_owner_after"] = await k.tok_get(wq.wa_token, "t_cpu")
        mark(td, "signal-end")
        done()

    async def boot0(k):
        info["waker"] = await k.lwkt_create(waker, comm="waker", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot1(k):
        info["sleeper"] = await k.lwkt_create(sleeper, comm="sleeper", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({0: boot0, 1: boot1})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    sleeper_id = info["sleeper"].td_id
    recs = system.trace.sorted_records()

    # The wait queue's token starts on CPU 0: blocking on CPU 1 asked CPU 0 for it first.
    assert info["token_owner_before"] == 0
    get1 = index_of(recs, "ipi_send", cpu=1, dest=0, func="lwkt_gettoken_remote")
    block = index_of(recs, "block", cpu=1, tid=sleeper_id, wait="wq")
    assert get1 < block
    # The signal: CPU 0 takes the token back from CPU 1, then sends the wake-up.
    start = index_of(recs, "mark", label="signal-start", cpu=0)
    assert block < start
    get0 = index_of(recs, "ipi_send", cpu=0, dest=1, func="lwkt_gettoken_remote")
    send = index_of(recs, "ipi_send", cpu=0, dest=1, func="lwkt_schedule")
    signal = index_of(recs, "signal", cpu=0, wait="wq")
    assert recs[signal]["woken"] == [sleeper_id] and recs[signal]["tid"] == info["waker"].td_id
    assert start < get0 < send < signal < index_of(recs, "mark", label="signal-end")
    # CPU 1 receives the lwkt_schedule and then (and only then) switches to the sleeper.
    receive = index_of(recs, "ipi_receive", cpu=1, source=0, func="lwkt_schedule")
    assert send < receive
    switches = indices(recs, "switch", cpu=1, to=sleeper_id)
    assert len(switches) == 2, [recs[i] for i in switches]  # its first run, and the wake-up
    assert switches[0] < block < receive < switches[1] < index_of(recs, "mark", label="sleeper-woken")
    assert recs[receive]["cycle"] >= recs[send]["cycle"]
    # lwkt_block returned the generation the signal made.
    assert info["gen1"] != info["gen0"] and info["gen1"] == info["wa_gen"] == info["gen0"] + 1
    # Nothing is marked or switched on CPU 0 for the sleeper; it stays CPU 1's thread.
    assert all(r["cpu"] == 1 for r in system.trace.events(tid=sleeper_id))
    assert info["token_owner_after"] == 0
    smp = machine.counters()["smp"]
    assert smp["ipi_sent"] == smp["ipi_received"] == 3
    final_checks_ok(machine)


@cocotb.test(skip=NCPU != 2)
async def schedule_takes_a_thread_from_the_middle_of_a_wait_queue(dut):
    """Three threads of CPU 1 block on one queue; CPU 0 schedules the middle one: it leaves the queue
    (its neighbours linked to each other in shared RAM), and the signal after wakes the other two in
    order. A thread that deschedules itself and schedules itself again (lwkt_schedule of curthread)
    stays runnable."""
    machine = await smp_machine(dut)
    system = machine.system
    wq = system.new_waitqueue("wq")
    info = {"woken": []}
    done = Done(system, 4)

    async def sleeper(td, arg):
        k = td.k
        await until(k, lambda: blocked_on(system, wq, arg), f"{arg} earlier sleepers to block")
        await k.lwkt_block(wq, "wq", await k.waitq_gen(wq))
        info["woken"].append(td.td_comm)
        done()

    async def waker(td, arg):
        k = td.k
        k.crit_enter()
        await k.lwkt_deschedule_self()
        await k.lwkt_schedule(td)  # back on its own run queue: the switch below keeps it
        await k.lwkt_switch()
        await k.crit_exit()
        mark(td, "still-runs")
        await until(k, lambda: blocked_on(system, wq, 3), "three sleepers to block")
        await k.lwkt_schedule(info["s1"])
        await until(k, lambda: info["woken"] == ["s1"], "the middle sleeper to run")
        await k.lwkt_signal(wq)
        done()

    async def boot0(k):
        await k.lwkt_create(waker, comm="waker", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot1(k):
        for n in range(3):
            info[f"s{n}"] = await k.lwkt_create(sleeper, n, comm=f"s{n}", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({0: boot0, 1: boot1})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    ids = [info[f"s{n}"].td_id for n in range(3)]
    (unwait,) = system.trace.events("unwait", target=ids[1])
    assert (unwait["by"], unwait["queued"], unwait["count"]) == ("schedule", [ids[0], ids[2]], 2), unwait
    (signal,) = system.trace.events("signal", wait="wq")
    assert signal["woken"] == [ids[0], ids[2]] and info["woken"] == ["s1", "s0", "s2"], (signal, info)
    assert "still-runs" in marks(system)
    final_checks_ok(machine)


# -- 2. remote schedule / deschedule of a thread that is not waiting ---------------------------------


@cocotb.test(skip=NCPU != 2)
async def schedule_and_deschedule_remote_thread(dut):
    """lwkt_schedule of a stopped thread of CPU 1 from CPU 0 goes by IPI and the thread runs on
    CPU 1; lwkt_deschedule from CPU 0 goes by IPI and CPU 1 stops running it (idle); a second
    lwkt_schedule brings it back."""
    machine = await smp_machine(dut)
    system = machine.system
    k1 = system.kernels[1]
    info = {"steps": 0}
    done = Done(system, 2)

    async def victim(td, arg):
        k = td.k
        while not info.get("stop"):
            info["steps"] += 1
            mark(td, "victim-step")
            await k.cpu.work(30)
            await k.lwkt_switch()  # no re-enqueue: runs again only while scheduled
        done()

    async def actor(td, arg):
        k = td.k
        await until(k, lambda: "victim" in info, "the victim to exist")
        v = info["victim"]
        await k.cpu.work(100)
        info["steps_before_schedule"] = info["steps"]
        mark(td, "schedule")
        await k.lwkt_schedule(v)
        await until(k, lambda: info["steps"] >= 3, "the victim to run")
        mark(td, "deschedule")
        await k.lwkt_deschedule(v)
        await until(k, lambda: k1.curthread is k1.gd_idletd, "CPU 1 to go idle")
        info["parked_steps"] = info["steps"]
        info["parked_flags"] = v.td_flags
        await k.cpu.work(300)
        info["steps_while_parked"] = info["steps"] - info["parked_steps"]
        mark(td, "reschedule")
        await k.lwkt_schedule(v)
        await until(k, lambda: info["steps"] > info["parked_steps"] + 1, "the victim to run again")
        info["stop"] = True
        done()

    async def boot0(k):
        await k.lwkt_create(actor, comm="actor", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot1(k):
        info["victim"] = await k.lwkt_create(
            victim, comm="victim", tdflags=TDF.STOPREQ, pri=TDPRI_KERN_USER, mpsafe=True
        )

    machine.start({0: boot0, 1: boot1})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    vid = info["victim"].td_id
    recs = system.trace.sorted_records()
    steps = indices(recs, "mark", label="victim-step")
    assert all(recs[i]["cpu"] == 1 and recs[i]["tid"] == vid for i in steps)
    assert info["steps_before_schedule"] == 0  # created stopped: never ran on its own

    # Each remote operation: an event on CPU 0, the IPI, and the same operation on CPU 1.
    ops = []
    for label, func, kind in (
        ("schedule", "lwkt_schedule", "schedule"),
        ("deschedule", "lwkt_deschedule", "deschedule"),
        ("reschedule", "lwkt_schedule", "schedule"),
    ):
        m = index_of(recs, "mark", label=label)
        local = after(recs, m, kind, cpu=0, target=vid)[0]
        send = after(recs, m, "ipi_send", cpu=0, dest=1, func=func)[0]
        receive = after(recs, send, "ipi_receive", cpu=1, source=0, func=func)[0]
        remote = after(recs, receive, kind, cpu=1, target=vid)[0]
        assert m < local < send < receive < remote, (label, recs[m], recs[send], recs[receive])
        ops.append((m, receive, remote))
    assert len(system.trace.events("ipi_send", func="lwkt_schedule")) == 2
    assert len(system.trace.events("ipi_send", func="lwkt_deschedule")) == 1

    (_, recv_s, _), (_, recv_d, desched), (_, recv_r, _) = ops
    # The first step comes after the schedule IPI arrived, on CPU 1.
    assert steps[0] > recv_s
    # After the deschedule, the victim's next switch goes to the idle thread, and it takes no
    # step until the reschedule IPI has arrived.
    to_idle = after(recs, desched, "switch", cpu=1, tid=vid, to_thread="idle1")[0]
    back = after(recs, recv_r, "switch", cpu=1, to=vid)[0]
    assert not [i for i in steps if to_idle < i < back]
    assert info["steps_while_parked"] == 0 and not info["parked_flags"] & TDF.RUNQ
    assert [i for i in steps if i > back], "the victim did not run after the reschedule"
    assert not after(recs, desched, "switch", cpu=0, to=vid)
    final_checks_ok(machine)


# -- 2b. lwkt_schedule of a thread blocked on a wait queue ---------------------------------------------


@cocotb.test(skip=NCPU != 2)
async def schedule_of_blocked_thread_goes_through_token_owner(dut):
    """lwkt_schedule of a thread blocked on a wait queue is carried out by the CPU that owns the
    queue's token. Sleeper a (CPU 1) blocks on qa, whose token its lwkt_block brought to CPU 1:
    CPU 0's lwkt_trytoken fails and it sends the schedule to CPU 1, which takes a off the queue.
    Sleeper b (CPU 1) blocks on qb, then CPU 0 takes qb's token: CPU 0 takes b off the queue
    itself and sends the schedule on to b's CPU. Neither is a signal: the generations stay."""
    machine = await smp_machine(dut)
    system = machine.system
    qa, qb = system.new_waitqueue("qa"), system.new_waitqueue("qb")
    info = {}
    done = Done(system, 3)

    def off_queue(k, td) -> None:  # tracepoint thread:woken: a thread taken off a wait queue
        k.event("mark", label=f"off-queue-{td.td_comm}")

    system.on_tracepoint("thread:woken", off_queue)

    async def sleeper(td, q):  # CPU 1
        k = td.k
        gen = await k.waitq_gen(q)
        info[f"gen_{q.name}"] = (gen, await k.lwkt_block(q, q.name, gen))
        mark(td, f"woken-{td.td_comm}")
        done()

    async def waker(td, arg):  # CPU 0
        k = td.k
        a, b = info["a"], info["b"]
        await until(k, lambda: blocked_on(system, qa), "a to block")
        info["qa_owner"] = await k.tok_get(qa.wa_token, "t_cpu")
        mark(td, "schedule-a")
        await k.lwkt_schedule(a)
        await until(k, lambda: "gen_qa" in info, "a to run")
        await until(k, lambda: blocked_on(system, qb), "b to block")
        await k.lwkt_gettoken(qb.wa_token)
        await k.lwkt_reltoken(qb.wa_token)
        info["qb_owner"] = await k.tok_get(qb.wa_token, "t_cpu")
        mark(td, "schedule-b")
        await k.lwkt_schedule(b)
        await k.lwkt_gettoken(qb.wa_token)
        info["qb_count"] = await k.wq_get(qb, "wa_count")
        await k.lwkt_reltoken(qb.wa_token)
        done()

    async def boot0(k):
        await until(k, lambda: "b" in info, "the sleepers to exist", limit=1000)
        await k.lwkt_create(waker, comm="waker", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot1(k):
        info["a"] = await k.lwkt_create(sleeper, qa, comm="a", pri=TDPRI_KERN_USER, mpsafe=True)
        info["b"] = await k.lwkt_create(sleeper, qb, comm="b", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({0: boot0, 1: boot1})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    recs = system.trace.sorted_records()
    assert (info["qa_owner"], info["qb_owner"]) == (1, 0)
    for name, taker in (("a", 1), ("b", 0)):
        tid = info[name].td_id
        m = index_of(recs, "mark", label=f"schedule-{name}")
        off = index_of(recs, "mark", label=f"off-queue-{name}")
        send = after(recs, m, "ipi_send", cpu=0, dest=1, func="lwkt_schedule")[0]
        receive = after(recs, send, "ipi_receive", cpu=1, source=0, func="lwkt_schedule")[0]
        run = after(recs, receive, "switch", cpu=1, to=tid)[0]
        woken = index_of(recs, "mark", label=f"woken-{name}")
        # Taken off its queue by the token's owner only: by CPU 1 after the message, or by CPU 0 before it.
        assert recs[off]["cpu"] == taker, (name, recs[off])
        order = [m, off, send, receive, run, woken] if taker == 0 else [m, send, receive, off, run, woken]
        assert order == sorted(order), (name, [recs[i] for i in order])
        assert [recs[i]["cpu"] for i in after(recs, m, "schedule", target=tid)] == [0, 1], name
        gen_old, gen_new = info[f"gen_q{name}"]
        assert gen_new == gen_old, name  # a schedule is not a signal: no new generation
    assert len(system.trace.events("ipi_send", func="lwkt_schedule")) == 2
    assert info["qb_count"] == 0
    # CPU 0's one failed lwkt_trytoken: qa's, whose token was CPU 1's.
    assert machine.counters()["per_cpu"][0].get("trytoken_failed", 0) == 1
    final_checks_ok(machine)


# -- 3. tokens ------------------------------------------------------------------------------------------


@cocotb.test(skip=NCPU != 2)
async def tokens_move_between_cpus(dut):
    """lwkt_gettoken asks the owner by IPI and returns owning the token (t_cpu in RAM);
    trytoken fails on a foreign token and succeeds on an own one; regettoken/gentoken report
    an unchanged generation when nobody took the token and a new one when CPU 0 took it while
    CPU 1's holder was switched out; inittoken gives it back to CPU 0; hand-off latencies are
    in the counters; with lwkt.token_debug the owner traces each hand-over."""
    machine = await smp_machine(dut)
    system = machine.system
    system.settings["lwkt.token_debug"] = 1
    tok = system.new_token("tok")
    info = {}
    done = Done(system, 2)

    async def fields(k):
        return tuple([await k.tok_get(tok, f) for f in ("t_cpu", "t_reqcpu", "t_gen")])

    async def holder(td, arg):  # CPU 1
        k = td.k
        info["initial"] = await fields(k)
        info["try_foreign"] = await k.lwkt_trytoken(tok)
        info["crit_after_failed_try"] = td.crit_count
        mark(td, "get")
        info["g1"] = await k.lwkt_gettoken(tok)
        info["after_get"] = await fields(k)
        info["crit_holding"] = td.crit_count
        info["reget_same"] = await k.lwkt_regettoken(tok)
        info["gentoken_same"] = await k.lwkt_gentoken(tok, info["g1"])
        info["holding"] = True
        await until(k, lambda: "try_from_0" in info, "CPU 0's trytoken", limit=500)
        # Switch out still holding the token (and its critical section): the CPU can take IPIs.
        mark(td, "park")
        await k.lwkt_deschedule_self()
        info["parked"] = True
        await k.lwkt_switch()
        mark(td, "resumed")
        info["owner_on_resume"] = await k.tok_get(tok, "t_cpu")
        info["gentoken_lost"] = await k.lwkt_gentoken(tok, info["g1"])
        info["after_reget"] = await fields(k)
        await k.lwkt_reltoken(tok)
        info["crit_after_rel"] = td.crit_count
        info["after_rel"] = await fields(k)
        info["try_own"] = await k.lwkt_trytoken(tok)
        await k.lwkt_reltoken(tok)
        # reltoken hands an owned token to t_reqcpu (the seed's hook for a release to the
        # requester; gettoken_remote always names the new owner, so point it at CPU 0 here).
        await k.lwkt_gettoken(tok)
        await k.tok_set(tok, "t_reqcpu", 0)
        await k.lwkt_reltoken(tok)
        info["after_rel_to_reqcpu"] = await fields(k)
        await k.lwkt_inittoken(tok)
        info["after_init"] = await fields(k)
        info["try_after_init"] = await k.lwkt_trytoken(tok)
        done()

    async def taker(td, arg):  # CPU 0
        k = td.k
        await until(k, lambda: info.get("holding"), "CPU 1 to hold the token")
        crit = td.crit_count
        info["try_from_0"] = await k.lwkt_trytoken(tok)
        info["crit_after_try_from_0"] = td.crit_count - crit
        await until(
            k,
            lambda: info.get("parked") and system.kernels[1].curthread is system.kernels[1].gd_idletd,
            "the holder to switch out",
        )
        mark(td, "take")
        info["g_taker"] = await k.lwkt_gettoken(tok)
        info["taker_fields"] = await fields(k)
        info["try_own_0"] = await k.lwkt_trytoken(tok)
        await k.lwkt_reltoken(tok)
        await k.lwkt_reltoken(tok)
        info["after_taker_rel"] = await fields(k)
        await k.lwkt_schedule(info["holder"])
        done()

    async def boot0(k):
        await k.lwkt_create(taker, comm="taker", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot1(k):
        info["holder"] = await k.lwkt_create(holder, comm="holder", pri=TDPRI_KERN_USER, mpsafe=True)

    # What the mailbox carries: the (function, argument) words each CPU pushes.
    func_slots = {mm.IPI_TX.addr("TX_FUNC", slot=d): d for d in range(NCPU)}
    arg_slots = {mm.IPI_TX.addr("TX_ARG", slot=d): d for d in range(NCPU)}
    pushed, funcs = [], {}

    def mailbox(cycle, cpu, address, write, value, ok, cycles):
        if write and address in func_slots:
            funcs[cpu] = value
        elif write and address in arg_slots:
            pushed.append((cpu, arg_slots[address], funcs.pop(cpu), value))

    for master in machine.bench.masters:
        master.add_observer(mailbox)
    machine.start({0: boot0, 1: boot1})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    g1 = info["g1"]
    # (t_cpu, t_reqcpu, t_gen) as read from shared RAM.
    assert info["initial"] == (0, 0, 0)
    assert info["try_foreign"] == 0 and info["crit_after_failed_try"] == 0
    assert g1 == 1 and info["after_get"] == (1, 1, 1) and info["crit_holding"] == 1
    assert info["reget_same"] == g1 and info["gentoken_same"] == (0, g1)
    assert info["try_from_0"] == 0 and info["crit_after_try_from_0"] == 0
    # CPU 0 took it while the holder was switched out: generation 2, trytoken made it 3.
    assert info["g_taker"] == 2 and info["taker_fields"] == (0, 0, 2) and info["try_own_0"] == 1
    assert info["after_taker_rel"] == (0, 0, 3)
    assert info["owner_on_resume"] == 0
    rc, g2 = info["gentoken_lost"]
    assert rc == -1 and g2 != g1 and g2 == 4 and info["after_reget"] == (1, 1, 4)
    assert info["after_rel"] == (1, 1, 4) and info["crit_after_rel"] == 0
    assert info["try_own"] == 1
    assert info["after_rel_to_reqcpu"] == (0, 0, 6)
    assert info["after_init"] == (0, 0, 0) and info["try_after_init"] == 0

    recs = system.trace.sorted_records()
    # Three hand-offs, each an lwkt_gettoken_remote IPI to the owner.
    reqs = [(r["cpu"], r["dest"]) for r in system.trace.events("ipi_send", func="lwkt_gettoken_remote")]
    assert reqs == [(1, 0), (0, 1), (1, 0)], reqs
    # A request carries the token's first word and nothing else (the seed's lwkt_gettoken_req
    # also names the requester): the owner learns who asks from the FIFO it came on.
    remote = system.ipi_func_id("lwkt_gettoken_remote")
    requests = [(cpu, dest, arg) for cpu, dest, func, arg in pushed if func == remote]
    assert requests == [(cpu, dest, tok.ram_word) for cpu, dest in reqs], pushed
    gives = [(r["cpu"], r["to"]) for r in system.trace.events("token_give", token="tok")]
    assert gives == [(0, 1), (1, 0), (0, 1)], gives
    take, park = index_of(recs, "mark", label="take"), index_of(recs, "mark", label="park")
    lost = index_of(recs, "token_lost", cpu=1, token="tok")
    assert park < take < lost and recs[lost]["holds"] == 1 and recs[lost]["tid"] != info["holder"].td_id
    acquired = system.trace.events("token_acquired", token="tok")
    assert [r["cpu"] for r in acquired] == [1, 0, 1]
    handoffs = machine.counters()["smp"]["token_handoff_cycles"]
    dut._log.info("token hand-off cycles: %s", handoffs)
    # A histogram, [[cycles, how often], ...] (sim/checks/stats.py): the records' figures, counted.
    counted = sorted(Counter(r["cycles"] for r in acquired).items())
    assert handoffs == [list(pair) for pair in counted] and all(c > 0 for c, _ in handoffs), handoffs
    per_cpu = system.counters()["per_cpu"]
    assert (per_cpu[0]["token_requests"], per_cpu[1]["token_requests"]) == (1, 2)
    # Every failed lwkt_trytoken is counted (counters.json, the coverage bin token.trytoken-failed): CPU 1's
    # first try and its try after inittoken, CPU 0's while CPU 1 held the token.
    failed = tuple(per_cpu[cpu].get("trytoken_failed", 0) for cpu in (0, 1))
    assert failed == (1, 2), failed
    final_checks_ok(machine)


# -- 9. a violated check or assertion stops the run ---------------------------------------------------


@cocotb.test(skip=NCPU != 2)
@cocotb.parametrize(
    case=[
        ("ipi_unexpected", "check failed: IPI from cpu 0"),
        ("mplock_invariant", "check failed: MP lock: switching to td"),
        ("acquire_without_mplock", "lwkt_acquire without the MP lock"),
        # The flags in the thread's record say it runs on CPU 1 (off its run queue, about to
        # switch away): it may not change hands.
        ("acquire_running", "lwkt_acquire: td #"),
        # The seed's KASSERT(td_wait == NULL) reads the record (a thread on a wait queue does not run).
        ("deschedule_self_while_waiting", "lwkt_schedule_self(): td_wait not NULL!"),
        ("rele_without_hold", "lwkt_rele: td"),
        ("rel_mplock_without_hold", "rel_mplock: td"),
        ("hold_without_mplock", "lwkt_hold without the MP lock"),
        ("rele_without_mplock", "lwkt_rele without the MP lock"),
        ("setpri_self_above_max", "lwkt_setpri_self: priority 32 out of range"),
        # The interrupt frame raises gd_intr_nesting_level for IPIs too (as i386's vectors do; the
        # seed's file shows only lwkt_send_ipiq raising it): an IPI function may not switch.
        ("switch_in_ipi", "lwkt_switch: cannot switch from within an interrupt"),
        # A token made outside System.new_token has no words in the shared RAM: the SMP kernel refuses it.
        ("token_without_ram", "token stray has no shared-RAM words"),
        # A Python exception in a thread (a firmware bug) is a panic that keeps where it was raised.
        ("python_error", "KeyError: 'missing'"),
    ]
)
async def violation_stops_the_run(dut, case):
    """A broken invariant stops the run (outcome "panic") with a clear message, naming the CPU
    and thread; nothing runs after it."""
    name, message = case
    machine = await smp_machine(dut)
    system = machine.system
    k0, k1 = system.kernels
    info = {}

    async def note(k, arg):
        info["note_ran"] = True

    system.register_ipi("note", note)

    async def switcher(k, arg):  # an IPI function that tries to switch threads
        info["ipi_level"] = k.gd_intr_nesting_level
        await k.lwkt_switch()
        info["switched"] = True

    system.register_ipi("switcher", switcher)

    async def other(td, arg):
        mark(td, "other-runs")

    async def actor(td, arg):  # CPU 0, MP-safe
        k = td.k
        info["actor"] = td
        if name == "ipi_unexpected":
            # A message pushed into the mailbox behind lwkt_send_ipiq's back.
            await k.cpu.write(mm.IPI_TX.addr("TX_FUNC", slot=1), system.ipi_func_id("note"))
            await k.cpu.write(mm.IPI_TX.addr("TX_ARG", slot=1), 0x1234)
            await k.cpu.work(200)
        elif name == "mplock_invariant":
            # lwkt_switch gives back a lock held without a count (the seed's clean-up) ...
            info["try"] = await k.cpu_try_mplock()
            info["owner_held"] = (owner(system), td.td_mpcount)
            await k.lwkt_yield()
            info["owner_after_switch"] = owner(system)
            # ... a switch that skips it leaves the hardware lock out of step with td_mpcount.
            info["try2"] = await k.cpu_try_mplock()
            k.crit_enter()
            info["cycle"] = k.cycle
            await k._td_switch(info["other"])
        elif name == "acquire_without_mplock":
            await until(k, lambda: "stopped" in info, "the thread of CPU 1")
            info["cycle"] = k.cycle
            await k.lwkt_acquire(info["stopped"])
        elif name == "acquire_running":
            await until(k, lambda: "spinning" in info, "CPU 1's thread to run")
            await k.get_mplock()
            info["cycle"] = k.cycle
            await k.lwkt_acquire(info["spinner"])
        elif name == "deschedule_self_while_waiting":
            wq = system.new_waitqueue("wq")
            await k.lwkt_gettoken(wq.wa_token)
            await k.td_set(td, "td_wait", wq.ram_word)  # what only lwkt_block may do, then switch away
            info["cycle"] = k.cycle
            await k.lwkt_deschedule_self()
        elif name == "rele_without_hold":
            await k.get_mplock()
            info["cycle"] = k.cycle
            await k.lwkt_rele(info["other"])
        elif name == "rel_mplock_without_hold":
            info["cycle"] = k.cycle
            await k.rel_mplock()
        elif name == "hold_without_mplock":
            # A hold changes a record other CPUs share: the kernel asserts the MP lock (an MP-safe thread has none).
            info["cycle"] = k.cycle
            await k.lwkt_hold(info["other"])
        elif name == "rele_without_mplock":
            await k.get_mplock()
            await k.lwkt_hold(info["other"])
            await k.rel_mplock()
            info["cycle"] = k.cycle
            await k.lwkt_rele(info["other"])
        elif name == "setpri_self_above_max":
            await k.lwkt_setpri_self(31)  # the seed's TDPRI_MAX is accepted ...
            info["pri_at_max"] = td.pri
            info["cycle"] = k.cycle
            await k.lwkt_setpri_self(32)  # ... one above it is not (the seed's KKASSERT); a literal on purpose
        elif name == "token_without_ram":
            info["cycle"] = k.cycle
            await k.lwkt_gettoken(Token(name="stray"))
        elif name == "python_error":
            info["cycle"] = k.cycle
            info["line"] = inspect.currentframe().f_lineno + 1
            {}["missing"]  # noqa: B018 - the bug
        elif name == "switch_in_ipi":
            k.crit_enter()
            await k.lwkt_send_ipiq(1, "switcher", 0)
            await k.crit_exit()
            await k.cpu.work(2_000)
        mark(td, "survived")

    async def boot0(k):
        info["other"] = await k.lwkt_create(other, comm="other", pri=TDPRI_KERN_USER, mpsafe=True)
        await k.lwkt_create(actor, comm="actor", pri=TDPRI_KERN_DAEMON, mpsafe=True)

    async def spin(td, arg):  # CPU 1: off its run queue (as tsleep before it switches), still running
        k = td.k
        k.crit_enter()
        await k.lwkt_deschedule_self()
        info["spinning"] = True
        await k.cpu.work(20_000)
        await k.crit_exit()

    async def boot1(k):
        info["stopped"] = await k.lwkt_create(other, comm="stopped", tdflags=TDF.STOPREQ, mpsafe=True)
        if name == "acquire_running":
            info["spinner"] = await k.lwkt_create(spin, comm="spinner", mpsafe=True)

    machine.start({0: boot0, 1: boot1})
    assert await machine.run(MAX_CYCLES) == "panic", (name, system.outcome, marks(system))
    panic = system.panic
    assert panic.message.startswith(message) or message in panic.message, (name, panic.message)
    assert "survived" not in marks(system)
    recs = system.trace.events("panic")
    assert len(recs) == 1 and recs[0]["message"] == panic.message
    if name == "ipi_unexpected":
        # CPU 1 saw it: a message never sent through the kernel; the function never ran.
        assert panic.cpu == 1 and "received but never sent" in panic.message and "0x1234" in panic.message
        assert "note_ran" not in info
    elif name == "switch_in_ipi":
        # CPU 1 ran the message in its IPI interrupt frame, one level deep, and panicked there.
        assert panic.cpu == 1 and info["ipi_level"] == 1 and "switched" not in info, (panic, info)
    elif name == "mplock_invariant":
        assert info["try"] is True and info["owner_held"] == (0, 0)
        assert info["owner_after_switch"] is None and "other-runs" not in marks(system)
        assert info["try2"] is True
        other = info["other"]
        assert panic.message == (
            f"check failed: MP lock: switching to td #{other.td_id} (other) with td_mpcount 0 but OWNER is 0"
        ), panic.message
        assert (panic.cpu, panic.thread, panic.cycle) == (0, "actor", info["cycle"])
    else:
        # The check comes after the bus reads it needs (the record, the MP lock's OWNER).
        assert (panic.cpu, panic.thread) == (0, "actor") and 0 <= panic.cycle - info["cycle"] < 60, (
            panic.cycle,
            info["cycle"],
        )
        if name == "setpri_self_above_max":
            assert info["pri_at_max"] == 31
        if name == "python_error":
            raised = panic.exception
            assert (raised["type"], raised["function"], raised["line"]) == ("KeyError", "actor", info["line"]), raised
            assert raised["file"] == __file__ and "Traceback" in raised["traceback"]
        else:
            assert panic.exception is None, panic.exception
        if name == "acquire_running":
            spinner = info["spinner"]
            assert panic.message.startswith(f"lwkt_acquire: td #{spinner.td_id} is running or preempted on cpu 1")


# -- a 4-CPU case: the wake-up chases the token -----------------------------------------------------


@cocotb.test(skip=NCPU != 4)
async def schedule_follows_wait_queue_token(dut):
    """lwkt_schedule from CPU 3 of a thread of CPU 1 blocked on a wait queue whose token CPU 2
    owns: the request goes to CPU 2 (token owner), which takes the thread off the queue and
    forwards an lwkt_schedule to CPU 1, where it runs."""
    machine = await smp_machine(dut)
    system = machine.system
    wq = system.new_waitqueue("wq")
    info = {}
    done = Done(system, 3)

    async def sleeper(td, arg):  # CPU 1
        k = td.k
        gen = await k.waitq_gen(wq)
        info["gen_new"] = await k.lwkt_block(wq, "wq", gen)
        info["gen_old"] = gen
        mark(td, "sleeper-woken")
        done()

    async def owner2(td, arg):  # CPU 2: takes the queue's token and keeps it
        k = td.k
        await until(k, lambda: blocked_on(system, wq), "the sleeper to block")
        await k.lwkt_gettoken(wq.wa_token)
        await k.lwkt_reltoken(wq.wa_token)
        info["owner"] = await k.tok_get(wq.wa_token, "t_cpu")
        done()

    async def waker3(td, arg):  # CPU 3
        k = td.k
        await until(k, lambda: "owner" in info, "CPU 2 to own the token")
        mark(td, "schedule")
        await k.lwkt_schedule(info["sleeper"])
        done()

    async def boot1(k):
        info["sleeper"] = await k.lwkt_create(sleeper, comm="sleeper", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot2(k):
        await k.lwkt_create(owner2, comm="owner2", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot3(k):
        await k.lwkt_create(waker3, comm="waker3", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({1: boot1, 2: boot2, 3: boot3})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    sid = info["sleeper"].td_id
    assert info["owner"] == 2
    recs = system.trace.sorted_records()
    m = index_of(recs, "mark", label="schedule")
    hop1 = index_of(recs, "ipi_send", cpu=3, dest=2, func="lwkt_schedule")
    recv1 = index_of(recs, "ipi_receive", cpu=2, source=3, func="lwkt_schedule")
    hop2 = index_of(recs, "ipi_send", cpu=2, dest=1, func="lwkt_schedule")
    recv2 = index_of(recs, "ipi_receive", cpu=1, source=2, func="lwkt_schedule")
    run = after(recs, recv2, "switch", cpu=1, to=sid)[0]
    assert m < hop1 < recv1 < hop2 < recv2 < run < index_of(recs, "mark", label="sleeper-woken")
    assert [recs[i]["cpu"] for i in after(recs, m, "schedule", target=sid)] == [3, 2, 1]
    assert info["gen_new"] == info["gen_old"]  # a schedule is not a signal: no new generation
    # CPU 0 only gave the queue's token away (to the sleeper's lwkt_block): it sent nothing.
    assert not system.trace.events("ipi_send", cpu=0)
    assert [r["func"] for r in system.trace.events("ipi_send", dest=0)] == ["lwkt_gettoken_remote"]
    final_checks_ok(machine)


# -- 8. lwkt_hold, lwkt_rele and lwkt_wait_free across CPUs ---------------------------------------------


@cocotb.test(skip=NCPU != 2)
async def wait_free_returns_after_last_rele(dut):
    """lwkt_wait_free sleeps a hardclock tick at a time while the thread is held, and returns at
    the first tick after the last lwkt_rele (done on the other CPU)."""
    # A tick is long against the kernel path of a wake-up and a nap (a few hundred cycles).
    period = 1000
    machine = await smp_machine(dut, hardclock_period=period)
    system = machine.system
    info = {}
    done = Done(system, 2)

    async def victim(td, arg):
        pass

    async def reaper(td, arg):  # CPU 0
        k = td.k
        v = info["victim"]
        await until(k, lambda: peek_td(system, v, "td_refs") == 2, "two holds")
        mark(td, "wait-free")
        info["ticks0"] = k.hardclock_ticks
        await k.lwkt_wait_free(v)
        mark(td, "freed")
        info["ticks1"] = k.hardclock_ticks
        info["refs_at_return"] = await k.td_get(v, "td_refs")
        done()

    async def holder(td, arg):  # CPU 1
        k = td.k
        v = info["victim"]
        await k.get_mplock()  # holds change a record other CPUs share
        await k.lwkt_hold(v)
        await k.lwkt_hold(v)
        await k.rel_mplock()
        await k.cpu.work(1750)
        info["reaper_wmesg"] = peek_td(system, info["reaper"], "td_wmesg")
        await k.get_mplock()
        await k.lwkt_rele(v)
        await k.rel_mplock()
        mark(td, "rele1")
        await k.cpu.work(1750)
        await k.get_mplock()
        await k.lwkt_rele(v)
        await k.rel_mplock()
        mark(td, "rele2")
        done()

    async def boot0(k):
        info["victim"] = await k.lwkt_create(victim, comm="victim", tdflags=TDF.STOPREQ, mpsafe=True)
        info["reaper"] = await k.lwkt_create(reaper, comm="reaper", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot1(k):
        await until(k, lambda: "victim" in info, "the victim to exist", limit=1000)
        await k.lwkt_create(holder, comm="holder", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({0: boot0, 1: boot1})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    recs = system.trace.sorted_records()
    reaper_id = info["reaper"].td_id
    rele2, freed = index_of(recs, "mark", label="rele2"), index_of(recs, "mark", label="freed")
    assert index_of(recs, "mark", label="rele1") < rele2 < freed
    assert info["reaper_wmesg"] == system.wmesgs["tdreap"] and info["refs_at_return"] == 0
    # It returned at its first look after the last rele (a look that began just before the rele still
    # naps once more: the kernel path from the tick through the test to the nap takes a few hundred
    # cycles) ...
    naps_after = [i for i in indices(recs, "switch", cpu=0, tid=reaper_id, to_thread="idle0") if rele2 < i < freed]
    assert len(naps_after) <= 1, [recs[i] for i in naps_after]
    assert recs[freed]["cycle"] - recs[rele2]["cycle"] <= period + KERNEL_PATH_CYCLES
    # Meanwhile it slept a tick at a time: switched out to idle and back once per tick.
    wait = index_of(recs, "mark", label="wait-free")
    naps = [i for i in indices(recs, "switch", cpu=0, tid=reaper_id, to_thread="idle0") if wait < i < freed]
    assert len(naps) == info["ticks1"] - info["ticks0"] >= 3, (len(naps), info)
    final_checks_ok(machine)


# -- 8b. a thread structure goes round the free cache ---------------------------------------------------


@cocotb.test(skip=NCPU != 2)
async def freed_structure_is_cached_again_after_reuse(dut):
    """One structure, three generations: a child ends as a zombie (off its run queue with TDF_EXITED,
    its structure left to the parent), the parent frees it (lwkt_free_thread: into the free cache),
    the next child reuses it, and so on. lwkt_alloc_thread keeps the ALLOCATED_THREAD and
    ALLOCATED_STACK flags a reused structure had (the seed's ``flags = td->td_flags & ...``), so each
    free caches it again and no new structure is ever allocated."""
    generations = 3
    machine = await smp_machine(dut)
    system = machine.system
    owned = TDF.ALLOCATED_THREAD | TDF.ALLOCATED_STACK
    info = {"children": [], "flags": [], "cached": []}
    done = Done(system, 1)

    async def child(td, arg):  # CPU 0: exit1 + cpu_proc_exit, the structure stays the parent's to free
        k = td.k
        info["flags"].append(td.td_flags & owned)
        mark(td, "child-runs", generation=td.td_generation)
        k.crit_enter()
        await k.lwkt_deschedule_self()
        td.td_flags |= TDF.EXITED
        await k.lwkt_switch(_exiting=True)  # never returns

    async def parent(td, arg):  # CPU 0, below its children's priority
        k = td.k
        info["allocated_before"] = k.threads_allocated
        for _ in range(generations):
            c = await k.lwkt_create(child, comm="child", pri=TDPRI_KERN_DAEMON, mpsafe=True)
            info["children"].append(c)
            while not c.td_flags & TDF.EXITED:
                await k.lwkt_yield()
            await k.lwkt_free_thread(c)
            info["cached"].append(k.gd_tdfreecount)
        info["allocated_after"] = k.threads_allocated
        done()

    async def boot0(k):
        await k.lwkt_create(parent, comm="parent", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({0: boot0})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    # Each generation owns its structure and stack (the reused ones keep the flags of the first).
    assert info["flags"] == [owned] * generations, info["flags"]
    first = info["children"][0]
    cid = first.td_id
    assert all(c is first for c in info["children"]), [c.td_id for c in info["children"]]
    assert [r["generation"] for r in system.trace.events("mark", label="child-runs")] == [
        first.td_generation - generations + 1 + g for g in range(generations)
    ]
    assert [r["target"] for r in system.trace.events("thread_cache", cpu=0)] == [cid] * generations
    assert [r["target"] for r in system.trace.events("thread_reuse", cpu=0)] == [cid] * (generations - 1)
    assert not system.trace.events("thread_free")
    assert info["cached"] == [1] * generations
    assert info["allocated_after"] - info["allocated_before"] == 1  # the first child's structure only
    final_checks_ok(machine)


@cocotb.test(skip=NCPU != 4)
async def a_message_that_arrives_during_a_pass_waits_for_the_next(dut):
    """lwkt_process_ipiq reads RX_PENDING once and visits the sources in order. CPU 0 runs CPU 1's
    slow message; meanwhile CPU 2 sends one, whose pending bit was clear when the pass began: the
    pass leaves it, and the IPI source, still pending, is claimed again and a second pass runs it.
    (The seed reads each queue's indices as it comes to it, and would run it in the same pass.)"""
    machine = await smp_machine(dut)
    system = machine.system
    info = {"ran": []}
    done = Done(system, 2)

    async def slow(k, arg):
        info["ran"].append(("slow", k.gd_cpuid))
        info["slow_running"] = True
        await k.cpu.work(600)

    async def quick(k, arg):
        info["ran"].append(("quick", k.gd_cpuid))

    system.register_ipi("slow", slow)
    system.register_ipi("quick", quick)

    async def sender1(td, arg):  # CPU 1
        k = td.k
        k.crit_enter()
        await k.lwkt_send_ipiq(0, "slow", 0)
        await k.crit_exit()
        done()

    async def sender2(td, arg):  # CPU 2, once the slow message runs on CPU 0
        k = td.k
        await until(k, lambda: info.get("slow_running"), "the slow message to run")
        k.crit_enter()
        await k.lwkt_send_ipiq(0, "quick", 0)
        await k.crit_exit()
        done()

    machine.start(
        {
            1: lambda k: k.lwkt_create(sender1, comm="sender1", pri=TDPRI_KERN_USER, mpsafe=True),
            2: lambda k: k.lwkt_create(sender2, comm="sender2", pri=TDPRI_KERN_USER, mpsafe=True),
        }
    )
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    await machine.quiesce()
    assert info["ran"] == [("slow", 0), ("quick", 0)], info["ran"]
    recs = [r for r in system.trace.sorted_records() if r["cpu"] == 0]
    frames = [i for i, r in enumerate(recs) if r["event"] == "interrupt" and r["source"] == mm.SOURCE_IPI]
    received = {r["func"]: i for i, r in enumerate(recs) if r["event"] == "ipi_receive"}
    # Two claims of the IPI source: the first pass ran the slow message only, the second the quick one.
    assert len(frames) == 2 and frames[0] < received["slow"] < frames[1] < received["quick"], (frames, received)
    final_checks_ok(machine)
