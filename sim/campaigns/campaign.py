"""A regression campaign: what to run, from a TOML file or options, expanded into runs.

    name = "nightly"
    scenarios = ["random", "smp-pingpong"]
    seeds = ["1-1000"]            # integers and ranges "A-B" (or "A..B"), or one string "1-40,50"
    cpus = [2, 4]                 # "default": the scenario's own count
    fifo_depths = [8, 32]
    faults = ["none", "all", "wait-states,spurious"]   # each entry is one fault set
    sims = ["verilator", "icarus"]
    cost_models = ["default"]     # zero, default or a JSON table
    coverage = true               # functional coverage, hardware bins included
    keep = "failed"               # run folders to keep: failed, all or none

    [cluster]                     # options of a dask-jobqueue cluster (lwkt-soc regress --cluster ...)
    cores = 8

The campaign is the product of its lists; each configuration (scenario, CPUs,
FIFO depth, fault set, simulator, cost model, ...) runs every seed. A
configuration that cannot work (an up scenario on 4 CPUs, a fault that cannot
act in a scenario) is left out with its reason; names, ranges and files that
are wrong are a usage error naming the key.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from firmware.cost_model import DEFAULT_COST_MODEL
from hdl.config import SocConfig
from sim.contract.catalogue import ALL_FAULTS, FAULTS, NO_FAULTS
from sim.contract.config import DEFAULT_SIM, SIMULATORS, RunConfig
from sim.contract.errors import UsageError
from sim.contract.run_options import config_from_record, config_record, run_arguments

__all__ = ["Campaign", "RunSpec", "Expansion", "campaign_run", "load_campaign", "parse_seeds", "KEYS"]

#: Every key a campaign file may hold, with what it takes.
KEYS = {
    "name": "the campaign's name (letters, digits, '.', '_', '-'); default: the file's name",
    "scenarios": "scenario names (lwkt-soc list)",
    "seeds": 'seeds: integers and ranges "A-B"',
    "cpus": 'CPU counts, or "default" for the scenario\'s',
    "fifo_depths": "IPI FIFO depths (powers of two in 2..1024)",
    "faults": 'fault sets: "none", "all" or comma-separated fault names, one set per entry',
    "sims": f"simulators: {', '.join(SIMULATORS)}",
    "cost_models": "cost models: zero, default or the path of a JSON table",
    "coverage": "true: record the functional coverage bins of every run (hardware bins included)",
    "cycles": "cycle budget of every run (default: each scenario's)",
    "ram_words": f"shared RAM size in words (default {SocConfig.ram_words})",
    "keep": "run folders to keep: failed (default), all or none",
    "shrink": "true (default): shrink one failing random seed per new failure signature",
    "shrink_runs": "at most this many runs per shrink (default 40)",
    "batch": "runs per Dask task (default 1; more for very short runs on very many workers)",
    "spread": "true: deal the seeds out over the configurations, one run per seed, instead of every seed "
    "on every configuration (default false)",
    "plant_bug": "tests only: a planted scheduling bug in every run",
    "scenario_modules": "tests only: modules to import that declare more scenarios",
    "cluster": "a table of dask-jobqueue options for --cluster (docs/campaigns.md)",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: Keeping of run folders.
KEEP = ("failed", "all", "none")
#: More runs than this in one campaign is surely a typo in a range.
MAX_RUNS = 1_000_000


@dataclass(frozen=True, eq=False)
class RunSpec:
    """One run of a campaign: its RunConfig (a request: CPUs and the cost model's path resolved, the cycle
    budget None for the scenario's) and the campaign's name. Its configuration, id, label, folder and the
    command that repeats it come from RunConfig's fields (``sim/contract/run_options.py``)."""

    campaign: str
    run: RunConfig
    #: A cost table's SHA-256, so that an edited table is another configuration ("" for zero and default).
    cost_model_sha: str = ""

    def config(self) -> dict:
        """What makes a configuration: everything but the campaign and the seed."""
        return {**config_record(self.run), "cost_model_sha": self.cost_model_sha}

    @property
    def config_id(self) -> str:
        return hashlib.sha256(json.dumps(self.config(), sort_keys=True).encode()).hexdigest()[:12]

    def run_key(self, digest: str) -> str:
        """Unique per campaign, source digest, configuration and seed."""
        text = json.dumps([self.campaign, digest, self.config_id, self.run.seed])
        return hashlib.sha256(text.encode()).hexdigest()[:40]

    @property
    def label(self) -> str:
        return config_label(self.config())

    @property
    def mutant(self) -> tuple[str, str, str]:
        """Which mutant the run meets: (planted kernel bug, hardware mutant, generated mutant of the sources);
        ("", "", "") for none."""
        return self.run.bug, self.run.mutant, self.run.source_mutant

    @property
    def run_dir(self) -> str:
        """The run's folder name inside the campaign's folder."""
        r = self.run
        return f"{r.scenario}-c{r.cpus}-f{r.fifo_depth}-{r.sim}-{self.config_id[:6]}-s{r.seed}"

    def run_options(self) -> list[str]:
        """The ``lwkt-soc run`` options that repeat this run (without --out: the run has none of its own)."""
        return run_arguments(self.run)

    def with_seed(self, seed: int) -> RunSpec:
        return replace(self, run=replace(self.run, seed=seed))

    def as_dict(self) -> dict:
        """The campaign's record of the run (its configuration, campaign and seed): what a Dask task gets."""
        return {"campaign": self.campaign, "seed": self.run.seed, **self.config()}

    @classmethod
    def from_dict(cls, data: dict) -> RunSpec:
        """The run of a record (:meth:`as_dict`, or a configuration of the results database with its campaign
        and seed)."""
        return cls(data["campaign"], RunConfig(**config_from_record(data)), data.get("cost_model_sha", ""))

    def __eq__(self, other) -> bool:
        return isinstance(other, RunSpec) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash((self.campaign, self.config_id, self.run.seed))


def config_label(config: dict) -> str:
    """A configuration in a few words: ``random 4cpu fifo8 faults=all verilator``."""
    mutant = "".join(
        f" {key.replace('_', '-')}={config[key]}" for key in ("bug", "mutant", "source_mutant") if config.get(key)
    )
    if config.get("kind") == "unit":
        return "unit tests of the RTL" + mutant
    if config.get("kind") == "directed":
        return f"directed {config['scenario']} {config['sim']}" + mutant
    faults = config["faults"]
    if faults != NO_FAULTS and sorted(faults.split(",")) == sorted(FAULTS):
        faults = ALL_FAULTS
    text = f"{config['scenario']} {config['cpus']}cpu fifo{config['fifo_depth']} faults={faults} {config['sim']}"
    if config["cost_model"] != DEFAULT_COST_MODEL:
        text += f" cost={Path(config['cost_model']).name}"
    if config.get("ram_words", SocConfig.ram_words) != SocConfig.ram_words:
        text += f" ram={config['ram_words']}"
    if config.get("cycles"):
        text += f" cycles={config['cycles']}"
    if config.get("bug"):
        text += f" bug={config['bug']}"
    if config.get("mutant"):
        text += f" mutant={config['mutant']}"
    if config.get("source_mutant"):
        text += f" source-mutant={config['source_mutant']}"
    return text


@dataclass(frozen=True)
class Campaign:
    """A campaign as written; :meth:`expand` turns it into runs."""

    name: str = "campaign"
    scenarios: tuple[str, ...] = ("random",)
    seeds: tuple[int, ...] = tuple(range(1, 21))
    cpus: tuple[int | None, ...] = (None,)  # None: the scenario's own count
    fifo_depths: tuple[int, ...] = (SocConfig.fifo_depth,)
    faults: tuple[str, ...] = (NO_FAULTS,)
    sims: tuple[str, ...] = (DEFAULT_SIM,)
    cost_models: tuple[str, ...] = (DEFAULT_COST_MODEL,)
    coverage: bool = False
    cycles: int | None = None
    ram_words: int = SocConfig.ram_words
    keep: str = "failed"
    shrink: bool = True
    shrink_runs: int = 40
    batch: int = 1
    spread: bool = False
    plant_bug: str = ""
    scenario_modules: tuple[str, ...] = ()
    cluster: dict = field(default_factory=dict)
    #: A mutation campaign (make mutants): the first failing run of a mutant kills it, and its other runs
    #: are not run (RunSpec.mutant).
    stop_mutant_at_failure: bool = False
    #: Seconds of wall-clock time a run may take before it is stopped and fails as a hang (None: no limit;
    #: mutation campaigns set one, sim/campaigns/tasks.py's WallLimit).
    run_wall_limit: float | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in data.items()}

    def expand(self) -> Expansion:
        """Every run, in a stable order (configuration by configuration, seeds ascending), and the
        configurations left out with why. A usage error when nothing can run.

        With ``spread`` the seeds are dealt out instead, one run per seed: a matrix of M configurations
        and N seeds is N runs, each configuration getting N/M seeds of its own (rounded). The runs come
        configuration by configuration."""
        _check_values(self)
        bases, skipped = [], []
        for base, why in self._configs():
            if why:
                skipped.append(why)
            else:
                bases.append(base)
        skipped = list(dict.fromkeys(skipped))
        if not bases:
            raise UsageError(
                f"campaign {self.name}: no configuration can run" + (f" ({skipped[0]})" if skipped else "")
            )
        if (len(self.seeds) if self.spread else len(bases) * len(self.seeds)) > MAX_RUNS:
            raise UsageError(f"campaign {self.name}: more than {MAX_RUNS:,} runs; check the seed ranges")
        if not self.spread:
            return Expansion([base.with_seed(seed) for base in bases for seed in self.seeds], skipped)
        # Consecutive seeds go to cells far apart in the product (a stride near n/phi, coprime
        # with n), so that even a few seeds vary every dimension, not only the innermost.
        n = len(bases)
        stride = next(s for s in range(max(1, round(n * 0.618)), 2 * n + 2) if math.gcd(s, n) == 1)
        dealt: list[list[RunSpec]] = [[] for _ in bases]
        for i, seed in enumerate(self.seeds):
            cell = (i * stride) % n
            dealt[cell].append(bases[cell].with_seed(seed))
        return Expansion([run for cell in dealt for run in cell], skipped)

    def _configs(self):
        """(run template, "") for each configuration of the product, or (None, why it cannot run)."""
        for scenario in self.scenarios:
            for cpus in self.cpus:
                for fifo in self.fifo_depths:
                    for faults in self.faults:
                        for sim in self.sims:
                            for cost in self.cost_models:
                                yield _config(self, scenario, cpus, fifo, faults, sim, cost)


