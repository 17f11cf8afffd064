"""Functional coverage of the kernel, from the runs' traces: which of the seeds' paths were exercised.

    python -m sim.func_coverage [--seeds N] [--sim verilator] [--merge coverage.json ...] [--out DIR]

Each bin is a predicate over one trace record (and the run's counters), named
after what the seeds do: every ``lwkt_preempt`` outcome with its reason, the
interrupts landing inside each kernel function (taken there, or deferred to the end
of its critical section), the thread cache, local and remote scheduling, the lost
wake-up window, tokens, the MP lock, the IPI queues, migration and every
interrupt source. The model is our own rather than cocotb-coverage's: every
fact it needs is already in the trace, so it counts offline, from any run
folder, with no hook in the simulation.

The runner runs the named scenarios and ``--seeds`` random workloads (every
fault on), adds the bins each run hit, and writes ``coverage.json`` (per bin:
hits and the run that first hit it), ``coverage.md`` (the table and the
uncovered bins) and ``coverage.png`` (bins hit against runs). ``--merge`` adds
the coverage of earlier runs.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Callable

from .errors import EXIT_FAILED, EXIT_OK
from .outdir import atomic_write
from .run_files import RunFiles

__all__ = ["BINS", "bins_hit", "main"]

#: Kernel functions whose interrupt landings are bins (taken inside them).
_FUNCTIONS = ("lwkt_switch", "lwkt_schedule", "lwkt_gettoken", "lwkt_reltoken", "get_mplock", "rel_mplock",
              "lwkt_send_ipiq", "lwkt_wait_ipiq", "lwkt_signal", "lwkt_block", "crit_exit", "lwkt_yield",
              "(thread code)", "(idle)")


def _preempt(result: str, why: Callable[[dict], bool] = lambda r: True):
    return lambda r: r["event"] == "preempt" and r["result"] == result and why(r)


def _smp_miss_reason(r: dict) -> str:
    """Which of v1.18's miss rules decided (in the seed's order)."""
    if r["target_pri"] <= r["pri"]:
        return "priority"
    if r.get("critpri") is not None and r["crit"] > r["critpri"]:
        return "critpri"
    if r.get("target_cpu") is not None and r["target_cpu"] != r["cpu"]:
        return "other-cpu"
    return "mplock" if r.get("tried") is False else "other"


#: name -> (description, predicate over a trace record)
BINS: dict[str, tuple[str, Callable[[dict], bool]]] = {
    "preempt.hit": ("lwkt_preempt switches to the target", _preempt("hit", lambda r: "critpri" not in r
                                                                   or r.get("mpheld") is not None)),
    "preempt.hit-already-preempting": ("hit counted, no switch: the target already preempted a thread",
                                       _preempt("hit", lambda r: "critpri" in r and r.get("mpheld") is None)),
    "preempt.miss-priority": ("miss: the target's priority is not higher",
                              _preempt("miss", lambda r: r["target_pri"] <= r["pri"])),
    "preempt.miss-critpri": ("miss (v1.18): the current thread is deeper in critical sections than critpri",
                             _preempt("miss", lambda r: "critpri" in r and _smp_miss_reason(r) == "critpri")),
    "preempt.miss-mplock": ("miss (v1.18): the target needs the MP lock and the TRY failed",
                            _preempt("miss", lambda r: "critpri" in r and _smp_miss_reason(r) == "mplock")),
    "preempt.weird": ("weird: the target is the current thread or preemption-locked", _preempt("weird")),
    "preempt.lend-mpcount": ("a hit that lends the MP lock's count (v1.18)",
                             _preempt("hit", lambda r: bool(r.get("mpheld")))),
    **{f"interrupt.landed-in.{f}": (f"an interrupt lands while {f} is the innermost kernel function (taken, or "
                                    f"deferred in its critical section)",
                                    (lambda f: lambda r: r["event"] in ("interrupt", "intr_deferred")
                                     and r.get("in") == f)(f))
       for f in _FUNCTIONS},
    "interrupt.deferred": ("an interrupt pended inside a critical section", lambda r: r["event"] == "intr_deferred"),
    "interrupt.run-at-splz": ("pended interrupts run by splz", lambda r: r["event"] == "interrupt"
                              and r.get("in") == "splz"),
    "interrupt.source-ipi": ("the IPI source claimed", lambda r: r["event"] == "interrupt" and r["source"] == 0),
    "interrupt.source-timer": ("the timer claimed (hardclock)", lambda r: r["event"] == "interrupt"
                               and r["source"] == 1),
    "interrupt.source-external": ("an external line claimed", lambda r: r["event"] == "interrupt"
                                  and r["source"] >= 3),
    "switch.untimely": ("an untimely switch (lwkt.untimely_switch)", lambda r: r["event"] == "untimely_switch"),
    "switch.resume-preempted": ("lwkt_switch resumes the thread the current one preempted",
                                lambda r: r["event"] == "pick" and r.get("preempted") is not None
                                and r["to"] == r["preempted"]),
    "switch.mp-fallback": ("v1.18's pick skips a thread needing the MP lock (TRY failed)",
                           lambda r: r["event"] == "pick" and r.get("tried") is False),
    "switch.idle": ("nothing runnable: the idle thread", lambda r: r["event"] == "pick" and r["to"] == r.get("idle")
                    and r["tid"] != r["to"]),
    "thread.cache-hit": ("lwkt_alloc_thread reuses a cached structure", lambda r: r["event"] == "thread_reuse"),
    "thread.cache-put": ("an exited thread goes into the cache", lambda r: r["event"] == "thread_cache"),
    "thread.cache-overflow": ("the cache is full: the structure goes back to the allocator",
                              lambda r: r["event"] == "thread_free"),
    "schedule.remote": ("lwkt_schedule of another CPU's thread, by IPI", lambda r: r["event"] == "ipi_send"
                        and r.get("func") == "lwkt_schedule"),
    "deschedule.local": ("lwkt_deschedule of a thread of this CPU", lambda r: r["event"] == "deschedule"
                         and not r.get("remote")),
    "deschedule.remote": ("lwkt_deschedule of another CPU's thread, by IPI", lambda r: r["event"] == "deschedule"
                          and r.get("remote")),
    "signal.wakes": ("lwkt_signal wakes a blocked thread", lambda r: r["event"] == "signal" and r.get("woken")),
    "wait.lost-wakeup-window": ("a signal between reading the generation and lwkt_block: the block is skipped",
                                lambda r: r["event"] == "block_skipped"),
    "token.remote-handoff": ("lwkt_gettoken gets the token from its owner by IPI",
                             lambda r: r["event"] == "token_acquired"),
    "token.lost": ("a CPU gives a token away while a thread of it holds it (lost while blocked)",
                   lambda r: r["event"] == "token_lost"),
    "mplock.uncontended": ("an MP-lock TRY that succeeds", lambda r: r["event"] == "mplock_try" and r["ok"]),
    "mplock.contended": ("an MP-lock TRY that fails", lambda r: r["event"] == "mplock_try" and not r["ok"]),
    "mplock.release": ("the MP lock released", lambda r: r["event"] == "mplock_release"),
    "mplock.bust": ("the watchdog frees the lock of a stopped CPU (BUST)", lambda r: r["event"] == "mplock_bust"),
    "ipi.fifo-full-drain": ("lwkt_send_ipiq drains its own queues at the half-full mark",
                            lambda r: r["event"] == "ipiq_fifofull"),
    "migration.acquire": ("lwkt_acquire moves a thread to this CPU", lambda r: r["event"] == "acquire"),
    "fault.cpu-stop": ("a CPU stops holding the MP lock", lambda r: r["event"] == "cpu_stop"),
}


def bins_hit(records) -> dict[str, int]:
    """How often each bin was hit in one trace."""
    hits: dict[str, int] = {}
    for r in records:
        for name, (_, hit) in BINS.items():
            try:
                if hit(r):
                    hits[name] = hits.get(name, 0) + 1
            except (KeyError, TypeError):
                pass                          # a record without the fields this bin reads
    return hits


def _runs(seeds: int) -> list[dict]:
    named = [("up-basic", None, "", 32), ("up-preempt", None, "wait-states,spurious,delayed-complete", 32),
             ("up-untimely", None, "", 32), ("smp-pingpong", 4, "", 32), ("smp-ipi-storm", 4, "", 4),
             ("smp-mplock", 4, "", 32), ("smp-mixed", 4, "spurious,delayed-complete", 32),
             ("smp-mp-fallback", 4, "", 32)]
    runs = [{"scenario": s, "seed": 1, "cpus": c, "faults": f, "fifo_depth": d} for s, c, f, d in named]
    return runs + [{"scenario": "random", "seed": seed, "cpus": 4, "faults": "all", "fifo_depth": 8}
                   for seed in range(1, seeds + 1)]


def _plot(curve: list[int], total: int, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6, 3.2), dpi=110)
    ax = fig.add_subplot()
    ax.plot(range(1, len(curve) + 1), curve, marker=".", color="#1f77b4")
    ax.axhline(total, color="grey", lw=0.8, ls="--", label=f"all {total} bins")
    ax.set_xlabel("runs (named scenarios, then random seeds)")
    ax.set_ylabel("bins hit")
    ax.set_ylim(0, total + 1)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.func_coverage", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="random workloads after the named scenarios")
    parser.add_argument("--sim", choices=["verilator", "icarus"], default="verilator")
    parser.add_argument("--merge", nargs="*", default=[], help="coverage.json files of earlier runs to add")
    parser.add_argument("--out", default="runs/coverage", help="where coverage.json, .md and .png go")
    args = parser.parse_args(argv)
    from .run import run_scenario
    hits = {name: 0 for name in BINS}
    first: dict[str, str] = {}
    for path in args.merge:
        earlier = json.loads(Path(path).read_text())
        for name, entry in earlier["bins"].items():
            if name in hits and entry["hits"]:
                hits[name] += entry["hits"]
                first.setdefault(name, entry["first"])
    curve = []
    for run in _runs(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            run_scenario(run["scenario"], sim=args.sim, seed=run["seed"], cpus=run["cpus"], faults=run["faults"],
                         fifo_depth=run["fifo_depth"], out=Path(tmp), quiet=True)
            label = f"{run['scenario']} seed {run['seed']}"
            for name, n in bins_hit(RunFiles(tmp).trace()).items():
                hits[name] += n
                first.setdefault(name, label)
        curve.append(sum(1 for n in hits.values() if n))
        print(f"  {label:24} {curve[-1]}/{len(BINS)} bins", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    covered = sum(1 for n in hits.values() if n)
    result = {"bins": {name: {"description": BINS[name][0], "hits": hits[name], "first": first.get(name)}
                       for name in BINS},
              "covered": covered, "total": len(BINS), "curve": curve, "seeds": args.seeds}
    atomic_write(out / "coverage.json", json.dumps(result, indent=2) + "\n")
    lines = ["# Functional coverage", "", f"{covered}/{len(BINS)} bins hit over {len(curve)} runs "
             f"({args.seeds} random seeds).", "", "| bin | what | hits | first hit by |", "|---|---|---|---|"]
    lines += [f"| `{n}` | {BINS[n][0]} | {hits[n]} | {first.get(n, '**not hit**')} |" for n in BINS]
    atomic_write(out / "coverage.md", "\n".join(lines) + "\n")
    _plot(curve, len(BINS), out / "coverage.png")
    for name in BINS:
        if not hits[name]:
            print(f"not hit: {name}: {BINS[name][0]}")
    print(f"functional coverage: {covered}/{len(BINS)} bins ({100 * covered / len(BINS):.0f} %)")
    return EXIT_OK if covered == len(BINS) else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
