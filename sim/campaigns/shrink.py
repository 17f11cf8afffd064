"""Shrink a failing random workload to a smaller one that still fails.

    python -m sim.campaigns.shrink --seed 42 [--faults all] [--cpus 4] [--sim verilator]

The workload of ``--scenario random`` is data (:class:`RandomSpec`). Starting
from the seed's spec, this removes whole threads, then halves and single
operations of each thread, then device requests, keeping every removal after
which the run still fails the same way (the same failed checks and panic message),
so that shrinking never wanders off to a different failure. It writes the smallest spec
to ``--out``/spec.json and prints the command that replays it
(``lwkt-soc run --scenario random --spec spec.json ...``). Bad input is one line and exit 2.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from hdl.config import ConfigError, SocConfig
from sim.contract.catalogue import ALL_FAULTS, parse_faults, scenario_info
from sim.contract.config import DEFAULT_SIM, SIMULATORS, RunConfig
from sim.contract.errors import EXIT_USAGE, UsageError
from sim.contract.run_options import repeat_command
from sim.reports.run_files import RunFiles
from sim.contract.random_spec import RandomSpec, generate_spec
from sim.contract.spec_check import load_spec_file

__all__ = ["shrink", "main", "failure_signature", "spec_signature"]


def failure_signature(report: dict) -> tuple:
    """What makes two failing runs the same failure: failed checks and the panic message, its numbers
    (cycles, thread ids, counts) left out, since a smaller workload meets the same bug elsewhere; for a
    crashed simulator, how it died."""
    panic = re.sub(r"\d+", "#", (report.get("panic") or {}).get("message", ""))
    if report.get("crash"):  # a simulator that died: how (the signal or status) tells crashes apart
        panic = f"crashed: {report['crash']['how']}"
    return tuple(sorted(c["name"] for c in report["checks"] if not c["ok"])), panic


def spec_signature(candidate: RandomSpec, run: RunConfig) -> tuple | None:
    """Run the random workload ``candidate`` as ``run`` asks for (its seed, SoC, faults, ...) in a scratch
    folder: its failure signature, None when it passes, or ("unrunnable spec", why) when a removal left a
    spec that cannot run (never the same failure as a real one)."""
    from sim.host.run import run_scenario

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.json"
        path.write_text(candidate.to_json())
        # Only the failure is wanted of a candidate: no coverage, no waveform.
        attempt = replace(run, scenario="random", spec=str(path), out=str(Path(tmp) / "run"))
        attempt = replace(attempt, hw_coverage=False, rtl_coverage=False, fw_coverage=False, waves=False)
        try:
            code = run_scenario(attempt, quiet=True)
        except UsageError as exc:
            return ("unrunnable spec", str(exc))
        return None if code == 0 else failure_signature(RunFiles(Path(tmp) / "run").report())


def shrink(spec: RandomSpec, still_fails: Callable[[RandomSpec], bool], *, log=print) -> RandomSpec:
    """The smallest spec found (greedy delta debugging) for which ``still_fails`` holds."""
    best = copy.deepcopy(spec)

    def attempt(candidate: RandomSpec, what: str) -> bool:
        nonlocal best
        if candidate.size() >= best.size() and len(candidate.threads) >= len(best.threads):
            return False
        if still_fails(candidate):
            best = candidate
            log(f"  still fails without {what}: size {best.size()}, {len(best.threads)} threads")
            return True
        return False

    changed = True
    while changed:
        changed = False
        for index in reversed(range(len(best.threads))):
            candidate = copy.deepcopy(best)
            del candidate.threads[index]
            changed |= attempt(candidate, f"thread {index}")
        for index in range(len(best.threads)):
            chunk = max(1, len(best.threads[index].ops) // 2)
            while chunk >= 1:
                start = 0
                while index < len(best.threads) and start < len(best.threads[index].ops):
                    candidate = copy.deepcopy(best)
                    del candidate.threads[index].ops[start : start + chunk]
                    if not attempt(candidate, f"ops {start}..{start + chunk - 1} of thread {index}"):
                        start += chunk
                    else:
                        changed = True
                chunk //= 2
        for index in range(len(best.devices)):
            while best.devices[index].gaps:
                candidate = copy.deepcopy(best)
                candidate.devices[index].gaps.pop()
                if not attempt(candidate, f"a request of device {index}"):
                    break
                changed = True
    return best


def main(argv=None) -> int:
    try:
        return _main(argv)
    except (UsageError, ConfigError, ValueError) as exc:
        print(f"sim.campaigns.shrink: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.campaigns.shrink", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--spec", help="start from this spec.json instead of the seed's")
    parser.add_argument("--faults", default=ALL_FAULTS)
    parser.add_argument("--cpus", type=int, default=scenario_info("random").cpus)
    parser.add_argument("--fifo-depth", type=int, default=8)
    parser.add_argument("--sim", choices=SIMULATORS, default=DEFAULT_SIM)
    parser.add_argument("--out", default="runs/shrink")
    args = parser.parse_args(argv)
    request = RunConfig(
        "random", seed=args.seed, sim=args.sim, cpus=args.cpus, fifo_depth=args.fifo_depth, faults=[args.faults]
    )
    SocConfig(ncpu=args.cpus, fifo_depth=args.fifo_depth)  # names the range when out of it
    faults = parse_faults(args.faults)
    out = Path(args.out).resolve()
    if args.spec:
        data, _ = load_spec_file(args.spec, args.cpus)
        spec = RandomSpec.from_dict(data)
    else:
        spec = generate_spec(args.seed, args.cpus, faults)
    out.mkdir(parents=True, exist_ok=True)
    runs = 0

    def signature_of(candidate: RandomSpec) -> tuple | None:
        nonlocal runs
        runs += 1
        return spec_signature(candidate, request)

    target = signature_of(spec)
    if target is None:
        print(f"seed {args.seed} does not fail: nothing to shrink")
        return 0

    def still_fails(candidate: RandomSpec) -> bool:
        return signature_of(candidate) == target

    print(
        f"seed {args.seed} fails ({', '.join(target[0])}{'; ' + target[1] if target[1] else ''}) with a "
        f"workload of size {spec.size()}; shrinking ..."
    )
    smallest = shrink(spec, still_fails)
    (out / "spec.json").write_text(smallest.to_json())
    print(
        f"\nsmallest failing workload: size {smallest.size()} (from {spec.size()}), "
        f"{len(smallest.threads)} threads, after {runs} runs"
    )
    print(f"written to {out / 'spec.json'}; replay with:")
    print(f"  {repeat_command(replace(request, spec=str(out / 'spec.json'), waves=True))}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
