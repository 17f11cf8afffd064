"""One RV32 core under amaranth.sim, checked in lockstep against the reference CPU.

The core (hdl/rv32/) runs a program image from its local memory. Its core bus is answered by
:class:`BusModel`: a few pages of plain memory (one of them holding the device acknowledge register
that lowers the interrupt request), a bus error everywhere else, after a latency drawn per access.
An :class:`InterruptPlan` raises the interrupt request (MEIP) at instruction boundaries. Every
record of the retirement port goes to sim.checks.rv32_lockstep, which steps unicorn beside it; at
the end the register files are compared too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from amaranth.hdl import Fragment, Signal
from amaranth.sim import Simulator

from hdl import memory_map as mm
from hdl.probe import declared
from hdl.rv32.core import Rv32Core
from sim.checks.rv32_lockstep import Lockstep, Mismatch
from sim.checks.rv32_reference import Reference, Retirement
from sim.contract.rv32_image import ProgramImage

__all__ = [
    "BusModel",
    "InterruptPlan",
    "LockstepResult",
    "run_lockstep",
    "SOC_RAM",
    "DEVICE_PAGE",
    "DEVICE_ACK",
    "Mismatch",
    "LockstepTimeout",
]

#: The pages the bus model answers, where the SoC has them: the shared RAM's first page, and the
#: DEVICE block's page, whose ACK[0] word lowers the interrupt request when written.
SOC_RAM = mm.RAM.base
DEVICE_PAGE = mm.DEVICE.base
DEVICE_ACK = mm.DEVICE.addr("ACK", index=0)
PAGE = 0x1000


class LockstepTimeout(AssertionError):
    """The program did not reach its end within the cycle budget."""


@dataclass
class BusModel:
    """What answers the core bus: plain memory in ``pages``, ``err`` elsewhere."""

    pages: dict[int, bytearray]
    latency: tuple[int, int] = (1, 1)  # ack/err comes this many cycles after the request, drawn per access
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    irq: bool = False
    accesses: int = 0
    errors: int = 0

    def access(self, word: int, write: bool, data: int) -> int | None:
        """Perform one access at word address ``word``; the word read, or None for a bus error."""
        address = word << 2
        for base, page in self.pages.items():
            if base <= address < base + len(page):
                self.accesses += 1
                offset = address - base
                if write:
                    page[offset : offset + 4] = data.to_bytes(4, "little")
                    if address == DEVICE_ACK:
                        self.irq = False
                    return 0
                return int.from_bytes(page[offset : offset + 4], "little")
        self.errors += 1
        return None


@dataclass
class InterruptPlan:
    """When to raise the interrupt request (it stays up until the handler writes DEVICE_ACK).

    ``window``: after every retirement whose pc is in ``[start, end)``, so that every boundary of
    that code is interrupted; ``probability``: after any retirement with that chance (seeded);
    ``wake_after``: that many cycles into a WFI wait.
    """

    window: tuple[int, int] | None = None
    probability: float = 0.0
    wake_after: int | None = None
    seed: int = 0

    def __post_init__(self):
        self.rng = random.Random(self.seed)

    def after(self, record: Retirement) -> bool:
        if self.window and self.window[0] <= record.pc < self.window[1] and not record.trap:
            return True
        return self.probability > 0 and self.rng.random() < self.probability


@dataclass
class LockstepResult:
    compared: int
    cycles: int
    traps: dict[int, int]
    predicted: dict[str, int]
    unmodelled_reads: int
    interrupts: int
    bus_accesses: int
    bus_errors: int
    registers: list[int]  # x0..x31 at the end
    retire_cycles: list[int]  # the cycle each record appeared in

    @property
    def cpi(self) -> float:
        return self.cycles / max(self.compared, 1)


def _signal(fragment: Fragment, path: tuple[str, ...], name: str, domain: str) -> Signal:
    """The signal ``name`` that the block at ``path`` drives in ``domain`` (a declared probe)."""
    for step in path:
        fragment = next(sub for sub, sub_name, _ in fragment.subfragments if sub_name == step)
    for stmt in fragment.statements.get(domain, ()):
        for sig in stmt._lhs_signals():
            if sig.name == name:
                return sig
    raise KeyError(f"no {domain} signal {name!r} at {path}")


def run_lockstep(
    image: ProgramImage,
    *,
    end: int,
    hart_id: int = 0,
    local_words: int = 4096,
    interrupts: InterruptPlan | None = None,
    latency: tuple[int, int] = (1, 1),
    max_cycles: int = 200_000,
    seed: int = 0,
) -> LockstepResult:
    """Run ``image`` on a core and on the reference until the instruction at ``end`` retires."""
    local_bytes = local_words * 4
    pages = {SOC_RAM: bytearray(PAGE), DEVICE_PAGE: bytearray(PAGE)}
    bus_model = BusModel(pages={b: bytearray(p) for b, p in pages.items()}, latency=latency, rng=random.Random(seed))
    reference = Reference(image, local_bytes=local_bytes, pages={b: bytes(p) for b, p in pages.items()})
    lockstep = Lockstep(reference, hart_id)
    plan = interrupts or InterruptPlan()

    core = Rv32Core(hart_id=hart_id, local_words=local_words, init=image.words(mm.CORE_LOCAL.base, local_words))
    fragment = Fragment.get(core, None)
    declared(Rv32Core, "waiting")
    waiting = _signal(fragment, (), "waiting", "comb")
    registers = next(
        sub
        for sub, name, _ in next(s for s, n, _ in fragment.subfragments if n == "regfile").subfragments
        if name == "registers"
    ).origins[0]
    bus, record = core.bus, core.retire
    names = [f.name for f in Retirement.__dataclass_fields__.values()]
    outcome: dict = {}
    retire_cycles: list[int] = []

    async def bench(ctx):
        cycle, boundary_irq, respond_at, waited, interrupts_taken = 0, False, None, 0, 0
        request = None
        while True:
            await ctx.tick()
            cycle += 1
            if cycle > max_cycles:
                raise LockstepTimeout(
                    f"no retirement at {end:#x} within {max_cycles} cycles ({lockstep.compared} compared)"
                )
            # The core bus: answer a request after its latency, for one cycle.
            if ctx.get(bus.ack) or ctx.get(bus.err):
                ctx.set(bus.ack, 0)
                ctx.set(bus.err, 0)
            elif ctx.get(bus.cyc) and ctx.get(bus.stb):
                seen = (ctx.get(bus.adr), ctx.get(bus.we), ctx.get(bus.dat_w))
                if respond_at is None:
                    respond_at, request = cycle + bus_model.rng.randint(*bus_model.latency), seen
                elif seen != request:
                    raise Mismatch(f"cycle {cycle}: the core changed its bus request before the answer")
            if respond_at == cycle:
                respond_at = None
                value = bus_model.access(ctx.get(bus.adr), bool(ctx.get(bus.we)), ctx.get(bus.dat_w))
                ctx.set(bus.err if value is None else bus.ack, 1)
                ctx.set(bus.dat_r, value or 0)
            if ctx.get(record.valid):
                got = Retirement(**{n: ctx.get(getattr(record, n)) for n in names})
                got.mem_valid, got.mem_we, got.trap = bool(got.mem_valid), bool(got.mem_we), bool(got.trap)
                want = lockstep.check(got, irq=boundary_irq, cycle=cycle)
                retire_cycles.append(cycle)
                interrupts_taken += want.trap and want.cause >> 31
                if got.pc == end and not got.trap:
                    break
                if plan.after(got):
                    bus_model.irq = True
                waited = 0
            elif ctx.get(waiting):
                waited += 1
                if plan.wake_after is not None and waited >= plan.wake_after:
                    bus_model.irq = True
            ctx.set(bus.irq, bus_model.irq)
            if ctx.get(record.valid) or ctx.get(waiting):
                boundary_irq = bus_model.irq  # the level the core decides the next boundary with
        core_registers = [ctx.get(registers.data[k]) for k in range(32)]
        outcome.update(cycles=cycle, registers=core_registers, interrupts=interrupts_taken)

    sim = Simulator(fragment)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    want = reference.registers()
    if outcome["registers"] != want:
        differ = [
            f"x{k}: core {g:#x}, reference {w:#x}"
            for k, (g, w) in enumerate(zip(outcome["registers"], want, strict=True))
            if g != w
        ]
        raise Mismatch("register files differ at the end: " + "; ".join(differ))
    return LockstepResult(
        compared=lockstep.compared,
        cycles=outcome["cycles"],
        traps=dict(lockstep.traps),
        predicted=dict(lockstep.predicted),
        unmodelled_reads=lockstep.unmodelled_reads,
        interrupts=outcome["interrupts"],
        bus_accesses=bus_model.accesses,
        bus_errors=bus_model.errors,
        registers=outcome["registers"],
        retire_cycles=retire_cycles,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.host.rv32_sim --seeds 0:100 --length 5000``: a longer random lockstep check."""
    import argparse
    import time

    from .rv32_random import random_program

    parser = argparse.ArgumentParser(prog="python -m sim.host.rv32_sim", description=main.__doc__)
    parser.add_argument("--seeds", default="0:20", help="first:last (exclusive) seeds of the random streams")
    parser.add_argument("--length", type=int, default=3000, help="random instructions per stream")
    parser.add_argument("--irq", type=float, default=0.02, help="chance of an interrupt request after a retirement")
    args = parser.parse_args(argv)
    first, last = (int(v) for v in args.seeds.split(":"))
    total, started = 0, time.monotonic()
    local_words = 1 << (8 * args.length).bit_length() - 2  # room for the code and the data area
    local_words = max(local_words, 4096)
    for seed in range(first, last):
        generated = random_program(seed, args.length, local_bytes=4 * local_words)
        plan = InterruptPlan(probability=args.irq, wake_after=20, seed=seed)
        try:
            result = run_lockstep(
                generated.image, end=generated.end, local_words=local_words, interrupts=plan, latency=(1, 3), seed=seed
            )
        except (Mismatch, LockstepTimeout) as failure:
            print(f"seed {seed}: {failure}")
            return 1
        total += result.compared
        print(f"seed {seed}: {result.compared} retirements, {sum(result.traps.values())} traps, CPI {result.cpi:.2f}")
    print(f"{total} retirements compared, no mismatch, {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
