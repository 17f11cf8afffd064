"""Directed tests of the interleavings the seed's comments worry about, on a 2-CPU SoC with a
4-entry IPI FIFO, under the default cost model.

Each test arms a kernel tracepoint (``System.on_tracepoint``) that raises an external line at the
moment a kernel function opens its window; the interrupt then lands inside that function, and the
test shows from the trace, the counters and what the handler saw that the kernel handles it as the
seed intends:

- crit_exit, between its decrement and the gd_reqpri test (and with an interrupt already pended);
- get_mplock and rel_mplock, whose count and lock change with interrupts off (mplock.s); with the
  debug.mplock_cli setting at 0 the rel_mplock window opens and lwkt_preempt's own check fires;
- lwkt_gettoken while it asks another CPU for the token;
- lwkt_send_ipiq while it drains its own queues at FIFO full;
- lwkt_switch while it hands the MP lock over.
"""

from __future__ import annotations

import cocotb

from firmware.device import device_take
from firmware.thread import TDPRI_INT_MED, TDPRI_KERN_USER
from sim.tb.directed.kernel_helpers import Device, index_of, mark, source_of
from sim.tb.directed.kernel_helpers import Done, final_checks_ok, owner, smp_machine, until

MAX_CYCLES = 20_000
LINE, LINE2 = 0, 1
SOURCE, SOURCE2 = source_of(LINE), source_of(LINE2)


def raise_at(system, dev: Device, tracepoint: str, thread: str, line: int = LINE) -> dict:
    """Raise ``line`` the first time ``thread`` passes ``tracepoint`` after ``state["armed"]`` is set."""
    state = {"armed": False, "cycle": None}

    def callback(k) -> None:
        if state["armed"] and state["cycle"] is None and k.curthread.td_comm == thread:
            state["cycle"] = k.cycle
            dev.raise_line(line)

    system.on_tracepoint(tracepoint, callback)
    return state


async def run_to_end(machine, boots: dict, *, settle: int = 0) -> list[dict]:
    """Boot, run until the workload is done (asserting it is), let messages in flight land and,
    with ``settle``, the kernels run that many cycles more; the sorted trace."""
    machine.start(boots)
    assert await machine.run(MAX_CYCLES) == "done", machine.system.panic
    await machine.quiesce()
    if settle:
        await machine.run_on(settle)
    return machine.system.trace.sorted_records()


def interrupts(recs: list[dict], source: int) -> list[dict]:
    return [r for r in recs if r["event"] == "interrupt" and r["source"] == source]


async def _ithread(k, dev: Device, info: dict, line: int = LINE, record=None) -> None:
    async def handler(td, ln):
        info.setdefault("handled", []).append(ln)
        if record is not None:
            info.setdefault("in_handler", record(td))
        mark(td, f"handler{ln}")
        await device_take(td.k, ln)
        await td.k.cpu.work(10)

    await k.register_ithread(line, handler, pri=TDPRI_INT_MED)


# -- crit_exit ------------------------------------------------------------------------------------


@cocotb.test()
async def crit_exit_window_takes_the_interrupt(dut):
    """An interrupt arriving after crit_exit's decrement, before its gd_reqpri test, is taken right
    there (the thread is out of its section): once, directly, with nothing pended and no splz."""
    machine = await smp_machine(dut)
    system = machine.system
    dev = Device(dut)
    info = {}
    done = Done(system, 1)
    window = raise_at(system, dev, "crit_exit:window", "worker")

    async def worker(td, arg):
        k = td.k
        k.crit_enter()
        await k.cpu.work(50)
        mark(td, "section-end")
        info["pri_in_section"] = td.td_pri
        window["armed"] = True
        await k.crit_exit()
        mark(td, "after")
        done()

    async def boot0(k):
        await _ithread(k, dev, info)
        info["worker"] = await k.lwkt_create(worker, comm="worker", pri=TDPRI_KERN_USER, mpsafe=True)

    recs = await run_to_end(machine, {0: boot0})
    wid = info["worker"].td_id
    taken = interrupts(recs, SOURCE)
    assert len(taken) == 1, taken
    assert taken[0]["in"] == "crit_exit" and taken[0]["tid"] == wid, taken[0]
    end, handler, after = (index_of(recs, "mark", label=m) for m in ("section-end", "handler0", "after"))
    assert end < recs.index(taken[0]) < handler < after
    assert window["cycle"] <= taken[0]["cycle"]
    assert not [r for r in recs[end:after] if r["event"] in ("intr_deferred", "splz") and r["cpu"] == 0]
    assert info["handled"] == [LINE] and info["pri_in_section"] >= 32
    assert system.kernels[0].landings.taken.get("crit_exit") == 1
    final_checks_ok(machine)


