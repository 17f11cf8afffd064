"""hdl.bus.pack_fields: a register word with each value in its field and every other bit 0."""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from hdl import memory_map as mm
from hdl.bus import pack_fields
from hdl.register_model import Access, Field, Register

TX_STATUS = mm.IPI_TX.register("TX_STATUS")
LEVEL = TX_STATUS.field("LEVEL")

#: Fields away from bit 0, with gaps between them and above the last.
SPREAD = Register(
    "SPREAD",
    0,
    Access.R,
    "a register made up for these tests",
    fields=(Field("LOW", 3, 4, ""), Field("MID", 9, 6, ""), Field("HIGH", 20, 5, "")),
)


def expected_word(register: Register, values: dict[str, int]) -> int:
    word = 0
    for name, value in values.items():
        field = register.field(name)
        word |= (value & (1 << field.width) - 1) << field.lsb
    return word


def check_packing(register: Register, widths: dict[str, int], cases: list[dict[str, int]]) -> None:
    """Pack signals of ``widths`` (field name -> signal width) into ``register``'s word and compare
    it, for each case of values, with the fields' definition."""
    m = Module()
    inputs = {name: Signal(width, name=name.lower()) for name, width in widths.items()}
    word = Signal(32)
    m.d.comb += word.eq(pack_fields(register, inputs))

    async def bench(ctx):
        for values in cases:
            for name, value in values.items():
                ctx.set(inputs[name], value)
            assert ctx.get(word) == expected_word(register, values), (widths, values)

    sim = Simulator(m)  # combinational only: no clock
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("level_width", [1, 2, LEVEL.width, 32])
def test_tx_status_level_is_zero_extended_or_cut_to_its_field(level_width):
    """LEVEL from a value narrower than the field reads with zeros above it; from a wider one,
    its low 16 bits. WOF, left out, and the gaps read 0."""
    ones = (1 << level_width) - 1
    cases = [
        {"FULL": f, "EMPTY": e, "LEVEL": level}
        for f, e, level in ((0, 0, 0), (1, 0, 1), (0, 1, ones), (1, 1, ones), (0, 0, ones - 1))
    ]
    check_packing(TX_STATUS, {"FULL": 1, "EMPTY": 1, "LEVEL": level_width}, cases)


@pytest.mark.parametrize("names", [("LOW", "MID", "HIGH"), ("MID",), ("LOW", "HIGH"), ("MID", "HIGH")])
def test_fields_anywhere_in_the_word_from_values_of_any_width(names):
    rng = random.Random(len(names))
    for _ in range(6):
        widths = {name: rng.randint(1, 2 * SPREAD.field(name).width) for name in names}
        ones = [dict.fromkeys(names, (1 << 32) - 1), dict.fromkeys(names, 0)]
        cases = ones + [{name: rng.getrandbits(widths[name]) for name in names} for _ in range(8)]
        check_packing(SPREAD, widths, [{n: v & (1 << widths[n]) - 1 for n, v in c.items()} for c in cases])
