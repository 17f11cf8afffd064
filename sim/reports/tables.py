"""The one table renderer: Markdown tables for docs and reports, aligned text tables for terminals.

Every generated table of the project (the register and RAM references, the formal and coverage
tables, reports, results, benchmarks) is drawn here, so a table looks the same wherever it appears.
``align`` is one letter per column, ``l`` (left) or ``r`` (right, for numbers), or one letter for
every column; the default is left.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["markdown_table", "text_table"]


def _aligns(align: str, columns: int) -> str:
    if len(align) == 1:
        align *= columns
    if len(align) != columns or set(align) - {"l", "r"}:
        raise ValueError(f"align {align!r}: one of 'l' or 'r' per column ({columns})")
    return align


def _row(cells: Sequence) -> str:
    # An empty cell is "| |", not "|  |".
    return "|" + "|".join(f" {cell} " if str(cell) else " " for cell in cells) + "|"


def markdown_table(header: Sequence, rows: Sequence[Sequence], *, align: str = "l") -> list[str]:
    """A Markdown table as lines: header, alignment rule, one line per row."""
    aligns = _aligns(align, len(header))
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in aligns) + "|"
    return [_row(header), rule, *(_row(row) for row in rows)]


def text_table(
    header: Sequence, rows: Sequence[Sequence], *, align: str = "l", indent: int = 0, rule: bool = False
) -> list[str]:
    """Columns padded to their widest cell, two spaces apart; ``rule`` draws a line of dashes under
    the header."""
    cells = [[str(c) for c in header], *([str(c) for c in row] for row in rows)]
    aligns = _aligns(align, len(header))
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        (
            " " * indent
            + "  ".join(c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(row, widths, aligns, strict=True))
        ).rstrip()
        for row in cells
    ]
    if rule:
        lines.insert(1, "-" * max(map(len, lines)))
    return lines
