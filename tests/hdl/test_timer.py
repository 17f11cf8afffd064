"""TIMER: one-shot and periodic compare timer, CTRL fields, ACK."""

import pytest

from hdl import memory_map as mm

from .harness import access_all, field_get, run, small_config, ticks, wr

T, INTC = mm.TIMER, mm.INTC
CTRL = T.register("CTRL")
ENABLE, ARMED, PENDING = (CTRL.field(n) for n in ("ENABLE", "ARMED", "PENDING"))
TIMER_BIT = 1 << mm.SOURCE_TIMER
MASK64 = (1 << 64) - 1


async def ctrl(ctx, port):
    value = await port.read(ctx, T.CTRL)
    return {f.name: field_get(value, f) for f in (ENABLE, ARMED, PENDING)}


async def set_compare(ctx, port, value):
    await port.write(ctx, T.COMPARE_HI, value >> 32)
    await port.write(ctx, T.COMPARE_LO, value & 0xFFFF_FFFF)


async def wait_pending(ctx, soc, cpu, limit):
    """Tick until CPU ``cpu``'s timer source is pending; return the counter value
    at the edge that set it, or None after ``limit`` cycles."""
    timer = soc.timer(cpu)
    for _ in range(limit):
        if ctx.get(timer.pending):
            return None  # already pending before waiting: caller's mistake
        await ctx.tick()
        if ctx.get(timer.pending):
            return ctx.get(soc.cycle) - 1
    return None


def test_reset_state():
    async def bench(ctx, soc):
        for port in soc.ports:
            assert await port.read(ctx, T.COMPARE_LO) == 0xFFFF_FFFF
            assert await port.read(ctx, T.COMPARE_HI) == 0xFFFF_FFFF
            assert await port.read(ctx, T.PERIOD) == 0
            assert await ctrl(ctx, port) == dict(ENABLE=0, ARMED=0, PENDING=0)
            assert await port.read(ctx, INTC.PENDING) & TIMER_BIT == 0

    run(small_config(), bench)


def test_one_shot_fires_once_and_stays_pending_until_ack():
    async def bench(ctx, soc):
        p0 = soc.ports[0]
        await p0.write(ctx, T.CTRL, ENABLE.mask)
        await set_compare(ctx, p0, ctx.get(soc.cycle) + 30)
        compare = (await p0.read(ctx, T.COMPARE_HI)) << 32 | await p0.read(ctx, T.COMPARE_LO)
        assert await ctrl(ctx, p0) == dict(ENABLE=1, ARMED=1, PENDING=0)
        fired = await wait_pending(ctx, soc, 0, 100)
        # It fires at the edge where CYCLE reaches COMPARE.
        assert fired == compare
        assert await ctrl(ctx, p0) == dict(ENABLE=1, ARMED=0, PENDING=1)
        assert await p0.read(ctx, INTC.PENDING) & TIMER_BIT
        await ticks(ctx, 20)
        assert await ctrl(ctx, p0) == dict(ENABLE=1, ARMED=0, PENDING=1)
        await p0.write(ctx, T.ACK, 0)
        assert await ctrl(ctx, p0) == dict(ENABLE=1, ARMED=0, PENDING=0)
        # One-shot: CYCLE stays >= COMPARE but it does not fire again.
        assert await wait_pending(ctx, soc, 0, 80) is None
        assert await p0.read(ctx, T.COMPARE_LO) == compare & 0xFFFF_FFFF
        # Other CPUs' timers were never involved.
        for port in soc.ports[1:]:
            assert await ctrl(ctx, port) == dict(ENABLE=0, ARMED=0, PENDING=0)

    run(small_config(), bench)


def test_disabled_timer_does_not_fire_and_ctrl_write_rearms():
    async def bench(ctx, soc):
        p1 = soc.ports[1]
        await set_compare(ctx, p1, ctx.get(soc.cycle) + 5)
        assert await ctrl(ctx, p1) == dict(ENABLE=0, ARMED=1, PENDING=0)
        assert await wait_pending(ctx, soc, 1, 40) is None
        # Enabling with COMPARE already in the past fires at once.
        await p1.write(ctx, T.CTRL, ENABLE.mask)
        assert ctx.get(soc.timer(1).pending) or await wait_pending(ctx, soc, 1, 2) is not None
        assert await ctrl(ctx, p1) == dict(ENABLE=1, ARMED=0, PENDING=1)
        await p1.write(ctx, T.ACK, 0xFFFF_FFFF)
        assert await ctrl(ctx, p1) == dict(ENABLE=1, ARMED=0, PENDING=0)
        # Writing CTRL re-arms a spent one-shot.
        await p1.write(ctx, T.CTRL, ENABLE.mask)
        await ctx.tick()
        assert await ctrl(ctx, p1) == dict(ENABLE=1, ARMED=0, PENDING=1)
        await p1.write(ctx, T.ACK, 0)
        # Writing COMPARE_LO alone re-arms too.
        await p1.write(ctx, T.COMPARE_LO, (ctx.get(soc.cycle) + 20) & 0xFFFF_FFFF)
        assert await ctrl(ctx, p1) == dict(ENABLE=1, ARMED=1, PENDING=0)
        assert await wait_pending(ctx, soc, 1, 40) is not None

    run(small_config(), bench)


