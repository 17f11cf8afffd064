"""Scenarios used only by the tests, declared in the catalogue (``--scenario-module tests.scenarios_extra``,
``RunConfig.scenario_modules``); tests/scenarios_extra_tb.py implements them in the simulator."""

from sim.contract.catalogue import ScenarioInfo, declare

_TB = "tests.scenarios_extra_tb"

declare(ScenarioInfo("test-crit-underflow", "a thread leaves one critical section too many (panics)", _TB))
declare(ScenarioInfo("test-failing-check", "runs fine but one of its checks fails", _TB))
declare(
    ScenarioInfo(
        "test-python-error", "a thread's code raises a Python exception (a firmware bug): a panic that keeps where", _TB
    )
)
declare(
    ScenarioInfo(
        "test-forever",
        "two threads taking turns for ever (until the cycle budget or a signal): a long run",
        _TB,
        max_cycles=50_000_000,
    )
)
declare(
    ScenarioInfo(
        "test-hang",
        "a thread loops for ever without awaiting: simulated time stops (only the wall clock ends the run)",
        _TB,
    )
)
declare(
    ScenarioInfo(
        "test-crash",
        "the simulator kills itself with SIGKILL once a snapshot of some cycles is on disk (a crash mid-run)",
        _TB,
        max_cycles=50_000_000,
    )
)
