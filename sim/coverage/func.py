"""The functional coverage model: every bin of the kernel and the hardware, and what a run hit.

A bin is one path of the seeds or one state of the register contract that a
run can exercise. Three kinds, all read offline from a run's folder (no hook in
the simulation beyond the optional bus observer):

- **trace bins** (``BINS``): a predicate over one trace record: every
  ``lwkt_preempt`` outcome with its reason, interrupts landing inside each kernel
  function (taken there, or deferred to the end of its critical section), the
  thread cache, scheduling, the lost wake-up window, tokens, the MP lock,
  migration;
- **counter bins** (``COUNTER_BINS``): a kernel counter that is non-zero: the
  token fast path, a failed ``lwkt_trytoken``, a token lost before
  ``lwkt_regettoken``, the MP lock handed over, local and remote wake-ups,
  ``lwkt_wait_ipiq`` waiting, a nested ``lwkt_process_ipiq`` skipping a queue;
- **hardware bins** (``HW_BINS``, ``sim/contract/hw_coverage.py``): every register and
  access kind, every bus error kind, FIFO levels per pair class, WOF and ROE,
  simultaneous TRYs, CLAIM with nothing pending, each interrupt source, the
  timer's periodic re-arm. Runs made with ``hw_coverage`` (and the directed
  cocotb modules) record them.

``UNREACHABLE`` names the bins no run can hit, each with why; closure is every
other bin hit. ``STIMULUS`` says, per bin, which draws of the random workload
make it likelier: coverage-directed generation (``sim/campaigns/coverage_run.py``) uses it.

The model is our own rather than cocotb-coverage's: every fact it needs is
already in the trace, the counters or the bus observer, so it counts offline
from any run folder; ``sim/coverage/ucis.py`` writes it as UCIS XML.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Callable

from sim.contract.hw_coverage import hw_bins
from sim.reports.run_files import RunFiles

__all__ = [
    "BINS",
    "directed_hits",
    "COUNTER_BINS",
    "HW_BINS",
    "MODEL",
    "UNREACHABLE",
    "STIMULUS",
    "bins_hit",
    "run_hits",
    "reachable",
    "stimulus_for",
]

#: Kernel functions whose interrupt landings are bins (taken inside them).
_FUNCTIONS = (
    "lwkt_switch",
    "lwkt_schedule",
    "lwkt_schedule_self",
    "lwkt_deschedule",
    "lwkt_deschedule_self",
    "lwkt_gettoken",
    "lwkt_reltoken",
    "lwkt_regettoken",
    "get_mplock",
    "rel_mplock",
    "lwkt_send_ipiq",
    "lwkt_wait_ipiq",
    "lwkt_process_ipiq",
    "lwkt_signal",
    "lwkt_block",
    "lwkt_preempt",
    "lwkt_alloc_thread",
    "crit_exit",
    "lwkt_yield",
    "(thread code)",
    "(idle)",
)


def _landed_in(function: str) -> Callable[[dict], bool]:
    """An interrupt taken or deferred while ``function`` is the innermost kernel function."""
    return lambda r: r["event"] in ("interrupt", "intr_deferred") and r.get("in") == function


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
    "preempt.hit": (
        "lwkt_preempt switches to the target",
        _preempt("hit", lambda r: "critpri" not in r or r.get("mpheld") is not None),
    ),
    "preempt.hit-already-preempting": (
        "hit counted, no switch: the target already preempted a thread",
        _preempt("hit", lambda r: "critpri" in r and r.get("mpheld") is None),
    ),
    "preempt.miss-priority": (
        "miss: the target's priority is not higher",
        _preempt("miss", lambda r: r["target_pri"] <= r["pri"]),
    ),
    "preempt.miss-critpri": (
        "miss (v1.18): the current thread is deeper in critical sections than critpri",
        _preempt("miss", lambda r: "critpri" in r and _smp_miss_reason(r) == "critpri"),
    ),
    "preempt.miss-mplock": (
        "miss (v1.18): the target needs the MP lock and the TRY failed",
        _preempt("miss", lambda r: "critpri" in r and _smp_miss_reason(r) == "mplock"),
    ),
    "preempt.miss-other-cpu": (
        "miss (v1.18): the target belongs to another CPU",
        _preempt("miss", lambda r: "critpri" in r and _smp_miss_reason(r) == "other-cpu"),
    ),
    "preempt.weird": ("weird: the target is the current thread or preemption-locked", _preempt("weird")),
    "preempt.lend-mpcount": (
        "a hit that lends the MP lock's count (v1.18)",
        _preempt("hit", lambda r: bool(r.get("mpheld"))),
    ),
    **{
        f"interrupt.landed-in.{f}": (
            f"an interrupt lands while {f} is the innermost kernel function (taken, or "
            f"deferred in its critical section)",
            _landed_in(f),
        )
        for f in _FUNCTIONS
    },
    "interrupt.deferred": ("an interrupt pended inside a critical section", lambda r: r["event"] == "intr_deferred"),
    "interrupt.run-at-splz": (
        "pended interrupts run by splz",
        lambda r: r["event"] == "interrupt" and r.get("in") == "splz",
    ),
    "interrupt.source-ipi": ("the IPI source claimed", lambda r: r["event"] == "interrupt" and r["source"] == 0),
    "interrupt.source-timer": (
        "the timer claimed (hardclock)",
        lambda r: r["event"] == "interrupt" and r["source"] == 1,
    ),
    "interrupt.source-external": ("an external line claimed", lambda r: r["event"] == "interrupt" and r["source"] >= 3),
    "switch.untimely": ("an untimely switch (lwkt.untimely_switch)", lambda r: r["event"] == "untimely_switch"),
    "switch.resume-preempted": (
        "lwkt_switch resumes the thread the current one preempted",
        lambda r: r["event"] == "pick" and r.get("preempted") is not None and r["to"] == r["preempted"],
    ),
    "switch.mp-fallback": (
        "v1.18's pick skips a thread needing the MP lock (TRY failed)",
        lambda r: r["event"] == "pick" and r.get("tried") is False,
    ),
    "switch.idle": (
        "nothing runnable: the idle thread",
        lambda r: r["event"] == "pick" and r["to"] == r.get("idle") and r["tid"] != r["to"],
    ),
    "thread.cache-hit": ("lwkt_alloc_thread reuses a cached structure", lambda r: r["event"] == "thread_reuse"),
    "thread.cache-put": ("an exited thread goes into the cache", lambda r: r["event"] == "thread_cache"),
    "thread.cache-overflow": (
        "the cache is full: the structure goes back to the allocator",
        lambda r: r["event"] == "thread_free",
    ),
    "schedule.remote": (
        "lwkt_schedule of another CPU's thread, by IPI",
        lambda r: r["event"] == "ipi_send" and r.get("func") == "lwkt_schedule",
    ),
    "deschedule.local": (
        "lwkt_deschedule of a thread of this CPU",
        lambda r: r["event"] == "deschedule" and not r.get("remote"),
    ),
    "deschedule.remote": (
        "lwkt_deschedule of another CPU's thread, by IPI",
        lambda r: r["event"] == "deschedule" and r.get("remote"),
    ),
    "signal.wakes": ("lwkt_signal wakes a blocked thread", lambda r: r["event"] == "signal" and r.get("woken")),
    "wait.lost-wakeup-window": (
        "a signal between reading the generation and lwkt_block: the block is skipped",
        lambda r: r["event"] == "block_skipped",
    ),
    "token.remote-handoff": (
        "lwkt_gettoken gets the token from its owner by IPI",
        lambda r: r["event"] == "token_acquired",
    ),
    "token.lost": (
        "a CPU gives a token away while a thread of it holds it (lost while blocked)",
        lambda r: r["event"] == "token_lost",
    ),
    "mplock.uncontended": ("an MP-lock TRY that succeeds", lambda r: r["event"] == "mplock_try" and r["ok"]),
    "mplock.contended": ("an MP-lock TRY that fails", lambda r: r["event"] == "mplock_try" and not r["ok"]),
    "mplock.release": ("the MP lock released", lambda r: r["event"] == "mplock_release"),
    "mplock.bust": ("the watchdog frees the lock of a stopped CPU (BUST)", lambda r: r["event"] == "mplock_bust"),
    "ipi.fifo-full-drain": (
        "lwkt_send_ipiq drains its own queues at the half-full mark",
        lambda r: r["event"] == "ipiq_fifofull",
    ),
    "migration.acquire": ("lwkt_acquire moves a thread to this CPU", lambda r: r["event"] == "acquire"),
    "fault.cpu-stop": ("a CPU stops holding the MP lock", lambda r: r["event"] == "cpu_stop"),
}


#: name -> (description, the per-CPU counter (counters.json "total") that is non-zero when hit)
COUNTER_BINS: dict[str, tuple[str, str]] = {
    "thread.cache-miss": ("lwkt_alloc_thread finds the cache empty and allocates a new structure", "thread_cache_miss"),
    "token.local-fast-path": ("lwkt_gettoken finds the token already this CPU's: no message", "token_fast"),
    "token.remote-request": ("lwkt_gettoken asks the token's owner for it by IPI", "token_requests"),
    "token.trytoken-failed": ("lwkt_trytoken fails: another CPU owns the token", "trytoken_failed"),
    "token.regettoken-lost": (
        "lwkt_regettoken finds the token lost (given away while blocked) and fetches it",
        "regettoken_lost",
    ),
    "mplock.handoff": (
        "a thread that waited for the MP lock runs holding it (handed over by a release)",
        "mplock_handoff",
    ),
    "schedule.local": ("lwkt_schedule makes a thread of this CPU runnable (and offers the CPU)", "schedule_local"),
    "schedule.wait-changed": (
        "lwkt_schedule of a waiting thread finds, once it owns the queue's token, that another CPU woke it meanwhile",
        "schedule_wait_changed",
    ),
    "signal.local": ("lwkt_signal wakes a thread of this CPU", "signal_local"),
    "signal.remote": ("lwkt_signal wakes a thread of another CPU (by IPI)", "signal_remote"),
    "ipi.wait-ipiq-polled": ("lwkt_wait_ipiq polls: the target had not yet run the message", "wait_ipiq_polled"),
    "ipi.nested-process-skip": (
        "a nested lwkt_process_ipiq skips the queue whose head an outer call runs",
        "ipiq_nested_skip",
    ),
}

#: name -> description of every hardware bin (sim/contract/hw_coverage.py), prefixed "hw."
HW_BINS: dict[str, str] = {f"hw.{name}": text for name, text in hw_bins().items()}

#: Every bin's description, in report order.
MODEL: dict[str, str] = {
    **{n: d for n, (d, _) in BINS.items()},
    **{n: d for n, (d, _) in COUNTER_BINS.items()},
    **HW_BINS,
}

#: Bins no run can hit, and why (docs/coverage.md says more).
UNREACHABLE: dict[str, str] = {
    "preempt.hit-already-preempting": (
        "the target's td_preempted is set only while it runs over the thread it preempted, or between "
        "giving the CPU back and the preempted thread clearing it; the first is the 'weird' case "
        "(checked first, as in the seed), the second lies inside the preempted thread's critical "
        "section, where nothing on its CPU can schedule (interrupts and IPIs wait) and no other CPU "
        "schedules it except by an IPI to that CPU"
    ),
    "preempt.miss-other-cpu": (
        "the firmware offers the CPU only from lwkt_schedule's local path, for a thread of the calling "
        "CPU (another CPU's thread is scheduled by an IPI that runs on that CPU), so the target is "
        "always local; the seed's check guards callers this kernel does not have"
    ),
    "interrupt.landed-in.lwkt_yield": (
        "interrupts are taken at bus-access boundaries, and lwkt_yield makes no access of its own: it "
        "is a call of lwkt_schedule_self and one of lwkt_switch, where its interrupts land"
    ),
}

#: Draws of the random workload (sim/tb/scenarios/random_workload.py) that make a bin likelier:
#: a bin-name prefix -> (operation weights, device knobs) to use while it is not hit.
STIMULUS: dict[str, tuple[dict, dict]] = {
    "thread.": ({"spawn": 4, "reap": 4}, {}),
    "thread.cache-overflow": ({"spawn": 3, "reap": 6}, {"children": 8}),
    "deschedule.remote": ({"desched": 4}, {}),
    "preempt.miss-critpri": ({"offer": 4}, {}),
    "preempt.lend-mpcount": ({"offer": 4, "mplock": 3}, {}),
    "preempt.miss-mplock": ({"offer": 3, "mplock": 4}, {"not_mpsafe": 0.8}),
    "preempt.weird": ({}, {"same_cpu": 1.0, "kick": 1.0}),
    "interrupt.landed-in.lwkt_preempt": ({"offer": 4}, {"same_cpu": 0.8}),
    "interrupt.landed-in.lwkt_deschedule": ({"desched": 4}, {}),
    "interrupt.landed-in.lwkt_alloc_thread": ({"spawn": 4}, {}),
    "interrupt.landed-in.lwkt_regettoken": ({"migrate": 4}, {}),
    "wait.lost-wakeup-window": ({}, {"consumers": 0.8, "tickets": 6}),
    "signal.": ({}, {"consumers": 0.7, "tickets": 5}),
    "token.trytoken-failed": ({"wake": 5}, {}),
    "ipi.nested-process-skip": ({"note": 3}, {"forward": 1.0}),
    "interrupt.landed-in.lwkt_schedule_self": ({"yield": 6}, {}),
    "token.": ({"token": 5, "migrate": 3, "wake": 2}, {}),
    "migration.": ({"migrate": 5}, {}),
    "mplock.": ({"mplock": 5}, {}),
    "hw.mplock.simultaneous-try": ({"mplock": 6}, {}),
    "ipi.": ({"note": 5}, {}),
    "hw.ipi.level": ({"note": 6}, {}),
}


def bins_hit(records) -> dict[str, int]:
    """How often each trace bin was hit in one trace."""
    hits: dict[str, int] = {}
    for r in records:
        for name, (_, hit) in BINS.items():
            try:
                if hit(r):
                    hits[name] = hits.get(name, 0) + 1
            except (KeyError, TypeError):
                pass  # a record without the fields this bin reads
    return hits


def counter_hits(counters: dict) -> dict[str, int]:
    """The counter bins and hardware bins of one run's counters.json."""
    total = counters.get("total") or {}
    hits = {name: total[key] for name, (_, key) in COUNTER_BINS.items() if total.get(key)}
    for name, n in (counters.get("hw_coverage") or {}).items():
        if n and f"hw.{name}" in HW_BINS:
            hits[f"hw.{name}"] = n
    return hits


