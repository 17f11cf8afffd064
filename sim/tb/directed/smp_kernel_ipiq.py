"""cocotb tests of the SMP kernel's IPI queues (lwkt_send_ipiq, lwkt_wait_ipiq, lwkt_process_ipiq)
on a 2-CPU SoC whose IPI FIFOs hold 4 entries.

Sending to oneself calls the function directly; lwkt_wait_ipiq returns once the remote CPU
has carried the message out; two CPUs that fire bursts at each other inside critical
sections drain their own queues when a FIFO is over half full (ipiq_fifofull) instead of
deadlocking, and the hardware's sticky WOF/ROE flags stay clear.
"""

from __future__ import annotations

import cocotb

from firmware.thread import TDPRI_KERN_USER
from hdl import memory_map as mm
from sim.tb.directed.kernel_helpers import index_of, indices, mark
from sim.tb.directed.kernel_helpers import Done, final_checks_ok, smp_machine, until

MAX_CYCLES = 16_000  # the kernel's own execution (the default cost model) takes cycles too
FIFO_DEPTH = 4
#: lwkt_send_ipiq drains while more than this many of its messages wait in the FIFO.
HALF_MARK = FIFO_DEPTH // 2
LEVEL = mm.IPI_TX.register("TX_STATUS").field("LEVEL")


