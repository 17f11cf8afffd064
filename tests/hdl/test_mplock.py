"""MPLOCK: the hardware MP lock (TRY/RELEASE/OWNER/ERR/BUST/ACQUIRES/FAILED_TRIES/OWNER_QUIET/BUSTS)."""

import pytest

from hdl import memory_map as mm

from .harness import access_all, rd, run, small_config, soc_config, ticks, wr

L = mm.MPLOCK
NONOWNER = L.register("ERR").field("NONOWNER").mask


async def state(ctx, port):
    """(OWNER, ERR, ACQUIRES, FAILED_TRIES) as seen by ``port``."""
    return tuple([await port.read(ctx, a) for a in (L.OWNER, L.ERR, L.ACQUIRES, L.FAILED_TRIES)])


def test_reset_state():
    async def bench(ctx, soc):
        for port in soc.ports:
            assert await state(ctx, port) == (mm.OWNER_FREE, 0, 0, 0)

    run(small_config(), bench)


def test_try_claims_reclaim_and_contention():
    async def bench(ctx, soc):
        p0, p1, p2 = soc.ports
        assert await p1.read(ctx, L.TRY) == 1
        assert await state(ctx, p0) == (1, 0, 1, 0)
        # The owner may TRY again: 1, no new acquisition, no failure.
        assert await p1.read(ctx, L.TRY) == 1
        assert await state(ctx, p2) == (1, 0, 1, 0)
        # Others fail and only FAILED_TRIES changes.
        assert await p0.read(ctx, L.TRY) == 0
        assert await state(ctx, p1) == (1, 0, 1, 1)
        assert await p2.read(ctx, L.TRY) == 0
        assert await p2.read(ctx, L.TRY) == 0
        assert await state(ctx, p0) == (1, 0, 1, 3)

    run(small_config(), bench)


def test_release_by_owner_frees_once_not_recursive():
    async def bench(ctx, soc):
        p0, p1, _ = soc.ports
        for _ in range(3):
            assert await p0.read(ctx, L.TRY) == 1
        await p0.write(ctx, L.RELEASE, 0)
        assert await state(ctx, p1) == (mm.OWNER_FREE, 0, 1, 0)
        assert await p1.read(ctx, L.TRY) == 1
        assert await state(ctx, p0) == (1, 0, 2, 0)

    run(small_config(), bench)


def test_release_by_non_owner_is_ignored_and_sets_nonowner():
    async def bench(ctx, soc):
        p0, p1, p2 = soc.ports
        assert await p2.read(ctx, L.TRY) == 1
        # A legal access (acked), but it does not free the lock.
        await p0.write(ctx, L.RELEASE, 0xFFFF_FFFF)
        assert await state(ctx, p1) == (2, NONOWNER, 1, 0)
        # ERR is sticky: the owner's own release does not clear it.
        await p2.write(ctx, L.RELEASE, 0)
        assert await state(ctx, p1) == (mm.OWNER_FREE, NONOWNER, 1, 0)

    run(small_config(), bench)


def test_release_of_free_lock_sets_nonowner():
    async def bench(ctx, soc):
        p0, p1, _ = soc.ports
        await p1.write(ctx, L.RELEASE, 0)
        assert await state(ctx, p0) == (mm.OWNER_FREE, NONOWNER, 0, 0)
        # Also for a CPU that owned it before.
        await p1.write(ctx, L.ERR, NONOWNER)
        assert await p1.read(ctx, L.TRY) == 1
        await p1.write(ctx, L.RELEASE, 0)
        assert await p1.read(ctx, L.ERR) == 0
        await p1.write(ctx, L.RELEASE, 0)
        assert await state(ctx, p0) == (mm.OWNER_FREE, NONOWNER, 1, 0)

    run(small_config(), bench)


