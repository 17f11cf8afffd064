"""IPI: the FIFO matrix seen through IPI_TX, IPI_RX and RX_PENDING."""

import pytest
from hdl import memory_map as mm
from hdl.ipi import pair_address

from .harness import access_all, field_get, run, small_config, soc_config, ticks, wr

TX, RX = mm.IPI_TX, mm.IPI_RX
TXS = TX.register("TX_STATUS")
RXS = RX.register("RX_STATUS")
FULL, EMPTY, WOF, LEVEL = (TXS.field(n) for n in ("FULL", "EMPTY", "WOF", "LEVEL"))
VALID, ROE = RXS.field("VALID"), RXS.field("ROE")
RX_PENDING = mm.IPI_PENDING.RX_PENDING


def idx(count):
    """An index after ``count`` pushes or pops since reset (indices start at IPI_INDEX_RESET)."""
    return (mm.IPI_INDEX_RESET + count) & 0xFFFF_FFFF


def tx(name, dst):
    return TX.addr(name, slot=dst)


def rx(name, src):
    return RX.addr(name, slot=src)


async def send(ctx, soc, src, dst, func, arg):
    await soc.ports[src].write(ctx, tx("TX_FUNC", dst), func)
    await soc.ports[src].write(ctx, tx("TX_ARG", dst), arg)


async def head(ctx, soc, src, dst):
    port = soc.ports[dst]
    return await port.read(ctx, rx("RX_FUNC", src)), await port.read(ctx, rx("RX_ARG", src))


async def tx_status(ctx, soc, src, dst):
    value = await soc.ports[src].read(ctx, tx("TX_STATUS", dst))
    return {f.name: field_get(value, f) for f in (FULL, EMPTY, WOF, LEVEL)}


async def rx_status(ctx, soc, src, dst):
    value = await soc.ports[dst].read(ctx, rx("RX_STATUS", src))
    return {f.name: field_get(value, f) for f in (VALID, ROE)}


def test_reset_state_and_empty_reads_zero():
    # The indices start eight short of the 2**32 wrap (hdl/memory_map.py IPI_INDEX_RESET).
    async def bench(ctx, soc):
        for s in range(soc.ncpu):
            for d in range(soc.ncpu):
                if s == d:
                    continue
                assert await tx_status(ctx, soc, s, d) == dict(FULL=0, EMPTY=1, WOF=0, LEVEL=0)
                assert await rx_status(ctx, soc, s, d) == dict(VALID=0, ROE=0)
                assert await head(ctx, soc, s, d) == (0, 0)
                assert await soc.ports[d].read(ctx, rx("RX_LEVEL", s)) == 0
                assert await soc.ports[s].read(ctx, tx("TX_WINDEX", d)) == idx(0)
                assert await soc.ports[s].read(ctx, tx("TX_RINDEX", d)) == idx(0)
            assert await soc.ports[s].read(ctx, RX_PENDING) == 0

    run(small_config(), bench)


def test_push_reaches_only_the_addressed_receiver():
    async def bench(ctx, soc):
        await send(ctx, soc, 0, 2, 0xF00D_0001, 0xA000_0001)
        assert await head(ctx, soc, 0, 2) == (0xF00D_0001, 0xA000_0001)
        assert await soc.ports[2].read(ctx, rx("RX_LEVEL", 0)) == 1
        assert await rx_status(ctx, soc, 0, 2) == dict(VALID=1, ROE=0)
        assert await tx_status(ctx, soc, 0, 2) == dict(FULL=0, EMPTY=0, WOF=0, LEVEL=1)
        assert await soc.ports[0].read(ctx, tx("TX_WINDEX", 2)) == idx(1)
        assert await soc.ports[0].read(ctx, tx("TX_FUNC", 2)) == 0xF00D_0001
        # No other FIFO moved: 0->1, 1->2, 2->0 ...
        for s, d in ((0, 1), (1, 2), (2, 0), (1, 0), (2, 1)):
            assert await soc.ports[d].read(ctx, rx("RX_LEVEL", s)) == 0
            assert await head(ctx, soc, s, d) == (0, 0)
        assert [await p.read(ctx, RX_PENDING) for p in soc.ports] == [0, 0, 1 << 0]

    run(small_config(), bench)


