"""Units of the RV32 core alone (hdl/rv32/): the divider and multiplier against Python, the decoder's
refusals, and the core's declared probes in its design. The whole core is checked against unicorn
in tests/test_rv32_core.py."""

import random
import re

import pytest
from amaranth.back import rtlil
from amaranth.sim import Simulator

from hdl.rv32.core import Rv32Core
from hdl.rv32.csr import CsrFile
from hdl.rv32.decoder import Decoder, Kind
from hdl.rv32.divider import Divider
from hdl.rv32.multiplier import Multiplier
from sim.contract import rv32_isa as isa

MASK = 0xFFFF_FFFF
EDGES = [0, 1, 2, 7, MASK, MASK - 6, 0x8000_0000, 0x7FFF_FFFF, 0x1234_5678]


def _signed(v):
    return v - (1 << 32) if v >> 31 else v


def _divide(funct3, a, b):
    """RISC-V's DIV/DIVU/REM/REMU, by the specification's table for zero and overflow."""
    signed = funct3 in (4, 6)
    x, y = (_signed(a), _signed(b)) if signed else (a, b)
    if y == 0:
        return MASK if funct3 in (4, 5) else a
    q = abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1)
    r = x - q * y
    return (q if funct3 in (4, 5) else r) & MASK


def _multiply(funct3, a, b):
    x = _signed(a) if funct3 in (1, 2) else a
    y = _signed(b) if funct3 == 1 else b
    p = x * y
    return (p if funct3 == 0 else p >> 32) & MASK


def _operands(seed, count):
    rng = random.Random(seed)
    pairs = [(a, b) for a in EDGES for b in EDGES]
    return pairs + [(rng.getrandbits(32), rng.getrandbits(32) >> rng.randrange(32)) for _ in range(count)]


def test_divider_against_the_specification():
    dut = Divider()
    cases = [(f, a, b) for a, b in _operands(1, 30) for f in (4, 5, 6, 7)]

    async def bench(ctx):
        for funct3, a, b in cases:
            ctx.set(dut.funct3, funct3)
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            if ctx.get(dut.trivial):
                assert ctx.get(dut.result) == _divide(funct3, a, b), (funct3, a, b)
                continue
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            ctx.set(dut.a, 0)  # the operands were latched at the start
            ctx.set(dut.b, 0)
            cycles = 1
            while not ctx.get(dut.done):
                await ctx.tick()
                cycles += 1
            assert cycles == 32
            assert ctx.get(dut.result) == _divide(funct3, a, b), (funct3, hex(a), hex(b))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_multiplier_against_the_specification():
    dut = Multiplier()

    async def bench(ctx):
        for a, b in _operands(2, 100):
            for funct3 in range(4):
                ctx.set(dut.funct3, funct3)
                ctx.set(dut.a, a)
                ctx.set(dut.b, b)
                assert ctx.get(dut.result) == _multiply(funct3, a, b), (funct3, hex(a), hex(b))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


def test_decoder_refuses_what_the_python_model_refuses():
    # Random words around the base opcodes: the decoder and sim/contract/rv32_isa.py (written apart)
    # agree on what the core implements (CSR addresses aside: the CSR file checks those).
    dut = Decoder()
    rng = random.Random(3)
    opcodes = [0x03, 0x0F, 0x13, 0x17, 0x23, 0x33, 0x37, 0x63, 0x67, 0x6F, 0x73, 0x2F, 0x07, 0x0B, 0x1B, 0x3B]
    words = [rng.getrandbits(25) << 7 | rng.choice(opcodes) for _ in range(3000)] + [
        rng.getrandbits(32) for _ in range(500)
    ]
    words += [isa.ECALL, isa.EBREAK, isa.MRET, isa.WFI, isa.FENCE, isa.FENCE_I, 0x1020_0073]

    async def bench(ctx):
        for word in words:
            ctx.set(dut.insn, word)
            legal = ctx.get(dut.kind) != Kind.ILLEGAL
            every_csr = range(4096)
            assert legal == isa.implemented(word, csrs=every_csr), hex(word)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("block, path", [(Rv32Core, "rv32_core"), (CsrFile, "rv32_core.csr")])
def test_every_declared_probe_is_in_the_design(block, path):
    text = rtlil.convert(Rv32Core(local_words=1024), name="rv32_core", emit_src=False)
    modules = dict(re.findall(r"^module \\(\S+)\n(.*?)^end$", text, flags=re.S | re.M))
    names = set(re.findall(r"^\s*wire .*\\(\S+)$", modules[path], flags=re.M))
    for probe in block.PROBES:
        assert probe.name in names, f"{block.__name__}.PROBES declares {probe.name}, which {path} lacks"