def test_err_is_write_one_to_clear():
    async def bench(ctx, soc):
        p0, p1, _ = soc.ports
        await p0.write(ctx, L.RELEASE, 0)
        assert await p1.read(ctx, L.ERR) == NONOWNER
        # Writing 0 (or only other bits) leaves it set.
        await p1.write(ctx, L.ERR, 0)
        await p1.write(ctx, L.ERR, 0xFFFF_FFFF & ~NONOWNER)
        assert await p0.read(ctx, L.ERR) == NONOWNER
        # Any CPU may clear it by writing 1 to the bit.
        await p1.write(ctx, L.ERR, NONOWNER)
        assert await p0.read(ctx, L.ERR) == 0
        # Writing 1 does not set it.
        await p1.write(ctx, L.ERR, NONOWNER)
        assert await p0.read(ctx, L.ERR) == 0

    run(small_config(), bench)


def test_bust_frees_whoever_owns_it():
    async def bench(ctx, soc):
        p0, p1, p2 = soc.ports
        assert await p2.read(ctx, L.TRY) == 1
        await p0.write(ctx, L.BUST, 0)
        assert await state(ctx, p1) == (mm.OWNER_FREE, 0, 1, 0)
        assert await p0.read(ctx, L.TRY) == 1
        assert await state(ctx, p1) == (0, 0, 2, 0)
        # BUST of a free lock is harmless and sets no error.
        await p0.write(ctx, L.BUST, 0)
        await p1.write(ctx, L.BUST, 0)
        assert await state(ctx, p2) == (mm.OWNER_FREE, 0, 2, 0)

    run(small_config(), bench)


def test_owner_quiet_counts_the_owners_idle_cycles_and_restarts_at_its_requests():
    async def bench(ctx, soc):
        p0, p1, p2 = soc.ports
        assert await p0.read(ctx, L.OWNER_QUIET) == 0  # free: 0
        await ticks(ctx, 50)
        assert await p0.read(ctx, L.OWNER_QUIET) == 0  # still free: others' idling does not count
        assert await p1.read(ctx, L.TRY) == 1
        first = await p0.read(ctx, L.OWNER_QUIET)
        await ticks(ctx, 100)
        later = await p2.read(ctx, L.OWNER_QUIET)
        # Other CPUs' accesses do not count as the owner's: the count grew by the idle cycles and both reads.
        assert first < 10 and 100 <= later - first <= 110, (first, later)
        # Any request of the owner, to any block, restarts the count.
        await p1.read(ctx, mm.SYS.CPUID)
        assert await p0.read(ctx, L.OWNER_QUIET) < 5
        await p1.write(ctx, L.RELEASE, 0)
        assert await p0.read(ctx, L.OWNER_QUIET) == 0

    run(small_config(), bench)


def test_bust_frees_only_an_owner_quiet_for_the_cycles_asked():
    async def bench(ctx, soc):
        p0, p1, p2 = soc.ports
        assert await p2.read(ctx, L.TRY) == 1
        await p0.write(ctx, L.BUST, 200)  # p2 has just made a request: refused
        assert await state(ctx, p1) == (2, 0, 1, 0) and await p1.read(ctx, L.BUSTS) == 0
        await ticks(ctx, 150)
        await p2.read(ctx, L.OWNER)  # the owner is live: its count restarts
        await ticks(ctx, 150)
        await p0.write(ctx, L.BUST, 200)
        assert await p1.read(ctx, L.OWNER) == 2 and await p1.read(ctx, L.BUSTS) == 0
        await ticks(ctx, 200)
        assert await p0.read(ctx, L.OWNER_QUIET) >= 200
        await p0.write(ctx, L.BUST, 200)  # quiet long enough: freed, and counted
        assert await state(ctx, p1) == (mm.OWNER_FREE, 0, 1, 0) and await p1.read(ctx, L.BUSTS) == 1
        await p0.write(ctx, L.BUST, 0)  # a free lock: nothing to free or count
        assert await p1.read(ctx, L.BUSTS) == 1

    run(small_config(), bench)


