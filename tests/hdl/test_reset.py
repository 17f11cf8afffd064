"""Reset in the middle of traffic: afterwards every register reads its reset value
(hdl/memory_map.py ``reset_reads``), every FIFO is empty and works from scratch.

The SoC's reset is the sync domain's synchronous reset; docs/hardware.md promises that a reset
clears every FIFO (the IPI memories keep their words: only the indices and flags, which are
registers, say what a FIFO holds). The RAM is a memory and keeps its contents.
"""

from hdl import memory_map as mm

from .harness import field_get, run, small_config, ticks

TX, RX, L, INTC, T, D = mm.IPI_TX, mm.IPI_RX, mm.MPLOCK, mm.INTC, mm.TIMER, mm.DEVICE
ENABLE, PENDING = (T.register("CTRL").field(name) for name in ("ENABLE", "PENDING"))
WOF = TX.register("TX_STATUS").field("WOF")
ROE = RX.register("RX_STATUS").field("ROE")
OVERRUN = D.register("STATUS").field("OVERRUN")


def test_reset_table_lists_every_readable_register():
    config = small_config()
    for cpu in range(config.ncpu):
        readable = {
            (w.base_word + offset) * 4
            for w in mm.windows(config, cpu)
            if w.block is not mm.RAM
            for offset in range(w.span)
            if w.legal(offset, False)
        }
        assert set(mm.reset_reads(config, cpu)) == readable


async def _traffic(ctx, soc):
    """Leave as little as possible at its reset value: FIFOs full and non-empty, WOF and ROE set,
    the MP lock held with ERR set, sources in service, timers armed and pending, CYCLE_HI latched,
    lines routed, devices overrun, debug registers written."""
    n, depth = soc.ncpu, soc.config.fifo_depth
    p = soc.ports
    for s in range(n):
        for d in range(n):
            if s != d:
                await p[s].write(ctx, TX.addr("TX_FUNC", slot=d), 0xF000 + 16 * s + d)
                await p[s].write(ctx, TX.addr("TX_ARG", slot=d), 0xA000 + 16 * s + d)
    for _ in range(depth):  # FIFO[0][1]: full, then a dropped push sets WOF
        await p[0].write(ctx, TX.addr("TX_ARG", slot=1), 0xB0)
    await p[1].write(ctx, RX.addr("RX_POP", slot=2), 0)  # FIFO[2][1] empty; the next pop sets ROE
    await p[1].write(ctx, RX.addr("RX_POP", slot=2), 0)
    assert await p[0].read(ctx, TX.addr("TX_STATUS", slot=1)) & WOF.mask
    assert await p[1].read(ctx, RX.addr("RX_STATUS", slot=2)) & ROE.mask
    assert await p[1].read(ctx, L.TRY) == 1
    assert await p[0].read(ctx, L.TRY) == 0
    await p[2].write(ctx, L.RELEASE, 0)  # not the owner: ERR.NONOWNER
    ctx.set(soc.cycle, (5 << 32) + ctx.get(soc.cycle))
    for c, port in enumerate(p):
        await port.read(ctx, mm.SYS.CYCLE_LO)  # latches CYCLE_HI = 5
        await port.write(ctx, mm.DEBUG.CURTHREAD, 0x100 + c)
        await port.write(ctx, mm.DEBUG.CRITDEPTH, 2)
        await port.write(ctx, mm.DEBUG.PRI, 7)
        await port.write(ctx, INTC.ENABLE, 0xFFFF_FFFF)
        for k in range(soc.config.n_sources):
            await port.write(ctx, INTC.addr("PRIO", index=k), k + 1)
        await port.write(ctx, INTC.SOFT_SET, 0)
        assert await port.read(ctx, INTC.CLAIM) != mm.CLAIM_NONE  # a source in service
        await port.write(ctx, T.PERIOD, 40)
        now = ctx.get(soc.cycle)
        await port.write(ctx, T.COMPARE_HI, now >> 32)
        await port.write(ctx, T.COMPARE_LO, (now + 8) & 0xFFFF_FFFF)
        await port.write(ctx, T.CTRL, ENABLE.mask)  # armed, periodic
    for k in range(soc.config.ext_lines):
        await p[0].write(ctx, mm.ROUTE.addr("ROUTE", index=k), n - 1)
        for data in (0xD0, 0xD1):  # a request, then one that overruns it
            ctx.set(soc.dut.dev_post, 1 << k)
            ctx.set(soc.dut.dev_data, data + k)
            await ctx.tick()
            ctx.set(soc.dut.dev_post, 0)
        assert await p[0].read(ctx, D.addr("STATUS", index=k)) & OVERRUN.mask
    await p[0].write(ctx, mm.RAM.addr("WORD", index=3), 0x1234_5678)
    await ticks(ctx, 20)
    for port in p:
        assert field_get(await port.read(ctx, T.CTRL), PENDING), f"CPU{port.cpu}'s timer has not fired"


