"""The cocotb test that runs a scenario (``lwkt-soc run``).

Its parameters come from the run's ``run.json`` (``sim/contract/config.py``), whose
path is the one environment variable ``LWKT_RUN_CONFIG``. While it runs it
keeps the file ``progress`` in the output folder up to date with the simulated
cycle; SIGINT or SIGTERM end the run at the next progress tick with outcome
``interrupted`` (``sim/host/interrupt.py``).
"""

# coverage.py over firmware/ when run.json asks (fw_coverage): started by this first import, before
# the firmware is imported, so that its module-level lines count too; saved at the end of run_scenario.
from sim.tb.fw_coverage_start import COVERAGE as _FW_COVERAGE

import importlib
import json
import signal
import time
from pathlib import Path

import cocotb
from cocotb.triggers import Timer

from firmware.cost_model import load_cost_model
from sim.tb.faults import FaultInjector
from sim.tb.machine import Machine
from sim.contract.config import RunConfig
from sim.contract.trace import StreamedTrace
from sim.tb.scenarios import Check, Devices, get_scenario
from sim.tb.testbench import CLOCK_PERIOD_NS, SocBench


#: The signal that asked this run to stop (sim/host/interrupt.py): checked at every progress tick.
_STOP: dict[str, int | None] = {"signal": None}


def _on_signal(signum, frame) -> None:
    _STOP["signal"] = signum


