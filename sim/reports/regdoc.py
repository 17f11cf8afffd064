"""Renders docs/registers.md from the memory map (``lwkt-soc regs``)."""

from __future__ import annotations

from hdl import memory_map as mm
from hdl.config import FIXED_SOURCES, MAX_CPUS, MAX_SOURCES
from sim.reports.tables import markdown_table

__all__ = ["render_markdown"]

_ACCESS = {mm.Access.R: "R", mm.Access.W: "W", mm.Access.RW: "RW"}


def _offset(block: mm.Block, reg: mm.Register) -> str:
    text = f"{reg.offset:#06x}"
    if reg.count is not None:
        text += " + 4·k"
    return text


def _bits(f: mm.Field) -> str:
    return f"{f.lsb}" if f.width == 1 else f"{f.lsb + f.width - 1}:{f.lsb}"


def render_markdown() -> str:
    lines = [
        "# Register reference",
        "",
        "<!-- Generated from hdl/memory_map.py by `lwkt-soc regs --out docs/registers.md`;"
        " do not edit by hand (a test checks it is current). -->",
        "",
        "Byte addresses; every register is a 32-bit word. Every CPU sees the same map; "
        '"me" is the requesting CPU, known from the port the request arrives on. '
        "The core port's `adr` is a word address (byte address >> 2), so a misaligned "
        "address cannot reach the hardware: the bus driver reports it as a bus error.",
        "",
        "An access to an unmapped address, a write to a read-only (R) register, a read of a "
        "write-only (W) register, or any access to the requesting CPU's own IPI slot ends "
        "with `err` and changes nothing. Errors are decided from the address and never wait "
        "for arbitration. Uncontended accesses are acknowledged the cycle after the request "
        "is seen; shared blocks (marked *arbitrated*) serve one CPU per cycle, round-robin.",
        "",
        f"Limits: 1 to {MAX_CPUS} CPUs, FIFO depth a power of two (2 to 1024), "
        f"{FIXED_SOURCES} fixed interrupt sources plus up to {MAX_SOURCES - FIXED_SOURCES} external lines.",
        "",
    ]
    lines += markdown_table(
        ["block", "base", "window", "scope", ""],
        [
            [
                f"[{block.name}](#{block.name})",
                f"`{block.base:#010x}`",
                f"{block.size:#x} bytes",
                "per CPU" if block.scope == "cpu" else "global",
                "arbitrated" if block.arbitrated else "",
            ]
            for block in mm.BLOCKS
        ],
    )
    local = mm.CORE_LOCAL
    lines += [
        "",
        f"Not on the core bus: each RV32 core decodes its own `{local.name}` window, `{local.base:#010x}` "
        f"({local.size:#x} bytes), before its port ([rv32.md](rv32.md)). {local.doc} An access in the window "
        "beyond the memory is an access fault; the tile never sees one.",
    ]
    for block in mm.BLOCKS:
        lines += ["", f"## {block.name}", "", f"Base `{block.base:#010x}`. {block.doc}", ""]
        if block.slot_stride:
            lines += [
                f"The registers repeat every {block.slot_stride:#x} bytes, one slot per CPU: "
                f"address = base + {block.slot_stride:#x}·slot + offset. Slots at or beyond "
                "NCPU are unmapped.",
                "",
            ]
        lines += markdown_table(
            ["offset", "register", "access", "description"],
            [
                [
                    f"`{_offset(block, reg)}`",
                    reg.name,
                    _ACCESS[reg.access],
                    reg.doc + (f" k = 0 .. count−1, {reg.count_doc}." if reg.count is not None else ""),
                ]
                for reg in block.registers
            ],
        )
        for reg in block.registers:
            if reg.fields:
                lines += ["", f"**{reg.name}** fields:", ""]
                lines += markdown_table(["bits", "field", "meaning"], [[_bits(f), f.name, f.doc] for f in reg.fields])
                lines.append("")
                lines.append("Other bits read 0." if reg.access.readable else "Other bits are ignored.")
    lines += [
        "",
        "## Interrupt sources",
        "",
    ]
    lines += markdown_table(
        ["id", "source"],
        [
            [mm.SOURCE_IPI, "IPI: level, high while RX_PENDING != 0"],
            [mm.SOURCE_TIMER, "this CPU's timer, pending until TIMER.ACK"],
            [mm.SOURCE_SOFT, "soft: INTC.SOFT_SET / SOFT_CLR"],
            [
                f"{mm.SOURCE_EXT0} + k",
                "external line k (DEVICE STATUS[k].REQUEST, or the raw ext_irq input k), when ROUTE[k] names this CPU",
            ],
        ],
    )
    lines.append("")
    return "\n".join(lines)
