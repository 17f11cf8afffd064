"""The machine-mode CSRs: status and trap registers, the interrupt enable, the counters."""

from amaranth.hdl import Module, Signal, Cat, Const
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..probe import private, public
from .isa import IMPLEMENTED_CSRS, MISA, Csr

__all__ = ["CsrFile"]


class CsrFile(wiring.Component):
    """Reads, writes and trap updates of the machine CSRs (docs/rv32.md lists them).

    A CSR instruction reads ``rdata`` for ``addr`` and, when ``execute`` is high (it completes
    this cycle), writes: CSRRW always, CSRRS/CSRRC only when rs1 (or zimm) is not zero
    (``operand_zero``). ``illegal`` says the access must trap instead: an address the core does
    not implement, or a write to a read-only one. Each register keeps only its legal bits
    (mstatus MIE/MPIE, mie MEIE, mtvec and mepc word-aligned); MPP always reads machine mode.

    ``trap`` enters a trap (mepc, mcause, mtval; MPIE = MIE, MIE = 0); ``mret`` leaves one
    (MIE = MPIE, MPIE = 1). mcycle counts every cycle, minstret every ``retired`` instruction;
    a write to a counter's half in the same cycle wins over its increment.

    Attributes
    ----------
    addr : In(12)
    funct3 : In(3)
    operand : In(32)   rs1's value, or the zero-extended zimm for CSRRxI
    operand_zero : In(1)
    execute : In(1)
    rdata : Out(32)
    illegal : Out(1)
    trap, mret, retired : In(1)
    cause, tval, epc : In(32)
    irq : In(1)        MEIP: the CPU's interrupt controller has a request
    mtvec, mepc : Out(32)
    interrupt : Out(1) an interrupt is to be taken at this instruction boundary
    wake : Out(1)      an interrupt is pending and enabled in mie: WFI resumes
    """

    PROBES = (
        public("mstatus_mie", "the RV32 lockstep check and waveforms: interrupts globally enabled"),
        private("mstatus_mpie", "waveforms: MIE before the last trap"),
        private("mie_meie", "waveforms: the external interrupt's enable"),
        private("mcause", "waveforms: the last trap's cause"),
        private("mcycle", "waveforms: the cycle counter"),
        private("minstret", "waveforms: retired instructions"),
    )

    def __init__(self, hart_id: int):
        self.hart_id = hart_id
        super().__init__(
            {
                "addr": In(12),
                "funct3": In(3),
                "operand": In(32),
                "operand_zero": In(1),
                "execute": In(1),
                "rdata": Out(32),
                "illegal": Out(1),
                "trap": In(1),
                "mret": In(1),
                "retired": In(1),
                "cause": In(32),
                "tval": In(32),
                "epc": In(32),
                "irq": In(1),
                "mtvec": Out(32),
                "mepc": Out(32),
                "interrupt": Out(1),
                "wake": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        mstatus_mie = Signal()
        mstatus_mpie = Signal()
        mie_meie = Signal()
        mtvec = Signal(30)
        mscratch = Signal(32)
        mepc = Signal(30)
        mcause = Signal(32)
        mtval = Signal(32)
        mcycle = Signal(64)
        minstret = Signal(64)

        m.d.comb += [
            self.mtvec.eq(Cat(Const(0, 2), mtvec)),
            self.mepc.eq(Cat(Const(0, 2), mepc)),
            self.wake.eq(self.irq & mie_meie),
            self.interrupt.eq(self.irq & mie_meie & mstatus_mie),
        ]

        readable = {
            Csr.MSTATUS: Cat(Const(0, 3), mstatus_mie, Const(0, 3), mstatus_mpie, Const(0, 3), Const(0b11, 2)),
            Csr.MISA: Const(MISA, 32),
            Csr.MIE: Cat(Const(0, 11), mie_meie),
            Csr.MTVEC: self.mtvec,
            Csr.MSCRATCH: mscratch,
            Csr.MEPC: self.mepc,
            Csr.MCAUSE: mcause,
            Csr.MTVAL: mtval,
            Csr.MIP: Cat(Const(0, 11), self.irq),
            Csr.MCYCLE: mcycle[:32],
            Csr.MCYCLEH: mcycle[32:],
            Csr.MINSTRET: minstret[:32],
            Csr.MINSTRETH: minstret[32:],
            Csr.MVENDORID: Const(0, 32),
            Csr.MARCHID: Const(0, 32),
            Csr.MIMPID: Const(0, 32),
            Csr.MHARTID: Const(self.hart_id, 32),
        }
        assert set(readable) == set(IMPLEMENTED_CSRS)
        known = Signal()
        with m.Switch(self.addr):
            for address, value in readable.items():
                with m.Case(address):
                    m.d.comb += [self.rdata.eq(value), known.eq(1)]

        # CSRRW (funct3[1:0] = 01) always writes; CSRRS and CSRRC only with a non-zero operand.
        writes = Signal()
        m.d.comb += writes.eq((self.funct3[:2] == 0b01) | ~self.operand_zero)
        read_only = self.addr[10:12] == 0b11
        m.d.comb += self.illegal.eq(~known | (writes & read_only))

        new = Signal(32)
        with m.Switch(self.funct3[:2]):
            with m.Case(0b01):
                m.d.comb += new.eq(self.operand)
            with m.Case(0b10):
                m.d.comb += new.eq(self.rdata | self.operand)
            with m.Case(0b11):
                m.d.comb += new.eq(self.rdata & ~self.operand)

        next_cycle = Signal(64)
        next_instret = Signal(64)
        m.d.comb += [next_cycle.eq(mcycle + 1), next_instret.eq(minstret + self.retired)]
        m.d.sync += [mcycle.eq(next_cycle), minstret.eq(next_instret)]

        with m.If(self.execute & writes):
            with m.Switch(self.addr):
                with m.Case(Csr.MSTATUS):
                    m.d.sync += [mstatus_mie.eq(new[3]), mstatus_mpie.eq(new[7])]
                with m.Case(Csr.MIE):
                    m.d.sync += mie_meie.eq(new[11])
                with m.Case(Csr.MTVEC):
                    m.d.sync += mtvec.eq(new[2:])
                with m.Case(Csr.MSCRATCH):
                    m.d.sync += mscratch.eq(new)
                with m.Case(Csr.MEPC):
                    m.d.sync += mepc.eq(new[2:])
                with m.Case(Csr.MCAUSE):
                    m.d.sync += mcause.eq(new)
                with m.Case(Csr.MTVAL):
                    m.d.sync += mtval.eq(new)
                with m.Case(Csr.MCYCLE):
                    m.d.sync += mcycle.eq(Cat(new, next_cycle[32:]))
                with m.Case(Csr.MCYCLEH):
                    m.d.sync += mcycle.eq(Cat(next_cycle[:32], new))
                with m.Case(Csr.MINSTRET):
                    m.d.sync += minstret.eq(Cat(new, next_instret[32:]))
                with m.Case(Csr.MINSTRETH):
                    m.d.sync += minstret.eq(Cat(next_instret[:32], new))

        with m.If(self.trap):
            m.d.sync += [
                mepc.eq(self.epc[2:]),
                mcause.eq(self.cause),
                mtval.eq(self.tval),
                mstatus_mpie.eq(mstatus_mie),
                mstatus_mie.eq(0),
            ]
        with m.Elif(self.mret):
            m.d.sync += [mstatus_mie.eq(mstatus_mpie), mstatus_mpie.eq(1)]
        return m
