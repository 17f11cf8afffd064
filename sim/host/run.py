"""``lwkt-soc run``: build the SoC for a scenario, run it, and write what a person reads.

The output folder gets: ``trace.jsonl`` (the event trace), ``counters.json`` (raw
counters from the simulator), ``report.json`` / ``report.txt`` / ``report.md``,
``timeline.png``, ``sim.log``, and with ``--waves`` the waveform with a GTKWave
save file and a thread-name translate file. A run that panics or fails a check
still writes all of them, up to the point where it stopped.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from firmware.cost_model import load_cost_model
from sim.contract.config import RunConfig
from sim.contract.errors import (
    EXIT_ENVIRONMENT,
    EXIT_FAILED,
    EXIT_OK,
    EnvironmentProblem,
    SimulatorCrashed,
    os_error_text,
)
from sim.contract.outdir import SNAPSHOT_FILE, RunFolder, atomic_write
from sim.contract.trace import salvage_spool, spool_path
from sim.contract.resolve import RunError, resolve_run
from sim.host.build import build_soc
from sim.host.interrupt import Interruption
from sim.host.runner import SimulatorEnded, collect_waveform, run_cocotb, wave_plusargs
from sim.host.toolchain import tool_versions
from sim.reports.progress import ProgressDisplay
from sim.reports.report import build_report, render_text, write_report

__all__ = ["run_scenario", "RunError", "PROGRESS_FILE"]

#: Written by the simulator side while it runs: "<cycle> <cycle budget>".
PROGRESS_FILE = "progress"


def run_scenario(request: RunConfig, *, quiet: bool = False, progress: bool | None = None) -> int:
    """Run the scenario ``request`` asks for into its ``out`` folder; returns the exit code (0 every check
    held, 1 otherwise).

    ``request`` is checked and its defaults filled in by ``sim/contract/resolve.py`` (the scenario's build,
    CPUs and cycle budget; faults, cost model, spec) before anything is built. ``quiet`` prints nothing;
    ``progress`` shows a progress bar on a terminal and plain lines elsewhere (default: unless ``quiet``).

    Raises UsageError (exit 2) or EnvironmentProblem (exit 3) when the run cannot start.
    """
    config = resolve_run(request)
    costs = load_cost_model(config.cost_model)
    if progress is None:
        progress = not quiet

    def say(text=""):
        if not quiet:
            print(text, flush=True)

    name, sim = config.scenario, config.sim
    with RunFolder(Path(config.out), f"{name} seed {config.seed} on {sim}") as folder, Interruption() as interruption:
        try:
            build = build_soc(sim, config.soc_config(), waves=config.waves, announce=say, coverage=config.rtl_coverage)
        except EnvironmentProblem:
            if interruption.signal is not None:  # the build was stopped by the signal
                say(f"interrupted ({interruption.name}) while building")
                return interruption.exit_code
            raise
        # Everything this run needs is in place: only now do the previous run's files go.
        folder.clear()
        config = replace(config, out=str(folder.path), versions=tool_versions(sim))
        if interruption.signal is not None:
            return interruption.exit_code
        return _run(folder.path, build, config, interruption, progress=progress, say=say, costs=costs, quiet=quiet)


def _run(out: Path, build, config: RunConfig, interruption: Interruption, *, progress, say, costs, quiet) -> int:
    name, budget, waves, sim = config.scenario, config.cycles, config.waves, config.sim
    ncpu, fifo_depth = config.cpus, config.fifo_depth
    spec = f", spec {config.spec}" if config.spec else ""
    say(
        f"running {name} ({config.mode} build, seed {config.seed}{spec}, cost model {costs.name}, "
        f"up to {budget} cycles) ..."
    )
    result = crash = None
    started = time.perf_counter()
    for attempt in (1, 2):
        try:
            result = _with_progress(
                lambda build=build: run_cocotb(
                    build,
                    "sim.tb.run_program",
                    test_dir=out,
                    waves=waves,
                    config=config,
                    plusargs=wave_plusargs(build, out),
                ),
                out / PROGRESS_FILE,
                budget,
                enabled=progress,
            )
            break
        except SimulatorEnded as exc:  # the simulator ended without results
            if interruption.signal is not None:
                break
            if (out / PROGRESS_FILE).exists():
                # The run had started (the simulator side writes progress from its first cycle): a crash,
                # not a broken build. Neither rebuilt nor run again: a deterministic crash would only repeat.
                crash = _crash(out, exc.status)
                if not _salvage(out, crash, time.perf_counter() - started):
                    raise SimulatorCrashed(_crash_line(out, crash)) from None
                break
            if attempt == 2 or (out / "counters.json").exists():
                raise EnvironmentProblem(f"{exc}; the build log is {build.directory / 'build.log'}") from None
            # A cached model that does not even start (a damaged build): build it again, once.
            say(f"the simulator did not start (see {out / 'sim.log'})")
            build = build_soc(sim, build.config, waves=waves, announce=say, force=True, coverage=build.coverage)
    (out / PROGRESS_FILE).unlink(missing_ok=True)
    if build.coverage and (out / "coverage.dat").exists():
        # Verilator's main writes coverage.dat into the test folder when the simulation ends.
        (out / "coverage.dat").replace(out / "rtl_coverage.dat")

    files = {"config": "run.json", "trace": "trace.jsonl", "counters": "counters.json", "log": "sim.log"}
    if not (out / "counters.json").exists():
        if interruption.signal is not None:
            say(f"\ninterrupted ({interruption.name}) before the simulator wrote anything; see {out / 'sim.log'}")
            return interruption.exit_code
        written = _write_error(out / "sim.log")
        if written:
            for leftover in (spool_path(out / "trace.jsonl"), out / SNAPSHOT_FILE):
                leftover.unlink(missing_ok=True)
            raise EnvironmentProblem(f"the simulator could not write {written}; see {out / 'sim.log'}")
        raise EnvironmentProblem(
            f"the simulator ended without writing the run's counters; see {out / 'sim.log'} "
            f"(and the build log {build.directory / 'build.log'})"
        )
    if (out / "rtl_coverage.dat").exists():
        files["rtl_coverage"] = "rtl_coverage.dat"
    wave = collect_waveform(build, out) if waves else None
    if wave is not None:
        from sim.reports.gtkwave import write_gtkwave_files

        files["waveform"] = wave.name
        for kind, path in write_gtkwave_files(out).items():
            files[kind] = path.name
    from sim.reports.timeline import render_timeline

    files["timeline"] = render_timeline(out).name
    files.update({"report": "report.txt", "report_markdown": "report.md", "report_json": "report.json"})
    report = build_report(out, sim=sim, cpus=ncpu, fifo_depth=fifo_depth, files=files)
    write_report(out, report)
    say("")
    say(render_text(report).replace("\nfiles:\n", f"\nfiles (in {out}):\n").rstrip())
    sys.stdout.flush()
    if interruption.signal is not None:
        return interruption.exit_code
    if crash is not None:
        if not quiet:
            print(f"lwkt-soc: {_crash_line(out, crash)}", file=sys.stderr, flush=True)
        return EXIT_ENVIRONMENT
    return EXIT_OK if report["ok"] and result is not None and result.ok else EXIT_FAILED


_OS_ERROR = re.compile(r"OSError: \[Errno (\d+)\] (.*?): '(.+)'$")


def _write_error(log: Path) -> str | None:
    """``FILE: File too large (EFBIG)`` when the simulator side stopped on an OSError writing an output
    (a full disk, a file-size limit): its outputs are written atomically, so nothing half-written is left."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        found = _OS_ERROR.search(line.strip())
        if found:
            number, text, path = int(found.group(1)), found.group(2), found.group(3)
            return f"{path}: {os_error_text(OSError(number, text))}"
    return None


