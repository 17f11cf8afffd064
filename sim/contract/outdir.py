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
from collections.abc import Iterable
from pathlib import Path

from sim.contract.errors import EnvironmentProblem, UsageError

__all__ = ["RunFolder", "FileLock", "atomic_write", "OUTPUT_FILES", "FW_COVERAGE_DATA", "SNAPSHOT_FILE"]

#: The counters of a run still going, rewritten every second or so by the simulator side: what the
#: host reports if the simulator dies (sim/host/run.py).
SNAPSHOT_FILE = ".counters.json.snapshot"

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
    ".trace.jsonl.spool",
    SNAPSHOT_FILE,
)


def atomic_write(path: Path, data: str | bytes | Iterable[str]) -> None:
    """Write ``data`` (text, bytes, or text chunks streamed one after the other) to ``path`` under a
    temporary name, then rename it into place: a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        elif isinstance(data, str):
            tmp.write_text(data)
        else:
            with open(tmp, "w") as f:
                f.writelines(data)
        os.replace(tmp, path)
    except OSError as exc:
        # A full disk or a file-size limit: name the file the user asked for, not the temporary one.
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
    finally:
        tmp.unlink(missing_ok=True)


class FileLock:
    """An exclusive lock on a file (``flock``), held from :meth:`acquire` until :meth:`release` or
    the process ends, with a line saying who holds it for the one that is refused.

    The run folder, the build cache and the campaign folder each take one: the same mechanism,
    so one kill of a process frees whatever it held."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = None

    def acquire(self, holder: str, *, wait: bool = False, on_wait=None) -> str | None:
        """Take the lock and write ``holder`` into the file; None on success. Without ``wait``, a lock
        held elsewhere returns that holder's line instead; with ``wait`` it calls ``on_wait()`` once and
        blocks. OSError when the file cannot be opened."""
        file = open(self.path, "a+")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            if not wait:
                file.seek(0)
                other = file.read().strip()
                file.close()
                return other or "another process"
            if on_wait is not None:
                on_wait()
            fcntl.flock(file, fcntl.LOCK_EX)
        file.seek(0)
        file.truncate()
        file.write(holder + "\n")
        file.flush()
        self._file = file
        return None

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


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
        lock = FileLock(path / ".lock")
        try:
            path.mkdir(parents=True, exist_ok=True)
            holder = lock.acquire(json.dumps({"pid": os.getpid(), "run": self.what}))
        except OSError as exc:
            raise EnvironmentProblem(
                f"--out {path}: cannot create or write the folder ({exc.strerror or exc})"
            ) from None
        if holder is not None:
            raise UsageError(
                f"--out {path} is in use by a run still going ({holder}); wait for it or choose another folder"
            )
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
            self._lock.release()
            self._lock = None
