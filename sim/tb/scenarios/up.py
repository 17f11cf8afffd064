"""Uniprocessor scenarios (seed v1.12 on one core)."""

from __future__ import annotations

from collections import deque

from firmware.thread import TDPRI_INT_LOW, TDPRI_INT_MED, TDPRI_KERN_DAEMON, TDPRI_KERN_USER, TDPRI_USER_NORM
from firmware.device import device_take
from hdl import memory_map as mm
from sim.tb.scenarios.base import Check, Scenario, register

__all__ = ["UpBasic", "UpPreempt", "UpUntimely", "UpIdle"]


@register
class UpIdle(Scenario):
    name = "up-idle"
    ticks = 200

    async def boot(self, k):
        async def count(kernel):
            if kernel.hardclock_ticks >= self.ticks:
                self.system.finish()

        self.system.hardclock_hooks.append(count)

    def checks(self):
        k = self.system.kernels[0]
        return [
            Check(
                "hardclock ticked",
                k.hardclock_ticks >= self.ticks,
                f"{k.hardclock_ticks} ticks of {self.hardclock_period} cycles",
            ),
            Check("idle core stayed idle", k.counters["switch_count"] == 0, f"{k.counters['switch_count']} switches"),
        ]


@register
class UpBasic(Scenario):
    name = "up-basic"

    def __init__(self, seed=1):
        super().__init__(seed)
        self.items = deque()
        self.consumed: list[tuple[int, int]] = []
        self.produced: dict[int, int] = {}
        self.rounds: list[str] = []
        self.consumer_tid = None
        self.n_producers = self.rng.randint(2, 3)
        self.n_background = 3
        self.per_producer = [self.rng.randint(4, 8) for _ in range(self.n_producers)]

    async def boot(self, k):
        self.mailbox = self.system.new_waitqueue("mailbox")
        total = sum(self.per_producer)
        consumer = await self.workload.spawn(k, self._consumer, total, comm="consumer", pri=TDPRI_KERN_DAEMON)
        self.consumer_tid = consumer.td_id
        for p, count in enumerate(self.per_producer):
            await self.workload.spawn(k, self._producer, (p, count), comm=f"producer{p}", pri=TDPRI_KERN_USER)
        for b in range(self.n_background):
            await self.workload.spawn(k, self._background, 4, comm=f"bg{b}", pri=TDPRI_USER_NORM)

    async def _producer(self, td, arg):
        p, count = arg
        for i in range(count):
            await td.k.cpu.work(self.rng.randint(20, 80))
            self.items.append((p, i))
            self.produced[p] = i + 1
            await td.k.lwkt_signal(self.mailbox)
            await td.k.lwkt_yield()

    async def _consumer(self, td, total):
        k = td.k
        gen = self.mailbox.wa_gen
        while len(self.consumed) < total:
            if not self.items:
                gen = await k.lwkt_block(self.mailbox, "items", gen)
                continue
            self.consumed.append(self.items.popleft())
            await k.cpu.work(self.rng.randint(10, 30))

    async def _background(self, td, rounds):
        for _ in range(rounds):
            self.rounds.append(td.td_comm)
            await td.k.cpu.work(self.rng.randint(30, 60))
            await td.k.lwkt_yield()

    def checks(self):
        trace = self.system.trace
        checks = []
        expected = sorted((p, i) for p, n in enumerate(self.per_producer) for i in range(n))
        checks.append(
            Check(
                "every item consumed exactly once",
                sorted(self.consumed) == expected,
                f"{len(self.consumed)} of {len(expected)}",
            )
        )
        in_order = all(
            [i for q, i in self.consumed if q == p] == list(range(n)) for p, n in enumerate(self.per_producer)
        )
        checks.append(Check("items consumed in order per producer", in_order))
        # Strict priority: a signal that wakes the consumer makes it the next thread to run.
        records = list(trace.sorted_records())
        late = []
        for i, r in enumerate(records):
            if r["event"] == "signal" and self.consumer_tid in r["woken"]:
                nxt = next((s for s in records[i + 1 :] if s["event"] == "switch"), None)
                if nxt is not None and nxt["to"] != self.consumer_tid:
                    late.append(r["cycle"])
        checks.append(
            Check(
                "a woken consumer runs next (strict priority)", not late, f"late at cycles {late[:5]}" if late else ""
            )
        )
        # Round-robin: while only background threads run, they take turns in creation order.
        tail = self.rounds[-self.n_background * 2 :]
        names = [f"bg{b}" for b in range(self.n_background)]
        rr = all(tail[j] == names[j % self.n_background] for j in range(len(tail)))
        checks.append(Check("equal priorities take turns (round-robin)", rr, " ".join(tail)))
        checks.append(Check("background ran only after the producers", self._background_after_producers()))
        return checks

    def _background_after_producers(self) -> bool:
        records = list(self.system.trace.sorted_records())
        first_bg = next(
            (i for i, r in enumerate(records) if r["event"] == "switch" and r["to_thread"].startswith("bg")), None
        )
        last_producer = max(
            (i for i, r in enumerate(records) if r["event"] == "thread_exit" and r["thread"].startswith("producer")),
            default=None,
        )
        return first_bg is not None and last_producer is not None and first_bg > last_producer


