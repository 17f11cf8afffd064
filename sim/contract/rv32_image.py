"""A program for an RV32 core: its loadable bytes by address, its entry and its symbols.

Made from an ELF (pyelftools) or from generated words; turned into the initial words of a
core's local memory, which is how a program is loaded before reset (no boot loader).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ProgramImage", "ImageError"]


class ImageError(ValueError):
    """The program does not fit where it is to be loaded, or is not an RV32 executable."""


@dataclass
class ProgramImage:
    entry: int
    segments: list[tuple[int, bytes]]
    symbols: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_words(cls, base: int, words: list[int], symbols: dict[str, int] | None = None) -> ProgramImage:
        data = b"".join((w & 0xFFFF_FFFF).to_bytes(4, "little") for w in words)
        return cls(base, [(base, data)], dict(symbols or {}))

    @classmethod
    def from_elf(cls, path: Path) -> ProgramImage:
        from elftools.elf.elffile import ELFFile

        with open(path, "rb") as f:
            elf = ELFFile(f)
            if elf.elfclass != 32 or elf["e_machine"] != "EM_RISCV":
                raise ImageError(f"{path}: not a 32-bit RISC-V executable")
            segments = []
            for seg in elf.iter_segments():
                if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                    continue
                data = seg.data() + bytes(seg["p_memsz"] - seg["p_filesz"])  # .bss reads 0
                segments.append((seg["p_paddr"], data))
            symbols = {}
            table = elf.get_section_by_name(".symtab")
            for sym in table.iter_symbols() if table else ():
                if sym.name and sym["st_info"]["type"] in ("STT_NOTYPE", "STT_FUNC", "STT_OBJECT"):
                    symbols[sym.name] = sym["st_value"]
            return cls(elf["e_entry"], segments, symbols)

    def words(self, base: int, count: int) -> list[int]:
        """The image as ``count`` words from byte ``base``: a local memory's initial contents."""
        memory = bytearray(4 * count)
        for address, data in self.segments:
            start = address - base
            if start < 0 or start + len(data) > len(memory):
                raise ImageError(
                    f"segment {address:#x}..{address + len(data):#x} outside the local memory "
                    f"{base:#x}..{base + len(memory):#x}"
                )
            memory[start : start + len(data)] = data
        return [int.from_bytes(memory[k : k + 4], "little") for k in range(0, len(memory), 4)]

    def symbol(self, name: str) -> int:
        if name not in self.symbols:
            raise ImageError(f"the program has no symbol {name!r}")
        return self.symbols[name]