def test_fifo_order_latched_func_and_pop():
    config = small_config()

    async def bench(ctx, soc):
        depth = config.fifo_depth
        src, dst = soc.ports[1], soc.ports[0]
        # TX_FUNC stays latched across pushes.
        await src.write(ctx, tx("TX_FUNC", 0), 0x1111)
        await src.write(ctx, tx("TX_ARG", 0), 100)
        await src.write(ctx, tx("TX_ARG", 0), 101)
        await src.write(ctx, tx("TX_FUNC", 0), 0x2222)
        for k in range(depth - 2):
            await src.write(ctx, tx("TX_ARG", 0), 102 + k)
        funcs = [0x1111, 0x1111] + [0x2222] * (depth - 2)
        for k in range(depth):
            assert await dst.read(ctx, rx("RX_LEVEL", 1)) == depth - k
            assert await head(ctx, soc, 1, 0) == (funcs[k], 100 + k)
            await dst.write(ctx, rx("RX_POP", 1), 0)
            assert await src.read(ctx, tx("TX_RINDEX", 0)) == idx(k + 1)
        # Drained: head reads 0 again although the storage keeps old words.
        assert await head(ctx, soc, 1, 0) == (0, 0)
        assert await rx_status(ctx, soc, 1, 0) == dict(VALID=0, ROE=0)
        assert await tx_status(ctx, soc, 1, 0) == dict(FULL=0, EMPTY=1, WOF=0, LEVEL=0)

    run(config, bench)


@pytest.mark.parametrize("depth", [2, 4])
def test_full_fifo_drops_push_and_sets_wof(depth):
    config = small_config(fifo_depth=depth)

    async def bench(ctx, soc):
        s, d = 2, 1
        src, dst = soc.ports[s], soc.ports[d]
        for k in range(depth):
            assert await tx_status(ctx, soc, s, d) == dict(FULL=0, EMPTY=int(k == 0), WOF=0, LEVEL=k)
            await send(ctx, soc, s, d, 0x100 + k, 0x200 + k)
        assert await tx_status(ctx, soc, s, d) == dict(FULL=1, EMPTY=0, WOF=0, LEVEL=depth)
        # Two more pushes: both dropped, both acked, WOF set, indices unchanged.
        await send(ctx, soc, s, d, 0xDEAD, 0xBEEF)
        await src.write(ctx, tx("TX_ARG", d), 0xBEEF)
        assert await tx_status(ctx, soc, s, d) == dict(FULL=1, EMPTY=0, WOF=1, LEVEL=depth)
        assert await src.read(ctx, tx("TX_WINDEX", d)) == idx(depth)
        assert await dst.read(ctx, rx("RX_LEVEL", s)) == depth
        # The queued entries are intact (the dropped push did not overwrite the head or tail).
        for k in range(depth):
            assert await head(ctx, soc, s, d) == (0x100 + k, 0x200 + k)
            await dst.write(ctx, rx("RX_POP", s), 0)
        # WOF is sticky; writing 0 or other bits does not clear it; writing 1 to WOF does.
        assert await tx_status(ctx, soc, s, d) == dict(FULL=0, EMPTY=1, WOF=1, LEVEL=0)
        await src.write(ctx, tx("TX_STATUS", d), 0)
        await src.write(ctx, tx("TX_STATUS", d), 0xFFFF_FFFF & ~WOF.mask)
        assert (await tx_status(ctx, soc, s, d))["WOF"] == 1
        await src.write(ctx, tx("TX_STATUS", d), WOF.mask)
        assert await tx_status(ctx, soc, s, d) == dict(FULL=0, EMPTY=1, WOF=0, LEVEL=0)
        # The FIFO accepts pushes again.
        await send(ctx, soc, s, d, 7, 8)
        assert await head(ctx, soc, s, d) == (7, 8)
        assert await src.read(ctx, tx("TX_WINDEX", d)) == idx(depth + 1)

    run(config, bench)


