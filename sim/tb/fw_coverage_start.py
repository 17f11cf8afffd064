"""Imported first by every run (``sim/tb/run_program.py``) and by a directed run of the kernel's tests
(``sim.campaigns.coverage_run``): starts coverage.py over ``firmware/`` before anything imports the firmware,
when the run's run.json asks for ``fw_coverage`` (saved into its folder at the end of the run, or
when the simulator exits). It holds no test."""

from sim.tb.fw_coverage import start_from_environment

COVERAGE = start_from_environment()