@cocotb.test()
async def crit_exit_window_after_a_pended_interrupt(dut):
    """With an interrupt already pended by the section (gd_reqpri set), one arriving in crit_exit's
    window is not taken on its own: it stays masked until splz, which runs both, once each."""
    machine = await smp_machine(dut)
    system = machine.system
    dev = Device(dut)
    info = {}
    done = Done(system, 1)
    window = raise_at(system, dev, "crit_exit:window", "worker", line=LINE)

    async def worker(td, arg):
        k = td.k
        k.crit_enter()
        dev.raise_after(LINE2, 10)
        await k.cpu.work(80)
        mark(td, "section-end")
        window["armed"] = True
        await k.crit_exit()
        mark(td, "after")
        done()

    async def boot0(k):
        await _ithread(k, dev, info, LINE)
        await _ithread(k, dev, info, LINE2)
        info["worker"] = await k.lwkt_create(worker, comm="worker", pri=TDPRI_KERN_USER, mpsafe=True)

    # The second ithread runs once the preempted worker gave up the CPU: settle.
    recs = await run_to_end(machine, {0: boot0}, settle=1000)
    end, after = index_of(recs, "mark", label="section-end"), index_of(recs, "mark", label="after")
    deferred = [r for r in recs if r["event"] == "intr_deferred" and r["tid"] == info["worker"].td_id]
    assert len(deferred) == 1 and deferred[0]["in"] == "(thread code)" and deferred[0]["crit"] == 1
    assert window["cycle"] is not None
    # Both ran from splz, each once, within the exit of the section.
    for source in (SOURCE, SOURCE2):
        (taken,) = interrupts(recs, source)
        assert taken["in"] == "splz" and end < recs.index(taken) < after, taken
    assert sorted(info["handled"]) == [LINE, LINE2]
    assert end < index_of(recs, "splz", tid=info["worker"].td_id) < after
    final_checks_ok(machine)


# -- the MP lock ------------------------------------------------------------------------------------


@cocotb.test()
@cocotb.parametrize(cli=[1, 0])
async def interrupt_at_get_mplock(dut, cli):
    """An interrupt arriving as get_mplock counts the hold and tries the lock. With interrupts off
    there (mplock.s) it is taken right after, when count and lock agree; the preempting ithread
    gets the lent count and the thread gets its own back. The count goes up before the TRY (as
    lwkt_switch's comment says), so even with the stretch open (debug.mplock_cli 0) the state an
    interrupt finds is safe: a count and no lock, which lwkt_preempt handles by trying the lock for
    the preempting thread and giving it back after."""
    machine = await smp_machine(dut)
    system = machine.system
    system.sysctl_set("debug.mplock_cli", cli)
    dev = Device(dut)
    info = {}
    done = Done(system, 1)
    counted = raise_at(system, dev, "get_mplock:counted", "taker")

    async def taker(td, arg):
        k = td.k
        await k.cpu.work(20)
        counted["armed"] = True
        await k.get_mplock()
        info["after_get"] = (td.td_mpcount, owner(system))
        mark(td, "got")
        await k.cpu.work(40)
        await k.rel_mplock()
        info["after_rel"] = (td.td_mpcount, owner(system))
        done()

    def seen(ithread):
        t = info["taker"]
        return t.td_mpcount, owner(system), ithread.td_mpcount, ithread.td_preempted is t

    async def boot0(k):
        await _ithread(k, dev, info, record=seen)
        info["taker"] = await k.lwkt_create(taker, comm="taker", pri=TDPRI_KERN_USER, mpsafe=True)

    recs = await run_to_end(machine, {0: boot0})
    (taken,) = interrupts(recs, SOURCE)
    assert taken["in"] == "get_mplock" and taken["tid"] == info["taker"].td_id, taken
    assert recs.index(taken) < index_of(recs, "mark", label="handler0") < index_of(recs, "mark", label="got")
    if cli:
        # Taken after the TRY: the lock held with the count 1; lwkt_preempt counted the held lock on
        # the preempted thread and lent both to the ithread (1 + 1).
        assert info["in_handler"] == (2, 0, 2, True), info["in_handler"]
    else:
        # Taken at the OWNER read: count 1, no lock; lwkt_preempt took the lock for the ithread.
        assert info["in_handler"] == (1, 0, 1, True), info["in_handler"]
    assert info["after_get"] == (1, 0) and info["after_rel"] == (0, None)
    assert system.sysctl("lwkt.preempt_hit") == 1
    final_checks_ok(machine)