def test_ctrl_fields_armed_and_pending_are_read_only():
    async def bench(ctx, soc):
        p2 = soc.ports[2]
        await p2.write(ctx, T.CTRL, ARMED.mask | PENDING.mask)
        # ENABLE cleared; ARMED set because a CTRL write arms; PENDING not writable.
        assert await ctrl(ctx, p2) == dict(ENABLE=0, ARMED=1, PENDING=0)
        assert await p2.read(ctx, INTC.PENDING) & TIMER_BIT == 0
        await p2.write(ctx, T.CTRL, ENABLE.mask)
        assert await ctrl(ctx, p2) == dict(ENABLE=1, ARMED=1, PENDING=0)
        await p2.write(ctx, T.PERIOD, 0x1234_5678)
        assert await p2.read(ctx, T.PERIOD) == 0x1234_5678

    run(small_config(), bench)


@pytest.mark.parametrize("base", [1 << 32, 1 << 63], ids=["bit32", "bit63"])
def test_compare_is_64_bit(base):
    async def bench(ctx, soc):
        p0 = soc.ports[0]
        await set_compare(ctx, p0, base + 10)
        await p0.write(ctx, T.CTRL, ENABLE.mask)
        # LO alone (10) is long passed, but HI (bit 32 or bit 63 set) has not been reached.
        assert await wait_pending(ctx, soc, 0, 40) is None
        ctx.set(soc.cycle, base - 20)
        await ctx.tick()
        assert await wait_pending(ctx, soc, 0, 60) == base + 10

    run(small_config(), bench)


def test_periodic_timer_fires_every_period():
    period = 23

    async def bench(ctx, soc):
        p1 = soc.ports[1]
        await p1.write(ctx, INTC.ENABLE, TIMER_BIT)
        await p1.write(ctx, INTC.addr("PRIO", index=mm.SOURCE_TIMER), 1)
        await p1.write(ctx, T.PERIOD, period)
        start = ctx.get(soc.cycle) + 30
        await set_compare(ctx, p1, start)
        await p1.write(ctx, T.CTRL, ENABLE.mask)
        fired = []
        for n in range(5):
            when = await wait_pending(ctx, soc, 1, 2 * period)
            assert when is not None, f"tick {n} missing"
            fired.append(when)
            assert p1.irq(ctx)
            state = await ctrl(ctx, p1)
            assert state == dict(ENABLE=1, ARMED=1, PENDING=1)
            # COMPARE advanced by itself.
            assert await p1.read(ctx, T.COMPARE_LO) == start + (n + 1) * period
            assert await p1.read(ctx, INTC.CLAIM) == mm.SOURCE_TIMER
            await p1.write(ctx, T.ACK, 0)
            await p1.write(ctx, INTC.COMPLETE, mm.SOURCE_TIMER)
            assert not p1.irq(ctx)
        assert fired == [start + n * period for n in range(5)]
        # Disabling stops it.
        await p1.write(ctx, T.CTRL, 0)
        assert await wait_pending(ctx, soc, 1, 3 * period) is None

    run(small_config(), bench)


def test_periodic_timer_not_acked_stays_pending_and_keeps_period():
    period = 10

    async def bench(ctx, soc):
        p0 = soc.ports[0]
        await p0.write(ctx, T.PERIOD, period)
        start = ctx.get(soc.cycle) + 15
        await set_compare(ctx, p0, start)
        await p0.write(ctx, T.CTRL, ENABLE.mask)
        assert await wait_pending(ctx, soc, 0, 40) == start
        await ticks(ctx, 3 * period + 2)
        assert ctx.get(soc.timer(0).pending)
        # COMPARE kept advancing while unacknowledged.
        compare = await p0.read(ctx, T.COMPARE_LO)
        assert (compare - start) % period == 0
        assert compare > ctx.get(soc.cycle) - 1 - period
        await p0.write(ctx, T.ACK, 0)
        nxt = await wait_pending(ctx, soc, 0, 2 * period)
        assert nxt is not None and (nxt - start) % period == 0

    run(small_config(), bench)


