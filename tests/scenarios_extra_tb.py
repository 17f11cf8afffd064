"""The test scenarios that tests/scenarios_extra.py declares: their code, run in the simulator."""

from firmware.thread import TDPRI_KERN_USER
from sim.tb.scenarios.base import Check, Scenario, register


@register
class CritUnderflow(Scenario):
    name = "test-crit-underflow"

    async def boot(self, k):
        async def bad(td, arg):
            await td.k.cpu.work(100)
            td.k.crit_enter()
            await td.k.crit_exit()
            await td.k.crit_exit()

        await k.lwkt_create(bad, None, comm="underflow", pri=TDPRI_KERN_USER)


@register
class FailingCheck(Scenario):
    name = "test-failing-check"

    async def boot(self, k):
        async def quick(td, arg):
            await td.k.cpu.work(10)
            self.system.finish()

        await k.lwkt_create(quick, None, comm="quick", pri=TDPRI_KERN_USER)

    def checks(self):
        return [Check("deliberately false", False, "this scenario exists to test failure reporting")]


@register
class PythonError(Scenario):
    name = "test-python-error"

    async def boot(self, k):
        async def buggy(td, arg):
            await td.k.cpu.work(50)
            table = {}
            td.k.event("mark", label="before-bug")
            return table["missing"]  # KeyError: the line the report must name

        await k.lwkt_create(buggy, None, comm="buggy", pri=TDPRI_KERN_USER)


@register
class Forever(Scenario):
    name = "test-forever"

    async def boot(self, k):
        async def spin(td, arg):
            while True:
                await td.k.cpu.work(200)
                await td.k.lwkt_yield()

        for n in range(2):
            await k.lwkt_create(spin, None, comm=f"spin{n}", pri=TDPRI_KERN_USER)


@register
class Hang(Scenario):
    name = "test-hang"

    async def boot(self, k):
        async def stuck(td, arg):
            await td.k.cpu.work(100)
            td.k.event("mark", label="stuck")
            while True:  # never awaits: simulated time stops, as a mutant's endless loop stops it
                pass

        await k.lwkt_create(stuck, None, comm="stuck", pri=TDPRI_KERN_USER)


@register
class Crash(Scenario):
    name = "test-crash"

    async def boot(self, k):
        import os
        import signal
        import time

        start = time.monotonic()

        async def spin(td, arg):
            # Past the first snapshot with cycles in it (sim/tb/run_program.py writes one a second), then
            # the simulator's process dies as the OOM killer would end it.
            while time.monotonic() - start < 2.5:
                await td.k.cpu.work(200)
                await td.k.lwkt_yield()
            td.k.event("mark", label="dying")
            os.kill(os.getpid(), signal.SIGKILL)

        for n in range(2):
            await k.lwkt_create(spin, None, comm=f"spin{n}", pri=TDPRI_KERN_USER)
