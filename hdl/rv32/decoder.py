"""What an instruction word is: its class, operands, immediate and whether it is legal."""

from amaranth.hdl import Module, Signal, Cat
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from .isa import EBREAK, ECALL, MRET, WFI, Opcode

__all__ = ["Decoder", "Kind", "AluOp"]


class Kind(enum.Enum, shape=4):
    """The class of an instruction: what the sequencer does with it."""

    ILLEGAL = 0
    ALU = 1  # OP and OP-IMM without M: rd = alu(rs1, rs2 or imm)
    LUI = 2
    AUIPC = 3
    JAL = 4
    JALR = 5
    BRANCH = 6
    LOAD = 7
    STORE = 8
    MUL = 9
    DIV = 10
    CSR = 11
    FENCE = 12  # FENCE and FENCE.I: no-ops, there is no cache and no reordering
    ECALL = 13
    EBREAK = 14
    MRET = 15


class AluOp(enum.Enum, shape=4):
    """The ALU's operations, numbered like OP's funct3 with bit 3 = funct7[5] (SUB, SRA)."""

    ADD = 0b0000
    SLL = 0b0001
    SLT = 0b0010
    SLTU = 0b0011
    XOR = 0b0100
    SRL = 0b0101
    OR = 0b0110
    AND = 0b0111
    SUB = 0b1000
    SRA = 0b1101


class Decoder(wiring.Component):
    """Combinational decode of ``insn``.

    ``kind`` is ILLEGAL for every encoding RV32IM + Zicsr + FENCE.I does not define (a CSR
    instruction's address is checked by the CSR file, not here). ``wfi`` marks WFI, which is a
    Kind.FENCE-like no-op for the datapath and a halt for the sequencer.

    Attributes
    ----------
    insn : In(32)
    kind : Out(Kind)
    alu_op : Out(AluOp)
    use_imm : Out(1)   the ALU's second operand is ``imm``, not rs2
    rd, rs1, rs2 : Out(5)
    funct3 : Out(3)
    imm : Out(32)      the format's immediate, sign-extended (CSR: the 5-bit zimm, zero-extended)
    writes_rd : Out(1)
    wfi : Out(1)
    """

    def __init__(self):
        super().__init__(
            {
                "insn": In(32),
                "kind": Out(Kind),
                "alu_op": Out(AluOp),
                "use_imm": Out(1),
                "rd": Out(5),
                "rs1": Out(5),
                "rs2": Out(5),
                "funct3": Out(3),
                "imm": Out(32),
                "writes_rd": Out(1),
                "wfi": Out(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        i = self.insn
        opcode, funct3, funct7 = i[0:7], i[12:15], i[25:32]
        sign = i[31].replicate(21)
        imm_i = Cat(i[20:31], sign)
        imm_s = Cat(i[7:12], i[25:31], sign)
        imm_b = Cat(0, i[8:12], i[25:31], i[7], sign[:20])
        imm_u = Cat(Signal(12), i[12:32])
        imm_j = Cat(0, i[21:31], i[20], i[12:20], sign[:12])
        m.d.comb += [self.rd.eq(i[7:12]), self.rs1.eq(i[15:20]), self.rs2.eq(i[20:25]), self.funct3.eq(funct3)]

        kind = self.kind
        m.d.comb += kind.eq(Kind.ILLEGAL)
        with m.Switch(opcode):
            with m.Case(Opcode.LUI):
                m.d.comb += [kind.eq(Kind.LUI), self.imm.eq(imm_u)]
            with m.Case(Opcode.AUIPC):
                m.d.comb += [kind.eq(Kind.AUIPC), self.imm.eq(imm_u)]
            with m.Case(Opcode.JAL):
                m.d.comb += [kind.eq(Kind.JAL), self.imm.eq(imm_j)]
            with m.Case(Opcode.JALR):
                m.d.comb += [self.imm.eq(imm_i), self.alu_op.eq(AluOp.ADD), self.use_imm.eq(1)]
                with m.If(funct3 == 0):
                    m.d.comb += kind.eq(Kind.JALR)
            with m.Case(Opcode.BRANCH):
                m.d.comb += self.imm.eq(imm_b)
                with m.If(funct3[1:] != 0b01):  # funct3 010 and 011 are reserved
                    m.d.comb += kind.eq(Kind.BRANCH)
            with m.Case(Opcode.LOAD):
                m.d.comb += [self.imm.eq(imm_i), self.alu_op.eq(AluOp.ADD), self.use_imm.eq(1)]
                with m.If(funct3.matches("000", "001", "010", "100", "101")):
                    m.d.comb += kind.eq(Kind.LOAD)
            with m.Case(Opcode.STORE):
                m.d.comb += [self.imm.eq(imm_s), self.alu_op.eq(AluOp.ADD), self.use_imm.eq(1)]
                with m.If(funct3.matches("000", "001", "010")):
                    m.d.comb += kind.eq(Kind.STORE)
            with m.Case(Opcode.OP_IMM):
                m.d.comb += [self.imm.eq(imm_i), self.use_imm.eq(1), self.alu_op.eq(funct3)]
                with m.Switch(funct3):
                    with m.Case(0b001):  # SLLI: imm[11:5] must be 0
                        with m.If(funct7 == 0):
                            m.d.comb += kind.eq(Kind.ALU)
                    with m.Case(0b101):  # SRLI / SRAI
                        with m.If(funct7 == 0):
                            m.d.comb += kind.eq(Kind.ALU)
                        with m.Elif(funct7 == 0b0100000):
                            m.d.comb += [kind.eq(Kind.ALU), self.alu_op.eq(AluOp.SRA)]
                    with m.Default():
                        m.d.comb += kind.eq(Kind.ALU)
            with m.Case(Opcode.OP):
                m.d.comb += self.alu_op.eq(Cat(funct3, funct7[5]))
                with m.If(funct7 == 0):
                    m.d.comb += kind.eq(Kind.ALU)
                with m.Elif((funct7 == 0b0100000) & funct3.matches("000", "101")):
                    m.d.comb += kind.eq(Kind.ALU)
                with m.Elif((funct7 == 0b0000001) & funct3[2]):
                    m.d.comb += kind.eq(Kind.DIV)
                with m.Elif(funct7 == 0b0000001):
                    m.d.comb += kind.eq(Kind.MUL)
            with m.Case(Opcode.MISC_MEM):
                # FENCE's fm/pred/succ/rs1/rd are ignored, as the spec asks of base implementations.
                with m.If(funct3[1:] == 0):
                    m.d.comb += kind.eq(Kind.FENCE)
            with m.Case(Opcode.SYSTEM):
                m.d.comb += self.imm.eq(i[15:20])  # zimm of CSRRxI
                with m.If(funct3[:2] != 0):
                    m.d.comb += kind.eq(Kind.CSR)
                with m.Elif(i == ECALL):
                    m.d.comb += kind.eq(Kind.ECALL)
                with m.Elif(i == EBREAK):
                    m.d.comb += kind.eq(Kind.EBREAK)
                with m.Elif(i == MRET):
                    m.d.comb += kind.eq(Kind.MRET)
                with m.Elif(i == WFI):
                    m.d.comb += [kind.eq(Kind.FENCE), self.wfi.eq(1)]
        writers = (Kind.ALU, Kind.LUI, Kind.AUIPC, Kind.JAL, Kind.JALR, Kind.LOAD, Kind.MUL, Kind.DIV, Kind.CSR)
        m.d.comb += self.writes_rd.eq(kind.as_value().matches(*(k.value for k in writers)) & (self.rd != 0))
        return m