def test_pop_on_empty_sets_roe_and_changes_nothing():
    async def bench(ctx, soc):
        src, dst = soc.ports[0], soc.ports[1]
        await dst.write(ctx, rx("RX_POP", 0), 0)
        assert await rx_status(ctx, soc, 0, 1) == dict(VALID=0, ROE=1)
        assert await src.read(ctx, tx("TX_RINDEX", 1)) == idx(0)
        assert await dst.read(ctx, rx("RX_LEVEL", 0)) == 0
        assert await tx_status(ctx, soc, 0, 1) == dict(FULL=0, EMPTY=1, WOF=0, LEVEL=0)
        # A push still works normally: level 1, not 0 (no index underflow).
        await send(ctx, soc, 0, 1, 5, 6)
        assert await dst.read(ctx, rx("RX_LEVEL", 0)) == 1
        assert await head(ctx, soc, 0, 1) == (5, 6)
        # ROE is sticky and write-1-to-clear; it does not affect VALID.
        assert await rx_status(ctx, soc, 0, 1) == dict(VALID=1, ROE=1)
        await dst.write(ctx, rx("RX_STATUS", 0), 0xFFFF_FFFF & ~ROE.mask)
        assert await rx_status(ctx, soc, 0, 1) == dict(VALID=1, ROE=1)
        await dst.write(ctx, rx("RX_STATUS", 0), ROE.mask)
        assert await rx_status(ctx, soc, 0, 1) == dict(VALID=1, ROE=0)
        # No other FIFO got ROE: not CPU1's other receive FIFO, nor the other consumers of source 0.
        for s, d in ((2, 1), (0, 2), (1, 0), (1, 2), (2, 0)):
            assert await rx_status(ctx, soc, s, d) == dict(VALID=0, ROE=0), f"FIFO[{s}][{d}]"

    run(small_config(), bench)


def test_sends_of_every_cpu_in_one_cycle_keep_their_own_rows():
    """Every producer writes TX_FUNC, then pushes, in the same cycle as all the others: each FIFO
    latches its own producer's function and entry (the send rows share no write path)."""

    async def bench(ctx, soc):
        n = soc.ncpu
        dst = [(c + 1) % n for c in range(n)]
        funcs = [0xF00D_0000 + c for c in range(n)]
        results = await access_all(ctx, [(soc.ports[c], wr(tx("TX_FUNC", dst[c]), funcs[c])) for c in range(n)])
        assert all(r.ok for r in results)
        results = await access_all(ctx, [(soc.ports[c], wr(tx("TX_ARG", dst[c]), 0xA0 + c)) for c in range(n)])
        assert all(r.ok for r in results)
        for c in range(n):
            assert await soc.ports[c].read(ctx, tx("TX_FUNC", dst[c])) == funcs[c], f"CPU{c}'s TX_FUNC"
            assert await soc.ports[c].read(ctx, tx("TX_WINDEX", dst[c])) == idx(1), f"CPU{c}'s TX_WINDEX"
            assert await head(ctx, soc, c, dst[c]) == (funcs[c], 0xA0 + c), f"FIFO[{c}][{dst[c]}]"

    run(small_config(), bench)


async def flagged(ctx, soc, flag):
    """The FIFOs (src, dst) whose ``flag`` ("WOF" or "ROE") reads 1, from every CPU's ports."""
    status = tx_status if flag == "WOF" else rx_status
    pairs = [(s, d) for s in range(soc.ncpu) for d in range(soc.ncpu) if s != d]
    return {(s, d) for s, d in pairs if (await status(ctx, soc, s, d))[flag]}


@pytest.mark.parametrize("flag", ["WOF", "ROE"])
def test_sticky_flags_belong_to_one_fifo(flag):
    """Raising or clearing one FIFO's WOF (ROE) leaves every other FIFO's as it was: those of the
    other slots of the same CPU's port, and those of every other CPU's, whichever was set first."""
    config = small_config(fifo_depth=2)

    def fifo(cpu, slot):
        # WOF is the producer's flag (its TX slot is the destination), ROE the consumer's.
        return (cpu, slot) if flag == "WOF" else (slot, cpu)

    async def raise_flag(ctx, soc, cpu, slot):
        if flag == "WOF":
            for k in range(config.fifo_depth + 1):  # the last push finds the FIFO full
                await soc.ports[cpu].write(ctx, tx("TX_ARG", slot), k)
        else:
            await soc.ports[cpu].write(ctx, rx("RX_POP", slot), 0)  # on the empty FIFO

    async def clear_flag(ctx, soc, cpu, slot):
        if flag == "WOF":
            await soc.ports[cpu].write(ctx, tx("TX_STATUS", slot), WOF.mask)
        else:
            await soc.ports[cpu].write(ctx, rx("RX_STATUS", slot), ROE.mask)

    async def bench(ctx, soc):
        expected = set()
        # Each step on one CPU's port, one slot; the CPUs take turns so that each one's flags
        # differ from the others' when it acts.
        for cpu, slot in ((0, 2), (1, 0), (1, 2), (2, 1), (0, 1)):
            await raise_flag(ctx, soc, cpu, slot)
            expected.add(fifo(cpu, slot))
            assert await flagged(ctx, soc, flag) == expected, f"after raising {flag} of {fifo(cpu, slot)}"
        for cpu, slot in ((2, 1), (0, 2), (1, 0)):
            await clear_flag(ctx, soc, cpu, slot)
            expected.discard(fifo(cpu, slot))
            assert await flagged(ctx, soc, flag) == expected, f"after clearing {flag} of {fifo(cpu, slot)}"

    run(config, bench)


