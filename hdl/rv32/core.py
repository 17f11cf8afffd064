"""The RV32IM + Zicsr core: a sequencer over the decoder, ALU, multiplier, divider, register file,
CSR file, access check and local memory.

Most instructions take one cycle: while one executes, the memory reads the word at the pc it
computes, so the next one is ready in the next cycle (taken branches and jumps included). A local
load adds a cycle (the memory's one read port reads the data, then the next instruction), a core-bus
access waits for ``ack``/``err``, a division takes 32 cycles more. docs/rv32.md has the table.
"""

from amaranth.hdl import Module, Signal, Const, Mux, Cat
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import Out

from ..bus import CoreBusSignature
from ..memory_map import CORE_LOCAL
from ..probe import private, public
from .alu import Alu, BranchCondition
from .csr import CsrFile
from .decoder import Decoder, Kind
from .divider import Divider
from .isa import Cause
from .local_memory import LocalMemory
from .lsu import AccessCheck, LoadLanes, in_local_memory
from .multiplier import Multiplier
from .regfile import RegisterFile
from .retire import RetireSignature

__all__ = ["Rv32Core", "State"]


class State(enum.Enum, shape=3):
    FETCH = 0  # after reset: read the first instruction
    EXEC = 1  # the instruction read in the cycle before executes (most finish here)
    LOAD = 2  # a local load's word arrives
    BUS = 3  # a core-bus access is up until ack or err
    DIV = 4  # the divider works
    WFI = 5  # halted until an interrupt is pending and enabled in mie


#: Who reads the public probes below.
_READERS = "the RV32 lockstep check (sim/host/rv32_sim.py); waveforms"


