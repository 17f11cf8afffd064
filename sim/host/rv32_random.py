"""Seeded random instruction streams for the RV32 lockstep check.

A program is a prologue (trap vector, random register values, the data bases), ``length`` random
instructions, the end (a jump to itself) and a trap handler. The stream keeps to what can be
checked: loads and stores go through s0 (the local data area) or s1 (the SoC RAM page the bus
model answers), with now and then a misaligned address, a sub-word store to the bus, or an
address that the bus answers with an error; branches and jumps go forwards to an instruction of
the stream (now and then to a non-word address, which traps); CSR writes leave mtvec and mie.MEIE
alone. The handler skips the instruction of an exception and acknowledges an interrupt; it uses
only t5 and t6, which the stream never writes, as it never writes s0 and s1.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hdl.memory_map import CORE_LOCAL, DEVICE
from hdl.rv32.isa import Csr
from sim.contract import rv32_isa as isa
from sim.contract.rv32_image import ProgramImage

__all__ = ["RandomProgram", "random_program"]

E = isa.encode
S0, S1, T5, T6 = 8, 9, 30, 31
#: Registers the stream may write.
WRITABLE = [r for r in range(1, 32) if r not in (S0, S1, T5, T6)]
SOC_RAM = 0x1000_0000
UNMAPPED = 0x2000_0000
DATA_BYTES = 2048
EDGES = [0, 1, -1, 0x7FFF_FFFF, -0x8000_0000, 2, 31, 32, 0xFFFF, -2]
READABLE_CSRS = [
    Csr.MSTATUS,
    Csr.MISA,
    Csr.MIE,
    Csr.MTVEC,
    Csr.MSCRATCH,
    Csr.MEPC,
    Csr.MCAUSE,
    Csr.MTVAL,
    Csr.MIP,
    Csr.MCYCLE,
    Csr.MCYCLEH,
    Csr.MINSTRET,
    Csr.MINSTRETH,
    Csr.MVENDORID,
    Csr.MARCHID,
    Csr.MIMPID,
    Csr.MHARTID,
]
WRITABLE_CSRS = [Csr.MSCRATCH, Csr.MEPC, Csr.MCAUSE, Csr.MTVAL, Csr.MSTATUS, Csr.MIP, Csr.MISA, Csr.MCYCLE]
WRITABLE_CSRS += [Csr.MCYCLEH, Csr.MINSTRET, Csr.MINSTRETH]
#: Encodings the core refuses; the reference refuses them or the check predicts it.
ILLEGAL_WORDS = [0, 0xFFFF_FFFF, 0x0000_4501, 0x0005_202F, 0x1020_0073, 0x0000_700B, 0x0200_5013, 0x0000_3003]


@dataclass
class RandomProgram:
    image: ProgramImage
    end: int
    length: int


def _li(rd: int, value: int) -> list[int]:
    value &= 0xFFFF_FFFF
    low = isa.sign_extend(value, 12)
    high = (value - low) >> 12 & 0xFFFFF
    return [E("lui", rd, high), E("addi", rd, rd, low)]


class _Stream:
    def __init__(self, rng: random.Random, base: int):
        self.rng, self.base = rng, base
        self.words: list[int] = []
        self.fixups: list[tuple[int, str, tuple, int, int]] = []  # (index, name, args, target index, extra)
        self.linked: set[int] = set()  # the second instruction of a pair, which no jump may land on

    def pc(self, index: int) -> int:
        return self.base + 4 * index

    def value(self) -> int:
        return self.rng.choice(EDGES) if self.rng.random() < 0.4 else self.rng.getrandbits(32)

    def rd(self) -> int:
        return 0 if self.rng.random() < 0.03 else self.rng.choice(WRITABLE)

    def reg(self) -> int:
        return self.rng.randrange(32)

    def emit(self, *words: int) -> None:
        self.words.extend(words)

    def forward(self, name: str, args: tuple, extra: int = 0) -> None:
        """A jump or branch to an instruction 1..12 ahead, resolved once the stream's end is known."""
        self.fixups.append((len(self.words), name, args, len(self.words) + self.rng.randint(1, 12), extra))
        self.emit(0)


def _instruction(s: _Stream) -> None:
    rng = s.rng
    kind = rng.choices(
        ["alu", "alui", "shift", "upper", "muldiv", "load", "store", "branch", "jal", "jalr", "csr", "misc"],
        weights=[18, 14, 6, 4, 8, 12, 10, 8, 3, 3, 8, 3],
    )[0]
    if kind == "alu":
        s.emit(E(rng.choice(list(isa.ALU_R)), s.rd(), s.reg(), s.reg()))
    elif kind == "alui":
        imm = rng.choice([0, 1, -1, 2047, -2048]) if rng.random() < 0.3 else rng.randint(-2048, 2047)
        s.emit(E(rng.choice(list(isa.ALU_I)), s.rd(), s.reg(), imm))
    elif kind == "shift":
        s.emit(E(rng.choice(list(isa.SHIFT_I)), s.rd(), s.reg(), rng.randrange(32)))
    elif kind == "upper":
        s.emit(E(rng.choice(["lui", "auipc"]), s.rd(), rng.getrandbits(20)))
    elif kind == "muldiv":
        # The divider takes 33 cycles: fewer divisions than multiplications.
        name = rng.choice(["mul", "mulh", "mulhsu", "mulhu"] * 2 + ["div", "divu", "rem", "remu"])
        s.emit(E(name, s.rd(), s.reg(), s.reg()))
    elif kind in ("load", "store"):
        _access(s, kind == "store")
    elif kind == "branch":
        s.forward(rng.choice(list(isa.BRANCHES)), (s.reg(), s.reg()), extra=2 if rng.random() < 0.05 else 0)
    elif kind == "jal":
        s.forward("jal", (s.rd(),), extra=2 if rng.random() < 0.05 else 0)
    elif kind == "jalr":
        link = rng.choice(WRITABLE)
        s.emit(E("auipc", link, 0))
        s.linked.add(len(s.words))  # no jump may land on the JALR: its AUIPC would be skipped
        s.forward("jalr", (s.rd(), link), extra=rng.choice([0] * 12 + [1, 2, 3]))
    elif kind == "csr":
        _csr(s)
    else:
        choice = rng.choices(["fence", "ecall", "ebreak", "illegal", "wfi", "nop"], weights=[3, 2, 2, 2, 1, 2])[0]
        word = {"fence": isa.FENCE, "ecall": isa.ECALL, "ebreak": isa.EBREAK, "wfi": isa.WFI, "nop": isa.NOP}
        s.emit(word[choice] if choice in word else rng.choice(ILLEGAL_WORDS))


