"""cocotb tests of the MP-lock watchdog (firmware/watchdog.py) on a 4-CPU SoC.

- A CPU that holds the MP lock through a long token wait, with IPIs at it and MP-lock tries from
  another CPU, keeps its lock: it is busy in the kernel, not stopped. (The first
  watchdog trusted a heartbeat written at hardclock, which a critical section defers: it freed
  this CPU's lock.)
- A CPU that stops holding the lock loses it with BUST, within the documented detection time,
  and the CPU waiting for the lock gets it.
- A watchdog told to call a short quiet stretch "stopped" frees a live CPU's lock, and the
  checker that no BUST frees a live CPU's lock stops the run at that CPU's next access.
"""

from __future__ import annotations

import cocotb

from firmware.watchdog import STOPPED_QUIET_CYCLES, start_mplock_watchdog
from firmware.thread import TDPRI_KERN_USER
from sim.tb.directed.kernel_helpers import Done, final_checks_ok, owner, smp_machine, until

#: The hardclock period of these runs (the random workload's).
PERIOD = 500
#: How long CPU 2 keeps the token inside its critical section: CPU 1 waits about that long.
HOLD = 3 * STOPPED_QUIET_CYCLES


async def _noise(k, info, stop_key):
    """CPU 3: IPIs at CPU 1 and failed MP-lock TRYs until ``info[stop_key]`` is set. (Not at CPU 2,
    which stays in a critical section: its FIFO would fill and hold this sender until it leaves.)"""
    while stop_key not in info:
        k.crit_enter()
        await k.lwkt_send_ipiq(1, "noop", 0)
        await k.crit_exit()
        info["tries"] = info.get("tries", 0) + (not await k.cpu_try_mplock())
        await k.cpu.work(40)


