"""Register corner cases the kernel's scenarios never make, for any configuration (run on Icarus and
Verilator, and on the RTL coverage build: sim/coverage/rtl.py).

- every IPI FIFO filled, overflowed (WOF, the entry dropped), drained in order, popped empty (ROE), and
  both sticky flags cleared; a CPU's own IPI slot errs;
- every external line routed to every CPU in turn (and to no CPU): a device request reaches exactly
  that CPU's INTC, is claimed, overruns (OVERRUN, DATA kept), and is acknowledged with OVERRUN
  cleared; POSTED and SERVICED count it all;
- the soft source raised, claimed, lowered and completed on every CPU;
- a one-shot timer fires once and disarms; a COMPARE write in a cycle where a periodic timer fires
  re-arms it, and that cycle's advance is dropped;
- the MP lock's error paths: RELEASE by a non-owner (ERR.NONOWNER, write-1-to-clear), a TRY by the
  owner, a failed TRY, BUST.

Each test brings the SoC up through :class:`sim.tb.testbench.SocBench` (a reset) and reads the
configuration from the hardware, so one module fits every build.
"""

import cocotb
from cocotb.triggers import FallingEdge

from hdl import memory_map as mm
from sim.tb.bus import BusError
from sim.tb.testbench import SocBench

TX_STATUS = mm.IPI_TX.register("TX_STATUS")
FULL, EMPTY, WOF = (TX_STATUS.field(name).mask for name in ("FULL", "EMPTY", "WOF"))
LEVEL_LSB = TX_STATUS.field("LEVEL").lsb
RX_STATUS = mm.IPI_RX.register("RX_STATUS")
VALID, ROE = (RX_STATUS.field(name).mask for name in ("VALID", "ROE"))
DEV_STATUS = mm.DEVICE.register("STATUS")
REQUEST, OVERRUN = (DEV_STATUS.field(name).mask for name in ("REQUEST", "OVERRUN"))
CTRL = mm.TIMER.register("CTRL")
ENABLE, ARMED, PENDING = (CTRL.field(name).mask for name in ("ENABLE", "ARMED", "PENDING"))
NONOWNER = mm.MPLOCK.register("ERR").field("NONOWNER").mask


@cocotb.test()
async def every_fifo_overflows_drains_and_underflows(dut):
    bench = await SocBench(dut).start()
    n, depth = bench.ncpu, bench.fifo_depth
    fifos = [(s, d) for s in range(n) for d in range(n) if s != d]
    for s, d in fifos:
        tx, rx = bench.masters[s], bench.masters[d]

        def tx_reg(name, d=d):
            return mm.IPI_TX.addr(name, slot=d)

        def rx_reg(name, s=s):
            return mm.IPI_RX.addr(name, slot=s)

        await tx.write(tx_reg("TX_FUNC"), (s << 8) | d)
        for k in range(depth):
            await tx.write(tx_reg("TX_ARG"), 0x100 + k)
        assert await tx.read(tx_reg("TX_STATUS")) == FULL | depth << LEVEL_LSB, f"FIFO[{s}][{d}] not full"
        await tx.write(tx_reg("TX_ARG"), 0xDEAD)  # full: dropped, WOF set
        assert await tx.read(tx_reg("TX_STATUS")) == FULL | WOF | depth << LEVEL_LSB
        assert await tx.read(tx_reg("TX_WINDEX")) == (mm.IPI_INDEX_RESET + depth) & 0xFFFF_FFFF
        assert await rx.read(mm.IPI_PENDING.RX_PENDING) == 1 << s
        for k in range(depth):
            assert await rx.read(rx_reg("RX_FUNC")) == (s << 8) | d
            assert await rx.read(rx_reg("RX_ARG")) == 0x100 + k, f"FIFO[{s}][{d}] entry {k}"
            await rx.write(rx_reg("RX_POP"), 0)
        assert await rx.read(rx_reg("RX_STATUS")) == 0 and await rx.read(rx_reg("RX_LEVEL")) == 0
        assert await rx.read(rx_reg("RX_ARG")) == 0 and await rx.read(rx_reg("RX_FUNC")) == 0
        await rx.write(rx_reg("RX_POP"), 0)  # empty: ignored, ROE set
        assert await rx.read(rx_reg("RX_STATUS")) == ROE
        assert await tx.read(tx_reg("TX_RINDEX")) == (mm.IPI_INDEX_RESET + depth) & 0xFFFF_FFFF
        await rx.write(rx_reg("RX_STATUS"), 0)  # write 1 to clear: a 0 keeps it
        assert await rx.read(rx_reg("RX_STATUS")) == ROE
        await rx.write(rx_reg("RX_STATUS"), ROE)
        assert await rx.read(rx_reg("RX_STATUS")) == 0
        await tx.write(tx_reg("TX_STATUS"), WOF)
        assert await tx.read(tx_reg("TX_STATUS")) == EMPTY
        assert await rx.read(mm.IPI_PENDING.RX_PENDING) == 0
    # A CPU's own slot is a bus error on both sides (also on one CPU, where every slot is).
    for m in bench.masters:
        for address in (mm.IPI_TX.addr("TX_STATUS", slot=m.cpu), mm.IPI_RX.addr("RX_STATUS", slot=m.cpu)):
            for write in (False, True):
                try:
                    await (m.write(address, WOF | ROE) if write else m.read(address))
                except BusError as exc:
                    assert exc.cpu == m.cpu and exc.address == address
                else:
                    raise AssertionError(
                        f"CPU {m.cpu}: {'write' if write else 'read'} of its own slot "
                        f"{mm.describe(address)} did not err"
                    )
    dut._log.info("IPI: %d FIFOs of depth %d overflowed, drained and underflowed", len(fifos), depth)


