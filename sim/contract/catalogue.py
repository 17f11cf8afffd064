"""The catalogue of scenarios and faults: what the host may ask a run for, without the code that
runs it.

Each named scenario is declared here once (:class:`ScenarioInfo`: its build, CPUs, budget, whether
devices interrupt) and implemented once in the module it names (under ``sim/tb/scenarios/``),
whose class takes these fields from here: the host checks options and lists scenarios from this
table, and only the simulator imports the implementation. Modules that declare more scenarios
(tests) call :func:`declare` and name their implementing module.

Fault injection, switchable per run (``lwkt-soc run --faults ...``).

==================  ================================================================
fault               what happens
==================  ================================================================
wait-states         random wait states on the interconnect: a CPU's port accepts no
                    request for 1-6 cycles at random times (the SoC's ``stall`` input)
spurious            the raw ext_irq lines pulse high for 1-2 cycles with no device
                    request; the interrupt threads' driver finds DEVICE REQUEST clear
delayed-complete    interrupt threads keep their source in service 20-200 cycles
                    after serving the device before they COMPLETE it
cpu-stop            the last CPU stops for good while holding the MP lock; the
                    MP-lock watchdog on CPU 0 notices and frees the lock with BUST
fifo-full           one CPU stays in a long critical section while the others burst
                    IPIs at it, so senders reach the half-full mark (ipiq_fifofull)
==================  ================================================================

The testbench-side faults (wait-states, spurious) are coroutines here; the
others act in firmware (``delayed-complete``) or in the ``random`` scenario's
workload (``cpu-stop``, ``fifo-full``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ScenarioInfo",
    "SCENARIOS",
    "declare",
    "scenario_info",
    "DEFAULT_CYCLES",
    "FAULTS",
    "ALL_FAULTS",
    "NO_FAULTS",
    "parse_faults",
    "faults_that_act",
    "check_faults",
]


#: A scenario's cycle budget unless it declares its own.
DEFAULT_CYCLES = 200_000


@dataclass(frozen=True)
class ScenarioInfo:
    """A named scenario as the host sees it. ``module`` implements it in the simulator."""

    name: str
    description: str
    module: str
    mode: str = "up"
    #: CPUs when the run does not say (an up scenario run on the smp build gets 1).
    cpus: int = 1
    #: The fewest CPUs the scenario means anything on (fewer is a usage error).
    min_cpus: int = 1
    #: External devices interrupt in this scenario (spurious pulses and delayed completions can act).
    uses_devices: bool = False
    #: The cycle budget when the run does not give one.
    max_cycles: int = DEFAULT_CYCLES


SCENARIOS: dict[str, ScenarioInfo] = {}


def declare(info: ScenarioInfo) -> ScenarioInfo:
    """Add ``info`` to the catalogue (a name declared twice is an error)."""
    if info.name in SCENARIOS and SCENARIOS[info.name] != info:
        raise ValueError(f"scenario {info.name!r} is declared twice")
    SCENARIOS[info.name] = info
    return info


def scenario_info(name: str) -> ScenarioInfo:
    try:
        return SCENARIOS[name]
    except KeyError:
        valid = ", ".join(sorted(SCENARIOS))
        raise KeyError(f"unknown scenario {name!r}; valid scenarios: {valid}") from None


_UP = "sim.tb.scenarios.up"
_SMP = "sim.tb.scenarios.smp"
for _info in (
    ScenarioInfo(
        "up-idle", "one idle core taking a 1000-cycle hardclock for 200 ticks (no threads)", _UP, max_cycles=260_000
    ),
    ScenarioInfo(
        "up-basic",
        "producers and a consumer on a wait queue at several priorities, plus "
        "equal-priority background threads taking turns",
        _UP,
    ),
    ScenarioInfo(
        "up-preempt",
        "two devices interrupting at seeded times; their interrupt threads preempt "
        "kernel threads, which also run critical sections that defer the interrupts",
        _UP,
        uses_devices=True,
    ),
    ScenarioInfo(
        "up-untimely",
        "lwkt.untimely_switch on: equal-priority threads switch at every "
        "lwkt_yield_quick, as wakeup() would have with preemption",
        _UP,
    ),
    ScenarioInfo(
        "smp-idle",
        "every core idle, each taking its own 1000-cycle hardclock, until each has had "
        "50 ticks (no threads): the simulator's own speed on the whole SoC",
        _SMP,
        mode="smp",
        cpus=4,
        max_cycles=70_000,
    ),
    ScenarioInfo(
        "smp-pingpong",
        "one token passed back and forth between the CPUs; a shared counter updated under it",
        _SMP,
        mode="smp",
        cpus=4,
        min_cpus=2,
    ),
    ScenarioInfo(
        "smp-ipi-storm",
        "every CPU fires IPIs at every other as fast as it can; with a small FIFO "
        "depth the senders hit the half-full mark and drain their own queues (ipiq_fifofull)",
        _SMP,
        mode="smp",
        cpus=4,
        min_cpus=2,
    ),
    ScenarioInfo(
        "smp-mplock",
        "threads that need the MP lock on every CPU (a shared counter updated under "
        "it) beside MP-safe threads that run while the lock is busy elsewhere",
        _SMP,
        mode="smp",
        cpus=4,
    ),
    ScenarioInfo(
        "smp-mixed",
        "a seeded mix: threads blocked on a shared wait queue woken from other CPUs, a "
        "token shared by all, IPIs, MP-lock holders and device interrupts routed to two CPUs",
        _SMP,
        mode="smp",
        cpus=4,
        min_cpus=2,
        uses_devices=True,
    ),
    ScenarioInfo(
        "smp-mp-fallback",
        "CPU 0 holds the MP lock for a long stretch; on every other CPU a thread "
        "that needs it heads the run queue, and lwkt_switch falls back to the MP-safe threads of the "
        "same priority behind it, in turn (v1.18's pick with the lock busy elsewhere)",
        _SMP,
        mode="smp",
        cpus=4,
        min_cpus=2,
    ),
    ScenarioInfo(
        "random",
        "a seeded random workload: threads, priorities, work, tokens, remote wake-ups, "
        "IPIs, MP-lock sections and device interrupts, all drawn from the seed (--faults to inject "
        "faults)",
        "sim.tb.scenarios.random_workload",
        mode="smp",
        cpus=4,
        uses_devices=True,
        max_cycles=400_000,
    ),
):
    declare(_info)


# --- faults ------------------------------------------------------------------------------------------

FAULTS = ("wait-states", "spurious", "delayed-complete", "cpu-stop", "fifo-full")
#: The names of every fault and of none, beside the faults' own.
ALL_FAULTS, NO_FAULTS = "all", "none"


def parse_faults(text: str | None) -> frozenset[str]:
    """``"all"``, ``"none"``/empty, or a comma-separated list of names from FAULTS."""
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in FAULTS and name not in (ALL_FAULTS, NO_FAULTS)]
    if unknown:
        raise ValueError(f"unknown fault {unknown[0]!r}; faults: {', '.join(FAULTS)}, {ALL_FAULTS} or {NO_FAULTS}")
    if ALL_FAULTS in names:
        return frozenset(FAULTS)
    return frozenset(name for name in names if name != NO_FAULTS)


def faults_that_act(scenario, ncpu: int) -> frozenset[str]:
    """The faults that can act in ``scenario`` (a Scenario class) on ``ncpu`` CPUs: wait states
    always; spurious pulses and delayed completions where devices interrupt; a stopped CPU and
    the FIFO-full burst only in the random workload, which builds them in (the burst needs two
    CPUs besides a stopped one)."""
    acting = {"wait-states"}
    if scenario.uses_devices:
        acting |= {"spurious", "delayed-complete"}
    if scenario.name == "random":
        if ncpu >= 2:
            acting.add("cpu-stop")
            acting.add("fifo-full")
    return frozenset(acting)


def check_faults(faults: frozenset[str], scenario, ncpu: int) -> None:
    """Every fault asked for can act here, else a ValueError naming it and what can."""
    acting = faults_that_act(scenario, ncpu)
    idle = sorted(faults - acting)
    if idle:
        raise ValueError(
            f"fault {idle[0]} cannot act in {scenario.name} on {ncpu} CPU(s); faults that can: "
            f"{', '.join(sorted(acting))}"
        )
    if {"cpu-stop", "fifo-full"} <= faults and ncpu < 3:
        raise ValueError(
            f"cpu-stop and fifo-full together need 3 CPUs (one stops, two exchange the burst); the run has {ncpu}"
        )
