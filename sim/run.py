"""``lwkt-soc run``: build the SoC for a scenario, run it, collect trace, counters and waveform."""
from __future__ import annotations

import importlib
import json
import shutil
import sys
from pathlib import Path

from hdl.config import SocConfig
from .build import build_soc
from .runner import run_cocotb
from .scenarios import get_scenario

__all__ = ["run_scenario"]


def run_scenario(name: str, *, sim: str = "verilator", seed: int = 1, out: Path, cpus: int | None = None,
                 cycles: int | None = None, fifo_depth: int = SocConfig.fifo_depth, waves: bool = False,
                 quiet: bool = False, scenario_modules: tuple[str, ...] = ()) -> int:
    """Run scenario ``name``; returns the exit code (0 every check held, 1 otherwise).

    ``scenario_modules`` are imported (here and in the simulator) to register
    scenarios defined outside this package.
    """
    for module in scenario_modules:
        importlib.import_module(module)
    scenario = get_scenario(name)
    ncpu = cpus or scenario.cpus
    config = SocConfig(ncpu=ncpu, fifo_depth=fifo_depth)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("trace.jsonl", "counters.json", "waves.fst", "waves.vcd"):
        (out / stale).unlink(missing_ok=True)

    def say(text=""):
        if not quiet:
            print(text, flush=True)

    say(f"building the {ncpu}-CPU SoC for {sim} ...")
    build = build_soc(sim, config, waves=waves)
    say(f"running {name} (seed {seed}) ...")
    env = {"LWKT_SCENARIO": name, "LWKT_SEED": str(seed), "LWKT_OUT": str(out),
           "LWKT_SCENARIO_MODULES": ",".join(scenario_modules)}
    if cycles:
        env["LWKT_CYCLES"] = str(cycles)
    result = run_cocotb(build, "sim.run_program", test_dir=out, waves=waves, extra_env=env)
    wave = _collect_waveform(build, out) if waves else None

    counters_path = out / "counters.json"
    ok = result.ok
    if counters_path.exists():
        summary = json.loads(counters_path.read_text())
        say(f"\n{'PASSED' if ok else 'FAILED'}: {name} on {sim}, {ncpu} CPU(s), seed {seed}: "
            f"{summary['outcome']} after {summary['cycles']} cycles ({summary['wall_seconds']:.2f} s)")
        if summary.get("panic"):
            p = summary["panic"]
            say(f"  panic: {p['message']} (cpu {p['cpu']}, thread {p['thread']} #{p['tid']}, cycle {p['cycle']})")
        for check in summary["checks"]:
            say(f"  [{'ok' if check['ok'] else 'FAILED'}] {check['name']}"
                + (f": {check['detail']}" if check["detail"] else ""))
        for key, value in summary["sysctl"].items():
            say(f"  {key:24} {value}")
        if "smp" in summary:
            smp = summary["smp"]
            say(f"  {'IPI latency':24} {_spread(smp['ipi_latency_cycles'])}")
            say(f"  {'token hand-off':24} {_spread(smp['token_handoff_cycles'])}")
            say(f"  {'MP lock':24} {smp['mplock_acquisitions']} acquisitions, "
                f"{smp['mplock_contended_tries']} contended tries")
    else:
        ok = False
        say(f"\nFAILED: {name} produced no counters; see {out / 'sim.log'}")
    say(f"  trace     {out / 'trace.jsonl'}")
    say(f"  counters  {counters_path}")
    say(f"  log       {out / 'sim.log'}")
    if wave:
        say(f"  waveform  {wave}")
    sys.stdout.flush()
    return 0 if ok else 1


def _spread(cycles: list[int]) -> str:
    if not cycles:
        return "none"
    ordered = sorted(cycles)
    median = ordered[len(ordered) // 2]
    return f"{len(ordered)} samples, median {median}, max {ordered[-1]} cycles"


def _collect_waveform(build, out: Path) -> Path | None:
    # Icarus writes its FST into the build folder; Verilator into the run folder.
    for candidate in (build.directory / "lwkt_soc.fst", out / "dump.fst", out / "dump.vcd"):
        if candidate.exists():
            target = out / f"waves{candidate.suffix}"
            shutil.move(candidate, target)
            return target
    return None
