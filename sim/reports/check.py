"""``lwkt-soc check DIR``: replay a finished run's trace through the scheduling scoreboard.

Reads ``DIR/report.json`` (the kernel build and CPU count) and ``DIR/trace.jsonl``,
checks every scheduling decision against ``sim/checks/scoreboard.py`` and prints a
summary line and the first mismatches. Anything wrong with the folder or its
files is a :class:`CheckError` with a one-line message.
"""

from __future__ import annotations

import sys
from pathlib import Path

from firmware.builds import MODES
from sim.checks.scoreboard import DECISION_KINDS, RecordError, check_records

from sim.contract.errors import UsageError
from sim.reports.run_files import RunFiles

__all__ = ["CheckError", "load_run", "check_run", "summary_line"]


class CheckError(UsageError):
    """The run folder cannot be checked (missing, unreadable or malformed): exit 2."""


def load_run(run_dir: Path) -> tuple[list[dict], str, int]:
    """The trace records, the kernel build ("up"/"smp") and the CPU count of a run."""
    files = RunFiles(run_dir)
    try:
        report = files.report(complete=False)
        records = files.trace()
    except UsageError as exc:
        raise CheckError(str(exc)) from None
    mode, cpus = report.get("mode"), report.get("cpus")
    if mode not in MODES or not isinstance(cpus, int) or cpus < 1:
        raise CheckError(
            f"{run_dir / 'report.json'}: needs 'mode' (up or smp) and 'cpus' (>= 1), has {mode!r} and {cpus!r}"
        )
    return records, mode, cpus


def summary_line(summary: dict) -> str:
    decisions, undecidable = summary["decisions"], summary["undecidable"]
    share = 100.0 * undecidable / decisions if decisions else 0.0
    kinds = ", ".join(f"{k} {summary[k]}" for k in DECISION_KINDS)
    return (
        f"scoreboard: {decisions} decisions ({kinds}), {undecidable} undecidable ({share:.1f}%), "
        f"{summary['mismatches']} mismatches"
    )


def check_run(run_dir: Path, *, limit: int = 10, out=None) -> bool:
    """Check the run in ``run_dir``, print the outcome; True when no decision mismatched."""
    out = out or sys.stdout
    records, mode, cpus = load_run(run_dir)
    try:
        summary, messages = check_records(records, mode, cpus)
    except RecordError as exc:
        raise CheckError(f"{run_dir / 'trace.jsonl'}: {exc}") from None
    print(summary_line(summary), file=out)
    for message in messages[:limit]:
        print(f"  {message}", file=out)
    if len(messages) > limit:
        print(f"  ... and {len(messages) - limit} more", file=out)
    return not messages