@cocotb.test()
async def busy_owner_keeps_the_mp_lock(dut):
    machine = await smp_machine(dut, hardclock_period=PERIOD)
    system = machine.system
    tok = system.new_token("tok")
    info = {}
    done = Done(system, 3)

    async def noop(k, arg):
        info["noops"] = info.get("noops", 0) + 1

    system.register_ipi("noop", noop)

    async def holder(td, arg):  # CPU 2: the token, deaf for HOLD cycles
        k = td.k
        await k.lwkt_gettoken(tok)  # the token starts on CPU 0: asked by IPI
        info["held"] = True
        await k.cpu.work(HOLD)  # inside lwkt_gettoken's critical section
        await k.lwkt_reltoken(tok)
        done()

    async def waiter(td, arg):  # CPU 1: the MP lock, then the token
        k = td.k
        await until(k, lambda: info.get("held"), "CPU 2 to hold the token", limit=10_000)
        await k.get_mplock()
        info["owner_before"] = owner(system)
        info["ticks_before"] = k.hardclock_ticks
        start = k.cycle
        info["wait_start"] = start
        await k.lwkt_gettoken(tok)
        info["waited"] = k.cycle - start
        info["ticks_in_wait"] = k.hardclock_ticks - info["ticks_before"]
        info["owner_after"] = owner(system)
        await k.lwkt_reltoken(tok)
        await k.rel_mplock()
        done()

    async def noise(td, arg):  # CPU 3
        k = td.k
        await until(k, lambda: "owner_before" in info, "CPU 1 to take the MP lock", limit=20_000)
        await _noise(k, info, "waited")
        done()

    async def boot0(k):
        await start_mplock_watchdog(k)

    async def boot1(k):
        await k.lwkt_create(waiter, comm="waiter", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot2(k):
        await k.lwkt_create(holder, comm="holder", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot3(k):
        await k.lwkt_create(noise, comm="noise", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({0: boot0, 1: boot1, 2: boot2, 3: boot3})
    assert await machine.run(HOLD + 40_000) == "done", system.panic
    # The wait was long against the watchdog's threshold, CPU 1 held the lock all through it,
    # and its hardclock was deferred all that time (the heartbeat that fooled the first design).
    assert info["owner_before"] == 1 and info["owner_after"] == 1
    assert info["waited"] >= 2 * STOPPED_QUIET_CYCLES, info
    assert info["ticks_in_wait"] <= 1, info
    # The SoC was contended: IPIs landed on CPU 1 while it waited, CPU 3 kept trying for the lock.
    assert info["noops"] > 100 and info["tries"] > 100, info
    # The watchdog looked at the lock many times during the wait, and never freed it.
    wakes = [
        r
        for r in system.trace.events("tsleep_wake")
        if r["cpu"] == 0 and info["wait_start"] < r["cycle"] < info["wait_start"] + info["waited"]
    ]
    assert len(wakes) >= info["waited"] // PERIOD // 2, len(wakes)
    assert system.trace.events("mplock_bust") == [] and machine.checks.dead_cpus == []
    assert system.hardware.mplock_busts() == 0
    final_checks_ok(machine)


@cocotb.test()
@cocotb.parametrize(period=[PERIOD, 6_000])
async def stopped_owner_loses_the_mp_lock(dut, period):
    """At the workloads' period the threshold is STOPPED_QUIET_CYCLES; at a long period it is four
    periods (written out here, not taken from the kernel)."""
    threshold = max(STOPPED_QUIET_CYCLES, 4 * period)
    machine = await smp_machine(dut, hardclock_period=period)
    system = machine.system
    info = {}
    done = Done(system, 1)

    async def victim(td, arg):  # CPU 3: takes the lock and stops
        k = td.k
        await k.get_mplock()
        info["stopped"] = k.cycle
        await k.cpu.freeze()

    async def needs_lock(td, arg):  # CPU 2: needs the lock after the victim stopped
        k = td.k
        await until(k, lambda: "stopped" in info, "CPU 3 to stop", limit=10_000)
        await k.get_mplock()
        info["got"] = k.cycle
        await k.rel_mplock()
        done()

    async def boot0(k):
        await start_mplock_watchdog(k)

    async def boot2(k):
        await k.lwkt_create(needs_lock, comm="needs-lock", pri=TDPRI_KERN_USER, mpsafe=True)

    async def boot3(k):
        await k.lwkt_create(victim, comm="victim", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({0: boot0, 2: boot2, 3: boot3})
    assert await machine.run(threshold + period + 20_000) == "done", system.panic
    [bust] = system.trace.events("mplock_bust")
    assert bust["cpu"] == 0 and bust["stopped_cpu"] == 3 and threshold <= bust["quiet"] < threshold + period
    # The documented detection time: the threshold, one period, the watchdog's own few accesses.
    delay = bust["cycle"] - info["stopped"]
    dut._log.info("WATCHDOG detection: BUST %d cycles after the owner stopped (quiet %d)", delay, bust["quiet"])
    assert threshold <= delay <= threshold + period + 300, delay
    assert info["got"] > bust["cycle"]
    assert machine.checks.dead_cpus == [3] and system.hardware.mplock_busts() == 1
    final_checks_ok(machine)


@cocotb.test()
async def a_bust_of_a_live_cpu_stops_the_run(dut):
    machine = await smp_machine(dut, hardclock_period=PERIOD)
    system = machine.system

    async def worker(td, arg):  # CPU 1: holds the lock through a long computation
        k = td.k
        await k.get_mplock()
        k.crit_enter()  # no hardclock either: the port is quiet
        await k.cpu.work(3000)
        await k.crit_exit()
        await k.rel_mplock()
        system.finish()

    async def boot0(k):
        await start_mplock_watchdog(k, quiet_cycles=600)  # far too short: live work looks stopped

    async def boot1(k):
        await k.lwkt_create(worker, comm="worker", pri=TDPRI_KERN_USER, mpsafe=True)

    machine.start({0: boot0, 1: boot1})
    assert await machine.run(20_000) == "panic"
    assert (
        system.panic.cpu == 1
        and "freed cpu 1's lock with BUST" in system.panic.message
        and "is live" in system.panic.message
    ), system.panic.message
    assert machine.checks.dead_cpus == [1]
