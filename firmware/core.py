"""The core protocol: all the kernel knows of the processor it runs on.

``sim/tb/cpu.py`` implements it on the simulated SoC (every read and write a bus
cycle of the RTL); ``firmware/`` depends on no simulator and on nothing in
``sim/``. The shape follows the split amaranth's ``lib.wiring`` makes between a
signature and what implements it: the kernel is written against this
interface only.

Interrupt boundaries: after every :meth:`Core.read` and :meth:`Core.write`,
while computation is spent (:meth:`Core.work`, :meth:`Core.spend`, and cycles
owed from :meth:`Core.charge`) and when a halted core wakes, the core calls
:attr:`Core.on_interrupt` if its ``irq`` line is high. The kernel's entry
decides there: take the interrupt now, record it for the end of a critical
section, or leave it pending while the running thread has interrupts off.
"""

from __future__ import annotations

from typing import Protocol
from collections.abc import Awaitable, Callable

__all__ = ["Core", "Hardware"]


class Core(Protocol):
    """One core as the kernel sees it.

    Attributes
    ----------
    id : int
        The core's CPU number (the port its accesses arrive on).
    on_interrupt : async callable or None
        The kernel's interrupt entry (it returns nothing: the core goes on the same way).
    work_cycles, kernel_cycles, idle_cycles : int
        Cycles spent in thread work, in kernel execution (the cost model) and halted.
    debt : int
        Kernel cycles charged and not spent yet.
    on_access : callable or None
        Called (synchronously) before each read and write; checks use it to watch a core.
    """

    id: int
    debt: int
    on_interrupt: Callable[[], Awaitable[None]] | None
    on_access: Callable[[], None] | None
    work_cycles: int
    kernel_cycles: int
    idle_cycles: int

    @property
    def cycle(self) -> int:
        """The current clock cycle."""

    def irq_high(self) -> bool:
        """The core's ``irq`` line now."""

    async def read(self, address: int) -> int:
        """A bus read by this core, then an interrupt boundary."""

    async def write(self, address: int, value: int) -> None:
        """A bus write by this core, then an interrupt boundary."""

    async def work(self, cycles: int) -> None:
        """``cycles`` of computation, interruptible all through."""

    def charge(self, cycles: int) -> None:
        """Kernel computation to spend before the core's next operation (no boundary of its own)."""

    async def spend(self, cycles: int) -> None:
        """Kernel computation spent now (with what :meth:`charge` left owing), then a boundary."""

    async def boundary(self) -> None:
        """An interrupt boundary without an access (after the cycles owed): where interrupts come back on."""

    async def wait_for_interrupt(self) -> None:
        """Halt until ``irq`` is high."""

    def new_context(self, name: str, body: Callable[[], Awaitable[None]]):
        """The execution context of a new thread, which starts running ``body`` when first switched to."""

    def boot_context(self, name: str):
        """The context of the code running now (the core's boot code, which becomes its idle thread)."""

    async def switch(self, old, new) -> None:
        """Hand this core from context ``old`` (the caller) to ``new``; return when ``old`` runs
        again, on whichever core resumes it. ``old`` None: the caller's context ends."""

    async def freeze(self) -> None:
        """Stop for good (fault injection): the calling context never continues."""


class Hardware(Protocol):
    """Checker probes: hardware state read without a bus cycle (so reading never changes a run)."""

    def mplock_owner(self) -> int | None:
        """The MP lock's owner CPU, or None when it is free."""

    def ram_peek(self, address: int) -> int:
        """The word at shared-RAM bus ``address`` as the bus traffic left it."""
