"""DIV, DIVU, REM, REMU: restoring division on the magnitudes, one quotient bit per cycle."""

from amaranth.hdl import Module, Signal, Cat, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Divider"]


class Divider(wiring.Component):
    """Divides ``a`` by ``b`` for the M instruction with ``funct3`` (100 DIV .. 111 REMU).

    A divisor of zero needs no division: ``trivial`` is high and ``result`` already holds the
    answer RISC-V defines (quotient all ones, remainder the dividend), in the same cycle.
    Otherwise ``start`` latches the operands and ``done`` rises 32 cycles later, in the cycle
    whose ``result`` is the answer. Signed overflow (-2^31 / -1) needs no special case: the
    magnitudes give quotient 2^31 and remainder 0, which are the defined results.

    Attributes
    ----------
    start : In(1)
    funct3 : In(3)
    a, b : In(32)
    trivial : Out(1)
    done : Out(1)
    result : Out(32)
    """

    def __init__(self):
        super().__init__(
            {
                "start": In(1),
                "funct3": In(3),
                "a": In(32),
                "b": In(32),
                "trivial": Out(1),
                "done": Out(1),
                "result": Out(32),
            }
        )

    def elaborate(self, platform):
        m = Module()
        signed = ~self.funct3[0]
        want_rem = self.funct3[1]
        a_neg = signed & self.a[31]
        b_neg = signed & self.b[31]

        busy = Signal()
        count = Signal(5)
        quotient = Signal(32)  # the dividend's bits shift out of the top as the quotient's shift in
        remainder = Signal(32)
        divisor = Signal(32)
        negate_q = Signal()
        negate_r = Signal()
        remainder_wanted = Signal()

        shifted = Cat(quotient[31], remainder)
        difference = Signal(33)
        fits = Signal()
        next_quotient = Signal(32)
        next_remainder = Signal(32)
        m.d.comb += [
            difference.eq(shifted - divisor),
            fits.eq(~difference[32]),
            next_quotient.eq(Cat(fits, quotient[:31])),
            next_remainder.eq(Mux(fits, difference[:32], shifted[:32])),
        ]

        m.d.comb += self.trivial.eq(self.b == 0)
        with m.If(busy):
            m.d.sync += [quotient.eq(next_quotient), remainder.eq(next_remainder), count.eq(count + 1)]
            with m.If(count == 31):
                m.d.sync += busy.eq(0)
                m.d.comb += self.done.eq(1)
            q = Mux(negate_q, -next_quotient, next_quotient)
            r = Mux(negate_r, -next_remainder, next_remainder)
            m.d.comb += self.result.eq(Mux(remainder_wanted, r, q))
        with m.Else():
            m.d.comb += self.result.eq(Mux(want_rem, self.a, 0xFFFF_FFFF))
            with m.If(self.start & ~self.trivial):
                m.d.sync += [
                    busy.eq(1),
                    count.eq(0),
                    quotient.eq(Mux(a_neg, -self.a, self.a)),
                    remainder.eq(0),
                    divisor.eq(Mux(b_neg, -self.b, self.b)),
                    negate_q.eq(a_neg ^ b_neg),
                    negate_r.eq(a_neg),
                    remainder_wanted.eq(want_rem),
                ]
        return m
