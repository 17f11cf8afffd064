"""The report of a run: ``report.json`` (schema in ``sim/contract/report-schema.json``) and its
human renderings ``report.txt`` and ``report.md``.

``build_report`` assembles the report from what the simulator wrote
(``counters.json``, ``trace.jsonl``); ``render_text`` and ``render_markdown``
turn it into tables; ``lwkt-soc report DIR`` does it all again for a finished run.
"""

from __future__ import annotations

import json
from pathlib import Path

from sim.contract.outdir import atomic_write
from sim.reports.run_files import RunFiles
from sim.reports.tables import markdown_table, text_table

__all__ = [
    "SCHEMA_ID",
    "build_report",
    "write_report",
    "render_text",
    "render_markdown",
    "spread",
    "load_report",
]

SCHEMA_ID = "lwkt-soc-report/1"
#: The report's JSON schema (sim/contract/report-schema.json), shipped with the package's source tree.
#: Per-CPU counters shown in the sysctl-style table, in this order (when present).
_TABLE_COUNTERS = (
    "switch_count",
    "preempt_hit",
    "preempt_miss",
    "preempt_weird",
    "ipiq_count",
    "ipiq_fifofull",
    "ipiq_received",
    "token_requests",
    "mplock_acquires",
    "mplock_contended",
    "need_resched",
    "interrupts",
    "interrupts_deferred",
    "hardclock_ticks",
    "threads_allocated",
    "threads_freed",
    "free_cache",
    "work_cycles",
    "kernel_cycles",
    "idle_cycles",
)


