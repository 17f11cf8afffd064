"""Formal harness for hdl/route.py: the ROUTE registers and where each external line goes.

ROUTE sits behind SharedBus (one granted access per cycle; who made it does not matter to
this block), so the harness drives one legal access per cycle. The lines are free inputs
every cycle: in the SoC they are the raw ext_irq pins ORed with the devices' REQUEST bits,
which may be anything.
"""

from amaranth.hdl import Fragment, Mux

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.route import ExternalRouting

from .harness import Harness, internal

__all__ = ["RouteHarness"]


class RouteHarness(Harness):
    NAME = "route"
    TITLE = "external interrupt routing (hdl/route.py): ROUTE[k] and the per-CPU line outputs"
    PROPERTIES = {
        "reads": "ROUTE[k] reads its value; every access completes in its cycle",
        "reset": "out of reset every ROUTE[k] is 0 (every line goes to CPU 0)",
        "writes": "a write to ROUTE[k] stores the written word there and changes no other ROUTE; "
        "reads and idle cycles change nothing",
        "delivery": "line k reaches exactly CPU ROUTE[k], and only while it is high: no CPU when ROUTE[k] >= NCPU",
    }
    SIZES = tuple({"ncpu": n, "ext_lines": e} for n in (2, 3, 4) for e in (1, 2, 3, 4))
    QUICK = ({"ncpu": 4, "ext_lines": 4},)
    DEPTH = 2  # covers: a ROUTE write, then the line it routes
    MUTANTS = ("route-wrong-cpu",)

    def build(self, m, platform):
        n, e = self.params["ncpu"], self.params["ext_lines"]
        self.win = next(w for w in mm.windows(SocConfig(ncpu=n, ext_lines=e), 0) if w.block is mm.ROUTE)
        dut = ExternalRouting(n, e, self.win.span_log2, mutant=self.mutant)
        bus = dut.bus
        req, we, addr, wdata = self.drive_bus(m, bus)
        lines = self.input(e, "lines")
        frag = Fragment.get(dut, platform)
        m.submodules.dut = frag
        m.d.comb += [dut.lines.eq(lines)]
        routes = [internal(frag, f"route{k}") for k in range(e)]

        # SharedBus passes only what the port decoders let through: legal accesses.
        self.assume_legal(m, self.win, req, we, addr)

        past = self.past_valid
        p_req, p_we = self.past(m, req, "req"), self.past(m, we, "we")
        p_addr, p_wdata = self.past(m, addr, "addr"), self.past(m, wdata, "wdata")
        base = mm.ROUTE.word("ROUTE")

        for k, route in enumerate(routes):
            p_route = self.past(m, route, f"route{k}")
            with m.If(~past):
                self.check(m, "reset", route == 0)
            with m.If(past):
                written = p_req & p_we & (p_addr == base + k)
                self.check(m, "writes", route == Mux(written, p_wdata, p_route))
            with m.If(req & ~we & (addr == base + k)):
                self.check(m, "reads", bus.rdata == route)
            for cpu in range(n):
                self.check(m, "delivery", dut.to_cpu[cpu][k] == (lines[k] & (route == cpu)))
        self.check(m, "reads", bus.gnt == bus.req)

        # Non-vacuity: the last line reaches the last CPU, and a line routed nowhere.
        last = e - 1
        self.cover(m, past & dut.to_cpu[n - 1][last], f"line {last} delivered to CPU {n - 1}")
        self.cover(m, past & lines[last] & (routes[last] >= n), f"line {last} high and routed nowhere")
        self.cover(m, past & p_req & p_we & (p_addr == base + last), f"ROUTE[{last}] written")
        self.cover(m, req & ~we & (addr == base + last) & (bus.rdata != 0), f"ROUTE[{last}] read non-zero")
