"""Fault injection, switchable per run (``lwkt-soc run --faults ...``).

==================  ================================================================
fault               what happens
==================  ================================================================
wait-states         random wait states on the interconnect: a CPU's port accepts no
                    request for 1-6 cycles at random times (the SoC's ``stall`` input)
spurious            the raw ext_irq lines pulse high for 1-2 cycles with no device
                    request; the interrupt threads' driver finds DEVICE REQUEST clear
delayed-complete    interrupt threads keep their source in service 20-200 cycles
                    after serving the device before they COMPLETE it
cpu-stop            the last CPU stops for good while holding the MP lock; the
                    MP-lock watchdog on CPU 0 notices and frees the lock with BUST
fifo-full           one CPU stays in a long critical section while the others burst
                    IPIs at it, so senders reach the half-full mark (ipiq_fifofull)
==================  ================================================================

The testbench-side faults (wait-states, spurious) are coroutines here; the
others act in firmware (``delayed-complete``) or in the ``random`` scenario's
workload (``cpu-stop``, ``fifo-full``).
"""
from __future__ import annotations

import random

from .cycles import falling_edges
from .testbench import CLOCK_PERIOD_NS

__all__ = ["FAULTS", "parse_faults", "FaultInjector"]

FAULTS = ("wait-states", "spurious", "delayed-complete", "cpu-stop", "fifo-full")


def parse_faults(text: str | None) -> frozenset[str]:
    """``"all"``, ``"none"``/empty, or a comma-separated list of names from FAULTS."""
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in FAULTS and name not in ("all", "none")]
    if unknown:
        raise ValueError(f"unknown fault {unknown[0]!r}; faults: {', '.join(FAULTS)}, all or none")
    if "all" in names:
        return frozenset(FAULTS)
    return frozenset(name for name in names if name != "none")


def faults_that_act(scenario, ncpu: int) -> frozenset[str]:
    """The faults that can act in ``scenario`` (a Scenario class) on ``ncpu`` CPUs: wait states
    always; spurious pulses and delayed completions where devices interrupt; a stopped CPU and
    the FIFO-full burst only in the random workload, which builds them in (the burst needs two
    CPUs besides a stopped one)."""
    acting = {"wait-states"}
    if scenario.uses_devices:
        acting |= {"spurious", "delayed-complete"}
    if scenario.name == "random":
        if ncpu >= 2:
            acting.add("cpu-stop")
            acting.add("fifo-full")
    return frozenset(acting)


def check_faults(faults: frozenset[str], scenario, ncpu: int) -> None:
    """Every fault asked for can act here, else a ValueError naming it and what can."""
    acting = faults_that_act(scenario, ncpu)
    idle = sorted(faults - acting)
    if idle:
        raise ValueError(f"fault {idle[0]} cannot act in {scenario.name} on {ncpu} CPU(s); faults that can: "
                         f"{', '.join(sorted(acting))}")
    if {"cpu-stop", "fifo-full"} <= faults and ncpu < 3:
        raise ValueError(f"cpu-stop and fifo-full together need 3 CPUs (one stops, two exchange the burst); "
                         f"the run has {ncpu}")


class FaultInjector:
    """The testbench side of fault injection for one run.

    Attributes
    ----------
    stalls, pulses : int   wait states and spurious pulses injected
    """

    def __init__(self, dut, ncpu: int, ext_lines: int, faults: frozenset[str], seed: int, lines=()):
        self.dut = dut
        self.ncpu = ncpu
        self.faults = faults
        self.rng = random.Random(seed * 104729 + 17)
        self.lines = tuple(lines) or tuple(range(ext_lines))
        self.stalls = 0
        self.stall_cycles = 0
        self.pulses = 0
        self.stall_state = 0

    def coroutines(self, devices):
        result = []
        if "wait-states" in self.faults:
            result.append(self._wait_states())
        if "spurious" in self.faults and self.lines:
            result.append(self._spurious(devices))
        return result

    async def _wait_states(self) -> None:
        clk = self.dut.clk
        while True:
            await falling_edges(clk, self.rng.randint(8, 40), CLOCK_PERIOD_NS)
            cpu = self.rng.randrange(self.ncpu)
            self.stall_state |= 1 << cpu
            self.dut.stall.value = self.stall_state
            self.stalls += 1
            length = self.rng.randint(1, 6)
            self.stall_cycles += length
            await falling_edges(clk, length, CLOCK_PERIOD_NS)
            self.stall_state &= ~(1 << cpu)
            self.dut.stall.value = self.stall_state

    async def _spurious(self, devices) -> None:
        while True:
            await devices.wait_cycles(self.rng.randint(300, 1500))
            line = self.rng.choice(self.lines)
            if devices.is_high(line):
                continue
            devices.pulse(line, self.rng.randint(1, 2))
            self.pulses += 1