@dataclass
class Expansion:
    runs: list[RunSpec]
    skipped: list[str]

    @property
    def configs(self) -> dict[str, RunSpec]:
        """config_id -> its first run."""
        found: dict[str, RunSpec] = {}
        for run in self.runs:
            found.setdefault(run.config_id, run)
        return found


def _check_values(c: Campaign) -> None:
    """Names and ranges that are wrong whatever they are combined with: a usage error naming the key."""
    from firmware.cost_model import CostModelError, load_cost_model
    from firmware.bugs import BUGS
    from hdl.config import ConfigError
    from sim.contract.catalogue import parse_faults
    from sim.contract.catalogue import scenario_info as get_scenario
    import importlib

    if not _NAME.match(c.name):
        raise UsageError(f"campaign name {c.name!r}: use letters, digits, '.', '_' and '-' (at most 64)")
    for key in ("scenarios", "seeds", "cpus", "fifo_depths", "faults", "sims", "cost_models"):
        if not getattr(c, key):
            raise UsageError(f"campaign {c.name}: {key} is empty")
    for module in c.scenario_modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UsageError(f"scenario_modules: cannot import {module} ({exc})") from None
    for name in c.scenarios:
        try:
            get_scenario(name)
        except KeyError as exc:
            raise UsageError(exc.args[0]) from None
    for seed in c.seeds:
        if seed < 0:
            raise UsageError(f"seeds: {seed} is negative; seeds are integers >= 0")
    try:
        for cpus in c.cpus:
            if cpus is not None:
                SocConfig(ncpu=cpus)
        for depth in c.fifo_depths:
            SocConfig(fifo_depth=depth)
        SocConfig(ram_words=c.ram_words)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    for faults in c.faults:
        try:
            parse_faults(faults)
        except ValueError as exc:
            raise UsageError(f"faults: {exc}") from None
    for sim in c.sims:
        if sim not in SIMULATORS:
            raise UsageError(f"sims: unknown simulator {sim!r}; simulators: {', '.join(SIMULATORS)}")
    for model in c.cost_models:
        try:
            load_cost_model(model)
        except CostModelError as exc:
            raise UsageError(f"cost_models: {exc}") from None
    if c.plant_bug and c.plant_bug not in BUGS:
        raise UsageError(f"plant_bug: unknown planted bug {c.plant_bug!r}; known: {', '.join(BUGS)}")
    if c.keep not in KEEP:
        raise UsageError(f"keep: {c.keep!r}; one of {', '.join(KEEP)}")
    if c.cycles is not None and c.cycles <= 0:
        raise UsageError(f"cycles: {c.cycles} must be > 0")
    if c.shrink_runs < 1:
        raise UsageError(f"shrink_runs: {c.shrink_runs} must be at least 1")
    if c.batch < 1:
        raise UsageError(f"batch: {c.batch} must be at least 1")