def _take_signals() -> None:
    """Make SIGINT and SIGTERM ours. Icarus's vvp installs its own handlers when its simulation
    starts, after this test began: its SIGINT and SIGTERM stop the simulation into vvp's interactive
    prompt, which without a terminal ends the simulation at once, before this side writes anything.
    Taken back at every progress tick, the signal is seen here and the run ends as ``interrupted``."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)


@cocotb.test()
async def run_scenario(dut):
    try:
        await _run_scenario(dut)
    finally:  # the firmware coverage is written however the run ends (panic, failed check, signal)
        if _FW_COVERAGE is not None:
            _FW_COVERAGE.save()


async def _run_scenario(dut):
    _take_signals()
    config = RunConfig.from_environment()
    for module in config.scenario_modules:
        importlib.import_module(module)
    name, seed, out = config.scenario, config.seed, Path(config.out)
    scenario = get_scenario(name)(seed)
    if config.spec:
        scenario.use_spec(json.loads(Path(config.spec).read_text()))
    max_cycles = config.cycles
    faults = frozenset(config.faults)
    cost_model = load_cost_model(config.cost_model)
    bench = await SocBench(dut).start()
    machine = Machine(
        bench,
        mode=config.mode,
        trace=StreamedTrace(out / "trace.jsonl"),
        cost_model=cost_model,
        hardclock_period=scenario.hardclock_period,
        untimely_switch=scenario.untimely_switch,
        faults=faults,
        seed=seed,
        bugs=frozenset(filter(None, [config.bug])),
    )
    system = machine.system
    hw_coverage = machine.protocol if config.hw_coverage else None
    devices = Devices(dut)
    scenario.attach(system, devices, machine.counters)
    for model in scenario.device_models():
        cocotb.start_soon(model)
    injector = FaultInjector(dut, system.ncpu, len(dut.ext_irq), faults, seed, scenario.device_lines())
    for coroutine in injector.coroutines(devices):
        cocotb.start_soon(coroutine)
    # The CPUs the cpu-stop fault stopped, as recorded (a long run's trace is on disk by the end).
    stopped = []
    system.record_observers.append(
        lambda k, r: stopped.append({"cpu": r["cpu"], "cycle": r["cycle"]}) if r["event"] == "cpu_stop" else None
    )
    start_cycle = machine.cores[0].cycle
    wall = time.perf_counter()
    machine.start(scenario.start_functions())

    def so_far() -> dict:  # what a snapshot adds to the counters (the end adds the rest: write_outputs)
        return {
            "scenario": name,
            "seed": seed,
            "cycles": machine.cores[0].cycle - start_cycle,
            "bus_transactions": sum(m.transactions for m in bench.masters),
            "faults": {"enabled": sorted(faults)},
        }

    cocotb.start_soon(_report_progress(out, machine, max_cycles, so_far))
    outcome = await machine.run(max_cycles)
    wall = time.perf_counter() - wall
    cycles = machine.cores[0].cycle - start_cycle
    if outcome == "done":
        await machine.quiesce()
    if system.panic is not None and system.panic.exception:
        dut._log.error("panic from a Python exception in firmware:\n%s", system.panic.exception["traceback"])

    checks = [
        Check("no panic", system.panic is None, str(system.panic) if system.panic else ""),
        Check(
            "finished within the cycle budget",
            outcome != "timeout",
            f"outcome {outcome} after {cycles} cycles (budget {max_cycles})",
        ),
    ]
    if outcome == "interrupted":
        # The workload did not end: its own checks and the end-of-run ones would judge half a run.
        checks.append(
            Check(
                "ran to the end", False, f"interrupted by {signal.Signals(_STOP['signal']).name} after {cycles} cycles"
            )
        )
    else:
        checks += [Check(*check) for check in machine.final_checks()]
    if system.panic is None and outcome != "interrupted":
        try:
            checks += scenario.checks()
        except Exception as exc:  # a check that cannot be evaluated has failed
            checks.append(Check("scenario checks evaluated", False, f"{type(exc).__name__}: {exc}"))
    machine.write_outputs(
        out,
        {
            **so_far(),
            "cycles": cycles,  # to the end of the workload, the quiesce left out
            "wall_seconds": round(wall, 6),
            "faults": {
                "enabled": sorted(faults),
                "wait_states": injector.stalls,
                "wait_state_cycles": injector.stall_cycles,
                "spurious_pulses": injector.pulses,
                "delayed_completions": sum(k.counters.get("delayed_completions", 0) for k in system.kernels),
                "stopped_cpus": sorted(stopped, key=lambda s: (s["cycle"], s["cpu"])),
                "fifo_full_drains": system.sysctl("lwkt.ipiq_fifofull") if system.mode == "smp" else 0,
                "dead_cpus": machine.checks.dead_cpus,
            },
            "checks": [c.as_dict() for c in checks],
            **({"hw_coverage": hw_coverage.hits} if hw_coverage is not None else {}),
        },
    )
    failed = [c for c in checks if not c.ok]
    for c in checks:
        dut._log.info("check %-45s %s %s", c.name, "ok" if c.ok else "FAILED", c.detail)
    assert not failed, "failed checks: " + "; ".join(f"{c.name} ({c.detail})" for c in failed)


#: The progress file is read five times a second (sim/host/run.py); writing it more often costs a
#: file write (a millisecond or more) for nothing: measured as a third of a short run's wall time.
_PROGRESS_WRITE_SECONDS = 0.2
#: How often the counters so far and the trace so far reach the disk (what a crash leaves).
_SNAPSHOT_SECONDS = 1.0


async def _report_progress(out: Path, machine: Machine, budget: int, so_far) -> None:
    """Wake a hundred times over the budget or more, write the simulated cycle at most every
    _PROGRESS_WRITE_SECONDS of wall time and a snapshot every _SNAPSHOT_SECONDS; end the run
    (outcome ``interrupted``) once a signal asked for it."""
    step = min(max(1000, budget // 100), 20_000)  # a signal is noticed within 20,000 cycles
    cpu, system = machine.cores[0], machine.system
    written = snapshot = None
    while True:
        now = time.perf_counter()
        if snapshot is None or now - snapshot >= _SNAPSHOT_SECONDS:
            machine.write_snapshot(out, so_far())
            snapshot = now
            written = None  # the progress file never lags the snapshot
        if written is None or now - written >= _PROGRESS_WRITE_SECONDS:
            (out / "progress").write_text(f"{cpu.cycle} {budget}\n")
            written = now
        if _STOP["signal"] is not None:
            system.finish("interrupted")
        await Timer(step * CLOCK_PERIOD_NS, unit="ns")
        _take_signals()
