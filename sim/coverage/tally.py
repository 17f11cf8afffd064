"""Bins hit over a series of ``make coverage`` runs (:class:`Tally`), and a series run in worker processes
(:func:`run_series`) with its bins added in the order the runs were submitted."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from sim.coverage.func import MODEL, reachable, stimulus_for
from sim.coverage.jobs import run_job

__all__ = ["Tally", "run_series"]


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


def run_series(jobs: list[dict], tally: Tally, out: Path, workers: int, code: bool, results: list) -> int | None:
    """Run ``jobs`` (at most ``workers`` at a time, in order of submission), adding their bins to
    ``tally``; a biased random job draws from the bins open when it is submitted. Returns the
    number of random seeds after which every reachable bin was hit (None: not reached)."""
    closed_at = None
    seeds_done = 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: dict = {}
        queue = list(enumerate(jobs))
        finished: dict[int, dict] = {}
        next_to_add = 0
        while queue or pending:
            while queue and len(pending) < workers:
                index, job = queue.pop(0)
                if job.get("biased"):
                    weights, knobs = stimulus_for(tally.open())
                    job = dict(job, weights=weights, knobs=knobs)
                pending[pool.submit(run_job, job, out, code)] = index
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                finished[pending.pop(future)] = future.result()
            # Bins are added in submission order, so the curve does not depend on timing.
            while next_to_add in finished:
                r = finished.pop(next_to_add)
                job = jobs[next_to_add]
                next_to_add += 1
                results.append(r)
                tally.add(r["hits"], r["label"])
                if "run" in job and job["run"].scenario == "random":
                    seeds_done += 1
                    if closed_at is None and not tally.open():
                        closed_at = seeds_done
                status = "ok" if r["ok"] else f"FAILED{': ' + r['error'] if r['error'] else ''}"
                print(
                    f"  {r['label']:44} {tally.covered():4}/{len(MODEL)} bins  {r['seconds']:6.1f} s  {status}",
                    flush=True,
                )
    return closed_at
