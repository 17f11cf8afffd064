"""One run of the kernel on the simulated SoC: its CPUs, trace, sysctl settings and outcome."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Awaitable, Callable

import cocotb
from cocotb.triggers import Event, First, Timer

from sim.cpu import Cpu
from sim.testbench import CLOCK_PERIOD_NS, SocBench
from sim.trace import Trace
from .lwkt import COUNTERS, Lwkt
from .panic import KernelPanic

__all__ = ["System", "MODES"]

MODES = ("up", "smp")


class System:
    """The kernel instances of a run and what they share that is not kernel state.

    Parameters
    ----------
    bench : SocBench
        The running SoC.
    mode : "up" or "smp"
        ``up`` reproduces seed v1.12 on CPU 0 alone (other cores stay parked);
        ``smp`` runs a kernel on every core.
    hardclock_period : int
        Cycles between timer interrupts; 0 leaves the timer off.
    untimely_switch : int
        Initial value of the sysctl ``lwkt.untimely_switch``.
    """

    def __init__(self, bench: SocBench, *, mode: str = "up", hardclock_period: int = 0,
                 untimely_switch: int = 0):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.bench = bench
        self.mode = mode
        self.uses_ipi = mode == "smp"
        self.hardclock_period = hardclock_period
        self.hardclock_hooks: list[Callable[[Lwkt], Awaitable[None]]] = []
        self.settings = {"lwkt.untimely_switch": int(untimely_switch)}
        self.trace = Trace()
        self.panic: KernelPanic | None = None
        self.done = Event()
        self.outcome: str | None = None
        self._tid = 0
        ncpu = 1 if mode == "up" else bench.ncpu
        self.cpus = [Cpu(bench.dut, master, CLOCK_PERIOD_NS) for master in bench.masters[:ncpu]]
        self.kernels = [Lwkt(self, cpu) for cpu in self.cpus]

    # -- shared bookkeeping --------------------------------------------------------------------

    def next_tid(self) -> int:
        self._tid += 1
        return self._tid

    @property
    def untimely_switch(self) -> int:
        return self.settings["lwkt.untimely_switch"]

    def sysctl(self, name: str) -> int:
        """Read a sysctl by name: ``lwkt.switch_count`` (summed over CPUs), ``lwkt.untimely_switch``."""
        if name in self.settings:
            return self.settings[name]
        prefix, _, counter = name.partition(".")
        if prefix == "lwkt" and counter in self.kernels[0].counters:
            return sum(k.counters[counter] for k in self.kernels)
        raise KeyError(f"unknown sysctl {name!r}; known: {', '.join(self.sysctl_names())}")

    def sysctl_set(self, name: str, value: int) -> None:
        if name not in self.settings:
            raise KeyError(f"sysctl {name!r} is read-only or unknown")
        self.settings[name] = int(value)

    def sysctl_names(self) -> list[str]:
        names = set(self.settings) | {f"lwkt.{c}" for k in self.kernels for c in k.counters}
        return sorted(names)

    def counters(self) -> dict:
        """Every counter, per CPU and in total."""
        per_cpu = []
        for k in self.kernels:
            entry = {"cpu": k.gd_cpuid, **k.counters, "hardclock_ticks": k.hardclock_ticks,
                     "interrupts": k.interrupts_taken, "interrupts_deferred": k.interrupts_deferred,
                     "threads_allocated": k.threads_allocated, "threads_freed": k.threads_freed,
                     "free_cache": k.gd_tdfreecount, "work_cycles": k.cpu.work_cycles,
                     "idle_cycles": k.cpu.idle_cycles}
            per_cpu.append(entry)
        total = {}
        for entry in per_cpu:
            for key, value in entry.items():
                if key != "cpu":
                    total[key] = total.get(key, 0) + value
        return {"mode": self.mode, "settings": dict(self.settings),
                "sysctl": {f"lwkt.{c}": self.sysctl(f"lwkt.{c}") for c in COUNTERS},
                "per_cpu": per_cpu, "total": total}

    # -- running -------------------------------------------------------------------------------

    def on_panic(self, panic: KernelPanic) -> None:
        if self.panic is None:
            self.panic = panic
            self.trace.emit(panic.cycle, panic.cpu, panic.tid, panic.thread, "panic", message=panic.message)
            self.finish("panic")

    def finish(self, outcome: str = "done") -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.done.set()

    def start(self, start: dict[int, Callable[[Lwkt], Awaitable[None]]] | None = None) -> None:
        """Boot every kernel; ``start[cpu](kernel)`` runs in CPU ``cpu``'s boot context."""
        start = start or {}
        for k in self.kernels:
            cocotb.start_soon(k.idle_main(start.get(k.gd_cpuid)))

    async def run(self, max_cycles: int) -> str:
        """Wait until the workload finishes, panics, or ``max_cycles`` pass; returns the outcome."""
        timeout = Timer(max_cycles * CLOCK_PERIOD_NS, unit="ns")
        await First(self.done.wait(), timeout)
        if self.outcome is None:
            self.outcome = "timeout"
        return self.outcome

    def write_outputs(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.trace.write_jsonl(out / "trace.jsonl")
        result = {"outcome": self.outcome, "panic": self.panic.as_dict() if self.panic else None,
                  **self.counters()}
        (out / "counters.json").write_text(json.dumps(result, indent=2) + "\n")
