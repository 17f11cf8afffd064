"""The figures of bench/hw_cost.py's sweep: the growth fitted, the Markdown and text tables, the plot."""

from __future__ import annotations

from pathlib import Path

from bench.hw_cost_blocks import BLOCK_NAMES, BLOCKS, IPI_BLOCKS, PER_CPU_BLOCKS
from sim.reports import tables

__all__ = ["REFERENCE_DEPTH", "fit_growth", "markdown_fit", "markdown_table", "plot", "text_table"]

#: The depth of the CPU-count sweep in the plot and the quadratic fit's headline.
REFERENCE_DEPTH = 32


def _r_squared(y, predicted) -> float:
    import numpy as np

    y, predicted = np.asarray(y, float), np.asarray(predicted, float)
    residual = float(((y - predicted) ** 2).sum())
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 if total == 0 else 1.0 - residual / total


def _fit(x, y, degree: int) -> dict:
    """Least-squares polynomial ``y ~ x``; coefficients lowest power first, and R^2."""
    import numpy as np

    coefficients = np.polynomial.polynomial.polyfit(np.asarray(x, float), np.asarray(y, float), degree)
    predicted = np.polynomial.polynomial.polyval(np.asarray(x, float), coefficients)
    return {"coefficients": [float(c) for c in coefficients], "r2": _r_squared(y, predicted), "points": len(x)}


def _ipi_cells(result) -> int:
    return sum(result["blocks"][b]["cells"] for b in IPI_BLOCKS)


def _per_cpu_cells(result) -> int:
    return sum(result["blocks"][b]["cells"] for b in PER_CPU_BLOCKS)


def fit_growth(results: list[dict]) -> dict:
    """Fit the growth of the cost.

    For each depth with at least three CPU counts: total cells ~ a + b*n + c*n^2,
    the IPI matrix ~ a + b*n + c*n^2 (its ports grow as n, its bit words as n^2), the
    per-CPU blocks ~ a + b*n. For each CPU count with at least two depths: IPI matrix
    cells ~ a + s*depth, with the spread (max - min over the mean) of those cells.
    Keys are strings so that the result round-trips through JSON.
    """
    by_depth: dict[int, list] = {}
    by_cpus: dict[int, list] = {}
    for r in results:
        by_depth.setdefault(r["config"]["fifo_depth"], []).append(r)
        by_cpus.setdefault(r["config"]["ncpu"], []).append(r)
    fits = {"total_vs_n": {}, "ipi_vs_n": {}, "per_cpu_vs_n": {}, "ipi_vs_depth": {}}
    for depth, rows in sorted(by_depth.items()):
        if len({r["config"]["ncpu"] for r in rows}) < 3:
            continue
        n = [r["config"]["ncpu"] for r in rows]
        fits["total_vs_n"][str(depth)] = _fit(n, [r["cells"] for r in rows], 2)
        fits["ipi_vs_n"][str(depth)] = _fit(n, [_ipi_cells(r) for r in rows], 2)
        fits["per_cpu_vs_n"][str(depth)] = _fit(n, [_per_cpu_cells(r) for r in rows], 1)
    for ncpu, rows in sorted(by_cpus.items()):
        if len({r["config"]["fifo_depth"] for r in rows}) < 2:
            continue
        cells = [_ipi_cells(r) for r in rows]
        fit = _fit([r["config"]["fifo_depth"] for r in rows], cells, 1)
        # With a near-flat line R² says nothing; the spread says how flat it is.
        fit["spread"] = (max(cells) - min(cells)) / (sum(cells) / len(cells)) if any(cells) else 0.0
        fit["cells_per_cpu"] = {str(r["config"]["fifo_depth"]): _ipi_cells(r) / ncpu for r in rows}
        fits["ipi_vs_depth"][str(ncpu)] = fit
    return fits


_COLUMNS = BLOCK_NAMES + ("cells", "flip_flops", "memory_bits", "yosys_seconds")
_HEADINGS = {
    "ipi": "IPI matrix",
    "cells": "total cells",
    "flip_flops": "flip-flops",
    "memory_bits": "memory bits",
    "yosys_seconds": "synth s",
}


def _row_values(result) -> list[str]:
    values = [str(result["blocks"][b]["cells"]) for b in BLOCK_NAMES]
    values += [
        str(result["cells"]),
        str(result["flip_flops"]),
        str(result["memory_bits"]),
        f"{result['yosys_seconds']:.1f}",
    ]
    return values


def _table(results: list[dict]) -> tuple[list[str], list[list[str]]]:
    headings = ["CPUs", "depth"] + [_HEADINGS.get(c, c) for c in _COLUMNS]
    rows = [[str(r["config"]["ncpu"]), str(r["config"]["fifo_depth"])] + _row_values(r) for r in results]
    return headings, rows


def markdown_table(results: list[dict]) -> str:
    """Cells per block, totals, flip-flops, memory bits and Yosys seconds, one row per configuration."""
    return "\n".join(tables.markdown_table(*_table(results), align="r")) + "\n"


