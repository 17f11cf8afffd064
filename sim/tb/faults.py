"""The testbench side of fault injection (the faults themselves: ``sim/contract/catalogue.py``):
random wait states on the interconnect and spurious pulses on the raw interrupt lines."""

from __future__ import annotations

import random

from sim.tb.cycles import falling_edges
from sim.tb.testbench import CLOCK_PERIOD_NS

__all__ = ["FaultInjector"]


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