def _config(
    c: Campaign, scenario: str, cpus: int | None, fifo: int, faults: str, sim: str, cost: str
) -> tuple[RunSpec | None, str]:
    """The run template of one configuration, or why it cannot run (the rules of ``lwkt-soc run``,
    sim/contract/resolve.py)."""
    from firmware.cost_model import COST_MODEL_NAMES
    from sim.contract.catalogue import scenario_info
    from sim.contract.resolve import RunError, default_cpus, resolve_run

    request = RunConfig(
        scenario,
        seed=0,
        sim=sim,
        cpus=cpus or default_cpus(scenario_info(scenario)),
        fifo_depth=fifo,
        ram_words=c.ram_words,
        cycles=c.cycles,
        faults=[faults],
        cost_model=cost,
        bug=c.plant_bug,
        hw_coverage=c.coverage,
        scenario_modules=list(c.scenario_modules),
    )
    try:
        resolved = resolve_run(request)
    except RunError as exc:
        what = f"{scenario} on {request.cpus} CPU(s)" + (f" with faults {faults}" if exc.field == "faults" else "")
        return None, f"{what}: {exc.reason}"
    cost_sha = ""
    if resolved.cost_model not in COST_MODEL_NAMES:
        cost_sha = hashlib.sha256(Path(resolved.cost_model).read_bytes()).hexdigest()
    # The campaign keeps its request (the cycle budget stays None, the scenario's), with the fault set in
    # the catalogue's order and the cost table's absolute path: the configuration's id is made of these.
    run = replace(request, faults=sorted(resolved.faults, key=FAULTS.index), cost_model=resolved.cost_model)
    return RunSpec(c.name, run, cost_sha), ""


