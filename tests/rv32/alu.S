# Every OP, OP-IMM, LUI, AUIPC and M instruction on operands at the edges.
    .text
    .globl test
test:
    li s2, 0
    li s3, 1
    li s4, -1
    li s5, 0x7fffffff
    li s6, 0x80000000
    li s7, 0x12345678
    li s8, 31
    li s9, -7
    .irp op, add, sub, sll, slt, sltu, xor, srl, sra, or, and, mul, mulh, mulhsu, mulhu, div, divu, rem, remu
    .irp a, s2, s3, s4, s5, s6, s7, s8, s9
    .irp b, s2, s3, s4, s5, s6, s7, s8, s9
    \op a0, \a, \b
    .endr
    .endr
    .endr
    # rd = rs1 = rs2, and x0 as a destination
    mul s9, s9, s9
    add zero, s7, s7
    div zero, s7, s3
    .irp op, addi, slti, sltiu, xori, ori, andi
    .irp a, s2, s3, s4, s5, s6, s7
    .irp imm, 0, 1, -1, 2047, -2048, 0x555
    \op a0, \a, \imm
    .endr
    .endr
    .endr
    .irp op, slli, srli, srai
    .irp a, s4, s5, s6, s7
    .irp sh, 0, 1, 15, 31
    \op a0, \a, \sh
    .endr
    .endr
    .endr
    lui a0, 0
    lui a0, 0xfffff
    lui a0, 0x80000
    auipc a0, 0
    auipc a0, 0xfffff
    auipc a0, 0x12345
    fence
    fence.i
    fence r, w
    nop
    j _halt
