"""``lwkt-soc check DIR``: replay a finished run's trace through the scheduling scoreboard.

Reads ``DIR/report.json`` (the kernel build and CPU count) and ``DIR/trace.jsonl``,
checks every scheduling decision against ``firmware/scoreboard.py`` and prints a
summary line and the first mismatches. Anything wrong with the folder or its
files is a :class:`CheckError` with a one-line message.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from firmware.scoreboard import DECISION_KINDS, RecordError, check_records

from .trace import read_trace

__all__ = ["CheckError", "load_run", "check_run", "summary_line"]


class CheckError(Exception):
    """The run folder cannot be checked (missing, unreadable or malformed)."""


def load_run(run_dir: Path) -> tuple[list[dict], str, int]:
    """The trace records, the kernel build ("up"/"smp") and the CPU count of a run."""
    if not run_dir.is_dir():
        raise CheckError(f"{run_dir}: no such run folder")
    report_path, trace_path = run_dir / "report.json", run_dir / "trace.jsonl"
    try:
        report = json.loads(report_path.read_text())
    except OSError as exc:
        raise CheckError(f"{report_path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise CheckError(f"{report_path}: not JSON ({exc})") from None
    mode = report.get("mode") if isinstance(report, dict) else None
    cpus = report.get("cpus") if isinstance(report, dict) else None
    if mode not in ("up", "smp") or not isinstance(cpus, int) or cpus < 1:
        raise CheckError(f"{report_path}: needs 'mode' (up or smp) and 'cpus' (>= 1), has {mode!r} and {cpus!r}")
    try:
        records = read_trace(trace_path)
    except OSError as exc:
        raise CheckError(f"{trace_path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise CheckError(f"{trace_path}: malformed{_bad_line(trace_path)}: {exc}") from None
    for n, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise CheckError(f"{trace_path}: record {n} is not a JSON object")
    return records, mode, cpus


def _bad_line(path: Path) -> str:
    """" line N" of the first line that is not JSON (read_trace parses line by line)."""
    try:
        with open(path, errors="replace") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        json.loads(line)
                    except ValueError:
                        return f" line {n}"
    except OSError:
        pass
    return ""


def summary_line(summary: dict) -> str:
    decisions, undecidable = summary["decisions"], summary["undecidable"]
    share = 100.0 * undecidable / decisions if decisions else 0.0
    kinds = ", ".join(f"{k} {summary[k]}" for k in DECISION_KINDS)
    return (f"scoreboard: {decisions} decisions ({kinds}), {undecidable} undecidable ({share:.1f}%), "
            f"{summary['mismatches']} mismatches")


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