def campaign_run(name: str, run: RunConfig) -> RunSpec:
    """The scenario run ``run`` asks for as a run of campaign ``name``: checked and resolved as a
    campaign's product is (a usage error when it cannot run), with the fields a campaign's lists do
    not set (code coverage, a spec file, a hardware mutant) kept. For runs that are no product of
    lists: make mutants' kill suites, make coverage's runs."""
    (spec,) = (
        Campaign(
            name=name,
            scenarios=(run.scenario,),
            seeds=(run.seed,),
            cpus=(run.cpus,),
            fifo_depths=(run.fifo_depth,),
            faults=(",".join(run.faults) or NO_FAULTS,),
            sims=(run.sim,),
            cost_models=(run.cost_model,),
            coverage=run.hw_coverage,
            cycles=run.cycles,
            ram_words=run.ram_words,
            plant_bug=run.bug,
        )
        .expand()
        .runs
    )
    kept = replace(spec.run, spec=run.spec, rtl_coverage=run.rtl_coverage, fw_coverage=run.fw_coverage)
    return RunSpec(name, replace(kept, mutant=run.mutant, source_mutant=run.source_mutant), spec.cost_model_sha)


def parse_seeds(value) -> tuple[int, ...]:
    """Seeds from an integer, a string "1-40,50" or a list of both; sorted, each once."""
    items = value if isinstance(value, list) else [value]
    seeds: set[int] = set()
    for item in items:
        if isinstance(item, bool):
            raise UsageError(f"seeds: {item!r} is not a seed")
        if isinstance(item, int):
            seeds.add(item)
            continue
        if not isinstance(item, str):
            raise UsageError(f'seeds: {item!r} is not a seed or a range "A-B"')
        for part in filter(None, (p.strip() for p in item.split(","))):
            match = re.fullmatch(r"(\d+)\s*(?:-|\.\.)\s*(\d+)", part)
            if match:
                low, high = int(match[1]), int(match[2])
                if high < low:
                    raise UsageError(f"seeds: range {part!r} ends before it starts")
                if high - low >= MAX_RUNS:
                    raise UsageError(f"seeds: range {part!r} has more than {MAX_RUNS:,} seeds")
                seeds.update(range(low, high + 1))
            elif re.fullmatch(r"\d+", part):
                seeds.add(int(part))
            else:
                raise UsageError(f'seeds: {part!r} is not a seed or a range "A-B"')
    if not seeds:
        raise UsageError("seeds: no seed given")
    return tuple(sorted(seeds))


