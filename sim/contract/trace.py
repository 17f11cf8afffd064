"""The event trace: one record per kernel event, written as JSON lines.

Each record has ``cycle``, ``cpu``, ``tid`` and ``thread`` (the running thread),
``event`` and the event's own fields. Records are written sorted by
(cycle, cpu, order of emission on that CPU), so the file does not depend on the
order in which a simulator delivers simultaneous callbacks.
"""

from __future__ import annotations

import json
from pathlib import Path

from sim.contract.outdir import atomic_write


__all__ = ["Trace", "read_trace", "CLOCK_PERIOD_NS"]

#: The SoC clock's period in the testbench (100 MHz): a record's cycle is its simulation time over this.
CLOCK_PERIOD_NS = 10


class Trace:
    """Collects the kernel events of a run in memory; written once, sorted, at the end of the run."""

    def __init__(self):
        self.records: list[dict] = []
        self._seq = 0

    def emit(self, cycle: int, cpu: int, tid: int, thread: str, event: str, **fields) -> dict:
        record = {"cycle": cycle, "cpu": cpu, "tid": tid, "thread": thread, "event": event}
        record.update(fields)
        record["_seq"] = self._seq
        self._seq += 1
        self.records.append(record)
        return record

    def sorted_records(self) -> list[dict]:
        ordered = sorted(self.records, key=lambda r: (r["cycle"], r["cpu"], r["_seq"]))
        return [{k: v for k, v in r.items() if k != "_seq"} for r in ordered]

    def events(self, event: str | None = None, **match) -> list[dict]:
        """Records (sorted) of kind ``event`` whose fields equal ``match``."""
        return [
            r
            for r in self.sorted_records()
            if (event is None or r["event"] == event) and all(r.get(k) == v for k, v in match.items())
        ]

    def write_jsonl(self, path: Path) -> None:
        """Write the records, one JSON line each (atomically: sim/contract/outdir.py)."""
        atomic_write(path, (json.dumps(record, separators=(",", ":")) + "\n" for record in self.sorted_records()))


def read_trace(path: Path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
