"""Which block of the SoC each Yosys module and cell of bench/hw_cost.py's synthesis is charged to.

Amaranth names each module after its place in the hierarchy (``lwkt_soc.cpu3.intc``, the top
module's name being hdl/config.py's TOPLEVEL); :data:`BLOCKS` maps those names to the rows of
the cost table, and :func:`rollup` adds up the cells of a synthesis per row.
"""

from __future__ import annotations

import dataclasses
import re

from hdl.config import TOPLEVEL

__all__ = ["BLOCKS", "BLOCK_NAMES", "IPI_BLOCKS", "OTHER", "PER_CPU_BLOCKS", "Block", "block_of", "rollup"]

_TOP = re.escape(TOPLEVEL)


@dataclasses.dataclass(frozen=True)
class Block:
    """A row of the cost table: the Yosys modules (by full name) that belong to it."""

    name: str
    scope: str  # "per CPU", "per CPU pair" or "shared"
    pattern: str
    what: str


#: Each block's modules by full name (``lwkt_soc.cpu3.intc``).
BLOCKS = (
    Block("decoder", "per CPU", _TOP + r"\.cpu\d+", "port decoder, bus error logic, RX_PENDING"),
    Block("sysinfo", "per CPU", _TOP + r"\.cpu\d+\.sys", "SYS registers, CYCLE_HI latch"),
    Block("intc", "per CPU", _TOP + r"\.cpu\d+\.intc", "interrupt controller"),
    Block("timer", "per CPU", _TOP + r"\.cpu\d+\.timer", "timer"),
    Block("debug", "per CPU", _TOP + r"\.cpu\d+\.debug", "debug registers"),
    Block(
        "ipi",
        "shared",
        _TOP + r"\.ipi",
        "IPI matrix: two ports per CPU, the flag, pending and valid words; FIFO state in memories",
    ),
    Block("mplock", "shared", _TOP + r"\.mplock", "MP lock"),
    Block("route", "shared", _TOP + r"\.route", "external IRQ routing"),
    Block("device", "shared", _TOP + r"\.device", "external device registers (DEVICE)"),
    Block("ram", "shared", _TOP + r"\.ram", "shared RAM (logic only; storage in memory bits)"),
    Block("arbiter", "shared", _TOP + r"\.(?:mplock|route|device|ram)_arbiter", "the four round-robin arbiters"),
    Block("top", "shared", _TOP, "top glue: the 64-bit cycle counter"),
)
OTHER = "other"
BLOCK_NAMES = tuple(b.name for b in BLOCKS) + (OTHER,)
IPI_BLOCKS = ("ipi",)
PER_CPU_BLOCKS = tuple(b.name for b in BLOCKS if b.scope == "per CPU")

_GATE = re.compile(r"\$_(?:AND|NAND|OR|NOR|XOR|XNOR|ANDNOT|ORNOT|MUX|NMUX|NOT|BUF|AOI3|OAI3|AOI4|OAI4)_")
_FLIP_FLOP = re.compile(r"\$_(?:S?DFF|DFFE|SDFFC?E|ALDFFE?|DFFSRE?|DLATCH|SR)\w*_")
_MEMORY_CELL = re.compile(r"\$(?:mem|memrd|memwr|meminit)(?:_v2)?")


def block_of(module: str) -> str:
    """The block a Yosys module belongs to, or ``"other"``; ``module`` may start with ``\\``."""
    name = module.removeprefix("\\")
    for block in BLOCKS:
        if re.fullmatch(block.pattern, name):
            return block.name
    return OTHER


def _instance_counts(modules: dict, top: str) -> dict[str, int]:
    """How many times each module occurs under ``top``: a module used k times by a
    parent that itself occurs p times occurs k*p times through it."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name):  # depth-first post-order: children before parents
        if name in seen:
            return
        seen.add(name)
        for child in modules[name]["cells_by_type"]:
            if child in modules:
                visit(child)
        order.append(name)

    visit(top)
    counts = dict.fromkeys(modules, 0)
    counts[top] = 1
    for name in reversed(order):  # parents before children
        for child, k in modules[name]["cells_by_type"].items():
            if child in modules:
                counts[child] += counts[name] * k
    return counts


def rollup(modules: dict, top: str) -> dict:
    """Cells, flip-flops, memory bits and instances per block.

    ``modules`` maps a module name to its ``cells_by_type`` (``stat -json``'s
    ``num_cells_by_type``, submodule instances included) and ``memory_bits``.
    A cell is a gate (two-input gate, inverter or 2:1 mux) or a one-bit
    flip-flop; memory cells and submodule instances are not cells. Modules no
    block claims go to ``other`` with their names listed, as do cell types that
    are neither gates, flip-flops nor memories (listed in ``unknown_cell_types``).
    """
    counts = _instance_counts(modules, top)
    blocks = {name: {"cells": 0, "flip_flops": 0, "memory_bits": 0, "instances": 0} for name in BLOCK_NAMES}
    other_modules, unknown_types, unreached = [], {}, []
    for name, module in modules.items():
        times = counts[name]
        if times == 0:
            unreached.append(name)
            continue
        block = block_of(name)
        if block == OTHER:
            other_modules.append(name)
        row = blocks[block]
        row["instances"] += times
        row["memory_bits"] += module["memory_bits"] * times
        for cell_type, k in module["cells_by_type"].items():
            if cell_type in modules or _MEMORY_CELL.fullmatch(cell_type):
                continue
            row["cells"] += k * times
            if _FLIP_FLOP.fullmatch(cell_type):
                row["flip_flops"] += k * times
            elif not _GATE.fullmatch(cell_type):
                unknown_types[cell_type] = unknown_types.get(cell_type, 0) + k * times
    return {
        "blocks": blocks,
        "cells": sum(b["cells"] for b in blocks.values()),
        "flip_flops": sum(b["flip_flops"] for b in blocks.values()),
        "memory_bits": sum(b["memory_bits"] for b in blocks.values()),
        "other_modules": sorted(other_modules),
        "unknown_cell_types": unknown_types,
        "unreached_modules": sorted(unreached),
    }
