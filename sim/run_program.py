"""The cocotb test that runs a scenario (``lwkt-soc run``); parameters come from the environment.

LWKT_SCENARIO, LWKT_SEED, LWKT_OUT (output folder), LWKT_CYCLES (optional cycle budget),
LWKT_MODE (optional: up or smp, default the scenario's), LWKT_COST_MODEL (zero, default or a
JSON file; default: the default table), LWKT_SCENARIO_MODULES (optional, comma-separated modules that register
more scenarios). While it runs it keeps the file
``progress`` in the output folder up to date with the simulated cycle.
"""
import importlib
import json
import os
import time
from pathlib import Path

import cocotb
from cocotb.triggers import Timer

from firmware.cost_model import load_cost_model
from sim.faults import FaultInjector, parse_faults
from sim.machine import Machine
from sim.scenarios import Check, Devices, get_scenario
from sim.testbench import CLOCK_PERIOD_NS, SocBench


@cocotb.test()
async def run_scenario(dut):
    for module in filter(None, os.environ.get("LWKT_SCENARIO_MODULES", "").split(",")):
        importlib.import_module(module)
    name = os.environ["LWKT_SCENARIO"]
    seed = int(os.environ.get("LWKT_SEED", "1"))
    out = Path(os.environ.get("LWKT_OUT", "."))
    scenario = get_scenario(name)(seed)
    max_cycles = int(os.environ.get("LWKT_CYCLES") or scenario.max_cycles)

    mode = os.environ.get("LWKT_MODE") or scenario.mode
    faults = parse_faults(os.environ.get("LWKT_FAULTS"))
    cost_model = load_cost_model(os.environ.get("LWKT_COST_MODEL") or "default")
    bench = await SocBench(dut).start()
    machine = Machine(bench, mode=mode, cost_model=cost_model, hardclock_period=scenario.hardclock_period,
                      untimely_switch=scenario.untimely_switch, faults=faults, seed=seed,
                      bugs=frozenset(filter(None, [os.environ.get("LWKT_BUG", "")])))
    system = machine.system
    devices = Devices(dut)
    scenario.attach(system, devices)
    for model in scenario.device_models():
        cocotb.start_soon(model)
    injector = FaultInjector(dut, system.ncpu, len(dut.ext_irq), faults, seed, scenario.device_lines())
    for coroutine in injector.coroutines(devices):
        cocotb.start_soon(coroutine)
    start_cycle = machine.cores[0].cycle
    wall = time.perf_counter()
    machine.start(scenario.start_functions())
    cocotb.start_soon(_report_progress(out / "progress", machine.cores[0], max_cycles))
    outcome = await machine.run(max_cycles)
    wall = time.perf_counter() - wall
    cycles = machine.cores[0].cycle - start_cycle
    if outcome == "done":
        await machine.quiesce()
    if system.panic is not None and system.panic.exception:
        dut._log.error("panic from a Python exception in firmware:\n%s", system.panic.exception["traceback"])

    checks = [Check("no panic", system.panic is None, str(system.panic) if system.panic else ""),
              Check("finished within the cycle budget", outcome != "timeout",
                    f"outcome {outcome} after {cycles} cycles (budget {max_cycles})")]
    checks += [Check(name, ok, detail) for name, ok, detail in machine.final_checks()]
    if system.panic is None:
        try:
            checks += scenario.checks()
        except Exception as exc:  # a check that cannot be evaluated has failed
            checks.append(Check("scenario checks evaluated", False, f"{type(exc).__name__}: {exc}"))
    machine.write_outputs(out)
    summary = json.loads((out / "counters.json").read_text())
    summary.update({"scenario": name, "seed": seed, "cycles": cycles, "wall_seconds": round(wall, 6),
                    "bus_transactions": sum(m.transactions for m in bench.masters),
                    "faults": {"enabled": sorted(faults), "wait_states": injector.stalls,
                               "spurious_pulses": injector.pulses, "dead_cpus": sorted(system.dead_cpus)},
                    "checks": [c.as_dict() for c in checks]})
    (out / "counters.json").write_text(json.dumps(summary, indent=2) + "\n")
    failed = [c for c in checks if not c.ok]
    for c in checks:
        dut._log.info("check %-45s %s %s", c.name, "ok" if c.ok else "FAILED", c.detail)
    assert not failed, "failed checks: " + "; ".join(f"{c.name} ({c.detail})" for c in failed)


async def _report_progress(path: Path, cpu, budget: int) -> None:
    """Write the simulated cycle about a hundred times over the budget (one wake-up each)."""
    step = max(1000, budget // 100)
    while True:
        path.write_text(f"{cpu.cycle} {budget}\n")
        await Timer(step * CLOCK_PERIOD_NS, unit="ns")
