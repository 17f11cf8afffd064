"""Bringing up the SoC in a cocotb test: clock, reset and one bus master per core."""
from __future__ import annotations

from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge

from hdl import memory_map as mm
from .bus import BusMaster

__all__ = ["SocBench", "CLOCK_PERIOD_NS"]

CLOCK_PERIOD_NS = 10


class SocBench:
    """The running SoC as a cocotb test sees it.

    Attributes
    ----------
    dut : the top-level handle
    ncpu : int            number of core ports (read from the hardware)
    masters : list[BusMaster]
    """

    def __init__(self, dut):
        self.dut = dut
        self.ncpu = 0
        while hasattr(dut, f"cpu{self.ncpu}__cyc"):
            self.ncpu += 1
        self.masters = [BusMaster(dut, cpu) for cpu in range(self.ncpu)]

    async def start(self, reset_cycles: int = 2) -> "SocBench":
        """Start the clock, hold reset, and leave the bench at a falling edge."""
        self.dut.ext_irq.value = 0
        Clock(self.dut.clk, CLOCK_PERIOD_NS, unit="ns").start()
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, reset_cycles)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await FallingEdge(self.dut.clk)
        ncpu = await self.masters[0].read(mm.SYS.NCPU)
        assert ncpu == self.ncpu, f"SYS.NCPU reads {ncpu} but the top has {self.ncpu} core ports"
        return self
