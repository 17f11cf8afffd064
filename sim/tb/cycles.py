"""Waiting a number of clock cycles with one simulator callback.

``ClockCycles(clk, n)`` resumes Python at each of the ``n`` edges. A core
computing for 500 cycles, or a device waiting 1000 cycles between requests,
needs only the last one, so :func:`falling_edges` computes the time of the
``n``-th falling edge and waits for it with a single ``Timer``, waking
``LOW_PHASE_NS`` after the edge. ``make bench``
shows the difference (docs/benchmarks.md).

The clock starts high at time 0 (rising edges at ``k * period``, falling edges
at ``k * period + period / 2``).
"""

from __future__ import annotations

from cocotb import simulator
from cocotb.triggers import Timer
from cocotb.utils import get_sim_time

from sim.contract.trace import CLOCK_PERIOD_NS

__all__ = ["CLOCK_PERIOD_NS", "LOW_PHASE_NS", "now_ns", "falling_edges", "falling_edge_timer", "time_of_falling_edge"]

#: How far into the low phase a timed wake-up lands (the SoC's outputs are steady all through it).
LOW_PHASE_NS = 1

_steps_per_ns = 0


def now_ns() -> int:
    """The simulation time in whole ns: ``get_sim_time("ns")`` without its unit conversion, which
    the CPU model asks for at every kernel event."""
    global _steps_per_ns
    if not _steps_per_ns:
        _steps_per_ns = 10 ** max(0, -9 - simulator.get_precision())  # precision: 10**p seconds
    return get_sim_time("step") // _steps_per_ns


def time_of_falling_edge(now_ns: int, n: int, period_ns: int, clock_high: bool) -> int:
    """The time (ns) of the ``n``-th falling edge after ``now_ns``.

    A falling edge at ``now_ns`` itself counts as passed unless the clock still
    reads high (the simulator has not applied it yet in this time step).
    """
    half = period_ns // 2
    last = (now_ns - half) // period_ns  # index of the last falling edge at or before now
    if (now_ns - half) % period_ns == 0 and clock_high:
        last -= 1
    return half + (last + n) * period_ns


def falling_edge_timer(clk, n: int, period_ns: int = CLOCK_PERIOD_NS) -> Timer:
    """A ``Timer`` that fires ``LOW_PHASE_NS`` after the ``n``-th falling edge of ``clk`` (``n`` >= 1).

    Not at the edge itself: simulators order a timer and the clock's own update
    in one time step as they like, and a moment later the edge is behind us on
    every simulator, with no second wake-up to make sure of it.
    """
    now = now_ns()
    return Timer(time_of_falling_edge(now, n, period_ns, bool(clk.value)) + LOW_PHASE_NS - now, unit="ns")


async def falling_edges(clk, n: int, period_ns: int = CLOCK_PERIOD_NS) -> None:
    """Wait until just after the ``n``-th falling edge of ``clk`` (as ``ClockCycles(clk, n, rising=False)``)."""
    if n > 0:
        await falling_edge_timer(clk, n, period_ns)
