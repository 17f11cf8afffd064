# Every CSR instruction form on every CSR; WARL bits; writes to read-only and unimplemented CSRs trap.
    .text
    .globl test
test:
    li s2, -1
    li s3, 0x5a5a5a5a
    .irp csr, mscratch, mepc, mcause, mtval, mstatus, mie, mip, misa
    csrrw a0, \csr, s2
    csrr a1, \csr
    csrrs a0, \csr, s3
    csrrc a0, \csr, s3
    csrrs a0, \csr, zero
    csrrc a0, \csr, zero
    csrrwi a0, \csr, 21
    csrrsi a0, \csr, 10
    csrrci a0, \csr, 1
    csrrsi a0, \csr, 0
    csrw \csr, zero
    csrr a1, \csr
    .endr
    csrr s4, mtvec           # mtvec: the mode bits read 0 (direct only)
    ori a0, s4, 1
    csrw mtvec, a0
    csrr a1, mtvec
    ori a0, s4, 3
    csrrw a1, mtvec, a0
    csrw mtvec, s4
    .irp csr, mvendorid, marchid, mimpid, mhartid
    csrr a0, \csr
    csrrs a0, \csr, zero
    csrrci a0, \csr, 0
    csrw \csr, zero          # read-only: illegal
    csrrs a0, \csr, s2       # illegal
    csrrwi a0, \csr, 0       # illegal
    .endr
    .irp csr, 0x100, 0x310, 0x7c0, 0xc00, 0xc01, 0xc02, 0x306, 0x180, 0xb03, 0x323, 0x3a0, 0xfff
    csrr a0, \csr
    .endr
    j _halt
