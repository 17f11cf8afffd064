"""The seeded random workload (``--scenario random``): the spec of ``sim/contract/random_spec.py``
run on the SoC, and the checks of its outcome."""

from __future__ import annotations

from firmware.device import device_take
from firmware.ram_layout import Guard
from firmware.thread import TDF, TDPRI_KERN_DAEMON, TDPRI_KERN_USER, TDPRI_USER_NORM
from firmware.watchdog import start_mplock_watchdog
from hdl import memory_map as mm
from sim.contract.random_spec import N_QUEUES, N_TOKENS, RandomSpec, generate_spec
from sim.tb.scenarios.base import Check, register
from sim.tb.scenarios.smp import SmpScenario

__all__ = ["RandomWorkload"]

#: A migrate operation looks this many times for a waiter to pull, this many cycles apart.
_MIGRATE_LOOKS, _MIGRATE_GAP = 6, 150


@register
class RandomWorkload(SmpScenario):
    name = "random"
    hardclock_period = 500

    def __init__(self, seed=1):
        super().__init__(seed)
        self.spec: RandomSpec | None = None
        self.token_ops = [0] * N_TOKENS
        self.token_values = [0] * N_TOKENS
        self.mplock_ops = 0
        self.mplock_value = 0
        self.notes_sent = 0
        self.notes_received = 0
        self.tickets_given = [0] * N_QUEUES
        self.tickets_taken = [0] * N_QUEUES
        self.device_requests: dict[int, int] = {}
        self.device_serviced: dict[int, int] = {}
        self.service_rounds = 0
        self.spurious_seen = 0
        self.victim_holding = False
        self.migrations = 0
        self.recovered = False
        self.deaf_done = False
        self.children_reaped = 0
        self.children_spawned = 0
        self.pawn_moves = 0
        self.offers = 0
        self.kicks = 0

    def use_spec(self, data: dict) -> None:
        """Run this spec (checked by sim/contract/spec_check.py) instead of drawing one from the seed."""
        self.spec = RandomSpec.from_dict(data)

    def attach(self, system, devices, counters):
        super().attach(system, devices, counters)
        if self.spec is None:
            self.spec = generate_spec(self.seed, system.ncpu, system.faults)
        if self.spec.ncpu != system.ncpu:
            raise ValueError(f"the workload spec is for {self.spec.ncpu} CPUs, the SoC has {system.ncpu}")
        # Followed as the kernel records them (a long run's trace is on disk by the end).
        self._going_to: dict[int, int] = {}
        self._moved_wrong: list[tuple] = []
        self._busted: set[int] = set()  # the CPUs whose MP lock a BUST freed
        system.record_observers.append(self._follow_records)
        self.device_requests = {d.line: len(d.gaps) for d in self.spec.devices}
        self.device_serviced = {d.line: 0 for d in self.spec.devices}
        self.service_rounds = 0

    async def boot(self, k):
        me = k.gd_cpuid
        system = self.system
        if me == 0:
            self.tokens = [system.new_token(f"tok{t}") for t in range(N_TOKENS)]
            self.queues = [system.new_waitqueue(f"queue{q}") for q in range(N_QUEUES)]
            # The workload's shared words (firmware/ram_layout.py), each under what guards it.
            self.token_counter = [
                system.new_data(f"random.tok{t}.counter", 1, tok) for t, tok in enumerate(self.tokens)
            ]
            self.mplock_counter = system.new_data("random.mplock.counter", 1, "mplock")
            self.tickets = [
                system.new_data(f"random.queue{q}.tickets", 1, queue.wa_token) for q, queue in enumerate(self.queues)
            ]
            # Flags, each written by one thread and polled by another.
            self.stopped_flag = system.new_data("random.victim_stopped")  # cpu-stop: the victim stopped
            self.deaf_flag = system.new_data("random.deaf_phase")  # fifo-full: 1 sender ready, 2 section runs
            system.register_ipi("random_note", self._note)
            system.register_ipi("random_pawn_done", self._pawn_done)
            # Each CPU's pawn (a thread others deschedule and schedule again) publishes its record
            # here; the deschedules done to it are counted by that CPU alone (IPI handler).
            self.pawn_words = [
                system.new_data(f"random.pawn[{cpu}]", 2, Guard("writer", cpu)) for cpu in range(system.ncpu)
            ]
            # A parent blocks here until its zombie child has left the CPU.
            self.exitqs = [
                system.new_waitqueue(f"exitq{cpu}") if self._reaps_on(cpu) else None for cpu in range(system.ncpu)
            ]
            if self.spec.victim is not None:
                await start_mplock_watchdog(k)
                await self.workload.spawn(
                    k, self._after_stop, None, comm="needs-mplock", pri=TDPRI_USER_NORM, mpsafe=True
                )
        for device in self.spec.devices:
            if device.cpu == me:
                await k.cpu.write(mm.ROUTE.addr("ROUTE", index=device.line), me)
                await k.register_ithread(
                    device.line, self._service, name=f"ithread{device.line}", pri=device.pri, mpsafe=device.mpsafe
                )
                # The run ends with the workload: let it include the device's requests.
                await self.workload.spawn(
                    k, self._await_device, device.line, comm=f"devwait{device.line}", pri=TDPRI_USER_NORM, mpsafe=True
                )
        if self._desched_count(me):
            # The lowest workload priority: it only has to be there, never to starve anyone.
            pawn = await self.workload.spawn(
                k, self._pawn, self._desched_count(me), comm=f"pawn{me}", pri=TDPRI_USER_NORM, mpsafe=True
            )
            await k.cpu.write(self.pawn_words[me], pawn.td_rec)
        if me == self.spec.victim:
            await k.lwkt_create(self._victim, None, comm=f"victim{me}", pri=TDPRI_KERN_DAEMON, mpsafe=True)
        if self.spec.deaf and self.spec.deaf[0] == me:
            await self.workload.spawn(
                k, self._deaf, self.spec.deaf[1], comm=f"deaf{me}", pri=TDPRI_KERN_USER, mpsafe=True
            )
        for index, thread in enumerate(self.spec.threads):
            if thread.cpu == me:
                await self.workload.spawn(
                    k, self._program, thread.ops, comm=f"r{me}.{index}", pri=thread.pri, mpsafe=True
                )

    def _desched_count(self, cpu: int) -> int:
        return sum(op[0] == "desched" and op[1] == cpu for t in self.spec.threads for op in t.ops)

    def _reaps_on(self, cpu: int) -> bool:
        # A reaping thread may have moved: any CPU that may run one gets a queue.
        reaps = any(op[0] == "reap" for t in self.spec.threads for op in t.ops)
        return reaps and cpu != self.spec.victim

    # -- the operations ----------------------------------------------------------------------------

    async def _program(self, td, ops):
        for op in ops:
            await self._run_op(td, op)

    async def _run_op(self, td, op):
        # A thread may be moved to another CPU while it blocks: td.k is the kernel it runs on now.
        k = td.k
        kind = op[0]
        if kind == "work":
            await k.cpu.work(op[1])
        elif kind == "yield":
            await k.lwkt_yield()
        elif kind == "crit":
            k.crit_enter()
            await k.cpu.work(op[1])
            await k.crit_exit()
        elif kind == "token":
            t = op[1]
            await k.lwkt_gettoken(self.tokens[t])
            value = await k.cpu.read(self.token_counter[t])
            await k.cpu.work(op[2])
            await k.cpu.write(self.token_counter[t], value + 1)
            self.token_values[t] = value + 1
            self.token_ops[t] += 1
            await k.lwkt_reltoken(self.tokens[t])
        elif kind == "mplock":
            await k.get_mplock()
            value = await k.cpu.read(self.mplock_counter)
            await k.cpu.work(op[1])
            await k.cpu.write(self.mplock_counter, value + 1)
            self.mplock_value = value + 1
            self.mplock_ops += 1
            await k.rel_mplock()
        elif kind == "note":
            k.crit_enter()
            await k.lwkt_send_ipiq(op[1], "random_note", 0)
            self.notes_sent += 1
            await k.crit_exit()
        elif kind == "v":
            await self._give_ticket(k, op[1])
        elif kind == "p":
            await self._take_ticket(td, op[1])
        elif kind == "migrate":
            await self._pull_waiter(td, op[1])
        elif kind == "spawn":
            # The child exits normally: its structure goes to this CPU's free cache, and the next
            # thread created here reuses it.
            self.children_spawned += 1
            await self.workload.spawn(k, self._child, op[1], comm=f"child{k.gd_cpuid}", pri=td.td_pri & 31, mpsafe=True)
        elif kind == "reap":
            await self._reap(td, op[1])
        elif kind == "desched":
            await self._move_pawn(td, op[1], op[2])
        elif kind == "offer":
            await self._offer(td, op[1], bool(op[2]))
        elif kind == "wake":
            await self._wake_waiter(td, op[1])
        elif kind == "burst":
            # Aim the burst at the CPU while it sits in its long critical section.
            flag = self.deaf_flag
            await k.cpu.write(flag, 1)
            while await k.cpu.read(flag) != 2:  # spin: yielding here could miss the window
                await k.cpu.work(10)
            back = k.gd_cpuid + 1 if len(op) > 3 and op[3] else 0
            k.crit_enter()
            for _ in range(op[2]):
                await k.lwkt_send_ipiq(op[1], "random_note", back)
                self.notes_sent += 1
            await k.crit_exit()
        else:
            k.panic(f"random workload: unknown operation {op!r}")

    async def _give_ticket(self, k, q):
        queue = self.queues[q]
        await k.lwkt_gettoken(queue.wa_token)
        address = self.tickets[q]
        await k.cpu.write(address, await k.cpu.read(address) + 1)
        self.tickets_given[q] += 1
        await k.lwkt_reltoken(queue.wa_token)
        await k.lwkt_signal(queue)

    async def _take_ticket(self, td, q):
        queue = self.queues[q]
        address = self.tickets[q]
        while True:
            k = td.k  # blocking may have moved the thread to another CPU
            await k.lwkt_gettoken(queue.wa_token)
            tickets = await k.cpu.read(address)
            if tickets:
                await k.cpu.write(address, tickets - 1)
                self.tickets_taken[q] += 1
                await k.lwkt_reltoken(queue.wa_token)
                return
            gen = await k.wq_get(queue, "wa_gen")
            await k.lwkt_reltoken(queue.wa_token)
            await k.lwkt_block(queue, f"queue{q}", gen)

    async def _pull_waiter(self, td, q):
        """Move a thread of another CPU that is blocked on a queue (queue ``q`` first) to this CPU: it
        runs here when it is woken. The queue's token keeps the waiter where it is; lwkt_acquire
        also needs the MP lock, taken only once there is a waiter to move (waiting for it may lose
        the token, so the waiter is looked at again after). Looks a few times, a while apart."""
        for _ in range(_MIGRATE_LOOKS):
            for queue in self.queues[q:] + self.queues[:q]:
                k = td.k
                await k.lwkt_gettoken(queue.wa_token)
                waiter = await self._remote_waiter(queue, k)
                if waiter is not None:
                    await k.get_mplock()
                    k = td.k
                    await k.lwkt_regettoken(queue.wa_token)
                    waiter = await self._remote_waiter(queue, k)
                    if waiter is not None:
                        await k.lwkt_acquire(k.system.thread_at(waiter))
                        self.migrations += 1
                    await k.rel_mplock()
                await k.lwkt_reltoken(queue.wa_token)
                if waiter is not None:
                    return
            k = td.k
            await k.cpu.work(_MIGRATE_GAP)
            await k.lwkt_yield()

    @staticmethod
    async def _remote_waiter(queue, k) -> int | None:
        """The record of the first thread on ``queue`` that belongs to another CPU (token held)."""
        for record in await k.waitq_records(queue):
            if await k.td_get(record, "td_cpu") != k.gd_cpuid:
                return record
        return None

    async def _note(self, k, arg):
        self.notes_received += 1
        if arg and arg - 1 != k.gd_cpuid:
            # Sent back from inside lwkt_process_ipiq: when the FIFO back is half full the send
            # drains this CPU's queues again, nested, and must skip the one being run.
            self.notes_sent += 1
            await k.lwkt_send_ipiq(arg - 1, "random_note", 0)

    async def _wake_waiter(self, td, q):
        """lwkt_schedule a thread blocked on queue ``q`` (a wake-up without a ticket, like a timeout:
        it looks again and blocks again). lwkt_schedule takes the queue's token with lwkt_trytoken,
        which fails when another CPU owns it; the owner is then asked to do it."""
        k = td.k
        queue = self.queues[q]
        await k.lwkt_gettoken(queue.wa_token)
        records = await k.waitq_records(queue)
        await k.lwkt_reltoken(queue.wa_token)
        if records:
            # A while later: by then another CPU may own the token (or have woken the thread).
            await k.cpu.work(self.rng_of(k).randint(20, 300))
            k = td.k
            await k.lwkt_schedule(k.system.thread_at(records[0]))

    async def _child(self, td, cycles):
        await td.k.cpu.work(cycles)

    async def _reap(self, td, cycles):
        """Create a child that ends as a zombie (exit1: off the run queue with TDF_EXITED, its
        structure left to the parent), wait for it, then reap it as wait1() does: lwkt_wait_free
        and lwkt_free_thread, which caches the structure or frees it when the cache is full."""
        k = td.k
        exitq = self.exitqs[k.gd_cpuid]
        state = {}

        async def zombie(ctd, arg):
            ck = ctd.k
            await ck.cpu.work(cycles)
            ck.crit_enter()
            await ck.lwkt_deschedule_self()
            ctd.td_flags |= TDF.EXITED
            await ck.lwkt_signal(exitq)
            await ck.lwkt_switch(_exiting=True)  # never returns

        # Created stopped, so the generation is read before it can run.
        child = await k.lwkt_create(
            zombie, None, tdflags=TDF.STOPREQ, comm=f"zombie{k.gd_cpuid}", pri=td.td_pri & 31, mpsafe=True
        )
        state["child"] = child
        gen = await k.waitq_gen(exitq)
        await k.lwkt_schedule(child)
        while not child.td_flags & TDF.EXITED:  # the child is this CPU's: its flags are ours to read
            gen = await k.lwkt_block(exitq, f"reap{k.gd_cpuid}", gen)
            k = td.k
        await k.lwkt_wait_free(child)
        await k.lwkt_free_thread(child)
        self.children_reaped += 1

    async def _pawn(self, td, expected):
        """Runs until every deschedule aimed at it is done (counted by its own CPU's IPI handler)."""
        k = td.k
        me = k.gd_cpuid
        while await k.cpu.read(self.pawn_words[me] + 4) < expected:
            await k.cpu.work(40)
            await k.lwkt_yield()

    async def _pawn_done(self, k, arg):
        word = self.pawn_words[k.gd_cpuid] + 4
        await k.cpu.write(word, await k.cpu.read(word) + 1)

    async def _move_pawn(self, td, cpu, cycles):
        """Deschedule CPU ``cpu``'s pawn (by IPI when it is another CPU's), wait, schedule it again,
        then tell its CPU, on the same FIFO, so the pawn ends only after the schedule arrived."""
        k = td.k
        while not (record := await k.cpu.read(self.pawn_words[cpu])):
            await k.cpu.work(50)
            await k.lwkt_yield()
            k = td.k
        pawn = k.system.thread_at(record)
        await k.lwkt_deschedule(pawn)
        await k.cpu.work(cycles)
        k = td.k
        await k.lwkt_schedule(pawn)
        self.pawn_moves += 1
        if k.gd_cpuid == cpu:
            await self._pawn_done(k, 0)
        else:
            k.crit_enter()
            await k.lwkt_send_ipiq(cpu, "random_pawn_done", 0)
            await k.crit_exit()

    async def _offer(self, td, depth, mplock):
        """Schedule this CPU's interrupt thread from thread context, ``depth`` critical sections
        deep (beyond what lwkt_schedule allows for, so lwkt_preempt misses on critpri), holding the
        MP lock when ``mplock`` (a hit lends its count)."""
        k = td.k
        ithreads = k.ithreads  # this CPU's own interrupt threads, by line
        if not ithreads:  # moved to a CPU without one
            await k.cpu.work(20)
            return
        target = ithreads[min(ithreads)]
        if mplock:
            await k.get_mplock()
        for _ in range(depth):
            k.crit_enter()
        self.offers += 1
        await k.lwkt_schedule(target)
        for _ in range(depth):
            await k.crit_exit()
        if mplock:
            await td.k.rel_mplock()

    async def _service(self, td, line):
        k = td.k
        self.service_rounds += 1  # one per round of an interrupt thread's loop
        # The driver reads the device, acknowledges it and hands over its data; the work after
        # stands for processing that data. None: a spurious interrupt, nothing was pending.
        device = next(d for d in self.spec.devices if d.line == line)
        if device.kick:
            others = [t for other, t in k.ithreads.items() if other != line]
            if others:
                self.kicks += 1
                await k.lwkt_schedule(others[0])
        if await device_take(k, line) is None:
            self.spurious_seen += 1
            return
        await k.cpu.work(self.rng_of(k).randint(5, device.work))
        self.device_serviced[line] += 1

    async def _await_device(self, td, line):
        # Yield between looks: an interrupt thread that could not preempt (another one was
        # running) is only on the run queue, and a busy loop here would starve it.
        while await self.devices_serviced(td.k, [line]) < self.device_requests[line]:
            await td.k.cpu.work(100)
            await td.k.lwkt_yield()

    async def _victim(self, td, arg):
        k = td.k
        await k.cpu.work(self.rng_of(k).randint(50, 300))
        await k.get_mplock()
        self.victim_holding = True
        await k.cpu.write(self.stopped_flag, 1)
        k.event("cpu_stop")
        await k.cpu.freeze()

    async def _after_stop(self, td, arg):
        """Needs the MP lock after the victim stopped with it: only the watchdog's BUST lets it on."""
        k = td.k
        while not await k.cpu.read(self.stopped_flag):
            await k.cpu.work(50)
            await k.lwkt_yield()
        await k.get_mplock()
        self.recovered = True
        await k.rel_mplock()

    async def _deaf(self, td, cycles):
        k = td.k
        flag = self.deaf_flag
        while await k.cpu.read(flag) != 1:  # until the burst sender is ready
            await k.cpu.work(10)
            await k.lwkt_yield()
        k.crit_enter()
        await k.cpu.write(flag, 2)
        await k.cpu.work(cycles)
        self.deaf_done = True
        await k.crit_exit()

    def device_models(self):
        return [self.devices.request_after(d.line, d.gaps) for d in self.spec.devices]

    def device_lines(self):
        return [d.line for d in self.spec.devices]

    # -- checks -----------------------------------------------------------------------------------

    def _follow_records(self, kernel, record: dict) -> None:
        """What the checks need of the trace, as the kernel records it: the CPUs BUST freed, and
        (thread, acquiring cpu, cpu of its next record) for moves the thread did not follow (a thread
        may be moved again before it runs: the last move counts)."""
        if record["event"] == "mplock_bust":
            self._busted.add(record["stopped_cpu"])
        if record["event"] == "acquire":
            self._going_to[record["target"]] = record["cpu"]
        elif record["tid"] in self._going_to:
            cpu = self._going_to.pop(record["tid"])
            if record["cpu"] != cpu:
                self._moved_wrong.append((record["tid"], cpu, record["cpu"]))

    def checks(self):
        system = self.system
        checks = [
            Check(
                "token counters match their sections",
                self.token_values == self.token_ops,
                f"counters {self.token_values}, sections {self.token_ops}",
            ),
            Check(
                "MP-lock counter matches its sections",
                self.mplock_value == self.mplock_ops,
                f"{self.mplock_value} of {self.mplock_ops}",
            ),
            Check(
                "every ticket given was taken",
                self.tickets_given == self.tickets_taken,
                f"given {self.tickets_given}, taken {self.tickets_taken}",
            ),
            Check(
                "every note IPI ran",
                self.notes_received == self.notes_sent,
                f"{self.notes_received} of {self.notes_sent}",
            ),
            Check(
                "every device request serviced",
                self.device_serviced == self.device_requests,
                f"{self.device_serviced} of {self.device_requests}",
            ),
        ]
        moved = self._moved_wrong
        checks.append(
            Check(
                "a thread moved by lwkt_acquire next ran on the CPU that acquired it",
                not moved,
                f"{self.migrations} moves" + (f"; wrong: {moved[:3]}" if moved else ""),
            )
        )
        if self.spec.victim is not None:
            busts = system.sysctl("lwkt.mplock_busts")
            busted = sorted(self._busted)
            checks.append(
                Check(
                    "a CPU stopped holding the MP lock was recovered with BUST",
                    self.recovered and busts == 1 and busted == [self.spec.victim],
                    f"victim cpu {self.spec.victim}, busts {busts}, recovered {self.recovered}",
                )
            )
        if "delayed-complete" in system.faults and self.spec.devices:
            # The fault holds back every completion of an interrupt thread's round; a round may be
            # cut short by the end of the run, at most one per interrupt thread.
            delayed = sum(k.counters.get("delayed_completions", 0) for k in system.kernels)
            checks.append(
                Check(
                    "every interrupt thread's completion was delayed (fault delayed-complete)",
                    0 <= self.service_rounds - delayed <= len(self.spec.devices),
                    f"{delayed} delayed of {self.service_rounds} rounds",
                )
            )
        if self.spec.deaf:
            checks.append(
                Check(
                    "IPIs at a CPU in a long critical section filled the FIFO half way",
                    system.sysctl("lwkt.ipiq_fifofull") > 0 or system.fifo_depth > 48,
                    f"ipiq_fifofull={system.sysctl('lwkt.ipiq_fifofull')}",
                )
            )
        return checks