def test_rx_pending_bits_follow_fifo_contents():
    config = soc_config(ncpu=4, fifo_depth=2, ram_words=16, ext_lines=0)

    async def bench(ctx, soc):
        async def pending():
            words = [await p.read(ctx, RX_PENDING) for p in soc.ports]
            # The waveforms' probe ipi.pending_{c} shows the same word.
            assert [ctx.get(soc.signal("ipi", name=f"pending_{c}")) for c in range(soc.ncpu)] == words
            return words

        await send(ctx, soc, 0, 3, 1, 1)
        await send(ctx, soc, 2, 3, 2, 2)
        await send(ctx, soc, 2, 3, 3, 3)
        await send(ctx, soc, 3, 1, 4, 4)
        assert await pending() == [0, 1 << 3, 0, 1 << 0 | 1 << 2]
        await soc.ports[3].write(ctx, rx("RX_POP", 2), 0)
        assert await pending() == [0, 1 << 3, 0, 1 << 0 | 1 << 2]  # one entry left from CPU2
        await soc.ports[3].write(ctx, rx("RX_POP", 2), 0)
        assert await pending() == [0, 1 << 3, 0, 1 << 0]
        await soc.ports[3].write(ctx, rx("RX_POP", 0), 0)
        await soc.ports[1].write(ctx, rx("RX_POP", 3), 0)
        assert await pending() == [0, 0, 0, 0]

    run(config, bench)


def test_irq_follows_ipi_source():
    INTC = mm.INTC
    bit = 1 << mm.SOURCE_IPI

    async def bench(ctx, soc):
        p0, p1, p2 = soc.ports
        await p1.write(ctx, INTC.ENABLE, bit)
        await send(ctx, soc, 0, 1, 9, 9)
        # PRIO 0 (reset) disables it: pending but no irq.
        assert await p1.read(ctx, INTC.PENDING) & bit
        assert not p1.irq(ctx)
        await p1.write(ctx, INTC.addr("PRIO", index=mm.SOURCE_IPI), 1)
        assert p1.irq(ctx)
        assert not p0.irq(ctx) and not p2.irq(ctx)
        # A second sender keeps it high after the first FIFO drains.
        await send(ctx, soc, 2, 1, 8, 8)
        await p1.write(ctx, rx("RX_POP", 0), 0)
        assert p1.irq(ctx)
        assert await p1.read(ctx, INTC.PENDING) & bit
        await p1.write(ctx, rx("RX_POP", 2), 0)
        assert not p1.irq(ctx)
        assert not await p1.read(ctx, INTC.PENDING) & bit
        await ticks(ctx, 2)
        assert not p1.irq(ctx)

    run(small_config(), bench)


def test_push_and_pop_in_same_cycle_see_state_before():
    config = small_config(fifo_depth=2)
    push = tx("TX_ARG", 1)
    pop = rx("RX_POP", 0)

    async def bench(ctx, soc):
        src, dst = soc.ports[0], soc.ports[1]
        await src.write(ctx, tx("TX_FUNC", 1), 0xF)
        # Empty: the pop is refused (ROE), the push is accepted.
        results = await access_all(ctx, [(src, wr(push, 1)), (dst, wr(pop, 0))])
        assert all(r.ok and r.cycles == 1 for r in results)
        assert await tx_status(ctx, soc, 0, 1) == dict(FULL=0, EMPTY=0, WOF=0, LEVEL=1)
        assert await rx_status(ctx, soc, 0, 1) == dict(VALID=1, ROE=1)
        await dst.write(ctx, rx("RX_STATUS", 0), ROE.mask)
        # One entry: both happen; the new entry becomes the head.
        await access_all(ctx, [(src, wr(push, 2)), (dst, wr(pop, 0))])
        assert await head(ctx, soc, 0, 1) == (0xF, 2)
        assert await tx_status(ctx, soc, 0, 1) == dict(FULL=0, EMPTY=0, WOF=0, LEVEL=1)
        await src.write(ctx, push, 3)
        # Full: the push is dropped (WOF) even though a pop happens in the same cycle.
        await access_all(ctx, [(src, wr(push, 4)), (dst, wr(pop, 0))])
        assert await tx_status(ctx, soc, 0, 1) == dict(FULL=0, EMPTY=0, WOF=1, LEVEL=1)
        assert await head(ctx, soc, 0, 1) == (0xF, 3)
        assert await src.read(ctx, tx("TX_WINDEX", 1)) == idx(3)
        assert await src.read(ctx, tx("TX_RINDEX", 1)) == idx(2)
        assert await rx_status(ctx, soc, 0, 1) == dict(VALID=1, ROE=0)

    run(config, bench)


