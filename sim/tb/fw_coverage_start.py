"""Imported first by a cocotb run of directed kernel tests (``sim.coverage.run``): starts coverage.py over
``firmware/`` before the test module imports the firmware, when the run's run.json asks for
``fw_coverage`` (saved into its folder when the simulator exits). It holds no test."""
from sim.tb.fw_coverage import start_from_environment

COVERAGE = start_from_environment()
