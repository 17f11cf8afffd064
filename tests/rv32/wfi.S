# WFI: woken by the interrupt request with MIE set (the trap is taken after the WFI) and clear
# (execution goes on, and the request is taken once MIE is set); a request already pending.
    .text
    .globl test
test:
    li t0, 0x800
    csrs mie, t0             # MEIE
    csrsi mstatus, 8         # MIE
    li a0, 1
    wfi
    addi a0, a0, 1
    csrci mstatus, 8
    wfi                      # MIE clear: wakes, no trap
    addi a0, a0, 1
    csrr a1, mip
    csrsi mstatus, 8         # the pending request is taken at the next boundary
    addi a0, a0, 1
    csrr a1, mip
    j _halt
