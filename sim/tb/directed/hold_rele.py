"""cocotb tests of the race lwkt_hold/lwkt_rele/lwkt_wait_free exist for, on a 2-CPU SoC (SMP kernel).

The seed v1.12's headline: "Fix a race in sysctl_out_proc() vs copyout() that could crash
the kernel". A sysctl handler (the reader, CPU 0) looks a thread up in another CPU's list of
all threads (``gd_tdallq`` of CPU 1), copies a summary of it out to the user's buffer, takes a
page fault in that copyout (it sleeps for the page-in), and then copies out the thread
structure itself, read after the sleep, as sysctl_out_proc copied out the proc, eproc and
thread structures one after the other.

While the reader sleeps, the target thread (the victim, CPU 1) is killed by a thread of CPU 0
(``lwkt_signal`` of the wait queue it pauses on, a wake-up that crosses to CPU 1 by IPI). It
exits the way a process does: ``proc_exit`` below (exit1 + cpu_proc_exit) makes it a zombie
(TDF_EXITED, off the run queue, still on ``gd_tdallq``), wakes its parent and switches away for
good, leaving the structure to the parent. The parent (the reaper, CPU 1: lwkt_free_thread
runs on the thread's own CPU, whose free cache it fills) does what wait1() does:
``lwkt_wait_free`` then ``lwkt_free_thread``, and then creates a new thread with another name,
which takes the same structure from the free cache.

- Without hold/rele ``lwkt_wait_free`` has nothing to wait for: the structure is freed and
  reused inside the reader's page fault, and the record the user reads back is torn: its
  summary describes the victim, the thread structure behind it the new thread (the same
  structure, td_id, with another td_comm, td_generation and priority).
- With the reader's ``lwkt_hold`` before its first copy and ``lwkt_rele`` after the last,
  ``lwkt_wait_free`` sleeps a tick at a time until the rele: the reaper's wait spans the
  reader's page fault, the reuse comes after the rele and the record is consistent.

The user buffer is in shared RAM: the copyouts are real bus writes, and the user (the reader
again, after the sysctl returned) reads its record back over the bus. Every cross-CPU effect
goes through the kernel: the kill is an lwkt_signal, the wake-ups IPIs, the reference count
lwkt_hold/lwkt_rele/lwkt_wait_free.
"""

from __future__ import annotations

import cocotb

from firmware.thread import TDF, TDPRI_KERN_DAEMON, TDPRI_KERN_USER, TDPRI_MASK
from sim.tb.directed.kernel_helpers import blocked_on, index_of, indices, mark, peek_td
from sim.tb.directed.kernel_helpers import KERNEL_PATH_CYCLES, Done, final_checks_ok, smp_machine, until

#: Cycles between hardclock ticks: the page fault and lwkt_wait_free sleep in whole ticks.
PERIOD = 1000  # long against a wake-up's kernel path (a few hundred cycles)
#: The page-in of the reader's copyout takes this many ticks of CPU 0.
FAULT_TICKS = 3
MAX_CYCLES = 30_000

VICTIM, NEWCOMER = "victim", "intruder"
VICTIM_PRI, NEWCOMER_PRI = TDPRI_KERN_USER, TDPRI_KERN_DAEMON

#: The user's buffer of each run's system: shared-RAM words of the layout's data pool (an unallocated word
#: would be a race), cleared before each test.
_user_buf: dict[int, int] = {}
COMM_WORDS = 2  # td_comm: 8 characters, 4 to a word
#: The record (kinfo) the sysctl copies out: a summary, then the thread structure.
SUMMARY = ("td_id", "td_generation", "td_pri") + tuple(f"td_comm{i}" for i in range(COMM_WORDS))
THREAD = ("td_id", "td_generation", "td_pri", "td_cpu") + tuple(f"td_comm{i}" for i in range(COMM_WORDS))
RECORD_WORDS = len(SUMMARY) + len(THREAD)


def pack_comm(name: str) -> list[int]:
    raw = name.encode("ascii")[: 4 * COMM_WORDS].ljust(4 * COMM_WORDS, b"\0")
    return [int.from_bytes(raw[4 * i : 4 * i + 4], "little") for i in range(COMM_WORDS)]


