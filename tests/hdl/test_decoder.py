"""The per-CPU port decoder (hdl/tile.py): latency, and bus errors that change nothing.

Bad accesses: unmapped addresses (between blocks, beyond a block's registers,
beyond the RAM, IPI slots >= NCPU), writes to read-only registers, reads of
write-only registers, and any access to the CPU's own IPI TX/RX slot. Each must
end with ``err`` in one cycle; the whole readable state of the SoC, seen from
every CPU, is compared before and after.
"""

from __future__ import annotations

import pytest

from hdl import memory_map as mm
from hdl.config import SocConfig

from .harness import BusError, Result, Soc, access_all, rd, run, small_config, soc_config, ticks, wr

CONFIGS = [
    small_config(),
    soc_config(ncpu=1, fifo_depth=2, ram_words=16, ext_lines=0),
    soc_config(ncpu=2, fifo_depth=2, ram_words=32, ext_lines=1, prio_bits=3),
]
CONFIG_IDS = [c.slug for c in CONFIGS]

L, T, INTC = mm.MPLOCK, mm.TIMER, mm.INTC
#: Readable registers whose read changes state, or whose value moves with time (OWNER_QUIET counts
#: cycles): kept out of the snapshot.
SIDE_EFFECT_READS = {("sys", "CYCLE_LO"), ("mplock", "TRY"), ("intc", "CLAIM"), ("mplock", "OWNER_QUIET")}
SPACE_TOP = 1 << 32


# --- address sets ------------------------------------------------------------


def mapped(config: SocConfig, cpu: int):
    """Every register ``cpu`` may access: (block, register, slot, index, address)."""
    for block in mm.BLOCKS:
        slots = [None]
        if block.slot_stride:
            slots = [s for s in range(config.ncpu) if not (block.self_slot_error and s == cpu)]
        for slot in slots:
            for reg in block.registers:
                for index in range(reg.count(config)) if reg.count else [None]:
                    yield block, reg, slot, index, block.addr(reg.name, slot=slot, index=index)


def _reg_words(block: mm.Block, config: SocConfig) -> set[int]:
    """Byte offsets (inside one slot) that hold a register."""
    words = set()
    for reg in block.registers:
        for k in range(reg.count(config) if reg.count else 1):
            words.add(reg.offset + 4 * k)
    return words


