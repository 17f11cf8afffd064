"""INTC: per-CPU interrupt controller (PENDING/ENABLE/CLAIM/COMPLETE/SOFT/INSERVICE/PRIO, irq)."""

import pytest

from hdl import memory_map as mm

from .harness import run, small_config, ticks

INTC = mm.INTC
SOFT, TIMER, IPI, EXT0 = mm.SOURCE_SOFT, mm.SOURCE_TIMER, mm.SOURCE_IPI, mm.SOURCE_EXT0
EXT1 = EXT0 + 1


def prio(k):
    return INTC.addr("PRIO", index=k)


def bits(*sources):
    return sum(1 << s for s in sources)


def set_line(ctx, soc, line, value):
    current = ctx.get(soc.ext_irq)
    ctx.set(soc.ext_irq, current | 1 << line if value else current & ~(1 << line))


async def claim(ctx, port):
    return await port.read(ctx, INTC.CLAIM)


def test_reset_state():
    config = small_config()

    async def bench(ctx, soc):
        for port in soc.ports:
            assert await port.read(ctx, INTC.PENDING) == 0
            assert await port.read(ctx, INTC.ENABLE) == 0
            assert await port.read(ctx, INTC.INSERVICE) == 0
            for k in range(config.n_sources):
                assert await port.read(ctx, prio(k)) == 0
            assert await claim(ctx, port) == mm.CLAIM_NONE
            assert not port.irq(ctx)

    run(config, bench)


def test_soft_set_clr_and_pending_is_raw():
    async def bench(ctx, soc):
        p0, p1, _ = soc.ports
        # SOFT_SET acts on any write value, including 0; only this CPU's soft source.
        await p0.write(ctx, INTC.SOFT_SET, 0)
        assert await p0.read(ctx, INTC.PENDING) == bits(SOFT)
        assert await p1.read(ctx, INTC.PENDING) == 0
        # Raw: pending while disabled and at PRIO 0, but no irq, nothing to claim.
        assert not p0.irq(ctx)
        assert await claim(ctx, p0) == mm.CLAIM_NONE
        assert await p0.read(ctx, INTC.INSERVICE) == 0
        await p0.write(ctx, INTC.SOFT_SET, 0xFFFF_FFFF)
        assert await p0.read(ctx, INTC.PENDING) == bits(SOFT)
        await p0.write(ctx, INTC.SOFT_CLR, 0)
        assert await p0.read(ctx, INTC.PENDING) == 0
        # External lines (routed to CPU0 at reset) show too, regardless of ENABLE.
        set_line(ctx, soc, 1, 1)
        await ctx.tick()
        assert await p0.read(ctx, INTC.PENDING) == bits(EXT1)
        set_line(ctx, soc, 1, 0)
        await ctx.tick()
        assert await p0.read(ctx, INTC.PENDING) == 0

    run(small_config(), bench)


def test_enable_and_prio_gate_irq_and_claim():
    config = small_config()

    async def bench(ctx, soc):
        p0 = soc.ports[0]
        await p0.write(ctx, INTC.SOFT_SET, 1)
        await p0.write(ctx, prio(SOFT), 3)
        assert not p0.irq(ctx)  # not enabled
        assert await claim(ctx, p0) == mm.CLAIM_NONE
        await p0.write(ctx, INTC.ENABLE, bits(SOFT))
        assert await p0.read(ctx, INTC.ENABLE) == bits(SOFT)
        assert p0.irq(ctx)
        await p0.write(ctx, prio(SOFT), 0)  # PRIO 0 disables
        assert not p0.irq(ctx)
        assert await claim(ctx, p0) == mm.CLAIM_NONE
        assert await p0.read(ctx, INTC.INSERVICE) == 0
        await p0.write(ctx, prio(SOFT), 1)
        assert p0.irq(ctx)
        await p0.write(ctx, INTC.ENABLE, 0)
        assert not p0.irq(ctx)
        # ENABLE keeps one bit per source.
        await p0.write(ctx, INTC.ENABLE, 0xFFFF_FFFF)
        mask = (1 << config.n_sources) - 1
        assert await p0.read(ctx, INTC.ENABLE) & mask == mask
        assert p0.irq(ctx)
        assert await claim(ctx, p0) == SOFT
        assert not p0.irq(ctx)

    run(config, bench)


