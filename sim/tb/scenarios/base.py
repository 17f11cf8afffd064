"""The scenario interface, the registry and the external-device model."""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar
from collections.abc import Awaitable, Callable

import cocotb
from firmware.ram_layout import Guard
from cocotb.triggers import RisingEdge
from sim.tb.cycles import falling_edges, now_ns
from sim.tb.probes import Probes
from sim.tb.signals import PortSignal

from sim.tb.testbench import CLOCK_PERIOD_NS
from sim.contract.catalogue import scenario_info

if TYPE_CHECKING:
    from firmware.lwkt import Lwkt
    from firmware.system import System

__all__ = ["Check", "Devices", "Scenario", "SCENARIOS", "Workload", "get_scenario", "register"]

#: The scenario classes imported so far, by name (the catalogue, sim/contract/catalogue.py, has all).
SCENARIOS: dict[str, type[Scenario]] = {}

#: The catalogue's fields a scenario class takes from its entry (and must not set itself).
_INFO_FIELDS = ("description", "mode", "cpus", "min_cpus", "uses_devices", "max_cycles")


def register(cls: type[Scenario]) -> type[Scenario]:
    """Make ``cls`` the implementation of the catalogue's scenario ``cls.name``; its declared fields
    become class attributes (a class that sets one itself, or a name not declared, is an error)."""
    info = scenario_info(cls.name)
    own = [name for name in _INFO_FIELDS if name in cls.__dict__]
    if own:
        raise TypeError(f"scenario class {cls.__qualname__} sets {', '.join(own)}: the catalogue declares them")
    if info.module != cls.__module__:
        raise TypeError(f"scenario {cls.name} is declared as implemented in {info.module}, not {cls.__module__}")
    for name in _INFO_FIELDS:
        setattr(cls, name, getattr(info, name))
    SCENARIOS[cls.name] = cls
    return cls


def get_scenario(name: str) -> type[Scenario]:
    """The class that implements scenario ``name``, importing its module (KeyError: not declared)."""
    if name not in SCENARIOS:
        importlib.import_module(scenario_info(name).module)
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(
            f"scenario {name!r} is declared, but {scenario_info(name).module} does not implement it"
        ) from None


@dataclass
class Check:
    """The outcome of one check of a run; ``evaluated`` False: there was nothing to check (shown
    as n/a, and not a failure)."""

    name: str
    ok: bool
    detail: str = ""
    evaluated: bool = True

    def as_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "evaluated": self.evaluated}


