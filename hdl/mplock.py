"""MPLOCK: the hardware MP lock register, one owner CPU at a time."""

from amaranth.hdl import Module, Signal, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import memory_map as mm
from .bus import RegisterSignature, pack_fields, prefix_member_names
from .probe import private, public

__all__ = ["MpLock"]


class MpLock(wiring.Component):
    """The MP lock behind the shared-bus arbiter.

    Accesses arrive one at a time (the arbiter serialises them), so of several
    simultaneous TRYs exactly one finds the lock free.

    Attributes
    ----------
    bus : In(RegisterSignature)  the granted access
    initiator : In(range(ncpu))  CPU that made it
    active : In(ncpu)            bit i: CPU i's port has a request up (cyc & stb) this cycle
    held : Out(1)
    owner : Out(range(ncpu))     meaningful while ``held``
    mutant : str                 a planted bug of hdl.mutants for mutation testing, "" for none
    """

    PROBES = (
        public("held", "the race detector's MP lock owner (sim/tb/testbench.py), isolation probes, waveforms"),
        public("owner", "as held: the owner CPU, meaningful while held"),
        public("err_nonowner", "isolation probes (sim/tb/directed/isolation_model.py); formal: ERR"),
        public("acquires", "isolation probes; formal: the ACQUIRES counter"),
        public("busts", "the BUSTS count the watchdog tests read (SocBench.mplock_busts); formal"),
        private("failed_tries", "formal: the FAILED_TRIES counter"),
        private("quiet", "formal: the owner's quiet time OWNER_QUIET reads and BUST compares"),
    )

    def __init__(self, ncpu: int, addr_width: int, *, mutant: str = ""):
        self.ncpu, self.mutant = ncpu, mutant
        super().__init__(
            {
                "bus": In(RegisterSignature(addr_width)),
                "initiator": In(range(max(ncpu, 2))),
                "active": In(max(ncpu, 1)),
                "held": Out(1),
                "owner": Out(range(max(ncpu, 2))),
            }
        )
        prefix_member_names(self, "mplock", keep=("held", "owner", "active"))

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        w = mm.MPLOCK.word
        nonowner_bit = mm.MPLOCK.register("ERR").field("NONOWNER").lsb
        err_nonowner = Signal()
        acquires = Signal(32)
        failed_tries = Signal(32)
        mine = Signal()
        m.d.comb += [bus.gnt.eq(bus.req), mine.eq(self.held & (self.owner == self.initiator))]
        # The owner's quiet time: what lets BUST tell a stopped CPU from a busy one. A CPU
        # spinning in the kernel (a token wait, a critical section) keeps making requests; a
        # stopped one makes none. Reset while the lock is free and at every request of the owner.
        quiet = Signal(32)
        busts = Signal(32)
        owner_active = Signal()
        with m.Switch(self.owner):
            for cpu in range(self.ncpu):
                with m.Case(cpu):
                    m.d.comb += owner_active.eq(self.active[cpu])
        # Saturating without a branch of its own: 2^32 - 1 cycles is out of any run's reach.
        m.d.sync += quiet.eq(Mux(~self.held | owner_active, 0, quiet + (quiet != 0xFFFF_FFFF)))
        if self.mutant == "mplock-two-winners":
            # Bug: the owner check ignores bit 0, so CPU 1 also "owns" CPU 0's lock (and 3 CPU 2's ...).
            m.d.comb += mine.eq(self.held & (self.owner[1:] == self.initiator[1:]))
        read = bus.req & ~bus.we
        write = bus.req & bus.we
        with m.Switch(bus.addr):
            with m.Case(w("TRY")):
                m.d.comb += bus.rdata.eq(~self.held | mine)
                with m.If(read):
                    with m.If(~self.held):
                        m.d.sync += [self.held.eq(1), self.owner.eq(self.initiator), acquires.eq(acquires + 1)]
                    with m.Elif(~mine):
                        m.d.sync += failed_tries.eq(failed_tries + 1)
            with m.Case(w("RELEASE")):
                with m.If(write):
                    # Bug "mplock-release-any": any CPU's RELEASE frees a held lock.
                    with m.If(self.held if self.mutant == "mplock-release-any" else mine):
                        m.d.sync += self.held.eq(0)
                    with m.Else():
                        m.d.sync += err_nonowner.eq(1)
            with m.Case(w("OWNER")):
                m.d.comb += bus.rdata.eq(Mux(self.held, self.owner, mm.OWNER_FREE))
            with m.Case(w("ERR")):
                m.d.comb += bus.rdata.eq(pack_fields(mm.MPLOCK.register("ERR"), {"NONOWNER": err_nonowner}))
                # Bug "mplock-err-clear-any": any write clears ERR (not write-1-to-clear).
                with m.If(write if self.mutant == "mplock-err-clear-any" else write & bus.wdata[nonowner_bit]):
                    m.d.sync += err_nonowner.eq(0)
            with m.Case(w("BUST")):
                with m.If(write & self.held & (quiet >= bus.wdata)):
                    m.d.sync += [self.held.eq(0), busts.eq(busts + 1)]
            with m.Case(w("ACQUIRES")):
                m.d.comb += bus.rdata.eq(acquires)
            with m.Case(w("FAILED_TRIES")):
                m.d.comb += bus.rdata.eq(failed_tries)
            with m.Case(w("OWNER_QUIET")):
                m.d.comb += bus.rdata.eq(quiet)
            with m.Case(w("BUSTS")):
                m.d.comb += bus.rdata.eq(busts)
        return m