def test_periodic_timer_keeps_its_phase_after_falling_behind():
    period = 8

    async def bench(ctx, soc):
        p2 = soc.ports[2]
        await p2.write(ctx, T.PERIOD, period)
        await ticks(ctx, 6 * period)
        now = ctx.get(soc.cycle)
        start = now - 5 * period + 3  # five periods in the past
        await set_compare(ctx, p2, start)
        await p2.write(ctx, T.CTRL, ENABLE.mask)
        await ticks(ctx, 3 * period)
        # COMPARE advanced by whole periods from where it was set and is ahead of CYCLE again.
        compare = await p2.read(ctx, T.COMPARE_LO)
        cycle = ctx.get(soc.cycle)
        assert (compare - start) % period == 0
        assert cycle - 1 <= compare + period and compare <= cycle + period
        await p2.write(ctx, T.ACK, 0)
        fired = await wait_pending(ctx, soc, 2, 2 * period)
        assert fired is not None and (fired - start) % period == 0

    run(small_config(), bench)


def test_ack_in_the_firing_cycle_does_not_lose_the_firing():
    """An ACK clears only firings before it: an ACK written at the very edge the timer
    fires leaves the source pending (the interrupt is not lost)."""

    async def bench(ctx, soc):
        p0, pending = soc.ports[0], soc.timer(0).pending
        await p0.write(ctx, T.CTRL, ENABLE.mask)
        # The ACK's edge one before, at, and one after the firing edge (one-shot each time).
        for offset, expected in ((-1, 1), (0, 1), (1, 0)):
            compare = ctx.get(soc.cycle) + 20
            await set_compare(ctx, p0, compare)
            await p0.write(ctx, T.ACK, 0)  # writing HI alone may have fired on the old LO
            assert await ctrl(ctx, p0) == dict(ENABLE=1, ARMED=1, PENDING=0)
            # The next edge sees CYCLE = compare + offset; it fires when that reaches COMPARE.
            while ctx.get(soc.cycle) < compare + offset:
                await ctx.tick()
            result = await p0.try_write(ctx, T.ACK, 0)
            assert result.ok and result.cycles == 1, result
            await ticks(ctx, 3)
            assert ctx.get(pending) == expected, f"ACK at firing edge {offset:+d}"
            assert await ctrl(ctx, p0) == dict(ENABLE=1, ARMED=0, PENDING=expected)
            await p0.write(ctx, T.ACK, 0)

    run(small_config(), bench)


def test_period_keeps_all_32_bits_and_reloads_by_a_period_of_2_pow_31_or_more():
    period = (1 << 31) + 7

    async def bench(ctx, soc):
        p0 = soc.ports[0]
        await p0.write(ctx, T.PERIOD, 0xFFFF_FFFF)
        assert await p0.read(ctx, T.PERIOD) == 0xFFFF_FFFF
        await p0.write(ctx, T.PERIOD, period)
        assert await p0.read(ctx, T.PERIOD) == period
        start = ctx.get(soc.cycle) + 20
        await set_compare(ctx, p0, start)
        await p0.write(ctx, T.CTRL, ENABLE.mask)
        assert await wait_pending(ctx, soc, 0, 40) == start
        # COMPARE advanced by the whole period, bit 31 included, carrying into COMPARE_HI.
        nxt = start + period
        assert await p0.read(ctx, T.COMPARE_LO) == nxt & 0xFFFF_FFFF
        assert await p0.read(ctx, T.COMPARE_HI) == nxt >> 32
        await p0.write(ctx, T.ACK, 0)
        assert await ctrl(ctx, p0) == dict(ENABLE=1, ARMED=1, PENDING=0)
        # Nothing before the next reload point; then it fires exactly there.
        assert await wait_pending(ctx, soc, 0, 40) is None
        ctx.set(soc.cycle, nxt - 20)
        await ctx.tick()
        assert await wait_pending(ctx, soc, 0, 40) == nxt

    run(small_config(), bench)


def test_period_writes_of_every_cpu_in_one_cycle_stay_per_cpu():
    """Every CPU writes its own PERIOD in the same cycle: each timer keeps its own CPU's word."""

    async def bench(ctx, soc):
        periods = [0x100 + 0x11 * c for c in range(soc.ncpu)]
        results = await access_all(ctx, [(port, wr(T.PERIOD, periods[port.cpu])) for port in soc.ports])
        assert all(r.ok and r.cycles == 1 for r in results)
        assert [await port.read(ctx, T.PERIOD) for port in soc.ports] == periods

    run(small_config(), bench)
