"""Shared pytest fixtures: simulator availability and per-configuration builds."""

import pytest

from sim.host import toolchain


def require_simulator(sim: str) -> None:
    """Skip with a clear message when ``sim`` is not installed (Icarus comes from the system)."""
    try:
        toolchain.activate(sim)
    except toolchain.SimulatorMissing as exc:
        pytest.skip(str(exc))
