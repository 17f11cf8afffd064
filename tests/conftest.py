"""Shared pytest fixtures: simulator availability and per-configuration builds.

With ``LWKT_SOURCE_MUTANT`` set (make mutants' generated hdl mutants, sim/campaigns/hw_mutants.py), the
mutated module is loaded in place of the real one: installed here, before any test imports it."""

from pathlib import Path

from sim.mutation.hook import install_from_environment

install_from_environment(Path(__file__).resolve().parent.parent)

import pytest  # noqa: E402

from sim.host import toolchain  # noqa: E402


def require_simulator(sim: str) -> None:
    """Skip with a clear message when ``sim`` is not installed (Icarus comes from the system)."""
    try:
        toolchain.activate(sim)
    except toolchain.SimulatorMissing as exc:
        pytest.skip(str(exc))
