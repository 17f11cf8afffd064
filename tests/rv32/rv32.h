/* Addresses the directed RV32 programs share (tests/test_rv32_core.py's bus model answers them). */
#define DEVICE_ACK 0xA100          /* DEVICE.ACK[0]: lowers the interrupt request */
#define SOC_RAM 0x10000000         /* the page of the shared RAM the bus model answers */
#define SOC_UNMAPPED 0x20000000    /* answered with err */
#define LOCAL_END (0x80000000 + LOCAL_BYTES)
