"""DEVICE: the external devices' registers, their lines, and the testbench strobe ``dev_post``."""

import pytest

from hdl import memory_map as mm

from .harness import BusError, access_all, rd, run, small_config, soc_config, wr

D, INTC = mm.DEVICE, mm.INTC
REQUEST = D.register("STATUS").field("REQUEST").mask
OVERRUN = D.register("STATUS").field("OVERRUN").mask
ACK_REQUEST = D.register("ACK").field("REQUEST").mask
ACK_OVERRUN = D.register("ACK").field("OVERRUN").mask


def reg(name: str, k: int) -> int:
    return D.addr(name, index=k)


def ext_bit(k):
    return 1 << (mm.SOURCE_EXT0 + k)


async def post(ctx, soc, lines: int, data: int) -> None:
    """A one-cycle strobe on ``dev_post`` (bit k: line k) with ``data``."""
    ctx.set(soc.dut.dev_post, lines)
    ctx.set(soc.dut.dev_data, data)
    await ctx.tick()
    ctx.set(soc.dut.dev_post, 0)
    ctx.set(soc.dut.dev_data, 0)


async def device_state(ctx, port, k) -> tuple[int, int, int, int]:
    """(STATUS, DATA, POSTED, SERVICED) of line ``k``."""
    return tuple([await port.read(ctx, reg(name, k)) for name in ("STATUS", "DATA", "POSTED", "SERVICED")])


def irq_lines(ctx, soc) -> int:
    return ctx.get(soc.component("device").irq)


async def enable_line(ctx, port, k):
    await port.write(ctx, INTC.ENABLE, ext_bit(k))
    await port.write(ctx, INTC.addr("PRIO", index=mm.SOURCE_EXT0 + k), 1)


async def ack_during_post(ctx, soc, port, line: int, value: int, post_lines: int, data: int) -> None:
    """Write ACK[line] = ``value`` while ``post_lines`` are strobed in the very cycle the write happens."""
    bus = port.bus
    while ctx.get(bus.ack) or ctx.get(bus.err):
        await ctx.tick()
    ctx.set(bus.adr, reg("ACK", line) >> 2)
    ctx.set(bus.we, 1)
    ctx.set(bus.dat_w, value)
    ctx.set(bus.cyc, 1)
    ctx.set(bus.stb, 1)
    ctx.set(soc.dut.dev_post, post_lines)
    ctx.set(soc.dut.dev_data, data)
    await ctx.tick()
    ctx.set(soc.dut.dev_post, 0)
    assert ctx.get(bus.ack), "the ACK write was not served in the strobe's cycle"
    ctx.set(bus.cyc, 0)
    ctx.set(bus.stb, 0)
    ctx.set(bus.we, 0)


def test_reset_state():
    config = small_config()

    async def bench(ctx, soc):
        for port in soc.ports:
            for k in range(config.ext_lines):
                assert await device_state(ctx, port, k) == (0, 0, 0, 0)
        assert irq_lines(ctx, soc) == 0
        assert [await p.read(ctx, INTC.PENDING) for p in soc.ports] == [0, 0, 0]

    run(config, bench)


def test_post_raises_request_and_the_routed_interrupt():
    async def bench(ctx, soc):
        p0, p1, p2 = soc.ports
        await p0.write(ctx, mm.ROUTE.addr("ROUTE", index=1), 2)
        await enable_line(ctx, p2, 1)
        assert p2.irq(ctx) == 0
        await post(ctx, soc, 0b10, 0x1234_5678)
        # REQUEST is a register: the line is up right after the edge that took the strobe.
        assert irq_lines(ctx, soc) == 0b10
        assert p2.irq(ctx) == 1 and p0.irq(ctx) == 0 and p1.irq(ctx) == 0
        assert await device_state(ctx, p1, 1) == (REQUEST, 0x1234_5678, 1, 0)
        assert await device_state(ctx, p1, 0) == (0, 0, 0, 0)  # the other line is untouched
        assert [await p.read(ctx, INTC.PENDING) for p in soc.ports] == [0, 0, ext_bit(1)]
        assert await p2.read(ctx, INTC.CLAIM) == mm.SOURCE_EXT0 + 1
        # The line stays high without further strobes until it is acknowledged.
        for _ in range(5):
            await ctx.tick()
        assert irq_lines(ctx, soc) == 0b10 and await p2.read(ctx, INTC.PENDING) == ext_bit(1)

    run(small_config(), bench)


