"""Bringing up the SoC in a cocotb test: clock, reset and one bus master per core."""

from __future__ import annotations

import atexit
import os
from pathlib import Path

from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, Timer
from cocotb.utils import get_sim_time

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.ipi import pair_address
from sim.tb.bus import BusError, BusMaster
from sim.tb.cycles import CLOCK_PERIOD_NS
from sim.tb.probes import Probes
from sim.contract.config import CONFIG_ENV, HW_COVERAGE_FILE, RunConfig
from sim.contract.hw_coverage import HwCoverage, save_hits

__all__ = ["SocBench", "CLOCK_PERIOD_NS"]

#: The benches of a directed module whose run asks for hw_coverage (saved when the simulator exits).
_recorded: list[HwCoverage] = []


def _record_directed_coverage(bench: SocBench) -> HwCoverage | None:
    """Watch ``bench``'s ports when this simulator runs a directed module with ``hw_coverage``
    (a scenario run attaches its own, sim/tb/run_program.py)."""
    if not os.environ.get(CONFIG_ENV):
        return None
    config = RunConfig.from_environment()
    if config.kind != "directed" or not config.hw_coverage:
        return None
    if not _recorded:
        atexit.register(save_hits, Path(config.out) / HW_COVERAGE_FILE, _recorded)
    coverage = HwCoverage(bench.soc_config()).attach(bench.masters)
    _recorded.append(coverage)
    return coverage


class SocBench:
    """The running SoC as a cocotb test sees it.

    Attributes
    ----------
    dut : the top-level handle
    probe : Probes        the declared public probes, ``probe("mplock.owner")``
    ncpu : int            number of core ports (read from the hardware)
    masters : list[BusMaster]
    """

    def __init__(self, dut):
        self.dut = dut
        self.probe = Probes(dut)
        self.ncpu = 0
        while hasattr(dut, f"cpu{self.ncpu}__cyc"):
            self.ncpu += 1
        self.masters = [BusMaster(dut, cpu) for cpu in range(self.ncpu)]
        self._ram_seen: dict[int, int] | None = None
        self.fifo_depth = 0
        self.ram_words = 0
        self.hw_coverage = None

    async def start(self, reset_cycles: int = 2) -> SocBench:
        """Start the clock, hold reset, and leave the bench at a falling edge."""
        self.dut.ext_irq.value = 0
        self.dut.dev_post.value = 0  # no device request (an undriven strobe would read X on Icarus)
        self.dut.dev_data.value = 0
        self.dut.stall.value = 0
        # The clock's rising edges fall on multiples of the period (sim.tb.cycles relies on it),
        # also when an earlier test in the same simulation ended mid-period.
        offset = int(get_sim_time("ns")) % CLOCK_PERIOD_NS
        if offset:
            await Timer(CLOCK_PERIOD_NS - offset, unit="ns")
        Clock(self.dut.clk, CLOCK_PERIOD_NS, unit="ns", impl="gpi").start()
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, reset_cycles)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0
        await FallingEdge(self.dut.clk)
        ncpu = await self.masters[0].read(mm.SYS.NCPU)
        assert ncpu == self.ncpu, f"SYS.NCPU reads {ncpu} but the top has {self.ncpu} core ports"
        self.fifo_depth = await self.masters[0].read(mm.SYS.FIFO_DEPTH)
        self.ram_words = await self._probe_ram_words()
        self.hw_coverage = _record_directed_coverage(self)
        return self

    def soc_config(self) -> SocConfig:
        """The configuration as the started hardware reports it (its sizes, read at boot)."""
        return SocConfig(
            ncpu=self.ncpu, fifo_depth=self.fifo_depth, ram_words=self.ram_words, ext_lines=len(self.dut.ext_irq)
        )

    async def _probe_ram_words(self) -> int:
        """The shared RAM's size, found as boot code would: the first power of two that errs."""
        words = 16
        while words < 1 << 20:
            try:
                await self.masters[0].read(mm.RAM.addr("WORD", index=words))
            except BusError:
                break
            words *= 2
        return words

    # -- probes: RTL state read without a bus cycle, for checkers --------------------------------

    def watch_ram(self) -> None:
        """Keep the RAM's contents as the bus traffic leaves them, for test probes (ram_peek); runs
        that do not probe do not pay for it."""
        if self._ram_seen is None:
            self._ram_seen = {}
            for master in self.masters:
                master.add_monitor(self._see_ram)

    def _see_ram(self, cycle: int, cpu: int, address: int, write: bool, value: int) -> None:
        self._ram_seen[address] = value

    def ram_peek(self, address: int) -> int:
        """The word at RAM ``address`` as the last access on any port left it since watch_ram (no bus cycle)."""
        if self._ram_seen is None:
            raise RuntimeError("ram_peek needs SocBench.watch_ram() before the run")
        return self._ram_seen.get(address, 0)

    def mplock_owner(self) -> int | None:
        """The MP lock's owner CPU, or None when free (read from the RTL registers)."""
        return int(self.probe("mplock.owner").value) if int(self.probe("mplock.held").value) else None

    def mplock_busts(self) -> int:
        """BUST writes that freed the MP lock (the BUSTS register, read from the RTL)."""
        return int(self.probe("mplock.busts").value)

    def ipi_error_flags(self) -> dict[str, list[tuple[int, int]]]:
        """FIFOs (s, d) whose sticky WOF (push dropped) or ROE (pop on empty) flag is set."""
        flags = {"wof": [], "roe": []}
        if self.ncpu < 2:
            return flags
        # hdl/ipi.py keeps the flags as one word per CPU: wof_<s> bit d, roe_<d> bit s.
        for c in range(self.ncpu):
            wof, roe = (int(self.probe(f"ipi.{name}_{c}").value) for name in ("wof", "roe"))
            flags["wof"] += [(c, k) for k in range(self.ncpu) if wof >> k & 1]
            flags["roe"] += [(k, c) for k in range(self.ncpu) if roe >> k & 1]
        return {name: sorted(pairs) for name, pairs in flags.items()}

    def ipi_fifo_state(self, src: int, dst: int) -> dict[str, int]:
        """``FIFO[src][dst]``'s registers (func, windex, rindex, wof, roe), read from the IPI matrix's
        memories and bit words (hdl/ipi.py) without a bus cycle."""
        probe, row = self.probe, pair_address(self.ncpu, src, dst)
        sent = int(probe(f"ipi.sent_{src}").value) >> dst & 1
        got = int(probe(f"ipi.got_{dst}").value) >> src & 1
        send_row = int(probe("ipi.send")[row].value) if sent else mm.IPI_INDEX_RESET  # as after reset
        return {
            "func": send_row >> 32,
            "windex": send_row & 0xFFFF_FFFF,
            "rindex": int(probe("ipi.recv")[row].value) if got else mm.IPI_INDEX_RESET,
            "wof": int(probe(f"ipi.wof_{src}").value) >> dst & 1,
            "roe": int(probe(f"ipi.roe_{dst}").value) >> src & 1,
        }
