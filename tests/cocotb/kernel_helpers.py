"""Helpers shared by the cocotb kernel tests: bring-up, a device on the external lines, trace queries.

Not a test module itself: the cocotb modules import it.
"""
from __future__ import annotations

from firmware.ram_layout import THREAD_FIELDS, RamLayout
from firmware.system import System
from hdl import memory_map as mm
from sim.contract.config import RunConfig
from sim.tb.machine import Machine, new_machine
from sim.tb.scenarios.base import Devices

__all__ = ["up_machine", "Device", "mark", "marks", "index_of", "indices", "between", "source_of"]


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


def peek_td(system: System, td, field: str) -> int:
    """A field of a thread's shared record as the bus traffic left it (a test probe, no bus cycle)."""
    return system.hardware.ram_peek(RamLayout.address(td.td_rec + THREAD_FIELDS[field]))


def blocked_on(system: System, w, count: int = 1) -> bool:
    """At least ``count`` threads have finished blocking on ``w`` (their ``block`` records are out)."""
    return sum(1 for r in system.trace.records if r["event"] == "block" and r["wait"] == w.name) >= count