def test_ack_clears_request_and_drops_the_line():
    async def bench(ctx, soc):
        p0, p1, _ = soc.ports
        await enable_line(ctx, p0, 0)
        await post(ctx, soc, 0b01, 77)
        assert p0.irq(ctx) == 1
        # Writes without bit 0 acknowledge nothing.
        for value in (0, ACK_OVERRUN, 0xFFFF_FFFC):
            await p1.write(ctx, reg("ACK", 0), value)
            assert await device_state(ctx, p1, 0) == (REQUEST, 77, 1, 0), hex(value)
        # The handler's sequence: claim, STATUS, DATA, ACK, COMPLETE.
        assert await p0.read(ctx, INTC.CLAIM) == mm.SOURCE_EXT0
        assert await p0.read(ctx, reg("STATUS", 0)) == REQUEST
        assert await p0.read(ctx, reg("DATA", 0)) == 77
        await p0.write(ctx, reg("ACK", 0), ACK_REQUEST)
        assert irq_lines(ctx, soc) == 0
        await p0.write(ctx, INTC.COMPLETE, mm.SOURCE_EXT0)
        assert p0.irq(ctx) == 0 and await p0.read(ctx, INTC.PENDING) == 0
        # DATA keeps the last word; SERVICED counted the ACK that found the request.
        assert await device_state(ctx, p1, 0) == (0, 77, 1, 1)
        # An ACK with nothing pending is not counted.
        await p1.write(ctx, reg("ACK", 0), 0xFFFF_FFFF)
        assert await device_state(ctx, p1, 0) == (0, 77, 1, 1)
        # The next request is taken as the first was.
        await post(ctx, soc, 0b01, 78)
        assert p0.irq(ctx) == 1
        assert await device_state(ctx, p1, 0) == (REQUEST, 78, 2, 1)

    run(small_config(), bench)


def test_overrun_is_sticky_and_keeps_the_first_data():
    async def bench(ctx, soc):
        p0 = soc.ports[0]
        await post(ctx, soc, 0b01, 1)
        await post(ctx, soc, 0b01, 2)  # back to back: the first is still pending
        assert await device_state(ctx, p0, 0) == (REQUEST | OVERRUN, 1, 2, 0)
        await ctx.tick()
        await post(ctx, soc, 0b01, 3)
        assert await device_state(ctx, p0, 0) == (REQUEST | OVERRUN, 1, 3, 0)
        await p0.write(ctx, reg("ACK", 0), ACK_REQUEST)
        assert await device_state(ctx, p0, 0) == (OVERRUN, 1, 3, 1)  # OVERRUN outlives the ACK
        await post(ctx, soc, 0b01, 4)
        assert await device_state(ctx, p0, 0) == (REQUEST | OVERRUN, 4, 4, 1)
        await p0.write(ctx, reg("ACK", 0), ACK_OVERRUN)  # clears OVERRUN only
        assert await device_state(ctx, p0, 0) == (REQUEST, 4, 4, 1)
        await post(ctx, soc, 0b01, 5)
        await p0.write(ctx, reg("ACK", 0), ACK_REQUEST | ACK_OVERRUN)  # both at once
        assert await device_state(ctx, p0, 0) == (0, 4, 5, 2)
        assert await device_state(ctx, p0, 1) == (0, 0, 0, 0)

    run(small_config(), bench)


def test_post_and_ack_in_the_same_cycle():
    async def bench(ctx, soc):
        p0, p1, _ = soc.ports
        # A request pending: the ACK takes it (counted), the new one stays pending with its data.
        await post(ctx, soc, 0b01, 10)
        await ack_during_post(ctx, soc, p1, 0, ACK_REQUEST, 0b01, 11)
        assert irq_lines(ctx, soc) == 0b01
        assert await device_state(ctx, p0, 0) == (REQUEST, 11, 2, 1)
        # Nothing pending: the post wins and the ACK found nothing to count.
        await p0.write(ctx, reg("ACK", 0), ACK_REQUEST)
        assert await device_state(ctx, p0, 0) == (0, 11, 2, 2)
        await ack_during_post(ctx, soc, p1, 0, ACK_REQUEST, 0b01, 12)
        assert await device_state(ctx, p0, 0) == (REQUEST, 12, 3, 2)
        # An overrun in the cycle of an OVERRUN-only clear: the overrun wins.
        await ack_during_post(ctx, soc, p1, 0, ACK_OVERRUN, 0b01, 13)
        assert await device_state(ctx, p0, 0) == (REQUEST | OVERRUN, 12, 4, 2)
        # An ACK of line 0 while line 1 posts: each line on its own.
        await ack_during_post(ctx, soc, p1, 0, ACK_REQUEST | ACK_OVERRUN, 0b10, 14)
        assert await device_state(ctx, p0, 0) == (0, 12, 4, 3)
        assert await device_state(ctx, p0, 1) == (REQUEST, 14, 1, 0)
        assert irq_lines(ctx, soc) == 0b10

    run(small_config(), bench)


