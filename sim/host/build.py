"""Converting the SoC to Verilog and building it for a simulator, with a cache.

Each (simulator, configuration, waves) has its own build directory, so parallel
test runs never share one. A build is redone only when the hardware source, the
configuration, the simulator, this file, sim/host/verilator.py or the list of signals the
Verilator model makes public change.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from hdl.config import SocConfig
from hdl.config import TOPLEVEL
from sim.host import toolchain
from sim.host import verilator as verilator_runner
from sim.contract.outdir import FileLock
from sim.contract.errors import EnvironmentProblem, UsageError
from sim.contract.paths import BUILD_ROOT, PROJECT_ROOT

__all__ = ["Build", "build_soc", "BUILD_ROOT", "TIMESCALE"]

#: Where builds go unless LWKT_SOC_BUILD_DIR says otherwise.
#: Amaranth's Verilog has no `timescale; Icarus gets this one at build time.
TIMESCALE = ("1ns", "1ps")

#: -CFLAGS -O2: cocotb's runner compiles the model with verilated.mk's -Os; -O2 made the idle 4-CPU
#: co-simulation 25 % faster (1 CPU: 48 %) for 0-40 % more build time (bench/limit.py has the model alone).
_VERILATOR_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-ALWNEVER", "-CFLAGS", "-O2"]
#: Line and toggle coverage (not user coverage: the design has no cover properties).
_COVERAGE_ARGS = ["--coverage-line", "--coverage-toggle"]


@dataclass(frozen=True)
class Build:
    """A built simulator model of one configuration."""

    sim: str
    config: SocConfig
    waves: bool
    directory: Path
    verilog: Path
    toplevel: str = TOPLEVEL
    #: Built with Verilator's line and toggle coverage: the simulator writes coverage.dat on exit.
    coverage: bool = False

    @property
    def wave_format(self) -> str | None:
        if not self.waves:
            return None
        return "fst" if toolchain.fst_supported(self.sim) else "vcd"


def _hardware_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((PROJECT_ROOT / "hdl").glob("*.py")) + [Path(__file__), Path(verilator_runner.__file__)]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_soc(
    sim: str,
    config: SocConfig,
    *,
    waves: bool = False,
    root: Path | None = None,
    verbose: bool = False,
    announce=None,
    force: bool = False,
    coverage: bool = False,
) -> Build:
    """Build ``config`` for ``sim`` (``"verilator"`` or ``"icarus"``) unless cached (``force``:
    build again whatever the cache says). ``announce(text)`` hears when it builds or waits for
    another process's build. ``coverage`` (Verilator only) builds the line and toggle coverage
    variant in its own folder (``-cov``). A failed build is an EnvironmentProblem naming the build log."""
    say = announce or (lambda text: None)
    if coverage and sim != "verilator":
        raise UsageError(f"RTL coverage needs Verilator; {sim} has no coverage build")
    toolchain.activate(sim)
    root = Path(root or BUILD_ROOT)
    directory = root / f"{sim}-{config.slug}{'-waves' if waves else ''}{'-cov' if coverage else ''}"
    verilog = directory / f"{TOPLEVEL}.v"
    result = Build(sim, config, waves, directory, verilog, coverage=coverage)
    key = json.dumps(
        {
            "config": asdict(config),
            "sim": toolchain.simulator_version(sim),
            "waves": waves,
            "coverage": coverage,
            "hardware": _hardware_digest(),
            # A model made before a signal joined the list would not show it to cocotb.
            "public": verilator_runner.vlt_text() if sim == "verilator" else None,
        },
        sort_keys=True,
    )
    stamp = directory / "build.stamp"
    if not force and stamp.exists() and stamp.read_text() == key:
        return result
    # Parallel runs may want the same build: one builds, the others wait and reuse it.
    lock = FileLock(root / f".{directory.name}.lock")
    waited = []

    def on_wait():
        waited.append(True)
        say(f"waiting for another run's build of {directory.name} ...")

    try:
        root.mkdir(parents=True, exist_ok=True)
        lock.acquire(f"pid {os.getpid()}", wait=True, on_wait=on_wait)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write the build folder {root} ({exc.strerror or exc})") from None
    try:
        if waited:
            force = False  # that build is the fresh one
        if force or not (stamp.exists() and stamp.read_text() == key):
            say(
                f"{'rebuilding' if force else 'building'} the {config.ncpu}-CPU SoC for {sim} "
                f"({'the cached build did not start' if force else 'first time for this configuration'}) ..."
            )
            try:
                _build(sim, config, waves, result, stamp, key, verbose)
            except Exception as exc:  # the toolchain's own error: the log says more
                # One line: a tool's message may hold a whole traceback; its last line says what went wrong.
                lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
                why = lines[-1] if lines else type(exc).__name__
                raise EnvironmentProblem(
                    f"building the {sim} model failed ({type(exc).__name__}: {why}); see {directory / 'build.log'}"
                ) from None
    finally:
        lock.release()
    return result


def _build(sim: str, config: SocConfig, waves: bool, result: Build, stamp: Path, key: str, verbose: bool) -> None:
    from cocotb_tools.runner import get_runner
    from hdl.verilog import soc_verilog

    directory, verilog = result.directory, result.verilog
    directory.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    verilog.write_text(soc_verilog(config))
    # Verilator: only the public probes (verilator_runner.public_signals) public, not all (--public-flat-rw).
    runner = verilator_runner.public_verilator() if sim == "verilator" else get_runner(sim)
    build_args = []
    if sim == "verilator":
        build_args = list(_VERILATOR_ARGS)
        if waves:
            build_args.append("--trace-fst" if result.wave_format == "fst" else "--trace")
            build_args.append("--trace-structs")
        if result.coverage:
            build_args += _COVERAGE_ARGS
    runner.build(
        sources=[verilog],
        hdl_toplevel=TOPLEVEL,
        build_dir=directory,
        build_args=build_args,
        timescale=TIMESCALE if sim == "icarus" else None,
        waves=waves,
        always=True,
        verbose=verbose,
        log_file=directory / "build.log",
    )
    stamp.write_text(key)
