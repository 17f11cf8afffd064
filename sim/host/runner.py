"""Running cocotb test modules against a built SoC."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from hdl.config import SocConfig
from sim.contract.config import CONFIG_ENV, RunConfig
from sim.contract.directed import DirectedRun, directed_run
from sim.host import toolchain
from sim.host.build import Build

#: The module a simulator imports first when its run meets a generated mutant of the sources.
MUTANT_START = "sim.tb.mutant_start"

__all__ = ["SimulatorEnded", "run_cocotb", "run_directed", "CocotbResult", "wave_plusargs", "collect_waveform"]


class SimulatorEnded(RuntimeError):
    """The simulator process ended without the results file; ``status`` is its exit status (negative:
    the signal that killed it), or None when it exited 0."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CocotbResult:
    tests: int
    failed: int
    results_xml: Path
    directory: Path

    @property
    def ok(self) -> bool:
        return self.tests > 0 and self.failed == 0


def run_cocotb(
    build: Build,
    module: str | list[str],
    *,
    test_dir: Path,
    config: RunConfig | None = None,
    testcase: tuple[str, ...] | None = None,
    waves: bool = False,
    seed: int | None = None,
    python_path: list[str] | None = None,
    plusargs: list[str] | None = None,
) -> CocotbResult:
    """Run the cocotb tests of ``module`` on ``build`` in ``test_dir`` (one per run).

    The simulator gets the run's configuration as ``test_dir/run.json`` (its path in
    ``LWKT_RUN_CONFIG``, the only variable it is given): ``config``, or for a directed
    module a :meth:`RunConfig.directed` of the build. ``python_path`` entries are added
    to this process's ``sys.path``, which the cocotb runner hands to the simulator as
    its PYTHONPATH.
    """
    from cocotb_tools.runner import get_runner, get_results

    toolchain.activate(build.sim)
    if waves and not build.waves:
        raise ValueError("a waveform needs a build made with waves=True")
    test_dir = Path(test_dir)
    test_dir.mkdir(parents=True, exist_ok=True)
    if config is None:
        name = module if isinstance(module, str) else module[-1]
        config = RunConfig.directed(name, build.config, build.sim, test_dir, waves=waves)
    env = {CONFIG_ENV: str(config.write(test_dir))}
    if config.source_mutant:  # loaded in place of its module before anything imports it (sim/tb/mutant_start.py)
        module = [MUTANT_START, *([module] if isinstance(module, str) else module)]
    for entry in reversed(python_path or []):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    runner = get_runner(build.sim)
    results_xml = test_dir / "results.xml"
    try:
        runner.test(
            test_module=module,
            hdl_toplevel=build.toplevel,
            hdl_toplevel_lang="verilog",
            build_dir=build.directory,
            test_dir=test_dir,
            testcase=list(testcase) if testcase else None,
            extra_env=env,
            waves=waves,
            seed=seed,
            plusargs=list(plusargs or []),
            timescale=None,
            log_file=test_dir / "sim.log",
            results_xml=str(results_xml),
        )
    except SystemExit:
        # The runner exits when a test failed; the results file tells which.
        if not results_xml.exists():
            raise SimulatorEnded(f"the simulator ended without results; see {test_dir / 'sim.log'}") from None
    except RuntimeError as exc:
        # cocotb's runner raises this when the simulator process exits non-zero or is killed. With a
        # results file the tests' verdicts stand, as after SystemExit; without one the simulator died.
        if not results_xml.exists():
            status = re.search(r"return code: (-?\d+)", str(exc))
            raise SimulatorEnded(
                f"the simulator ended without results; see {test_dir / 'sim.log'}",
                int(status.group(1)) if status else None,
            ) from None
    tests, failed = get_results(results_xml)
    return CocotbResult(tests, failed, results_xml, test_dir)


