"""Integer operations of OP / OP-IMM, and the six branch conditions."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .decoder import AluOp

__all__ = ["Alu", "BranchCondition"]


class Alu(wiring.Component):
    """``result = op(a, b)``, combinational. Shifts use ``b[4:0]``, as both shift forms ask.

    Attributes
    ----------
    op : In(AluOp)
    a, b : In(32)
    result : Out(32)
    """

    def __init__(self):
        super().__init__({"op": In(AluOp), "a": In(32), "b": In(32), "result": Out(32)})

    def elaborate(self, platform):
        m = Module()
        a, b, r = self.a, self.b, self.result
        shamt = b[:5]
        with m.Switch(self.op):
            with m.Case(AluOp.ADD):
                m.d.comb += r.eq(a + b)
            with m.Case(AluOp.SUB):
                m.d.comb += r.eq(a - b)
            with m.Case(AluOp.SLL):
                m.d.comb += r.eq(a << shamt)
            with m.Case(AluOp.SLT):
                m.d.comb += r.eq(a.as_signed() < b.as_signed())
            with m.Case(AluOp.SLTU):
                m.d.comb += r.eq(a < b)
            with m.Case(AluOp.XOR):
                m.d.comb += r.eq(a ^ b)
            with m.Case(AluOp.SRL):
                m.d.comb += r.eq(a >> shamt)
            with m.Case(AluOp.SRA):
                m.d.comb += r.eq(a.as_signed() >> shamt)
            with m.Case(AluOp.OR):
                m.d.comb += r.eq(a | b)
            with m.Case(AluOp.AND):
                m.d.comb += r.eq(a & b)
        return m


class BranchCondition(wiring.Component):
    """Whether a branch with ``funct3`` is taken on ``a`` (rs1) and ``b`` (rs2).

    The decoder has already refused funct3 010 and 011.

    Attributes
    ----------
    funct3 : In(3)
    a, b : In(32)
    taken : Out(1)
    """

    def __init__(self):
        super().__init__({"funct3": In(3), "a": In(32), "b": In(32), "taken": Out(1)})

    def elaborate(self, platform):
        m = Module()
        a, b = self.a, self.b
        # funct3[2:1] picks the relation (00 eq, 10 signed less, 11 unsigned less); funct3[0] negates it.
        relation = self.funct3[1:].as_unsigned()
        holds = (
            (relation == 0b00) & (a == b)
            | (relation == 0b10) & (a.as_signed() < b.as_signed())
            | (relation == 0b11) & (a < b)
        )
        m.d.comb += self.taken.eq(holds ^ self.funct3[0])
        return m