@cocotb.test()
async def send_to_self_and_wait_for_remote(dut):
    """lwkt_send_ipiq to this CPU runs the function at once (no mailbox, no ipi_send, sequence 0);
    lwkt_wait_ipiq on a remote message returns only after the remote CPU has run it."""
    machine = await smp_machine(dut)
    system = machine.system
    assert system.fifo_depth == FIFO_DEPTH
    info = {"calls": []}
    done = Done(system, 1)

    async def note(k, arg):
        info["calls"].append((k.gd_cpuid, arg, k.curthread.td_comm, k.cycle))

    async def slow(k, arg):
        info["slow_start"] = (k.gd_cpuid, arg, k.cycle)
        await k.cpu.work(80)
        info["slow_end"] = k.cycle

    system.register_ipi("note", note)
    system.register_ipi("slow", slow)

    async def sender(td, arg):  # CPU 0
        k = td.k
        k.crit_enter()
        count0 = k.counters["ipiq_count"]
        info["self_seq"] = await k.lwkt_send_ipiq(0, "note", 1)
        info["self_ran_before_return"] = len(info["calls"])
        info["self_count"] = k.counters["ipiq_count"] - count0
        await k.lwkt_wait_ipiq(0, 0)  # waiting on oneself returns at once
        mark(td, "send-slow")
        seq = await k.lwkt_send_ipiq(1, "slow", 2)
        info["seq"] = seq
        info["sent_at"] = k.cycle
        await k.lwkt_wait_ipiq(1, seq)
        info["waited_until"] = k.cycle
        info["rindex"] = await k.cpu.read(mm.IPI_TX.addr("TX_RINDEX", slot=1))
        mark(td, "wait-returned")
        seq2 = await k.lwkt_send_ipiq(1, "note", 3)
        await k.lwkt_wait_ipiq(1, seq2)
        info["seq2"] = seq2
        info["calls_after_wait2"] = list(info["calls"])
        await k.crit_exit()
        done()

    async def boot0(k):
        await k.lwkt_create(sender, comm="sender", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({0: boot0})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    assert info["self_seq"] == 0 and info["self_ran_before_return"] == 1 and info["self_count"] == 0
    cpu, arg, thread, _ = info["calls"][0]
    assert (cpu, arg, thread) == (0, 1, "sender")
    recs = system.trace.sorted_records()
    sends = indices(recs, "ipi_send")
    assert [(recs[i]["cpu"], recs[i]["dest"], recs[i]["func"]) for i in sends] == [(0, 1, "slow"), (0, 1, "note")]
    assert not indices(recs, "ipi_receive", cpu=0)
    # The remote ran the slow function between the send and the return of the wait.
    assert info["seq"] == mm.IPI_INDEX_RESET + 1 and info["seq2"] == mm.IPI_INDEX_RESET + 2
    assert info["slow_start"][:2] == (1, 2)
    assert info["sent_at"] <= info["slow_start"][2] < info["slow_end"] <= info["waited_until"]
    assert info["slow_end"] - info["slow_start"][2] >= 80
    assert info["waited_until"] - info["slow_end"] <= 20
    assert info["rindex"] == mm.IPI_INDEX_RESET + 1
    assert info["calls_after_wait2"][1][:3] == (1, 3, "idle1")
    receive = index_of(recs, "ipi_receive", cpu=1, func="slow")
    assert index_of(recs, "mark", label="send-slow") < receive < index_of(recs, "mark", label="wait-returned")
    smp = machine.counters()["smp"]
    assert smp["ipi_sent"] == smp["ipi_received"] == 2 and system.sysctl("lwkt.ipiq_count") == 2
    final_checks_ok(machine)


@cocotb.test()
async def wait_returns_once_the_read_index_has_passed(dut):
    """lwkt_wait_ipiq(d, seq) returns when TX_RINDEX has reached seq or gone past it: here the remote
    has run message seq and the one after it before the first poll, and both indices have crossed
    the 2**32 wrap. (A wait that returned only on TX_RINDEX == seq, or compared the indices without
    the modulo, would wait for ever.) A wait that need not wait leaves interrupts as its caller had
    them, as the seed does: the sender has them off, and the IPI CPU 1 sends back lands only
    after it turns them on again."""
    machine = await smp_machine(dut)
    system = machine.system
    info = {"ran": [], "back": []}
    done = Done(system, 1)

    async def note(k, arg):
        info["ran"].append(arg)
        if arg == 9:
            await k.lwkt_send_ipiq(0, "back", arg)

    async def back(k, arg):
        info["back"].append(k.gd_cpuid)

    system.register_ipi("note", note)
    system.register_ipi("back", back)

    async def sender(td, arg):  # CPU 0
        k = td.k
        k.crit_enter()
        saved = k.intr_disable()
        seqs = [await k.lwkt_send_ipiq(1, "note", n) for n in range(10)]
        await until(k, lambda: len(info["ran"]) == 10, "the ten messages to run")
        rindex = mm.IPI_TX.addr("TX_RINDEX", slot=1)
        while await k.cpu.read(rindex) != seqs[9]:  # the last pop follows its function
            await k.cpu.work(5)
        info["rindex"] = await k.cpu.read(rindex)
        await until(k, k.cpu.irq_high, "CPU 1's message back to raise the IPI line")
        mark(td, "wait")
        await k.lwkt_wait_ipiq(1, seqs[8])  # two behind TX_RINDEX, across the wrap
        mark(td, "waited")
        k.intr_restore(saved)
        await k.cpu.work(20)  # the IPI interrupt lands here: deferred (a critical section)
        info["seqs"] = seqs
        await k.crit_exit()  # and runs here
        done()

    async def boot0(k):
        await k.lwkt_create(sender, comm="sender", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({0: boot0})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    assert info["ran"] == list(range(10))
    first = mm.IPI_INDEX_RESET + 1
    assert info["seqs"] == [(first + n) & 0xFFFF_FFFF for n in range(10)]
    assert info["seqs"][8] < info["seqs"][0], "the messages did not cross the 2**32 wrap"
    assert info["rindex"] == info["seqs"][9]
    recs = system.trace.sorted_records()
    waited = index_of(recs, "mark", label="waited")
    deferred = [i for i in indices(recs, "intr_deferred", cpu=0) if i > index_of(recs, "mark", label="wait")]
    assert deferred and deferred[0] > waited, [recs[i] for i in deferred]
    assert info["back"] == [0]
    final_checks_ok(machine)


@cocotb.test()
@cocotb.parametrize(burst=[3, 10])
async def bursts_both_ways_drain_without_deadlock(dut, burst):
    """Both CPUs, each inside a critical section (so neither takes its IPI interrupt), send
    ``burst`` messages to the other. With 10 the FIFOs pass the half-full mark: each sender
    processes its own incoming queue (ipiq_fifofull) until the other has room, nobody
    deadlocks, every message arrives once and in order, and WOF/ROE stay clear. With 3 the
    FIFOs never pass the mark and nothing is drained early."""
    machine = await smp_machine(dut)
    system = machine.system
    info = {"received": {}, "crit_at_receive": []}
    done = Done(system, 2)

    async def ping(k, arg):
        source, seq = arg >> 16, arg & 0xFFFF  # the message is one word
        info["received"].setdefault((source, k.gd_cpuid), []).append(seq)
        # Each message runs on a CPU whose own thread is inside its burst or already done.
        info["crit_at_receive"].append(k.curthread.td_comm)

    system.register_ipi("ping", ping)

    async def sender(td, arg):
        k = td.k
        me, other = k.gd_cpuid, 1 - k.gd_cpuid
        info[f"ready{me}"] = True
        await until(k, lambda: info.get(f"ready{other}"), "the other sender", step=1)
        k.crit_enter()
        mark(td, "burst-start")
        info[f"start{me}"] = k.cycle
        levels = []
        for seq in range(burst):
            status = await k.cpu.read(mm.IPI_TX.addr("TX_STATUS", slot=other))
            levels.append((status & LEVEL.mask) >> LEVEL.lsb)
            await k.lwkt_send_ipiq(other, "ping", me << 16 | seq)
        info[f"levels{me}"] = levels
        info[f"end{me}"] = k.cycle
        info[f"received_in_crit{me}"] = len(info["received"].get((other, me), []))
        mark(td, "burst-end")
        await k.crit_exit()
        await until(k, lambda: len(info["received"].get((other, me), [])) == burst, "every message")
        done()

    async def boot(k):
        await k.lwkt_create(sender, comm=f"sender{k.gd_cpuid}", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({0: boot, 1: boot})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    per_cpu = system.counters()["per_cpu"]
    fifofull = [c["ipiq_fifofull"] for c in per_cpu]
    dut._log.info(
        "burst %d: ipiq_fifofull per cpu %s, levels %s / %s, latencies %s",
        burst,
        fifofull,
        info["levels0"],
        info["levels1"],
        machine.counters()["smp"]["ipi_latency_cycles"],
    )
    assert info["received"] == {(0, 1): list(range(burst)), (1, 0): list(range(burst))}, info["received"]
    assert [c["ipiq_count"] for c in per_cpu] == [burst, burst]
    assert [c["ipiq_received"] for c in per_cpu] == [burst, burst]
    # The bursts overlapped: both senders were inside their critical sections at once.
    assert max(info["start0"], info["start1"]) < min(info["end0"], info["end1"])
    if burst > HALF_MARK + 1:
        assert fifofull[0] > 0 and fifofull[1] > 0, fifofull
        events = system.trace.events("ipiq_fifofull")
        assert events and all(r["level"] == HALF_MARK + 1 for r in events), events
        # Draining its own queue is how each sender got the other's messages inside its section.
        assert info["received_in_crit0"] > 0 and info["received_in_crit1"] > 0
    else:
        assert fifofull == [0, 0] and not system.trace.events("ipiq_fifofull")
        assert info["received_in_crit0"] == 0 and info["received_in_crit1"] == 0
    # TX_STATUS.LEVEL before each push: it climbs to the mark + 1 and stays there (drained back to
    # the mark, pushed once more), never reaching FIFO_DEPTH.
    for me in (0, 1):
        levels = info[f"levels{me}"]
        assert levels[: HALF_MARK + 2] == list(range(min(burst, HALF_MARK + 2))), (me, levels)
        assert max(levels) == min(burst - 1, HALF_MARK + 1) < FIFO_DEPTH, (me, levels)
    smp = machine.counters()["smp"]
    assert smp["ipi_sent"] == smp["ipi_received"] == 2 * burst
    final_checks_ok(machine)


# -- the watchdog of the IPI loops --------------------------------------------------------------------

#: The watchdog's figures, written out as docs/kernel.md gives them (the seed's 10**8 and 10**8 + 10**6
#: polls scaled down 50,000 times), not taken from the firmware: a test reading the constants it
#: checks could not tell a wrong scale.
WAIT_IPIQ_WARN = 2_000
WAIT_IPIQ_PANIC = 2_020
#: Enough for WAIT_IPIQ_PANIC polls of about 55 cycles each (2 CPUs), with room.
WATCHDOG_CYCLES = WAIT_IPIQ_PANIC * 80


def _watchdog_records(system, loop):
    return [r for r in system.trace.events("ipiq_wait_warning") if r["loop"] == loop]


@cocotb.test()
async def lost_ipi_warns_then_panics(dut):
    """An IPI that is never carried out: CPU 1 masks its IPI source and halts, so its queue is never
    served. CPU 0's lwkt_wait_ipiq polls on; after WAIT_IPIQ_WARN polls it warns (the seed's
    "LWKT_WAIT_IPIQ WARNING!"), and one percent later it panics ("LWKT_WAIT_IPIQ"), as the seed does."""
    machine = await smp_machine(dut)
    system = machine.system
    info = {}

    async def note(k, arg):
        info["ran"] = True

    system.register_ipi("note", note)

    async def sender(td, arg):  # CPU 0
        k = td.k
        k.crit_enter()
        info["seq"] = await k.lwkt_send_ipiq(1, "note", 7)
        info["sent_at"] = k.cycle
        await k.lwkt_wait_ipiq(1, info["seq"])
        info["returned"] = True

    async def boot0(k):
        await k.lwkt_create(sender, comm="sender", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot1(k):  # the message to CPU 1 is lost: its IPI source is masked
        enable = await k.cpu.read(mm.INTC.ENABLE)
        await k.cpu.write(mm.INTC.ENABLE, enable & ~(1 << mm.SOURCE_IPI))

    # Every poll is one read of CPU 1's TX_RINDEX on CPU 0's port: count them as the bus sees them.
    rindex = mm.IPI_TX.addr("TX_RINDEX", slot=1)
    polls = []

    def see(cycle, cpu, address, write, value, ok, cycles):
        if address == rindex and not write:
            polls.append(cycle)

    machine.bench.masters[0].add_observer(see)
    machine.start({0: boot0, 1: boot1})
    assert await machine.run(WATCHDOG_CYCLES) == "panic", f"no panic: {system.outcome}"
    panic = system.panic
    assert (panic.cpu, panic.thread) == (0, "sender"), panic
    assert panic.message.startswith(f"LWKT_WAIT_IPIQ: cpu 0 polled {WAIT_IPIQ_PANIC} times (dest 1, seq "), panic
    (warning,) = _watchdog_records(system, "LWKT_WAIT_IPIQ")
    assert (warning["cpu"], warning["dest"], warning["seq"], warning["polls"]) == (0, 1, info["seq"], WAIT_IPIQ_WARN)
    assert info["sent_at"] < warning["cycle"] < panic.cycle
    # The warning comes after the WAIT_IPIQ_WARN-th poll and before the next; the panic after the last
    # (lwkt_send_ipiq's own read of the index, before sent_at, is not a poll).
    polls = [c for c in polls if c > info["sent_at"]]
    assert sum(c <= warning["cycle"] for c in polls) == WAIT_IPIQ_WARN, (len(polls), warning["cycle"])
    assert len(polls) == WAIT_IPIQ_PANIC, len(polls)
    assert "ran" not in info and "returned" not in info


@cocotb.test()
async def nested_ipis_deadlock_and_the_drain_watchdog_panics(dut):
    """Two CPUs fill their FIFOs to each other past the half-full mark, then each runs the head of
    the other's queue, whose function sends back. Each sender drains its own incoming queue, but
    the only message there is the head it is already running, which lwkt_process_ipiq does not run
    twice (the seed would run it again, nest, and panic "TOO HEAVILY NESTED"): neither FIFO ever
    drains. The drain loop's watchdog warns, then panics ("LWKT_SEND_IPIQ")."""
    machine = await smp_machine(dut)
    system = machine.system
    info = {"bounced": []}
    stage = system.new_data("test.stage", words=2)  # per CPU: 1 in its critical section, 2 FIFO filled

    async def bounce(k, arg):  # runs on the receiver: send one message back
        info["bounced"].append(k.gd_cpuid)
        await k.lwkt_send_ipiq(1 - k.gd_cpuid, "note", arg)

    async def note(k, arg):
        info.setdefault("notes", []).append(k.gd_cpuid)

    system.register_ipi("bounce", bounce)
    system.register_ipi("note", note)

    async def filler(td, arg):
        k = td.k
        me = k.gd_cpuid
        mine, other = stage + 4 * me, stage + 4 * (1 - me)

        async def step(n):  # both CPUs reach stage n, inside their critical sections
            await k.cpu.write(mine, n)
            while await k.cpu.read(other) < n:
                await k.cpu.work(5)

        k.crit_enter()
        await step(1)  # neither serves its queue from here on
        for n in range(HALF_MARK + 1):  # one past the half-full mark: the next send would drain
            await k.lwkt_send_ipiq(1 - me, "bounce", n)
        await step(2)
        await k.crit_exit()  # both queues' interrupts are taken here

    async def boot(k):
        await k.lwkt_create(filler, comm=f"filler{k.gd_cpuid}", pri=TDPRI_KERN_USER, mpsafe=True)

    # Every poll of the drain loop is one read of the destination's TX_RINDEX, as the bus sees them.
    reads = {0: [], 1: []}

    def watcher(cpu):
        rindex = mm.IPI_TX.addr("TX_RINDEX", slot=1 - cpu)

        def see(cycle, _cpu, address, write, value, ok, cycles):
            if address == rindex and not write:
                reads[cpu].append(cycle)

        return see

    for cpu in (0, 1):
        machine.bench.masters[cpu].add_observer(watcher(cpu))
    machine.start({0: boot, 1: boot})
    assert await machine.run(WATCHDOG_CYCLES) == "panic", f"no panic: {system.outcome}"
    panic = system.panic
    assert panic.message.startswith(f"LWKT_SEND_IPIQ: cpu {panic.cpu} polled {WAIT_IPIQ_PANIC} times"), panic
    (drain,) = [r for r in system.trace.events("ipiq_fifofull") if r["cpu"] == panic.cpu]
    polled = [c for c in reads[panic.cpu] if c > drain["cycle"]]
    assert len(polled) == WAIT_IPIQ_PANIC, len(polled)
    assert f"level {HALF_MARK + 1}" in panic.message, panic
    assert sorted(info["bounced"]) == [0, 1] and "notes" not in info
    warnings = _watchdog_records(system, "LWKT_SEND_IPIQ")
    assert panic.cpu in [w["cpu"] for w in warnings]
    assert all(w["polls"] == WAIT_IPIQ_WARN and w["level"] == HALF_MARK + 1 for w in warnings)
