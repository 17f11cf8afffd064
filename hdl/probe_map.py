"""The one name table of the RTL: every block's probes (hdl/probe.py) at their places in the SoC.

Each block declares its probes on its class (``PROBES``); :data:`INSTANCES` says where hdl/soc.py
and hdl/tile.py place each block. What names internal signals takes them from here:
sim/host/verilator.py (the public list), formal/harness.py (``internal``), sim/tb/probes.py (the
testbench's handles), sim/reports/gtkwave.py (the save file's groups) and tests/hdl/harness.py.

A path names a signal below the top: ``cpu2.debug.curthread``, ``ipi.wof_1``, ``cycle``. A
template keeps the placeholders: ``cpu{c}.debug.curthread``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .bus import SharedBus
from .debug import DebugRegisters
from .device import ExternalDevices
from .intc import InterruptController
from .ipi import IpiMatrix
from .mplock import MpLock
from .probe import Probe, UndeclaredProbe, placeholders, regex, where
from .ram import SharedRam
from .route import ExternalRouting
from .soc import LwktSoc
from .sysinfo import SysInfo
from .tile import CpuTile
from .timer import Timer

__all__ = ["INSTANCES", "SOC_PROBES", "PlacedProbe", "UndeclaredProbe", "lookup", "path", "pattern"]

#: Instance path below the top -> the block built there (``{c}``: a CPU number). The order is that of
#: Verilator's public list (sim/host/verilator.py), kept from before the list was derived.
INSTANCES: dict[str, type] = {
    "": LwktSoc,
    "mplock": MpLock,
    "device": ExternalDevices,
    "cpu{c}.debug": DebugRegisters,
    "cpu{c}.intc": InterruptController,
    "cpu{c}.timer": Timer,
    "cpu{c}.sys": SysInfo,
    "ipi": IpiMatrix,
    "route": ExternalRouting,
    "ram": SharedRam,
    **{f"{block}_arbiter": SharedBus for block in ("mplock", "route", "device", "ram")},
    "cpu{c}": CpuTile,
}


@dataclass(frozen=True)
class PlacedProbe:
    """A block's probe at one of its places in the SoC."""

    instance: str  # "cpu{c}.debug"; "" for the top
    block: type
    probe: Probe

    @property
    def template(self) -> str:
        """``cpu{c}.debug.curthread``: the instance and the probe's name."""
        return f"{self.instance}.{self.probe.name}" if self.instance else self.probe.name

    @property
    def public(self) -> bool:
        return self.probe.public


#: Every probe of the SoC, in INSTANCES' order, each block's in its own order.
SOC_PROBES: tuple[PlacedProbe, ...] = tuple(
    PlacedProbe(instance, block, probe) for instance, block in INSTANCES.items() for probe in block.PROBES
)


@functools.cache
def lookup(signal_path: str) -> PlacedProbe:
    """The declared probe at ``signal_path`` (``cpu2.debug.curthread``); UndeclaredProbe if none."""
    for placed in SOC_PROBES:
        if regex(placed.template).fullmatch(signal_path):
            return placed
    instance = signal_path.rpartition(".")[0]
    block = next((b for i, b in INSTANCES.items() if regex(i).fullmatch(instance)), None)
    hint = f"declare it in {where(block)}" if block else f"no block sits at {instance!r}"
    raise UndeclaredProbe(f"{signal_path!r} is not a declared probe of the SoC: {hint}")


def path(template: str, **indices: int) -> str:
    """``template`` with its placeholders filled (``path("cpu{c}.debug.pri", c=1)``), once it is
    declared (UndeclaredProbe otherwise)."""
    signal_path = template.format(**indices)
    if lookup(signal_path).template != template:
        raise UndeclaredProbe(f"{template!r} is declared as {lookup(signal_path).template!r}")
    return signal_path


def pattern(template: str, prefix: str = "") -> re.Pattern:
    """A regular expression for the paths of a declared ``template``, ``prefix`` (a scope) before
    them, one group per placeholder: ``pattern("cpu{c}.debug.curthread")`` finds the CPUs."""
    path(template, **dict.fromkeys(placeholders(template), 0))
    return re.compile(re.escape(prefix) + regex(template).pattern + "$")
