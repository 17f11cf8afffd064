"""cocotb tests of the uniprocessor LWKT kernel (seed v1.12) on a 1-CPU SoC."""
import cocotb

from firmware.system import System
from firmware.thread import TDPRI_KERN_DAEMON, TDPRI_KERN_USER, WaitQueue
from sim.testbench import SocBench


async def _system(dut, **kwargs) -> System:
    bench = await SocBench(dut).start()
    return System(bench, mode="up", **kwargs)


@cocotb.test()
async def strict_priority_and_round_robin(dut):
    system = await _system(dut)
    order = []

    async def worker(td, arg):
        k = td.k
        for i in range(3):
            order.append((td.td_comm, i))
            await k.cpu.work(10)
            await k.lwkt_yield()

    async def start(k):
        await k.lwkt_create(worker, None, comm="lo", pri=TDPRI_KERN_USER)
        await k.lwkt_create(worker, None, comm="hiA", pri=TDPRI_KERN_DAEMON)
        await k.lwkt_create(worker, None, comm="hiB", pri=TDPRI_KERN_DAEMON)

    async def finisher(td, arg):
        system.finish()

    async def start_all(k):
        await start(k)
        await k.lwkt_create(finisher, None, comm="end", pri=1)

    system.start({0: start_all})
    outcome = await system.run(100_000)
    dut._log.info("order %s", order)
    assert outcome == "done", system.panic
    assert order == [("hiA", 0), ("hiB", 0), ("hiA", 1), ("hiB", 1), ("hiA", 2), ("hiB", 2),
                     ("lo", 0), ("lo", 1), ("lo", 2)]
    dut._log.info("counters %s", system.counters()["total"])
