"""TIMER: a per-CPU 64-bit compare timer with auto-reload (the hardclock)."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import memory_map as mm
from .bus import prefix_member_names, RegisterSignature, pack_fields
from .probe import private, public

__all__ = ["Timer"]


#: Who reads the public probes below.
_READERS = "isolation probes (sim/tb/directed/isolation_model.py); formal: the timer and isolation proofs"


class Timer(wiring.Component):
    """One CPU's timer.

    It fires once when ``cycle >= compare`` while enabled and armed. Writing
    COMPARE_LO, COMPARE_HI or CTRL arms it. With a non-zero PERIOD, firing
    advances COMPARE by PERIOD and keeps it armed. A firing sets ``pending``
    until an ACK write.

    Attributes
    ----------
    bus : In(RegisterSignature)
    cycle : In(64)
    pending : Out(1)  the timer interrupt source
    mutant : str      a planted bug of hdl.mutants for mutation testing, "" for none
    """

    PROBES = (
        public("compare", _READERS),
        public("period", _READERS),
        public("enable", _READERS),
        public("armed", _READERS),
        public("pending", _READERS + "; waveforms"),
        private("fire", "formal: the isolation proof's firing condition"),
    )

    def __init__(self, addr_width: int, *, mutant: str = ""):
        self.mutant = mutant
        super().__init__({"bus": In(RegisterSignature(addr_width)), "cycle": In(64), "pending": Out(1)})
        prefix_member_names(self, "timer", keep=("pending",))

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        w = mm.TIMER.word
        ctrl = mm.TIMER.register("CTRL")
        compare = Signal(64, init=(1 << 64) - 1)
        period = Signal(32)
        enable = Signal()
        armed = Signal()
        fire = Signal()

        m.d.comb += fire.eq(enable & armed & (self.cycle >= compare))
        m.d.comb += bus.gnt.eq(bus.req)
        write = bus.req & bus.we
        with m.Switch(bus.addr):
            with m.Case(w("COMPARE_LO")):
                m.d.comb += bus.rdata.eq(compare[:32])
                with m.If(write):
                    m.d.sync += [compare[:32].eq(bus.wdata), armed.eq(1)]
            with m.Case(w("COMPARE_HI")):
                m.d.comb += bus.rdata.eq(compare[32:])
                with m.If(write):
                    m.d.sync += [compare[32:].eq(bus.wdata), armed.eq(1)]
            with m.Case(w("PERIOD")):
                m.d.comb += bus.rdata.eq(period)
                with m.If(write):
                    m.d.sync += period.eq(bus.wdata)
            with m.Case(w("CTRL")):
                m.d.comb += bus.rdata.eq(pack_fields(ctrl, {"ENABLE": enable, "ARMED": armed, "PENDING": self.pending}))
                with m.If(write):
                    m.d.sync += [enable.eq(bus.wdata[ctrl.field("ENABLE").lsb]), armed.eq(1)]
            with m.Case(w("ACK")):
                with m.If(write):
                    m.d.sync += self.pending.eq(0)
        # After the register writes, so that a firing is never lost to an ACK in
        # the same cycle; a write to COMPARE or CTRL in that cycle re-arms instead.
        rearm = write & ((bus.addr == w("COMPARE_LO")) | (bus.addr == w("COMPARE_HI")) | (bus.addr == w("CTRL")))
        with m.If(fire):
            m.d.sync += self.pending.eq(1)
            with m.If(~rearm):
                # Bug "timer-no-rearm": a periodic timer stays armed but COMPARE never advances.
                with m.If(period != 0):
                    if self.mutant != "timer-no-rearm":
                        m.d.sync += compare.eq(compare + period)
                with m.Else():
                    m.d.sync += armed.eq(0)
        if self.mutant == "timer-ack-beats-fire":
            # Bug: the ACK is applied again after the firing, so it wins in the firing cycle.
            with m.If(write & (bus.addr == w("ACK"))):
                m.d.sync += self.pending.eq(0)
        return m
