"""cocotb tests of the integrated SoC, run on Icarus and Verilator for several CPU counts.

Each test brings the SoC up through :class:`sim.tb.testbench.SocBench` and talks to
it only through the core ports.
"""

import random

import cocotb
from cocotb.triggers import FallingEdge, RisingEdge, with_timeout
from cocotb.utils import get_sim_time

from hdl import memory_map as mm
from sim.tb.bus import BusError
from sim.tb.testbench import SocBench, CLOCK_PERIOD_NS

TX_STATUS = mm.IPI_TX.register("TX_STATUS")
FULL = TX_STATUS.field("FULL").mask
WOF = TX_STATUS.field("WOF").mask
RX_ROE = mm.IPI_RX.register("RX_STATUS").field("ROE").mask


@cocotb.test()
async def each_cpu_reads_its_own_cpuid(dut):
    bench = await SocBench(dut).start()
    for cpu, master in enumerate(bench.masters):
        assert await master.read(mm.SYS.CPUID) == cpu
        assert await master.read(mm.SYS.NCPU) == bench.ncpu
        assert await master.read(mm.SYS.ID) == mm.SOC_ID
    # All CPUs at once, in the same cycles.
    ids = await _all(bench, lambda m: m.read(mm.SYS.CPUID))
    assert ids == list(range(bench.ncpu))


async def _all(bench, access):
    tasks = [cocotb.start_soon(access(m)) for m in bench.masters]
    return [await t for t in tasks]


@cocotb.test()
async def mplock_mutual_exclusion(dut):
    """Every CPU hammers TRY/RELEASE; a checker sees one owner at a time through OWNER."""
    bench = await SocBench(dut).start()
    rounds = 6
    holder = []  # CPUs inside the locked region right now
    acquired = [0] * bench.ncpu
    rng = random.Random(1)

    async def contender(master):
        while acquired[master.cpu] < rounds:
            if await master.read(mm.MPLOCK.TRY) != 1:
                continue
            holder.append(master.cpu)
            assert len(holder) == 1, f"CPUs {holder} hold the MP lock at once"
            acquired[master.cpu] += 1
            for _ in range(rng.randrange(1, 3)):
                owner = await master.read(mm.MPLOCK.OWNER)
                assert owner == master.cpu, f"CPU {master.cpu} holds the lock but OWNER reads {owner}"
            holder.remove(master.cpu)
            await master.write(mm.MPLOCK.RELEASE, 0)

    await _all(bench, contender)
    m0 = bench.masters[0]
    assert await m0.read(mm.MPLOCK.OWNER) == mm.OWNER_FREE
    assert await m0.read(mm.MPLOCK.ERR) == 0
    assert await m0.read(mm.MPLOCK.ACQUIRES) == rounds * bench.ncpu
    failed = await m0.read(mm.MPLOCK.FAILED_TRIES)
    dut._log.info("MP lock: %d acquisitions, %d failed tries over %d CPUs", rounds * bench.ncpu, failed, bench.ncpu)
    if bench.ncpu > 1:
        assert failed > 0, "with several CPUs hammering, some TRY must have failed"


@cocotb.test()
async def all_to_all_ipi_exactly_once_in_order(dut):
    """Every CPU sends to every other; each message arrives once, in order per pair."""
    bench = await SocBench(dut).start()
    n = bench.ncpu
    per_pair = 6 if n <= 4 else 3
    received = {(s, d): [] for s in range(n) for d in range(n) if s != d}
    total = len(received) * per_pair

    async def node(master):
        me = master.cpu
        to_send = [(d, k) for k in range(per_pair) for d in range(n) if d != me]
        while to_send or sum(map(len, received.values())) < total:
            if to_send:
                d, k = to_send[0]
                status = await master.read(mm.IPI_TX.addr("TX_STATUS", slot=d))
                if not status & FULL:
                    await master.write(mm.IPI_TX.addr("TX_FUNC", slot=d), (me << 8) | d)
                    await master.write(mm.IPI_TX.addr("TX_ARG", slot=d), k)
                    to_send.pop(0)
            pending = await master.read(mm.IPI_PENDING.RX_PENDING)
            for s in range(n):
                if pending >> s & 1:
                    func = await master.read(mm.IPI_RX.addr("RX_FUNC", slot=s))
                    arg = await master.read(mm.IPI_RX.addr("RX_ARG", slot=s))
                    await master.write(mm.IPI_RX.addr("RX_POP", slot=s), 0)
                    assert func == (s << 8) | me, f"CPU {me} got func {func:#x} from FIFO[{s}][{me}]"
                    received[(s, me)].append(arg)
            if not to_send and not pending:
                await FallingEdge(dut.clk)

    await with_timeout(_all(bench, node), 2_000_000, "ns")
    for (s, d), args in received.items():
        assert args == list(range(per_pair)), f"FIFO[{s}][{d}] delivered {args}"
    for master in bench.masters:
        for other in range(n):
            if other == master.cpu:
                continue
            assert not await master.read(mm.IPI_TX.addr("TX_STATUS", slot=other)) & WOF
            assert not await master.read(mm.IPI_RX.addr("RX_STATUS", slot=other)) & RX_ROE
            windex = await master.read(mm.IPI_TX.addr("TX_WINDEX", slot=other))
            rindex = await master.read(mm.IPI_TX.addr("TX_RINDEX", slot=other))
            assert windex == rindex == (mm.IPI_INDEX_RESET + per_pair) & 0xFFFF_FFFF
        assert await master.read(mm.IPI_PENDING.RX_PENDING) == 0
    dut._log.info("IPI: %d messages over %d FIFOs delivered exactly once and in order", total, len(received))


