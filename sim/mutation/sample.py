"""A sample of mutants to run, and the statistics that say how far its kill rate can be trusted.

Running every mutant through a kill suite costs hours; a random sample estimates the kill rate
of the whole population. The sample is stratified by (file, operator), so that every kind of
mutant of every file is met and none crowds out the others, and each stratum gets its share of
the sample in proportion to its size.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from statistics import NormalDist

from .operators import Mutant

__all__ = ["stratified_sample", "allocate", "sample_size", "wilson_interval"]


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def allocate(sizes: dict[tuple[str, str], int], n: int) -> dict[tuple[str, str], int]:
    """How many of ``n`` each stratum gets: in proportion to its size (largest remainders), at
    least one each when ``n`` is at least the number of strata, never more than it holds. With
    fewer draws than strata, the largest strata get one each (ties in key order)."""
    strata = sorted(k for k, size in sizes.items() if size > 0)
    total = sum(sizes[k] for k in strata)
    n = min(n, total)
    if n <= 0:
        return {}
    if n < len(strata):
        return {k: 1 for k in sorted(strata, key=lambda k: (-sizes[k], k))[:n]}
    quota = {k: n * sizes[k] / total for k in strata}
    share = {k: min(sizes[k], max(1, math.floor(quota[k]))) for k in strata}
    # Too many (the floors of 1): take back from the strata furthest above their quota.
    while sum(share.values()) > n:
        k = max((k for k in strata if share[k] > 1), key=lambda k: (share[k] - quota[k], k))
        share[k] -= 1
    # Too few: give to the strata furthest below their quota that have mutants left.
    while sum(share.values()) < n:
        k = max((k for k in strata if share[k] < sizes[k]), key=lambda k: (quota[k] - share[k], k))
        share[k] += 1
    return share


def stratified_sample(mutants: Sequence[Mutant], n: int, seed: int | str) -> list[Mutant]:
    """``n`` of ``mutants`` (all of them if there are no more), stratified by (file, operator),
    in their given order. Within a stratum the draw is random, from a ``random.Random`` seeded by
    ``seed`` and the stratum, so one stratum's draw does not depend on another's size: the same
    inputs always give the same sample."""
    if n < 0:
        raise ValueError(f"a sample size is not negative: {n}")
    groups: dict[tuple[str, str], list[Mutant]] = {}
    for mutant in mutants:
        groups.setdefault((mutant.file, mutant.operator), []).append(mutant)
    shares = allocate({k: len(v) for k, v in groups.items()}, n)
    chosen: set[str] = set()
    for key, count in shares.items():
        rng = random.Random(f"{seed}:{key[0]}:{key[1]}")
        chosen.update(m.id for m in rng.sample(groups[key], count))
    return [m for m in mutants if m.id in chosen]


def sample_size(margin: float = 0.05, confidence: float = 0.95, population: int | None = None, p: float = 0.5) -> int:
    """The number of mutants to sample to estimate a kill rate near ``p`` within ``±margin`` at
    ``confidence`` (``z² p (1-p) / margin²``), with the finite-population correction when
    ``population`` is given. ``p = 0.5`` is the safe choice when nothing is known."""
    if not 0 < margin < 1:
        raise ValueError(f"margin must be between 0 and 1, not {margin}")
    if not 0 <= p <= 1:
        raise ValueError(f"p must be between 0 and 1, not {p}")
    n0 = _z(confidence) ** 2 * p * (1 - p) / margin**2
    if population is None:
        return math.ceil(n0)
    if population < 0:
        raise ValueError(f"a population is not negative: {population}")
    return min(population, math.ceil(n0 / (1 + (n0 - 1) / population))) if population else 0


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a kill rate ``k/n``: unlike ``p ± z·sqrt(p(1-p)/n)`` it stays
    inside [0, 1] and is not empty at 0 or n kills. ``n = 0`` gives (0, 1): nothing is known."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, not k={k}, n={n}")
    z = _z(confidence)
    if n == 0:
        return 0.0, 1.0
    rate, z2 = k / n, z * z
    centre = (rate + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(rate * (1 - rate) / n + z2 / (4 * n * n))
    low = 0.0 if k == 0 else max(0.0, centre - half)  # exact ends, not a rounding error away
    return low, 1.0 if k == n else min(1.0, centre + half)
