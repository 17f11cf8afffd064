"""The model side of the isolation test (isolation.py): the register names and constants it
uses, a reference model of every IPI FIFO fed with every successful access, the SoC as the test
drives it (snapshots of every CPU's readable and probed state), and monitors of the victim's
``irq`` and ``debug.event``."""

from __future__ import annotations

from dataclasses import dataclass, field

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from hdl import memory_map as mm
from sim.contract.config import RunConfig
from sim.tb.bus import BusError, BusTimeout
from sim.tb.probes import Probes
from sim.tb.testbench import SocBench

CONFIG = RunConfig.from_environment().soc_config()

PATTERNS = (0x0000_0000, 0xFFFF_FFFF, 0xA5A5_A5A5)
MASK32 = 0xFFFF_FFFF

TX_STATUS = mm.IPI_TX.register("TX_STATUS")
TX_FULL = TX_STATUS.field("FULL").mask
TX_EMPTY = TX_STATUS.field("EMPTY").mask
TX_WOF = TX_STATUS.field("WOF").mask
TX_LEVEL_LSB = TX_STATUS.field("LEVEL").lsb
RX_STATUS = mm.IPI_RX.register("RX_STATUS")
RX_VALID = RX_STATUS.field("VALID").mask
RX_ROE = RX_STATUS.field("ROE").mask
NONOWNER = mm.MPLOCK.register("ERR").field("NONOWNER").mask
CTRL = mm.TIMER.register("CTRL")
CTRL_ENABLE = CTRL.field("ENABLE").mask
CTRL_ARMED = CTRL.field("ARMED").mask
CTRL_PENDING = CTRL.field("PENDING").mask

#: Reads with side effects, never part of a snapshot (FAILED_TRIES counts a's TRYs; checked apart;
#: OWNER_QUIET counts cycles).
SIDE_EFFECT_READS = {"sys.CYCLE_LO", "intc.CLAIM", "mplock.TRY", "mplock.FAILED_TRIES", "mplock.OWNER_QUIET"}
#: Global blocks in a snapshot (they are everybody's; a never writes ROUTE or RAM).
SNAPSHOT_GLOBALS = ("mplock", "route")
#: Global registers an attacker writes (BUST excluded: see the BUST test). ROUTE and RAM
#: are shared configuration/data by contract and are not written by the attack.
ATTACK_GLOBAL_WRITES = {"mplock.RELEASE", "mplock.ERR"}

#: Addresses outside every block window.
UNMAPPED = (0x0000_8000, 0x0000_C000, 0x0000_FFFC, 0x0100_0000, 0x0FFF_FFFC, 0x2000_0000, 0x8000_0000, 0xFFFF_FFFC)

#: The cycle counter's high word while the victim is set up (v latches it) and during the attacks.
VICTIM_CYCLE_HI, ATTACK_CYCLE_HI = 0x1234, 0x1235
#: High word of the victim's re-armed COMPARE: far beyond the run.
VICTIM_COMPARE_HI = 0x7000_0000

#: Victim's PRIO per source (masked to prio_bits): soft > timer > IPI > ext0 > ...
VICTIM_PRIO = {mm.SOURCE_IPI: 3, mm.SOURCE_TIMER: 5, mm.SOURCE_SOFT: 7, mm.SOURCE_EXT0: 2}


# -- a reference model of every FIFO, fed with every successful access ---------------------------


@dataclass
class FifoModel:
    func: int = 0
    entries: list = field(default_factory=list)
    windex: int = mm.IPI_INDEX_RESET
    rindex: int = mm.IPI_INDEX_RESET
    wof: bool = False
    roe: bool = False


