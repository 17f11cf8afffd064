"""SMP scenarios (seed v1.18 on every core)."""

from __future__ import annotations

import random

from hdl import memory_map as mm
from firmware.device import device_take
from firmware.ram_layout import Guard
from firmware.thread import TDPRI_KERN_DAEMON, TDPRI_KERN_USER, TDPRI_USER_NORM
from sim.tb.scenarios.base import Check, Scenario, register

__all__ = ["SmpIdle", "SmpPingpong", "SmpIpiStorm", "SmpMplock", "SmpMixed"]


class SmpScenario(Scenario):
    def __init__(self, seed=1):
        super().__init__(seed)
        self._cpu_rngs: dict[int, random.Random] = {}

    def start_functions(self):
        return {cpu: self.boot for cpu in range(self.system.ncpu)}

    def rng_of(self, k) -> random.Random:
        """The random stream of CPU ``k``: what one CPU draws never depends on another's timing."""
        if k.gd_cpuid not in self._cpu_rngs:
            self._cpu_rngs[k.gd_cpuid] = random.Random(self.seed * 1009 + k.gd_cpuid)
        return self._cpu_rngs[k.gd_cpuid]

    @staticmethod
    async def devices_serviced(k, lines) -> int:
        """Requests the devices on ``lines`` have had serviced: their SERVICED registers, over the bus."""
        total = 0
        for line in lines:
            total += await k.cpu.read(mm.DEVICE.addr("SERVICED", index=line))
        return total


@register
class SmpIdle(SmpScenario):
    name = "smp-idle"
    ticks = 50

    def start_functions(self):
        return {0: self.boot}

    async def boot(self, k):
        async def count(kernel):
            if all(other.hardclock_ticks >= self.ticks for other in self.system.kernels):
                self.system.finish()

        self.system.hardclock_hooks.append(count)

    def checks(self):
        ticks = [k.hardclock_ticks for k in self.system.kernels]
        switches = sum(k.counters["switch_count"] for k in self.system.kernels)
        return [
            Check(
                "every core's hardclock ticked",
                min(ticks) >= self.ticks,
                f"{min(ticks)} to {max(ticks)} ticks of {self.hardclock_period} cycles",
            ),
            Check("idle cores stayed idle", switches == 0, f"{switches} switches"),
        ]


@register
class SmpPingpong(SmpScenario):
    name = "smp-pingpong"
    rounds = 6

    def __init__(self, seed=1):
        super().__init__(seed)
        self.token = None
        self.final_value = 0

    async def boot(self, k):
        if self.token is None:
            self.token = self.system.new_token("pingpong")
            self.counter = self.system.new_data("pingpong.counter", 1, self.token)
        await self.workload.spawn(k, self._player, None, comm=f"player{k.gd_cpuid}", pri=TDPRI_KERN_USER, mpsafe=True)

    async def _player(self, td, arg):
        k = td.k
        for _ in range(self.rounds):
            await k.lwkt_gettoken(self.token)
            value = await k.cpu.read(self.counter)
            await k.cpu.work(self.rng_of(td.k).randint(5, 20))
            await k.cpu.write(self.counter, value + 1)
            self.final_value = value + 1
            await k.lwkt_reltoken(self.token)
            await k.cpu.work(self.rng_of(td.k).randint(20, 60))

    def checks(self):
        smp = self.counters()["smp"]
        expected = self.rounds * self.system.ncpu
        return [
            Check("counter updated under the token", self.final_value == expected, f"{self.final_value} of {expected}"),
            Check(
                "the token changed hands",
                len(smp["token_handoff_cycles"]) > 0,
                f"{sum(n for _, n in smp['token_handoff_cycles'])} hand-offs",
            ),
        ]