async def _external_lines(bench) -> int:
    """External lines, found as boot code would: the first DEVICE.STATUS index that errs."""
    lines = 0
    while lines < 32 - mm.SOURCE_EXT0:
        try:
            await bench.masters[0].read(mm.DEVICE.addr("STATUS", index=lines))
        except BusError:
            break
        lines += 1
    return lines


async def _post(dut, line: int, data: int) -> None:
    """A device request on ``line``: a one-cycle strobe from a falling edge to the next."""
    dut.dev_data.value = data
    dut.dev_post.value = 1 << line
    await FallingEdge(dut.clk)
    dut.dev_post.value = 0


@cocotb.test()
async def every_line_reaches_the_cpu_it_is_routed_to(dut):
    bench = await SocBench(dut).start()
    n, m0 = bench.ncpu, bench.masters[0]
    lines = await _external_lines(bench)
    for line in range(lines):
        source = mm.SOURCE_EXT0 + line

        def dev(name, line=line):
            return mm.DEVICE.addr(name, index=line)

        for cpu in list(range(n)) + [n]:  # ROUTE = NCPU: routed nowhere
            await m0.write(mm.ROUTE.addr("ROUTE", index=line), cpu)
            assert await m0.read(mm.ROUTE.addr("ROUTE", index=line)) == cpu
            target = bench.masters[cpu] if cpu < n else None
            if target:
                await target.write(mm.INTC.addr("PRIO", index=source), 1)
                await target.write(mm.INTC.ENABLE, 1 << source)
            data = 0xD000_0000 | cpu << 8 | line
            await _post(dut, line, data)
            assert await m0.read(dev("STATUS")) == REQUEST and await m0.read(dev("DATA")) == data
            for other in bench.masters:
                pending = await other.read(mm.INTC.PENDING) >> source & 1
                assert pending == (other is target), f"line {line} routed to {cpu} pends on CPU {other.cpu}"
            if target:
                assert target.irq_high()
                assert await target.read(mm.INTC.CLAIM) == source
                assert await target.read(mm.INTC.INSERVICE) == 1 << source
            await _post(dut, line, data ^ 0xFFFF_FFFF)  # pending: overruns, DATA kept
            assert await m0.read(dev("STATUS")) == REQUEST | OVERRUN and await m0.read(dev("DATA")) == data
            await m0.write(dev("ACK"), REQUEST | OVERRUN)
            assert await m0.read(dev("STATUS")) == 0
            if target:
                assert not target.irq_high()
                await target.write(mm.INTC.COMPLETE, source)
                assert await target.read(mm.INTC.INSERVICE) == 0
                assert await target.read(mm.INTC.CLAIM) == mm.CLAIM_NONE
                await target.write(mm.INTC.ENABLE, 0)
        assert await m0.read(dev("POSTED")) == 2 * (n + 1)
        assert await m0.read(dev("SERVICED")) == n + 1
    dut._log.info("DEVICE/ROUTE/INTC: %d line(s) routed to each of %d CPUs and to none", lines, n)


@cocotb.test()
async def soft_source_claim_and_clear(dut):
    bench = await SocBench(dut).start()
    soft = 1 << mm.SOURCE_SOFT
    for m in bench.masters:
        await m.write(mm.INTC.addr("PRIO", index=mm.SOURCE_SOFT), 2)
        await m.write(mm.INTC.ENABLE, soft)
        await m.write(mm.INTC.SOFT_SET, 0)
        assert await m.read(mm.INTC.PENDING) & soft and m.irq_high()
        assert await m.read(mm.INTC.CLAIM) == mm.SOURCE_SOFT and not m.irq_high()
        await m.write(mm.INTC.SOFT_CLR, 0)
        assert not await m.read(mm.INTC.PENDING) & soft
        await m.write(mm.INTC.COMPLETE, mm.SOURCE_IPI)  # not in service: ignored
        assert await m.read(mm.INTC.INSERVICE) == soft
        await m.write(mm.INTC.COMPLETE, mm.SOURCE_SOFT)
        assert await m.read(mm.INTC.INSERVICE) == 0 and await m.read(mm.INTC.CLAIM) == mm.CLAIM_NONE
        await m.write(mm.INTC.ENABLE, 0)
    dut._log.info("INTC: the soft source raised, claimed and lowered on %d CPU(s)", bench.ncpu)


