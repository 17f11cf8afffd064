"""DEBUG: CURTHREAD/CRITDEPTH/PRI read back; EVENT pulses the block's ``event`` output."""

from hdl import memory_map as mm

from .harness import run, small_config, ticks

D = mm.DEBUG


def test_registers_read_back_per_cpu():
    async def bench(ctx, soc):
        for port in soc.ports:
            for name in ("CURTHREAD", "CRITDEPTH", "PRI"):
                assert await port.read(ctx, D.addr(name)) == 0
        for port in soc.ports:
            c = port.cpu
            await port.write(ctx, D.CURTHREAD, 0x7000_0000 + c)
            await port.write(ctx, D.CRITDEPTH, 10 + c)
            await port.write(ctx, D.PRI, 0xFFFF_FFF0 + c)
        for port in soc.ports:
            c = port.cpu
            assert await port.read(ctx, D.CURTHREAD) == 0x7000_0000 + c
            assert await port.read(ctx, D.CRITDEPTH) == 10 + c
            assert await port.read(ctx, D.PRI) == 0xFFFF_FFF0 + c
            block = soc.debug(c)
            assert ctx.get(block.curthread) == 0x7000_0000 + c
            assert ctx.get(block.critdepth) == 10 + c
            assert ctx.get(block.pri) == 0xFFFF_FFF0 + c

    run(small_config(), bench)


def test_event_is_a_one_cycle_pulse_on_the_writing_cpu():
    seen = []  # per cycle: ((event, event_valid) of each CPU)

    async def watch(ctx, soc):
        blocks = [soc.debug(c) for c in range(soc.ncpu)]
        while True:
            await ctx.tick()
            seen.append(tuple((ctx.get(b.event), ctx.get(b.event_valid)) for b in blocks))

    async def main(ctx, soc):
        p1, block = soc.ports[1], soc.debug(1)
        await ticks(ctx, 3)
        await p1.write(ctx, D.EVENT, 0xE1)
        # The write has just been acknowledged: the pulse is visible now ...
        assert (ctx.get(block.event), ctx.get(block.event_valid)) == (0xE1, 1)
        await ctx.tick()
        # ... and gone one cycle later.
        assert (ctx.get(block.event), ctx.get(block.event_valid)) == (0, 0)
        await ticks(ctx, 3)
        await p1.write(ctx, D.EVENT, 0)  # code 0 still pulses event_valid
        await ticks(ctx, 3)
        # EVENT does not touch the other registers.
        assert await p1.read(ctx, D.CURTHREAD) == 0

    run(small_config(), main, background=[watch])
    cpu1 = [s[1] for s in seen]
    # Exactly two single-cycle pulses, in order, and nothing else.
    active = [k for k, (ev, valid) in enumerate(cpu1) if ev or valid]
    assert [cpu1[k] for k in active] == [(0xE1, 1), (0, 1)]
    assert active[1] - active[0] > 1
    assert all(s[0] == (0, 0) and s[2] == (0, 0) for s in seen)


def test_event_is_write_only():
    async def bench(ctx, soc):
        p0 = soc.ports[0]
        result = await p0.try_read(ctx, D.EVENT)
        assert not result.ok and result.cycles == 1
        assert ctx.get(soc.debug(0).event_valid) == 0

    run(small_config(), bench)
