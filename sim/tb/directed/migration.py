"""A thread that has run, blocked and been preempted moves from CPU to CPU with lwkt_acquire and
then runs on the new CPU: its kernel, its bus port, its debug registers. On a 4-CPU SoC, under
the default cost model, with other work running on every CPU.
"""

from __future__ import annotations

import cocotb

from firmware.device import device_take
from firmware.thread import TDPRI_INT_MED, TDPRI_KERN_DAEMON, TDPRI_KERN_USER
from hdl import memory_map as mm
from sim.tb.directed.kernel_helpers import Device, indices, mark
from sim.tb.directed.kernel_helpers import Done, final_checks_ok, smp_machine

MAX_CYCLES = 150_000
NCPU = 4
HOPS = 12
LINE = 0


@cocotb.test()
async def a_thread_migrates_across_every_cpu(dut):
    """The traveller blocks on a wait queue; the puller thread of the next CPU takes the MP lock
    and the queue's token, acquires it (lwkt_acquire), and signals the queue, which makes it
    runnable there. Twelve hops, three times round four CPUs, while busy threads on every CPU
    work, yield and send IPIs and a device interrupts CPU 0 (preempting the traveller there)."""
    machine = await smp_machine(dut)
    system = machine.system
    assert system.ncpu == NCPU
    dev = Device(dut)
    hop = system.new_waitqueue("hop")
    info = {"path": [], "want": None, "notes": 0, "busy_rounds": 0, "preempted_on": []}
    done = Done(system, 1 + NCPU)

    async def traveller(td, arg):
        for n in range(HOPS + 1):
            k = td.k
            # Where it runs now, seen three ways: its kernel, the port its access comes in on
            # (SYS.CPUID is answered per port), and that CPU's debug register.
            cpuid = await k.cpu.read(mm.SYS.CPUID)
            shown = await k.cpu.read(mm.DEBUG.CURTHREAD)
            probe = int(machine.bench.probe(f"cpu{k.gd_cpuid}.debug.curthread").value)
            info["path"].append((k.gd_cpuid, cpuid, shown, probe, await k.td_get(td, "td_cpu")))
            mark(td, f"at{n}", where=k.gd_cpuid)
            if k.gd_cpuid == 0:
                dev.raise_after(LINE, 5)  # preempted by CPU 0's ithread here
            await k.cpu.work(60)
            if n == HOPS:
                break
            info["want"] = (k.gd_cpuid + 1) % NCPU
            await k.lwkt_block(hop, "hop", await k.waitq_gen(hop))
        info["finished"] = True
        done()

    async def puller(td, arg):
        while not info.get("finished"):
            k = td.k
            if info["want"] == k.gd_cpuid:
                await k.get_mplock()  # lwkt_acquire changes a thread other CPUs share
                await k.lwkt_gettoken(hop.wa_token)
                waiting = await k.waitq_records(hop)
                moved = system.thread_at(waiting[0]) if waiting and info["want"] == k.gd_cpuid else None
                if moved is not None:
                    await k.lwkt_acquire(moved)
                    info["want"] = None
                await k.lwkt_reltoken(hop.wa_token)
                await k.rel_mplock()
                if moved is not None:
                    mark(td, "pulled", target=moved.td_id)
                    await k.lwkt_signal(hop)  # runnable here now: the thread is this CPU's
            await k.cpu.work(20)
            await k.lwkt_yield()
        done()

    async def note(k, arg):
        info["notes"] += 1

    async def busy(td, arg):
        while not info.get("finished"):
            k = td.k
            await k.cpu.work(40)
            k.crit_enter()
            await k.lwkt_send_ipiq((k.gd_cpuid + 1) % NCPU, "note", 0)
            await k.crit_exit()
            info["busy_rounds"] += 1
            await k.lwkt_yield()

    async def handler(td, line):
        preempted = td.td_preempted
        if preempted is not None:
            info["preempted_on"].append((preempted.td_comm, td.k.gd_cpuid))
        await device_take(td.k, line)
        await td.k.cpu.work(10)

    async def boot(k):
        if k.gd_cpuid == 0:
            system.register_ipi("note", note)
            await k.register_ithread(LINE, handler, pri=TDPRI_INT_MED)
            # Not MP-safe: it holds the MP lock (count 1) wherever it runs, and the count moves with it.
            info["traveller"] = await k.lwkt_create(traveller, comm="traveller", pri=TDPRI_KERN_DAEMON)
        await k.lwkt_create(puller, comm=f"puller{k.gd_cpuid}", pri=TDPRI_KERN_USER, mpsafe=True)
        await k.lwkt_create(busy, comm=f"busy{k.gd_cpuid}", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({cpu: boot for cpu in range(NCPU)})
    assert await machine.run(MAX_CYCLES) == "done", system.panic
    await machine.quiesce()
    recs = system.trace.sorted_records()
    t = info["traveller"]
    expected = [n % NCPU for n in range(HOPS + 1)]
    # Each stop: the kernel it runs on, the CPUID its own port answers, CURTHREAD read through
    # that port and probed in that CPU's RTL, and td_cpu: all the new CPU.
    assert [p[0] for p in info["path"]] == expected, info["path"]
    for kernel_cpu, cpuid, shown, probe, td_cpu in info["path"]:
        assert cpuid == td_cpu == kernel_cpu and shown == probe == t.td_id, info["path"]
    # The trace: its records come from the CPU it is on, each move an acquire by the next CPU.
    for n, cpu in enumerate(expected):
        (at,) = [r for r in recs if r["event"] == "mark" and r.get("label") == f"at{n}"]
        assert at["cpu"] == cpu and at["tid"] == t.td_id
    acquires = [(r["cpu"], r["from_cpu"]) for r in recs if r["event"] == "acquire" and r["target"] == t.td_id]
    assert acquires == [(cpu, (cpu - 1) % NCPU) for cpu in expected[1:]], acquires
    # What each new CPU read from the thread's record: its priority, the two critical sections it
    # left in (lwkt_block's and lwkt_switch's), and its MP count.
    moved = {(r["pri"], r["crit"], r["mpcount"]) for r in recs if r["event"] == "acquire" and r["target"] == t.td_id}
    assert moved == {(TDPRI_KERN_DAEMON, 2, 1)}, moved
    assert len(acquires) >= 10
    # It ran, blocked and was preempted on the CPUs it left.
    blocks = [r["cpu"] for r in recs if r["event"] == "block" and r["tid"] == t.td_id]
    assert blocks == expected[:-1]
    assert ("traveller", 0) in info["preempted_on"]
    # Switches to it happen on the CPU it belongs to at the time.
    for i in indices(recs, "switch", to=t.td_id):
        prior = [
            r for r in recs[:i] if r["event"] == "mark" and r.get("label", "").startswith("at") and r["tid"] == t.td_id
        ]
        if prior:
            assert recs[i]["cpu"] in (prior[-1]["cpu"], (prior[-1]["cpu"] + 1) % NCPU)
    # Other work ran all along, on every CPU.
    assert info["busy_rounds"] >= 4 * NCPU and info["notes"] == machine.checks.ipi.received_count - len(
        [r for r in recs if r["event"] == "ipi_receive" and r["func"] != "note"]
    )
    assert t.td_gd.gd_cpuid == expected[-1] and t in t.td_gd.gd_tdallq
    # A CPU the thread left still lists it until it next walks its own list (no CPU edits
    # another's): then the entry goes.
    for k in system.kernels:
        k.prune_tdallq()
    assert all(t not in k.gd_tdallq for k in system.kernels if k is not t.td_gd)
    final_checks_ok(machine)
