"""Bins hit over a series of ``make coverage`` runs (:class:`Tally`): the hits, the run that first hit
each bin, and the curve of bins against runs."""

from __future__ import annotations

from sim.coverage.func import MODEL, reachable

__all__ = ["Tally"]


class Tally:
    """Bins hit so far over a series of runs, the run that first hit each, and the curve."""

    def __init__(self):
        self.hits = {name: 0 for name in MODEL}
        self.first: dict[str, str] = {}
        self.curve: list[int] = []

    def add(self, hits: dict, label: str, point: bool = True) -> None:
        for name, n in hits.items():
            if name in self.hits and n:
                self.hits[name] += n
                self.first.setdefault(name, label)
        if point:
            self.curve.append(self.covered())

    def covered(self) -> int:
        return sum(1 for n in self.hits.values() if n)

    def open(self) -> list[str]:
        return [name for name in reachable() if not self.hits[name]]

    def copy(self) -> Tally:
        other = Tally()
        other.hits, other.first, other.curve = dict(self.hits), dict(self.first), list(self.curve)
        return other