def spread(samples: list) -> dict:
    """count, median, 99th percentile (nearest rank) and max of cycle samples: ``[[value, count], ...]``
    (counters.json, sim/checks/stats.py's Samples) or, as older run folders hold them, plain values."""
    pairs = sorted([s, 1] if isinstance(s, int) else s for s in samples)
    n = sum(count for _, count in pairs)
    if not n:
        return {"count": 0, "median": None, "p99": None, "max": None}

    def ranked(rank: int) -> int:  # the value of the rank-th smallest sample (1-based)
        seen = 0
        for value, count in pairs:
            seen += count
            if seen >= rank:
                return value
        return pairs[-1][0]

    rank = max(1, -(-99 * n // 100))  # nearest-rank percentile
    return {"count": n, "median": ranked((n - 1) // 2 + 1), "p99": ranked(rank), "max": pairs[-1][0]}


def build_report(run_dir: Path, *, sim: str, cpus: int, fifo_depth: int, files: dict[str, str]) -> dict:
    """The report of the run in ``run_dir`` (which holds counters.json)."""
    counters = RunFiles(run_dir).counters()
    smp = counters.get("smp", {})
    checks = counters.get("checks", [])
    report = {
        "schema": SCHEMA_ID,
        "scenario": counters.get("scenario"),
        "seed": counters.get("seed"),
        "sim": sim,
        "mode": counters["mode"],
        "cpus": cpus,
        "fifo_depth": fifo_depth,
        "outcome": counters["outcome"],
        "ok": counters["outcome"] == "done" and all(c["ok"] for c in checks),
        "cycles": counters.get("cycles", 0),
        "wall_seconds": counters.get("wall_seconds", 0.0),
        "bus_transactions": counters.get("bus_transactions", 0),
        "panic": counters.get("panic"),
        "checks": checks,
        "settings": counters.get("settings", {}),
        "sysctl": counters.get("sysctl", {}),
        "per_cpu": counters.get("per_cpu", []),
        "latency": {
            "ipi": spread(smp.get("ipi_latency_cycles", [])),
            "token_handoff": spread(smp.get("token_handoff_cycles", [])),
            "mplock_handoff": spread(smp.get("mplock_handoff_cycles", [])),
            "mplock_hold": spread(smp.get("mplock_hold_cycles", [])),
            "switch": spread(counters.get("switch_cycles", [])),
        },
        "mplock": {
            "acquisitions": smp.get("mplock_acquisitions", 0),
            "contended_tries": smp.get("mplock_contended_tries", 0),
            "busts": smp.get("mplock_busts", 0),
        },
        "ipi": {"sent": smp.get("ipi_sent", 0), "received": smp.get("ipi_received", 0)},
        "cost_model": counters.get("cost_model"),
        "interrupt_landings": landing_table(counters.get("interrupt_landings", [])),
        "scoreboard": _scoreboard(counters.get("scoreboard")),
        "shared_ram": counters.get("shared_ram"),
        "faults": _faults(counters.get("faults")),
        "spec": _spec(run_dir),
        "waveform": _waveform(files, sim),
        "files": dict(files),
    }
    if counters.get("crash"):
        report["crash"] = counters["crash"]
    return report


def _faults(faults: dict | None) -> dict:
    """The faults enabled and what each injected."""
    faults = faults or {}
    return {
        "enabled": faults.get("enabled", []),
        "injected": {
            key: faults.get(key, 0)
            for key in (
                "wait_states",
                "wait_state_cycles",
                "spurious_pulses",
                "delayed_completions",
                "fifo_full_drains",
            )
        },
        "stopped_cpus": faults.get("stopped_cpus", []),
    }


def _spec(run_dir: Path) -> dict | None:
    """The workload spec the run used (--spec): its path and SHA-256, from run.json."""
    config = RunFiles(run_dir).config()
    return {"path": config.spec, "sha256": config.spec_sha256} if config is not None and config.spec else None


def _waveform(files: dict, sim: str) -> dict | None:
    """Which waveform format was written, and why not FST when it is VCD."""
    name = files.get("waveform")
    if not name:
        return None
    fmt = Path(name).suffix.lstrip(".")
    why = (
        ""
        if fmt == "fst"
        else (
            "Verilator writes FST only when liblz4's headers are installed "
            "(apt-get install liblz4-dev); VCD is written instead"
        )
    )
    return {"file": name, "format": fmt, "why": why}


def _fault_line(r: dict) -> str | None:
    faults = r.get("faults") or {}
    if not faults.get("enabled"):
        return None
    injected = faults["injected"]
    parts = [
        f"{injected['wait_states']} wait-state stretches ({injected['wait_state_cycles']} cycles)",
        f"{injected['spurious_pulses']} spurious pulses",
        f"{injected['delayed_completions']} delayed completions",
        f"{injected['fifo_full_drains']} FIFO-full drains",
    ]
    parts += [f"cpu {s['cpu']} stopped at cycle {s['cycle']}" for s in faults.get("stopped_cpus", [])]
    return f"faults: {', '.join(faults['enabled'])}; injected: " + ", ".join(parts)


def _verdict(check: dict) -> str:
    """ok, FAILED, or n/a for a check that had nothing to evaluate."""
    if not check["ok"]:
        return "FAILED"
    return "ok" if check.get("evaluated", True) else "n/a"


def _scoreboard(summary: dict | None) -> dict | None:
    if summary is None:
        return None
    return {
        key: summary[key]
        for key in ("decisions", "undecidable", "mismatches", "picks", "preempts", "enqueues", "dequeues")
        + ("blocks", "unwaits", "signals")
        if key in summary
    }


def _verification_lines(r: dict) -> list[str]:
    """The scoreboard's and the race detector's totals, one line each."""
    lines = []
    board = r.get("scoreboard")
    if board:
        share = 100 * board["undecidable"] / board["decisions"] if board["decisions"] else 0.0
        lines.append(
            f"scoreboard: {board['decisions']} decisions checked ({board['picks']} picks, "
            f"{board['preempts']} preemptions, {board['enqueues']} enqueues, {board['dequeues']} dequeues, "
            f"{sum(board.get(k, 0) for k in ('blocks', 'unwaits', 'signals'))} wait-queue changes), "
            f"{board['undecidable']} undecidable ({share:.1f} %), {board['mismatches']} mismatches"
        )
    ram = r.get("shared_ram")
    if ram:
        lines.append(
            f"shared RAM: {ram['accesses']} accesses, {ram['guarded']} to guarded words checked, {ram['races']} races"
        )
    return lines


def landing_table(per_cpu: list[dict]) -> list[dict]:
    """Interrupts that landed inside each kernel function: one row per function (most first),
    with per-CPU lists of taken and deferred counts."""
    places = {place for cpu in per_cpu for kind in ("taken", "deferred") for place in cpu.get(kind, {})}
    rows = [
        {
            "function": place,
            "taken": [cpu.get("taken", {}).get(place, 0) for cpu in per_cpu],
            "deferred": [cpu.get("deferred", {}).get(place, 0) for cpu in per_cpu],
        }
        for place in places
    ]
    return sorted(rows, key=lambda r: (-sum(r["taken"]) - sum(r["deferred"]), r["function"]))


def write_report(run_dir: Path, report: dict) -> dict[str, Path]:
    paths = {"json": run_dir / "report.json", "text": run_dir / "report.txt", "markdown": run_dir / "report.md"}
    atomic_write(paths["json"], json.dumps(report, indent=2) + "\n")
    atomic_write(paths["text"], render_text(report))
    atomic_write(paths["markdown"], render_markdown(report))
    return paths


def load_report(run_dir: Path) -> dict:
    """A run's report.json (sim/reports/run_files.py: a folder that holds none, or a file that is not one,
    is a UsageError naming what is wrong)."""
    return RunFiles(run_dir).report()


def _title(r: dict) -> str:
    status = "PASSED" if r["ok"] else "FAILED"
    return (
        f"{status}: {r['scenario']} ({r['mode']}, {r['cpus']} CPU{'s' if r['cpus'] != 1 else ''}, "
        f"{r['sim']}, seed {r['seed']}): {r['outcome']} after {r['cycles']} cycles"
    )


def _cell(value) -> str:
    return "-" if value is None else str(value)


def _table_rows(r: dict) -> tuple[list[str], list[list[str]]]:
    """The sysctl-style table: one row per counter, one column per CPU, then the total."""
    per_cpu = r["per_cpu"]
    header = ["counter"] + [f"cpu{c['cpu']}" for c in per_cpu] + ["total"]
    rows = []
    for name in _TABLE_COUNTERS:
        if per_cpu and name in per_cpu[0]:
            values = [c.get(name, 0) for c in per_cpu]
            rows.append(
                [f"lwkt.{name}" if name in _sysctl_names(r) else name] + [str(v) for v in values] + [str(sum(values))]
            )
    return header, rows


def _sysctl_names(r: dict) -> set[str]:
    return {name.split(".", 1)[1] for name in r["sysctl"]}


_LATENCY_LABELS = {
    "ipi": "IPI send -> run",
    "token_handoff": "token hand-off",
    "mplock_handoff": "MP lock hand-off",
    "mplock_hold": "MP lock hold",
    "switch": "context switch",
}
#: Latencies the UP build has (the others need IPIs, tokens in RAM or the MP lock).
_UP_LATENCIES = ("switch",)


def _latency_rows(r: dict) -> list[list[str]]:
    return [
        [_LATENCY_LABELS.get(key, key), _cell(v["count"]), _cell(v["median"]), _cell(v["p99"]), _cell(v["max"])]
        for key, v in r["latency"].items()
        if r["mode"] == "smp" or key in _UP_LATENCIES
    ]


def _landing_rows(r: dict) -> tuple[list[str], list[list[str]]]:
    """The interrupt-landing table: one row per kernel function, "taken/deferred" per CPU and in total."""
    rows = r.get("interrupt_landings") or []
    cpus = len(rows[0]["taken"]) if rows else 0
    header = ["landed in"] + [f"cpu{c}" for c in range(cpus)] + ["total"]
    body = [
        [row["function"]]
        + [f"{t}/{d}" for t, d in zip(row["taken"], row["deferred"], strict=True)]
        + [f"{sum(row['taken'])}/{sum(row['deferred'])}"]
        for row in rows
    ]
    return header, body


def _text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Indented text lines: the first column left-aligned, the others right-aligned."""
    return text_table(header, rows, align="l" + "r" * (len(header) - 1), indent=2)


def _exception_lines(p: dict) -> list[str]:
    e = p.get("exception")
    if not e:
        return []
    return [f"  raised by {e['type']} at {e['file']}:{e['line']} in {e['function']} (traceback in sim.log)"]


def _crash_lines(r: dict) -> list[str]:
    """How a crashed simulator ended, and its last log lines."""
    c = r.get("crash")
    if not c:
        return []
    return [
        f"crashed: {c['how']} after cycle {c['last_cycle']}; the simulator's last lines (sim.log):",
        *[f"  | {line}" for line in c["last_lines"]],
        "",
    ]


def render_text(r: dict) -> str:
    lines = [_title(r), "", *_crash_lines(r)]
    if r["panic"]:
        p = r["panic"]
        lines += [
            f"panic: {p['message']}",
            f"  cpu {p['cpu']}, thread {p['thread']} (#{p['tid']}), cycle {p['cycle']}",
            *_exception_lines(p),
            "",
        ]
    lines.append("checks:")
    for c in r["checks"]:
        lines.append(f"  [{_verdict(c):6}] {c['name']}" + (f": {c['detail']}" if c["detail"] else ""))
    lines += ["", "counters:", *_text_table(*_table_rows(r))]
    latency = _latency_rows(r)
    if latency:  # a report written before a build had latencies of its own has none to show
        lines += ["", "latency (cycles):", f"  {'':18} {'count':>6} {'median':>7} {'p99':>6} {'max':>6}"]
        for row in latency:
            lines.append(f"  {row[0]:18} {row[1]:>6} {row[2]:>7} {row[3]:>6} {row[4]:>6}")
    header, rows = _landing_rows(r)
    if rows:
        lines += ["", "interrupts landed inside kernel functions (taken/deferred):", *_text_table(header, rows)]
    if r["mode"] == "smp":
        lines.append(
            f"\nMP lock: {r['mplock']['acquisitions']} acquisitions, "
            f"{r['mplock']['contended_tries']} contended tries, {r['mplock'].get('busts', 0)} BUSTs"
        )
        lines.append(f"IPIs: {r['ipi']['sent']} sent, {r['ipi']['received']} received")
    verification = _verification_lines(r)
    if verification:
        lines += [""] + verification
    extra = [line for line in (_fault_line(r),) if line]
    if r.get("spec"):
        extra.append(f"workload spec: {r['spec']['path']} (sha256 {r['spec']['sha256'][:16]}...)")
    if r.get("waveform"):
        w = r["waveform"]
        extra.append(f"waveform: {w['file']} ({w['format'].upper()}{'; ' + w['why'] if w['why'] else ''})")
    if extra:
        lines += [""] + extra
    cost = f", cost model {r['cost_model']}" if r.get("cost_model") else ""
    lines += [
        "",
        f"simulated {r['cycles']} cycles in {r['wall_seconds']:.2f} s, {r['bus_transactions']} bus transactions{cost}",
        "",
        "files:",
    ]
    width = max((len(k) for k in r["files"]), default=0)
    lines += [f"  {k:{width}}  {v}" for k, v in r["files"].items()]
    return "\n".join(lines) + "\n"


def render_markdown(r: dict) -> str:
    lines = [
        f"# {r['scenario']}: {'passed' if r['ok'] else 'FAILED'}",
        "",
        f"{r['mode']} build, {r['cpus']} CPU(s), FIFO depth {r['fifo_depth']}, {r['sim']}, seed {r['seed']}"
        + (f", cost model {r['cost_model']}" if r.get("cost_model") else "")
        + ": "
        f"**{r['outcome']}** after {r['cycles']} cycles ({r['wall_seconds']:.2f} s wall, "
        f"{r['bus_transactions']} bus transactions).",
        "",
    ]
    if r["panic"]:
        p = r["panic"]
        lines += [
            f"**Panic** on cpu {p['cpu']}, thread `{p['thread']}` (#{p['tid']}), cycle {p['cycle']}: `{p['message']}`",
            *[line.strip() for line in _exception_lines(p)],
            "",
        ]
    c = r.get("crash")
    if c:
        lines += [f"**Crashed**: {c['how']} after cycle {c['last_cycle']}; the simulator's last lines:", ""]
        lines += ["```", *c["last_lines"], "```", ""]
    lines += ["## Checks", ""]
    lines += markdown_table(
        ["check", "result", "detail"],
        [[c["name"], _verdict(c).replace("FAILED", "**FAILED**"), c["detail"]] for c in r["checks"]],
    )
    verification = _verification_lines(r) + [line for line in (_fault_line(r),) if line]
    if verification:
        lines += [""] + [line[0].upper() + line[1:] + "." for line in verification]
    header, rows = _table_rows(r)
    lines += ["", "## Counters", ""] + markdown_table(header, rows)
    latency = _latency_rows(r)
    if latency:
        lines += ["", "## Latency (cycles)", ""] + markdown_table(["", "count", "median", "p99", "max"], latency)
    header, rows = _landing_rows(r)
    if rows:
        lines += ["", "## Interrupts landed inside kernel functions (taken/deferred)", ""] + markdown_table(
            header, rows
        )
    if r["mode"] == "smp":
        lines += [
            "",
            f"MP lock: {r['mplock']['acquisitions']} acquisitions, {r['mplock']['contended_tries']} "
            f"contended tries, {r['mplock'].get('busts', 0)} BUSTs. "
            f"IPIs: {r['ipi']['sent']} sent, {r['ipi']['received']} received.",
        ]
    lines += ["", "## Files", ""] + [f"- {k}: `{v}`" for k, v in r["files"].items()]
    return "\n".join(lines) + "\n"
