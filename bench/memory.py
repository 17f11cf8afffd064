"""``make bench-memory``: memory of a long run, host process and simulator, sampled as the run goes.

    python -m bench.memory [--cycles 30000000] [--cpus 4] [--sim verilator] [--seed 1] [--out DIR]

The run is ``lwkt-soc run --scenario random`` with a long spec: the workload that ``--seed`` draws
for ``--cpus`` CPUs (sim/contract/random_spec.py), every thread's program repeated up to the
spec's limit of operations (children left out: thread records are a fixed pool) and every device's
gaps repeated and stretched over the budget, ``--cycles``. At seed 1 on 4 CPUs the workload is
longer than 30 M cycles: the run ends at the budget (outcome ``timeout``), busy to the last cycle.

Every second: the simulated cycle (the run's progress file) and the resident memory (VmRSS) of the
``lwkt-soc run`` process and of the simulator under it. The figures are ratios within the one run:
``growth`` is each process's memory at the end over its memory once a fifth of the run had passed
(1.0: flat; the goal is at most 1.10, docs/benchmarks.md). Writes ``bench/memory.json`` and prints
a table of the samples at each tenth of the run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sim.contract.random_spec import generate_spec
from sim.contract.spec_check import MAX_GAP, MAX_OPS
from sim.host.interrupt import child_processes
from sim.reports.tables import markdown_table

ROOT = Path(__file__).resolve().parent
#: The goal: memory at the end at most this much over memory at a fifth of the run.
GROWTH_GOAL = 1.10


def long_spec(seed: int, cpus: int, cycles: int) -> dict:
    """The seed's workload with each program repeated up to MAX_OPS (no children), and each device's gaps
    repeated and stretched so that its requests span ``cycles``. Repeating whole programs keeps the
    spec's balance of tickets on every wait queue (it terminates)."""
    spec = generate_spec(seed, cpus, frozenset())
    for thread in spec.threads:
        ops = [op for op in thread.ops if op[0] not in ("spawn", "reap")] or [["work", 20]]
        thread.ops = ops * (MAX_OPS // len(ops))
    for device in spec.devices:
        gaps = device.gaps * (MAX_OPS // len(device.gaps))
        stretch = max(1, -(-cycles // sum(gaps)))
        device.gaps = [min(MAX_GAP, gap * stretch) for gap in gaps]
    return json.loads(spec.to_json())


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _simulator(pid: int) -> int | None:
    """The simulator process under the run (Verilator's model or Icarus's vvp)."""
    for child in child_processes(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        if command.endswith("/lwkt_soc") or command.endswith("vvp"):
            return child
    return None


def measure(cycles: int, cpus: int, sim: str, seed: int, out: Path) -> dict:
    """One long run, sampled every second: [(wall s, cycle, host KiB, simulator KiB)], and its report."""
    out.mkdir(parents=True, exist_ok=True)
    spec_path = out / "long-spec.json"
    spec_path.write_text(json.dumps(long_spec(seed, cpus, cycles), indent=1))
    run_dir = out / "run"
    command = [sys.executable, "-m", "sim.cli", "run", "--scenario", "random", "--spec", str(spec_path)]
    command += ["--seed", str(seed), "--cpus", str(cpus), "--sim", sim, "--cycles", str(cycles)]
    command += ["--out", str(run_dir)]
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples = []
    while proc.poll() is None:
        time.sleep(1.0)
        try:
            cycle = int((run_dir / "progress").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        simulator = _simulator(proc.pid)
        host, model = _rss_kib(proc.pid), _rss_kib(simulator) if simulator else None
        if host and model:
            samples.append((round(time.monotonic() - start, 1), cycle, host, model))
    err = proc.stderr.read() if proc.stderr else ""
    if not (run_dir / "report.json").exists():
        raise SystemExit(f"bench.memory: the run wrote no report (exit {proc.returncode}): {err.strip()[-500:]}")
    report = json.loads((run_dir / "report.json").read_text())
    trace_bytes = (run_dir / "trace.jsonl").stat().st_size
    return {"samples": samples, "report": report, "trace_bytes": trace_bytes, "exit": proc.returncode}


def _at(samples: list[tuple], fraction: float) -> tuple:
    """The first sample at or past ``fraction`` of the last sample's cycle."""
    last = samples[-1][1]
    return next(s for s in samples if s[1] >= fraction * last)


def summarise(run: dict) -> dict:
    samples = run["samples"]
    if len(samples) < 10:
        raise SystemExit(f"bench.memory: only {len(samples)} samples: the run was too short to measure")
    early, end = _at(samples, 0.2), samples[-1]
    report = run["report"]
    return {
        "cycles": report["cycles"],
        "outcome": report["outcome"],
        "ok": report["ok"],
        "wall_seconds": samples[-1][0],
        "trace_megabytes": round(run["trace_bytes"] / 1e6, 1),
        "host_kib": {"at_fifth": early[2], "end": end[2], "max": max(s[2] for s in samples)},
        "simulator_kib": {"at_fifth": early[3], "end": end[3], "max": max(s[3] for s in samples)},
        "host_growth": round(end[2] / early[2], 3),
        "simulator_growth": round(end[3] / early[3], 3),
        "tenths": [_at(samples, t / 10) for t in range(1, 11)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=30_000_000, help="the run's cycle budget (default 30 M)")
    parser.add_argument("--cpus", type=int, default=4)
    parser.add_argument("--sim", default="verilator", choices=["verilator", "icarus"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="where the run goes (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=ROOT / "memory.json", help="where the figures go")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        run = measure(args.cycles, args.cpus, args.sim, args.seed, args.out or Path(tmp))
    figures = {"cpus": args.cpus, "sim": args.sim, "seed": args.seed, "budget": args.cycles, **summarise(run)}
    args.json.write_text(json.dumps(figures, indent=1) + "\n")
    rows = [
        [f"{cycle:,}", f"{wall:g}", f"{host / 1024:.1f}", f"{model / 1024:.1f}"]
        for wall, cycle, host, model in figures["tenths"]
    ]
    print(f"random workload, long spec (seed {args.seed}), {args.cpus} CPUs, {args.sim}: {figures['outcome']} after")
    print(f"{figures['cycles']:,} cycles in {figures['wall_seconds']:g} s; trace {figures['trace_megabytes']} MB")
    print("\n".join(markdown_table(["cycle", "wall s", "host MiB", "simulator MiB"], rows)))
    met = max(figures["host_growth"], figures["simulator_growth"]) <= GROWTH_GOAL
    print(
        f"growth from a fifth of the run to its end: host {figures['host_growth']}, simulator "
        f"{figures['simulator_growth']} (goal at most {GROWTH_GOAL}: {'met' if met else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