@cocotb.test()
async def ipi_latency_tx_arg_to_irq(dut):
    """Cycles from the edge that takes a TX_ARG write to the edge that samples the receiver's irq high."""
    bench = await SocBench(dut).start()
    if bench.ncpu < 2:
        dut._log.info("one CPU: no IPI FIFO to measure")
        return
    period = CLOCK_PERIOD_NS
    worst = 0
    pairs = [(0, 1), (1, 0), (bench.ncpu - 1, 0), (0, bench.ncpu - 1)]
    for s, d in pairs:
        sender, receiver = bench.masters[s], bench.masters[d]
        await receiver.write(mm.INTC.addr("PRIO", index=mm.SOURCE_IPI), 1)
        await receiver.write(mm.INTC.ENABLE, 1 << mm.SOURCE_IPI)
        assert not receiver.irq.value
        rise = cocotb.start_soon(RisingEdge(receiver.irq))
        await sender.write(mm.IPI_TX.addr("TX_FUNC", slot=d), 7)
        # The request is driven now, at a falling edge: the next rising edge takes it.
        accepted = get_sim_time("ns") + period / 2
        await sender.write(mm.IPI_TX.addr("TX_ARG", slot=d), 9)
        await with_timeout(rise, 10 * period, "ns")
        risen = get_sim_time("ns")
        latency = int((risen - accepted) // period) + 1
        dut._log.info("TX_ARG write on CPU %d -> irq of CPU %d: %d cycle(s)", s, d, latency)
        worst = max(worst, latency)
        assert await receiver.read(mm.IPI_RX.addr("RX_ARG", slot=s)) == 9
        await receiver.write(mm.IPI_RX.addr("RX_POP", slot=s), 0)
        await FallingEdge(dut.clk)
        assert not receiver.irq.value, "irq must drop once the FIFO is empty"
    print(f"IPI latency TX_ARG write -> receiver irq: {worst} cycle(s) (limit 2)")
    assert worst <= 2


@cocotb.test()
async def uncontended_access_latency(dut):
    """Every kind of register answers an uncontended access within 2 cycles."""
    bench = await SocBench(dut).start()
    m = bench.masters[bench.ncpu - 1]
    other = 0 if bench.ncpu > 1 else None
    probes = [
        ("read", mm.SYS.CPUID),
        ("read", mm.SYS.CYCLE_LO),
        ("read", mm.MPLOCK.OWNER),
        ("write", mm.DEBUG.CURTHREAD),
        ("read", mm.INTC.PENDING),
        ("read", mm.TIMER.CTRL),
        ("write", mm.RAM.addr("WORD", index=3)),
        ("read", mm.RAM.addr("WORD", index=3)),
        ("read", mm.IPI_PENDING.RX_PENDING),
    ]
    if other is not None:
        probes.append(("read", mm.IPI_TX.addr("TX_STATUS", slot=other)))
        probes.append(("read", mm.IPI_RX.addr("RX_LEVEL", slot=other)))
    worst = 0
    for kind, address in probes:
        if kind == "read":
            await m.read(address)
        else:
            await m.write(address, 0x1234)
        dut._log.info("%s %s: %d cycle(s)", kind, mm.describe(address), m.last_cycles)
        worst = max(worst, m.last_cycles)
    # An error answers as fast, and changes nothing.
    try:
        await m.write(mm.SYS.CPUID, 5)
    except BusError as exc:
        assert "sys.CPUID" in str(exc) and f"CPU {m.cpu}" in str(exc)
    else:
        raise AssertionError("write to read-only SYS.CPUID was not an error")
    worst = max(worst, m.last_cycles)
    assert await m.read(mm.SYS.CPUID) == m.cpu
    print(f"uncontended register access: at most {worst} cycle(s) (limit 2)")
    assert worst <= 2


@cocotb.test()
async def bus_errors_name_cpu_and_address(dut):
    bench = await SocBench(dut).start()
    m = bench.masters[0]
    bad = [
        ("read", 0x0000_8000),
        ("read", mm.MPLOCK.RELEASE),
        ("write", mm.MPLOCK.TRY),
        ("write", mm.IPI_TX.addr("TX_ARG", slot=0)),
        ("read", mm.RAM.base + 4 * (1 << 20) + 4 * 1024 * 1024),
    ]
    for kind, address in bad:
        try:
            if kind == "read":
                await m.read(address)
            else:
                await m.write(address, 1)
        except BusError as exc:
            assert exc.cpu == 0 and exc.address == address
            assert f"{address:#010x}" in str(exc)
        else:
            raise AssertionError(f"{kind} of {address:#x} did not raise BusError")
    try:
        await m.read(mm.SYS.NCPU + 1)
    except BusError as exc:
        assert "misaligned" in str(exc)
    else:
        raise AssertionError("misaligned read did not raise")
    assert await m.read(mm.MPLOCK.OWNER) == mm.OWNER_FREE
