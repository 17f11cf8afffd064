"""ROUTE: which CPU each external line (``ext_irq``) interrupts."""

from hdl import memory_map as mm

from .harness import run, small_config, soc_config

INTC = mm.INTC


def route(k):
    return mm.ROUTE.addr("ROUTE", index=k)


def ext_bit(k):
    return 1 << (mm.SOURCE_EXT0 + k)


async def pendings(ctx, soc):
    return [await p.read(ctx, INTC.PENDING) for p in soc.ports]


def test_reset_routes_everything_to_cpu0():
    config = small_config()

    async def bench(ctx, soc):
        for port in soc.ports:
            for k in range(config.ext_lines):
                assert await port.read(ctx, route(k)) == 0
        ctx.set(soc.ext_irq, (1 << config.ext_lines) - 1)
        assert await pendings(ctx, soc) == [ext_bit(0) | ext_bit(1), 0, 0]

    run(config, bench)


def test_rewriting_route_moves_the_line():
    async def bench(ctx, soc):
        p0, p1, p2 = soc.ports
        ctx.set(soc.ext_irq, 1 << 0)
        assert await pendings(ctx, soc) == [ext_bit(0), 0, 0]
        await p2.write(ctx, route(0), 1)  # any CPU may write the global table
        assert await p0.read(ctx, route(0)) == 1
        assert await pendings(ctx, soc) == [0, ext_bit(0), 0]
        await p0.write(ctx, route(0), 2)
        assert await pendings(ctx, soc) == [0, 0, ext_bit(0)]
        # Line 1 is routed independently.
        await p0.write(ctx, route(1), 1)
        ctx.set(soc.ext_irq, 0b11)
        assert await pendings(ctx, soc) == [0, ext_bit(1), ext_bit(0)]
        # A low line is pending nowhere.
        ctx.set(soc.ext_irq, 0b10)
        assert await pendings(ctx, soc) == [0, ext_bit(1), 0]

    run(small_config(), bench)


def test_route_at_or_beyond_ncpu_goes_nowhere():
    config = small_config()

    async def bench(ctx, soc):
        p0 = soc.ports[0]
        ctx.set(soc.ext_irq, 0b01)
        for value in (config.ncpu, config.ncpu + 1, 0xFFFF_FFFF, 1 << 16 | 1, 1 << 31 | 2, 1 << 8):
            await p0.write(ctx, route(0), value)
            assert await p0.read(ctx, route(0)) == value  # the full word is kept
            assert await pendings(ctx, soc) == [0, 0, 0], hex(value)
        await p0.write(ctx, route(0), config.ncpu - 1)
        assert await pendings(ctx, soc) == [0, 0, ext_bit(0)]

    run(config, bench)


def test_routed_line_raises_only_that_cpus_irq():
    async def bench(ctx, soc):
        for port in soc.ports:
            await port.write(ctx, INTC.ENABLE, ext_bit(0))
            await port.write(ctx, INTC.addr("PRIO", index=mm.SOURCE_EXT0), 1)
        await soc.ports[0].write(ctx, route(0), 2)
        ctx.set(soc.ext_irq, 1)
        await ctx.tick()
        assert [p.irq(ctx) for p in soc.ports] == [0, 0, 1]
        assert await soc.ports[2].read(ctx, INTC.CLAIM) == mm.SOURCE_EXT0
        assert await soc.ports[1].read(ctx, INTC.CLAIM) == mm.CLAIM_NONE
        await soc.ports[1].write(ctx, route(0), 1)
        # CPU2 has it in service; CPU1 now sees it.
        assert [p.irq(ctx) for p in soc.ports] == [0, 1, 0]

    run(small_config(), bench)


def test_many_lines_and_cpus():
    config = soc_config(ncpu=4, fifo_depth=2, ram_words=16, ext_lines=5)

    async def bench(ctx, soc):
        targets = [3, 1, 7, 0, 3]  # 7 >= NCPU: nowhere
        for k, cpu in enumerate(targets):
            await soc.ports[k % config.ncpu].write(ctx, route(k), cpu)
        ctx.set(soc.ext_irq, (1 << config.ext_lines) - 1)
        expected = [sum(ext_bit(k) for k, c in enumerate(targets) if c == cpu) for cpu in range(config.ncpu)]
        assert await pendings(ctx, soc) == expected

    run(config, bench)
