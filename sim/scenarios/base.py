"""The scenario interface, the registry and the external-device model."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, ClassVar

import cocotb
from sim.cycles import falling_edges, now_ns

from sim.testbench import CLOCK_PERIOD_NS

if TYPE_CHECKING:
    from firmware.lwkt import Lwkt
    from firmware.system import System

__all__ = ["Check", "Devices", "Scenario", "SCENARIOS", "Workload", "get_scenario", "register"]

SCENARIOS: dict[str, type["Scenario"]] = {}


def register(cls: type["Scenario"]) -> type["Scenario"]:
    SCENARIOS[cls.name] = cls
    return cls


def get_scenario(name: str) -> type["Scenario"]:
    try:
        return SCENARIOS[name]
    except KeyError:
        valid = ", ".join(sorted(SCENARIOS))
        raise KeyError(f"unknown scenario {name!r}; valid scenarios: {valid}") from None


@dataclass
class Check:
    """The outcome of one check of a run."""
    name: str
    ok: bool
    detail: str = ""

    def as_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


class Devices:
    """External devices on the SoC's ``ext_irq`` lines (level-triggered).

    A device raises its line to request service; the interrupt thread that
    services it lowers the line (a device register access in a real system).
    Lines change only at falling edges (testbench coroutines and firmware both
    run there), so every simulator samples them at the same rising edge.

    Attributes
    ----------
    raised_at : dict[int, list[int]]   cycles at which each line was raised
    serviced : dict[int, int]          how often each line was lowered while high
    """

    def __init__(self, dut):
        self._port = dut.ext_irq
        self._clk = dut.clk
        self.level = 0
        self.raised_at: dict[int, list[int]] = {}
        self.serviced: dict[int, int] = {}
        self.spurious: dict[int, int] = {}
        self._requested: set[int] = set()
        self._port.value = 0

    @property
    def raised(self) -> dict[int, int]:
        return {line: len(cycles) for line, cycles in self.raised_at.items()}

    def raise_line(self, line: int) -> None:
        self.level |= 1 << line
        self._requested.add(line)
        self.raised_at.setdefault(line, []).append(now_ns() // CLOCK_PERIOD_NS)
        self._port.value = self.level

    def lower_line(self, line: int) -> None:
        if line in self._requested:
            self.serviced[line] = self.serviced.get(line, 0) + 1
            self._requested.discard(line)
        self.level &= ~(1 << line)
        self._port.value = self.level

    def is_high(self, line: int) -> bool:
        return bool(self.level >> line & 1)

    def pulse(self, line: int, cycles: int) -> None:
        """A spurious pulse: the line is high for ``cycles`` cycles with no request behind it."""
        self.level |= 1 << line
        self._port.value = self.level
        self.spurious[line] = self.spurious.get(line, 0) + 1

        async def end():
            await self.wait_cycles(cycles)
            if line not in self._requested:
                self.level &= ~(1 << line)
                self._port.value = self.level
        cocotb.start_soon(end())

    def requested(self, line: int) -> bool:
        """A device request (not a spurious pulse) is waiting on ``line``."""
        return line in self._requested

    async def wait_cycles(self, cycles: int) -> None:
        await falling_edges(self._clk, cycles, CLOCK_PERIOD_NS)

    async def request_after(self, line: int, gaps: list[int], *, recheck: int = 20) -> None:
        """A device's requests: after each gap (cycles) raise ``line``, waiting while it is still high."""
        for gap in gaps:
            await self.wait_cycles(gap)
            while self.is_high(line):
                await self.wait_cycles(recheck)
            self.raise_line(line)

    def raise_after(self, line: int, cycles: int) -> None:
        """Raise ``line`` ``cycles`` falling edges from now, without blocking the caller."""
        async def later():
            await self.wait_cycles(cycles)
            self.raise_line(line)
        cocotb.start_soon(later())


class Scenario:
    """A named workload. Subclasses set the class attributes and override the hooks.

    Parameters
    ----------
    seed : int
        Everything random in the workload is drawn from ``self.rng``.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    mode: ClassVar[str] = "up"
    cpus: ClassVar[int] = 1
    hardclock_period: ClassVar[int] = 1000
    untimely_switch: ClassVar[int] = 0
    max_cycles: ClassVar[int] = 200_000

    def __init__(self, seed: int = 1):
        self.seed = seed
        self.rng = random.Random(seed)
        self.system: "System | None" = None
        self.devices: Devices | None = None
        self.workload = Workload(self)

    def attach(self, system: "System", devices: Devices) -> None:
        self.system = system
        self.devices = devices

    def start_functions(self) -> dict[int, Callable[["Lwkt"], Awaitable[None]]]:
        """What each CPU runs in its boot context (usually: create threads)."""
        return {0: self.boot}

    async def boot(self, k: "Lwkt") -> None:
        """Create the scenario's threads on CPU ``k`` (every scenario defines it)."""
        raise NotImplementedError(f"scenario {self.name} defines no boot()")

    def device_models(self) -> list[Awaitable[None]]:
        """Testbench coroutines that drive the external lines."""
        return []

    def checks(self) -> list[Check]:
        """Scenario-specific checks, evaluated after the run."""
        return []

    def device_lines(self) -> list[int]:
        """External lines this scenario's devices use (where spurious pulses go)."""
        return []


class Workload:
    """Counts a scenario's own threads and ends the run when the last one returns."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.live = 0
        self.finished: list[str] = []

    async def spawn(self, k: "Lwkt", func, arg=None, *, comm: str, pri: int, **options):
        """Create a thread running ``func``; ``options`` go to lwkt_create (``mpsafe=`` in SMP)."""
        self.live += 1

        async def body(td, a):
            await func(td, a)
            self.finished.append(td.td_comm)
            self.live -= 1
            if self.live == 0:
                self.scenario.system.finish()

        return await k.lwkt_create(body, arg, comm=comm, pri=pri, **options)
