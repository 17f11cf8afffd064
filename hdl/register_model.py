"""What the memory map is made of: access kinds, fields, registers, blocks, the per-CPU decode
windows and the windows a core decodes itself. The map itself (every address) is ``memory_map.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import SocConfig

__all__ = ["Access", "Field", "Register", "Block", "LocalRegion", "Window"]


class Access(enum.Enum):
    R = "r"
    W = "w"
    RW = "rw"

    @property
    def readable(self) -> bool:
        return self in (Access.R, Access.RW)

    @property
    def writable(self) -> bool:
        return self in (Access.W, Access.RW)


@dataclass(frozen=True)
class Field:
    """A bit field of a register: ``value >> lsb & ((1 << width) - 1)``."""

    name: str
    lsb: int
    width: int
    doc: str

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class Register:
    """One register, or an array of them when ``count`` is given.

    ``count`` takes the configuration and returns how many registers the array
    holds; element ``k`` sits at ``offset + 4 * k``.
    """

    name: str
    offset: int
    access: Access
    doc: str
    fields: tuple[Field, ...] = ()
    count: Callable[[SocConfig], int] | None = None
    count_doc: str = ""

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name}")


@dataclass(frozen=True)
class Block:
    """A block of registers at ``base``, decoded from a window of ``size`` bytes.

    Blocks with ``slots`` repeat their registers every ``slot_stride`` bytes,
    once per CPU; with ``self_slot_error`` the requesting CPU's own slot is a
    bus error.
    """

    name: str
    base: int
    size: int
    scope: str  # "cpu": each CPU sees its own instance; "global": one shared
    doc: str
    registers: tuple[Register, ...]
    slot_stride: int = 0
    self_slot_error: bool = False
    arbitrated: bool = False

    def register(self, name: str) -> Register:
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(f"block {self.name} has no register {name}")

    def addr(self, name: str, *, slot: int | None = None, index: int | None = None) -> int:
        """Byte address of register ``name`` (of ``slot`` and array ``index``)."""
        reg = self.register(name)
        address = self.base + reg.offset
        if self.slot_stride:
            if slot is None:
                raise TypeError(f"{self.name}.{name} needs slot=")
            address += slot * self.slot_stride
        elif slot is not None:
            raise TypeError(f"{self.name} has no slots")
        if reg.count is not None:
            if index is None:
                raise TypeError(f"{self.name}.{name} is an array and needs index=")
            address += 4 * index
        elif index is not None:
            raise TypeError(f"{self.name}.{name} is not an array")
        return address

    def word(self, name: str) -> int:
        """Word offset of register ``name`` inside the block (first slot, index 0)."""
        return self.register(name).offset // 4

    def __getattr__(self, name: str) -> int:
        # Plain registers read as attributes: SYS.CPUID is a byte address.
        if name.isupper():
            return self.addr(name)
        raise AttributeError(name)


@dataclass(frozen=True)
class LocalRegion:
    """A window that each RV32 core decodes itself (hdl/rv32/): its accesses never reach the core bus,
    so the tile's decoder and the register contract do not see it. The memory fills the window's start;
    the rest of the window is an access fault."""

    name: str
    base: int
    size: int
    doc: str


@dataclass(frozen=True)
class Window:
    """The word-level decode of one block as seen from one CPU.

    A request at word address ``adr`` hits this window when
    ``adr >> size_log2 == base_word >> size_log2``; its offset is
    ``adr & (span - 1)`` and it is legal when the offset's bits above ``span``
    are zero and the offset's bit in ``readable`` (for a read) or ``writable``
    (for a write) is set.
    """

    block: Block
    base_word: int
    size_log2: int
    span_log2: int
    readable: int
    writable: int

    @property
    def span(self) -> int:
        return 1 << self.span_log2

    def legal(self, word_offset: int, write: bool) -> bool:
        if not 0 <= word_offset < self.span:
            return False
        return bool((self.writable if write else self.readable) >> word_offset & 1)