def test_one_strobe_posts_on_several_lines_with_one_word():
    config = soc_config(ncpu=4, fifo_depth=2, ram_words=16, ext_lines=5)

    async def bench(ctx, soc):
        targets = [3, 1, 7, 0, 3]  # 7 >= NCPU: nowhere
        for k, cpu in enumerate(targets):
            await soc.ports[0].write(ctx, mm.ROUTE.addr("ROUTE", index=k), cpu)
        await post(ctx, soc, 0b10111, 0xCAFE)
        assert irq_lines(ctx, soc) == 0b10111
        for k in range(config.ext_lines):
            want = (REQUEST, 0xCAFE, 1, 0) if k != 3 else (0, 0, 0, 0)
            assert await device_state(ctx, soc.ports[k % 4], k) == want, k
        expected = [sum(ext_bit(k) for k in (0, 1, 2, 4) if targets[k] == cpu) for cpu in range(4)]
        assert [await p.read(ctx, INTC.PENDING) for p in soc.ports] == expected

    run(config, bench)


def test_raw_ext_irq_is_ored_with_the_devices():
    async def bench(ctx, soc):
        p0 = soc.ports[0]
        ctx.set(soc.ext_irq, 0b01)  # a spurious pulse: no request behind it
        assert await p0.read(ctx, INTC.PENDING) == ext_bit(0)
        assert await p0.read(ctx, reg("STATUS", 0)) == 0
        ctx.set(soc.ext_irq, 0)
        assert await p0.read(ctx, INTC.PENDING) == 0
        await post(ctx, soc, 0b10, 5)
        ctx.set(soc.ext_irq, 0b10)
        assert await p0.read(ctx, INTC.PENDING) == ext_bit(1)
        await p0.write(ctx, reg("ACK", 1), ACK_REQUEST)
        assert await p0.read(ctx, INTC.PENDING) == ext_bit(1)  # the raw line still holds it
        ctx.set(soc.ext_irq, 0)
        assert await p0.read(ctx, INTC.PENDING) == 0

    run(small_config(), bench)


def test_counters_wrap():
    async def bench(ctx, soc):
        p0 = soc.ports[0]
        ctx.set(soc.signal("device", name="posted1"), 0xFFFF_FFFF)
        ctx.set(soc.signal("device", name="serviced1"), 0xFFFF_FFFF)
        await post(ctx, soc, 0b10, 9)
        assert await p0.read(ctx, reg("POSTED", 1)) == 0
        await p0.write(ctx, reg("ACK", 1), ACK_REQUEST)
        assert await p0.read(ctx, reg("SERVICED", 1)) == 0
        assert await p0.read(ctx, reg("POSTED", 0)) == 0

    run(small_config(), bench)


def test_accesses_from_several_cpus_are_arbitrated():
    async def bench(ctx, soc):
        p0, p1, p2 = soc.ports
        await post(ctx, soc, 0b11, 0x55)
        # Three simultaneous reads: one per cycle, round-robin, the same answer.
        results = await access_all(ctx, [(p, rd(reg("DATA", 1))) for p in soc.ports])
        assert sorted(r.cycles for r in results) == [1, 2, 3]
        assert [r.value for r in results] == [0x55] * 3
        # Two CPUs acknowledge different lines in the same cycle: both land.
        results = await access_all(ctx, [(p0, wr(reg("ACK", 0), ACK_REQUEST)), (p1, wr(reg("ACK", 1), ACK_REQUEST))])
        assert all(r.ok for r in results) and sorted(r.cycles for r in results) == [1, 2]
        assert irq_lines(ctx, soc) == 0
        assert [await p2.read(ctx, reg("SERVICED", k)) for k in (0, 1)] == [1, 1]
        # Two CPUs acknowledge the same request: the first served takes it, the second finds nothing.
        await post(ctx, soc, 0b01, 0x66)
        results = await access_all(
            ctx,
            [(p1, wr(reg("ACK", 0), ACK_REQUEST)), (p2, wr(reg("ACK", 0), ACK_REQUEST)), (p0, rd(reg("STATUS", 0)))],
        )
        assert sorted(r.cycles for r in results) == [1, 2, 3]
        assert await device_state(ctx, p0, 0) == (0, 0x66, 2, 2)
        # The reader saw REQUEST exactly when it was served before both ACKs.
        reader = results[2]
        assert reader.value == (REQUEST if reader.cycles == 1 else 0), reader

    run(small_config(), bench)


def test_no_external_lines():
    config = soc_config(ncpu=2, fifo_depth=2, ram_words=16, ext_lines=0)

    async def bench(ctx, soc):
        p0 = soc.ports[0]
        ctx.set(soc.dut.dev_post, 1)  # the unused strobe bit changes nothing
        await ctx.tick()
        ctx.set(soc.dut.dev_post, 0)
        assert irq_lines(ctx, soc) == 0 and p0.irq(ctx) == 0
        for address in (D.base, D.base + 0x80, D.base + 0x100):
            with pytest.raises(BusError):
                await p0.read(ctx, address)
            with pytest.raises(BusError):
                await p0.write(ctx, address, 1)

    run(config, bench)
