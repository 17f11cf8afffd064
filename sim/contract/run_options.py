"""The one table of a run's options: each RunConfig field a user or a campaign sets, with its
``lwkt-soc run`` option and its name in a campaign's record.

From :data:`RUN_OPTIONS` come ``lwkt-soc run``'s options (:func:`add_run_arguments`) and their
reading back into a RunConfig (:func:`config_from_arguments`, :func:`parse_run_arguments`); the
options that repeat a run (:func:`run_arguments`, :func:`repeat_command`), printed by campaigns,
shrinking and stress; and a campaign's record of a run (:func:`config_record`,
:func:`config_from_record`, :data:`RECORD_COLUMNS`): the configuration whose hash is the
configuration's id, and the columns of the results database. Defaults and types are the
dataclass's own. The table's order is the order of the options in ``--help`` and in a repeat
command.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import typing
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

from firmware.bugs import BUGS
from firmware.builds import MODES
from hdl.config import MAX_CPUS, SocConfig
from sim.contract.catalogue import ALL_FAULTS, FAULTS, NO_FAULTS
from sim.contract.config import DEFAULT_OUT, DEFAULT_SEED, DEFAULT_SIM, SIMULATORS, RunConfig

__all__ = [
    "RunOption",
    "RUN_OPTIONS",
    "RECORD_COLUMNS",
    "add_run_arguments",
    "config_from_arguments",
    "parse_run_arguments",
    "run_arguments",
    "repeat_command",
    "command_name",
    "config_record",
    "config_from_record",
    "record_columns",
]


@dataclass(frozen=True)
class RunOption:
    """One field of RunConfig as the outside sees it."""

    field: str
    #: Its ``lwkt-soc run`` option (None: no option; the field is set otherwise).
    flag: str | None = None
    help: str = ""
    metavar: str | None = None
    choices: tuple | None = None
    required: bool = False
    #: In a command that repeats a run: "always" (whenever set) or "changed" (only when not the default).
    repeat: str = "changed"
    #: Its name in a campaign's record of a run (None: not recorded).
    record: str | None = None
    #: The record is also a column of the results database's ``runs`` table.
    column: bool = False
    #: Left out of the record at its default: a field added after configurations were recorded, so that
    #: their ids (the hash of the record) stay what they were.
    omit_default: bool = False

    @property
    def default(self):
        """The dataclass's default."""
        spec = _FIELDS[self.field]
        return spec.default_factory() if spec.default_factory is not MISSING else spec.default

    @property
    def kind(self) -> str:
        """switch (a bool), list (a repeated option), names (one comma-separated option), int or text."""
        if self.field == "faults":
            return "names"
        hint = _HINTS[self.field]
        if hint is bool:
            return "switch"
        if typing.get_origin(hint) is list:
            return "list"
        return "int" if int in (hint, *typing.get_args(hint)) else "text"


_FIELDS = {f.name: f for f in fields(RunConfig)}
_HINTS = typing.get_type_hints(RunConfig)

RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption(
        "scenario",
        "--scenario",
        "scenario name (see `lwkt-soc list`)",
        "NAME",
        required=True,
        repeat="always",
        record="scenario",
        column=True,
    ),
    RunOption(
        "spec",
        "--spec",
        "random scenario only: run this workload spec (JSON, as sim.campaigns.shrink writes) instead of "
        "drawing one from the seed; checked against its schema and bounds before anything is built",
        "FILE",
        # make coverage's coverage-directed seeds: their spec's file is named by its content's hash.
        record="spec",
        omit_default=True,
    ),
    RunOption(
        "seed",
        "--seed",
        f"seed of the workload (default {DEFAULT_SEED})",
        repeat="always",
        record="seed",
        column=True,
    ),
    RunOption(
        "cpus",
        "--cpus",
        f"CPU count, 1..{MAX_CPUS} (default: the scenario's)",
        "N",
        repeat="always",
        record="cpus",
        column=True,
    ),
    RunOption(
        "fifo_depth",
        "--fifo-depth",
        f"IPI FIFO depth, a power of two in 2..1024 (default {SocConfig.fifo_depth})",
        "D",
        repeat="always",
        record="fifo_depth",
        column=True,
    ),
    RunOption(
        "sim",
        "--sim",
        f"simulator (default {DEFAULT_SIM}, from PyPI)",
        choices=SIMULATORS,
        repeat="always",
        record="sim",
        column=True,
    ),
    RunOption(
        "faults",
        "--faults",
        f"fault injection: {ALL_FAULTS}, or a comma-separated list of {', '.join(FAULTS)} (default {NO_FAULTS})",
        "LIST",
        record="faults",
        column=True,
    ),
    RunOption(
        "cost_model",
        "--cost-model",
        "cycles of kernel execution: zero, default, or a JSON table (see docs/cost-model.md; default: default)",
        "MODEL",
        record="cost_model",
        column=True,
    ),
    RunOption(
        "ram_words",
        "--ram-words",
        f"shared RAM size in words, a power of two (default {SocConfig.ram_words}); the SMP kernel's layout "
        f"must fit (see docs/ram-layout.md)",
        "W",
        record="ram_words",
        column=True,
    ),
    RunOption("cycles", "--cycles", "cycle budget (default: the scenario's)", "C", record="cycles"),
    RunOption(
        "bug",
        "--plant-bug",
        f"test only: switch on one planted kernel bug ({', '.join(BUGS)}) to show the checks catch it",
        "NAME",
        record="bug",
        column=True,
    ),
    # A hardware mutant and the kind of run: set by make mutants' campaign, no option of lwkt-soc run.
    RunOption("mutant", record="mutant", column=True, omit_default=True),
    RunOption("source_mutant", record="source_mutant", column=True, omit_default=True),
    RunOption("kind", record="kind", column=True, omit_default=True),
    # A directed module's SoC may have other external lines than the default.
    RunOption("ext_lines", record="ext_lines", omit_default=True),
    RunOption(
        "mode",
        "--mode",
        "kernel build: up (seed v1.12, one CPU) or smp (v1.18); default: the scenario's",
        choices=MODES,
    ),
    RunOption(
        "rtl_coverage",
        "--rtl-coverage",
        "Verilator only: run a line and toggle coverage build and keep rtl_coverage.dat "
        "(merge runs with python -m sim.coverage.rtl)",
        record="rtl_coverage",
        omit_default=True,
    ),
    RunOption(
        "fw_coverage",
        "--fw-coverage",
        "measure coverage.py with branches over firmware/ and keep fw_coverage.dat "
        "(summarise runs with python -m sim.coverage.fw)",
        record="fw_coverage",
        omit_default=True,
    ),
    # A campaign's "coverage": the functional bins, hardware bins included; no option of lwkt-soc run.
    RunOption("hw_coverage", record="coverage", column=True),
    RunOption(
        "scenario_modules",
        "--scenario-module",
        "tests only: import MODULE first, which declares more scenarios (e.g. tests.scenarios_extra)",
        "MODULE",
        record="scenario_modules",
    ),
    RunOption("waves", "--waves", "write a waveform (FST, or VCD without liblz4) and a GTKWave save file"),
    RunOption("out", "--out", f"output folder (default {DEFAULT_OUT})", "DIR"),
)

_SQL_TYPES = {"int": "INTEGER", "switch": "INTEGER", "text": "TEXT", "names": "TEXT", "list": "TEXT"}
#: The results database's columns of a run's configuration: (name, SQL type), in the table's order.
RECORD_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (option.record, _SQL_TYPES[option.kind]) for option in RUN_OPTIONS if option.column
)