@register
class SmpIpiStorm(SmpScenario):
    name = "smp-ipi-storm"
    per_pair = 12

    def __init__(self, seed=1):
        super().__init__(seed)
        self.received: dict[tuple[int, int], list[int]] = {}
        self.registered = False

    async def boot(self, k):
        if not self.registered:
            self.system.register_ipi("storm_ping", self._ping)
            self.registered = True
            # How many pings each CPU has received: written by that CPU only (its IPI handler).
            self.arrived = [
                self.system.new_data(f"storm.arrived[{cpu}]", 1, Guard("writer", cpu))
                for cpu in range(self.system.ncpu)
            ]
        await self.workload.spawn(k, self._sender, None, comm=f"storm{k.gd_cpuid}", pri=TDPRI_KERN_USER, mpsafe=True)

    async def _ping(self, k, arg):
        source, seq = arg >> 16, arg & 0xFFFF
        self.received.setdefault((source, k.gd_cpuid), []).append(seq)
        word = self.arrived[k.gd_cpuid]
        await k.cpu.write(word, await k.cpu.read(word) + 1)

    async def _sender(self, td, arg):
        k = td.k
        n = self.system.ncpu
        me = k.gd_cpuid
        burst = self.rng_of(td.k).randint(3, 6)
        for first in range(0, self.per_pair, burst):
            # A burst to each CPU in one critical section: the receivers are doing the same, so
            # only the senders' own draining (ipiq_fifofull) keeps the FIFOs moving.
            k.crit_enter()
            for step in range(1, n):
                for seq in range(first, min(first + burst, self.per_pair)):
                    await k.lwkt_send_ipiq((me + step) % n, "storm_ping", me << 16 | seq)
            await k.crit_exit()
            await k.cpu.work(self.rng_of(td.k).randint(1, 4))
        # Stay until every message to this CPU has arrived, taking IPIs meanwhile.
        while await k.cpu.read(self.arrived[me]) < self.per_pair * (n - 1):
            await k.cpu.work(20)

    def checks(self):
        n = self.system.ncpu
        wrong = {pair: seqs for pair, seqs in self.received.items() if seqs != list(range(self.per_pair))}
        complete = len(self.received) == n * (n - 1)
        fifofull = self.system.sysctl("lwkt.ipiq_fifofull")
        checks = [
            Check(
                "every ping arrived once and in order",
                complete and not wrong,
                f"{len(self.received)} pairs, wrong {list(wrong.items())[:2]}",
            ),
            Check(
                "ipiq_count counts every send",
                self.system.sysctl("lwkt.ipiq_count") == self.per_pair * n * (n - 1),
                f"{self.system.sysctl('lwkt.ipiq_count')}",
            ),
        ]
        if self.system.fifo_depth <= 8 and n >= 4:
            checks.append(Check("the FIFOs filled up (ipiq_fifofull > 0)", fifofull > 0, f"ipiq_fifofull={fifofull}"))
        return checks


@register
class SmpMplock(SmpScenario):
    name = "smp-mplock"
    rounds = 5

    def __init__(self, seed=1):
        super().__init__(seed)
        self.counter = 0
        self.counter_word: int | None = None
        self.inside: set[int] = set()
        self.overlaps = 0
        self.mpsafe_steps = 0

    async def boot(self, k):
        if self.counter_word is None:
            self.counter_word = self.system.new_data("mplock.counter", 1, "mplock")
        await self.workload.spawn(k, self._locked, None, comm=f"giant{k.gd_cpuid}", pri=TDPRI_KERN_DAEMON)
        await self.workload.spawn(k, self._mpsafe, None, comm=f"mpsafe{k.gd_cpuid}", pri=TDPRI_USER_NORM, mpsafe=True)

    async def _locked(self, td, arg):
        # Created by lwkt_create with td_mpcount 1: it runs holding the MP lock.
        k = td.k
        for _ in range(self.rounds):
            self.inside.add(k.gd_cpuid)
            if len(self.inside) > 1:
                self.overlaps += 1
            value = await k.cpu.read(self.counter_word)
            await k.get_mplock()  # recursive hold
            await k.cpu.work(self.rng_of(td.k).randint(10, 40))
            await k.rel_mplock()
            await k.cpu.write(self.counter_word, value + 1)
            self.counter = value + 1
            self.inside.discard(k.gd_cpuid)
            await k.lwkt_yield()  # lets the MP-safe thread or another CPU's giant run
        await k.rel_mplock()
        await k.cpu.work(10)

    async def _mpsafe(self, td, arg):
        k = td.k
        for _ in range(self.rounds):
            await k.cpu.work(self.rng_of(td.k).randint(20, 50))
            self.mpsafe_steps += 1
            await k.lwkt_yield()

    def checks(self):
        expected = self.rounds * self.system.ncpu
        smp = self.counters()["smp"]
        return [
            Check(
                "the MP lock serialised the counter",
                self.counter == expected and not self.overlaps,
                f"{self.counter} of {expected}, {self.overlaps} overlaps",
            ),
            Check(
                "MP-safe threads ran", self.mpsafe_steps == self.rounds * self.system.ncpu, f"{self.mpsafe_steps} steps"
            ),
            Check(
                "the lock was contended",
                smp["mplock_contended_tries"] > 0 or self.system.ncpu == 1,
                f"{smp['mplock_contended_tries']} failed tries, {smp['mplock_acquisitions']} acquisitions",
            ),
        ]