def test_claim_priority_ties_and_inservice():
    async def bench(ctx, soc):
        p0 = soc.ports[0]
        await p0.write(ctx, INTC.ENABLE, bits(SOFT, EXT0, EXT1))
        await p0.write(ctx, prio(SOFT), 2)
        await p0.write(ctx, prio(EXT0), 2)
        await p0.write(ctx, prio(EXT1), 200)
        await p0.write(ctx, INTC.SOFT_SET, 1)
        set_line(ctx, soc, 0, 1)
        set_line(ctx, soc, 1, 1)
        assert await p0.read(ctx, INTC.PENDING) == bits(SOFT, EXT0, EXT1)
        assert p0.irq(ctx)
        # Highest PRIO first, then the lowest id among equal PRIO.
        assert await claim(ctx, p0) == EXT1
        assert await p0.read(ctx, INTC.INSERVICE) == bits(EXT1)
        assert p0.irq(ctx)
        assert await claim(ctx, p0) == SOFT
        assert await claim(ctx, p0) == EXT0
        assert await p0.read(ctx, INTC.INSERVICE) == bits(SOFT, EXT0, EXT1)
        assert not p0.irq(ctx)
        assert await claim(ctx, p0) == mm.CLAIM_NONE
        assert await p0.read(ctx, INTC.INSERVICE) == bits(SOFT, EXT0, EXT1)
        # Still pending: PENDING is raw.
        assert await p0.read(ctx, INTC.PENDING) == bits(SOFT, EXT0, EXT1)

    run(small_config(), bench)


def test_priority_beats_id_and_larger_is_higher():
    async def bench(ctx, soc):
        p1 = soc.ports[1]
        # Route both external lines to CPU1.
        await p1.write(ctx, mm.ROUTE.addr("ROUTE", index=0), 1)
        await p1.write(ctx, mm.ROUTE.addr("ROUTE", index=1), 1)
        await p1.write(ctx, INTC.ENABLE, bits(SOFT, EXT0, EXT1))
        await p1.write(ctx, prio(SOFT), 1)
        await p1.write(ctx, prio(EXT0), 7)
        await p1.write(ctx, prio(EXT1), 6)
        await p1.write(ctx, INTC.SOFT_SET, 1)
        set_line(ctx, soc, 0, 1)
        set_line(ctx, soc, 1, 1)
        assert [await claim(ctx, p1) for _ in range(4)] == [EXT0, EXT1, SOFT, mm.CLAIM_NONE]

    run(small_config(), bench)


def test_complete_and_level_source_fires_again():
    async def bench(ctx, soc):
        p0 = soc.ports[0]
        await p0.write(ctx, INTC.ENABLE, bits(EXT0))
        await p0.write(ctx, prio(EXT0), 1)
        set_line(ctx, soc, 0, 1)
        await ctx.tick()
        assert p0.irq(ctx)
        assert await claim(ctx, p0) == EXT0
        assert not p0.irq(ctx)
        # In service: not claimable again, even though still asserted.
        assert await claim(ctx, p0) == mm.CLAIM_NONE
        await ticks(ctx, 3)
        assert not p0.irq(ctx)
        await p0.write(ctx, INTC.COMPLETE, EXT0)
        assert await p0.read(ctx, INTC.INSERVICE) == 0
        # Still asserted: fires again.
        assert p0.irq(ctx)
        assert await claim(ctx, p0) == EXT0
        # Deasserted during service: after COMPLETE nothing fires.
        set_line(ctx, soc, 0, 0)
        await p0.write(ctx, INTC.COMPLETE, EXT0)
        assert not p0.irq(ctx)
        assert await claim(ctx, p0) == mm.CLAIM_NONE
        assert await p0.read(ctx, INTC.INSERVICE) == 0

    run(small_config(), bench)


