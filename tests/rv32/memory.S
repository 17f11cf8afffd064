# Loads and stores of every size and alignment, local (s0) and on the core bus (s1: SoC RAM).
    .text
    .globl test
test:
    li t0, 0x80f17f01
    li t1, 0xc3a55a3c
    .irp base, s0, s1
    sw t0, 0(\base)
    sw t1, 4(\base)
    .irp off, 0, 1, 2, 3, 4, 5, 6, 7
    lb a0, \off(\base)
    lbu a0, \off(\base)
    .endr
    .irp off, 0, 2, 4, 6
    lh a0, \off(\base)
    lhu a0, \off(\base)
    .endr
    lw a0, 0(\base)
    lw a0, 4(\base)
    .endr
    .irp off, 8, 9, 10, 11
    sb t1, \off(s0)
    .endr
    sh t0, 12(s0)
    sh t1, 14(s0)
    lw a0, 8(s0)
    lw a0, 12(s0)
    addi a1, s0, 64
    sw t1, -4(a1)            # negative offsets
    lw a0, -4(a1)
    lb a0, -3(a1)
    lw a0, 0(zero)           # x0 as the base: SYS at 0 answers err in the bus model
    li a2, 0xA000            # the device page
    sw t1, 8(a2)
    lw a0, 8(a2)
    lbu a0, 9(a2)
    lw zero, 4(s0)           # a load to x0 writes nothing
    j _halt
