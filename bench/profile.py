"""Where the simulators' time goes, per hardware block.

    python -m bench.profile [--cpus 16] [--cycles N] [--sims verilator,icarus] [--json FILE]

Verilator: the SoC's Verilog in bench/limit.py's minimal C++ harness (clock only, ports idle),
built by it with ``--prof-cfuncs`` and gprof (``-pg``), so that each sampled function is one Verilog
statement; ``verilator_profcfunc`` names its line, the line names its module, and the module
its block (bench/hw_cost_blocks.py's table). Time outside any statement is Verilator's scheduler
(``_eval``, the trigger computation).

Icarus is event-driven: its work follows the value changes it propagates. The seeded
``random`` workload runs co-simulated with a VCD waveform, and the changes of every signal are
counted and added up per block. The figures are shares of the whole, not seconds.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from hdl.config import TOPLEVEL

SCHEDULER = "Verilator scheduler"
_LINE = re.compile(r"\s*([\d.]+)\s+[\d.]+\s+[\d.]+\s+\d*\s+\S+\s+(\S+)\s+(.*)")


def _modules_by_line(verilog: str) -> list[tuple[int, str]]:
    """``(first line, module name)`` of each module of the Verilog text, in order."""
    starts = []
    for number, line in enumerate(verilog.split("\n"), 1):
        match = re.match(r"module (\S+)", line)
        if match:
            starts.append((number, match[1].lstrip("\\")))
    return starts


def _module_at(starts: list[tuple[int, str]], line: int) -> str:
    name = starts[0][1]
    for first, module in starts:
        if first > line:
            break
        name = module
    return name


def verilator_profile(ncpu: int, cycles: int) -> dict[str, float]:
    """Per-block shares (percent) of the C++ harness's time on the idle ``ncpu``-CPU SoC."""
    from bench.hw_cost_blocks import block_of
    from bench.limit import build
    from hdl.config import SocConfig
    from hdl.verilog import soc_verilog

    exe = build(ncpu, profile=True)
    verilog = soc_verilog(SocConfig(ncpu=ncpu))
    obj = exe.parent
    (obj / "gmon.out").unlink(missing_ok=True)
    subprocess.run([str(exe), str(cycles)], cwd=obj, check=True, capture_output=True)
    gprof = subprocess.run(["gprof", str(exe), "gmon.out"], cwd=obj, check=True, capture_output=True, text=True)
    (obj / "gprof.txt").write_text(gprof.stdout)
    report = subprocess.run(
        ["verilator_profcfunc", "gprof.txt"], cwd=obj, check=True, capture_output=True, text=True
    ).stdout
    starts = _modules_by_line(verilog)
    shares: dict[str, float] = collections.Counter()
    for line in report.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        percent, kind, where = float(match[1]), match[2], match[3]
        statement = re.match(rf"{re.escape(TOPLEVEL)}:(\d+)", where)
        if kind == "VBlock" and statement:
            shares[block_of(_module_at(starts, int(statement[1])))] += percent
        elif kind in ("VCommon", "VLib"):
            shares[SCHEDULER] += percent
        else:
            shares["harness (C++)"] += percent
    total = sum(shares.values()) or 1.0
    return {block: round(100 * value / total, 1) for block, value in shares.most_common()}


def icarus_profile(ncpu: int, cycles: int, seed: int = 1) -> dict[str, float]:
    """Per-block shares (percent) of the value changes of the ``random`` workload on Icarus."""
    import pywellen
    from bench.hw_cost_blocks import block_of
    from sim.contract.config import RunConfig
    from sim.host.run import run_scenario

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        request = RunConfig("random", sim="icarus", seed=seed, cpus=ncpu, out=str(out), waves=True, cycles=cycles)
        run_scenario(request, quiet=True)
        wave = pywellen.Waveform(str(next(out.glob("waves.*"))))
        changes: dict[str, int] = collections.Counter()
        for var in wave.all_vars():
            name = var.full_name
            if not name.startswith(f"{TOPLEVEL}."):
                continue
            module = name.rsplit(".", 1)[0]
            changes[block_of(module)] += max(len(list(var.tv)) - 1, 0)  # the first is the start value
    total = sum(changes.values()) or 1
    return {block: round(100 * value / total, 1) for block, value in changes.most_common()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    parser.add_argument("--cpus", type=int, default=16)
    parser.add_argument("--cycles", type=int, default=100_000, help="Verilator harness cycles (default 100000)")
    parser.add_argument(
        "--icarus-cycles", type=int, default=20_000, help="cycles of the random workload on Icarus (default 20000)"
    )
    parser.add_argument("--sims", default="verilator,icarus")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    result = {"cpus": args.cpus}
    for sim in args.sims.split(","):
        profile = (
            verilator_profile(args.cpus, args.cycles)
            if sim == "verilator"
            else icarus_profile(args.cpus, args.icarus_cycles)
        )
        result[sim] = profile
        print(f"{sim}, {args.cpus} CPUs:")
        for block, share in profile.items():
            print(f"  {share:5.1f} %  {block}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
