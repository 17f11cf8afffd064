"""Drive the ports of :class:`hdl.soc.LwktSoc` from Amaranth 0.5 async testbenches.

Typical use::

    from hdl import memory_map as mm
    from .harness import run, small_config, rd, wr

    def test_cpuid():
        async def bench(ctx, soc):
            for port in soc.ports:
                assert await port.read(ctx, mm.SYS.CPUID) == port.cpu
        run(small_config(), bench)

A testbench is ``async def bench(ctx, soc)`` where ``soc`` is a :class:`Soc`.

* :meth:`Port.read` / :meth:`Port.write` raise :class:`BusError` when the SoC
  answers ``err``; :meth:`Port.try_read` / :meth:`Port.try_write` /
  :meth:`Port.access` return a :class:`Result` ``(ok, value, cycles)`` instead.
* :func:`access_all` issues one request on several ports in the same cycle
  and collects every answer (simultaneous TRYs, contention).
* ``cycles`` counts clock edges from the first edge at which the request can be
  seen until the edge that registered ``ack``/``err``: an uncontended access
  takes exactly 1.
* :meth:`Soc.component`, :meth:`Soc.signal` reach blocks and internal signals
  of the elaborated design (for the debug ``event`` output, the IPI FIFO
  indices, the cycle counter ...), so tests can observe or ``ctx.set`` them.

Mutation testing: with ``LWKT_HW_MUTANT=<name>`` in the environment, every
configuration made by :func:`soc_config` / :func:`small_config` (and every
arbiter the tests build) carries that planted bug of ``hdl/mutants.py``, so
``LWKT_HW_MUTANT=name pytest tests/hdl -x`` runs the whole suite against it.
Tests build their configurations with these helpers, never ``SocConfig(...)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from collections.abc import Awaitable, Callable, Iterable, Sequence

from amaranth.hdl import ClockDomain, Fragment, Module, Signal
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.probe_map import lookup
from hdl.mutants import MUTANT_ENV
from hdl.soc import LwktSoc

__all__ = [
    "BusError",
    "BusTimeout",
    "Request",
    "Result",
    "Port",
    "Soc",
    "rd",
    "wr",
    "access_all",
    "run",
    "run_component",
    "small_config",
    "soc_config",
    "env_mutant",
    "ticks",
    "field_get",
    "MUTANT_ENV",
]

#: Default bound on the cycles one access may take before the harness gives up.
DEFAULT_TIMEOUT = 64


def env_mutant() -> str:
    """The hardware mutant asked for by ``LWKT_HW_MUTANT``, "" for the correct design."""
    return os.environ.get(MUTANT_ENV, "")


def soc_config(**params) -> SocConfig:
    """``SocConfig(**params)``, built with the mutant of ``LWKT_HW_MUTANT`` if one is set."""
    params.setdefault("mutant", env_mutant())
    return SocConfig(**params)


def small_config(**overrides) -> SocConfig:
    """A small configuration that keeps simulation fast."""
    params = dict(ncpu=3, fifo_depth=4, ram_words=16, ext_lines=2)
    params.update(overrides)
    return soc_config(**params)


class BusError(Exception):
    """The SoC answered ``err`` to an access."""

    def __init__(self, cpu: int, address: int, write: bool = False):
        self.cpu, self.address, self.write = cpu, address, write
        super().__init__(f"bus error: cpu{cpu} {'write' if write else 'read'} at {address:#010x}")


class BusTimeout(AssertionError):
    """Neither ``ack`` nor ``err`` came within the timeout."""


@dataclass(frozen=True)
class Request:
    """One access: a read, or a write of ``value``, at byte ``address``."""

    address: int
    write: bool = False
    value: int = 0

    def __post_init__(self):
        if not (0 <= self.address < 1 << 32) or self.address % 4:
            raise ValueError(f"bad byte address {self.address:#x}")
        if not 0 <= self.value < 1 << 32:
            raise ValueError(f"bad value {self.value:#x}")


def rd(address: int) -> Request:
    return Request(address)


def wr(address: int, value: int) -> Request:
    return Request(address, True, value)


@dataclass(frozen=True)
class Result:
    """Outcome of one access. ``value`` is ``dat_r`` with ``ack`` (0 on error)."""

    ok: bool
    value: int
    cycles: int


def field_get(value: int, field: mm.Field) -> int:
    return (value & field.mask) >> field.lsb


async def ticks(ctx, n: int = 1) -> None:
    for _ in range(n):
        await ctx.tick()


class Port:
    """One CPU's core port of the SoC."""

    def __init__(self, soc: Soc, cpu: int):
        self.soc, self.cpu = soc, cpu
        self.bus = soc.dut.port(cpu)

    def __repr__(self):
        return f"Port(cpu{self.cpu})"

    def irq(self, ctx) -> int:
        return ctx.get(self.bus.irq)

    async def access(self, ctx, request: Request, *, timeout: int = DEFAULT_TIMEOUT) -> Result:
        (result,) = await access_all(ctx, [(self, request)], timeout=timeout)
        return result

    async def try_read(self, ctx, address: int, **kw) -> Result:
        return await self.access(ctx, rd(address), **kw)

    async def try_write(self, ctx, address: int, value: int, **kw) -> Result:
        return await self.access(ctx, wr(address, value), **kw)

    async def read(self, ctx, address: int) -> int:
        result = await self.try_read(ctx, address)
        if not result.ok:
            raise BusError(self.cpu, address, False)
        return result.value

    async def write(self, ctx, address: int, value: int) -> None:
        result = await self.try_write(ctx, address, value)
        if not result.ok:
            raise BusError(self.cpu, address, True)


