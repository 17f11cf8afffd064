"""Waiting a number of clock cycles with one simulator callback.

``ClockCycles(clk, n)`` resumes Python at each of the ``n`` edges. A core
computing for 500 cycles, or a device waiting 1000 cycles between requests,
needs only the last one, so :func:`falling_edges` computes the time of the
``n``-th falling edge and waits for it with a single ``Timer``. ``make bench``
shows the difference (docs/benchmarks.md).

The clock starts high at time 0 (rising edges at ``k * period``, falling edges
at ``k * period + period / 2``).
"""
from __future__ import annotations

from cocotb.triggers import FallingEdge, Timer, Trigger
from cocotb.utils import get_sim_time

__all__ = ["falling_edges", "falling_edge_timer", "settle_at_falling_edge", "time_of_falling_edge"]


def time_of_falling_edge(now_ns: int, n: int, period_ns: int, clock_high: bool) -> int:
    """The time (ns) of the ``n``-th falling edge after ``now_ns``.

    A falling edge at ``now_ns`` itself counts as passed unless the clock still
    reads high (the simulator has not applied it yet in this time step).
    """
    half = period_ns // 2
    last = (now_ns - half) // period_ns          # index of the last falling edge at or before now
    if (now_ns - half) % period_ns == 0 and clock_high:
        last -= 1
    return half + (last + n) * period_ns


def falling_edge_timer(clk, n: int, period_ns: int) -> Trigger:
    """A trigger that fires at the ``n``-th falling edge of ``clk`` from now (``n`` >= 1).

    A ``Timer``, or the edge itself when it is due in this time step. Follow it
    with :func:`settle_at_falling_edge`.
    """
    now = int(get_sim_time("ns"))
    target = time_of_falling_edge(now, n, period_ns, bool(clk.value))
    return Timer(target - now, unit="ns") if target > now else FallingEdge(clk)


async def settle_at_falling_edge(clk) -> None:
    """After a timer that fired at a falling-edge time: make sure the edge itself has happened.

    Simulators order a timer and the clock's own update in the same time step
    as they like; waiting here for the edge when the clock still reads high
    leaves every simulator in the same state, in the same time step.
    """
    if clk.value:
        await FallingEdge(clk)


async def falling_edges(clk, n: int, period_ns: int) -> None:
    """Wait until just after the ``n``-th falling edge of ``clk`` (as ``ClockCycles(clk, n, rising=False)``)."""
    if n <= 0:
        return
    await falling_edge_timer(clk, n, period_ns)
    await settle_at_falling_edge(clk)
