"""SYS: identification registers and the per-CPU view of the cycle counter."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from . import memory_map as mm
from .bus import prefix_member_names, RegisterSignature
from .probe import public

__all__ = ["SysInfo"]


class SysInfo(wiring.Component):
    """One CPU's SYS block.

    Parameters
    ----------
    cpu, ncpu, fifo_depth : int
        Constants this CPU reads back.

    Attributes
    ----------
    bus : In(RegisterSignature)
    cycle : In(64)  the SoC's free-running cycle counter
    mutant : str    a planted bug of hdl.mutants for mutation testing, "" for none
    """

    PROBES = (public("cycle_hi", "isolation probes: the latched CYCLE_HI; formal: the sysinfo and isolation proofs"),)

    def __init__(self, cpu: int, ncpu: int, fifo_depth: int, addr_width: int, *, mutant: str = ""):
        self.cpu, self.ncpu, self.fifo_depth, self.mutant = cpu, ncpu, fifo_depth, mutant
        super().__init__({"bus": In(RegisterSignature(addr_width)), "cycle": In(64)})
        prefix_member_names(self, "sys")

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        cycle_hi = Signal(32)  # latched by this CPU's CYCLE_LO read
        m.d.comb += bus.gnt.eq(bus.req)
        w = mm.SYS.word
        with m.Switch(bus.addr):
            with m.Case(w("CPUID")):
                m.d.comb += bus.rdata.eq(self.cpu)
            with m.Case(w("NCPU")):
                m.d.comb += bus.rdata.eq(self.ncpu)
            with m.Case(w("FIFO_DEPTH")):
                m.d.comb += bus.rdata.eq(self.fifo_depth)
            with m.Case(w("ID")):
                m.d.comb += bus.rdata.eq(mm.SOC_ID)
            with m.Case(w("CYCLE_LO")):
                m.d.comb += bus.rdata.eq(self.cycle[:32])
                with m.If(bus.req):
                    m.d.sync += cycle_hi.eq(self.cycle[32:])
            with m.Case(w("CYCLE_HI")):
                # Bug "sys-cycle-hi-live": HI is read live, so LO then HI can tear across a carry.
                m.d.comb += bus.rdata.eq(self.cycle[32:] if self.mutant == "sys-cycle-hi-live" else cycle_hi)
        return m