def test_reset_mid_traffic_returns_every_register_to_its_reset_value():
    config = small_config()

    async def bench(ctx, soc):
        n, p = soc.ncpu, soc.ports
        await _traffic(ctx, soc)
        before = {c: {a: await p[c].read(ctx, a) for a in mm.reset_reads(config, c) if a != L.TRY} for c in range(n)}
        # Reset for one cycle while every CPU presents a write and a device posts.
        for c, port in enumerate(p):
            ctx.set(port.bus.adr, mm.DEBUG.CURTHREAD >> 2)
            ctx.set(port.bus.dat_w, 0xBAD0 + c)
            for name in ("we", "cyc", "stb"):
                ctx.set(getattr(port.bus, name), 1)
        ctx.set(soc.dut.dev_post, 1)
        ctx.set(soc.rst, 1)
        await ctx.tick()
        ctx.set(soc.rst, 0)
        ctx.set(soc.dut.dev_post, 0)
        for port in p:
            for name in ("we", "cyc", "stb"):
                ctx.set(getattr(port.bus, name), 0)
            assert not ctx.get(port.bus.ack) and not ctx.get(port.bus.err) and not port.irq(ctx)
        assert ctx.get(soc.cycle) == 0
        assert all(ctx.get(soc.debug(c).event_valid) == 0 for c in range(n))

        changed = 0
        for c in range(n):
            for address, (value, mask) in mm.reset_reads(config, c).items():
                if address == L.TRY:
                    continue  # read last: it takes the lock
                got = await p[c].read(ctx, address)
                assert got & mask == value, f"CPU{c} {mm.describe(address)}: {got:#x}, reset value {value:#x}"
                changed += before[c][address] & mask != value
        # The traffic had moved most registers away from their reset values (else this proves little).
        assert changed >= n * 30, changed
        assert await p[0].read(ctx, INTC.PENDING) == 0  # the external lines are low
        assert await p[0].read(ctx, L.TRY) == mm.reset_reads(config, 0)[L.TRY][0]
        assert await p[1].read(ctx, mm.RAM.addr("WORD", index=3)) == 0x1234_5678  # the RAM is kept

        # Every FIFO is empty and works from scratch (its memory rows still hold the old words).
        for s in range(n):
            for d in range(n):
                if s != d:
                    await p[s].write(ctx, TX.addr("TX_FUNC", slot=d), 0xC000 + 16 * s + d)
                    await p[s].write(ctx, TX.addr("TX_ARG", slot=d), 0xE000 + 16 * s + d)
        for s in range(n):
            for d in range(n):
                if s != d:
                    assert await p[d].read(ctx, RX.addr("RX_LEVEL", slot=s)) == 1
                    assert await p[d].read(ctx, RX.addr("RX_FUNC", slot=s)) == 0xC000 + 16 * s + d
                    assert await p[d].read(ctx, RX.addr("RX_ARG", slot=s)) == 0xE000 + 16 * s + d

    run(config, bench, reset=True)
