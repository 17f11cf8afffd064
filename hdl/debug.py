"""DEBUG: registers the firmware writes so that waveforms show what each core runs."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import memory_map as mm
from .bus import prefix_member_names, RegisterSignature
from .probe import public

__all__ = ["DebugRegisters"]


#: Who reads the public probes below.
_READERS = "isolation probes and EventMonitor (sim/tb/directed/isolation*.py), migration, waveforms; formal"


class DebugRegisters(wiring.Component):
    """One CPU's debug registers.

    Attributes
    ----------
    bus : In(RegisterSignature)
    curthread, critdepth, pri : Out(32)
        Current values, for the waveform.
    event : Out(32)
        The code written to EVENT, for one cycle; 0 otherwise.
    event_valid : Out(1)
        High for the cycle after an EVENT write.
    """

    PROBES = (
        public("curthread", _READERS),
        public("critdepth", _READERS),
        public("pri", _READERS),
        public("event", _READERS),
        public("event_valid", _READERS),
    )

    def __init__(self, addr_width: int):
        super().__init__(
            {
                "bus": In(RegisterSignature(addr_width)),
                "curthread": Out(32),
                "critdepth": Out(32),
                "pri": Out(32),
                "event": Out(32),
                "event_valid": Out(1),
            }
        )
        prefix_member_names(self, "debug", keep=("curthread", "critdepth", "pri", "event", "event_valid"))

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        w = mm.DEBUG.word
        m.d.comb += bus.gnt.eq(bus.req)
        m.d.sync += [self.event.eq(0), self.event_valid.eq(0)]
        for name, reg in (("CURTHREAD", self.curthread), ("CRITDEPTH", self.critdepth), ("PRI", self.pri)):
            with m.If(bus.addr == w(name)):
                m.d.comb += bus.rdata.eq(reg)
                with m.If(bus.req & bus.we):
                    m.d.sync += reg.eq(bus.wdata)
        with m.If(bus.req & bus.we & (bus.addr == w("EVENT"))):
            m.d.sync += [self.event.eq(bus.wdata), self.event_valid.eq(1)]
        return m