def _access(s: _Stream, store: bool) -> None:
    rng = s.rng
    name = rng.choice(list(isa.STORES if store else isa.LOADS))
    size = 1 << (isa.STORES[name] if store else isa.LOADS[name]) % 4
    where = rng.choices(["local", "soc", "unmapped"], weights=[12, 6, 1])[0]
    if where == "soc" and store and size < 4 and rng.random() < 0.8:
        name, size = "sw", 4  # a sub-word store to the bus is a fault: now and then only
    offset = rng.randrange(0, 2040) & ~(size - 1)
    if rng.random() < 0.05:
        offset |= rng.randrange(1, 4) & (size - 1) or 0  # misaligned (when the size allows it)
    data = s.reg() if store else s.rd()
    if where == "unmapped":
        base = rng.choice(WRITABLE)
        s.emit(E("lui", base, UNMAPPED >> 12))
        s.linked.add(len(s.words))  # no jump may land on the access: it would miss its base
        offset &= 0x7FF
    else:
        base = S0 if where == "local" else S1
    s.emit(E(name, data, base, offset))


def _csr(s: _Stream) -> None:
    rng = s.rng
    if rng.random() < 0.55:
        csr = rng.choice(READABLE_CSRS)
        s.emit(E(rng.choice(["csrrs", "csrrc"]), s.rd(), csr, 0))
        return
    if rng.random() < 0.05:  # illegal: a read-only CSR written, or one the core lacks
        csr = rng.choice([Csr.MHARTID, Csr.MVENDORID, 0x7C0, 0xC00, 0x100])
        s.emit(E("csrrw", s.rd(), csr, s.reg()))
        return
    csr = rng.choice(WRITABLE_CSRS)
    op = rng.choice(list(isa.CSR_OPS))
    source = rng.randrange(32) if op.endswith("i") else s.reg()
    s.emit(E(op, s.rd(), csr, source))


def _handler() -> list[int]:
    ack = DEVICE.addr("ACK", index=0)
    return [
        E("csrrs", T5, Csr.MCAUSE, 0),
        E("blt", T5, 0, 20),
        E("csrrs", T6, Csr.MEPC, 0),
        E("addi", T6, T6, 4),
        E("csrrw", 0, Csr.MEPC, T6),
        isa.MRET,
        *_li(T6, ack),
        E("sw", T6, T6, 0),
        isa.MRET,
    ]


def random_program(seed: int, length: int, *, local_bytes: int) -> RandomProgram:
    """The program of ``seed``: ``length`` random instructions between its prologue and its end."""
    rng = random.Random(seed)
    base = CORE_LOCAL.base
    data = base + local_bytes - DATA_BYTES - 64  # below the top of the local memory
    s = _Stream(rng, base)
    s.emit(*_li(T6, 0))  # mtvec: the handler's address, patched once the stream is laid out
    s.emit(E("csrrw", 0, Csr.MTVEC, T6))
    s.emit(*_li(S0, data), *_li(S1, SOC_RAM))
    s.emit(*_li(T6, 0x800), E("csrrs", 0, Csr.MIE, T6))
    if rng.random() < 0.7:
        s.emit(E("csrrsi", 0, Csr.MSTATUS, 8))
    for r in WRITABLE:
        s.emit(*_li(r, s.value()))
    start = len(s.words)
    while len(s.words) - start < length:
        _instruction(s)
    end = len(s.words)
    s.emit(E("jal", 0, 0))
    handler = len(s.words)
    s.words.extend(_handler())
    s.words[0:2] = _li(T6, s.pc(handler))
    for index, name, args, target, extra in s.fixups:
        target = min(target, end)
        while target in s.linked:
            target += 1
        offset = 4 * (target - index) + extra
        if name == "jalr":
            s.words[index] = E("jalr", args[0], args[1], offset + 4)  # relative to the auipc before it
        elif name == "jal":
            s.words[index] = E("jal", args[0], offset)
        else:
            s.words[index] = E(name, args[0], args[1], offset)
    if len(s.words) > (data - base) // 4:
        raise ValueError(f"{length} instructions do not fit below the data area of a {local_bytes}-byte memory")
    filler = [rng.getrandbits(32) for _ in range(DATA_BYTES // 4)]
    words = s.words + [0] * ((data - base) // 4 - len(s.words)) + filler
    return RandomProgram(ProgramImage.from_words(base, words), end=s.pc(end), length=length)