@cocotb.test()
@cocotb.parametrize(cli=[1, 0])
async def interrupt_at_rel_mplock(dut, cli):
    """An interrupt arriving as rel_mplock drops the last hold. With interrupts off (mplock.s) it is
    taken after the RELEASE: no lock, no count, and the ithread preempts. With the stretch open
    (debug.mplock_cli 0) it lands between the count going to 0 and the RELEASE: the lock held with
    a count of 0, the state lwkt_preempt's comment worries about, and its own check panics."""
    machine = await smp_machine(dut)
    system = machine.system
    system.sysctl_set("debug.mplock_cli", cli)
    dev = Device(dut)
    info = {}
    done = Done(system, 1)
    dropped = raise_at(system, dev, "rel_mplock:dropped", "holder")

    async def holder(td, arg):  # created holding the MP lock (td_mpcount 1)
        k = td.k
        await k.cpu.work(20)
        info["before"] = (td.td_mpcount, owner(system))
        dropped["armed"] = True
        await k.rel_mplock()
        mark(td, "released")
        done()

    def seen(ithread):
        return info["holder"].td_mpcount, owner(system), ithread.td_mpcount

    async def boot0(k):
        await _ithread(k, dev, info, record=seen)
        info["holder"] = await k.lwkt_create(holder, comm="holder", pri=TDPRI_KERN_USER)

    machine.start({0: boot0})
    outcome = await machine.run(MAX_CYCLES)
    recs = system.trace.sorted_records()
    assert info["before"] == (1, 0) and dropped["cycle"] is not None
    if cli:
        assert outcome == "done", system.panic
        (taken,) = interrupts(recs, SOURCE)
        assert taken["in"] == "rel_mplock" and taken["tid"] == info["holder"].td_id, taken
        assert info["in_handler"] == (0, None, 0), info["in_handler"]
        assert recs.index(taken) < index_of(recs, "mark", label="released")
        final_checks_ok(machine)
    else:
        assert outcome == "panic"
        panic = system.panic
        assert panic.message == "lwkt_preempt(): held and no count", panic.message
        assert (panic.cpu, panic.thread) == (0, "holder")
        (taken,) = interrupts(recs, SOURCE)
        assert taken["in"] == "rel_mplock"
        assert "handler0" not in [r.get("label") for r in recs]


# -- a remote token ---------------------------------------------------------------------------------


