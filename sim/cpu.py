"""The CPU model: how firmware executes on one core of the simulated SoC.

Firmware is Python ``async`` code. Each firmware thread runs as its own cocotb
task, and a core runs at most one of them at a time: :meth:`Cpu.switch` wakes
the next thread's context and then waits until its own is woken again.
Firmware spends simulated time only through bus accesses (:meth:`read`,
:meth:`write`) and explicit work (:meth:`work`); an idle core waits for its
``irq`` line to rise (:meth:`wait_for_interrupt`), so idle cycles cost no Python.

Interrupts are taken at bus-access boundaries and inside :meth:`work`, never
in the middle of an access: at those points, when the core's ``irq`` line is
high, the model calls the firmware's interrupt entry (:attr:`Cpu.on_interrupt`),
which decides whether to run the handler now or to record it as pending.
"""
from __future__ import annotations

from typing import Awaitable, Callable

import cocotb
from cocotb.triggers import Event, FallingEdge, First, RisingEdge

from .bus import BusMaster
from .cycles import falling_edge_timer, falling_edges, now_ns

__all__ = ["Cpu", "Context", "Rendezvous"]


class Rendezvous:
    """Resumes the cores woken by their ``irq`` lines in one time step at the next
    falling edge, in CPU order.

    Simulators deliver simultaneous value-change callbacks in orders of their
    own; going through here makes the Python side run in the same order on
    every simulator, so runs (and their traces) are identical.
    """

    def __init__(self, clk):
        self._falling = FallingEdge(clk)
        self._waiting: list[tuple[int, Event]] = []

    async def wait(self, cpu: int) -> None:
        event = Event()
        if not self._waiting:
            cocotb.start_soon(self._release())
        self._waiting.append((cpu, event))
        await event.wait()

    async def _release(self) -> None:
        await self._falling
        waiting, self._waiting = sorted(self._waiting, key=lambda w: w[0]), []
        for _, event in waiting:
            event.set()


class Context:
    """The execution context of one firmware thread: its task and its wake-up event.

    ``body`` is the coroutine function run the first time the context is
    switched to.
    """

    __slots__ = ("name", "body", "task", "wake", "finished")

    def __init__(self, name: str, body: Callable[[], Awaitable[None]] | None):
        self.name = name
        self.body = body
        # A context without a body is the caller's own, already running.
        self.task = None if body is not None else "running"
        self.wake = Event()
        self.finished = False

    def __repr__(self):
        return f"Context({self.name})"


class Cpu:
    """One core: its bus master, its ``irq`` line and the hand-over of threads.

    Parameters
    ----------
    dut : the SoC top-level handle
    master : BusMaster
        The core's port.
    period_ns : int
        Clock period, to turn simulation time into cycles.

    Attributes
    ----------
    on_interrupt : async callable or None
        Called at an interrupt boundary while ``irq`` is high; returns True when
        it took the interrupt and False when it deferred it.
    """

    def __init__(self, dut, master: BusMaster, period_ns: int, rendezvous: Rendezvous | None = None):
        self.id = master.cpu
        self.master = master
        self._clk = dut.clk
        self._period = period_ns
        self._irq_rise = RisingEdge(master.irq)
        self._rendezvous = rendezvous
        self.on_interrupt: Callable[[], Awaitable[bool]] | None = None
        self.work_cycles = 0
        self.idle_cycles = 0
        self.frozen = False

    # -- time ---------------------------------------------------------------------------------

    @property
    def cycle(self) -> int:
        """The current clock cycle (rising edges since time 0)."""
        return now_ns() // self._period

    def irq_high(self) -> bool:
        """The core's ``irq`` line, read without a trigger."""
        return self.master.irq_high()

    # -- bus ----------------------------------------------------------------------------------

    async def read(self, address: int) -> int:
        value = await self.master.read(address)
        if self.irq_high() and self.on_interrupt is not None:
            await self.on_interrupt()
        return value

    async def write(self, address: int, value: int) -> None:
        await self.master.write(address, value)
        if self.irq_high() and self.on_interrupt is not None:
            await self.on_interrupt()

    async def read_quiet(self, address: int) -> int:
        """A read that is not an interrupt boundary (for interrupt handlers)."""
        return await self.master.read(address)

    async def write_quiet(self, address: int, value: int) -> None:
        await self.master.write(address, value)

    # -- computation --------------------------------------------------------------------------

    async def work(self, cycles: int) -> None:
        """Spend ``cycles`` clock cycles computing; interrupts may come in between.

        When ``irq`` rises, the interrupt entry runs at the next falling edge and
        the rest of the work follows. When the entry defers the interrupt (the
        thread is in a critical section) the work runs to its end.
        """
        remaining = int(cycles)
        self.work_cycles += max(remaining, 0)
        while remaining > 0:
            if self.irq_high():
                if self.on_interrupt is not None and await self.on_interrupt():
                    continue            # handled; keep watching the line
                # Deferred (or nobody to take it): the line stays high, no edge to wait for.
                await falling_edges(self._clk, remaining, self._period)
                return
            start = now_ns()
            fired = await First(falling_edge_timer(self._clk, remaining, self._period), self._irq_rise)
            if fired is not self._irq_rise:
                return
            # irq rose just after a rising edge; the entry runs from the next falling edge.
            elapsed = -(-(now_ns() - start) // self._period)
            remaining -= elapsed
            if self._rendezvous is not None:
                await self._rendezvous.wait(self.id)
            if self.on_interrupt is not None:
                await self.on_interrupt()

    async def wait_for_interrupt(self) -> None:
        """Halt until ``irq`` is high (immediately when it already is)."""
        if self.irq_high():
            return
        start = now_ns()
        await self._irq_rise
        if self._rendezvous is not None:
            await self._rendezvous.wait(self.id)
        self.idle_cycles += (now_ns() - start) // self._period

    async def freeze(self) -> None:
        """Fault injection: the core stops for good (its current context never continues)."""
        self.frozen = True
        await Event().wait()

    # -- thread hand-over ---------------------------------------------------------------------

    async def switch(self, old: Context | None, new: Context) -> None:
        """Hand the core from ``old`` (the caller) to ``new``; return when ``old`` runs again.

        With ``old`` None the caller's context ends (the thread exited).
        """
        if new.task is None:
            new.task = cocotb.start_soon(self._run(new))
        else:
            new.wake.set()
        if old is None:
            return
        await old.wake.wait()
        old.wake.clear()

    async def _run(self, context: Context) -> None:
        await context.body()
        context.finished = True
