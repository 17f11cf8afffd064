"""Shared RAM: word-addressed memory for cross-CPU kernel data."""

from amaranth.hdl import Module
from amaranth.lib import wiring, memory
from amaranth.lib.wiring import In

from .bus import RegisterSignature, prefix_member_names
from .probe import private

__all__ = ["SharedRam"]


class SharedRam(wiring.Component):
    """Word memory behind the shared-bus arbiter; reads complete in the cycle granted.

    Parameters
    ----------
    words : int
        Size in 32-bit words, a power of two.

    Attributes
    ----------
    bus : In(RegisterSignature(log2(words)))
    mutant : str   a planted bug of hdl.mutants for mutation testing, "" for none
    """

    PROBES = (
        private("write_port__en", "waveforms: the RAM's writes"),
        private("write_port__addr", "waveforms: the RAM's writes"),
        private("write_port__data", "waveforms: the RAM's writes"),
    )

    def __init__(self, words: int, *, mutant: str = ""):
        self.words, self.mutant = words, mutant
        super().__init__({"bus": In(RegisterSignature((words - 1).bit_length()))})
        prefix_member_names(self, "ram")

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        m.submodules.storage = storage = memory.Memory(shape=32, depth=self.words, init=[])
        write_port = storage.write_port()
        read_port = storage.read_port(domain="comb")
        m.d.comb += [
            bus.gnt.eq(bus.req),
            read_port.addr.eq(bus.addr),
            bus.rdata.eq(read_port.data),
            write_port.addr.eq(bus.addr),
            write_port.data.eq(bus.wdata),
            write_port.en.eq(bus.req & bus.we),
        ]
        if self.mutant == "ram-write-top-bit":
            # Bug: writes drop the top address bit, so the upper half lands on the lower half.
            m.d.comb += write_port.addr.eq(bus.addr[:-1])
        return m
