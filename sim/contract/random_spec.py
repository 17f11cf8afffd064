"""The seeded random workload's spec (``--scenario random``), drawn from the seed on the host or in
the simulator alike; ``sim/tb/scenarios/random_workload.py`` runs it.

Everything is drawn from the seed into a :class:`RandomSpec`: per-CPU threads
with priorities and programs of operations (work, yield, critical sections,
token sections on shared tokens, MP-lock sections, IPIs, producer/consumer
wake-ups across CPUs through wait queues, migrations: a thread pulls a consumer
blocked on a queue over to its own CPU with lwkt_acquire), and devices
interrupting CPUs; threads that create short-lived children (which exit into the
thread cache, or stay zombies until their parent reaps them), deschedule a thread of
another CPU and schedule it again, or offer the CPU to an interrupt thread from
inside nested critical sections. The spec is plain data: it can be written to JSON, edited or shrunk, and run again
exactly (``lwkt-soc run --scenario random --spec FILE``), which is how a failing seed is reduced.

Termination is by construction: a thread either produces tickets on wait
queues (never blocks) or consumes them (may block), and every queue gets as
many tickets as it is asked for.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field

from firmware.thread import (
    TDPRI_INT_HIGH,
    TDPRI_INT_MED,
    TDPRI_KERN_DAEMON,
    TDPRI_KERN_USER,
    TDPRI_SOFT_NORM,
    TDPRI_USER_NORM,
)

__all__ = ["RandomSpec", "ThreadSpec", "DeviceSpec", "generate_spec", "OP_WEIGHTS", "KNOBS", "N_TOKENS", "N_QUEUES"]

_PRIORITIES = (TDPRI_USER_NORM, TDPRI_KERN_USER, TDPRI_KERN_DAEMON, TDPRI_SOFT_NORM)
N_TOKENS = 3
N_QUEUES = 2
#: How often each operation is drawn (relative); a coverage-directed run overrides some.
OP_WEIGHTS = {
    "work": 4,
    "yield": 2,
    "crit": 2,
    "token": 3,
    "mplock": 2,
    "note": 2,
    "migrate": 2,
    "spawn": 1,
    "reap": 0.5,
    "desched": 1,
    "offer": 1,
    "wake": 1,
}
#: Knobs (probabilities): both devices on one CPU, the second one's ithread at a higher priority
#: kicking the first's, an ithread that needs the MP lock, a fifo-full burst whose notes are sent
#: back from the receiver's IPI handler (so a send inside lwkt_process_ipiq meets a half-full FIFO);
#: the share of threads that consume tickets, and the most tickets one takes; the most children
#: (spawn and reap) a CPU's threads create (thread records are a fixed pool: at most 8).
KNOBS = {
    "same_cpu": 0.25,
    "kick": 0.3,
    "not_mpsafe": 0.2,
    "forward": 0.5,
    "consumers": 0.5,
    "tickets": 3,
    "children": 4,
}


@dataclass
class ThreadSpec:
    cpu: int
    pri: int
    ops: list[list]  # ["work", n] ["yield"] ["crit", n] ["token", t, n] ["mplock", n]
    # ["note", cpu] ["v", q] ["p", q] ["burst", cpu, count] ["migrate", q]
    # ["spawn", n] ["reap", n] ["desched", cpu, n] ["offer", depth, mp]
    # ["wake", q]; a burst may end [..., forward]: each note is sent
    # back to the sender from inside the receiver's IPI handler


@dataclass
class DeviceSpec:
    line: int
    cpu: int
    gaps: list[int]
    pri: int = TDPRI_INT_MED  # its interrupt thread's priority
    work: int = 30  # most cycles its handler works per request
    kick: bool = False  # the handler also schedules the CPU's other ithread
    mpsafe: bool = True  # False: the ithread runs holding the MP lock


@dataclass
class RandomSpec:
    ncpu: int
    threads: list[ThreadSpec] = field(default_factory=list)
    devices: list[DeviceSpec] = field(default_factory=list)
    victim: int | None = None  # cpu-stop: the CPU that stops holding the MP lock
    deaf: list[int] | None = None  # fifo-full: [cpu, cycles] of the long critical section

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> RandomSpec:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict) -> RandomSpec:
        return cls(
            ncpu=data["ncpu"],
            threads=[ThreadSpec(**t) for t in data["threads"]],
            devices=[DeviceSpec(**d) for d in data["devices"]],
            victim=data.get("victim"),
            deaf=data.get("deaf"),
        )

    def size(self) -> int:
        return sum(len(t.ops) for t in self.threads) + sum(len(d.gaps) for d in self.devices)


def generate_spec(
    seed: int,
    ncpu: int,
    faults: frozenset[str],
    ext_lines: int = 4,
    weights: dict[str, float] | None = None,
    knobs: dict[str, float] | None = None,
) -> RandomSpec:
    """Draw a workload from ``seed`` for ``ncpu`` CPUs. ``weights`` (operation name: relative
    weight) and ``knobs`` (see KNOBS) override the defaults: that is how coverage-directed
    generation (sim/coverage/func.py) steers the draws towards paths not yet exercised."""
    rng = random.Random(seed)
    weights = {**OP_WEIGHTS, **(weights or {})}
    knobs = {**KNOBS, **(knobs or {})}
    spec = RandomSpec(ncpu=ncpu)
    if "cpu-stop" in faults and ncpu >= 2:
        spec.victim = ncpu - 1
    live = [c for c in range(ncpu) if c != spec.victim]
    if "fifo-full" in faults and len(live) >= 2:
        # Long against the burst: 24 sends, each ~80 cycles of kernel code under the default cost model.
        spec.deaf = [rng.choice(live), rng.randint(2500, 4000)]
    # Devices first: offers go to threads of a CPU with an interrupt thread.
    lines = list(range(min(ext_lines, 2)))
    for line in lines:
        cpu = spec.devices[0].cpu if spec.devices and rng.random() < knobs["same_cpu"] else rng.choice(live)
        spec.devices.append(
            DeviceSpec(line=line, cpu=cpu, gaps=[rng.randint(300, 1500) for _ in range(rng.randint(1, 4))])
        )
    if len(spec.devices) == 2 and spec.devices[0].cpu == spec.devices[1].cpu and rng.random() < knobs["kick"]:
        # The second preempts the first and schedules it while it is preempted (a "weird" offer).
        spec.devices[0].work = rng.randint(100, 400)
        spec.devices[1].pri, spec.devices[1].kick = TDPRI_INT_HIGH, True
    for device in spec.devices:
        device.mpsafe = rng.random() >= knobs["not_mpsafe"]
    device_cpus = {d.cpu for d in spec.devices}
    producers, consumers = [], []
    for cpu in live:
        for _ in range(rng.randint(1, 3)):
            thread = ThreadSpec(cpu=cpu, pri=rng.choice(_PRIORITIES), ops=[])
            (producers if rng.random() >= knobs["consumers"] else consumers).append(thread)
            spec.threads.append(thread)
    if not producers:
        producers.append(spec.threads[0])
        consumers.remove(spec.threads[0])
    children = {cpu: 0 for cpu in live}
    kinds = [k for k in OP_WEIGHTS]
    for thread in spec.threads:
        allowed = dict(weights)
        if len(live) < 2:
            allowed["migrate"] = allowed["desched"] = 0
        if thread.cpu not in device_cpus:
            allowed["offer"] = 0
        for _ in range(rng.randint(3, 8)):
            kind = rng.choices(kinds, weights=[allowed[k] for k in kinds])[0]
            if kind in ("spawn", "reap"):
                if children[thread.cpu] >= min(8, int(knobs["children"])):
                    kind = "work"
                else:
                    children[thread.cpu] += 1
            if kind == "work":
                thread.ops.append(["work", rng.randint(5, 80)])
            elif kind == "yield":
                thread.ops.append(["yield"])
            elif kind == "crit":
                thread.ops.append(["crit", rng.randint(5, 60)])
            elif kind == "token":
                thread.ops.append(["token", rng.randrange(N_TOKENS), rng.randint(2, 20)])
            elif kind == "mplock":
                thread.ops.append(["mplock", rng.randint(5, 40)])
            elif kind == "migrate":
                thread.ops.append(["migrate", rng.randrange(N_QUEUES)])
            elif kind in ("spawn", "reap"):
                thread.ops.append([kind, rng.randint(5, 120)])
            elif kind == "desched":
                thread.ops.append(["desched", rng.choice([c for c in live if c != thread.cpu]), rng.randint(20, 200)])
            elif kind == "offer":
                thread.ops.append(["offer", rng.choice([0, 0, 1, 2]), int(rng.random() < 0.3)])
            elif kind == "wake":
                thread.ops.append(["wake", rng.randrange(N_QUEUES)])
            else:
                thread.ops.append(["note", rng.choice(live)])
    # Wake-ups across CPUs: every ticket a consumer waits for, some producer gives.
    for consumer in consumers:
        for _ in range(rng.randint(1, max(1, int(knobs["tickets"])))):
            q = rng.randrange(N_QUEUES)
            consumer.ops.insert(rng.randint(0, len(consumer.ops)), ["p", q])
            producer = rng.choice(producers)
            producer.ops.insert(rng.randint(0, len(producer.ops)), ["v", q])
    if spec.deaf:
        # The burst is a thread's first operation, so nothing can block it before it (the long
        # critical section waits for the burst's sender to be ready).
        deaf_cpu = spec.deaf[0]
        senders = [t for t in spec.threads if t.cpu != deaf_cpu]
        if senders:
            senders[0].ops.insert(0, ["burst", deaf_cpu, 24, int(rng.random() < knobs["forward"])])
        else:
            spec.deaf = None
    return spec
