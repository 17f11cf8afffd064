# mcycle, minstret and their high halves: read, written, read back; mhartid.
    .text
    .globl test
test:
    csrr a0, mhartid
    csrr a0, mcycle
    csrr a1, mcycleh
    csrr a2, minstret
    csrr a3, minstreth
    div a4, a0, a2           # a slow instruction between reads
    csrr a0, mcycle
    csrr a2, minstret
    li t0, 0xfffffff0
    csrw mcycle, t0
    csrr a0, mcycle
    csrr a1, mcycleh         # the low half carried into the high one
    csrr a0, mcycle
    csrr a1, mcycleh
    csrw minstret, t0
    csrr a2, minstret
    nop
    csrr a2, minstret
    csrrw a3, minstreth, t0
    csrr a3, minstreth
    csrrs a0, mcycle, zero
    csrrsi a0, mcycleh, 1
    csrrci a2, minstret, 3
    csrrw a0, mcycle, zero
    csrr a0, mcycle
    ecall                    # traps do not retire
    csrr a2, minstret
    j _halt