def run_directed(
    run: DirectedRun | str,
    sim: str,
    test_dir: Path,
    *,
    soc: SocConfig | None = None,
    first: tuple[str, ...] = (),
    bug: str = "",
    source_mutant: str = "",
    hw_coverage: bool = False,
    fw_coverage: bool = False,
    coverage_build: bool = False,
) -> CocotbResult:
    """Run a directed run of the table (``run``: it or its name) on ``sim``, on its SoC or ``soc``;
    ``first`` are modules the simulator imports before it (``sim.tb.fw_coverage_start``)."""
    from sim.host.build import build_soc

    if isinstance(run, str):
        run = directed_run(run)
    soc = soc or run.soc
    build = build_soc(sim, soc, coverage=coverage_build)
    config = RunConfig.directed(
        run.module_path,
        soc,
        sim,
        test_dir,
        bug=bug,
        source_mutant=source_mutant,
        hw_coverage=hw_coverage,
        fw_coverage=fw_coverage,
    )
    return run_cocotb(
        build,
        [*first, run.module_path] if first else run.module_path,
        test_dir=test_dir,
        config=config,
        testcase=run.testcase,
    )


def wave_plusargs(build: Build, test_dir: Path) -> list[str]:
    """Plusargs that make Icarus write its waveform into the run's folder (not the shared build)."""
    if build.sim == "icarus" and build.waves:
        return [f"+dumpfile_path={Path(test_dir).resolve() / 'waves.fst'}"]
    return []


def collect_waveform(build: Build, test_dir: Path) -> Path | None:
    """The run's waveform as ``waves.fst`` or ``waves.vcd`` in ``test_dir`` (renaming Verilator's dump)."""
    test_dir = Path(test_dir)
    for candidate in (test_dir / "waves.fst", test_dir / "dump.fst", test_dir / "dump.vcd"):
        if candidate.exists():
            target = test_dir / f"waves{candidate.suffix}"
            if candidate != target:
                candidate.replace(target)
            return target
    return None


def main(argv=None) -> int:
    """``python -m sim.host.runner NAME``: one directed run of sim/contract/directed.py, as make mutants and
    the tests run it (its results.xml and sim.log in ``--out``); ``--source-mutant ID`` repeats it with a
    generated mutant of the sources (``python -m sim.mutation --show ID``). Exit 0 when its tests pass, 1 when
    one fails, 2 for bad options (an unknown or stale mutant id too), 3 when a tool is missing."""
    import argparse

    from firmware.bugs import BUGS
    from sim.contract.config import DEFAULT_SIM, SIMULATORS
    from sim.contract.directed import DIRECTED_RUNS
    from sim.contract.errors import EXIT_FAILED, EXIT_OK, EnvironmentProblem, UsageError, report_error
    from sim.contract.resolve import check_source_mutant

    parser = argparse.ArgumentParser(prog="python -m sim.host.runner", description=main.__doc__.splitlines()[0])
    parser.add_argument("name", choices=list(DIRECTED_RUNS), metavar="NAME", help=", ".join(DIRECTED_RUNS))
    parser.add_argument("--sim", choices=SIMULATORS, default=DEFAULT_SIM)
    parser.add_argument("--plant-bug", dest="bug", choices=list(BUGS), default="", metavar="BUG")
    parser.add_argument(
        "--source-mutant",
        default="",
        metavar="ID",
        help="a generated mutant of the sources (sim/mutation) loaded in place of its module",
    )
    parser.add_argument("--out", default="runs/directed", help="output folder (default runs/directed)")
    args = parser.parse_args(argv)
    if args.source_mutant:
        try:
            check_source_mutant(args.source_mutant)
        except UsageError as exc:
            return report_error("sim.host.runner", exc)
    out = Path(args.out).resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
        result = run_directed(args.name, args.sim, out, bug=args.bug, source_mutant=args.source_mutant)
    except (EnvironmentProblem, OSError) as exc:
        return report_error(
            "sim.host.runner", exc if isinstance(exc, EnvironmentProblem) else EnvironmentProblem(str(exc))
        )
    print(f"{args.name}: {result.tests} test(s), {result.failed} failed; {result.results_xml}")
    return EXIT_OK if result.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