def test_complete_of_source_not_in_service_is_ignored():
    config = small_config()

    async def bench(ctx, soc):
        p0 = soc.ports[0]
        await p0.write(ctx, INTC.ENABLE, bits(SOFT, EXT0))
        await p0.write(ctx, prio(SOFT), 1)
        await p0.write(ctx, prio(EXT0), 1)
        await p0.write(ctx, INTC.SOFT_SET, 1)
        assert await claim(ctx, p0) == SOFT
        for other in (EXT0, IPI, TIMER, config.n_sources, 32 + SOFT, 1 << 16 | SOFT, mm.CLAIM_NONE):
            await p0.write(ctx, INTC.COMPLETE, other)
            assert await p0.read(ctx, INTC.INSERVICE) == bits(SOFT), hex(other)
            assert not p0.irq(ctx)
        # A COMPLETE before a claim does not pre-empt the next claim either.
        set_line(ctx, soc, 0, 1)
        assert await claim(ctx, p0) == EXT0
        await p0.write(ctx, INTC.COMPLETE, SOFT)
        assert await p0.read(ctx, INTC.INSERVICE) == bits(EXT0)
        assert p0.irq(ctx)  # soft is still pending and no longer in service

    run(config, bench)


def test_intc_is_per_cpu():
    async def bench(ctx, soc):
        p0, p1, p2 = soc.ports
        await p1.write(ctx, INTC.ENABLE, bits(SOFT))
        await p1.write(ctx, prio(SOFT), 4)
        await p1.write(ctx, INTC.SOFT_SET, 1)
        assert [p.irq(ctx) for p in soc.ports] == [0, 1, 0]
        assert await p0.read(ctx, INTC.ENABLE) == 0
        assert await p2.read(ctx, prio(SOFT)) == 0
        assert await claim(ctx, p0) == mm.CLAIM_NONE
        assert await claim(ctx, p2) == mm.CLAIM_NONE
        assert await claim(ctx, p1) == SOFT
        await p0.write(ctx, INTC.COMPLETE, SOFT)  # CPU0's controller: nothing in service
        assert await p1.read(ctx, INTC.INSERVICE) == bits(SOFT)

    run(small_config(), bench)


@pytest.mark.parametrize("prio_bits", [1, 3, 8])
def test_prio_keeps_low_bits(prio_bits):
    config = small_config(prio_bits=prio_bits)
    top = (1 << prio_bits) - 1

    async def bench(ctx, soc):
        p0 = soc.ports[0]
        for k in range(config.n_sources):
            await p0.write(ctx, prio(k), 0xFFFF_FF00 | (k + 1))
        for k in range(config.n_sources):
            assert await p0.read(ctx, prio(k)) == (k + 1) & top
        # A value whose low bits are 0 disables the source.
        await p0.write(ctx, prio(SOFT), 1 << prio_bits)
        await p0.write(ctx, INTC.ENABLE, bits(SOFT))
        await p0.write(ctx, INTC.SOFT_SET, 1)
        assert not p0.irq(ctx)
        assert await claim(ctx, p0) == mm.CLAIM_NONE
        await p0.write(ctx, prio(SOFT), top)
        assert p0.irq(ctx)

    run(config, bench)


def test_timer_source_feeds_intc():
    T = mm.TIMER
    enable = T.register("CTRL").field("ENABLE").mask

    async def bench(ctx, soc):
        p2 = soc.ports[2]
        await p2.write(ctx, INTC.ENABLE, bits(TIMER))
        await p2.write(ctx, prio(TIMER), 1)
        await p2.write(ctx, T.COMPARE_HI, 0)
        await p2.write(ctx, T.COMPARE_LO, 0)  # already reached
        await p2.write(ctx, T.CTRL, enable)
        await ticks(ctx, 2)
        assert await p2.read(ctx, INTC.PENDING) == bits(TIMER)
        assert p2.irq(ctx)
        assert await claim(ctx, p2) == TIMER
        await p2.write(ctx, T.ACK, 0)
        await p2.write(ctx, INTC.COMPLETE, TIMER)
        assert await p2.read(ctx, INTC.PENDING) == 0
        assert not p2.irq(ctx)

    run(small_config(), bench)