async def access_all(ctx, requests: Sequence[tuple[Port, Request]], *, timeout: int = DEFAULT_TIMEOUT) -> list[Result]:
    """Issue every request in the same cycle (one per port) and wait for all answers.

    Returns the results in the order of ``requests``.
    """
    ports = [port for port, _ in requests]
    if len({id(p) for p in ports}) != len(ports):
        raise ValueError("one request per port")
    # A port still answering its previous access cannot see a new one: let that
    # answer cycle pass first, so that ``cycles`` measures only this access.
    while any(ctx.get(p.bus.ack) or ctx.get(p.bus.err) for p in ports):
        await ctx.tick()
    for port, req in requests:
        bus = port.bus
        ctx.set(bus.adr, req.address >> 2)
        ctx.set(bus.we, req.write)
        ctx.set(bus.dat_w, req.value)
        ctx.set(bus.cyc, 1)
        ctx.set(bus.stb, 1)
    results: list[Result | None] = [None] * len(requests)
    cycles = 0
    while any(r is None for r in results):
        if cycles >= timeout:
            waiting = [f"{p!r} {r}" for (p, r), res in zip(requests, results, strict=True) if res is None]
            raise BusTimeout(f"no answer after {timeout} cycles: {waiting}")
        await ctx.tick()
        cycles += 1
        for k, (port, _req) in enumerate(requests):
            if results[k] is not None:
                continue
            bus = port.bus
            ack, err = ctx.get(bus.ack), ctx.get(bus.err)
            assert not (ack and err), f"{port!r}: ack and err together"
            if ack or err:
                results[k] = Result(bool(ack), ctx.get(bus.dat_r) if ack else 0, cycles)
                ctx.set(bus.cyc, 0)
                ctx.set(bus.stb, 0)
                ctx.set(bus.we, 0)
    return results  # type: ignore[return-value]


def _driven_in(fragment: Fragment, domain: str) -> dict[str, list[Signal]]:
    """Signals assigned by ``fragment``'s own statements in ``domain``, by name."""
    found: dict[str, list[Signal]] = {}
    for stmt in fragment.statements.get(domain, ()):
        for sig in stmt._lhs_signals():
            bucket = found.setdefault(sig.name, [])
            if not any(s is sig for s in bucket):
                bucket.append(sig)
    return found