def unmapped(config: SocConfig, cpu: int) -> list[tuple[str, int]]:
    """Addresses that hold no register for ``cpu`` (own IPI slots excluded: see own_slot)."""
    out = []
    for block in mm.BLOCKS:
        after = block.base + block.size
        if after < SPACE_TOP and mm.block_at(after) is None:
            out.append((f"gap after {block.name}", after))
            out.append((f"gap after {block.name}, far", after + block.size // 2))
    out.append(("just below RAM", mm.RAM.base - 4))
    out.append(("top of the address space", SPACE_TOP - 4))
    for block in mm.BLOCKS:
        words = _reg_words(block, config)
        end = max(words, default=-4) + 4  # 0 for an empty block (no external lines)
        stride = block.slot_stride or block.size
        holes = [o for o in range(0, end, 4) if o not in words]
        if block.slot_stride:
            good = [s for s in range(config.ncpu) if s != cpu]
            for slot in good[:2]:
                base = block.base + slot * stride
                out += [(f"{block.name} slot {slot} hole {o:#x}", base + o) for o in holes]
                out += [(f"{block.name} slot {slot} past registers", base + o) for o in range(end, stride, 4)]
            for slot in (config.ncpu, config.ncpu + 1, block.size // stride - 1):
                if slot * stride < block.size:
                    out.append((f"{block.name} slot {slot} >= NCPU", block.base + slot * stride))
                    out.append((f"{block.name} slot {slot} >= NCPU, last word", block.base + slot * stride + end - 4))
        else:
            out += [(f"{block.name} hole {o:#x}", block.base + o) for o in holes]
            out.append((f"{block.name} first word past registers", block.base + end))
            for extra in (8, block.size // 2, block.size - 4):
                if end + extra < block.size:
                    out.append((f"{block.name} past registers +{extra:#x}", block.base + end + extra))
            out.append((f"{block.name} last word of window", block.base + block.size - 4))
    legal = {a for *_, a in mapped(config, cpu)}
    own = {a for _, a in own_slot(config, cpu)}
    out = [(label, a) for label, a in out if a not in own]
    assert not [a for _, a in out if a in legal], "test generator produced a mapped address"
    return out


def own_slot(config: SocConfig, cpu: int) -> list[tuple[str, int]]:
    return [
        (f"{block.name} own slot {reg.name}", block.addr(reg.name, slot=cpu))
        for block in (mm.IPI_TX, mm.IPI_RX)
        for reg in block.registers
    ]


def bad_accesses(category: str, config: SocConfig, cpu: int) -> list[tuple[str, int, bool]]:
    """(label, byte address, write) of the accesses of ``category`` for ``cpu``."""
    if category == "unmapped":
        return [(label, a, w) for label, a in unmapped(config, cpu) for w in (False, True)]
    if category == "own_slot":
        return [(label, a, w) for label, a in own_slot(config, cpu) for w in (False, True)]
    if category == "write_read_only":
        return [
            (f"{b.name}.{r.name}[{s},{i}]", a, True) for b, r, s, i, a in mapped(config, cpu) if r.access is mm.Access.R
        ]
    if category == "read_write_only":
        return [
            (f"{b.name}.{r.name}[{s},{i}]", a, False)
            for b, r, s, i, a in mapped(config, cpu)
            if r.access is mm.Access.W
        ]
    raise ValueError(category)


CATEGORIES = ["unmapped", "own_slot", "write_read_only", "read_write_only"]


# --- a busy SoC and its observable state -----------------------------------


def ram(k):
    return mm.RAM.addr("WORD", index=k)


async def write(ctx, port, address, value):
    result = await port.try_write(ctx, address, value)
    assert result.ok and result.cycles == 1, (port, hex(address), result)


async def populate(ctx, soc: Soc):
    """Put every block in a non-reset state in which a stray access would show.

    MPLOCK held with ERR set; every FIFO with one entry, WOF and ROE set; INTC
    sources pending, one in service on even CPUs, soft set on even CPUs only;
    a pending timer on CPU0; ROUTE, DEBUG, RAM and CYCLE_HI away from reset; every
    device with a request pending and OVERRUN set.
    """
    cfg = soc.config
    n, P = cfg.ncpu, soc.ports
    ctx.set(soc.cycle, 7 << 32 | 0x100)
    for p in P:
        await p.read(ctx, mm.SYS.CYCLE_LO)  # latches HI = 7
    for k in range(cfg.ram_words):
        await write(ctx, P[k % n], ram(k), (0x9E37_79B9 * (k + 1)) & 0xFFFF_FFFF)
    await write(ctx, P[0], L.RELEASE, 0)  # free: sets ERR.NONOWNER
    assert await P[-1].read(ctx, L.TRY) == 1
    for p in P[:-1]:
        assert await p.read(ctx, L.TRY) == 0
    for s in range(n):
        for d in range(n):
            if s == d:
                continue
            await write(ctx, P[d], mm.IPI_RX.addr("RX_POP", slot=s), 0)  # ROE
            await write(ctx, P[s], mm.IPI_TX.addr("TX_FUNC", slot=d), 0xF000 + 16 * s + d)
            for k in range(cfg.fifo_depth + 1):  # one too many: WOF
                await write(ctx, P[s], mm.IPI_TX.addr("TX_ARG", slot=d), 0xA000 + k)
            for _ in range(cfg.fifo_depth - 1):  # leave one entry
                await write(ctx, P[d], mm.IPI_RX.addr("RX_POP", slot=s), 0)
    ctx.set(soc.ext_irq, (1 << cfg.ext_lines) - 1)
    for data in (0xD0, 0xD1):  # a request on every device, then an overrun
        ctx.set(soc.dut.dev_post, (1 << cfg.ext_lines) - 1)
        ctx.set(soc.dut.dev_data, data)
        await ticks(ctx, 1)
    ctx.set(soc.dut.dev_post, 0)
    for k in range(cfg.ext_lines):
        await write(ctx, P[k % n], mm.ROUTE.addr("ROUTE", index=k), (k + 1) % (n + 1))
    top = (1 << cfg.prio_bits) - 1
    for p in P:
        c = p.cpu
        await write(ctx, p, INTC.ENABLE, (1 << cfg.n_sources) - 1)
        for k in range(cfg.n_sources):
            await write(ctx, p, INTC.addr("PRIO", index=k), (k + c) % top + 1)
        await write(ctx, p, T.PERIOD, 1000 + c)
        await write(ctx, p, T.COMPARE_HI, 0x100 + c)  # far in the future
        await write(ctx, p, T.COMPARE_LO, 0x1234 + c)
        await write(ctx, p, T.CTRL, c % 2)
        await write(ctx, p, mm.DEBUG.CURTHREAD, 0x100 + c)
        await write(ctx, p, mm.DEBUG.CRITDEPTH, 1 + c)
        await write(ctx, p, mm.DEBUG.PRI, 0x200 + c)
        if c % 2 == 0:
            await write(ctx, p, INTC.SOFT_SET, 0)
            assert await p.read(ctx, INTC.CLAIM) != mm.CLAIM_NONE
    # A pending timer on CPU0 (so that a stray ACK would show), then a far COMPARE.
    await write(ctx, P[0], T.COMPARE_HI, 0)
    await write(ctx, P[0], T.CTRL, 1)
    await ticks(ctx, 2)
    await write(ctx, P[0], T.COMPARE_HI, 0x100)
    assert ctx.get(soc.timer(0).pending)


async def snapshot(ctx, soc: Soc) -> dict:
    """Every side-effect-free readable register from every CPU (each read: ack in 1 cycle)."""
    state = {}
    for port in soc.ports:
        for block, reg, slot, index, address in mapped(soc.config, port.cpu):
            if not reg.access.readable or (block.name, reg.name) in SIDE_EFFECT_READS:
                continue
            result = await port.try_read(ctx, address)
            assert result.ok and result.cycles == 1, (port, block.name, reg.name, result)
            state[(port.cpu, block.name, reg.name, slot, index)] = result.value
    return state


def diff(before: dict, after: dict) -> list:
    return [(k, hex(before[k]), hex(after[k])) for k in before if before[k] != after[k]]


# --- tests -------------------------------------------------------------------


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_bad_access_errs_in_one_cycle_and_changes_nothing(config, category):
    pulses = []

    async def watch_events(ctx, soc):
        blocks = [soc.debug(c) for c in range(soc.ncpu)]
        while True:
            await ctx.tick()
            pulses.extend(c for c, b in enumerate(blocks) if ctx.get(b.event_valid))

    async def bench(ctx, soc):
        await populate(ctx, soc)
        before = await snapshot(ctx, soc)
        assert await snapshot(ctx, soc) == before  # the snapshot itself is stable
        count = 0
        for port in soc.ports:
            for label, address, is_write in bad_accesses(category, config, port.cpu):
                for value in (0xFFFF_FFFF, 0) if is_write else (0,):
                    request = wr(address, value) if is_write else rd(address)
                    result = await port.access(ctx, request)
                    assert not result.ok, f"cpu{port.cpu} {label} {request} was acked"
                    assert result.cycles == 1, f"cpu{port.cpu} {label}: err after {result.cycles}"
                    assert result.value == 0
                    count += 1
        assert count > 0
        after = await snapshot(ctx, soc)
        assert not diff(before, after), diff(before, after)
        # Reads of CLAIM/TRY still behave as before: nothing claimed, lock still held.
        assert await soc.ports[0].read(ctx, L.OWNER) == config.ncpu - 1

    run(config, bench, background=[watch_events])
    assert pulses == []


def test_categories_cover_the_contract_examples():
    """The generated bad-access lists hold the cases the contract names."""
    cfg = small_config()
    cpu = 1
    wro = {a for _, a, _ in bad_accesses("write_read_only", cfg, cpu)}
    rwo = {a for _, a, _ in bad_accesses("read_write_only", cfg, cpu)}
    unm = {a for _, a, _ in bad_accesses("unmapped", cfg, cpu)}
    own = {a for _, a, _ in bad_accesses("own_slot", cfg, cpu)}
    assert {mm.SYS.CPUID, L.TRY, L.OWNER} <= wro
    assert {
        L.RELEASE,
        mm.IPI_TX.addr("TX_ARG", slot=0),
        mm.IPI_RX.addr("RX_POP", slot=2),
        INTC.COMPLETE,
        mm.DEBUG.EVENT,
    } <= rwo
    assert {
        mm.IPI_TX.addr("TX_FUNC", slot=cfg.ncpu),
        mm.IPI_RX.addr("RX_FUNC", slot=cfg.ncpu),
        mm.RAM.addr("WORD", index=0) + 4 * cfg.ram_words,
        mm.INTC.addr("PRIO", index=0) + 4 * cfg.n_sources,
        mm.ROUTE.addr("ROUTE", index=0) + 4 * cfg.ext_lines,
        mm.DEBUG.base + mm.DEBUG.size,
    } <= unm
    assert {mm.IPI_TX.addr("TX_ARG", slot=cpu), mm.IPI_RX.addr("RX_POP", slot=cpu)} <= own


@pytest.mark.parametrize("config", CONFIGS, ids=CONFIG_IDS)
def test_every_mapped_register_acks_in_one_cycle(config):
    async def bench(ctx, soc):
        for port in soc.ports:
            for block, reg, slot, index, address in mapped(config, port.cpu):
                if reg.access.readable:
                    result = await port.try_read(ctx, address)
                    assert result.ok and result.cycles == 1, (port, block.name, reg.name, slot, index)
                if reg.access.writable:
                    result = await port.try_write(ctx, address, 0)
                    assert result.ok and result.cycles == 1, (port, block.name, reg.name, slot, index)

    run(config, bench)


def test_ack_and_err_last_exactly_one_cycle():
    async def bench(ctx, soc):
        port = soc.ports[1]
        bus = port.bus
        for request, expect in (
            (rd(mm.SYS.CPUID), "ack"),
            (wr(mm.SYS.CPUID, 0), "err"),
            (rd(ram(3)), "ack"),
            (rd(mm.DEBUG.EVENT), "err"),
        ):
            result = await port.access(ctx, request)
            assert result.cycles == 1
            assert ctx.get(getattr(bus, expect)) == 1
            await ctx.tick()  # the harness dropped stb: the answer is gone
            assert (ctx.get(bus.ack), ctx.get(bus.err)) == (0, 0)
            await ticks(ctx, 3)
            assert (ctx.get(bus.ack), ctx.get(bus.err)) == (0, 0)
        # Nothing ever answers on the other ports.
        for other in (soc.ports[0], soc.ports[2]):
            assert (ctx.get(other.bus.ack), ctx.get(other.bus.err)) == (0, 0)

    run(small_config(), bench)


def test_request_held_during_answer_is_seen_again_after_it():
    """A request still asserted while ack is high is not seen during that cycle."""

    async def bench(ctx, soc):
        port = soc.ports[0]
        bus = port.bus
        ctx.set(bus.adr, mm.RAM.addr("WORD", index=0) >> 2)
        ctx.set(bus.we, 1)
        ctx.set(bus.dat_w, 5)
        ctx.set(bus.cyc, 1)
        ctx.set(bus.stb, 1)
        answers = []
        for _ in range(6):
            await ctx.tick()
            answers.append(ctx.get(bus.ack))
        ctx.set(bus.stb, 0)
        ctx.set(bus.cyc, 0)
        # One ack every other cycle: the answering cycle hides the request.
        assert answers == [1, 0, 1, 0, 1, 0]

    run(small_config(), bench)


def test_errors_never_wait_for_arbitration():
    async def bench(ctx, soc):
        p0, p1, p2 = soc.ports
        # CPU0 and CPU1 contend for MPLOCK; CPU2's illegal MPLOCK write errs at once.
        results = await access_all(ctx, [(p0, rd(L.TRY)), (p1, rd(L.TRY)), (p2, wr(L.TRY, 1))])
        assert [(r.ok, r.cycles) for r in results] == [(True, 1), (True, 2), (False, 1)]
        assert [r.value for r in results[:2]] == [1, 0]
        # Same for RAM beyond its size while the others contend for the RAM.
        beyond = ram(soc.config.ram_words)
        results = await access_all(ctx, [(p0, wr(ram(0), 1)), (p1, wr(ram(1), 2)), (p2, rd(beyond))])
        assert [r.ok for r in results] == [True, True, False]
        assert sorted(r.cycles for r in results[:2]) == [1, 2] and results[2].cycles == 1
        # An illegal request does not take a grant from a legal one.
        for bad in (rd(L.RELEASE), wr(L.OWNER, 2), rd(mm.MPLOCK.base + mm.MPLOCK.size - 4)):
            results = await access_all(ctx, [(p1, rd(L.OWNER)), (p2, bad)])
            assert [(r.ok, r.cycles) for r in results] == [(True, 1), (False, 1)]
            assert results[0].value == 0
        # An illegal access keeps erring in one cycle while the arbiter is busy for many cycles.
        for _ in range(3):
            far = ram(8 * soc.config.ram_words)
            results = await access_all(ctx, [(p0, rd(ram(0))), (p1, rd(ram(0))), (p2, wr(far, 0))])
            assert results[2] == Result(False, 0, 1)
        assert await p0.read(ctx, L.OWNER) == 0
        assert await p0.read(ctx, L.ACQUIRES) == 1
        assert await p0.read(ctx, L.FAILED_TRIES) == 1

    run(small_config(), bench)


def test_harness_read_write_raise_bus_error():
    async def bench(ctx, soc):
        port = soc.ports[2]
        with pytest.raises(BusError) as info:
            await port.write(ctx, mm.SYS.CPUID, 1)
        assert (info.value.cpu, info.value.address, info.value.write) == (2, mm.SYS.CPUID, True)
        with pytest.raises(BusError) as info:
            await port.read(ctx, mm.IPI_RX.addr("RX_FUNC", slot=2))
        assert (info.value.cpu, info.value.write) == (2, False)
        assert await port.read(ctx, mm.SYS.CPUID) == 2  # the port still works

    run(small_config(), bench)
