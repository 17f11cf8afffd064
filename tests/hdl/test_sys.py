"""SYS: identification registers and the per-CPU view of the cycle counter."""

import pytest

from hdl import memory_map as mm

from .harness import access_all, rd, run, small_config, soc_config, ticks

CONFIGS = [
    small_config(),
    soc_config(ncpu=2, fifo_depth=8, ram_words=16, ext_lines=0),
    soc_config(ncpu=5, fifo_depth=2, ram_words=16, ext_lines=1),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.slug)
def test_identification(config):
    async def bench(ctx, soc):
        for port in soc.ports:
            assert await port.read(ctx, mm.SYS.CPUID) == port.cpu
            assert await port.read(ctx, mm.SYS.NCPU) == config.ncpu
            assert await port.read(ctx, mm.SYS.FIFO_DEPTH) == config.fifo_depth
            assert await port.read(ctx, mm.SYS.ID) == mm.SOC_ID

    run(config, bench)


def test_cpuid_differs_on_simultaneous_reads():
    async def bench(ctx, soc):
        results = await access_all(ctx, [(p, rd(mm.SYS.CPUID)) for p in soc.ports])
        assert [r.value for r in results] == list(range(soc.ncpu))
        assert all(r.ok and r.cycles == 1 for r in results)

    run(small_config(), bench)


def test_cycle_lo_advances_with_the_clock():
    async def bench(ctx, soc):
        port = soc.ports[1]
        first = await port.read(ctx, mm.SYS.CYCLE_LO)
        # The read saw the counter at the edge that acknowledged it.
        assert ctx.get(soc.cycle) == first + 1
        await ticks(ctx, 7)
        second = await port.read(ctx, mm.SYS.CYCLE_LO)
        # Seen 7 idle edges plus the request edge later.
        assert second - first == 8
        assert ctx.get(soc.cycle) == second + 1

    run(small_config(), bench)


def test_cycle_hi_is_latched_per_cpu_by_cycle_lo():
    async def bench(ctx, soc):
        p0, p1 = soc.ports[0], soc.ports[1]
        # Both CPUs latch HI = 0 first.
        assert await p0.read(ctx, mm.SYS.CYCLE_HI) == 0
        ctx.set(soc.cycle, (5 << 32) - 20)
        await ctx.tick()
        lo = await p0.read(ctx, mm.SYS.CYCLE_LO)
        assert lo >= (1 << 32) - 20
        # CPU0 latched 4; CPU1 never read LO, so its HI is still the reset value.
        assert await p0.read(ctx, mm.SYS.CYCLE_HI) == 4
        assert await p1.read(ctx, mm.SYS.CYCLE_HI) == 0
        await ticks(ctx, 30)  # the counter crosses into HI = 5
        assert ctx.get(soc.cycle) >> 32 == 5
        # CPU0's latch does not follow the counter until it reads LO again.
        assert await p0.read(ctx, mm.SYS.CYCLE_HI) == 4
        assert await p1.read(ctx, mm.SYS.CYCLE_LO) < 30
        assert await p1.read(ctx, mm.SYS.CYCLE_HI) == 5
        assert await p0.read(ctx, mm.SYS.CYCLE_HI) == 4
        await p0.read(ctx, mm.SYS.CYCLE_LO)
        assert await p0.read(ctx, mm.SYS.CYCLE_HI) == 5

    run(small_config(), bench)


def test_cycle_lo_then_hi_is_never_torn_across_the_carry():
    async def bench(ctx, soc):
        port = soc.ports[2]
        start = (1 << 32) - 12
        ctx.set(soc.cycle, start)
        await ctx.tick()
        previous = None
        for _ in range(12):
            lo = await port.read(ctx, mm.SYS.CYCLE_LO)
            lo_seen = ctx.get(soc.cycle) - 1  # counter value at the LO edge
            hi = await port.read(ctx, mm.SYS.CYCLE_HI)
            value = hi << 32 | lo
            assert value == lo_seen, f"torn read {value:#x}, counter was {lo_seen:#x}"
            if previous is not None:
                assert value > previous
            previous = value
        assert previous >= 1 << 32  # the loop did cross the carry

    run(small_config(), bench)