@cocotb.test()
async def one_shot_timer_fires_once(dut):
    bench = await SocBench(dut).start()
    for m in bench.masters:
        await m.write(mm.TIMER.PERIOD, 0)
        await m.write(mm.TIMER.COMPARE_HI, 0)
        await m.write(mm.TIMER.COMPARE_LO, 0)  # already due
        await m.write(mm.TIMER.CTRL, ENABLE)
        assert await m.read(mm.TIMER.CTRL) == ENABLE | PENDING, "a one-shot firing disarms"
        assert await m.read(mm.TIMER.COMPARE_LO) == 0, "a one-shot firing leaves COMPARE"
        await m.write(mm.TIMER.ACK, 0)
        for _ in range(3):
            assert await m.read(mm.TIMER.CTRL) == ENABLE, "a disarmed timer fired again"
        await m.write(mm.TIMER.CTRL, 0)
    dut._log.info("TIMER: one-shot firing on %d CPU(s)", bench.ncpu)


@cocotb.test()
async def timer_compare_write_in_a_firing_cycle_rearms(dut):
    bench = await SocBench(dut).start()
    far = 0x7000_0000
    for m in bench.masters:
        await m.write(mm.TIMER.PERIOD, 1)
        await m.write(mm.TIMER.COMPARE_HI, 0)
        await m.write(mm.TIMER.COMPARE_LO, 0)
        await m.write(mm.TIMER.CTRL, ENABLE)
        # COMPARE is behind the cycle counter and advances by 1 a cycle: the timer fires every cycle.
        first = await m.read(mm.TIMER.COMPARE_LO)
        assert await m.read(mm.TIMER.COMPARE_LO) > first
        assert await m.read(mm.TIMER.CTRL) == ENABLE | ARMED | PENDING
        # This write lands in a firing cycle: it re-arms, and that cycle's advance must not overwrite it.
        await m.write(mm.TIMER.COMPARE_HI, far)
        assert await m.read(mm.TIMER.COMPARE_HI) == far
        low = await m.read(mm.TIMER.COMPARE_LO)
        assert await m.read(mm.TIMER.COMPARE_LO) == low, "the timer still fires after COMPARE moved away"
        await m.write(mm.TIMER.ACK, 0)
        assert await m.read(mm.TIMER.CTRL) == ENABLE | ARMED
        await m.write(mm.TIMER.CTRL, 0)
    dut._log.info("TIMER: a COMPARE write in a firing cycle re-arms on %d CPU(s)", bench.ncpu)


@cocotb.test()
async def mplock_error_paths(dut):
    bench = await SocBench(dut).start()
    m0, last = bench.masters[0], bench.masters[-1]
    await m0.write(mm.MPLOCK.RELEASE, 0)  # free: CPU 0 is not the owner
    assert await m0.read(mm.MPLOCK.ERR) == NONOWNER
    await m0.write(mm.MPLOCK.ERR, 0)  # write 1 to clear: a 0 keeps it
    assert await m0.read(mm.MPLOCK.ERR) == NONOWNER
    await m0.write(mm.MPLOCK.ERR, NONOWNER)
    assert await m0.read(mm.MPLOCK.ERR) == 0
    assert await m0.read(mm.MPLOCK.TRY) == 1 and await m0.read(mm.MPLOCK.TRY) == 1  # the owner again
    assert await m0.read(mm.MPLOCK.ACQUIRES) == 1 and await m0.read(mm.MPLOCK.FAILED_TRIES) == 0
    if bench.ncpu > 1:
        assert await last.read(mm.MPLOCK.TRY) == 0
        assert await m0.read(mm.MPLOCK.FAILED_TRIES) == 1
        await last.write(mm.MPLOCK.RELEASE, 0)
        assert await m0.read(mm.MPLOCK.OWNER) == 0 and await last.read(mm.MPLOCK.ERR) == NONOWNER
        await last.write(mm.MPLOCK.ERR, NONOWNER)
    await last.write(mm.MPLOCK.BUST, 0)
    assert await m0.read(mm.MPLOCK.OWNER) == mm.OWNER_FREE and await m0.read(mm.MPLOCK.ERR) == 0
    dut._log.info("MPLOCK: error paths on %d CPU(s)", bench.ncpu)