def _crash(out: Path, status: int | None) -> dict:
    """How the simulator ended, the last cycle it reported and its last log lines."""
    if status is not None and status < 0:
        how = f"killed by {signal.Signals(-status).name}"
    else:
        how = f"exit status {status}" if status else "ended without its results"
    try:
        lines = [line.rstrip() for line in (out / "sim.log").read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    return {
        "how": how,
        "status": status,
        "last_cycle": _read_progress(out / PROGRESS_FILE) or 0,
        "last_lines": [line[:300] for line in lines[-CRASH_LOG_LINES:]],
    }


def _crash_line(out: Path, crash: dict) -> str:
    """The one line a crash prints."""
    last = f"; its last line: {crash['last_lines'][-1].strip()[:200]!r}" if crash["last_lines"] else ""
    return (
        f"the simulator crashed during the run ({crash['how']}) after cycle {crash['last_cycle']:,}{last}; "
        f"see {out / 'sim.log'}. Not retried, and the build is kept"
    )


#: The simulator's last log lines a crashed run's report quotes.
CRASH_LOG_LINES = 8


def _salvage(out: Path, crash: dict, wall: float) -> bool:
    """What a crashed simulator left, under the run's final names: its trace up to the last spool flush
    (sim/contract/trace.py) and counters.json from its last snapshot, outcome ``crashed``. False when it
    left no snapshot (nothing to report)."""
    try:
        counters = json.loads((out / SNAPSHOT_FILE).read_text())
    except (OSError, ValueError):
        return False
    kept = salvage_spool(out / "trace.jsonl")
    if kept is None:
        atomic_write(out / "trace.jsonl", "")
    else:  # the trace may reach further than the last progress tick: the last cycle known is the later
        crash["last_cycle"] = max(crash["last_cycle"], _last_trace_cycle(out / "trace.jsonl"))
    counters.update(
        outcome="crashed",
        panic=None,
        wall_seconds=round(wall, 6),
        crash=dict(crash),
        checks=[
            {
                "name": "the simulator ran to the end",
                "ok": False,
                "detail": f"{crash['how']} after cycle {crash['last_cycle']}; the trace and counters are "
                f"those of cycle {counters.get('cycles', 0)} or a little later",
                "evaluated": True,
            }
        ],
    )
    atomic_write(out / "counters.json", json.dumps(counters, indent=2) + "\n")
    (out / SNAPSHOT_FILE).unlink(missing_ok=True)
    return True


def _last_trace_cycle(path: Path) -> int:
    """The cycle of a trace file's last record (read from its end), 0 when it has none."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 64 * 1024))
        lines = f.read().splitlines()
    try:
        return int(json.loads(lines[-1])["cycle"]) if lines else 0
    except (ValueError, KeyError):
        return 0


def _with_progress(job, progress_file: Path, budget: int, *, enabled: bool):
    """Run ``job`` while showing how far the simulation is (sim/reports/progress.py)."""
    if not enabled:
        return job()
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("value", _capture(job)), daemon=True)
    worker.start()
    display = ProgressDisplay(budget or 1, min_gap=2.0)
    while worker.is_alive():
        worker.join(0.2)
        cycle = _read_progress(progress_file)
        if cycle is None:
            continue
        fraction = min(1.0, cycle / budget) if budget else 0.0
        display.show(min(cycle, budget), f"{cycle:>10,} cycles", f"{cycle} cycles ({fraction:.0%} of the budget)")
    display.end()
    value = result["value"]
    if isinstance(value, BaseException):
        raise value
    return value


def _capture(job):
    try:
        return job()
    except BaseException as exc:  # re-raised in the calling thread
        return exc


def _read_progress(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
