"""Shared RAM: read/write, sharing between CPUs, arbitration under contention."""

import pytest

from hdl import memory_map as mm

from .harness import Result, access_all, rd, run, small_config, soc_config, wr


def word(k):
    return mm.RAM.addr("WORD", index=k)


def pattern(k):
    return (0x9E37_79B9 * (k + 1)) & 0xFFFF_FFFF


def test_write_read_back_all_words_shared_by_cpus():
    config = small_config()

    async def bench(ctx, soc):
        n = config.ram_words
        for k in range(n):
            await soc.ports[k % soc.ncpu].write(ctx, word(k), pattern(k))
        for port in soc.ports:
            for k in range(n):
                assert await port.read(ctx, word(k)) == pattern(k)
        # Overwrite one word from one CPU: every CPU sees the new value, neighbours unchanged.
        await soc.ports[2].write(ctx, word(5), 0)
        for port in soc.ports:
            assert [await port.read(ctx, word(k)) for k in (4, 5, 6)] == [pattern(4), 0, pattern(6)]

    run(config, bench)


def test_uncontended_access_takes_one_cycle():
    async def bench(ctx, soc):
        for port in soc.ports:
            result = await port.try_write(ctx, word(port.cpu), 0x55)
            assert result.ok and result.cycles == 1
            result = await port.try_read(ctx, word(port.cpu))
            assert result == Result(True, 0x55, 1)

    run(small_config(), bench)


@pytest.mark.parametrize("ncpu", [2, 3, 4])
def test_simultaneous_accesses_all_complete_one_per_cycle(ncpu):
    config = soc_config(ncpu=ncpu, fifo_depth=2, ram_words=16, ext_lines=0)

    async def bench(ctx, soc):
        results = await access_all(ctx, [(p, wr(word(p.cpu), 0x100 + p.cpu)) for p in soc.ports])
        assert all(r.ok for r in results)
        assert sorted(r.cycles for r in results) == list(range(1, ncpu + 1))
        results = await access_all(ctx, [(p, rd(word((p.cpu + 1) % ncpu))) for p in soc.ports])
        assert [r.value for r in results] == [0x100 + (c + 1) % ncpu for c in range(ncpu)]
        assert sorted(r.cycles for r in results) == list(range(1, ncpu + 1))
        # Everybody writes the same word: the last one granted wins.
        results = await access_all(ctx, [(p, wr(word(0), 0xA0 + p.cpu)) for p in soc.ports])
        last = max(range(ncpu), key=lambda c: results[c].cycles)
        assert await soc.ports[0].read(ctx, word(0)) == 0xA0 + last
        # Everybody reads the same word at once and sees the same value.
        results = await access_all(ctx, [(p, rd(word(0))) for p in soc.ports])
        assert {r.value for r in results} == {0xA0 + last}

    run(config, bench)


def test_contended_order_rotates():
    config = soc_config(ncpu=3, fifo_depth=2, ram_words=16, ext_lines=0)

    async def bench(ctx, soc):
        p0, p1, p2 = soc.ports
        # CPU2 alone: the arbiter's last grant is now 2, so 0 comes next, then 1.
        await p2.read(ctx, word(0))
        results = await access_all(ctx, [(p, rd(word(0))) for p in soc.ports])
        assert [r.cycles for r in results] == [1, 2, 3]
        # CPU0 alone: after it, 1 then 2 then 0.
        await p0.read(ctx, word(0))
        results = await access_all(ctx, [(p, rd(word(0))) for p in soc.ports])
        assert [r.cycles for r in results] == [3, 1, 2]
        # CPU1 alone: after it, 2 then 0 then 1.
        await p1.read(ctx, word(0))
        results = await access_all(ctx, [(p, rd(word(0))) for p in soc.ports])
        assert [r.cycles for r in results] == [2, 3, 1]
        # Two contenders, 0 and 2; the last grant was 1, so 2 goes first.
        results = await access_all(ctx, [(p0, rd(word(0))), (p2, rd(word(0)))])
        assert [r.cycles for r in results] == [2, 1]

    run(config, bench)


def test_no_starvation_under_continuous_contention():
    config = soc_config(ncpu=4, fifo_depth=2, ram_words=16, ext_lines=0)
    latencies = {c: [] for c in range(config.ncpu)}

    def hog(cpu):
        async def bench(ctx, soc):
            port = soc.ports[cpu]
            n = 0
            while True:
                result = await port.try_write(ctx, word(cpu), n)
                assert result.ok
                latencies[cpu].append(result.cycles)
                n += 1

        return bench

    async def main(ctx, soc):
        port = soc.ports[3]
        for k in range(30):
            result = await port.try_read(ctx, word(k % 3))
            assert result.ok
            latencies[3].append(result.cycles)

    run(config, main, background=[hog(0), hog(1), hog(2)])
    # Round-robin: a requester waits for at most NCPU - 1 others.
    for cpu, seen in latencies.items():
        assert seen and max(seen) <= config.ncpu, (cpu, seen)
    # Everybody made progress, roughly fairly.
    counts = [len(v) for v in latencies.values()]
    assert min(counts) >= 25 and max(counts) - min(counts) <= 3, counts
