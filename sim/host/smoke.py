"""``lwkt-soc smoke``: build the SoC, run the bring-up program, collect its outputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hdl.config import SocConfig
from sim.host.build import build_soc
from sim.host.runner import collect_waveform, run_cocotb, wave_plusargs

__all__ = ["run_smoke"]


def run_smoke(config: SocConfig, sim: str, out: Path, *, waves: bool = False) -> bool:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    print(f"building the {config.ncpu}-CPU SoC for {sim} ...", flush=True)
    build = build_soc(sim, config, waves=waves)
    print(f"running the bring-up program in {out} ...", flush=True)
    result = run_cocotb(build, "sim.tb.smoke_program", test_dir=out, waves=waves, plusargs=wave_plusargs(build, out))
    wave = collect_waveform(build, out) if waves else None
    summary = out / "smoke.json"
    print(
        f"\n{'PASSED' if result.ok else 'FAILED'}: {result.tests - result.failed}/{result.tests} "
        f"({sim}, {config.ncpu} CPUs)"
    )
    if summary.exists():
        data = json.loads(summary.read_text())
        print(f"  simulated cycles   {data['cycles']}")
        print(f"  bus transactions   {data['bus_transactions']}")
        print(f"  MP lock acquires   {data['mplock_acquires']}")
    print(f"  summary            {summary}")
    print(f"  simulator log      {out / 'sim.log'}")
    if wave:
        print(f"  waveform           {wave}")
    sys.stdout.flush()
    return result.ok
