"""RV32IM + Zicsr encodings and the machine-mode facts the core implements: plain data.

Numbers are the RISC-V unprivileged and privileged specifications'. The checks (sim/) read the
CSR table and the trap causes from here, so the core and its reference agree on what is implemented.
"""

from __future__ import annotations

__all__ = [
    "Opcode",
    "Csr",
    "Cause",
    "IMPLEMENTED_CSRS",
    "READ_ONLY_CSRS",
    "MISA",
    "MSTATUS_MIE",
    "MSTATUS_MPIE",
    "MSTATUS_MPP",
    "MIE_MEIE",
    "MIP_MEIP",
    "ECALL",
    "EBREAK",
    "MRET",
    "WFI",
]


class Opcode:
    """insn[6:0] of the 32-bit base encodings the core decodes."""

    LOAD = 0b0000011
    MISC_MEM = 0b0001111
    OP_IMM = 0b0010011
    AUIPC = 0b0010111
    STORE = 0b0100011
    OP = 0b0110011
    LUI = 0b0110111
    BRANCH = 0b1100011
    JALR = 0b1100111
    JAL = 0b1101111
    SYSTEM = 0b1110011


class Csr:
    """CSR addresses."""

    MSTATUS = 0x300
    MISA = 0x301
    MIE = 0x304
    MTVEC = 0x305
    MSCRATCH = 0x340
    MEPC = 0x341
    MCAUSE = 0x342
    MTVAL = 0x343
    MIP = 0x344
    MCYCLE = 0xB00
    MINSTRET = 0xB02
    MCYCLEH = 0xB80
    MINSTRETH = 0xB82
    MVENDORID = 0xF11
    MARCHID = 0xF12
    MIMPID = 0xF13
    MHARTID = 0xF14


#: Every CSR the core has; any other address is an illegal instruction.
IMPLEMENTED_CSRS = tuple(v for k, v in vars(Csr).items() if k.isupper())
#: addr[11:10] == 0b11: writing one is an illegal instruction.
READ_ONLY_CSRS = tuple(a for a in IMPLEMENTED_CSRS if a >> 10 == 0b11)


class Cause:
    """mcause values (an interrupt has bit 31 set)."""

    FETCH_MISALIGNED = 0
    FETCH_FAULT = 1
    ILLEGAL = 2
    BREAKPOINT = 3
    LOAD_MISALIGNED = 4
    LOAD_FAULT = 5
    STORE_MISALIGNED = 6
    STORE_FAULT = 7
    ECALL_M = 11
    EXTERNAL_INTERRUPT = (1 << 31) | 11


#: misa: MXL = 1 (32-bit), extensions I and M.
MISA = (1 << 30) | (1 << 8) | (1 << 12)
MSTATUS_MIE = 1 << 3
MSTATUS_MPIE = 1 << 7
#: Machine mode only: MPP always reads 0b11.
MSTATUS_MPP = 0b11 << 11
MIE_MEIE = 1 << 11
MIP_MEIP = 1 << 11

#: The SYSTEM instructions with funct3 = 0 the core knows, whole words (rd = rs1 = 0).
ECALL = 0x0000_0073
EBREAK = 0x0010_0073
MRET = 0x3020_0073
WFI = 0x1050_0073
