"""INTC: a per-CPU interrupt controller with priorities and claim/complete."""

from amaranth.hdl import Module, Signal, Cat, Const, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import memory_map as mm
from .bus import prefix_member_names, RegisterSignature
from .probe import private, public

__all__ = ["InterruptController"]


#: Who reads the public probes below.
_READERS = "isolation probes (sim/tb/directed/isolation_model.py); formal: the intc and isolation proofs"


class InterruptController(wiring.Component):
    """One CPU's interrupt controller.

    Source 0 is the IPI level, 1 the timer, 2 the soft source (a register
    here), 3.. the external lines routed to this CPU. A source is a candidate
    while pending, enabled, not in service and of PRIO > 0; CLAIM returns the
    candidate of highest PRIO (lowest id on ties) and marks it in service
    until COMPLETE. ``irq`` is high while a candidate exists.

    Parameters
    ----------
    n_sources : int
    prio_bits : int

    Attributes
    ----------
    bus : In(RegisterSignature)
    src_ipi, src_timer : In(1)
    src_ext : In(n_sources - 3)
    irq : Out(1)
    mutant : str   a planted bug of hdl.mutants for mutation testing, "" for none
    """

    PROBES = (
        public("enable", _READERS),
        public("in_service", _READERS),
        public("soft", _READERS),
        public("prio{k}", _READERS),
        private("irq", "waveforms: the CPU's interrupt line"),
        private("pending", "waveforms: the sources' levels"),
    )

    def __init__(self, n_sources: int, prio_bits: int, addr_width: int, *, mutant: str = ""):
        self.n_sources, self.prio_bits, self.mutant = n_sources, prio_bits, mutant
        super().__init__(
            {
                "bus": In(RegisterSignature(addr_width)),
                "src_ipi": In(1),
                "src_timer": In(1),
                "src_ext": In(max(n_sources - mm.SOURCE_EXT0, 1)),
                "irq": Out(1),
            }
        )
        prefix_member_names(self, "intc", keep=("irq",))

    def elaborate(self, platform):
        m = Module()
        n = self.n_sources
        bus = self.bus
        w = mm.INTC.word

        soft = Signal()
        pending = Signal(n)
        enable = Signal(n)
        in_service = Signal(n)
        prio = [Signal(self.prio_bits, name=f"prio{k}") for k in range(n)]
        candidate = Signal(n)

        lines = [self.src_ipi, self.src_timer, soft] + [self.src_ext[k] for k in range(n - mm.SOURCE_EXT0)]
        m.d.comb += pending.eq(Cat(lines))
        m.d.comb += candidate.eq(Cat(pending[k] & enable[k] & ~in_service[k] & (prio[k] != 0) for k in range(n)))
        m.d.comb += self.irq.eq(candidate.any())

        # Highest priority wins; a strict comparison keeps the lowest id on ties.
        best_id = Const(mm.CLAIM_NONE, 32)
        best_prio = Const(0, self.prio_bits)
        for k in range(n):
            better = Signal(name=f"better{k}")
            m.d.comb += better.eq(candidate[k] & (prio[k] > best_prio))
            if self.mutant == "intc-prio-inverted":
                # Bug: the first candidate, then any of lower priority, wins.
                m.d.comb += better.eq(candidate[k] & ((best_id == mm.CLAIM_NONE) | (prio[k] < best_prio)))
            next_id, next_prio = Signal(32, name=f"best_id{k}"), Signal(self.prio_bits, name=f"best_prio{k}")
            m.d.comb += [next_id.eq(Mux(better, k, best_id)), next_prio.eq(Mux(better, prio[k], best_prio))]
            best_id, best_prio = next_id, next_prio
        claim = best_id

        m.d.comb += bus.gnt.eq(bus.req)
        read = bus.req & ~bus.we
        write = bus.req & bus.we
        with m.Switch(bus.addr):
            with m.Case(w("PENDING")):
                m.d.comb += bus.rdata.eq(pending)
            with m.Case(w("ENABLE")):
                m.d.comb += bus.rdata.eq(enable)
                with m.If(write):
                    m.d.sync += enable.eq(bus.wdata)
            with m.Case(w("CLAIM")):
                m.d.comb += bus.rdata.eq(claim)
                # Bug "claim-no-inservice": the claimed source is not marked in service.
                with m.If(read if self.mutant != "claim-no-inservice" else 0):
                    for k in range(n):
                        with m.If(claim == k):
                            m.d.sync += in_service[k].eq(1)
            with m.Case(w("COMPLETE")):
                # Bug "intc-complete-low-bits": only the low 5 bits of the id are compared.
                completed = bus.wdata[:5] if self.mutant == "intc-complete-low-bits" else bus.wdata
                with m.If(write):
                    for k in range(n):
                        with m.If(completed == k):
                            m.d.sync += in_service[k].eq(0)
            with m.Case(w("SOFT_SET")):
                with m.If(write):
                    m.d.sync += soft.eq(1)
            with m.Case(w("SOFT_CLR")):
                with m.If(write):
                    m.d.sync += soft.eq(0)
            with m.Case(w("INSERVICE")):
                m.d.comb += bus.rdata.eq(in_service)
            for k in range(n):
                with m.Case(w("PRIO") + k):
                    m.d.comb += bus.rdata.eq(prio[k])
                    with m.If(write):
                        m.d.sync += prio[k].eq(bus.wdata)
        return m