class Soc:
    """An elaborated :class:`LwktSoc` with its ports and handles on its internals."""

    def __init__(self, config: SocConfig):
        if env_mutant() and not config.mutant:
            # A SocConfig(...) made by hand would silently test the correct design instead.
            raise AssertionError(
                f"{MUTANT_ENV} is set but this configuration has no mutant: "
                "build it with soc_config() or small_config()"
            )
        self.config = config
        self.dut = LwktSoc(config)
        self.fragment = Fragment.get(self.dut, platform=None)
        self.ports = [Port(self, cpu) for cpu in range(config.ncpu)]
        self.ext_irq = self.dut.ext_irq
        self.rst: Signal | None = None  # the sync domain's reset, when run(..., reset=True)

    @property
    def ncpu(self) -> int:
        return self.config.ncpu

    def port(self, cpu: int) -> Port:
        return self.ports[cpu]

    def _fragment(self, path: Iterable[str]) -> Fragment:
        fragment = self.fragment
        for name in path:
            for sub, sub_name, _ in fragment.subfragments:
                if sub_name == name:
                    fragment = sub
                    break
            else:
                raise KeyError(f"no submodule {name!r} on the way to {tuple(path)}")
        return fragment

    def component(self, *path: str):
        """The elaboratable at ``path``, e.g. ``("cpu0", "debug")`` or ``("ipi", "send")`` (a memory,
        which hdl/probe_map.py must declare)."""
        found = self._fragment(path).origins[0]
        if isinstance(found, Memory):
            lookup(".".join(path))
        return found

    def signal(self, *path: str, name: str, domain: str = "sync") -> Signal:
        """The signal called ``name`` that the block at ``path`` (``()``: the top)
        assigns in ``domain`` -- a register by default, e.g. an IPI matrix's ``pending_0``.
        hdl/probe_map.py must declare it."""
        lookup(".".join((*path, name)))
        candidates = _driven_in(self._fragment(path), domain).get(name, [])
        if len(candidates) != 1:
            raise KeyError(f"{len(candidates)} {domain} signals named {name!r} in {path}")
        return candidates[0]

    @property
    def cycle(self) -> Signal:
        """The SoC's 64-bit free-running cycle counter (SYS.CYCLE_*)."""
        return self.signal(name="cycle")

    def debug(self, cpu: int):
        return self.component(f"cpu{cpu}", "debug")

    def timer(self, cpu: int):
        return self.component(f"cpu{cpu}", "timer")


Testbench = Callable[..., Awaitable[None]]


def run(
    config: SocConfig | Soc,
    testbench: Testbench,
    *,
    vcd: str | None = None,
    background: Sequence[Testbench] = (),
    reset: bool = False,
) -> Soc:
    """Simulate ``testbench(ctx, soc)`` against a fresh SoC of ``config``.

    ``background`` testbenches (same signature) run alongside and are dropped
    when the main one returns. With ``reset`` the SoC sits in a top module that
    declares its sync domain, whose synchronous reset the testbench drives as
    ``soc.rst`` (``ctx.set(soc.rst, 1)``). Returns the :class:`Soc` used.
    """
    soc = config if isinstance(config, Soc) else Soc(config)
    top = soc.fragment
    if reset:
        top = Module()
        top.domains.sync = domain = ClockDomain("sync")
        top.submodules.soc = soc.fragment
        soc.rst = domain.rst
    sim = Simulator(top)
    sim.add_clock(1e-8)

    async def main(ctx):
        await testbench(ctx, soc)

    sim.add_testbench(main)
    for bench in background:

        async def side(ctx, bench=bench):
            await bench(ctx, soc)

        sim.add_testbench(side, background=True)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return soc


def run_component(dut, testbench: Testbench, *, vcd: str | None = None) -> None:
    """Simulate ``testbench(ctx)`` against a single component (arbiter, FIFO ...)."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
