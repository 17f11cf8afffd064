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
    if not text or text == "none":
        return frozenset()
    if text == "all":
        return frozenset(FAULTS)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FAULTS]
    if unknown:
        raise ValueError(f"unknown fault {unknown[0]!r}; faults: {', '.join(FAULTS)}, or all")
    return frozenset(names)


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
            await falling_edges(clk, self.rng.randint(1, 6), CLOCK_PERIOD_NS)
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