# --- the command line -----------------------------------------------------------------------------------


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``lwkt-soc run``'s options, one per option of the table (``dest``: the field's name)."""
    for option in RUN_OPTIONS:
        if option.flag is None:
            continue
        kind = option.kind
        extra: dict = {"dest": option.field, "help": option.help}
        if kind == "switch":
            parser.add_argument(option.flag, action="store_true", **extra)
            continue
        if option.metavar:
            extra["metavar"] = option.metavar
        if option.choices:
            extra["choices"] = option.choices
        if option.required:
            extra["required"] = True
        elif kind == "list":
            extra.update(action="append", default=[])
        else:
            extra["default"] = _text(option, option.default) if kind == "names" else option.default
        if kind == "int":
            extra["type"] = int
        parser.add_argument(option.flag, **extra)


def config_from_arguments(args: argparse.Namespace) -> RunConfig:
    """The RunConfig (a request) that parsed options ask for."""
    values = {}
    for option in RUN_OPTIONS:
        if option.flag is None:
            continue
        value = getattr(args, option.field)
        if option.kind == "names":
            value = [name.strip() for name in value.split(",") if name.strip()]
        elif option.kind == "list":
            value = list(value)
        values[option.field] = value
    return RunConfig(**values)


def parse_run_arguments(argv: list[str]) -> RunConfig:
    """The RunConfig that ``lwkt-soc run`` ``argv`` asks for (the reading back of :func:`run_arguments`)."""
    parser = argparse.ArgumentParser(prog="lwkt-soc run")
    add_run_arguments(parser)
    return config_from_arguments(parser.parse_args(argv))


def run_arguments(config: RunConfig) -> list[str]:
    """The ``lwkt-soc run`` options that ask for ``config`` again: the table's order, each option that is
    set (``repeat`` "always") or differs from its default."""
    argv: list[str] = []
    for option in RUN_OPTIONS:
        value = getattr(config, option.field)
        if option.flag is None or value is None or option.repeat == "changed" and value == option.default:
            continue
        kind = option.kind
        if kind == "switch":
            argv += [option.flag] if value else []
        elif kind == "list":
            for item in value:
                argv += [option.flag, str(item)]
        else:
            argv += [option.flag, _text(option, value)]
    return argv


def command_name() -> str:
    """How to call lwkt-soc from where the user is: the script next to this Python, as printed."""
    script = Path(sys.executable).parent / "lwkt-soc"
    return str(script) if script.exists() else f"{sys.executable} -m sim.cli"


def repeat_command(config: RunConfig) -> str:
    """The ``lwkt-soc run`` line that repeats ``config``, runnable as printed."""
    return shlex.join([command_name(), "run", *run_arguments(config)])


def _text(option: RunOption, value) -> str:
    if option.kind == "names":
        return value if isinstance(value, str) else ",".join(value)
    return str(value)


# --- a campaign's record --------------------------------------------------------------------------------


def config_record(config: RunConfig) -> dict:
    """What a campaign records of ``config``'s configuration (every recorded field but the seed): the JSON
    whose hash is the configuration's id. Faults are one text, ``none`` for no fault."""
    record = {}
    for option in RUN_OPTIONS:
        if option.record is None or option.field == "seed":
            continue
        value = getattr(config, option.field)
        if option.omit_default and value == option.default:
            continue
        if option.kind == "names":
            value = _text(option, value) or NO_FAULTS
        elif option.kind == "list":
            value = list(value)
        record[option.record] = value
    return record


def config_from_record(record: dict) -> dict:
    """RunConfig's fields from a campaign's record (:func:`config_record`, with or without the seed); a
    name the record lacks keeps its default, a name the table does not record is left out."""
    values = {}
    for option in RUN_OPTIONS:
        if option.record is None or option.record not in record:
            continue
        value = record[option.record]
        if option.kind == "names":
            value = [] if value in ("", NO_FAULTS) else value.split(",")
        elif option.kind == "list":
            value = list(value or ())
        elif option.kind == "switch":
            value = bool(value)
        values[option.field] = value
    return values


def record_columns(config: RunConfig) -> dict:
    """The results database's configuration columns of one run (:data:`RECORD_COLUMNS`)."""
    record = {**config_record(config), "seed": config.seed}
    for option in RUN_OPTIONS:
        if option.omit_default and option.record not in record:
            record[option.record] = option.default
    return {
        name: int(record[name]) if sql == "INTEGER" and isinstance(record[name], bool) else record[name]
        for name, sql in RECORD_COLUMNS
    }