@cocotb.test()
async def interrupt_while_requesting_a_remote_token(dut):
    """An interrupt arriving while lwkt_gettoken asks the owning CPU by IPI and waits lands in a
    critical section: it is pended, the request completes, and it runs once the token section
    ends (lwkt_reltoken's crit_exit, through splz), not inside it."""
    machine = await smp_machine(dut)
    system = machine.system
    dev = Device(dut)
    tok = system.new_token("remote")
    info = {}
    done = Done(system, 2)
    request = raise_at(system, dev, "lwkt_gettoken:request", "asker")

    async def owner1(td, arg):  # CPU 1 takes the token over and lets it go
        k = td.k
        await k.lwkt_gettoken(tok)
        await k.lwkt_reltoken(tok)
        info["owned_by_1"] = True
        done()

    async def asker(td, arg):  # CPU 0
        k = td.k
        await until(k, lambda: info.get("owned_by_1"), "CPU 1 to own the token", limit=2000)
        request["armed"] = True
        await k.lwkt_gettoken(tok)
        mark(td, "has-token")
        info["token_owner"] = await k.tok_get(tok, "t_cpu")
        await k.cpu.work(30)
        mark(td, "section-end")
        await k.lwkt_reltoken(tok)
        mark(td, "released")
        done()

    async def boot0(k):
        await _ithread(k, dev, info)
        info["asker"] = await k.lwkt_create(asker, comm="asker", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot1(k):
        await k.lwkt_create(owner1, comm="owner1", pri=TDPRI_KERN_USER, mpsafe=True)

    recs = await run_to_end(machine, {0: boot0, 1: boot1})
    aid = info["asker"].td_id
    send = index_of(recs, "ipi_send", cpu=0, dest=1, func="lwkt_gettoken_remote")
    deferred = recs[index_of(recs, "intr_deferred", cpu=0, tid=aid)]
    assert deferred["in"] in ("lwkt_send_ipiq", "lwkt_wait_ipiq", "lwkt_process_ipiq"), deferred
    has, end, released = (index_of(recs, "mark", label=m) for m in ("has-token", "section-end", "released"))
    (taken,) = interrupts(recs, SOURCE)
    # The line went up as the request started; the interrupt landed while it was on its way, and
    # ran in lwkt_reltoken (its crit_exit's splz), after the section.
    assert request["cycle"] <= deferred["cycle"] and send < has
    assert recs.index(deferred) < has < end < recs.index(taken) < index_of(recs, "mark", label="handler0") < released
    assert taken["in"] == "splz"
    assert info["token_owner"] == 0
    assert system.kernels[0].landings.deferred.get("lwkt_gettoken") == 1
    final_checks_ok(machine)


# -- a full FIFO ------------------------------------------------------------------------------------


@cocotb.test()
async def interrupt_while_draining_a_full_fifo(dut):
    """An interrupt arriving while lwkt_send_ipiq drains its own queues (the FIFO to a CPU that sits
    in a long critical section is over half full) is pended there; the drain goes on, every
    message arrives once and in order, and the interrupt runs when the sender's section ends."""
    machine = await smp_machine(dut)
    system = machine.system
    assert system.fifo_depth == 4, "this test needs the 4-entry FIFO build"
    dev = Device(dut)
    info = {"notes": []}
    done = Done(system, 2)
    drain = raise_at(system, dev, "lwkt_send_ipiq:drain", "sender")
    burst = 6

    async def note(k, arg):
        info["notes"].append(arg)

    async def deaf(td, arg):  # CPU 1: a long critical section
        k = td.k
        k.crit_enter()
        info["deaf"] = True
        await k.cpu.work(3000)
        await k.crit_exit()
        done()

    async def sender(td, arg):  # CPU 0
        k = td.k
        await until(k, lambda: info.get("deaf"), "CPU 1's section", limit=2000)
        drain["armed"] = True
        k.crit_enter()
        for n in range(burst):
            await k.lwkt_send_ipiq(1, "note", n)
        mark(td, "burst-end")
        await k.crit_exit()
        mark(td, "after")
        done()

    async def boot0(k):
        system.register_ipi("note", note)
        await _ithread(k, dev, info)
        info["sender"] = await k.lwkt_create(sender, comm="sender", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot1(k):
        await k.lwkt_create(deaf, comm="deaf", pri=TDPRI_KERN_USER, mpsafe=True)

    recs = await run_to_end(machine, {0: boot0, 1: boot1})
    sid = info["sender"].td_id
    full = index_of(recs, "ipiq_fifofull", cpu=0, dest=1)
    deferred = recs[index_of(recs, "intr_deferred", tid=sid)]
    assert deferred["in"] in ("lwkt_send_ipiq", "lwkt_process_ipiq"), deferred
    end = index_of(recs, "mark", label="burst-end")
    (taken,) = interrupts(recs, SOURCE)
    assert full < recs.index(deferred) < end < recs.index(taken) < index_of(recs, "mark", label="after")
    assert taken["in"] == "splz"
    assert info["notes"] == list(range(burst))
    assert system.sysctl("lwkt.ipiq_fifofull") >= 1 and drain["cycle"] is not None
    final_checks_ok(machine)


# -- lwkt_switch's MP-lock hand-over ------------------------------------------------------------------


@cocotb.test()
async def interrupt_during_switch_mplock_handover(dut):
    """An interrupt arriving while lwkt_switch releases the MP lock for a thread that does not need
    it lands in the switch's critical section: it is pended by the old thread, the hand-over
    completes (the lock free, OWNER and td_mpcount consistent), and the new thread runs it at the
    end of its own switch."""
    machine = await smp_machine(dut)
    system = machine.system
    dev = Device(dut)
    info = {}
    done = Done(system, 2)
    handover = raise_at(system, dev, "lwkt_switch:mplock", "giant")

    async def giant(td, arg):  # holds the MP lock (td_mpcount 1)
        k = td.k
        await k.cpu.work(20)
        handover["armed"] = True
        k = await k.lwkt_yield()
        info["giant_back"] = (td.td_mpcount, owner(system))
        done()

    async def safe(td, arg):
        k = td.k
        info["safe_starts"] = owner(system)
        mark(td, "safe-runs")
        await k.cpu.work(50)
        done()

    def seen(ithread):
        return owner(system), ithread.td_preempted.td_comm if ithread.td_preempted else None

    async def boot0(k):
        await _ithread(k, dev, info, record=seen)
        info["giant"] = await k.lwkt_create(giant, comm="giant", pri=TDPRI_KERN_USER)
        info["safe"] = await k.lwkt_create(safe, comm="safe", pri=TDPRI_KERN_USER, mpsafe=True)

    recs = await run_to_end(machine, {0: boot0})
    gid, sid = info["giant"].td_id, info["safe"].td_id
    to_safe = index_of(recs, "switch", tid=gid, to=sid)
    deferred = recs[index_of(recs, "intr_deferred", tid=gid)]
    assert deferred["in"] == "lwkt_switch" and deferred["crit"] >= 1, deferred
    (taken,) = interrupts(recs, SOURCE)
    assert recs.index(deferred) < to_safe < recs.index(taken)
    assert taken["tid"] == sid and taken["in"] == "splz"
    # The hand-over was complete before the interrupt ran: the lock free for the MP-safe thread.
    assert info["safe_starts"] is None and info["in_handler"] == (None, "safe")
    assert info["giant_back"] == (1, 0)
    final_checks_ok(machine)