class Rv32Core(wiring.Component):
    """One RV32IM + Zicsr hart in machine mode, with its local memory.

    Parameters
    ----------
    hart_id : int          mhartid: the CPU's index
    local_words : int      size of the local memory in words, a power of two
    init : list[int]       the program image: word k at ``CORE_LOCAL.base + 4k``
    reset_pc : int         where execution starts

    Attributes
    ----------
    bus : Out(CoreBusSignature)   everything outside the local window (``irq`` is MEIP)
    retire : Out(RetireSignature)
    """

    PROBES = (
        public("pc", _READERS),
        public("state", _READERS),
        public("waiting", _READERS + ": the core sleeps in WFI"),
        private("ir", "waveforms: the instruction of a multi-cycle state"),
        private("fetch_fault", "waveforms: the instruction in execution was fetched outside the local memory"),
    )

    def __init__(self, *, hart_id: int = 0, local_words: int = 4096, init=(), reset_pc: int = CORE_LOCAL.base):
        if local_words & (local_words - 1) or not 4 <= local_words * 4 <= CORE_LOCAL.size:
            raise ValueError(f"local_words={local_words}: a power of two, at most {CORE_LOCAL.size // 4}")
        self.hart_id, self.local_words, self.init, self.reset_pc = hart_id, local_words, list(init), reset_pc
        super().__init__({"bus": Out(CoreBusSignature()), "retire": Out(RetireSignature())})

    def elaborate(self, platform):
        m = Module()
        local_bytes = self.local_words * 4
        m.submodules.decoder = dec = Decoder()
        m.submodules.alu = alu = Alu()
        m.submodules.branch = branch = BranchCondition()
        m.submodules.multiplier = mul = Multiplier()
        m.submodules.divider = div = Divider()
        m.submodules.regfile = rf = RegisterFile()
        m.submodules.csr = csr = CsrFile(self.hart_id)
        m.submodules.access = acc = AccessCheck(local_bytes)
        m.submodules.load_lanes = lanes = LoadLanes()
        m.submodules.memory = mem = LocalMemory(self.local_words, self.init)

        state = Signal(State, init=State.FETCH)
        pc = Signal(32, init=self.reset_pc)
        ir = Signal(32)
        fetch_fault = Signal()
        waiting = Signal()
        m.d.comb += waiting.eq(state == State.WFI)

        # The instruction: as read in EXEC, latched for the states after it. Its operands stay valid
        # there too, as nothing writes a register before it finishes.
        insn = Signal(32)
        executing = state == State.EXEC
        m.d.comb += insn.eq(Mux(executing, mem.read_data, ir))
        m.d.sync += ir.eq(insn)
        rs1, rs2, imm = rf.rs1_data, rf.rs2_data, dec.imm
        m.d.comb += [
            dec.insn.eq(insn),
            rf.rs1.eq(dec.rs1),
            rf.rs2.eq(dec.rs2),
            alu.op.eq(dec.alu_op),
            alu.a.eq(rs1),
            alu.b.eq(Mux(dec.use_imm, imm, rs2)),
            branch.funct3.eq(dec.funct3),
            branch.a.eq(rs1),
            branch.b.eq(rs2),
            mul.funct3.eq(dec.funct3),
            mul.a.eq(rs1),
            mul.b.eq(rs2),
            div.funct3.eq(dec.funct3),
            div.a.eq(rs1),
            div.b.eq(rs2),
        ]
        kind = dec.kind
        is_load, is_store = kind == Kind.LOAD, kind == Kind.STORE
        address = alu.result  # rs1 + imm for loads, stores and JALR
        m.d.comb += [acc.addr.eq(address), acc.funct3.eq(dec.funct3), acc.store.eq(is_store), acc.data.eq(rs2)]

        pc_next = pc + 4
        jump_target = Signal(32)
        jumps = Signal()
        m.d.comb += [
            jumps.eq((kind == Kind.JAL) | (kind == Kind.JALR) | ((kind == Kind.BRANCH) & branch.taken)),
            jump_target.eq(Mux(kind == Kind.JALR, Cat(Const(0, 1), address[1:]), pc + imm)),
        ]

        # Synchronous exceptions of the instruction in EXEC, highest priority first.
        exception, cause, tval = Signal(), Signal(32), Signal(32)
        with m.If(fetch_fault):
            m.d.comb += [exception.eq(1), cause.eq(Cause.FETCH_FAULT), tval.eq(pc)]
        with m.Elif((kind == Kind.ILLEGAL) | ((kind == Kind.CSR) & csr.illegal)):
            m.d.comb += [exception.eq(1), cause.eq(Cause.ILLEGAL), tval.eq(insn)]
        with m.Elif(kind == Kind.ECALL):
            m.d.comb += [exception.eq(1), cause.eq(Cause.ECALL_M)]
        with m.Elif(kind == Kind.EBREAK):
            m.d.comb += [exception.eq(1), cause.eq(Cause.BREAKPOINT), tval.eq(pc)]
        with m.Elif(jumps & jump_target[1]):
            m.d.comb += [exception.eq(1), cause.eq(Cause.FETCH_MISALIGNED), tval.eq(jump_target)]
        with m.Elif((is_load | is_store) & acc.misaligned):
            m.d.comb += [exception.eq(1), tval.eq(address)]
            m.d.comb += cause.eq(Mux(is_store, Cause.STORE_MISALIGNED, Cause.LOAD_MISALIGNED))
        with m.Elif((is_load | is_store) & acc.fault):
            m.d.comb += [exception.eq(1), tval.eq(address)]
            m.d.comb += cause.eq(Mux(is_store, Cause.STORE_FAULT, Cause.LOAD_FAULT))

        # What finishes this cycle: the record, the register write, where to go next.
        finish, trap, trap_cause, trap_tval = Signal(), Signal(), Signal(32), Signal(32)
        wb_value, mem_valid, mem_data = Signal(32), Signal(), Signal(32)
        next_pc = Signal(32)
        with m.If(trap):
            m.d.comb += next_pc.eq(csr.mtvec)
        with m.Elif(executing & (kind == Kind.MRET)):
            m.d.comb += next_pc.eq(csr.mepc)
        with m.Elif(executing & jumps):
            m.d.comb += next_pc.eq(jump_target)
        with m.Else():
            m.d.comb += next_pc.eq(pc_next)
        with m.Switch(kind):
            with m.Case(Kind.ALU):
                m.d.comb += wb_value.eq(alu.result)
            with m.Case(Kind.LUI):
                m.d.comb += wb_value.eq(imm)
            with m.Case(Kind.AUIPC):
                m.d.comb += wb_value.eq(pc + imm)
            with m.Case(Kind.JAL, Kind.JALR):
                m.d.comb += wb_value.eq(pc_next)
            with m.Case(Kind.MUL):
                m.d.comb += wb_value.eq(mul.result)
            with m.Case(Kind.DIV):
                m.d.comb += wb_value.eq(div.result)
            with m.Case(Kind.CSR):
                m.d.comb += wb_value.eq(csr.rdata)
            with m.Case(Kind.LOAD):
                m.d.comb += wb_value.eq(lanes.value)
        size_mask = Mux(dec.funct3[1], 0xFFFF_FFFF, Mux(dec.funct3[0], 0xFFFF, 0xFF))
        m.d.comb += [
            lanes.word.eq(Mux(state == State.BUS, self.bus.dat_r, mem.read_data)),
            lanes.offset.eq(address[:2]),
            lanes.funct3.eq(dec.funct3),
            mem_data.eq(Mux(is_store, rs2 & size_mask, lanes.raw)),
        ]

        # The memory reads the access's word unless a fetch needs it.
        m.d.comb += [mem.read_addr.eq(address[2:]), mem.write_addr.eq(address[2:]), mem.write_data.eq(acc.wdata)]

        def fetch(target):
            m.d.comb += mem.read_addr.eq(target[2:])
            m.d.sync += fetch_fault.eq(~in_local_memory(target, local_bytes))

        with m.Switch(state):
            with m.Case(State.FETCH):
                fetch(pc)
                m.d.sync += state.eq(State.EXEC)
            with m.Case(State.EXEC):
                with m.If(csr.interrupt):
                    m.d.comb += [finish.eq(1), trap.eq(1), trap_cause.eq(Cause.EXTERNAL_INTERRUPT)]
                with m.Elif(exception):
                    m.d.comb += [finish.eq(1), trap.eq(1), trap_cause.eq(cause), trap_tval.eq(tval)]
                with m.Elif(is_load & acc.local):
                    m.d.sync += state.eq(State.LOAD)
                with m.Elif(is_store & acc.local):
                    m.d.comb += [finish.eq(1), mem_valid.eq(1), mem.write_en.eq(acc.byte_en)]
                with m.Elif(is_load | is_store):
                    m.d.sync += state.eq(State.BUS)
                with m.Elif((kind == Kind.DIV) & ~div.trivial):
                    m.d.comb += div.start.eq(1)
                    m.d.sync += state.eq(State.DIV)
                with m.Else():
                    m.d.comb += finish.eq(1)
                    with m.If(dec.wfi):
                        m.d.sync += state.eq(State.WFI)
            with m.Case(State.LOAD):
                m.d.comb += [finish.eq(1), mem_valid.eq(1)]
            with m.Case(State.BUS):
                bus = self.bus
                m.d.comb += [
                    bus.cyc.eq(1),
                    bus.stb.eq(1),
                    bus.we.eq(is_store),
                    bus.adr.eq(address[2:]),
                    bus.dat_w.eq(acc.wdata),
                ]
                with m.If(bus.ack):
                    m.d.comb += [finish.eq(1), mem_valid.eq(1)]
                with m.Elif(bus.err):
                    m.d.comb += [finish.eq(1), trap.eq(1), trap_tval.eq(address)]
                    m.d.comb += trap_cause.eq(Mux(is_store, Cause.STORE_FAULT, Cause.LOAD_FAULT))
            with m.Case(State.DIV):
                m.d.comb += finish.eq(div.done)
            with m.Case(State.WFI):
                with m.If(csr.wake):
                    fetch(pc)
                    m.d.sync += state.eq(State.EXEC)

        with m.If(finish):
            fetch(next_pc)
            m.d.sync += pc.eq(next_pc)
            with m.If(~(executing & dec.wfi & ~trap)):
                m.d.sync += state.eq(State.EXEC)

        writes = finish & ~trap & dec.writes_rd
        m.d.comb += [
            rf.rd.eq(dec.rd),
            rf.rd_data.eq(wb_value),
            rf.write.eq(writes),
            csr.addr.eq(insn[20:]),
            csr.funct3.eq(dec.funct3),
            csr.operand.eq(Mux(dec.funct3[2], imm, rs1)),
            csr.operand_zero.eq(dec.rs1 == 0),
            csr.execute.eq(finish & ~trap & (kind == Kind.CSR)),
            csr.mret.eq(finish & ~trap & (kind == Kind.MRET)),
            csr.retired.eq(finish & ~trap),
            csr.trap.eq(trap),
            csr.cause.eq(trap_cause),
            csr.tval.eq(trap_tval),
            csr.epc.eq(pc),
            csr.irq.eq(self.bus.irq),
        ]

        record = self.retire
        unfetched = (trap_cause == Cause.EXTERNAL_INTERRUPT) | (trap_cause == Cause.FETCH_FAULT)
        m.d.sync += record.valid.eq(finish)
        with m.If(finish):
            m.d.sync += [
                record.pc.eq(pc),
                record.insn.eq(Mux(trap & unfetched, 0, insn)),
                record.rd.eq(Mux(writes, dec.rd, 0)),
                record.rd_value.eq(Mux(writes, wb_value, 0)),
                record.mem_valid.eq(mem_valid & ~trap),
                record.mem_we.eq(mem_valid & ~trap & is_store),
                record.mem_addr.eq(Mux(mem_valid & ~trap, address, 0)),
                record.mem_data.eq(Mux(mem_valid & ~trap, mem_data, 0)),
                record.trap.eq(trap),
                record.cause.eq(Mux(trap, trap_cause, 0)),
                record.tval.eq(Mux(trap, trap_tval, 0)),
            ]
        return m
