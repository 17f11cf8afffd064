"""MUL, MULH, MULHSU, MULHU: one 33 x 33 signed product, combinational."""

from amaranth.hdl import Module, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Multiplier"]


class Multiplier(wiring.Component):
    """``result`` for the multiply with ``funct3`` (000 MUL, 001 MULH, 010 MULHSU, 011 MULHU).

    Each operand is widened to 33 bits, by its sign when the operation takes it as signed, so
    one signed product serves the four: the low word for MUL, the high word for the others.

    Attributes
    ----------
    funct3 : In(3)
    a, b : In(32)
    result : Out(32)
    """

    def __init__(self):
        super().__init__({"funct3": In(3), "a": In(32), "b": In(32), "result": Out(32)})

    def elaborate(self, platform):
        m = Module()
        f = self.funct3[:2]
        a_signed = (f == 0b01) | (f == 0b10)
        b_signed = f == 0b01
        a = Cat(self.a, self.a[31] & a_signed).as_signed()
        b = Cat(self.b, self.b[31] & b_signed).as_signed()
        product = a * b
        m.d.comb += self.result.eq(Mux(f == 0, product[:32], product[32:64]))
        return m
