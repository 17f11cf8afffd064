"""Helpers shared by the directed kernel tests: bring-up of the UP and SMP kernels, a device on the external
lines, trace queries, waiting and ending a run.

Not a test module itself: the directed modules import it.
"""

from __future__ import annotations

from firmware.ram_layout import THREAD_FIELDS, RamLayout
from firmware.system import System
from hdl import memory_map as mm
from sim.contract.config import RunConfig
from firmware.ram_layout import required_words
from sim.tb.machine import Machine, new_machine
from sim.tb.testbench import SocBench
from sim.tb.scenarios.base import Devices

__all__ = [
    "up_machine",
    "Device",
    "mark",
    "marks",
    "index_of",
    "indices",
    "between",
    "source_of",
    "smp_machine",
    "Done",
    "until",
    "owner",
    "final_checks_ok",
    "after",
    "KERNEL_PATH_CYCLES",
    "MAX_CYCLES",
    "LINE",
    "SOURCE",
    "NCPU",
    "planted_bugs",
]


def planted_bugs() -> frozenset[str]:
    """The planted bug `python -m sim.campaigns.mutants` runs these tests with (run.json's ``bug``), if any."""
    return frozenset(filter(None, [RunConfig.from_environment().bug]))


async def up_machine(dut, **kwargs) -> Machine:
    """A fresh (reset) 1-CPU SoC with the uniprocessor kernel on it, not booted yet."""
    return await new_machine(dut, mode="up", bugs=planted_bugs(), **kwargs)


def source_of(line: int) -> int:
    """The interrupt source id of external line ``line``."""
    return mm.SOURCE_EXT0 + line


#: The scenarios' device model plays the devices behind the external lines.
Device = Devices


def mark(td, label: str, **fields) -> None:
    """Put a ``mark`` record into the trace, on the running thread's timeline."""
    td.k.event("mark", label=label, **fields)


def marks(system: System) -> list[str]:
    """Labels of the mark records, in trace order."""
    return [r["label"] for r in system.trace.events("mark")]


def indices(records: list[dict], event: str, **match) -> list[int]:
    """Positions in ``records`` of the records of kind ``event`` whose fields equal ``match``."""
    return [i for i, r in enumerate(records) if r["event"] == event and all(r.get(k) == v for k, v in match.items())]


def index_of(records: list[dict], event: str, **match) -> int:
    """Position of the one record that matches (asserts there is exactly one)."""
    found = indices(records, event, **match)
    assert len(found) == 1, f"expected one {event} {match}, found {len(found)}: {[records[i] for i in found]}"
    return found[0]


def between(records: list[dict], first: int, last: int, event: str | None = None) -> list[dict]:
    """Records strictly between positions ``first`` and ``last`` (optionally of one kind)."""
    return [r for r in records[first + 1 : last] if event is None or r["event"] == event]


def peek_td(system: System, td, field: str) -> int:
    """A field of a thread's shared record as the bus traffic left it (a test probe, no bus cycle)."""
    return system.hardware.ram_peek(RamLayout.address(td.td_rec + THREAD_FIELDS[field]))


def blocked_on(system: System, w, count: int = 1) -> bool:
    """At least ``count`` threads have finished blocking on ``w`` (their ``block`` records are out)."""
    return sum(1 for r in system.trace.records if r["event"] == "block" and r["wait"] == w.name) >= count


#: Bound on a short kernel path (a switch, a wake-up at a tick) under the default cost model: a few
#: hundred instructions at one per cycle, plus their bus accesses.
KERNEL_PATH_CYCLES = 400

# -- the SMP kernel's tests: smp_kernel.py, smp_kernel_mp.py and those that borrow their helpers ---------

#: A directed SMP test's cycle budget: the kernel's own execution (the default cost model) takes cycles too.
MAX_CYCLES = 16_000
#: The external line the SMP tests' device uses, and its interrupt source.
LINE = 0
SOURCE = mm.SOURCE_EXT0 + LINE
#: How many CPUs the SoC under test has (run.json; the 4-CPU test runs on its own build).
NCPU = RunConfig.from_environment().cpus


async def smp_machine(dut, **kwargs) -> Machine:
    """A freshly reset SoC with the SMP kernel on every core, not booted yet.

    A reset leaves the shared RAM as the previous test left it, and a new System lays out its
    objects from word 0 again: clear the layout's words (as memory is clear at power-up) so that
    every token starts owned by CPU 0 with generation 0, as the race detector assumes too.
    """
    bench = await SocBench(dut).start()
    bench.watch_ram()  # peek_td reads the RAM as the bus traffic leaves it
    for word in range(required_words(bench.ncpu)):
        await bench.masters[0].write(mm.RAM.addr("WORD", index=word), 0)
    return Machine(bench, mode="smp", bugs=planted_bugs(), **kwargs)


class Done:
    """Ends the run once ``n`` parties have called it."""

    def __init__(self, system: System, n: int):
        self.system, self.left = system, n

    def __call__(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.system.finish()


async def until(k, condition, what: str, step: int = 5, limit: int = 3000) -> None:
    """Spend time on ``k``'s current thread (interrupts allowed) until ``condition()`` holds."""
    waited = 0
    while not condition():
        if waited >= limit:
            raise AssertionError(f"cpu {k.gd_cpuid} waited {waited} cycles for {what}")
        await k.cpu.work(step)
        waited += step


def owner(system: System):
    """The MP lock's OWNER, read from the RTL (None when free)."""
    return system.hardware.mplock_owner()


def final_checks_ok(machine: Machine) -> None:
    failed = [(name, detail) for name, ok, detail, _ in machine.final_checks() if not ok]
    assert not failed, failed


def after(records: list[dict], position: int, event: str, **match) -> list[int]:
    return [i for i in indices(records, event, **match) if i > position]
