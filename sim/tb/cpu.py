"""The CPU model: the core protocol of ``firmware/core.py`` over cocotb, one per SoC port.

Firmware is Python ``async`` code. Each firmware thread runs as its own cocotb
task, and a core runs at most one of them at a time: :meth:`Cpu.switch` wakes
the next thread's context and then waits until its own is woken again, by this
core or by another one (a thread may move between CPUs). Firmware spends
simulated time only through bus accesses (:meth:`read`, :meth:`write`), thread
work (:meth:`work`) and kernel execution (:meth:`charge`, :meth:`spend`: the
cycles of the cost model); an idle core waits for its ``irq`` line to rise
(:meth:`wait_for_interrupt`), so idle cycles cost no Python.

Interrupt boundaries: after every access, at the end of every stretch of
kernel execution, and while :meth:`work` runs, the model calls the firmware's
interrupt entry (:attr:`Cpu.on_interrupt`) when the core's ``irq`` line is
high; the firmware decides whether to take the interrupt, record it, or leave
it pending. Kernel cycles owed through :meth:`charge` are spent as one block
just before the core's next operation, with one boundary at the block's end:
an interrupt that rises inside the block is taken there, after the block's
instructions (they change no kernel state, so only its latency moves, by at
most the block's length; the kernel keeps blocks short, see
``firmware/frames.py``).

Every access, work and switch must come from the context that runs on the
core now: anything else (a thread that moved to another CPU using its old
CPU's kernel, a stray coroutine) raises :class:`CoreMisuse`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import cocotb
from cocotb import task as cocotb_task
from cocotb.triggers import Event, FallingEdge, First, RisingEdge

from sim.tb.bus import BusMaster
from sim.tb.cycles import falling_edge_timer, falling_edges, now_ns

__all__ = ["Cpu", "Context", "Rendezvous", "CoreMisuse"]


class CoreMisuse(RuntimeError):
    """A core was used by code that is not running on it."""


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
    switched to (None for a context that is already running: the boot code).
    """

    __slots__ = ("name", "body", "task", "wake", "finished")

    def __init__(self, name: str, body: Callable[[], Awaitable[None]] | None, task=None):
        self.name = name
        self.body = body
        self.task = task
        self.wake = Event()
        self.finished = False

    def __repr__(self):
        return f"Context({self.name})"


class Cpu:
    """One core: its bus master, its ``irq`` line, kernel cycles owed and the hand-over of threads.

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
        Called at an interrupt boundary while ``irq`` is high: it runs the handlers, defers the
        interrupt or leaves it pending (the kernel's choice; the core goes on the same way).
    running : Context or None
        The context that runs on the core now.
    """

    def __init__(self, dut, master: BusMaster, period_ns: int, rendezvous: Rendezvous | None = None):
        self.id = master.cpu
        self.master = master
        self._clk = dut.clk
        self._period = period_ns
        self._irq_rise = RisingEdge(master.irq)
        self._rendezvous = rendezvous
        self.on_interrupt: Callable[[], Awaitable[None]] | None = None
        self.on_access: Callable[[], None] | None = None
        self.running: Context | None = None
        self.debt = 0
        self.work_cycles = 0
        self.kernel_cycles = 0
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

    def _check_caller(self) -> None:
        running = self.running
        if running is None or running.task is not cocotb_task.current_task():
            raise CoreMisuse(
                f"cpu {self.id} used by code that does not run on it "
                f"(running: {running.name if running else 'nothing'})"
            )

    async def _boundary(self) -> None:
        if self.on_interrupt is not None and self.master.irq_high():
            await self.on_interrupt()

    # -- bus ----------------------------------------------------------------------------------

    async def read(self, address: int) -> int:
        self._check_caller()
        if self.on_access is not None:
            self.on_access()
        if self.debt:
            await self._settle()
        value = await self.master.read(address)
        await self._boundary()
        return value

    async def write(self, address: int, value: int) -> None:
        self._check_caller()
        if self.on_access is not None:
            self.on_access()
        if self.debt:
            await self._settle()
        await self.master.write(address, value)
        await self._boundary()

    # -- computation --------------------------------------------------------------------------

    def charge(self, cycles: int) -> None:
        self.debt += cycles

    async def spend(self, cycles: int) -> None:
        self.debt += cycles
        if self.debt:
            self._check_caller()
            await self._settle()

    async def boundary(self) -> None:
        """An interrupt boundary with no access of its own (the instruction after interrupts
        come back on), after the kernel cycles owed."""
        self._check_caller()
        if self.debt:
            await self._settle()
        else:
            await self._boundary()

    async def _settle(self) -> None:
        """Spend the kernel cycles owed as one block, then an interrupt boundary."""
        cycles, self.debt = self.debt, 0
        self.kernel_cycles += cycles
        await falling_edges(self._clk, cycles, self._period)
        await self._boundary()

    async def work(self, cycles: int) -> None:
        """Spend ``cycles`` clock cycles computing (after any kernel cycles owed); interrupts
        may come in between."""
        self._check_caller()
        remaining = int(cycles)
        self.work_cycles += max(remaining, 0)
        if self.debt:
            await self._settle()
        await self._compute(remaining)

    async def _compute(self, remaining: int) -> None:
        """``remaining`` cycles of computation, interruptible all through.

        When ``irq`` rises, the interrupt entry runs at the next falling edge and
        the rest of the computation follows. When the entry defers the interrupt
        (the thread is in a critical section) the computation runs to its end.
        """
        while remaining > 0:
            if self.irq_high():
                if self.on_interrupt is not None and await self.on_interrupt():
                    continue  # handled; keep watching the line
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
        self._check_caller()
        if self.debt:
            await self._settle()
        if self.irq_high():
            return
        start = now_ns()
        await self._irq_rise
        if self._rendezvous is not None:
            await self._rendezvous.wait(self.id)
        self.idle_cycles += (now_ns() - start) // self._period

    async def freeze(self) -> None:
        """Fault injection: the core stops for good (its current context never continues)."""
        self._check_caller()
        self.frozen = True
        await Event().wait()

    # -- thread hand-over ---------------------------------------------------------------------

    def new_context(self, name: str, body: Callable[[], Awaitable[None]]) -> Context:
        return Context(name, body)

    def boot_context(self, name: str) -> Context:
        """The calling task as a context, running on this core (its boot code)."""
        context = Context(name, None, cocotb_task.current_task())
        self.running = context
        return context

    async def switch(self, old: Context | None, new: Context) -> None:
        """Hand the core from ``old`` (the caller) to ``new``; return when ``old`` runs again.

        With ``old`` None the caller's context ends (the thread exited).
        """
        self._check_caller()
        if self.debt:
            await self._settle()
        self.running = new
        if new.task is None:
            new.task = cocotb.start_soon(self._run(new))
        else:
            new.wake.set()
        if old is None:
            return
        await old.wake.wait()
        old.wake.clear()

    @staticmethod
    async def _run(context: Context) -> None:
        await context.body()
        context.finished = True
