"""ROUTE: which CPU each external interrupt line interrupts."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import memory_map as mm
from .bus import RegisterSignature, prefix_member_names
from .probe import private

__all__ = ["ExternalRouting"]


class ExternalRouting(wiring.Component):
    """Routing registers for the external lines, behind the shared-bus arbiter.

    Attributes
    ----------
    bus : In(RegisterSignature)
    lines : In(ext_lines)           the SoC's external level inputs
    to_cpu : Out(ext_lines).array(ncpu)
        ``to_cpu[c]`` bit k: line k is high and routed to CPU c.
    mutant : str   a planted bug of hdl.mutants for mutation testing, "" for none
    """

    PROBES = (private("route{k}", "formal: the ROUTE registers"),)

    def __init__(self, ncpu: int, ext_lines: int, addr_width: int, *, mutant: str = ""):
        self.ncpu, self.ext_lines, self.mutant = ncpu, ext_lines, mutant
        width = max(ext_lines, 1)
        super().__init__(
            {
                "bus": In(RegisterSignature(addr_width)),
                "lines": In(width),
                "to_cpu": Out(width).array(ncpu),
            }
        )
        prefix_member_names(self, "route")

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        m.d.comb += bus.gnt.eq(bus.req)
        routes = [Signal(32, name=f"route{k}") for k in range(self.ext_lines)]
        base = mm.ROUTE.word("ROUTE")
        with m.Switch(bus.addr):
            for k, route in enumerate(routes):
                with m.Case(base + k):
                    m.d.comb += bus.rdata.eq(route)
                    with m.If(bus.req & bus.we):
                        m.d.sync += route.eq(bus.wdata)
        for cpu in range(self.ncpu):
            # Bug "route-wrong-cpu": CPU c takes the lines routed to c - 1, so line k reaches ROUTE[k] + 1.
            source = (cpu - 1) % self.ncpu if self.mutant == "route-wrong-cpu" else cpu
            for k, route in enumerate(routes):
                m.d.comb += self.to_cpu[cpu][k].eq(self.lines[k] & (route == source))
        return m
