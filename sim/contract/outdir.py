"""The output folder of a run: checked, locked against a second run, cleared, written atomically.

A run takes an exclusive lock on ``DIR/.lock`` for its whole life, so a second
run into the same folder fails at once (exit 2) naming the one that holds it.
The previous run's files are removed only once the new run's own checks have
passed (options, spec, build), so a run that cannot start leaves them intact.
Every output is written under a temporary name and renamed into place.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from sim.contract.errors import EnvironmentProblem, UsageError

__all__ = ["RunFolder", "atomic_write", "OUTPUT_FILES", "FW_COVERAGE_DATA"]

#: A run's coverage.py data file of the firmware (sim/tb/fw_coverage.py writes it).
FW_COVERAGE_DATA = "fw_coverage.dat"

#: Everything a run writes, leftovers of an interrupted run included (the simulator's dump files).
OUTPUT_FILES = (
    "run.json",
    "trace.jsonl",
    "counters.json",
    "report.json",
    "report.txt",
    "report.md",
    "timeline.png",
    "waves.fst",
    "waves.vcd",
    "waves.gtkw",
    "threads.txt",
    "progress",
    "sim.log",
    "results.xml",
    "dump.vcd",
    "dump.fst",
    "coverage.dat",
    "rtl_coverage.dat",
    "fw_coverage.dat",
    "coverage.ucis.xml",
)


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` under a temporary name, then rename it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data)
    os.replace(tmp, path)


class RunFolder:
    """``--out DIR`` of one run; use as a context manager (holds the lock)."""

    def __init__(self, path: Path, what: str):
        self.path = Path(path).resolve()
        self.what = what
        self._lock = None

    def __enter__(self) -> RunFolder:
        path = self.path
        if path.exists() and not path.is_dir():
            raise UsageError(f"--out {path}: is a file, not a folder")
        try:
            path.mkdir(parents=True, exist_ok=True)
            lock = open(path / ".lock", "a+")
        except OSError as exc:
            raise EnvironmentProblem(
                f"--out {path}: cannot create or write the folder ({exc.strerror or exc})"
            ) from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.seek(0)
            holder = lock.read().strip() or "another run"
            lock.close()
            raise UsageError(
                f"--out {path} is in use by a run still going ({holder}); wait for it or choose another folder"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(json.dumps({"pid": os.getpid(), "run": self.what}) + "\n")
        lock.flush()
        self._lock = lock
        return self

    def clear(self) -> None:
        """Remove the previous run's files (called once this run's own checks have passed)."""
        for name in OUTPUT_FILES:
            try:
                (self.path / name).unlink(missing_ok=True)
            except OSError as exc:
                raise EnvironmentProblem(
                    f"--out {self.path}: cannot remove the old {name} ({exc.strerror or exc})"
                ) from None

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None