def _list(key: str, value, kind) -> tuple:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, kind) or isinstance(item, bool) and kind is not bool:
            raise UsageError(f"{key}: {item!r} is not {'a number' if kind is int else 'a string'}")
    return tuple(items)


def _cpus(value) -> tuple[int | None, ...]:
    items = value if isinstance(value, list) else [value]
    result = []
    for item in items:
        if item == "default":
            result.append(None)
        elif isinstance(item, int) and not isinstance(item, bool):
            result.append(item)
        else:
            raise UsageError(f'cpus: {item!r} is not a CPU count or "default"')
    return tuple(dict.fromkeys(result))


def campaign_from_mapping(data: dict, *, default_name: str = "campaign", where: str = "campaign") -> Campaign:
    """A Campaign from a TOML table (or options turned into one); unknown keys and wrong types are usage
    errors naming the key."""
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(KEYS)}")
    values: dict = {"name": default_name}
    for key, value in data.items():
        if key == "name":
            if not isinstance(value, str):
                raise UsageError(f"{where}: name must be a string")
            values["name"] = value
        elif key == "seeds":
            values["seeds"] = parse_seeds(value)
        elif key == "cpus":
            values["cpus"] = _cpus(value)
        elif key == "fifo_depths":
            values["fifo_depths"] = tuple(dict.fromkeys(_list(key, value, int)))
        elif key in ("scenarios", "faults", "sims", "cost_models", "scenario_modules"):
            values[key] = tuple(dict.fromkeys(_list(key, value, str)))
        elif key in ("coverage", "shrink", "spread"):
            if not isinstance(value, bool):
                raise UsageError(f"{where}: {key} must be true or false")
            values[key] = value
        elif key in ("cycles", "ram_words", "shrink_runs", "batch"):
            if not isinstance(value, int) or isinstance(value, bool):
                raise UsageError(f"{where}: {key} must be an integer")
            values[key] = value
        elif key in ("keep", "plant_bug"):
            if not isinstance(value, str):
                raise UsageError(f"{where}: {key} must be a string")
            values[key] = value
        elif key == "cluster":
            if not isinstance(value, dict):
                raise UsageError(f"{where}: cluster must be a table of dask-jobqueue options")
            values["cluster"] = dict(value)
    if "faults" in values:  # "" means no fault, as in lwkt-soc run
        values["faults"] = tuple(f or NO_FAULTS for f in values["faults"])
    return Campaign(**values)


def load_campaign(path: str | Path | None, overrides: dict | None = None) -> Campaign:
    """The campaign of a TOML file (``None``: defaults only) with ``overrides`` (from options) on top."""
    data: dict = {}
    default_name = "campaign"
    where = "campaign options"
    if path is not None:
        path = Path(path)
        where = str(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise UsageError(f"{path}: no such campaign file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: not valid TOML ({exc})") from None
        if isinstance(data.get("campaign"), dict) and len(data) == 1 + ("cluster" in data):
            cluster = data.get("cluster")  # a file may put its keys under [campaign]
            data = dict(data["campaign"], **({"cluster": cluster} if cluster is not None else {}))
        default_name = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem) or "campaign"
    data.update({key: value for key, value in (overrides or {}).items() if value is not None})
    return campaign_from_mapping(data, default_name=default_name, where=where)
