"""A run request made concrete: the one place that knows a scenario's defaults and the rules of a run.

:func:`resolve_run` takes a :class:`RunConfig` as asked for (``lwkt-soc run``'s options, a
campaign's configuration, a test) and returns it with the scenario's build, CPU count and cycle
budget filled in, the fault set checked and sorted, the cost model and spec made absolute (the
spec checked against the CPU count and hashed), or raises :class:`RunError` naming what cannot go
together. It builds and starts nothing: ``lwkt-soc run`` (``sim/host/run.py``) runs what it returns,
and a campaign (``sim/campaigns/campaign.py``) leaves out a configuration it refuses.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import replace
from pathlib import Path

from firmware.bugs import BUGS
from firmware.cost_model import COST_MODEL_NAMES, CostModelError, load_cost_model
from firmware.ram_layout import LayoutError, RamLayout
from hdl.config import ConfigError, SocConfig
from sim.contract.catalogue import ScenarioInfo, check_faults, parse_faults, scenario_info
from sim.contract.config import SIMULATORS, RunConfig
from sim.contract.errors import EnvironmentProblem, UsageError

__all__ = ["RunError", "resolve_run", "default_cpus", "check_source_mutant"]


class RunError(UsageError):
    """A run that cannot be made as asked (a usage error, exit 2).

    ``field`` is the RunConfig field the rule is about, when there is one; ``reason`` says it without the
    command line's options, for a campaign's "left out" line."""

    def __init__(self, message: str, *, field: str | None = None, reason: str | None = None):
        super().__init__(message)
        self.field = field
        self.reason = reason or message


def check_source_mutant(mutant_id: str) -> None:
    """RunError unless ``mutant_id`` names a generated mutant (sim/mutation) that still applies to the
    sources: a malformed or stale id, or one that names no file, is refused before any run."""
    from sim.contract.paths import PROJECT_ROOT
    from sim.mutation import mutated_source

    try:
        mutated_source(mutant_id, PROJECT_ROOT)
    except ValueError as exc:
        raise RunError(f"source mutant {mutant_id!r}: {exc}") from None


def _import_scenario_modules(modules) -> None:
    """Import the modules that declare more scenarios (tests), before any name is looked up."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise RunError(f"--scenario-module {module}: cannot import it ({exc})") from None


def default_cpus(info: ScenarioInfo, mode: str | None = None) -> int:
    """The CPUs of a run that names none: the scenario's, or one for an up scenario on the smp build."""
    return info.cpus if mode in (None, info.mode) else 1


def resolve_run(request: RunConfig) -> RunConfig:
    """``request`` checked and made concrete (see the module's docstring)."""
    _import_scenario_modules(request.scenario_modules)
    try:
        info = scenario_info(request.scenario)
    except KeyError as exc:
        raise RunError(exc.args[0]) from None
    if request.sim not in SIMULATORS:
        raise RunError(f"unknown simulator {request.sim!r}; simulators: {', '.join(SIMULATORS)}")
    if request.seed < 0:
        raise RunError(f"seed={request.seed}: must be >= 0")
    if request.cycles is not None and request.cycles <= 0:
        raise RunError(f"cycles={request.cycles}: must be > 0")
    if request.cpus is not None:
        _soc(ncpu=request.cpus)  # names the range when out of it
    _soc(ram_words=request.ram_words)
    # A request may give the faults as one text (as the command line does) or as a list of names.
    faults = request.faults if isinstance(request.faults, str) else ",".join(request.faults)
    try:
        fault_set = parse_faults(faults)
    except ValueError as exc:
        raise RunError(str(exc), field="faults") from None
    try:
        load_cost_model(request.cost_model)
    except CostModelError as exc:
        raise RunError(str(exc), field="cost_model") from None
    cost_model = request.cost_model
    if cost_model not in COST_MODEL_NAMES:
        cost_model = str(Path(cost_model).resolve())
    mode, ncpu = _build(request, info)
    try:
        check_faults(fault_set, info, ncpu)
    except ValueError as exc:
        raise RunError(str(exc), field="faults") from None
    spec_path = spec_sha = None
    if request.spec is not None:
        if request.scenario != "random":
            raise RunError(f"--spec is a random workload spec; scenario {request.scenario} takes none")
        from sim.contract.spec_check import load_spec_file  # jsonschema: only when a spec is given

        spec_path = str(Path(request.spec).resolve())
        _, spec_sha = load_spec_file(spec_path, ncpu, request.ext_lines)
    soc = _soc(ncpu=ncpu, fifo_depth=request.fifo_depth, ram_words=request.ram_words, ext_lines=request.ext_lines)
    if mode == "smp":
        try:
            RamLayout(ncpu, soc.ram_words)
        except LayoutError as exc:
            raise RunError(str(exc), field="ram_words") from None
    if request.bug and request.bug not in BUGS:
        raise RunError(f"unknown planted bug {request.bug!r}; known: {', '.join(BUGS)}")
    if request.source_mutant:
        check_source_mutant(request.source_mutant)
    if request.fw_coverage and importlib.util.find_spec("coverage") is None:
        raise EnvironmentProblem(
            "--fw-coverage measures with coverage.py, which is not installed: pip install 'lwkt-soc[coverage]'"
        )
    if request.rtl_coverage and request.sim != "verilator":
        raise RunError(f"--rtl-coverage needs --sim verilator (Verilator's coverage build); {request.sim} has none")
    return replace(
        request,
        mode=mode,
        cpus=ncpu,
        cycles=request.cycles or info.max_cycles,
        faults=sorted(fault_set),
        cost_model=cost_model,
        spec=spec_path,
        spec_sha256=spec_sha,
        scenario_modules=list(request.scenario_modules),
        out=str(request.out),
    )


def _build(request: RunConfig, info: ScenarioInfo) -> tuple[str, int]:
    """The kernel build and CPU count of the run: the scenario's unless asked, and a pair that works."""
    name = request.scenario
    mode = request.mode or info.mode
    if mode == "up" and info.mode == "smp":
        raise RunError(f"scenario {name} needs the smp build; --mode up cannot run it", field="mode")
    ncpu = request.cpus or default_cpus(info, mode)
    if mode == "up" and ncpu != 1:
        raise RunError(
            f"the up build runs on one CPU; --cpus {ncpu} needs --mode smp",
            field="cpus",
            reason="an up scenario runs on one CPU",
        )
    if ncpu < info.min_cpus:
        raise RunError(
            f"scenario {name} needs at least {info.min_cpus} CPUs; --cpus {ncpu} is too few",
            field="cpus",
            reason=f"it needs at least {info.min_cpus} CPUs",
        )
    return mode, ncpu


def _soc(**sizes) -> SocConfig:
    try:
        return SocConfig(**sizes)
    except ConfigError as exc:
        raise RunError(str(exc)) from None
