"""The machine side of a run: cores over the SoC's ports, the kernel booted on them with its
run-time checkers (``sim/checks``), the cocotb run and quiesce loops, the hardware's own
end-of-run checks, and the outputs.

``firmware.system.System`` holds the kernel side; this module binds it to the
running SoC (the only place that does).
"""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Awaitable, Callable

import cocotb
from cocotb.triggers import Event, First, Timer

from firmware.cost_model import DEFAULT, CostModel
from firmware.lwkt import Lwkt
from firmware.panic import KernelPanic
from firmware.system import System
from sim.checks.run_checks import RunChecks, Verdict
from sim.tb.cpu import Cpu, Rendezvous
from sim.contract.hw_coverage import HwCoverage
from sim.contract.outdir import SNAPSHOT_FILE, atomic_write
from sim.tb.race import RaceDetector, describe
from sim.tb.testbench import CLOCK_PERIOD_NS, SocBench
from sim.contract.trace import Trace

__all__ = ["Machine", "new_machine"]


class Machine:
    """A System of kernels running on the cores of a started SoC bench.

    Parameters
    ----------
    bench : SocBench
        The running SoC (clock started, out of reset).
    mode : "up" or "smp"
        ``up`` runs seed v1.12 on CPU 0 alone (the other cores stay parked).
    cost_model : CostModel
        Cycles of kernel execution.
    trace : Trace
        Where the kernel's records go (default: kept in memory; ``lwkt-soc run`` streams them).
    **options
        The rest of :class:`firmware.system.System`'s options (hardclock_period,
        untimely_switch, faults, seed).
    """

    def __init__(
        self,
        bench: SocBench,
        *,
        mode: str = "up",
        cost_model: CostModel = DEFAULT,
        trace: Trace | None = None,
        **options,
    ):
        self.bench = bench
        rendezvous = Rendezvous(bench.dut.clk)
        ncpu = 1 if mode == "up" else bench.ncpu
        self.cores = [Cpu(bench.dut, master, CLOCK_PERIOD_NS, rendezvous) for master in bench.masters[:ncpu]]
        self.trace = trace if trace is not None else Trace()
        self.system = System(
            self.cores,
            mode=mode,
            fifo_depth=bench.fifo_depth,
            trace=self.trace,
            hardware=bench,
            cost_model=cost_model,
            ram_words=bench.ram_words,
            **options,
        )
        #: The run-time checkers, subscribed before any kernel runs.
        self.checks = RunChecks(self.system)
        self.done = Event()
        self.system.on_finish = self.done.set
        #: The lockset check of every shared-RAM access on the cores' ports (SMP).
        self.races: RaceDetector | None = None
        if mode == "smp":
            bench.watch_ram()  # the wait queues' trace records show them as the bus left them
            self.races = RaceDetector(self.system.ram, bench.mplock_owner, self._race).attach(bench.masters)
            self._hold_tokens_per_context(self.races)
        #: The register contract followed from every access (sim/contract/hw_coverage.py): its bins for
        #: coverage runs, and the protocol errors no kernel may make, which stop the run.
        self.protocol = HwCoverage(bench.soc_config(), self._protocol_error).attach(bench.masters)

    def _hold_tokens_per_context(self, races: RaceDetector) -> None:
        """Tell the race detector which context of a CPU makes each access (the thread running there
        and its interrupt nesting level) and which contexts hold which tokens."""
        kernels = self.system.kernels

        def context_of(cpu: int) -> tuple[int, int]:
            k = kernels[cpu]
            return (k.curthread.td_id if k.curthread else 0, k.gd_intr_nesting_level)

        races.context_of = context_of
        on = self.system.on_tracepoint
        on("token:enter", lambda k, tok: races.entered(k.gd_cpuid, tok.ram_word))
        on("token:leave", lambda k, tok: races.left(k.gd_cpuid, tok.ram_word))
        on("token:given_away", lambda k, tok: races.given_away(k.gd_cpuid, tok.ram_word))
        on("token:reheld", lambda k, tok: races.reheld(k.gd_cpuid, tok.ram_word))

    def _race(self, race: dict) -> None:
        """A race stops the run like any failed check: a panic on the CPU that made the access."""
        self._check_failed(describe(race), race["cpu"], race["cycle"])

    def _protocol_error(self, event: str, cycle: int, cpu: int) -> None:
        what = {
            "mplock.release-not-owner": "RELEASE of the MP lock by a CPU that does not own it",
            "intc.complete-not-in-service": "COMPLETE of an interrupt source that is not in service",
        }[event]
        self._check_failed(f"protocol: cycle {cycle}: cpu {cpu}: {what}", cpu, cycle)

    def _check_failed(self, message: str, cpu: int, cycle: int) -> None:
        system = self.system
        if system.panic is None and cpu < len(system.kernels):
            k = system.kernels[cpu]
            td = k.curthread
            raise KernelPanic(
                f"check failed: {message}", k.gd_cpuid, td.td_comm if td else "-", td.td_id if td else 0, cycle
            )

    def start(self, start: dict[int, Callable[[Lwkt], Awaitable[None]]] | None = None) -> None:
        """Boot every kernel; ``start[cpu](kernel)`` runs in CPU ``cpu``'s boot context."""
        start = start or {}
        for k in self.system.kernels:
            cocotb.start_soon(k.idle_main(start.get(k.gd_cpuid)))

    async def run(self, max_cycles: int) -> str:
        """Wait until the workload finishes, panics, or ``max_cycles`` pass; returns the outcome."""
        timeout = Timer(max_cycles * CLOCK_PERIOD_NS, unit="ns")
        await First(self.done.wait(), timeout)
        if self.system.outcome is None:
            self.system.outcome = "timeout"
        return self.system.outcome

    async def run_on(self, cycles: int) -> None:
        """Let the kernels run ``cycles`` more cycles (after the run ended: what threads were in
        the middle of, such as an exit, completes)."""
        await Timer(cycles * CLOCK_PERIOD_NS, unit="ns")

    async def quiesce(self, max_cycles: int = 5000) -> None:
        """After the workload: let messages still in flight arrive before the final checks."""
        step = 10
        for _ in range(max_cycles // step):
            if not self.checks.in_flight():
                return
            await Timer(step * CLOCK_PERIOD_NS, unit="ns")

    def final_checks(self) -> list[Verdict]:
        """End-of-run checks: the scoreboard's and the counters against the trace; in the SMP build
        also the hardware's sticky error flags, the RAM race detector's and the other run-time
        checkers'."""
        scoreboard = self.checks.scoreboard_verdict()
        counters = self.checks.counter_verdict()
        if self.system.mode != "smp":
            return [scoreboard, counters]
        flags = self.bench.ipi_error_flags()
        bad = flags["wof"] or flags["roe"]
        races = self.races
        return [
            ("WOF and ROE stay clear", not bad, f"WOF on {flags['wof']}, ROE on {flags['roe']}" if bad else "", True),
            (
                "no race on the shared RAM (lockset check of every access)",
                not races.races,
                f"{races.checked} guarded accesses of {races.accesses} checked"
                + (f"; first: {describe(races.races[0])}" if races.races else ""),
                races.checked > 0,
            ),
            scoreboard,
            counters,
        ] + self.checks.smp_verdicts()

    def write_snapshot(self, out: Path, summary: dict | None = None) -> None:
        """The counters so far with ``summary`` (``.counters.json.snapshot``), and the trace so far pushed to
        its spool: what the host reports if the simulator dies (sim/host/run.py)."""
        self.trace.flush()
        try:
            atomic_write(out / SNAPSHOT_FILE, json.dumps({**self.counters(), **(summary or {})}) + "\n")
        except OSError:
            pass  # a full disk: the run goes on, and its outputs at the end say which file could not be written

    def counters(self) -> dict:
        """The kernels' counters, then the checkers' figures: the body of counters.json."""
        kernel = self.system.counters()
        return {**kernel, **self.checks.counters(kernel["total"])}

    def write_outputs(self, out: Path, summary: dict | None = None) -> None:
        """The trace and ``counters.json`` (the kernel's counters, with ``summary`` of the run), each
        written once, atomically."""
        out.mkdir(parents=True, exist_ok=True)
        self.trace.write_jsonl(out / "trace.jsonl")
        system = self.system
        result = {
            "outcome": system.outcome,
            "panic": system.panic.as_dict() if system.panic else None,
            **self.counters(),
        }
        if self.races is not None:
            races = self.races
            result["shared_ram"] = {"accesses": races.accesses, "guarded": races.checked, "races": len(races.races)}
        result.update(summary or {})
        atomic_write(out / "counters.json", json.dumps(result, indent=2) + "\n")
        (out / SNAPSHOT_FILE).unlink(missing_ok=True)


async def new_machine(dut, *, mode: str = "up", **options) -> Machine:
    """Start a freshly reset SoC and put a (not yet booted) kernel on it."""
    bench = await SocBench(dut).start()
    return Machine(bench, mode=mode, **options)
