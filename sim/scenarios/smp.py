"""SMP scenarios (seed v1.18 on every core)."""
from __future__ import annotations

from hdl import memory_map as mm
from firmware.thread import TDPRI_KERN_DAEMON, TDPRI_KERN_USER, TDPRI_USER_NORM
from .base import Check, Scenario, Workload, register

__all__ = ["SmpPingpong", "SmpIpiStorm", "SmpMplock", "SmpMixed"]

#: Shared-RAM words used by the scenarios for their own data (tokens use the low words).
DATA_WORD = 2048


class SmpScenario(Scenario):
    mode = "smp"
    cpus = 4

    def start_functions(self):
        return {cpu: self.boot for cpu in range(self.system.ncpu)}

    @staticmethod
    def word(index: int) -> int:
        return mm.RAM.addr("WORD", index=DATA_WORD + index)


@register
class SmpPingpong(SmpScenario):
    name = "smp-pingpong"
    description = "one token passed back and forth between the CPUs; a shared counter updated under it"
    rounds = 6

    def __init__(self, seed=1):
        super().__init__(seed)
        self.workload = Workload(self)
        self.token = None
        self.final_value = 0

    async def boot(self, k):
        if self.token is None:
            self.token = self.system.new_token("pingpong")
        await self.workload.spawn(k, self._player, None, comm=f"player{k.gd_cpuid}", pri=TDPRI_KERN_USER,
                                  mpsafe=True)

    async def _player(self, td, arg):
        k = td.k
        for _ in range(self.rounds):
            await k.lwkt_gettoken(self.token)
            value = await k.cpu.read(self.word(0))
            await k.cpu.work(self.rng.randint(5, 20))
            await k.cpu.write(self.word(0), value + 1)
            self.final_value = value + 1
            await k.lwkt_reltoken(self.token)
            await k.cpu.work(self.rng.randint(20, 60))

    def checks(self):
        smp = self.system.counters()["smp"]
        expected = self.rounds * self.system.ncpu
        return [Check("counter updated under the token", self.final_value == expected,
                      f"{self.final_value} of {expected}"),
                Check("the token changed hands", len(smp["token_handoff_cycles"]) > 0,
                      f"{len(smp['token_handoff_cycles'])} hand-offs")]