class Soc:
    """The bench, the FIFO model, access counters and the state snapshots."""

    def __init__(self, dut, bench: SocBench):
        self.dut, self.bench = dut, bench
        self.n = bench.ncpu
        self.depth = bench.fifo_depth
        self.cfg = CONFIG
        assert self.n == CONFIG.ncpu and self.depth == CONFIG.fifo_depth, (
            f"run.json's {CONFIG} does not match the SoC ({self.n} CPUs, depth {self.depth})"
        )
        self.n_src = CONFIG.n_sources
        self.windows = [mm.windows(CONFIG, c) for c in range(self.n)]
        self.fifo = {(s, d): FifoModel() for s in range(self.n) for d in range(self.n) if s != d}
        self.counts = {"snapshot": 0, "attack_ok": 0, "attack_err": 0, "setup": 0}
        self.phase_counter = "setup"

    # -- accesses ---------------------------------------------------------------------------------

    async def read(self, cpu: int, addr: int) -> int:
        value = await self.bench.masters[cpu].read(addr)
        self.counts[self.phase_counter] += 1
        return value

    async def write(self, cpu: int, addr: int, value: int) -> None:
        await self.bench.masters[cpu].write(addr, value)
        self.counts[self.phase_counter] += 1
        self._track_write(cpu, addr, value & MASK32)

    async def expect_error(self, cpu: int, addr: int, write: bool, value: int = 0xA5A5_A5A5) -> str | None:
        """Access that must end in ``err``; returns a failure text or None."""
        master = self.bench.masters[cpu]
        self.counts["attack_err"] += 1
        try:
            if write:
                await master.write(addr, value)
            else:
                await master.read(addr)
        except BusTimeout as exc:
            return f"timeout instead of err: {exc}"
        except BusError:
            return None
        return (
            f"CPU {cpu}: illegal {'write' if write else 'read'} of {addr:#010x} ({mm.describe(addr)}) was acknowledged"
        )

    def _track_write(self, cpu: int, addr: int, value: int) -> None:
        block = mm.block_at(addr)
        if block not in (mm.IPI_TX, mm.IPI_RX):
            return
        slot, offset = divmod(addr - block.base, block.slot_stride)
        name = next(r.name for r in block.registers if r.offset == offset)
        if block is mm.IPI_TX:
            f = self.fifo[cpu, slot]
            if name == "TX_FUNC":
                f.func = value
            elif name == "TX_ARG":
                if len(f.entries) == self.depth:
                    f.wof = True
                else:
                    f.entries.append((f.func, value))
                    f.windex = (f.windex + 1) & MASK32
            elif name == "TX_STATUS" and value & TX_WOF:
                f.wof = False
        else:
            f = self.fifo[slot, cpu]
            if name == "RX_POP":
                if f.entries:
                    f.entries.pop(0)
                    f.rindex = (f.rindex + 1) & MASK32
                else:
                    f.roe = True
            elif name == "RX_STATUS" and value & RX_ROE:
                f.roe = False

    # -- what a CPU can see of itself ---------------------------------------------------------------

    def readable(self, cpu: int):
        """(name, address) of every side-effect-free readable register ``cpu`` has (RAM excluded)."""
        result = []
        for win in self.windows[cpu]:
            if win.block.scope != "cpu" and win.block.name not in SNAPSHOT_GLOBALS:
                continue
            for word in range(win.span):
                if win.legal(word, write=False):
                    addr = win.block.base + 4 * word
                    name = mm.describe(addr)
                    if name not in SIDE_EFFECT_READS:
                        result.append((name, addr))
        return result

    def probes(self, cpu: int) -> dict[str, int]:
        """RTL state of ``cpu`` and of the shared blocks, read without a bus cycle."""
        probe = self.bench.probe
        state = {}
        for reg in ("enable", "in_service", "soft", *(f"prio{k}" for k in range(self.n_src))):
            state[f"rtl.intc.{reg}"] = int(probe(f"cpu{cpu}.intc.{reg}").value)
        for reg in ("compare", "period", "enable", "armed", "pending"):
            state[f"rtl.timer.{reg}"] = int(probe(f"cpu{cpu}.timer.{reg}").value)
        state["rtl.sys.cycle_hi"] = int(probe(f"cpu{cpu}.sys.cycle_hi").value)
        for reg in ("curthread", "critdepth", "pri"):
            state[f"rtl.debug.{reg}"] = int(probe(f"cpu{cpu}.debug.{reg}").value)
        for reg in ("held", "owner", "err_nonowner", "acquires"):
            state[f"rtl.mplock.{reg}"] = int(probe(f"mplock.{reg}").value)
        if not state["rtl.mplock.held"]:
            state["rtl.mplock.owner"] = None  # meaningless while free
        for x in range(self.n):
            if x == cpu:
                continue
            for s, d in ((cpu, x), (x, cpu)):
                for reg, value in self.bench.ipi_fifo_state(s, d).items():
                    state[f"rtl.fifo[{s}][{d}].{reg}"] = value
        state["rtl.irq"] = int(self.bench.masters[cpu].irq.value)
        return state

    async def snapshot(self, cpu: int) -> dict[str, int]:
        saved, self.phase_counter = self.phase_counter, "snapshot"
        try:
            state = {name: await self.read(cpu, addr) for name, addr in self.readable(cpu)}
        finally:
            self.phase_counter = saved
        state.update(self.probes(cpu))
        return state

    def model_view(self, cpu: int) -> dict[str, int]:
        """The FIFO-derived registers of ``cpu`` as the model predicts them."""
        view = {}
        pending = 0
        for x in range(self.n):
            if x == cpu:
                continue
            f = self.fifo[cpu, x]
            level = len(f.entries)
            view[f"ipi_tx[{x}].TX_FUNC"] = f.func
            view[f"ipi_tx[{x}].TX_WINDEX"] = f.windex
            view[f"ipi_tx[{x}].TX_RINDEX"] = f.rindex
            view[f"ipi_tx[{x}].TX_STATUS"] = (
                (TX_FULL if level == self.depth else 0)
                | (TX_EMPTY if not level else 0)
                | (TX_WOF if f.wof else 0)
                | level << TX_LEVEL_LSB
            )
            g = self.fifo[x, cpu]
            head = g.entries[0] if g.entries else (0, 0)
            view[f"ipi_rx[{x}].RX_FUNC"], view[f"ipi_rx[{x}].RX_ARG"] = head
            view[f"ipi_rx[{x}].RX_LEVEL"] = len(g.entries)
            view[f"ipi_rx[{x}].RX_STATUS"] = (RX_VALID if g.entries else 0) | (RX_ROE if g.roe else 0)
            pending |= bool(g.entries) << x
            for (s, d), fm in (((cpu, x), f), ((x, cpu), g)):
                for reg in ("func", "windex", "rindex", "wof", "roe"):
                    view[f"rtl.fifo[{s}][{d}].{reg}"] = int(getattr(fm, reg))
        view["ipi_pending.RX_PENDING"] = pending
        return view

    def expected(self, cpu: int, before: dict[str, int]) -> dict[str, int]:
        """``before`` with the FIFO-derived registers replaced by the model's prediction."""
        exp = dict(before)
        view = self.model_view(cpu)
        exp.update(view)
        exp["intc.PENDING"] = (before["intc.PENDING"] & ~1) | int(view["ipi_pending.RX_PENDING"] != 0)
        exp["rtl.irq"] = None  # derived: checked against the INTC registers instead
        return exp

    def irq_from(self, state: dict[str, int]) -> int:
        prio = [state[f"intc.PRIO[{k}]"] for k in range(self.n_src)]
        live = state["intc.PENDING"] & state["intc.ENABLE"] & ~state["intc.INSERVICE"]
        return int(any(live >> k & 1 and prio[k] for k in range(self.n_src)))

    @staticmethod
    def diff(expected: dict, actual: dict) -> list[str]:
        out = []
        for key in sorted(expected):
            if expected[key] is None:
                continue
            if actual.get(key) != expected[key]:
                e, a = expected[key], actual.get(key)
                out.append(f"{key}: expected {_hex_or_repr(e)}, got {_hex_or_repr(a)}")
        return out

    async def check(self, cpu: int, before: dict[str, int], what: str) -> dict[str, int]:
        """Snapshot ``cpu`` and compare it with ``before`` (FIFO registers per the model)."""
        after = await self.snapshot(cpu)
        problems = self.diff(self.expected(cpu, before), after)
        if after["rtl.irq"] != self.irq_from(after):
            problems.append(f"irq is {after['rtl.irq']} but the INTC registers say {self.irq_from(after)}")
        assert not problems, f"{what}: CPU {cpu} changed:\n  " + "\n  ".join(problems)
        return after


# -- monitors -------------------------------------------------------------------------------------


class EventMonitor:
    """Records every pulse of ``cpu<N>.debug.event_valid`` and the event code shown with it."""

    def __init__(self, dut, cpu: int):
        probe = Probes(dut)
        self.valid, self.code = probe(f"cpu{cpu}.debug.event_valid"), probe(f"cpu{cpu}.debug.event")
        self.events: list[int] = []
        self.task = cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            await RisingEdge(self.valid)
            await ReadOnly()
            self.events.append(int(self.code.value))

    def stop(self):
        self.task.cancel()


class ChangeMonitor:
    """Counts value changes of a one-bit signal."""

    def __init__(self, signal):
        self.signal = signal
        self.changes = 0
        self.task = cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            await self.signal.value_change
            self.changes += 1

    def stop(self):
        self.task.cancel()


def _hex_or_repr(x) -> str:
    return f"{x:#x}" if isinstance(x, int) else repr(x)
