"""hdl.bus.RoundRobinArbiter: one-hot grants that rotate."""

import random

import pytest

from hdl.bus import RoundRobinArbiter

from .harness import env_mutant, run_component


def reference_grant(n, requests, last):
    """First requester after ``last`` in circular order (from 0 when none yet)."""
    order = range(n) if last is None else [(last + 1 + k) % n for k in range(n)]
    for i in order:
        if requests >> i & 1:
            return i
    return None


def check_cycle(ctx, arb, n, requests, last):
    ctx.set(arb.requests, requests)
    grant = ctx.get(arb.grant)
    expected = reference_grant(n, requests, last)
    if expected is None:
        assert grant == 0
    else:
        assert grant == 1 << expected, (bin(requests), last, bin(grant))
        assert ctx.get(arb.index) == expected
        assert grant & requests == grant  # grants only a requester
    return expected


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_all_requesting_rotates(n):
    arb = RoundRobinArbiter(n, mutant=env_mutant())

    async def bench(ctx):
        ctx.set(arb.requests, (1 << n) - 1)
        order = []
        for _ in range(3 * n):
            grant = ctx.get(arb.grant)
            assert grant != 0 and grant & (grant - 1) == 0  # one-hot
            order.append(ctx.get(arb.index))
            assert grant == 1 << order[-1]
            await ctx.tick()
        assert order == [k % n for k in range(3 * n)]

    run_component(arb, bench)


@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_random_requests_match_round_robin_model(n):
    arb = RoundRobinArbiter(n, mutant=env_mutant())
    rng = random.Random(n)

    async def bench(ctx):
        last = None
        for _ in range(300):
            requests = rng.getrandbits(n) if rng.random() > 0.1 else 0
            granted = check_cycle(ctx, arb, n, requests, last)
            await ctx.tick()
            if granted is not None:
                last = granted

    run_component(arb, bench)


def test_idle_cycles_keep_the_pointer():
    n = 4
    arb = RoundRobinArbiter(n, mutant=env_mutant())

    async def bench(ctx):
        last = None
        for requests in (0b0100, 0, 0, 0b0101, 0b0101, 0, 0b1111, 0b0010, 0b0010, 0b1001):
            granted = check_cycle(ctx, arb, n, requests, last)
            await ctx.tick()
            if granted is not None:
                last = granted

    run_component(arb, bench)


def test_persistent_requester_waits_at_most_n_minus_1_grants():
    n = 4
    arb = RoundRobinArbiter(n, mutant=env_mutant())

    async def bench(ctx):
        # Requesters 0, 1, 2 always ask; 3 asks from cycle 5 until granted.
        waited = None
        for cycle in range(40):
            requests = 0b0111 | (0b1000 if cycle >= 5 and waited is None else 0)
            ctx.set(arb.requests, requests)
            grant = ctx.get(arb.grant)
            if grant == 0b1000:
                waited = cycle - 5
            await ctx.tick()
        assert waited is not None and waited <= n - 1

    run_component(arb, bench)
