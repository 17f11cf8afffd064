"""The event trace: one record per kernel event, written as JSON lines.

Each record has ``cycle``, ``cpu``, ``tid`` and ``thread`` (the running thread),
``event`` and the event's own fields. Records are written sorted by
(cycle, cpu, order of emission on that CPU), so the file does not depend on the
order in which a simulator delivers simultaneous callbacks.

A run of ``lwkt-soc run`` streams its trace (:class:`StreamedTrace`): records go to a
spool file as the run makes them, and memory holds only the current cycle's, so a
run of any length stays flat. A directed test keeps its (short) trace in memory
(:class:`Trace`) to read it back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from sim.contract.outdir import atomic_write


__all__ = ["Trace", "StreamedTrace", "read_trace", "salvage_spool", "spool_path", "CLOCK_PERIOD_NS"]

#: The SoC clock's period in the testbench (100 MHz): a record's cycle is its simulation time over this.
CLOCK_PERIOD_NS = 10


def _order(record: dict) -> tuple[int, int, int]:
    return record["cycle"], record["cpu"], record["_seq"]


def _public(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "_seq"}


def _line(record: dict) -> str:
    return json.dumps(record, separators=(",", ":")) + "\n"


class Trace:
    """Collects the kernel events of a run in memory; written once, sorted, at the end of the run."""

    def __init__(self):
        self.records: list[dict] = []
        self._seq = 0

    def _record(self, cycle: int, cpu: int, tid: int, thread: str, event: str, fields: dict) -> dict:
        record = {"cycle": cycle, "cpu": cpu, "tid": tid, "thread": thread, "event": event}
        record.update(fields)
        record["_seq"] = self._seq
        self._seq += 1
        return record

    def emit(self, cycle: int, cpu: int, tid: int, thread: str, event: str, **fields) -> dict:
        record = self._record(cycle, cpu, tid, thread, event, fields)
        self.records.append(record)
        return record

    def flush(self) -> None:
        """Nothing to push: the records are in memory (a streamed trace pushes its spool to disk)."""

    def sorted_records(self) -> Iterable[dict]:
        """The records in file order (a list here; a streamed trace reads them back from its spool)."""
        return [_public(r) for r in sorted(self.records, key=_order)]

    def events(self, event: str | None = None, **match) -> list[dict]:
        """Records (sorted) of kind ``event`` whose fields equal ``match``."""
        return [
            r
            for r in self.sorted_records()
            if (event is None or r["event"] == event) and all(r.get(k) == v for k, v in match.items())
        ]

    def write_jsonl(self, path: Path) -> None:
        """Write the records, one JSON line each (atomically: sim/contract/outdir.py)."""
        atomic_write(path, (_line(record) for record in self.sorted_records()))


def spool_path(final: Path) -> Path:
    """Where a streamed trace whose final name is ``final`` spools while the run goes on."""
    return final.with_name(f".{final.name}.spool")


class StreamedTrace(Trace):
    """A trace spooled to disk as it is made (``spool_path(final)``), in file order.

    The simulator emits in cycle order (a record's cycle is the time it is made), so a record is
    final once a later cycle begins: only the current cycle's records wait in memory, to be sorted
    by CPU. :meth:`flush` pushes the spool to the disk (at each progress tick), so a simulator that
    dies leaves its trace up to then (:func:`salvage_spool`). :meth:`write_jsonl` renames the spool
    to its final name. Should a record ever come for an earlier cycle, the spool is sorted
    whole at the end instead.
    """

    def __init__(self, final: Path):
        super().__init__()
        self.final = Path(final)
        self.spool = spool_path(self.final)
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.spool, "w")
        self._cycle: int | None = None
        self._unsorted = False
        #: The spool's first write error (the trace cannot be kept whole).
        self.error: OSError | None = None

    def emit(self, cycle: int, cpu: int, tid: int, thread: str, event: str, **fields) -> dict:
        record = self._record(cycle, cpu, tid, thread, event, fields)
        if self._cycle is not None and cycle != self._cycle:
            if cycle < self._cycle:
                self._unsorted = True
            else:
                self._spill()
        self._cycle = cycle if self._cycle is None else max(cycle, self._cycle)
        self.records.append(record)
        return record

    def _spill(self) -> None:
        """Write the waiting records (one cycle's, or more if one came late) in file order."""
        if self.records:
            lines = [_line(_public(r)) for r in sorted(self.records, key=_order)]
            self.records = []
            self._guard(lambda: self._file.writelines(lines))

    def _guard(self, write) -> None:
        """A write to the spool; a full disk or a file-size limit stops the spool (the kernel runs on, and
        :meth:`write_jsonl` reports the error under the trace's final name)."""
        if self.error is not None:
            return
        try:
            write()
        except OSError as exc:
            self.error = exc

    def flush(self) -> None:
        """Everything of the cycles before the current one to the disk."""
        self._guard(self._file.flush)

    def sorted_records(self) -> Iterator[dict]:
        self._spill()
        self.flush()
        if self.error is not None:  # the spool is not whole: nothing may judge it
            raise OSError(self.error.errno, self.error.strerror or str(self.error), str(self.final))
        return _read_sorted(self.spool, self._unsorted)

    def write_jsonl(self, path: Path) -> None:
        """The trace under its final name ``path``: the spool renamed (sorted first if it must be)."""
        self._spill()
        self._guard(self._file.close)
        try:
            if self.error is not None:
                raise self.error
            if self._unsorted:
                atomic_write(path, (_line(r) for r in _read_sorted(self.spool, True)))
                self.spool.unlink(missing_ok=True)
            else:
                os.replace(self.spool, path)
        except OSError as exc:
            self.spool.unlink(missing_ok=True)
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None


def _read_sorted(spool: Path, unsorted: bool) -> Iterator[dict]:
    records = _read_lines(spool)
    if unsorted:  # only when a record came out of cycle order: a whole sort, in memory
        return iter(sorted(records, key=lambda r: (r["cycle"], r["cpu"])))
    return records


def _read_lines(path: Path) -> Iterator[dict]:
    with open(path) as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def salvage_spool(final: Path) -> int | None:
    """After a simulator died: its spool, up to the last whole line, under the final name ``final``.
    Returns the records kept, or None when there was no spool."""
    spool = spool_path(final)
    try:
        data = spool.read_bytes()
    except FileNotFoundError:
        return None
    whole = data[: data.rfind(b"\n") + 1]
    atomic_write(final, whole)
    spool.unlink(missing_ok=True)
    return whole.count(b"\n")


def read_trace(path: Path) -> list[dict]:
    return list(_read_lines(path))