@register
class SmpMixed(SmpScenario):
    name = "smp-mixed"
    hardclock_period = 500

    def __init__(self, seed=1):
        super().__init__(seed)
        self.queue = None
        self.token = None
        self.wakeups: dict[int, int] = {}
        self.notes = 0
        self.notes_sent = 0
        self.counter = 0
        self.counted = 0
        self.signals = 0
        self.device_requests = {0: self.rng.randint(2, 4), 1: self.rng.randint(2, 4)}
        self.device_gaps = {
            line: [self.rng.randint(200, 900) for _ in range(n)] for line, n in self.device_requests.items()
        }
        self.serviced = {0: 0, 1: 0}

    async def boot(self, k):
        me = k.gd_cpuid
        if self.queue is None:
            self.queue = self.system.new_waitqueue("mixed")
            self.token = self.system.new_token("shared")
            self.system.register_ipi("mixed_note", self._note)
            self.stop_word = self.system.new_data("mixed.stop", 1)  # a flag: written once, read by all
            self.counter_word = self.system.new_data("mixed.counter", 1, self.token)
            self.wakers_word = self.system.new_data("mixed.wakers_done", 1, self.token)
        lines = [line for line in self.device_requests if line % self.system.ncpu == me]
        for line in lines:
            await k.cpu.write(mm.ROUTE.addr("ROUTE", index=line), me)
            await k.register_ithread(line, self._service, name=f"ithread{line}")
        await self.workload.spawn(k, self._waiter, None, comm=f"waiter{me}", pri=TDPRI_KERN_DAEMON, mpsafe=True)
        await self.workload.spawn(
            k, self._waker, self.rng_of(k).randint(4, 7), comm=f"waker{me}", pri=TDPRI_KERN_USER, mpsafe=True
        )
        await self.workload.spawn(k, self._giant, self.rng_of(k).randint(1, 3), comm=f"giant{me}", pri=TDPRI_USER_NORM)

    async def _note(self, k, arg):
        self.notes += 1

    async def _service(self, td, line):
        await td.k.cpu.work(self.rng_of(td.k).randint(10, 30))
        if await device_take(td.k, line) is not None:  # None: a spurious interrupt
            self.serviced[line] += 1

    def device_models(self):
        return [self.devices.request_after(line, self.device_gaps[line]) for line in self.device_requests]

    async def _stopped(self, k) -> bool:
        return await k.cpu.read(self.stop_word) != 0

    async def _waiter(self, td, arg):
        k = td.k
        while not await self._stopped(k):
            gen = await k.waitq_gen(self.queue)
            if await self._stopped(k):
                break
            new = await k.lwkt_block(self.queue, "mixed", gen)
            if new != gen:
                self.wakeups[k.gd_cpuid] = self.wakeups.get(k.gd_cpuid, 0) + 1

    async def _waker(self, td, rounds):
        k = td.k
        n = self.system.ncpu
        for _ in range(rounds):
            await k.cpu.work(self.rng_of(td.k).randint(20, 80))
            choice = self.rng_of(td.k).random()
            if choice < 0.4:
                await k.lwkt_signal(self.queue)
                self.signals += 1
            elif choice < 0.7:
                await k.lwkt_gettoken(self.token)
                value = await k.cpu.read(self.counter_word)
                await k.cpu.work(self.rng_of(td.k).randint(3, 10))
                await k.cpu.write(self.counter_word, value + 1)
                self.counter = value + 1
                self.counted += 1
                await k.lwkt_reltoken(self.token)
            else:
                k.crit_enter()
                await k.lwkt_send_ipiq(self.rng_of(td.k).randrange(n), "mixed_note", 0)
                self.notes_sent += 1
                await k.crit_exit()
        await k.lwkt_gettoken(self.token)
        done = await k.cpu.read(self.wakers_word) + 1
        await k.cpu.write(self.wakers_word, done)
        await k.lwkt_reltoken(self.token)
        if done == n:
            # Every device request must have been serviced before the waiters are let go: the
            # devices' SERVICED counters say so.
            while await self.devices_serviced(k, self.device_requests) < sum(self.device_requests.values()):
                await k.cpu.work(50)
                await k.lwkt_yield()  # an interrupt thread may be waiting on the run queue
            await k.cpu.write(self.stop_word, 1)
            await k.lwkt_signal(self.queue)

    async def _giant(self, td, rounds):
        k = td.k
        for _ in range(rounds):
            await k.cpu.work(self.rng_of(td.k).randint(10, 30))
            await k.lwkt_yield()
        await k.rel_mplock()

    def checks(self):
        return [
            Check(
                "the shared counter was updated under the token",
                self.counter == self.counted,
                f"{self.counter} of {self.counted}",
            ),
            Check("every note IPI ran", self.notes == self.notes_sent, f"{self.notes} of {self.notes_sent}"),
            Check(
                "every device request serviced",
                self.serviced == self.device_requests,
                f"{self.serviced} of {self.device_requests}",
            ),
            Check(
                "waiters were woken from other CPUs",
                sum(self.wakeups.values()) > 0 or self.signals == 0,
                f"wakeups per cpu {self.wakeups}, {self.signals} signals",
            ),
        ]