def run_hits(folder: Path | str) -> dict[str, int]:
    """Every bin one finished run folder hit (trace, counters and, when recorded, hardware)."""
    files = RunFiles(folder)
    hits = bins_hit(files.trace())
    hits.update(counter_hits(files.counters()))
    return hits


def directed_hits(folder: Path | str) -> dict[str, int]:
    """The hardware bins a directed cocotb run recorded (sim/tb/testbench.py), as functional-coverage names."""
    from sim.contract.config import HW_COVERAGE_FILE
    from sim.contract.hw_coverage import read_hits

    return {f"hw.{name}": n for name, n in read_hits(Path(folder) / HW_COVERAGE_FILE).items() if n}


def reachable() -> list[str]:
    """The bins closure needs: all but the unreachable ones."""
    return [name for name in MODEL if name not in UNREACHABLE]


def stimulus_for(uncovered) -> tuple[dict, dict]:
    """The workload weights and device knobs that favour the ``uncovered`` bins (the strongest
    pull of any bin wins per knob)."""
    weights: dict[str, float] = {}
    knobs: dict[str, float] = {}
    for name in uncovered:
        for prefix, (w, k) in STIMULUS.items():
            if name.startswith(prefix):
                for key, value in w.items():
                    weights[key] = max(weights.get(key, 0), value)
                for key, value in k.items():
                    knobs[key] = max(knobs.get(key, 0), value)
    return weights, knobs