@pytest.mark.parametrize("start", [(1 << 32) - 2, (1 << 32) - 1, (1 << 32) - 4])
def test_indices_wrap_at_2_pow_32(start):
    config = small_config(fifo_depth=4)
    depth = config.fifo_depth
    mask = (1 << 32) - 1

    async def bench(ctx, soc):
        s, d = 1, 2
        src, dst = soc.ports[s], soc.ports[d]
        # FIFO[s][d]'s rows in the matrix's memories, and their written-since-reset bits.
        row = pair_address(config.ncpu, s, d)
        ctx.set(soc.component("ipi", "send").data[row].windex, start)
        ctx.set(soc.component("ipi", "recv").data[row], start)
        for name, cpu, bit in (("sent", s, d), ("sent_to", d, s), ("got", d, s), ("got_from", s, d)):
            ctx.set(soc.signal("ipi", name=f"{name}_{cpu}"), 1 << bit)
        await ctx.tick()
        assert await src.read(ctx, tx("TX_WINDEX", d)) == start
        assert await src.read(ctx, tx("TX_RINDEX", d)) == start
        assert await tx_status(ctx, soc, s, d) == dict(FULL=0, EMPTY=1, WOF=0, LEVEL=0)
        for k in range(depth):
            await send(ctx, soc, s, d, 0x40 + k, 0x80 + k)
            assert await src.read(ctx, tx("TX_WINDEX", d)) == (start + k + 1) & mask
            assert await tx_status(ctx, soc, s, d) == dict(FULL=int(k + 1 == depth), EMPTY=0, WOF=0, LEVEL=k + 1)
            assert await dst.read(ctx, rx("RX_LEVEL", s)) == k + 1
        # Full across the wrap: the next push is dropped.
        await send(ctx, soc, s, d, 0xBAD, 0xBAD)
        assert await tx_status(ctx, soc, s, d) == dict(FULL=1, EMPTY=0, WOF=1, LEVEL=depth)
        assert await src.read(ctx, tx("TX_WINDEX", d)) == (start + depth) & mask
        for k in range(depth):
            assert await head(ctx, soc, s, d) == (0x40 + k, 0x80 + k)
            await dst.write(ctx, rx("RX_POP", s), 0)
            assert await src.read(ctx, tx("TX_RINDEX", d)) == (start + k + 1) & mask
            assert await dst.read(ctx, rx("RX_LEVEL", s)) == depth - k - 1
        assert await tx_status(ctx, soc, s, d) == dict(FULL=0, EMPTY=1, WOF=1, LEVEL=0)
        assert await rx_status(ctx, soc, s, d) == dict(VALID=0, ROE=0)
        assert await head(ctx, soc, s, d) == (0, 0)
        assert await dst.read(ctx, RX_PENDING) == 0

    run(config, bench)


def test_two_cpus_only():
    config = soc_config(ncpu=2, fifo_depth=2, ram_words=16, ext_lines=0)

    async def bench(ctx, soc):
        await send(ctx, soc, 1, 0, 3, 4)
        await send(ctx, soc, 0, 1, 5, 6)
        assert await head(ctx, soc, 1, 0) == (3, 4)
        assert await head(ctx, soc, 0, 1) == (5, 6)
        assert await soc.ports[0].read(ctx, RX_PENDING) == 1 << 1
        assert await soc.ports[1].read(ctx, RX_PENDING) == 1 << 0

    run(config, bench)
