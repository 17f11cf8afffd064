"""RV32IM + Zicsr instruction words in Python: encoders for generated programs, and the few
decode facts the reference check needs (which register an instruction writes, whether the core
implements it). Written from the RISC-V specification, apart from the core's HDL, so that a slip in
one does not hide in the other; only the CSR set and the trap causes come from hdl/rv32/isa.py,
since they are the core's choices.
"""

from __future__ import annotations

from hdl.rv32.isa import EBREAK, ECALL, IMPLEMENTED_CSRS, MRET, WFI

__all__ = [
    "ALU_R",
    "ALU_I",
    "SHIFT_I",
    "MULDIV",
    "LOADS",
    "STORES",
    "BRANCHES",
    "CSR_OPS",
    "r_type",
    "i_type",
    "s_type",
    "b_type",
    "u_type",
    "j_type",
    "encode",
    "fields",
    "implemented",
    "destination",
    "sign_extend",
    "ECALL",
    "EBREAK",
    "MRET",
    "WFI",
    "FENCE",
    "FENCE_I",
    "NOP",
]

MASK = 0xFFFF_FFFF

#: name -> (funct3, funct7) of OP
ALU_R = {
    "add": (0, 0x00),
    "sub": (0, 0x20),
    "sll": (1, 0x00),
    "slt": (2, 0x00),
    "sltu": (3, 0x00),
    "xor": (4, 0x00),
    "srl": (5, 0x00),
    "sra": (5, 0x20),
    "or": (6, 0x00),
    "and": (7, 0x00),
}
MULDIV = {name: (f3, 0x01) for f3, name in enumerate(("mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu"))}
#: name -> funct3 of OP-IMM (the shifts are apart: their immediate is a shift amount and funct7)
ALU_I = {"addi": 0, "slti": 2, "sltiu": 3, "xori": 4, "ori": 6, "andi": 7}
SHIFT_I = {"slli": (1, 0x00), "srli": (5, 0x00), "srai": (5, 0x20)}
LOADS = {"lb": 0, "lh": 1, "lw": 2, "lbu": 4, "lhu": 5}
STORES = {"sb": 0, "sh": 1, "sw": 2}
BRANCHES = {"beq": 0, "bne": 1, "blt": 4, "bge": 5, "bltu": 6, "bgeu": 7}
CSR_OPS = {"csrrw": 1, "csrrs": 2, "csrrc": 3, "csrrwi": 5, "csrrsi": 6, "csrrci": 7}

OP, OP_IMM, LOAD, STORE, BRANCH = 0x33, 0x13, 0x03, 0x23, 0x63
LUI, AUIPC, JAL, JALR, MISC_MEM, SYSTEM = 0x37, 0x17, 0x6F, 0x67, 0x0F, 0x73
FENCE = 0x0FF0_000F  # fence iorw, iorw
FENCE_I = 0x0000_100F
NOP = 0x0000_0013


def r_type(opcode: int, funct3: int, funct7: int, rd: int, rs1: int, rs2: int) -> int:
    return funct7 << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode


def i_type(opcode: int, funct3: int, rd: int, rs1: int, imm: int) -> int:
    assert -2048 <= imm < 4096, imm
    return (imm & 0xFFF) << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode


def s_type(funct3: int, rs1: int, rs2: int, imm: int) -> int:
    assert -2048 <= imm < 2048, imm
    imm &= 0xFFF
    return (imm >> 5) << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | (imm & 0x1F) << 7 | STORE


def b_type(funct3: int, rs1: int, rs2: int, offset: int) -> int:
    assert -4096 <= offset < 4096 and offset % 2 == 0, offset
    o = offset & 0x1FFF
    return (
        (o >> 12) << 31
        | ((o >> 5) & 0x3F) << 25
        | rs2 << 20
        | rs1 << 15
        | funct3 << 12
        | ((o >> 1) & 0xF) << 8
        | ((o >> 11) & 1) << 7
        | BRANCH
    )


def u_type(opcode: int, rd: int, imm20: int) -> int:
    return (imm20 & 0xFFFFF) << 12 | rd << 7 | opcode


