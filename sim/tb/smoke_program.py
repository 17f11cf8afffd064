"""The bring-up program of ``lwkt-soc smoke``: every block exercised from every core.

Runs inside the simulator under cocotb; writes ``smoke.json`` into its run folder
(``out`` of its run.json).
"""

import json
from pathlib import Path

import cocotb
from cocotb.triggers import RisingEdge

from hdl import memory_map as mm
from sim.contract.config import RunConfig
from sim.tb.testbench import SocBench

COUNTER = mm.RAM.addr("WORD", index=0)
TIMER_PERIOD = 64
TIMER_TICKS = 3


async def _core(bench, master, log):
    me, n = master.cpu, bench.ncpu
    record = {"cpu": await master.read(mm.SYS.CPUID)}
    await master.write(mm.DEBUG.CURTHREAD, 0x100 + me)
    await master.write(mm.DEBUG.EVENT, 1)

    # MP lock: a read-modify-write of a shared RAM word under the lock.
    tries = 0
    while await master.read(mm.MPLOCK.TRY) != 1:
        tries += 1
    assert await master.read(mm.MPLOCK.OWNER) == me
    await master.write(COUNTER, await master.read(COUNTER) + 1)
    await master.write(mm.MPLOCK.RELEASE, 0)
    record["mplock_failed_tries"] = tries

    # IPI ring: send to the next CPU, take the interrupt from the previous one.
    for source, prio in ((mm.SOURCE_IPI, 2), (mm.SOURCE_TIMER, 1)):
        await master.write(mm.INTC.addr("PRIO", index=source), prio)
    await master.write(mm.INTC.ENABLE, (1 << mm.SOURCE_IPI) | (1 << mm.SOURCE_TIMER))
    if n > 1:
        nxt, prev = (me + 1) % n, (me - 1) % n
        await master.write(mm.IPI_TX.addr("TX_FUNC", slot=nxt), 0x51)
        await master.write(mm.IPI_TX.addr("TX_ARG", slot=nxt), me)
        if not master.irq_high():
            await RisingEdge(master.irq)
        assert await master.read(mm.INTC.CLAIM) == mm.SOURCE_IPI
        assert await master.read(mm.IPI_PENDING.RX_PENDING) == 1 << prev
        record["ipi_from"] = await master.read(mm.IPI_RX.addr("RX_ARG", slot=prev))
        assert record["ipi_from"] == prev
        await master.write(mm.IPI_RX.addr("RX_POP", slot=prev), 0)
        await master.write(mm.INTC.COMPLETE, mm.SOURCE_IPI)

    # Timer: a periodic hardclock, each tick claimed, acknowledged and completed.
    now = await master.read(mm.SYS.CYCLE_LO)
    await master.write(mm.TIMER.PERIOD, TIMER_PERIOD)
    await master.write(mm.TIMER.COMPARE_HI, await master.read(mm.SYS.CYCLE_HI))
    await master.write(mm.TIMER.COMPARE_LO, now + TIMER_PERIOD)
    await master.write(mm.TIMER.CTRL, 1)
    ticks = []
    while len(ticks) < TIMER_TICKS:
        if not master.irq_high():
            await RisingEdge(master.irq)
        assert await master.read(mm.INTC.CLAIM) == mm.SOURCE_TIMER
        ticks.append(await master.read(mm.SYS.CYCLE_LO))
        await master.write(mm.TIMER.ACK, 0)
        await master.write(mm.INTC.COMPLETE, mm.SOURCE_TIMER)
    await master.write(mm.TIMER.CTRL, 0)
    record["timer_ticks_at"] = ticks
    await master.write(mm.DEBUG.EVENT, 2)
    log.info("CPU %d done: %s", me, record)
    return record


@cocotb.test()
async def smoke(dut):
    bench = await SocBench(dut).start()
    tasks = [cocotb.start_soon(_core(bench, m, dut._log)) for m in bench.masters]
    records = [await t for t in tasks]
    m0 = bench.masters[0]
    summary = {
        "ncpu": bench.ncpu,
        "cycles": await m0.read(mm.SYS.CYCLE_LO),
        "ram_counter": await m0.read(COUNTER),
        "mplock_acquires": await m0.read(mm.MPLOCK.ACQUIRES),
        "bus_transactions": sum(m.transactions for m in bench.masters),
        "cpus": records,
    }
    out = Path(RunConfig.from_environment().out)
    (out / "smoke.json").write_text(json.dumps(summary, indent=2) + "\n")
    assert summary["ram_counter"] == bench.ncpu, "the MP lock did not serialise the RAM updates"
    assert summary["mplock_acquires"] == bench.ncpu
