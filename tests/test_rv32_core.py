"""The RV32 core (hdl/rv32/) in lockstep with unicorn under amaranth.sim (sim/host/rv32_sim.py).

Directed programs (tests/rv32/: every instruction, CSR and trap, WFI, an interrupt at every boundary
of a window, a C program), seeded random instruction streams with random interrupts and bus
latencies, the cycles per instruction of each class, and the toolchain's errors. Each retirement is
compared field by field; the register files are compared at the end.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from hdl.memory_map import CORE_LOCAL
from hdl.rv32.isa import Cause
from sim.checks.rv32_lockstep import Lockstep
from sim.checks.rv32_reference import Reference, Retirement
from sim.contract import rv32_isa as isa
from sim.contract.rv32_image import ImageError, ProgramImage
from sim.host.rv32_random import random_program
from sim.host.rv32_sim import InterruptPlan, Mismatch, run_lockstep
from sim.host.rv32_toolchain import CompileError, build

SOURCES = Path(__file__).parent / "rv32"
LOCAL_WORDS = 4096
LOCAL_BYTES = 4 * LOCAL_WORDS
E = isa.encode


@functools.cache
def _program(name: str, out: Path) -> ProgramImage:
    return build(
        [SOURCES / "start.S", SOURCES / name],
        out / f"{Path(name).stem}.elf",
        local_bytes=LOCAL_BYTES,
        defines={"LOCAL_BYTES": str(LOCAL_BYTES)},
        include=[SOURCES],
    )


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    out = tmp_path_factory.mktemp("rv32")
    return lambda name: _program(name, out)


def _run(image: ProgramImage, **kwargs):
    return run_lockstep(image, end=image.symbol("_halt"), local_words=LOCAL_WORDS, **kwargs)


def test_every_alu_and_muldiv_instruction(program):
    result = _run(program("alu.S"))
    assert result.compared > 1400 and not result.traps


def test_divide_by_zero_and_overflow_give_the_defined_results():
    # Checked against the specification's table, not only against the reference.
    words = [*_li(1, 0x8000_0000), *_li(2, -1), *_li(3, 7)]
    words += [E("div", 10, 3, 0), E("divu", 11, 3, 0), E("rem", 12, 3, 0), E("remu", 13, 3, 0)]
    words += [E("div", 14, 1, 2), E("rem", 15, 1, 2), E("divu", 16, 1, 2), E("mulh", 17, 1, 1), E("jal", 0, 0)]
    image = ProgramImage.from_words(CORE_LOCAL.base, words)
    result = run_lockstep(image, end=CORE_LOCAL.base + 4 * (len(words) - 1), local_words=1024)
    x = result.registers
    assert [x[10], x[11], x[12], x[13]] == [0xFFFF_FFFF, 0xFFFF_FFFF, 7, 7]
    assert [x[14], x[15], x[16], x[17]] == [0x8000_0000, 0, 0, 0x4000_0000]


def test_every_branch_and_jump(program):
    result = _run(program("branch.S"))
    assert result.compared > 150 and not result.traps


def test_loads_and_stores_of_every_size_local_and_on_the_bus(program):
    result = _run(program("memory.S"), latency=(1, 4))
    assert result.traps == {Cause.LOAD_FAULT: 1}  # lw from address 0: SYS is not in the bus model
    assert result.bus_accesses > 30


def test_every_csr_form_warl_and_illegal_accesses(program):
    result = _run(program("csr.S"))
    # 4 read-only CSRs x 3 writes, and 12 addresses the core does not implement.
    assert result.traps == {Cause.ILLEGAL: 24}


def test_counters_and_hart_id(program):
    result = _run(program("counters.S"), hart_id=3)
    assert result.unmodelled_reads >= 20
    assert result.traps == {Cause.ECALL_M: 1}


def test_every_exception(program):
    result = _run(program("traps.S"))
    causes = set(result.traps)
    assert causes == {0, 1, 2, 3, 4, 5, 6, 7, 11}, causes
    assert result.traps[Cause.FETCH_FAULT] == 3 and result.traps[Cause.ILLEGAL] == 18


def test_wfi_is_woken_by_an_interrupt(program):
    result = _run(program("wfi.S"), interrupts=InterruptPlan(wake_after=25))
    assert result.interrupts == 2


def test_an_interrupt_at_every_boundary_of_a_window(program):
    image = program("window.S")
    window = (image.symbol("window_start") - 4, image.symbol("window_end"))
    result = _run(image, interrupts=InterruptPlan(window=window), latency=(1, 2))
    assert result.interrupts == 15  # every instruction of the window retires once (one is jumped over)


def test_a_c_program(program):
    result = _run(program("program.c"))
    assert result.compared > 4000


@pytest.mark.parametrize("seed", range(10))
def test_random_streams(seed):
    generated = random_program(seed, 1500, local_bytes=LOCAL_BYTES)
    plan = InterruptPlan(probability=0.02, wake_after=20, seed=seed)
    result = run_lockstep(
        generated.image, end=generated.end, local_words=LOCAL_WORDS, interrupts=plan, latency=(1, 3), seed=seed
    )
    assert result.compared > 1000 and result.traps


def test_random_stream_interrupted_at_every_boundary():
    generated = random_program(100, 150, local_bytes=LOCAL_BYTES)
    plan = InterruptPlan(window=(CORE_LOCAL.base, generated.end), wake_after=5)
    result = run_lockstep(generated.image, end=generated.end, local_words=LOCAL_WORDS, interrupts=plan)
    assert result.interrupts > 80


def _li(rd, value):
    value &= 0xFFFF_FFFF
    low = isa.sign_extend(value, 12)
    return [E("lui", rd, (value - low) >> 12 & 0xFFFFF), E("addi", rd, rd, low)]


@pytest.mark.parametrize(
    "name, words, latency, cpi",
    [
        ("alu", [E("add", 5, 6, 7)], (1, 1), 1),
        ("mul", [E("mulh", 5, 6, 7)], (1, 1), 1),
        ("taken branch", [E("beq", 0, 0, 4)], (1, 1), 1),
        ("jal", [E("jal", 5, 4)], (1, 1), 1),
        ("csr", [E("csrrw", 5, 0x340, 6)], (1, 1), 1),
        ("local store", [E("sw", 6, 8, 0)], (1, 1), 1),
        ("local load", [E("lw", 5, 8, 0)], (1, 1), 2),
        ("bus load", [E("lw", 5, 9, 0)], (1, 1), 3),
        ("bus store", [E("sw", 6, 9, 0)], (1, 1), 3),
        ("bus load, 4 wait cycles", [E("lw", 5, 9, 0)], (5, 5), 7),
        ("division", [E("div", 5, 6, 7)], (1, 1), 33),
        ("division by zero", [E("div", 5, 6, 0)], (1, 1), 1),
    ],
)
def test_cycles_per_instruction(name, words, latency, cpi):
    prologue = [*_li(6, 1234567), *_li(7, -89), *_li(8, CORE_LOCAL.base + 0x800), *_li(9, 0x1000_0000)]
    body = words * 8
    image = ProgramImage.from_words(CORE_LOCAL.base, prologue + body + [E("jal", 0, 0)])
    end = CORE_LOCAL.base + 4 * (len(prologue) + len(body))
    result = run_lockstep(image, end=end, local_words=1024, latency=latency)
    cycles = result.retire_cycles[len(prologue) : len(prologue) + len(body)]  # the body's records
    assert [b - a for a, b in zip(cycles, cycles[1:], strict=False)] == [cpi] * (len(body) - 1)


def test_a_core_that_differs_is_caught():
    # The reference is not fooled by a wrong expectation: planting a different instruction in the
    # reference's image than in the core's must fail the comparison.
    words = [E("addi", 5, 0, 3), E("jal", 0, 0)]
    image = ProgramImage.from_words(CORE_LOCAL.base, words)
    other = ProgramImage.from_words(CORE_LOCAL.base, [E("addi", 5, 0, 4), E("jal", 0, 0)])
    lockstep = Lockstep(Reference(other, local_bytes=4096, pages={}))
    with pytest.raises(Mismatch, match="rd_value: core 0x3, reference 0x4"):
        lockstep.check(Retirement(pc=CORE_LOCAL.base, insn=words[0], rd=5, rd_value=3), irq=False, cycle=2)
    assert image.words(CORE_LOCAL.base, 2) == words


def test_a_program_larger_than_the_local_memory_is_refused():
    image = ProgramImage.from_words(CORE_LOCAL.base, [0] * 1100)
    with pytest.raises(ImageError, match="outside the local memory"):
        image.words(CORE_LOCAL.base, 1024)


def test_a_failed_compile_says_why_in_one_line(tmp_path):
    source = tmp_path / "broken.c"
    source.write_text("void test(void) { undeclared(); }\n")
    with pytest.raises(CompileError) as error:
        build([source], tmp_path / "broken.elf", local_bytes=LOCAL_BYTES)
    message = str(error.value)
    assert "\n" not in message and "broken.c" in message and "undeclared" in message
