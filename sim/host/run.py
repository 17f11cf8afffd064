"""``lwkt-soc run``: build the SoC for a scenario, run it, and write what a person reads.

The output folder gets: ``trace.jsonl`` (the event trace), ``counters.json`` (raw
counters from the simulator), ``report.json`` / ``report.txt`` / ``report.md``,
``timeline.png``, ``sim.log``, and with ``--waves`` the waveform with a GTKWave
save file and a thread-name translate file. A run that panics or fails a check
still writes all of them, up to the point where it stopped.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from pathlib import Path

from firmware.cost_model import CostModelError, load_cost_model
from firmware.ram_layout import LayoutError, RamLayout
from firmware.bugs import BUGS
from hdl.config import SocConfig
from sim.host.build import build_soc
from sim.contract.errors import EXIT_FAILED, EXIT_OK, EnvironmentProblem, UsageError
from sim.contract.outdir import RunFolder
from sim.reports.progress import ProgressDisplay
from sim.reports.report import build_report, render_text, write_report
from sim.host.runner import collect_waveform, run_cocotb, wave_plusargs
from sim.contract.catalogue import parse_faults
from sim.host.interrupt import Interruption
from sim.contract.catalogue import check_faults
from sim.contract.config import RunConfig
from sim.host.toolchain import tool_versions
from sim.contract.catalogue import scenario_info as get_scenario
from sim.contract.spec_check import load_spec_file

__all__ = ["run_scenario", "RunError", "PROGRESS_FILE"]

#: Written by the simulator side while it runs: "<cycle> <cycle budget>".
PROGRESS_FILE = "progress"


class RunError(UsageError):
    """A scenario and the options asked for cannot go together (a usage error, exit 2)."""


def run_scenario(
    name: str,
    *,
    sim: str = "verilator",
    seed: int = 1,
    out: Path,
    cpus: int | None = None,
    cycles: int | None = None,
    fifo_depth: int = SocConfig.fifo_depth,
    mode: str | None = None,
    waves: bool = False,
    quiet: bool = False,
    progress: bool | None = None,
    faults: str = "",
    cost_model: str = "default",
    scenario_modules: tuple[str, ...] = (),
    ram_words: int = SocConfig.ram_words,
    bug: str = "",
    spec: str | Path | None = None,
    rtl_coverage: bool = False,
    fw_coverage: bool = False,
    hw_coverage: bool = False,
) -> int:
    """Run scenario ``name``; returns the exit code (0 every check held, 1 otherwise).

    ``mode`` defaults to the scenario's build; a uniprocessor scenario may also
    run on the SMP kernel. ``progress`` shows a progress bar on a terminal and
    plain lines elsewhere (default: unless ``quiet``). ``faults`` switches fault
    injection on (see ``sim/contract/catalogue.py``: a comma-separated list or ``all``). ``cost_model``
    is ``zero``, ``default`` or the path of a JSON table (``firmware/cost_model.py``).
    ``scenario_modules`` are imported here and in the simulator: they declare more
    scenarios (sim/contract/catalogue.py). ``spec``
    (random workload only) is a workload spec file, checked before anything is built.
    ``rtl_coverage`` (Verilator only) runs a coverage build and keeps ``rtl_coverage.dat``;
    ``fw_coverage`` measures coverage.py over ``firmware/`` into ``fw_coverage.dat``.
    ``hw_coverage`` counts the hardware bins of the bus accesses (``sim/contract/hw_coverage.py``).

    Raises UsageError (exit 2) or EnvironmentProblem (exit 3) when the run cannot start.
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
    if ncpu < scenario.min_cpus:
        raise RunError(f"scenario {name} needs at least {scenario.min_cpus} CPUs; --cpus {ncpu} is too few")
    try:
        check_faults(fault_set, scenario, ncpu)
    except ValueError as exc:
        raise RunError(str(exc)) from None
    spec_path = spec_sha = None
    if spec is not None:
        if name != "random":
            raise RunError(f"--spec is a random workload spec; scenario {name} takes none")
        spec_path = str(Path(spec).resolve())
        _, spec_sha = load_spec_file(spec_path, ncpu)
    config = SocConfig(ncpu=ncpu, fifo_depth=fifo_depth, ram_words=ram_words)
    if mode == "smp":
        try:
            RamLayout(ncpu, config.ram_words)
        except LayoutError as exc:
            raise RunError(str(exc)) from None
    if bug and bug not in BUGS:
        raise RunError(f"unknown planted bug {bug!r}; known: {', '.join(BUGS)}")
    if fw_coverage and importlib.util.find_spec("coverage") is None:
        raise EnvironmentProblem(
            "--fw-coverage measures with coverage.py, which is not installed: pip install 'lwkt-soc[coverage]'"
        )
    if rtl_coverage and sim != "verilator":
        raise RunError(f"--rtl-coverage needs --sim verilator (Verilator's coverage build); {sim} has none")
    budget = cycles or scenario.max_cycles
    if progress is None:
        progress = not quiet

    def say(text=""):
        if not quiet:
            print(text, flush=True)

    with RunFolder(out, f"{name} seed {seed} on {sim}") as folder, Interruption() as interruption:
        try:
            build = build_soc(sim, config, waves=waves, announce=say, coverage=rtl_coverage)
        except EnvironmentProblem:
            if interruption.signal is not None:  # the build was stopped by the signal
                say(f"interrupted ({interruption.name}) while building")
                return interruption.exit_code
            raise
        # Everything this run needs is in place: only now do the previous run's files go.
        folder.clear()
        config = RunConfig(
            scenario=name,
            seed=seed,
            sim=sim,
            mode=mode,
            cpus=ncpu,
            fifo_depth=fifo_depth,
            ram_words=ram_words,
            cycles=budget,
            faults=sorted(fault_set),
            cost_model=cost_model,
            spec=spec_path,
            spec_sha256=spec_sha,
            bug=bug,
            scenario_modules=list(scenario_modules),
            waves=waves,
            rtl_coverage=rtl_coverage,
            fw_coverage=fw_coverage,
            hw_coverage=hw_coverage,
            out=str(folder.path),
            versions=tool_versions(sim),
        )
        if interruption.signal is not None:
            return interruption.exit_code
        return _run(folder.path, build, config, interruption, progress=progress, say=say, costs=costs)


def _run(out: Path, build, config: RunConfig, interruption: Interruption, *, progress, say, costs) -> int:
    name, budget, waves, sim = config.scenario, config.cycles, config.waves, config.sim
    ncpu, fifo_depth = config.cpus, config.fifo_depth
    spec = f", spec {config.spec}" if config.spec else ""
    say(
        f"running {name} ({config.mode} build, seed {config.seed}{spec}, cost model {costs.name}, "
        f"up to {budget} cycles) ..."
    )
    result = None
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
        except RuntimeError as exc:  # the simulator ended without results
            if interruption.signal is not None:
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
    return EXIT_OK if report["ok"] and result is not None and result.ok else EXIT_FAILED


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
