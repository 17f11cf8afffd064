"""Compiling C and assembling ``.S`` for the RV32 core with the Zig toolchain from PyPI (``ziglang``).

``python -m ziglang cc -target riscv32-freestanding-none -mcpu=generic_rv32+m`` is clang for RV32IM;
it takes a linker script with ``-T``. :func:`link_script` writes the one for a core's local memory:
code and data from the start of ``CORE_LOCAL``, the stack at its end. A failed compile raises
:class:`CompileError` with one line: the first error the compiler printed.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from hdl.memory_map import CORE_LOCAL
from sim.contract.errors import EnvironmentProblem, UsageError
from sim.contract.rv32_image import ProgramImage

__all__ = ["CompileError", "TARGET_FLAGS", "link_script", "build", "compiler"]

#: What the core executes: RV32IM, no compressed instructions, no floating point, no OS. The freestanding
#: target links no C library and no start files, but compiler-rt (64-bit division, for instance).
TARGET_FLAGS = ("-target", "riscv32-freestanding-none", "-mcpu=generic_rv32+m")
_FLAGS = (
    "-ffreestanding",
    "-fno-unwind-tables",
    "-fno-asynchronous-unwind-tables",
    "-Wall",
    "-Werror",
)


class CompileError(UsageError):
    """The program does not compile or link; the message is the compiler's first error."""


def compiler() -> list[str]:
    """The command that runs zig's clang; EnvironmentProblem when ziglang is not installed."""
    if importlib.util.find_spec("ziglang") is None:
        raise EnvironmentProblem("the RV32 toolchain is missing: pip install ziglang (it is in the test extra)")
    return [sys.executable, "-m", "ziglang", "cc"]


def link_script(local_bytes: int, base: int = CORE_LOCAL.base) -> str:
    """A linker script placing a program in a local memory of ``local_bytes`` at ``base``.

    ``_start`` (section .text.start) comes first, at ``base``; ``_stack_top`` is the memory's end."""
    return f"""ENTRY(_start)
MEMORY {{ local (rwx) : ORIGIN = {base:#x}, LENGTH = {local_bytes:#x} }}
SECTIONS {{
  .text : {{ KEEP(*(.text.start)) *(.text .text.*) }} > local
  .rodata : {{ *(.rodata .rodata.* .srodata .srodata.*) }} > local
  .data : {{ *(.data .data.* .sdata .sdata.*) }} > local
  .bss : {{ *(.bss .bss.* .sbss .sbss.* COMMON) }} > local
  /DISCARD/ : {{ *(.eh_frame .eh_frame_hdr .comment .note*) }}
  _stack_top = {base + local_bytes:#x};
}}
"""


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return line
    return lines[0] if lines else "no message"


def build(
    sources: list[Path],
    out: Path,
    *,
    local_bytes: int,
    optimize: str = "-O2",
    defines: dict[str, str] | None = None,
    include: list[Path] = (),
) -> ProgramImage:
    """Compile and link ``sources`` (.c, .S) into the ELF ``out``; returns its image."""
    out.parent.mkdir(parents=True, exist_ok=True)
    script = out.with_suffix(".ld")
    script.write_text(link_script(local_bytes))
    command = [*compiler(), *TARGET_FLAGS, *_FLAGS, optimize, "-T", str(script), "-o", str(out)]
    command += [f"-D{k}={v}" for k, v in (defines or {}).items()]
    command += [f"-I{d}" for d in include]
    command += [str(s) for s in sources]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        names = ", ".join(s.name for s in sources)
        raise CompileError(f"rv32 build of {names} failed: {_first_error(result.stderr)}")
    return ProgramImage.from_elf(out)
