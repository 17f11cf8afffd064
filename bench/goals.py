"""The goals of the simulation-speed work (docs/benchmarks.md), each as a figure of one ``make bench`` run.

``measure_32(sims)`` rebuilds the 32-CPU SoC from scratch on each simulator (timed, in its usual
build folder) and runs the seeded ``random`` workload on that build; ``evaluate(results)`` turns
``bench/run.py``'s results into one row per goal: the figure, the target, met or not. The baselines
of the ratios against "today" are the figures measured before the IPI matrix was restructured (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from sim.contract.config import SIMULATORS

__all__ = ["BASELINE_CELLS_16", "measure_32", "verilog_megabytes", "evaluate", "markdown"]

#: Yosys cells of the 16-CPU SoC (FIFO depth 32) before the restructuring (one FIFO block per pair).
BASELINE_CELLS_16 = 335_545


def verilog_megabytes(ncpu: int) -> float:
    """Size of the generated Verilog of the ``ncpu``-CPU SoC (default configuration), in MB."""
    from hdl.config import SocConfig
    from hdl.verilog import soc_verilog

    return round(len(soc_verilog(SocConfig(ncpu=ncpu)).encode()) / 1e6, 3)


def measure_32(sims) -> dict:
    """Per simulator: a fresh build of the 32-CPU SoC (seconds) and the random workload on it."""
    from hdl.config import SocConfig
    from sim.contract.config import RunConfig
    from sim.host.build import build_soc
    from sim.host.run import run_scenario

    result = {}
    for sim in sims:
        # Rebuilt in place (timed from scratch), so that the run below uses this very build.
        start = time.monotonic()
        build_soc(sim, SocConfig(ncpu=32), force=True)
        build_seconds = round(time.monotonic() - start, 1)
        with tempfile.TemporaryDirectory() as tmp:
            code = run_scenario(RunConfig("random", sim=sim, seed=1, cpus=32, out=tmp), quiet=True)
            counters = json.loads((Path(tmp) / "counters.json").read_text())
        result[sim] = {
            "build_seconds": build_seconds,
            "random_ok": code == 0,
            "random_cycles": counters["cycles"],
            "random_wall_seconds": counters["wall_seconds"],
            "outcome": counters["outcome"],
        }
        print(
            f"  32 CPUs on {sim}: build {build_seconds} s, random workload "
            f"{'ok' if code == 0 else 'FAILED'} ({counters['cycles']} cycles, {counters['wall_seconds']} s)",
            flush=True,
        )
    return result


def _idle(results: dict, sim: str) -> dict[int, int]:
    rows = results.get("per_simulator", {}).get(sim, {}).get("idle", [])
    return {row["cpus"]: row["cycles_per_second"] for row in rows}


def evaluate(results: dict) -> list[dict]:
    """One row per goal: ``{"goal", "figure", "target", "met"}`` (``met`` None: not measured)."""
    rows = []

    def goal(text, figure, target, met):
        rows.append({"goal": text, "figure": figure, "target": target, "met": met})

    fraction = results.get("limit_fraction", {}).get("verilator", {})
    for n in ("4", "16"):
        value = fraction.get(n)
        goal(
            f"idle co-simulation / C++ harness, {n} CPUs (Verilator)",
            value,
            ">= 0.5",
            None if value is None else value >= 0.5,
        )
    for sim in SIMULATORS:
        idle = _idle(results, sim)
        ratio = round(idle[1] / idle[16], 2) if idle.get(1) and idle.get(16) else None
        goal(f"idle SoC: 1-CPU speed / 16-CPU speed ({sim})", ratio, "<= 7", None if ratio is None else ratio <= 7)
    cost = results.get("hardware_cost") or {}
    cells = next(
        (r["cells"] for r in cost.get("results", []) if r["config"]["ncpu"] == 16 and r["config"]["fifo_depth"] == 32),
        None,
    )
    share = round(cells / BASELINE_CELLS_16, 3) if cells else None
    goal("Yosys cells at 16 CPUs / before (335,545)", share, "<= 0.333", None if share is None else share <= 1 / 3)
    size = results.get("verilog_mb", {}).get("16")
    goal("16-CPU Verilog (MB)", size, "< 1.5", None if size is None else size < 1.5)
    for sim, ratio in results.get("event_cost_ratio_16_2", {}).items():
        goal(f"event_cost_ratio_16_2 ({sim})", ratio, "<= 1.3", None if ratio is None else ratio <= 1.3)
    for sim, row in results.get("cpus_32", {}).items():
        if sim == "verilator":
            goal("32 CPUs: Verilator build (s)", row["build_seconds"], "< 180", row["build_seconds"] < 180)
        goal(f"32 CPUs: random workload runs ({sim})", row["outcome"], "done", row["random_ok"])
    for sim, value in results.get("driver_bound_fraction", {}).items():
        goal(f"driver / simulator-alone bound ({sim})", value, ">= 0.9", value >= 0.9)
    return rows


def markdown(rows: list[dict]) -> str:
    from sim.reports.tables import markdown_table

    lines = markdown_table(
        ["goal", "figure", "target", "met"],
        [
            [r["goal"], str(r["figure"]), r["target"], {True: "yes", False: "**no**", None: "not measured"}[r["met"]]]
            for r in rows
        ],
    )
    return "\n".join(lines) + "\n"
