"""The bus master driver: one per core port, used by the CPU model and the tests.

The driver changes the port's inputs and samples its outputs only while the
clock is low (from the falling edge on). The SoC's outputs change just after
rising edges, so a value read at a falling edge is settled on every simulator,
and an input driven then is sampled by the next rising edge. An uncontended
access costs one ``FallingEdge`` await: that single trigger per transaction is
what makes this driver cheap.
"""

from __future__ import annotations

from cocotb.triggers import FallingEdge, Timer
from cocotb.utils import get_sim_time

from hdl import memory_map as mm
from sim.tb.cycles import CLOCK_PERIOD_NS, LOW_PHASE_NS, now_ns, time_of_falling_edge
from sim.tb.signals import PortSignal

__all__ = ["BusMaster", "BusError", "BusTimeout"]

#: An access that sees neither ack nor err within this many cycles is a hang.
DEFAULT_TIMEOUT_CYCLES = 10_000
_RAM_BASE, _RAM_SIZE = mm.RAM.base, mm.RAM.size


class BusError(Exception):
    """The SoC answered an access with ``err`` (or the address was misaligned)."""

    def __init__(self, cpu: int, address: int, write: bool, reason: str = "bus error"):
        self.cpu, self.address, self.write = cpu, address, write
        access = "write" if write else "read"
        super().__init__(f"CPU {cpu}: {reason} on {access} of {address:#010x} ({mm.describe(address)})")


class BusTimeout(BusError):
    """Neither ack nor err came back."""


class BusMaster:
    """Drives core port ``cpu`` of the SoC top ``dut`` (``cpu{n}__cyc`` ...).

    Attributes
    ----------
    transactions : int
        Completed accesses (acknowledged or erroneous).
    last_cycles : int
        Clock cycles the last access took, from driving the request to seeing
        its answer: 1 when uncontended.
    monitors : tuple of callables, or None
        Called as ``monitor(cycle, cpu, address, write, value)`` for each shared-RAM
        access answered with ``ack`` (``value``: the word written or read, ``cycle``:
        the cycle of the ack). None when there are none, so the hot path pays one test.
    observers : tuple of callables, or None
        Called as ``observer(cycle, cpu, address, write, value, ok, cycles)`` for every
        access, answered with ``ack`` (``ok``) or ``err``: the hardware coverage
        (sim/contract/hw_coverage.py). ``cycles`` is how long it took, so ``cycle - cycles`` is the
        cycle its request was first presented.
    """

    def __init__(
        self, dut, cpu: int, *, period_ns: int = CLOCK_PERIOD_NS, timeout_cycles: int = DEFAULT_TIMEOUT_CYCLES
    ):
        self.cpu = cpu
        prefix = f"cpu{cpu}__"

        def signal(name):
            return PortSignal(getattr(dut, prefix + name))

        self._cyc, self._stb, self._we = signal("cyc"), signal("stb"), signal("we")
        self._adr, self._dat_w = signal("adr"), signal("dat_w")
        self._dat_r, self._ack, self._err = signal("dat_r"), signal("ack"), signal("err")
        self._irq = signal("irq")
        self.irq = getattr(dut, prefix + "irq")
        self._clk_signal = PortSignal(dut.clk)
        self._falling = FallingEdge(dut.clk)
        self._period = period_ns
        self._timers: dict[int, Timer] = {}
        self._answered_at = None
        self.timeout_cycles = timeout_cycles
        self.transactions = 0
        self.last_cycles = 0
        self.monitors = None
        self.observers = None
        self.idle()

    def add_monitor(self, monitor) -> None:
        """Watch this port's shared-RAM traffic (see ``monitors``)."""
        self.monitors = (self.monitors or ()) + (monitor,)

    def add_observer(self, observer) -> None:
        """Watch every access of this port (see ``observers``)."""
        self.observers = (self.observers or ()) + (observer,)

    def remove_monitor(self, monitor) -> None:
        # Equality, not identity: each ``obj.method`` is a new bound-method object.
        rest = tuple(m for m in (self.monitors or ()) if m != monitor)
        self.monitors = rest or None

    def idle(self) -> None:
        """Drive the port to its idle state (no request), whatever drove it before."""
        for signal in (self._cyc, self._stb, self._we, self._adr, self._dat_w):
            signal.reset(0)

    def irq_high(self) -> bool:
        """The core's ``irq`` line, read without a trigger."""
        return bool(self._irq.get())

    def _after_two_falling_edges(self) -> Timer:
        """A timer to just after the second falling edge from now (see sim.tb.cycles.falling_edge_timer);
        one per distinct delay, made once."""
        now = now_ns()
        delay = time_of_falling_edge(now, 2, self._period, bool(self._clk_signal.get())) + LOW_PHASE_NS - now
        timer = self._timers.get(delay)
        if timer is None:
            timer = self._timers[delay] = Timer(delay, unit="ns")
        return timer

    async def read(self, address: int) -> int:
        """Read the word at byte ``address``; raises :class:`BusError` on ``err``."""
        return await self._access(address, False, 0)

    async def write(self, address: int, value: int) -> None:
        """Write ``value`` to the word at byte ``address``; raises :class:`BusError` on ``err``."""
        await self._access(address, True, value & 0xFFFF_FFFF)

    async def _access(self, address: int, write: bool, value: int) -> int:
        if address & 3:
            # The port carries word addresses: a misaligned access cannot be expressed.
            raise BusError(self.cpu, address, write, "misaligned address")
        back_to_back = get_sim_time("step") == self._answered_at
        if not back_to_back and self._clk_signal.get():
            # Possibly inside a rising-edge time step: wait for the low phase.
            # This costs no simulated cycle; the request is sampled at the same edge.
            await self._falling
        self._adr.set(address >> 2)
        self._we.set(int(write))
        if write:
            self._dat_w.set(value)
        self._cyc.set(1)
        self._stb.set(1)
        cycles = 0
        while True:
            if back_to_back:
                # The port answered in this time step, so it takes no request at the next
                # edge: the earliest answer is two cycles away. One wake-up instead of two.
                back_to_back = False
                await self._after_two_falling_edges()
                cycles += 2
            else:
                await self._falling
                cycles += 1
            if self._ack.get():
                data = 0 if write else self._dat_r.get()
                error = None
                break
            if self._err.get():
                error = BusError(self.cpu, address, write)
                break
            if cycles >= self.timeout_cycles:
                error = BusTimeout(self.cpu, address, write, f"no answer in {cycles} cycles")
                break
        self._cyc.set(0)
        self._stb.set(0)
        self._answered_at = get_sim_time("step")
        self.transactions += 1
        self.last_cycles = cycles
        if self.observers is not None and not isinstance(error, BusTimeout):
            cycle = now_ns() // self._period
            for observer in self.observers:
                observer(
                    cycle,
                    self.cpu,
                    address,
                    write,
                    value if write else data if error is None else 0,
                    error is None,
                    cycles,
                )
        if error is not None:
            raise error
        if self.monitors is not None and 0 <= address - _RAM_BASE < _RAM_SIZE:
            # After the port is idle again: a monitor may raise (a race stops the run).
            cycle = now_ns() // self._period
            for monitor in self.monitors:
                monitor(cycle, self.cpu, address, write, value if write else data)
        return data
