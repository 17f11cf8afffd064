"""``lwkt-soc run``: build the SoC for a scenario, run it, and write what a person reads.

The output folder gets: ``trace.jsonl`` (the event trace), ``counters.json`` (raw
counters from the simulator), ``report.json`` / ``report.txt`` / ``report.md``,
``timeline.png``, ``sim.log``, and with ``--waves`` the waveform with a GTKWave
save file and a thread-name translate file. A run that panics or fails a check
still writes all of them, up to the point where it stopped.
"""
from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from pathlib import Path

from firmware.cost_model import CostModelError, load_cost_model
from firmware.ram_layout import LayoutError, RamLayout
from firmware.system import BUGS
from hdl.config import SocConfig
from .build import build_soc
from .report import build_report, render_text, write_report
from .runner import collect_waveform, run_cocotb, wave_plusargs
from .faults import parse_faults
from .scenarios import get_scenario

__all__ = ["run_scenario", "RunError", "PROGRESS_FILE"]

#: Written by the simulator side while it runs: "<cycle> <cycle budget>".
PROGRESS_FILE = "progress"
_OUTPUTS = ("trace.jsonl", "counters.json", "report.json", "report.txt", "report.md", "timeline.png",
            "waves.fst", "waves.vcd", "waves.gtkw", "threads.txt", PROGRESS_FILE)


class RunError(ValueError):
    """A scenario and the options asked for cannot go together (a usage error)."""


def run_scenario(name: str, *, sim: str = "verilator", seed: int = 1, out: Path, cpus: int | None = None,
                 cycles: int | None = None, fifo_depth: int = SocConfig.fifo_depth, mode: str | None = None,
                 waves: bool = False, quiet: bool = False, progress: bool | None = None,
                 faults: str = "", cost_model: str = "default", scenario_modules: tuple[str, ...] = (),
                 extra_env: dict[str, str] | None = None, ram_words: int = SocConfig.ram_words,
                 bug: str = "") -> int:
    """Run scenario ``name``; returns the exit code (0 every check held, 1 otherwise).

    ``mode`` defaults to the scenario's build; a uniprocessor scenario may also
    run on the SMP kernel. ``progress`` shows a progress bar on a terminal and
    plain lines elsewhere (default: unless ``quiet``). ``faults`` switches fault
    injection on (see ``sim/faults.py``: a comma-separated list or ``all``). ``cost_model``
    is ``zero``, ``default`` or the path of a JSON table (``firmware/cost_model.py``).
    ``scenario_modules`` are imported here and in the simulator to register
    scenarios defined elsewhere; ``extra_env`` goes to the simulator's environment.
    """
    for module in scenario_modules:
        importlib.import_module(module)
    scenario = get_scenario(name)
    try:
        fault_set = parse_faults(faults)
        costs = load_cost_model(cost_model)
    except (ValueError, CostModelError) as exc:
        raise RunError(str(exc)) from None
    if cost_model not in ("zero", "default"):
        cost_model = str(Path(cost_model).resolve())
    mode = mode or scenario.mode
    if mode == "up" and scenario.mode == "smp":
        raise RunError(f"scenario {name} needs the smp build; --mode up cannot run it")
    ncpu = cpus or (scenario.cpus if mode == scenario.mode else 1)
    if mode == "up" and ncpu != 1:
        raise RunError(f"the up build runs on one CPU; --cpus {ncpu} needs --mode smp")
    config = SocConfig(ncpu=ncpu, fifo_depth=fifo_depth, ram_words=ram_words)
    if mode == "smp":
        try:
            RamLayout(ncpu, config.ram_words)
        except LayoutError as exc:
            raise RunError(str(exc)) from None
    if bug and bug not in BUGS:
        raise RunError(f"unknown planted bug {bug!r}; known: {', '.join(BUGS)}")
    budget = cycles or scenario.max_cycles
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for stale in _OUTPUTS:
        (out / stale).unlink(missing_ok=True)
    if progress is None:
        progress = not quiet

    def say(text=""):
        if not quiet:
            print(text, flush=True)

    say(f"building the {ncpu}-CPU SoC for {sim} ...")
    build = build_soc(sim, config, waves=waves)
    say(f"running {name} ({mode} build, seed {seed}, cost model {costs.name}, up to {budget} cycles) ...")
    env = {"LWKT_SCENARIO": name, "LWKT_SEED": str(seed), "LWKT_OUT": str(out), "LWKT_MODE": mode,
           "LWKT_CYCLES": str(budget), "LWKT_SCENARIO_MODULES": ",".join(scenario_modules),
           "LWKT_FAULTS": ",".join(sorted(fault_set)), "LWKT_COST_MODEL": cost_model, "LWKT_BUG": bug}
    if os.environ.get("LWKT_RANDOM_SPEC"):
        env["LWKT_RANDOM_SPEC"] = str(Path(os.environ["LWKT_RANDOM_SPEC"]).resolve())
    env.update(extra_env or {})
    result = _with_progress(
        lambda: run_cocotb(build, "sim.run_program", test_dir=out, waves=waves, extra_env=env,
                           plusargs=wave_plusargs(build, out)),
        out / PROGRESS_FILE, budget, enabled=progress)
    (out / PROGRESS_FILE).unlink(missing_ok=True)

    files = {"trace": "trace.jsonl", "counters": "counters.json", "log": "sim.log"}
    if not (out / "counters.json").exists():
        say(f"\nFAILED: {name} produced no counters; see {out / 'sim.log'}")
        return 1
    wave = collect_waveform(build, out) if waves else None
    if wave is not None:
        from .gtkwave import write_gtkwave_files
        files["waveform"] = wave.name
        for kind, path in write_gtkwave_files(out).items():
            files[kind] = path.name
    from .timeline import render_timeline
    files["timeline"] = render_timeline(out).name
    files.update({"report": "report.txt", "report_markdown": "report.md", "report_json": "report.json"})
    report = build_report(out, sim=sim, cpus=ncpu, fifo_depth=fifo_depth, files=files)
    write_report(out, report)
    say("")
    say(render_text(report).replace("\nfiles:\n", f"\nfiles (in {out}):\n").rstrip())
    sys.stdout.flush()
    return 0 if report["ok"] and result.ok else 1


def _with_progress(job, progress_file: Path, budget: int, *, enabled: bool):
    """Run ``job`` while showing how far the simulation is (bar on a terminal, lines otherwise)."""
    if not enabled:
        return job()
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("value", _capture(job)), daemon=True)
    worker.start()
    tty = sys.stdout.isatty()
    shown = -1
    last_line = time.monotonic()
    while worker.is_alive():
        worker.join(0.2)
        cycle = _read_progress(progress_file)
        if cycle is None:
            continue
        fraction = min(1.0, cycle / budget) if budget else 0.0
        if tty:
            filled = int(fraction * 30)
            sys.stdout.write(f"\r  [{'#' * filled}{'.' * (30 - filled)}] {cycle:>10,} cycles")
            sys.stdout.flush()
        elif int(fraction * 10) > shown and time.monotonic() - last_line > 2:
            shown = int(fraction * 10)
            last_line = time.monotonic()
            print(f"  progress: {cycle} cycles ({fraction:.0%} of the budget)", flush=True)
    if tty:
        sys.stdout.write("\n")
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
