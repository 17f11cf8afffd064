"""Imported first by a cocotb run of directed kernel tests (``sim.coverage.run``): starts coverage.py over
``firmware/`` before the test module imports the firmware, when ``LWKT_FW_COVERAGE_FILE`` names the data
file (saved when the simulator exits). It holds no test."""
from sim.tb.fw_coverage import start_from_file_environment

COVERAGE = start_from_file_environment()
