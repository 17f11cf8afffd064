"""Formal harness for hdl/ram.py: the shared RAM returns the last word written to each address.

Symbolic-address technique: the solver picks one address ``a`` once (a free constant), and
the harness keeps ``shadow``, the last word written to ``a`` (0 until then: the RAM starts
cleared). Since ``a`` may be any address, a proof for ``a`` is a proof for every address.

Induction cannot see the memory row of ``a`` through the bus unless ``a`` happens to be read,
so the invariant "row" states that row ``a`` equals the shadow in every cycle. The harness
reads that row through one more combinational read port added to the block's own memory
before it is elaborated: it only observes, and the block's logic is unchanged.
"""

from amaranth.hdl import Fragment, Signal

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.ram import SharedRam

from .harness import Harness

__all__ = ["RamHarness"]


class _ProbedRam(SharedRam):
    """SharedRam as it is, plus a read port ``probe`` on its memory for the harness."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        # The memory itself is elaborated after this returns, so the extra port is still accepted.
        self.probe = m.submodules.storage.read_port(domain="comb")
        return m


class RamHarness(Harness):
    NAME = "ram"
    TITLE = "the shared RAM (hdl/ram.py): a read returns the last word written to its address"
    PROPERTIES = {
        "read-last-write": "a read of any address returns the last word written to it (0 if never written); "
        "every access completes in its cycle",
        "row": "invariant: the memory row of the chosen address holds the last word written to it, so a write "
        "to any other address leaves it alone",
    }
    INVARIANTS = ("row",)
    SIZES = ({"ram_words": 16}, {"ram_words": 64})
    QUICK = ({"ram_words": 16},)
    DEPTH = 3  # covers: write a, write its alias, read a
    MUTANTS = ("ram-write-top-bit",)

    def build(self, m, platform):
        words = self.params["ram_words"]
        self.win = next(w for w in mm.windows(SocConfig(ram_words=words), 0) if w.block is mm.RAM)
        dut = _ProbedRam(words, mutant=self.mutant)
        bus = dut.bus
        aw = len(bus.addr)
        req, we, addr, wdata = self.drive_bus(m, bus)
        a = self.stable(m, aw, "a")
        m.submodules.dut = Fragment.get(dut, platform)
        probe = dut.probe
        m.d.comb += [probe.addr.eq(a)]

        # SharedBus passes only what the port decoders let through: legal accesses.
        self.assume_legal(m, self.win, req, we, addr)

        shadow = Signal(32, name="shadow")
        with m.If(req & we & (addr == a)):
            m.d.sync += shadow.eq(wdata)

        self.check(m, "row", probe.data == shadow)
        self.check(m, "read-last-write", bus.gnt == bus.req)
        with m.If(req & ~we & (addr == a)):
            self.check(m, "read-last-write", bus.rdata == shadow)

        # Non-vacuity: a written word read back; a write elsewhere, then a read of a written word.
        past = self.past_valid
        p_write_a = self.past(m, req & we & (addr == a), "write_a")
        p_write_other = self.past(m, req & we & (addr != a), "write_other")
        hi = 1 << (aw - 1)
        self.cover(m, past & p_write_a & req & ~we & (addr == a) & (bus.rdata != 0), "a written word read back")
        self.cover(
            m,
            past & p_write_other & (shadow != 0) & req & ~we & (addr == a),
            "a written word read back after a write elsewhere",
        )
        self.cover(
            m,
            past
            & p_write_other
            & (a < hi)
            & (self.past(m, addr, "addr") == a + hi)
            & req
            & ~we
            & (addr == a)
            & (shadow != 0),
            "a lower-half word read back after a write to its upper-half alias",
        )
