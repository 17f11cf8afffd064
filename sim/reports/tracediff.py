"""Compare two event traces record by record and say where, and why, they part.

    python -m sim.reports.tracediff OLD NEW            # two trace.jsonl files or run folders
    python -m sim.reports.tracediff --runs OLDS NEWS   # every run folder in OLDS against the same name in NEWS

Fields that only the newer trace has (added by a later version: ``in`` on
interrupt records, say) are ignored. A pair of traces either matches, or parts
at a first differing record; that record is classified:

- ``interrupt at a kernel access``: the newer trace takes or defers an
  interrupt there, inside a kernel function (its ``in`` field names one), where
  the older one went on: an interrupt now lands at a boundary the older version
  did not have. Everything after it moves in time, so the comparison stops there.
- ``other``: anything else, a real behaviour change.

Exit status: 0 when every pair matches or parts only at an interrupt landing
at a kernel access, 1 otherwise, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from firmware.frames import IDLE, THREAD_CODE

__all__ = ["compare", "Comparison", "main"]

_INTERRUPT_EVENTS = ("interrupt", "intr_deferred")


@dataclass
class Comparison:
    records: int  # records of the older trace
    common: int  # records equal from the start
    old: dict | None = None  # the first differing records (None: that trace ended)
    new: dict | None = None

    @property
    def identical(self) -> bool:
        return self.old is None and self.new is None

    @property
    def kind(self) -> str:
        if self.identical:
            return "identical"
        new = self.new or {}
        if new.get("event") in _INTERRUPT_EVENTS and new.get("in") not in (None, THREAD_CODE, IDLE):
            return "interrupt at a kernel access"
        return "other"

    @property
    def accepted(self) -> bool:
        return self.kind in ("identical", "interrupt at a kernel access")

    def describe(self) -> str:
        if self.identical:
            return f"identical ({self.records} records)"
        return (
            f"{self.kind}: {self.common} of {self.records} records equal, then\n"
            f"    old: {json.dumps(self.old, separators=(',', ':'))}\n"
            f"    new: {json.dumps(self.new, separators=(',', ':'))}"
        )


def _same(old: dict, new: dict) -> bool:
    return all(new.get(key, _MISSING) == value for key, value in old.items())


_MISSING = object()


def compare(old: list[dict], new: list[dict]) -> Comparison:
    """Where ``new`` first differs from ``old`` (fields only ``new`` has are ignored)."""
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        if not _same(a, b):
            return Comparison(len(old), i, a, b)
    n = min(len(old), len(new))
    if len(old) == len(new):
        return Comparison(len(old), n)
    return Comparison(len(old), n, old[n] if n < len(old) else None, new[n] if n < len(new) else None)


def _load(path: Path) -> list[dict]:
    if path.is_dir():
        path = path / "trace.jsonl"
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.reports.tracediff", description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the older trace.jsonl or run folder (with --runs: a folder of run folders)")
    parser.add_argument("new", help="the newer one")
    parser.add_argument("--runs", action="store_true", help="compare every run folder of OLD with NEW's namesake")
    args = parser.parse_args(argv)
    old, new = Path(args.old), Path(args.new)
    if args.runs:
        pairs = [(d.name, d, new / d.name) for d in sorted(old.iterdir()) if (d / "trace.jsonl").exists()]
    else:
        pairs = [(str(new), old, new)]
    missing = [str(n) for _, o, n in pairs if not (n / "trace.jsonl" if n.is_dir() else n).exists()] + [
        str(o) for _, o, n in pairs if not (o / "trace.jsonl" if o.is_dir() else o).exists()
    ]
    if not pairs or missing:
        print(f"tracediff: error: no trace in {missing[0] if missing else old}", file=sys.stderr)
        return 2
    kinds: dict[str, int] = {}
    for name, o, n in pairs:
        result = compare(_load(o), _load(n))
        kinds[result.kind] = kinds.get(result.kind, 0) + 1
        print(f"{name}: {result.describe()}")
    print("summary: " + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())))
    return 0 if set(kinds) <= {"identical", "interrupt at a kernel access"} else 1


if __name__ == "__main__":
    sys.exit(main())