def unpack_comm(words: list[int]) -> str:
    return b"".join(w.to_bytes(4, "little") for w in words).rstrip(b"\0").decode("ascii")


def fields_of(td, names: tuple[str, ...]) -> list[int]:
    """Read ``names`` from the thread structure, as the copy would (priority without crit count)."""
    comm = pack_comm(td.td_comm)
    values = {
        "td_id": td.td_id,
        "td_generation": td.td_generation,
        "td_pri": td.td_pri & TDPRI_MASK,
        "td_cpu": td.td_gd.gd_cpuid,
        **{f"td_comm{i}": comm[i] for i in range(COMM_WORDS)},
    }
    return [values[name] for name in names]


def decode(words: list[int], names: tuple[str, ...]) -> dict:
    raw = dict(zip(names, words, strict=True))
    out = {k: v for k, v in raw.items() if not k.startswith("td_comm")}
    out["td_comm"] = unpack_comm([raw[f"td_comm{i}"] for i in range(COMM_WORDS)])
    return out


async def copyout(k, offset: int, words: list[int]) -> None:
    """Copy ``words`` to the user buffer at ``offset`` (bus writes to shared RAM)."""
    for i, word in enumerate(words):
        await k.cpu.write(_user_buf[id(k.system)] + 4 * (offset + i), word)


async def copyin(k, offset: int, n: int) -> list[int]:
    return [await k.cpu.read(_user_buf[id(k.system)] + 4 * (offset + i)) for i in range(n)]


async def proc_exit(k, parent_wait) -> None:
    """exit1() + cpu_proc_exit(): the thread becomes a zombie and leaves for good.

    Unlike lwkt_exit it does not put its structure into the free cache: it stays on
    ``gd_tdallq`` with TDF_EXITED until the parent reaps it (lwkt_wait_free, lwkt_free_thread).
    The parent is woken from inside the critical section, so it cannot run before the
    zombie is off the CPU.
    """
    td = k.curthread
    mark(td, "proc-exit")
    k.crit_enter()
    await k.lwkt_deschedule_self()
    td.td_flags |= TDF.EXITED
    await k.lwkt_signal(parent_wait)
    await k.lwkt_switch(_exiting=True)  # cpu_thread_exit(): never returns


async def hold_rele_system(dut):
    machine = await smp_machine(dut, hardclock_period=PERIOD)
    base = _user_buf[id(machine.system)] = machine.system.new_data("hold_rele.user_buf", RECORD_WORDS)
    for word in range(RECORD_WORDS):
        await machine.bench.masters[0].write(base + 4 * word, 0)
    return machine