def j_type(rd: int, offset: int) -> int:
    assert -(1 << 20) <= offset < 1 << 20 and offset % 2 == 0, offset
    o = offset & 0x1FFFFF
    return (o >> 20) << 31 | ((o >> 1) & 0x3FF) << 21 | ((o >> 11) & 1) << 20 | ((o >> 12) & 0xFF) << 12 | rd << 7 | JAL


def encode(name: str, *args: int) -> int:
    """One instruction by its assembler name: ``encode("addi", rd, rs1, imm)``,
    ``encode("sw", rs2, rs1, imm)``, ``encode("beq", rs1, rs2, offset)``,
    ``encode("csrrw", rd, csr, rs1_or_zimm)``, ``encode("lui", rd, imm20)``, ``encode("jal", rd, offset)``."""
    if name in ALU_R or name in MULDIV:
        funct3, funct7 = ALU_R.get(name) or MULDIV[name]
        return r_type(OP, funct3, funct7, *args)
    if name in ALU_I:
        rd, rs1, imm = args
        return i_type(OP_IMM, ALU_I[name], rd, rs1, imm)
    if name in SHIFT_I:
        rd, rs1, shamt = args
        funct3, funct7 = SHIFT_I[name]
        return i_type(OP_IMM, funct3, rd, rs1, funct7 << 5 | shamt)
    if name in LOADS:
        rd, rs1, imm = args
        return i_type(LOAD, LOADS[name], rd, rs1, imm)
    if name in STORES:
        rs2, rs1, imm = args
        return s_type(STORES[name], rs1, rs2, imm)
    if name in BRANCHES:
        return b_type(BRANCHES[name], *args)
    if name in CSR_OPS:
        rd, csr, source = args
        return csr << 20 | source << 15 | CSR_OPS[name] << 12 | rd << 7 | SYSTEM
    if name == "lui":
        return u_type(LUI, *args)
    if name == "auipc":
        return u_type(AUIPC, *args)
    if name == "jal":
        return j_type(*args)
    if name == "jalr":
        rd, rs1, imm = args
        return i_type(JALR, 0, rd, rs1, imm)
    raise KeyError(f"no encoder for {name!r}")


def sign_extend(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def fields(word: int) -> dict[str, int]:
    """The fields every format shares, and the I- and S-immediates."""
    return {
        "opcode": word & 0x7F,
        "rd": word >> 7 & 0x1F,
        "funct3": word >> 12 & 7,
        "rs1": word >> 15 & 0x1F,
        "rs2": word >> 20 & 0x1F,
        "funct7": word >> 25,
        "csr": word >> 20,
        "imm_i": sign_extend(word >> 20, 12),
        "imm_s": sign_extend((word >> 25) << 5 | (word >> 7 & 0x1F), 12),
    }


def implemented(word: int, csrs=IMPLEMENTED_CSRS) -> bool:
    """Whether the core executes ``word`` rather than trapping it as illegal.

    A CSR instruction also traps when it writes a read-only CSR; that is left to the caller,
    which knows the operand register."""
    f = fields(word)
    op, f3, f7 = f["opcode"], f["funct3"], f["funct7"]
    if op in (LUI, AUIPC, JAL):
        return True
    if op == JALR:
        return f3 == 0
    if op == BRANCH:
        return f3 not in (2, 3)
    if op == LOAD:
        return f3 in LOADS.values()
    if op == STORE:
        return f3 in STORES.values()
    if op == OP_IMM:
        if f3 == 1:
            return f7 == 0
        if f3 == 5:
            return f7 in (0x00, 0x20)
        return True
    if op == OP:
        return (f3, f7) in ALU_R.values() or f7 == 0x01
    if op == MISC_MEM:
        return f3 in (0, 1)
    if op == SYSTEM:
        if f3 == 0:
            return word in (ECALL, EBREAK, MRET, WFI)
        return f3 != 4 and f["csr"] in csrs
    return False


def destination(word: int) -> int:
    """The register an implemented, non-trapping ``word`` writes (0 for none)."""
    f = fields(word)
    writes = f["opcode"] in (LUI, AUIPC, JAL, JALR, OP, OP_IMM, LOAD) or (f["opcode"] == SYSTEM and f["funct3"] != 0)
    return f["rd"] if writes else 0
