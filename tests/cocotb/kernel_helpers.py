"""Helpers shared by the cocotb kernel tests: bring-up, a device on the external lines, trace queries.

Not a test module itself: the cocotb modules import it.
"""
from __future__ import annotations

import cocotb
from cocotb.triggers import ClockCycles

from firmware.system import System
from hdl import memory_map as mm
from sim.testbench import SocBench

__all__ = ["new_system", "Device", "mark", "marks", "index_of", "indices", "between", "source_of"]


async def new_system(dut, **kwargs) -> System:
    """A fresh (reset) 1-CPU SoC with the uniprocessor kernel on it, not started yet."""
    bench = await SocBench(dut).start()
    return System(bench, mode="up", **kwargs)


def source_of(line: int) -> int:
    """The interrupt source id of external line ``line``."""
    return mm.SOURCE_EXT0 + line


class Device:
    """Plays the devices behind the SoC's external interrupt lines (``dut.ext_irq``).

    Lines are changed from falling edges (or from firmware, which also runs
    there), so every simulator samples them at the same rising edge.
    """

    def __init__(self, dut):
        self.dut = dut
        self.level = 0
        self.raised_at: dict[int, list[int]] = {}
        dut.ext_irq.value = 0

    def _cycle(self) -> int:
        from cocotb.utils import get_sim_time
        from sim.testbench import CLOCK_PERIOD_NS
        return int(get_sim_time("ns")) // CLOCK_PERIOD_NS

    def raise_line(self, line: int) -> None:
        self.level |= 1 << line
        self.dut.ext_irq.value = self.level
        self.raised_at.setdefault(line, []).append(self._cycle())

    def lower_line(self, line: int) -> None:
        self.level &= ~(1 << line)
        self.dut.ext_irq.value = self.level

    def raise_after(self, line: int, cycles: int) -> None:
        """Raise ``line`` ``cycles`` falling edges from now (does not block the caller)."""
        async def later():
            await ClockCycles(self.dut.clk, cycles, rising=False)
            self.raise_line(line)
        cocotb.start_soon(later())


def mark(td, label: str, **fields) -> None:
    """Put a ``mark`` record into the trace, on the running thread's timeline."""
    td.k.event("mark", label=label, **fields)


def marks(system: System) -> list[str]:
    """Labels of the mark records, in trace order."""
    return [r["label"] for r in system.trace.events("mark")]


def indices(records: list[dict], event: str, **match) -> list[int]:
    """Positions in ``records`` of the records of kind ``event`` whose fields equal ``match``."""
    return [i for i, r in enumerate(records)
            if r["event"] == event and all(r.get(k) == v for k, v in match.items())]


def index_of(records: list[dict], event: str, **match) -> int:
    """Position of the one record that matches (asserts there is exactly one)."""
    found = indices(records, event, **match)
    assert len(found) == 1, f"expected one {event} {match}, found {len(found)}: " \
                            f"{[records[i] for i in found]}"
    return found[0]


def between(records: list[dict], first: int, last: int, event: str | None = None) -> list[dict]:
    """Records strictly between positions ``first`` and ``last`` (optionally of one kind)."""
    return [r for r in records[first + 1:last] if event is None or r["event"] == event]
