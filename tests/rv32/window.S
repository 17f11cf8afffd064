# Code whose every instruction boundary the tests interrupt (between window_start and window_end).
    .text
    .globl test
test:
    li t0, 0x800
    csrs mie, t0
    csrsi mstatus, 8
    li a0, 7
    li a1, -3
    .globl window_start
window_start:
    add a2, a0, a1
    lw a3, 0(s0)
    sw a2, 4(s1)
    lw a4, 4(s1)
    div a5, a0, a1
    mul a6, a0, a1
    beq a0, a0, 1f
    nop
1:  jal a7, 2f
2:  csrr t0, mscratch
    sb a0, 1(s0)
    lbu t1, 1(s0)
    remu t2, a0, a1
    bne a0, a1, 3f
3:  auipc t3, 0
    .globl window_end
window_end:
    j _halt
