# Every exception: illegal encodings, ecall, ebreak, misaligned loads, stores and jump targets,
# access faults (beyond the local memory, a bus error, a sub-word store to the bus, a fetch), mret.
#include "rv32.h"
    .text
    .globl test
test:
    .word 0x00000000         # all zero
    .word 0xffffffff         # all one
    .word 0x00004501         # a compressed encoding (no C)
    .word 0x0005202f         # amoadd.w (no A)
    .word 0x0002a007         # flw (no F)
    .word 0x10200073         # sret (no S)
    .word 0x12000073         # sfence.vma
    .word 0x00200073         # uret
    .word 0x40007033         # OP with funct7 0x20 and funct3 7
    .word 0x02005013         # srli with imm[11:5] = 1
    .word 0x0000200f         # MISC-MEM funct3 2
    .word 0x00003003         # LOAD funct3 3 (ld)
    .word 0x00003023         # STORE funct3 3 (sd)
    .word 0x00002063         # BRANCH funct3 2
    .word 0x00001067         # JALR funct3 1
    .word 0x00004073         # SYSTEM funct3 4
    .word 0x0000001b         # OP-IMM-32 (RV64)
    .word 0x0000007f         # a 64-bit encoding
    ecall
    ebreak
    .irp base, s0, s1
    lh a0, 1(\base)
    lw a0, 2(\base)
    lhu a0, 3(\base)
    sh a0, 1(\base)
    sw a0, 3(\base)
    .endr
    li a1, LOCAL_END
    lw a0, 0(a1)             # beyond the local memory
    sb a0, 4(a1)
    li a1, 0x8ffffffc
    lw a0, 0(a1)
    li a1, SOC_UNMAPPED
    lw a0, 0(a1)             # err on the bus
    sw a0, 0(a1)
    lb a0, 0(a1)
    sb a0, 0(s1)             # sub-word stores to the bus
    sh a0, 2(s1)
    li a0, 0
    jal a1, 1f + 2           # a jump to a non-word address traps on the jump and writes nothing
1:  beq zero, zero, 2f + 2
2:  bne zero, zero, 3f + 2   # not taken: no trap
3:  la a2, 4f + 2
    jalr a3, 0(a2)
4:  la a2, 5f + 3
    jalr a3, a2, 0           # bit 0 cleared, bit 1 set: traps
5:  li a2, SOC_RAM           # instruction access faults: the handler returns to ra
    jalr ra, 0(a2)
    li a2, LOCAL_END
    jalr ra, 0(a2)
    li a2, 0x8ffffff0
    jalr ra, 0(a2)
    j _halt
