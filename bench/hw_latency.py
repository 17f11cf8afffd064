"""cocotb program of ``make bench``: latencies of the hardware itself, in clock cycles.

Measured on the real RTL through the core ports (``sim.tb.bus.BusMaster``):

- ``register_read`` / ``register_write``: one uncontended access, from the cycle
  the request is driven to the cycle its answer is seen;
- ``back_to_back_read``: cycles per access over a run of reads from one core (the
  port does not take a request in the cycle it answers, so 2);
- ``ram_read_all_cpus``: every core reads shared RAM in the same cycle; the
  longest access shows the round-robin arbiter's wait (the CPU count);
- ``tx_arg_to_irq``: from a TX_ARG write being answered to the receiver's ``irq``
  line being high.

Writes ``hw_latency.json`` into its run folder (run.json's ``out``).
"""

import json
from pathlib import Path

import cocotb
from cocotb.triggers import Combine, FallingEdge, RisingEdge

from hdl import memory_map as mm
from sim.contract.config import RunConfig
from sim.tb.cycles import CLOCK_PERIOD_NS, now_ns
from sim.tb.testbench import SocBench

RUN = 100


def cycle() -> int:
    return now_ns() // CLOCK_PERIOD_NS


@cocotb.test()
async def hardware_latency(dut):
    bench = await SocBench(dut).start()
    m0 = bench.masters[0]
    result = {"cpus": bench.ncpu}

    await m0.read(mm.SYS.CPUID)
    await FallingEdge(dut.clk)  # leave a gap: the next access is uncontended
    await m0.read(mm.SYS.CPUID)
    result["register_read"] = m0.last_cycles
    await FallingEdge(dut.clk)
    await m0.write(mm.DEBUG.EVENT, 1)
    result["register_write"] = m0.last_cycles

    start = cycle()
    for _ in range(RUN):
        await m0.read(mm.SYS.CPUID)
    result["back_to_back_read"] = (cycle() - start) / RUN

    await FallingEdge(dut.clk)
    word = mm.RAM.addr("WORD", index=0)
    masters = bench.masters
    await Combine(*(cocotb.start_soon(m.read(word)) for m in masters))
    result["ram_read_all_cpus"] = max(m.last_cycles for m in masters)

    if bench.ncpu > 1:
        m1 = masters[1]
        await m1.write(mm.INTC.addr("PRIO", index=mm.SOURCE_IPI), 1)
        await m1.write(mm.INTC.ENABLE, 1 << mm.SOURCE_IPI)
        await m0.write(mm.IPI_TX.addr("TX_FUNC", slot=1), 0x42)
        raised = []

        async def watch():
            await RisingEdge(m1.irq)
            raised.append(cycle())

        watcher = cocotb.start_soon(watch())
        await m0.write(mm.IPI_TX.addr("TX_ARG", slot=1), 7)
        answered = cycle()
        await watcher
        result["tx_arg_to_irq"] = raised[0] - answered

    out = Path(RunConfig.from_environment().out)
    (out / "hw_latency.json").write_text(json.dumps(result, indent=2) + "\n")