def test_acquires_counts_free_to_owned_transitions_only():
    async def bench(ctx, soc):
        p0, p1, p2 = soc.ports
        expected = 0
        for owner, other in ((p0, p1), (p1, p2), (p2, p0), (p0, p2)):
            assert await owner.read(ctx, L.TRY) == 1
            expected += 1
            assert await owner.read(ctx, L.TRY) == 1  # re-claim: not counted
            assert await other.read(ctx, L.TRY) == 0  # failure: not counted
            assert await other.read(ctx, L.ACQUIRES) == expected
            await owner.write(ctx, L.RELEASE, 0)
        assert await p0.read(ctx, L.FAILED_TRIES) == 4

    run(small_config(), bench)


@pytest.mark.parametrize("ncpu", [2, 3, 4])
def test_simultaneous_tries_have_exactly_one_winner(ncpu):
    config = soc_config(ncpu=ncpu, fifo_depth=4, ram_words=16, ext_lines=1)

    async def bench(ctx, soc):
        acquires = failed = 0
        for _ in range(ncpu + 1):
            results = await access_all(ctx, [(p, rd(L.TRY)) for p in soc.ports])
            assert all(r.ok for r in results)
            winners = [cpu for cpu, r in enumerate(results) if r.value == 1]
            assert len(winners) == 1, results
            assert all(r.value in (0, 1) for r in results)
            # Serialised by the arbiter: one access per cycle.
            assert sorted(r.cycles for r in results) == list(range(1, ncpu + 1))
            acquires, failed = acquires + 1, failed + ncpu - 1
            owner = soc.ports[winners[0]]
            assert await state(ctx, owner) == (winners[0], 0, acquires, failed)
            # While it is held, simultaneous tries by everybody else all fail.
            others = [p for p in soc.ports if p is not owner]
            results = await access_all(ctx, [(p, rd(L.TRY)) for p in others])
            assert [r.value for r in results] == [0] * len(others)
            failed += len(others)
            await owner.write(ctx, L.RELEASE, 0)
        assert await state(ctx, soc.ports[0]) == (mm.OWNER_FREE, 0, acquires, failed)

    run(config, bench)


def test_simultaneous_try_and_release():
    async def bench(ctx, soc):
        p0, p1, _ = soc.ports
        assert await p0.read(ctx, L.TRY) == 1
        # Serialised: either the try comes first (fails) or the release does (try wins).
        r_try, r_rel = await access_all(ctx, [(p1, rd(L.TRY)), (p0, wr(L.RELEASE, 0))])
        assert r_try.ok and r_rel.ok
        owner = await p0.read(ctx, L.OWNER)
        if r_try.cycles < r_rel.cycles:
            assert (r_try.value, owner) == (0, mm.OWNER_FREE)
        else:
            assert (r_try.value, owner) == (1, 1)
        assert await p0.read(ctx, L.ERR) == 0

    run(small_config(), bench)


def test_owner_is_free_marker_only_when_free_single_cpu():
    config = soc_config(ncpu=1, fifo_depth=2, ram_words=16, ext_lines=0)

    async def bench(ctx, soc):
        (p0,) = soc.ports
        assert await p0.read(ctx, L.OWNER) == mm.OWNER_FREE
        assert await p0.read(ctx, L.TRY) == 1
        assert await p0.read(ctx, L.OWNER) == 0
        await p0.write(ctx, L.RELEASE, 0)
        assert await state(ctx, p0) == (mm.OWNER_FREE, 0, 1, 0)

    run(config, bench)


def test_counters_wrap_at_32_bits():
    async def bench(ctx, soc):
        p0, p1, _ = soc.ports
        ctx.set(soc.signal("mplock", name="acquires"), 0xFFFF_FFFF)
        ctx.set(soc.signal("mplock", name="failed_tries"), 0xFFFF_FFFF)
        await ctx.tick()
        assert await p0.read(ctx, L.ACQUIRES) == 0xFFFF_FFFF
        assert await p0.read(ctx, L.TRY) == 1
        assert await p1.read(ctx, L.TRY) == 0
        assert await state(ctx, p1) == (0, 0, 0, 0)

    run(small_config(), bench)
