"""x1..x31: two combinational read ports, one write port; x0 reads 0 and ignores writes."""

from amaranth.hdl import Module
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RegisterFile"]


class RegisterFile(wiring.Component):
    """The integer registers, in a memory of 32 words whose word 0 is never written.

    Reads are combinational: an instruction reads its operands in the cycle it executes, and
    the previous instruction's write landed at the edge before.

    Attributes
    ----------
    rs1, rs2 : In(5)
    rs1_data, rs2_data : Out(32)
    rd : In(5)
    rd_data : In(32)
    write : In(1)
    """

    def __init__(self):
        super().__init__(
            {
                "rs1": In(5),
                "rs2": In(5),
                "rs1_data": Out(32),
                "rs2_data": Out(32),
                "rd": In(5),
                "rd_data": In(32),
                "write": In(1),
            }
        )

    def elaborate(self, platform):
        m = Module()
        m.submodules.registers = registers = memory.Memory(shape=32, depth=32, init=[])
        port1 = registers.read_port(domain="comb")
        port2 = registers.read_port(domain="comb")
        write = registers.write_port()
        m.d.comb += [
            port1.addr.eq(self.rs1),
            port2.addr.eq(self.rs2),
            self.rs1_data.eq(port1.data),
            self.rs2_data.eq(port2.data),
            write.addr.eq(self.rd),
            write.data.eq(self.rd_data),
            write.en.eq(self.write & (self.rd != 0)),
        ]
        return m