class Devices:
    """The external devices behind the SoC's DEVICE block, one per external line.

    A device posts a request through the SoC's testbench inputs: a one-cycle
    strobe on ``dev_post`` (bit ``line``) with the request's data word on
    ``dev_data``. The DEVICE block then holds REQUEST, and the line, until the
    interrupt thread's driver (``firmware/device.py``) acknowledges it over the
    bus. Inputs change only at falling edges (testbench coroutines and firmware
    both run there), so every simulator samples them at the same rising edge.
    The data word is the cycle the request was posted in (``raised_at``).

    Spurious pulses (fault injection) go to the raw ``ext_irq`` lines, which
    the SoC ORs with the devices' lines: the driver finds no request behind them.

    Attributes
    ----------
    raised_at : dict[int, list[int]]   cycles at which each line's requests were posted
    spurious : dict[int, int]          spurious pulses per line
    """

    def __init__(self, dut):
        self._clk = dut.clk
        self._raw = dut.ext_irq
        self._post = dut.dev_post
        self._data = dut.dev_data
        self._probe = Probes(dut)
        # The DEVICE block's REQUEST bits (its irq output), read as an integer.
        self._request = PortSignal(self._probe("device.irq"))
        self.raw_level = 0
        self._strobe = 0
        self._strobe_cycle: int | None = None
        self.raised_at: dict[int, list[int]] = {}
        self.spurious: dict[int, int] = {}
        self._raw.value = 0
        self._post.value = 0
        self._data.value = 0

    @property
    def raised(self) -> dict[int, int]:
        return {line: len(cycles) for line, cycles in self.raised_at.items()}

    def _counters(self) -> dict[str, dict[int, int]]:
        """The DEVICE block's per-line counters read from the RTL (``posted``, ``serviced``), lines
        with a non-zero count."""
        counts = {"posted": {}, "serviced": {}}
        line = 0
        while self._probe.exists(f"device.posted{line}"):  # one of each per line
            for name in ("posted", "serviced"):
                value = int(self._probe(f"device.{name}{line}").value)
                if value:
                    counts[name][line] = value
            line += 1
        return counts

    @property
    def serviced(self) -> dict[int, int]:
        """Requests acknowledged per line (the hardware's SERVICED counters)."""
        return self._counters()["serviced"]

    @property
    def posted(self) -> dict[int, int]:
        """Requests posted per line (the hardware's POSTED counters)."""
        return self._counters()["posted"]

    def raise_line(self, line: int) -> None:
        """Post a request on ``line`` (a strobe for the next rising edge)."""
        cycle = now_ns() // CLOCK_PERIOD_NS
        self.raised_at.setdefault(line, []).append(cycle)
        if cycle != self._strobe_cycle:
            # A new strobe; one from an earlier cycle has been sampled already.
            self._strobe, self._strobe_cycle = 0, cycle
            cocotb.start_soon(self._end_strobe(cycle))
        self._strobe |= 1 << line
        self._post.value = self._strobe
        self._data.value = cycle & 0xFFFF_FFFF

    async def _end_strobe(self, cycle: int) -> None:
        # Held until the low phase after the rising edge that samples it: exactly one edge sees it.
        await RisingEdge(self._clk)
        await self.wait_cycles(1)
        if self._strobe_cycle == cycle:
            self._strobe, self._strobe_cycle = 0, None
            self._post.value = 0

    def is_high(self, line: int) -> bool:
        """A request on ``line`` is posted and not yet acknowledged (REQUEST, or a strobe on its way)."""
        return bool((self._strobe | self._request.get()) >> line & 1)

    def pulse(self, line: int, cycles: int) -> None:
        """A spurious pulse: raw line ``line`` is high for ``cycles`` cycles with no request behind it."""
        self.raw_level |= 1 << line
        self._raw.value = self.raw_level
        self.spurious[line] = self.spurious.get(line, 0) + 1

        async def end():
            await self.wait_cycles(cycles)
            self.raw_level &= ~(1 << line)
            self._raw.value = self.raw_level

        cocotb.start_soon(end())

    async def wait_cycles(self, cycles: int) -> None:
        await falling_edges(self._clk, cycles, CLOCK_PERIOD_NS)

    async def request_after(self, line: int, gaps: list[int], *, recheck: int = 20) -> None:
        """A device's requests: after each gap (cycles) post one on ``line``, waiting while one is pending."""
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

    #: The catalogue's name; ``register`` copies its entry's fields (description, mode, cpus,
    #: min_cpus, uses_devices, max_cycles) onto the class.
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    mode: ClassVar[str] = "up"
    cpus: ClassVar[int] = 1
    min_cpus: ClassVar[int] = 1
    uses_devices: ClassVar[bool] = False
    max_cycles: ClassVar[int] = 200_000
    hardclock_period: ClassVar[int] = 1000
    untimely_switch: ClassVar[int] = 0

    def __init__(self, seed: int = 1):
        self.seed = seed
        self.rng = random.Random(seed)
        self.system: System | None = None
        self.devices: Devices | None = None
        self._counters: Callable[[], dict] | None = None
        self.workload = Workload(self)

    def attach(self, system: System, devices: Devices, counters: Callable[[], dict]) -> None:
        """Bind the scenario to its run: the kernels, the device lines, and ``counters``, which
        gives the run's figures as counters.json will hold them (the kernels' and the checkers')."""
        self.system = system
        self.devices = devices
        self._counters = counters

    def counters(self) -> dict:
        """The run's figures so far (counters.json's sections: ``total``, ``smp``, ...)."""
        return self._counters()

    def start_functions(self) -> dict[int, Callable[[Lwkt], Awaitable[None]]]:
        """What each CPU runs in its boot context (usually: create threads)."""
        return {0: self.boot}

    async def boot(self, k: Lwkt) -> None:
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
        self.live = 0  # UP: the scenario's threads still live (SMP: counted in shared RAM)
        self.ended_word: int | None = None
        self.spawned_words: list[int] = []
        self.finished: list[str] = []

    async def spawn(self, k: Lwkt, func, arg=None, *, comm: str, pri: int, **options):
        """Create a thread running ``func``; ``options`` go to lwkt_create (``mpsafe=`` in SMP).

        In the SMP build the counts live in shared RAM: each CPU counts the threads it spawned
        in a word of its own, and a thread that ends counts itself in one word under the MP lock;
        the one that makes the two totals equal ends the run."""
        system = self.scenario.system
        if system.mode == "smp" and self.ended_word is None:
            self.ended_word = system.new_data("workload.ended", 1, "mplock")
            self.spawned_words = [
                system.new_data(f"workload.spawned[{cpu}]", 1, Guard("writer", cpu)) for cpu in range(system.ncpu)
            ]
        if self.ended_word is None:
            self.live += 1
        else:
            word = self.spawned_words[k.gd_cpuid]
            await k.cpu.write(word, await k.cpu.read(word) + 1)

        async def body(td, a):
            await func(td, a)
            self.finished.append(td.td_comm)
            if self.ended_word is None:
                self.live -= 1
                done = self.live == 0
            else:
                done = await self._count_end(td.k)
            if done:
                system.finish()

        return await k.lwkt_create(body, arg, comm=comm, pri=pri, **options)

    async def _count_end(self, k: Lwkt) -> bool:
        await k.get_mplock()
        k = k.curthread.td_gd
        ended = await k.cpu.read(self.ended_word) + 1
        await k.cpu.write(self.ended_word, ended)
        spawned = 0
        for word in self.spawned_words:
            spawned += await k.cpu.read(word)
        await k.rel_mplock()
        return ended == spawned
