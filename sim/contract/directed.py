"""The directed cocotb modules, and the runs of them the tests, ``make mutants`` and ``make coverage``
use: one table.

A directed module (``sim/tb/directed/``) is a cocotb test module of the kernel's or the register
contract's own (as opposed to a scenario under ``lwkt-soc run``). Each gets its configuration as run.json like every
run (:meth:`sim.contract.config.RunConfig.directed`): CPUs and sizes, a planted bug, the coverage
it should record. ``uses`` says which flows run it besides its own test: ``mutants`` (the kill
suite of ``make mutants``) and ``coverage`` (firmware and hardware coverage of ``make coverage``).
"""

from __future__ import annotations

from dataclasses import dataclass

from hdl.config import SocConfig

__all__ = ["DirectedRun", "DIRECTED_RUNS", "DIRECTED_PACKAGE", "REGISTER_MODULES", "directed_run"]

#: Where the directed modules live (sim/tb/directed/).
DIRECTED_PACKAGE = "sim.tb.directed"

#: The uniprocessor kernel's SoC: one CPU, small RAM and FIFOs, every external line.
_UP = SocConfig(ncpu=1, fifo_depth=4, ram_words=256, ext_lines=4)


@dataclass(frozen=True)
class DirectedRun:
    name: str
    #: Its module's name in DIRECTED_PACKAGE.
    module: str
    soc: SocConfig
    #: Only these cocotb tests of the module (None: all of them).
    testcase: tuple[str, ...] | None = None
    uses: tuple[str, ...] = ()

    @property
    def module_path(self) -> str:
        """The module's full name, as the simulator imports it."""
        return f"{DIRECTED_PACKAGE}.{self.module}"


DIRECTED_RUNS: dict[str, DirectedRun] = {
    run.name: run
    for run in (
        DirectedRun("smp_kernel", "smp_kernel", SocConfig(ncpu=2), uses=("mutants", "coverage")),
        DirectedRun("smp_kernel_mp", "smp_kernel_mp", SocConfig(ncpu=2), uses=("mutants", "coverage")),
        DirectedRun(
            "smp_kernel-4cpu",
            "smp_kernel",
            SocConfig(ncpu=4),
            testcase=("schedule_follows_wait_queue_token", "a_message_that_arrives_during_a_pass_waits_for_the_next"),
            uses=("mutants",),
        ),
        DirectedRun(
            "smp_kernel_ipiq", "smp_kernel_ipiq", SocConfig(ncpu=2, fifo_depth=4), uses=("mutants", "coverage")
        ),
        DirectedRun("interleavings", "interleavings", SocConfig(ncpu=2, fifo_depth=4), uses=("mutants", "coverage")),
        DirectedRun("migration", "migration", SocConfig(ncpu=4), uses=("mutants", "coverage")),
        DirectedRun("watchdog", "watchdog", SocConfig(ncpu=4), uses=("mutants",)),
        DirectedRun("hold_rele", "hold_rele", SocConfig(ncpu=2), uses=("mutants", "coverage")),
        DirectedRun("up_kernel", "up_kernel", _UP, uses=("mutants", "coverage")),
        DirectedRun("up_intr", "up_intr", _UP, uses=("mutants", "coverage")),
        DirectedRun("race", "race", SocConfig(ncpu=2)),
        DirectedRun("isolation", "isolation", SocConfig(ncpu=4, fifo_depth=4, ram_words=256, ext_lines=2)),
    )
}

#: The register contract's modules: they take any configuration, and ``make coverage`` runs them on
#: every one its runs use (isolation needs two CPUs or more).
REGISTER_MODULES = ("isolation", "soc_checks", "register_corners")


def directed_run(name: str) -> DirectedRun:
    try:
        return DIRECTED_RUNS[name]
    except KeyError:
        raise KeyError(f"no directed run {name!r}; known: {', '.join(DIRECTED_RUNS)}") from None
