"""Named, seeded workloads: ``lwkt-soc run --scenario NAME --seed S``.

A scenario says which kernel build and how many CPUs it needs, creates its
threads in each CPU's boot context, drives its external devices from the
testbench side, and checks the run afterwards.
"""

from sim.tb.scenarios.base import Check, Devices, Scenario, SCENARIOS, get_scenario

# Importing the modules registers their scenarios.
from sim.tb.scenarios import random_workload, smp, up  # noqa: F401

__all__ = ["Check", "Devices", "Scenario", "SCENARIOS", "get_scenario"]