async def run_race(dut, hold: bool) -> tuple:
    """One run of the race; ``hold`` says whether the reader uses lwkt_hold/lwkt_rele."""
    machine = await hold_rele_system(dut)
    system = machine.system
    k1 = system.kernels[1]
    killq = system.new_waitqueue("killq")  # the victim pauses here until it is killed
    exitq = system.new_waitqueue("exitq")  # the reaper waits here for its child to exit
    info = {}
    done = Done(system, 3)

    async def victim(td, arg):  # CPU 1
        k = td.k
        gen = await k.waitq_gen(killq)
        mark(td, "victim-pauses")
        await k.lwkt_block(killq, "pause", gen)
        mark(td, "victim-killed")
        await proc_exit(k, exitq)

    async def reaper(td, arg):  # CPU 1: the victim's parent (wait1)
        k = td.k
        v = info["victim"]
        gen = await k.waitq_gen(exitq)
        while not v.td_flags & TDF.EXITED:
            gen = await k.lwkt_block(exitq, "wait", gen)
        mark(td, "wait-free", refs=await k.td_get(v, "td_refs"))
        info["reap_ticks0"] = k.hardclock_ticks
        await k.lwkt_wait_free(v)
        info["reap_ticks1"] = k.hardclock_ticks
        mark(td, "free", refs=await k.td_get(v, "td_refs"))
        await k.lwkt_free_thread(v)
        info["newcomer"] = await k.lwkt_create(newcomer, comm=NEWCOMER, pri=NEWCOMER_PRI, mpsafe=True)
        done()

    async def newcomer(td, arg):  # CPU 1, in the victim's old structure
        mark(td, "newcomer-runs", generation=td.td_generation)
        done()

    async def killer(td, arg):  # CPU 0, runs while the reader sleeps
        k = td.k
        await until(k, lambda: blocked_on(system, killq), "the victim to pause")
        mark(td, "kill")
        await k.lwkt_signal(killq)

    async def reader(td, arg):  # CPU 0: the sysctl handler, then the user
        k = td.k
        await until(k, lambda: blocked_on(system, killq), "the victim to pause")
        # The lookup: walk CPU 1's list of all threads for the victim; hold it at once.
        target = next(t for t in k1.gd_tdallq if t.td_comm == VICTIM)
        info["target"] = target
        if hold:
            await k.get_mplock()  # a hold changes the thread's shared record
            await k.lwkt_hold(target)
            await k.rel_mplock()
        mark(td, "read-summary", target=target.td_id, refs=peek_td(system, target, "td_refs"))
        summary = fields_of(target, SUMMARY)
        # The copyout of the summary faults: sleep while the page comes in.
        mark(td, "fault")
        for _ in range(FAULT_TICKS):
            await k.tsleep_tick("copyout")
        await copyout(k, 0, summary)
        mark(td, "read-thread", target=target.td_id)
        await copyout(k, len(SUMMARY), fields_of(target, THREAD))
        if hold:
            await k.get_mplock()
            await k.lwkt_rele(target)
            await k.rel_mplock()
        mark(td, "rele" if hold else "copied", refs=peek_td(system, target, "td_refs"))
        # Back in user mode: read the record.
        words = await copyin(k, 0, RECORD_WORDS)
        info["summary"] = decode(words[: len(SUMMARY)], SUMMARY)
        info["thread"] = decode(words[len(SUMMARY) :], THREAD)
        done()

    async def boot0(k):
        await k.lwkt_create(reader, comm="sysctl", pri=TDPRI_KERN_DAEMON, mpsafe=True)
        await k.lwkt_create(killer, comm="killer", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot1(k):
        info["victim"] = await k.lwkt_create(victim, comm=VICTIM, pri=VICTIM_PRI, mpsafe=True)
        info["victim_generation"] = info["victim"].td_generation
        info["reaper"] = await k.lwkt_create(reaper, comm="reaper", pri=TDPRI_KERN_DAEMON, mpsafe=True)

    machine.start({0: boot0, 1: boot1})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    recs = system.trace.sorted_records()
    v = info["victim"]
    vid, gen0 = v.td_id, info["victim_generation"]

    # The same structure every time: the reader's target, the victim, the newcomer.
    assert info["target"] is v and info["newcomer"] is v
    assert [r["target"] for r in system.trace.events("thread_reuse", cpu=1)] == [vid]
    assert v.td_comm == NEWCOMER and v.td_generation == gen0 + 1 and peek_td(system, v, "td_refs") == 0
    # The kill went from CPU 0 to CPU 1 through the kernel: a lwkt_schedule IPI.
    kill, signal = index_of(recs, "mark", label="kill"), index_of(recs, "signal", cpu=0, wait="killq")
    assert recs[signal]["woken"] == [vid]
    send = [i for i in indices(recs, "ipi_send", cpu=0, dest=1, func="lwkt_schedule") if kill < i < signal]
    receive = [i for i in indices(recs, "ipi_receive", cpu=1, source=0, func="lwkt_schedule") if i > send[0]]
    assert len(send) == 1 and receive[0] < index_of(recs, "mark", label="victim-killed")

    pos = {
        label: index_of(recs, "mark", label=label)
        for label in (
            "victim-pauses",
            "read-summary",
            "fault",
            "kill",
            "victim-killed",
            "proc-exit",
            "wait-free",
            "free",
            "read-thread",
            "newcomer-runs",
        )
    }
    pos["reuse"] = index_of(recs, "thread_reuse", cpu=1, target=vid)
    pos["end"] = index_of(recs, "mark", label="rele" if hold else "copied")
    # Common to both: the victim is killed and reaped while the reader sleeps in its page fault.
    assert (
        pos["victim-pauses"]
        < pos["read-summary"]
        < pos["fault"]
        < pos["kill"]
        < pos["victim-killed"]
        < pos["proc-exit"]
        < pos["wait-free"]
        < pos["read-thread"]
    ), pos
    assert all(recs[pos[m]]["cpu"] == 1 for m in ("victim-killed", "proc-exit", "wait-free", "free"))
    assert recs[pos["read-summary"]]["refs"] == (1 if hold else 0)
    assert pos["wait-free"] < pos["free"] < pos["reuse"] < pos["newcomer-runs"]
    # The record the user read back, and what the victim was when the reader found it.
    expected = {"td_id": vid, "td_generation": gen0, "td_pri": VICTIM_PRI, "td_comm": VICTIM}
    assert info["summary"] == expected, info["summary"]
    # The reaper's sleeps in lwkt_wait_free: switches from it to the idle thread.
    naps = [
        i
        for i in indices(recs, "switch", cpu=1, tid=info["reaper"].td_id, to_thread="idle1")
        if pos["wait-free"] < i < pos["free"]
    ]
    return machine, recs, info, pos, naps, expected


@cocotb.test()
async def without_hold_the_reader_sees_a_reused_thread(dut):
    """No lwkt_hold: lwkt_wait_free returns at once, the structure is freed and reused by the
    newcomer while the reader sleeps in its copyout, and the thread structure the reader copies
    out after the page fault is the newcomer's: the record is torn (same td_id, another
    td_comm, td_generation and priority)."""
    machine, recs, info, pos, naps, expected = await run_race(dut, hold=False)
    # The reaper did not wait: no tick, no sleep, same refs (0) at both ends.
    assert recs[pos["wait-free"]]["refs"] == recs[pos["free"]]["refs"] == 0
    assert info["reap_ticks1"] == info["reap_ticks0"] and not naps
    # Free and reuse happened inside the reader's page fault, before the second copy.
    assert pos["fault"] < pos["free"] < pos["reuse"] < pos["read-thread"], pos
    assert pos["newcomer-runs"] < pos["read-thread"]
    # The race, shown: the summary is the victim, the thread structure the newcomer.
    thread = info["thread"]
    assert thread == {
        "td_id": expected["td_id"],
        "td_generation": expected["td_generation"] + 1,
        "td_pri": NEWCOMER_PRI,
        "td_cpu": 1,
        "td_comm": NEWCOMER,
    }, thread
    torn = sorted(f for f in ("td_comm", "td_generation", "td_pri") if thread[f] != info["summary"][f])
    assert torn == ["td_comm", "td_generation", "td_pri"] and thread["td_id"] == info["summary"]["td_id"]
    cocotb.log.info(f"torn record: summary {info['summary']}, thread {thread}")
    final_checks_ok(machine)


@cocotb.test()
async def with_hold_wait_free_waits_for_the_reader(dut):
    """lwkt_hold before the first copy, lwkt_rele after the last: lwkt_wait_free sleeps a tick at
    a time through the reader's page fault and returns at the first CPU-1 tick after the rele;
    the structure is freed and reused only then, and the record is consistent."""
    machine, recs, info, pos, naps, expected = await run_race(dut, hold=True)
    rele = pos["end"]
    # The reaper's wait spans the reader's sleep: it starts inside the fault, with the reader's
    # reference, and ends (refs 0) after the rele; only then the free and the reuse.
    assert recs[pos["wait-free"]]["refs"] == 1 and recs[pos["free"]]["refs"] == 0
    assert pos["fault"] < pos["wait-free"] < pos["read-thread"] < rele < pos["free"] < pos["reuse"], pos
    assert pos["newcomer-runs"] > rele
    # It slept: switched out a tick at a time (wmesg tdreap), and returned at its first look after
    # the rele (a look that began just before the rele still naps once more: the kernel path from
    # the tick through the test of td_refs to the nap is a few hundred cycles).
    ticks = info["reap_ticks1"] - info["reap_ticks0"]
    assert ticks >= 2 and len(naps) == ticks, (ticks, len(naps))
    assert len([i for i in naps if i > rele]) <= 1
    assert recs[pos["free"]]["cycle"] - recs[rele]["cycle"] <= PERIOD + KERNEL_PATH_CYCLES
    # The record is whole: both halves describe the victim.
    assert info["thread"] == {**expected, "td_cpu": 1}, info["thread"]
    assert info["summary"] == expected
    final_checks_ok(machine)
