"""The memory map as a C header (``lwkt-soc regs --c-header``), for programs on the RV32 cores.

One ``#define`` per block base, register address and field, all from ``hdl/memory_map.py``, as
LiteX exports its register map to ``csr.h``: a C program never types an address. Per-CPU slots and
register arrays become function-like macros of the slot and the index. Names are ``LWKT_`` plus the
block, the register and the field in capitals.
"""

from __future__ import annotations

from hdl import memory_map as mm
from hdl.register_model import Block, Register

__all__ = ["render_c_header", "register_macro"]

_GUARD = "LWKT_SOC_H"


def _hex(value: int) -> str:
    return f"0x{value:08x}u"


def _name(*parts: str) -> str:
    return "_".join(["LWKT", *(p.upper() for p in parts)])


def _comment(text: str) -> str:
    # One line, and nothing that would end the comment.
    return " ".join(text.replace("*/", "* /").split())


def register_macro(block: Block, reg: Register) -> str:
    """The C expression (a macro body) of the register's byte address."""
    parts = [_name(block.name, "BASE")]
    if block.slot_stride:
        parts.append(f"{_hex(block.slot_stride)} * (unsigned)(slot)")
    if reg.offset:
        parts.append(_hex(reg.offset))
    if reg.count is not None:
        parts.append("4u * (unsigned)(k)")
    return "(" + " + ".join(parts) + ")"


def _params(block: Block, reg: Register) -> str:
    params = (["slot"] if block.slot_stride else []) + (["k"] if reg.count is not None else [])
    return f"({', '.join(params)})" if params else ""


def render_c_header() -> str:
    lines = [
        "/* lwkt_soc.h: the lwkt-soc memory map for C programs.",
        " * Generated from hdl/memory_map.py by `lwkt-soc regs --c-header`; do not edit. */",
        f"#ifndef {_GUARD}",
        f"#define {_GUARD}",
        "",
        f"#define {_name('SOC_ID')} {_hex(mm.SOC_ID)}",
        f"#define {_name('OWNER_FREE')} {_hex(mm.OWNER_FREE)}",
        f"#define {_name('CLAIM_NONE')} {_hex(mm.CLAIM_NONE)}",
        f"#define {_name('IPI_INDEX_RESET')} {_hex(mm.IPI_INDEX_RESET)}",
        f"#define {_name('SOURCE_IPI')} {mm.SOURCE_IPI}u",
        f"#define {_name('SOURCE_TIMER')} {mm.SOURCE_TIMER}u",
        f"#define {_name('SOURCE_SOFT')} {mm.SOURCE_SOFT}u",
        f"#define {_name('SOURCE_EXT0')} {mm.SOURCE_EXT0}u",
        "",
        f"/* {_comment(mm.CORE_LOCAL.doc)} */",
        f"#define {_name(mm.CORE_LOCAL.name, 'BASE')} {_hex(mm.CORE_LOCAL.base)}",
        f"#define {_name(mm.CORE_LOCAL.name, 'SIZE')} {_hex(mm.CORE_LOCAL.size)}",
    ]
    for block in mm.BLOCKS:
        scope = "per CPU" if block.scope == "cpu" else "global"
        lines += [
            "",
            f"/* {block.name} ({scope}{', arbitrated' if block.arbitrated else ''}): {_comment(block.doc)} */",
            f"#define {_name(block.name, 'BASE')} {_hex(block.base)}",
        ]
        if block.slot_stride:
            lines.append(f"#define {_name(block.name, 'SLOT_STRIDE')} {_hex(block.slot_stride)}")
        for reg in block.registers:
            macro = _name(block.name, reg.name)
            lines.append(
                f"#define {macro}{_params(block, reg)} {register_macro(block, reg)}"
                f"  /* {reg.access.name}: {_comment(reg.doc)} */"
            )
            for field in reg.fields:
                lines += [
                    f"#define {macro}_{field.name.upper()}_SHIFT {field.lsb}u",
                    f"#define {macro}_{field.name.upper()}_WIDTH {field.width}u",
                    f"#define {macro}_{field.name.upper()}_MASK {_hex(field.mask)}",
                ]
    lines += [
        "",
        "/* A register access: one word on the core bus. */",
        "static inline unsigned lwkt_read(unsigned address) { return *(volatile unsigned *)address; }",
        "static inline void lwkt_write(unsigned address, unsigned value) { *(volatile unsigned *)address = value; }",
        "",
        f"#endif /* {_GUARD} */",
        "",
    ]
    return "\n".join(lines)