@register
class SmpMpFallback(SmpScenario):
    name = "smp-mp-fallback"
    hold_cycles = 3000
    rounds = 6

    def __init__(self, seed=1):
        super().__init__(seed)
        self.steps: dict[int, list[str]] = {}

    async def boot(self, k):
        me = k.gd_cpuid
        if me == 0:
            await self.workload.spawn(k, self._holder, None, comm="holder", pri=TDPRI_KERN_DAEMON)
            return
        # Let CPU 0 take the lock first: its holder runs from its first switch.
        await k.cpu.work(400)
        await self.workload.spawn(k, self._giant, None, comm=f"giant{me}", pri=TDPRI_KERN_USER)
        for name in "ab":
            await self.workload.spawn(k, self._safe, None, comm=f"safe{me}{name}", pri=TDPRI_KERN_USER, mpsafe=True)

    async def _holder(self, td, arg):
        k = td.k
        for _ in range(self.hold_cycles // 100):
            await k.cpu.work(100)  # no yield: the lock stays on CPU 0
        await k.rel_mplock()

    async def _giant(self, td, arg):
        await td.k.cpu.work(20)
        await td.k.rel_mplock()

    async def _safe(self, td, arg):
        for _ in range(self.rounds):
            self.steps.setdefault(td.k.gd_cpuid, []).append(td.td_comm)
            await td.k.cpu.work(self.rng_of(td.k).randint(20, 40))
            await td.k.lwkt_yield()

    def checks(self):
        trace = self.system.trace
        fallbacks = [r for r in trace.events("pick") if r["cpu"] != 0 and r["tried"] is False and r["to"] != r["idle"]]
        alternated = all(any(a != b for a, b in zip(seq, seq[1:], strict=False)) for seq in self.steps.values())
        return [
            Check(
                "lwkt_switch fell back to MP-safe threads while the lock was busy",
                len(fallbacks) > 0,
                f"{len(fallbacks)} fallback picks",
            ),
            Check(
                "the MP-safe threads took turns",
                alternated and len(self.steps) == self.system.ncpu - 1,
                "; ".join(f"cpu {c}: {' '.join(s[:6])}" for c, s in sorted(self.steps.items())),
            ),
        ]
