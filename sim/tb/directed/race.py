"""cocotb tests of the shared-RAM race detector (sim/tb/race.py) on the RTL, 2 CPUs.

No kernel: the two cores' ports are driven straight from cocotb coroutines, so
the tests depend only on the bus driver, the layout and the detector. The ack of
each access is also watched on the port itself, independently of the driver,
to check the cycle the detector reports.
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import FallingEdge

from firmware.ram_layout import TOKEN_FIELDS, Guard, RamLayout
from hdl import memory_map as mm
from sim.tb.bus import BusError
from sim.tb.cycles import CLOCK_PERIOD_NS, now_ns
from sim.tb.race import RaceDetector, describe
from sim.tb.testbench import SocBench

#: The default SocConfig's RAM.
RAM_WORDS = 4096


class AckWatch:
    """Cycles in which a core's port acknowledged a write to one address, seen on the port signals."""

    def __init__(self, dut, ncpu: int, address: int):
        self.dut, self.ncpu, self.word = dut, ncpu, address >> 2
        self.writes: list[tuple[int, int]] = []  # (cycle, cpu)
        self.running = True

    async def run(self) -> None:
        falling = FallingEdge(self.dut.clk)
        ports = [
            {name: getattr(self.dut, f"cpu{cpu}__{name}") for name in ("ack", "we", "adr")} for cpu in range(self.ncpu)
        ]
        while self.running:
            await falling
            for cpu, port in enumerate(ports):
                # adr and we stay driven through the answer's cycle (the driver only drops cyc/stb).
                if int(port["ack"].value) and int(port["we"].value) and int(port["adr"].value) == self.word:
                    self.writes.append((now_ns() // CLOCK_PERIOD_NS, cpu))


async def bench_with_zeroed(dut, words: list[int]) -> SocBench:
    """A reset SoC with ``words`` of RAM zeroed (a reset keeps the previous test's RAM)."""
    bench = await SocBench(dut).start()
    for word in words:
        await bench.masters[0].write(RamLayout.address(word), 0)
    return bench


@cocotb.test()
async def token_race_is_reported_at_its_access(dut):
    """CPU 0 hands a token to CPU 1, which updates the word the token guards (no race); then
    CPU 0 writes the word without the token: exactly that write is reported, with the cycle of
    its ack, its CPU and its address."""
    layout = RamLayout(ncpu=2, ram_words=RAM_WORDS)
    tok = layout.new_token("tok")
    data = layout.new_data("counter", 1, Guard("token", tok))
    t_cpu, t_reqcpu = (RamLayout.address(tok + TOKEN_FIELDS[f]) for f in ("t_cpu", "t_reqcpu"))
    data_addr = RamLayout.address(data)
    bench = await bench_with_zeroed(dut, [tok, tok + 1, tok + 2, data])
    assert bench.ncpu == 2
    seen = []
    detector = RaceDetector(layout, mplock_owner=bench.mplock_owner, on_race=seen.append).attach(bench.masters)
    watch = AckWatch(dut, bench.ncpu, data_addr)
    watcher = cocotb.start_soon(watch.run())
    m0, m1 = bench.masters
    updated = []

    async def cpu1():
        await m1.write(t_reqcpu, 1)  # ask for the token
        while await m1.read(t_cpu) != 1:  # wait until CPU 0 gave it
            pass
        value = await m1.read(data_addr)
        await m1.write(data_addr, value + 1)
        updated.append(True)

    async def cpu0():
        while await m0.read(t_reqcpu) != 1:
            pass
        await m0.write(t_cpu, 1)  # lwkt_gettoken_remote: hand it over
        while not updated:
            await m0.read(mm.SYS.CPUID)  # (not shared RAM: not seen by the detector)
        await m0.write(data_addr, 41)  # the planted race: CPU 1 owns the token

    first, second = cocotb.start_soon(cpu1()), cocotb.start_soon(cpu0())
    await first
    await second
    await FallingEdge(dut.clk)
    watch.running = False
    await watcher

    assert [cpu for _, cpu in watch.writes] == [1, 0], watch.writes
    race_cycle = watch.writes[1][0]
    assert seen == detector.races and len(seen) == 1, [describe(r) for r in seen]
    race = seen[0]
    assert (race["cycle"], race["cpu"], race["address"], race["word"]) == (race_cycle, 0, data_addr, data)
    assert (race["region"], race["access"], race["holder"]) == ("counter", "write", "cpu 1")
    assert race["guard"] == f"token at word {tok}"
    message = describe(race)
    for text in (f"cycle {race_cycle}", "cpu 0", f"{data_addr:#010x}", "counter"):
        assert text in message, message
    # CPU 1's read and write of the counter and CPU 0's write were checked; token words are free.
    assert detector.checked == 3
    dut._log.info(message)
    detector.detach(bench.masters)


@cocotb.test()
async def monitor_sees_acknowledged_ram_accesses_only(dut):
    """The bus driver's monitor: every RAM access answered with ack, with the value written or
    read and the cycle of the ack; nothing for other blocks, bus errors, or after removal."""
    bench = await bench_with_zeroed(dut, [7])
    m0, m1 = bench.masters
    log = []

    def monitor(cycle, cpu, address, write, value):
        log.append((cycle, cpu, address, write, value))

    m0.add_monitor(monitor)
    m1.add_monitor(monitor)
    word7 = RamLayout.address(7)
    await m1.write(word7, 0x1234_5678)
    write_cycle = now_ns() // CLOCK_PERIOD_NS
    assert await m0.read(word7) == 0x1234_5678
    read_cycle = now_ns() // CLOCK_PERIOD_NS
    assert await m0.read(mm.SYS.CPUID) == 0
    try:
        await m0.read(RamLayout.address(RAM_WORDS))  # past the RAM: err
    except BusError:
        pass
    else:
        raise AssertionError("a read past the RAM did not raise BusError")
    assert log == [(write_cycle, 1, word7, True, 0x1234_5678), (read_cycle, 0, word7, False, 0x1234_5678)], log
    m0.remove_monitor(monitor)
    m1.remove_monitor(monitor)
    # (Other monitors, such as the bench's RAM shadow when a test asks for one, would stay.)
    assert monitor not in (m0.monitors or ()) and monitor not in (m1.monitors or ())
    await m1.write(word7, 0)
    assert len(log) == 2
    # Bound methods are removed by equality too.
    m0.add_monitor(bench.ram_peek)
    m0.remove_monitor(bench.ram_peek)
    assert bench.ram_peek not in (m0.monitors or ())
