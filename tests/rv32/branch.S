# Every branch taken and not taken, forwards and backwards; JAL and JALR, with bit 0 of the target set.
    .text
    .globl test
test:
    li s2, 0
    li s3, 1
    li s4, -1
    li s5, 0x80000000
    li a0, 0
    .irp op, beq, bne, blt, bge, bltu, bgeu
    .irp a, s2, s3, s4, s5
    .irp b, s2, s3, s4, s5
    \op \a, \b, 1f
    addi a0, a0, 1
1:
    .endr
    .endr
    .endr
    li a1, 5                 # a backward loop
2:  addi a1, a1, -1
    bnez a1, 2b
    jal a2, 3f
    addi a0, a0, 100
3:  la a3, 4f
    jalr a4, 0(a3)
    addi a0, a0, 100
4:  la a3, 5f + 1            # bit 0 of a JALR target is cleared
    jalr a5, a3, 0
    addi a0, a0, 100
5:  la a3, 6f - 8
    jalr a3, 8(a3)           # rd = rs1
6:  jal zero, 7f
7:  j _halt
