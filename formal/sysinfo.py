"""Formal harness for hdl/sysinfo.py: one CPU's SYS block and its view of the cycle counter.

The cycle counter is an input; in the SoC (hdl/soc.py) it is one free-running 64-bit register,
so the solver picks its first value and it then counts up by one per cycle (64-bit wrap).

The 64-bit read protocol is stated with a harness shadow: ``snap`` holds the whole counter as
it was at this CPU's last CYCLE_LO read. A CYCLE_HI read must return ``snap``'s high word, so
the pair (CYCLE_LO, then CYCLE_HI) is one untorn 64-bit value even across a carry out of the
low word. The block's latch is not visible until CYCLE_HI is read, so induction needs the
invariant "latch" that ties it to the shadow in every cycle.
"""

from amaranth.hdl import Fragment, Mux, Signal

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.sysinfo import SysInfo

from .harness import Harness, internal

__all__ = ["SysInfoHarness"]


class SysInfoHarness(Harness):
    NAME = "sysinfo"
    TITLE = "one CPU's SYS block (hdl/sysinfo.py): identification and the 64-bit cycle counter"
    PROPERTIES = {
        "ids": "CPUID reads this CPU's number, NCPU the CPU count, FIFO_DEPTH the IPI FIFO depth, ID the SoC "
        "id; every access completes in its cycle",
        "cycle-lo": "CYCLE_LO reads the low word of the cycle counter of that cycle",
        "cycle-hi": "after a CYCLE_LO read, CYCLE_HI reads the high word of the counter as it was at this CPU's "
        "last CYCLE_LO read: CYCLE_LO then CYCLE_HI is one untorn 64-bit value, even across a carry",
        "cycle-hi-reset": "CYCLE_HI reads 0 until this CPU's first CYCLE_LO read",
        "latch": "invariant: the block's latch holds the high word of the counter at the last CYCLE_LO read, "
        "0 before the first one",
    }
    INVARIANTS = ("latch",)
    SIZES = (
        {"ncpu": 4, "cpu": 0, "fifo_depth": 32},
        {"ncpu": 4, "cpu": 3, "fifo_depth": 32},
        {"ncpu": 1, "cpu": 0, "fifo_depth": 2},
        {"ncpu": 32, "cpu": 31, "fifo_depth": 1024},
    )
    QUICK = ({"ncpu": 4, "cpu": 3, "fifo_depth": 32},)
    DEPTH = 2  # covers: CYCLE_LO read, then CYCLE_HI read
    MUTANTS = ("sys-cycle-hi-live",)

    def build(self, m, platform):
        n, cpu, depth = self.params["ncpu"], self.params["cpu"], self.params["fifo_depth"]
        cfg = SocConfig(ncpu=n, fifo_depth=depth)
        self.win = next(w for w in mm.windows(cfg, cpu) if w.block is mm.SYS)
        dut = SysInfo(cpu, n, depth, self.win.span_log2, mutant=self.mutant)
        bus = dut.bus
        req, we, addr, wdata = self.drive_bus(m, bus)
        cycle = self.cycle_counter(m)  # the SoC's counter: any start value, then +1 per cycle
        frag = Fragment.get(dut, platform)
        m.submodules.dut = frag
        m.d.comb += [dut.cycle.eq(cycle)]
        latch = internal(frag, "cycle_hi")

        # The port decoder passes only legal accesses: SYS is read-only, so no writes arrive.
        self.assume_legal(m, self.win, req, we, addr)

        w = mm.SYS.word

        def read(reg):
            return req & ~we & (addr == w(reg))

        # Shadow of the contract: the counter at the last CYCLE_LO read, and whether one happened.
        snap, seen = Signal(64, name="snap"), Signal(name="seen_lo")
        with m.If(read("CYCLE_LO")):
            m.d.sync += [snap.eq(cycle), seen.eq(1)]

        self.check(m, "latch", latch == Mux(seen, snap[32:], 0))
        self.check(m, "ids", bus.gnt == bus.req)
        for reg, value in (("CPUID", cpu), ("NCPU", n), ("FIFO_DEPTH", depth), ("ID", mm.SOC_ID)):
            with m.If(read(reg)):
                self.check(m, "ids", bus.rdata == value)
        with m.If(read("CYCLE_LO")):
            self.check(m, "cycle-lo", bus.rdata == cycle[:32])
        with m.If(read("CYCLE_HI") & seen):
            self.check(m, "cycle-hi", bus.rdata == snap[32:])
        with m.If(read("CYCLE_HI") & ~seen):
            self.check(m, "cycle-hi-reset", bus.rdata == 0)

        # Non-vacuity: a LO/HI pair across a carry out of the low word, and a HI read before any LO.
        past = self.past_valid
        p_lo = self.past(m, read("CYCLE_LO"), "lo")
        self.cover(
            m, past & p_lo & read("CYCLE_HI") & (cycle[32:] != snap[32:]), "CYCLE_LO then CYCLE_HI across a carry"
        )
        self.cover(m, read("CYCLE_HI") & ~seen & (cycle[32:] != 0), "CYCLE_HI before any CYCLE_LO")
        self.cover(m, read("CPUID") & (bus.rdata == cpu), "CPUID read")
