"""A pure-Python stand-in for the core protocol (firmware/core.py), for fast unit tests of kernel
functions without a simulator.

NOT co-verification: no RTL runs. Registers are a dictionary that answers the few reads the
uniprocessor kernel makes (CLAIM finds nothing pending, CYCLE counts), the irq line never rises,
and time is a counter that bus accesses (one cycle), work and kernel charges advance. Threads are
asyncio tasks handed the core through events, as the cocotb core does. It exists to show that the
kernel depends only on the protocol, and to test pure scheduling logic in milliseconds; every
claim about the hardware is tested on the RTL (sim/tb/directed/).
"""

from __future__ import annotations

import asyncio

from firmware.cost_model import ZERO
from firmware.system import System
from sim.checks.run_checks import RunChecks
from hdl import memory_map as mm

__all__ = ["StandinCore", "run_standin"]


class _Context:
    def __init__(self, name, body, task=None):
        self.name, self.body, self.task = name, body, task
        self.wake = asyncio.Event()


class StandinCore:
    """One core of the stand-in: a register dictionary, a cycle counter, contexts as asyncio tasks."""

    def __init__(self, cpu: int = 0):
        self.id = cpu
        self.on_interrupt = None
        self.on_access = None
        self.work_cycles = self.kernel_cycles = self.idle_cycles = 0
        self.debt = 0
        self.now = 0
        self.registers: dict[int, int] = {}
        self.accesses = 0

    @property
    def cycle(self) -> int:
        return self.now

    def irq_high(self) -> bool:
        return False

    def _settle(self) -> None:
        self.kernel_cycles += self.debt
        self.now += self.debt
        self.debt = 0

    async def read(self, address: int) -> int:
        self._settle()
        self.now += 1
        self.accesses += 1
        await asyncio.sleep(0)
        if address == mm.INTC.CLAIM:
            return mm.CLAIM_NONE
        if address == mm.SYS.CYCLE_LO:
            return self.now & 0xFFFF_FFFF
        return self.registers.get(address, 0)

    async def write(self, address: int, value: int) -> None:
        self._settle()
        self.now += 1
        self.accesses += 1
        self.registers[address] = value
        await asyncio.sleep(0)

    async def work(self, cycles: int) -> None:
        self._settle()
        self.work_cycles += cycles
        self.now += cycles
        await asyncio.sleep(0)

    def charge(self, cycles: int) -> None:
        self.debt += cycles

    async def spend(self, cycles: int) -> None:
        self.debt += cycles
        self._settle()

    async def boundary(self) -> None:
        self._settle()

    async def wait_for_interrupt(self) -> None:
        self._settle()
        await asyncio.Event().wait()  # no interrupt ever comes

    def new_context(self, name, body):
        return _Context(name, body)

    def boot_context(self, name):
        return _Context(name, None, asyncio.current_task())

    async def switch(self, old, new) -> None:
        self._settle()
        if new.task is None:
            new.task = asyncio.get_running_loop().create_task(new.body())
        else:
            new.wake.set()
        if old is None:
            return
        await old.wake.wait()
        old.wake.clear()

    async def freeze(self) -> None:
        await asyncio.Event().wait()


class _Trace:
    def __init__(self):
        self.records: list[dict] = []

    def emit(self, cycle, cpu, tid, thread, event, **fields):
        record = {"cycle": cycle, "cpu": cpu, "tid": tid, "thread": thread, "event": event, **fields}
        self.records.append(record)
        return record


def run_standin(start, *, cost_model=ZERO, timeout: float = 5.0) -> tuple[System, RunChecks]:
    """Boot the uniprocessor kernel on one stand-in core with the run-time checkers, run
    ``start(kernel)`` in its boot context, and return the System and its checkers once a thread
    calls ``system.finish()`` (or a panic ends the run)."""
    core = StandinCore()
    system = System([core], mode="up", trace=_Trace(), cost_model=cost_model)
    checks = RunChecks(system)

    async def main():
        finished = asyncio.Event()
        system.on_finish = finished.set
        idle = asyncio.get_running_loop().create_task(system.kernels[0].idle_main(start))
        await asyncio.wait_for(finished.wait(), timeout)
        idle.cancel()

    asyncio.run(main())
    return system, checks