def _terms(coefficients, names, digits=(0, 0, 1)) -> str:
    """``a + b·n − c·n²`` with the signs folded in."""
    text = ""
    for value, name, places in zip(coefficients, names, digits, strict=True):
        number = f"{abs(value):.{places}f}" + (f"·{name}" if name else "")
        text += (("−" if value < 0 else "") + number) if not text else (" − " if value < 0 else " + ") + number
    return text


def markdown_fit(fits: dict) -> str:
    """The fitted growth as a Markdown list."""
    lines = []
    for depth, f in fits["total_vs_n"].items():
        lines.append(
            f"- depth {depth}: total cells = {_terms(f['coefficients'], ('', 'n', 'n²'))} (R² = {f['r2']:.5f})"
        )
    for depth, f in fits["ipi_vs_n"].items():
        lines.append(
            f"- depth {depth}: IPI matrix cells = {_terms(f['coefficients'], ('', 'n', 'n²'), (0, 0, 1))} "
            f"(R² = {f['r2']:.5f})"
        )
    for depth, f in fits["per_cpu_vs_n"].items():
        lines.append(
            f"- depth {depth}: per-CPU blocks = {_terms(f['coefficients'], ('', 'n'), (0, 1))} (R² = {f['r2']:.5f})"
        )
    for ncpu, f in fits["ipi_vs_depth"].items():
        per_cpu = ", ".join(f"{c:.0f} at depth {d}" for d, c in f["cells_per_cpu"].items())
        lines.append(
            f"- {ncpu} CPUs: IPI matrix cells = {_terms(f['coefficients'], ('', 'depth'), (0, 2))} "
            f"(spread {f['spread']:.2%} of the mean); IPI cells per CPU: {per_cpu}"
        )
    return "\n".join(lines) + "\n"


def text_table(results: list[dict]) -> str:
    """markdown_table's rows as aligned plain text, for the terminal."""
    return "\n".join(tables.text_table(*_table(results), align="r"))


def plot(results: list[dict], fits: dict, path: Path, depth: int = REFERENCE_DEPTH) -> None:
    """Three panels: cells per block vs CPU count (log-log) with the fitted
    quadratic; the IPI matrix against the CPU count with its fit, per depth;
    memory bits vs CPU count per depth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import NullFormatter

    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(17, 6))
    rows = [r for r in results if r["config"]["fifo_depth"] == depth]
    n = np.array([r["config"]["ncpu"] for r in rows])
    colours = plt.get_cmap("tab20").colors
    scopes = {b.name: b.scope for b in BLOCKS}
    for index, block in enumerate(BLOCK_NAMES):
        cells = np.array([r["blocks"][block]["cells"] for r in rows])
        if cells.any():
            style = "-" if scopes.get(block) == "per CPU" else "--" if scopes.get(block) == "shared" else "-."
            left.plot(
                n,
                np.maximum(cells, 0.5),
                style,
                marker="o",
                color=colours[index],
                linewidth=1.2,
                label=f"{block} ({scopes.get(block, 'unmapped')})",
            )
    left.plot(n, [r["cells"] for r in rows], "ks", label="total")
    fit = fits["total_vs_n"].get(str(depth))
    if fit:
        smooth = np.linspace(n.min(), n.max(), 100)
        left.plot(
            smooth,
            np.polynomial.polynomial.polyval(smooth, fit["coefficients"]),
            "k:",
            label=f"fit {_terms(fit['coefficients'], ('', 'n', 'n²'), (0, 0, 0))}",
        )
    left.set(
        xscale="log",
        yscale="log",
        xlabel="CPUs",
        ylabel="cells (gates + flip-flops)",
        title=f"Cells per block, FIFO depth {depth}",
    )
    left.set_xticks(n, [str(k) for k in n])
    left.xaxis.set_minor_formatter(NullFormatter())
    left.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    left.grid(True, which="both", alpha=0.3)

    depths = sorted({r["config"]["fifo_depth"] for r in results})
    for d in depths:
        points = [r for r in results if r["config"]["fifo_depth"] == d]
        cpus = np.array([r["config"]["ncpu"] for r in points])
        (line,) = middle.plot(cpus, [_ipi_cells(r) for r in points], "o", label=f"depth {d}")
        f = fits["ipi_vs_n"].get(str(d))
        if f:
            smooth = np.linspace(cpus.min(), cpus.max(), 100)
            middle.plot(
                smooth,
                np.polynomial.polynomial.polyval(smooth, f["coefficients"]),
                "--",
                color=line.get_color(),
                linewidth=1,
                label=f"fit {_terms(f['coefficients'], ('', 'n', 'n²'), (0, 0, 1))}",
            )
        right.plot([r["config"]["ncpu"] for r in points], [r["memory_bits"] for r in points], "o-", label=f"depth {d}")
    middle.set(xlabel="CPUs", ylabel="IPI matrix cells", title="IPI matrix against the CPU count")
    middle.legend(fontsize=8)
    middle.grid(True, alpha=0.3)
    right.set(
        xscale="log",
        yscale="log",
        xlabel="CPUs",
        ylabel="memory bits (RAM + FIFO storage)",
        title="Memory bits: RAM + IPI memories (rows·(96 + depth·64))",
    )
    right.set_xticks(n, [str(k) for k in n])
    right.xaxis.set_minor_formatter(NullFormatter())
    right.legend(fontsize=8)
    right.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