@register
class UpPreempt(Scenario):
    name = "up-preempt"
    lines = (0, 1)

    def __init__(self, seed=1):
        super().__init__(seed)
        self.requests = {line: self.rng.randint(5, 8) for line in self.lines}
        # Device timing is drawn up front so that it does not depend on how firmware uses the rng.
        # Line 0's driver completes its source as soon as it has the data (intr_complete): a
        # request that follows closely interrupts its own interrupt thread (a "weird" preemption).
        self.intervals = {
            line: [
                self.rng.randint(10, 40) if line == 0 and self.rng.random() < 0.5 else self.rng.randint(300, 1200)
                for _ in range(self.requests[line])
            ]
            for line in self.lines
        }
        self.handled = {line: 0 for line in self.lines}
        self.crit_windows: list[tuple[int, int]] = []
        self.done_devices = 0

    async def boot(self, k):
        for line, pri in zip(self.lines, (TDPRI_INT_MED, TDPRI_INT_LOW), strict=False):
            await k.register_ithread(line, self._service, pri=pri, name=f"ithread{line}")
        for w in range(2):
            await self.workload.spawn(k, self._worker, w, comm=f"worker{w}", pri=TDPRI_KERN_USER)

    async def _service(self, td, line):
        k = td.k
        if line == 0:
            taken = await device_take(k, line)
            await k.intr_complete(mm.SOURCE_EXT0 + line)
            await k.cpu.work(self.rng.randint(20, 60))
        else:
            await k.cpu.work(self.rng.randint(20, 60))
            taken = await device_take(k, line)
        if taken is not None:  # None: a spurious interrupt
            self.handled[line] += 1

    async def _worker(self, td, w):
        k = td.k
        while sum(self.handled.values()) < sum(self.requests.values()):
            if self.rng.random() < 0.3:
                k.crit_enter()
                start = k.cycle
                await k.cpu.work(self.rng.randint(50, 150))
                self.crit_windows.append((start, k.cycle, td.td_id))
                await k.crit_exit()
            else:
                await k.cpu.work(self.rng.randint(50, 200))
            await k.lwkt_yield()

    def device_models(self):
        return [self.devices.request_after(line, self.intervals[line], recheck=50) for line in self.lines]

    def checks(self):
        system = self.system
        trace = system.trace
        checks = [
            Check(
                "every device request serviced once",
                self.handled == self.requests and self.devices.serviced == self.requests,
                f"requested {self.requests}, serviced {self.handled}",
            )
        ]
        ithreads = {td.td_id for td in system.kernels[0].ithreads.values()}
        switches = trace.events("switch")
        violations = [
            (s["cycle"], s["to_thread"])
            for s in switches
            if s["to"] in ithreads
            and any(start < s["cycle"] < end and s["tid"] == tid for start, end, tid in self.crit_windows)
        ]
        checks.append(Check("no preemption inside a critical section", not violations, str(violations[:3])))
        hits = system.sysctl("lwkt.preempt_hit")
        resumes = len(trace.events("resume"))
        checks.append(Check("interrupt threads preempted", hits > 0, f"preempt_hit={hits}"))
        checks.append(Check("every preempted thread resumed", resumes == hits, f"{resumes} resumes, {hits} hits"))
        # A deferred interrupt runs when the section ends: through splz, or at the boundary right
        # after crit_exit leaves the section. Either way an interrupt is claimed before the next deferral.
        records = list(trace.sorted_records())
        deferrals = [i for i, r in enumerate(records) if r["event"] == "intr_deferred"]
        stuck = [
            records[i]["cycle"]
            for n, i in enumerate(deferrals)
            if not any(
                r["event"] == "interrupt" for r in records[i + 1 : deferrals[n + 1] if n + 1 < len(deferrals) else None]
            )
        ]
        checks.append(
            Check(
                "interrupts deferred by critical sections ran",
                not stuck,
                f"{len(deferrals)} deferred" + (f", never run: cycles {stuck[:3]}" if stuck else ""),
            )
        )
        return checks


@register
class UpUntimely(Scenario):
    name = "up-untimely"
    untimely_switch = 1

    def __init__(self, seed=1):
        super().__init__(seed)
        self.steps: list[str] = []

    async def boot(self, k):
        for t in range(3):
            await self.workload.spawn(k, self._thread, 5, comm=f"peer{t}", pri=TDPRI_KERN_USER)

    async def _thread(self, td, steps):
        k = td.k
        for _ in range(steps):
            k.crit_enter()
            await k.cpu.work(self.rng.randint(20, 60))
            self.steps.append(td.td_comm)
            k.crit_exit_noyield()
            # A wakeup-like point: with untimely_switch the peers take turns here.
            await k.lwkt_yield_quick()

    def checks(self):
        untimely = len(self.system.trace.events("untimely_switch"))
        interleaved = any(a != b for a, b in zip(self.steps, self.steps[1:], strict=False))
        return [
            Check("untimely switches happened", untimely > 0, f"{untimely} untimely switches"),
            Check("peers interleaved", interleaved, " ".join(self.steps[:9])),
            Check("every step ran", len(self.steps) == 15, f"{len(self.steps)} steps"),
        ]
