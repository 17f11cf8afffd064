# Start-up and the default trap handler of the directed RV32 programs (tests/test_rv32_core.py).
# The harness stops at _halt. The handler clobbers t5 and t6 only.

#include "rv32.h"

    .section .text.start
    .globl _start
_start:
    la sp, _stack_top
    la t0, trap_handler
    csrw mtvec, t0
    la s0, local_data
    li s1, SOC_RAM
    call test
    .globl _halt
_halt:
    j _halt

    .text
# An interrupt: acknowledge the device, return to the interrupted instruction. An instruction
# access fault: return to ra (the tests jump away with jalr ra). Any other exception: skip the
# instruction that trapped.
    .globl trap_handler
    .p2align 2
trap_handler:
    csrr t5, mcause
    bltz t5, 2f
    li t6, 1
    beq t5, t6, 1f
    csrr t6, mepc
    addi t6, t6, 4
    csrw mepc, t6
    mret
1:  csrw mepc, ra
    mret
2:  li t6, DEVICE_ACK
    sw t6, 0(t6)
    mret

    .data
    .p2align 4
    .globl local_data
local_data:
    .fill 64, 4, 0
