"""sim.tb.cycles: the time of the n-th falling edge, as ClockCycles(clk, n, rising=False) counts them."""

import pytest

from sim.tb.cycles import time_of_falling_edge

PERIOD = 10  # rising edges at 0, 10, 20 ...; falling edges at 5, 15, 25 ...


@pytest.mark.parametrize(
    "now, n, high, expected",
    [
        (5, 1, False, 15),  # just after a falling edge: the next one is a period later
        (5, 1, True, 5),  # at a falling-edge time whose edge has not happened yet
        (5, 3, True, 25),
        (0, 1, True, 5),  # at a rising edge
        (10, 2, True, 25),
        (7, 1, False, 15),  # mid-way through the low phase
        (12, 4, True, 45),
        (0, 1, False, 5),  # time 0, before the clock was first driven
    ],
)
def test_time_of_falling_edge(now, n, high, expected):
    assert time_of_falling_edge(now, n, PERIOD, high) == expected


def test_every_count_lands_on_a_falling_edge_after_now():
    for now in range(0, 40):
        for high in (False, True):
            previous = now
            for n in range(1, 6):
                t = time_of_falling_edge(now, n, PERIOD, high)
                assert t % PERIOD == PERIOD // 2 and t >= now
                assert n == 1 or t - previous == PERIOD
                previous = t
