"""Firmware code coverage, measured inside the simulator: coverage.py with branches over ``firmware/``
while the run goes (``sim/coverage/fw.py`` combines and reports the data files)."""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path

from sim.contract.config import CONFIG_ENV, RunConfig
from sim.contract.errors import UsageError
from sim.contract.outdir import FW_COVERAGE_DATA as DATA_FILE
from sim.contract.paths import FIRMWARE_DIR

__all__ = ["FirmwareCoverage", "start_from_environment"]


class FirmwareCoverage:
    """coverage.py with branches over ``firmware/`` from now until :meth:`save`."""

    def __init__(self, data_file: Path):
        import coverage

        # config_file=False: no .coveragerc or [tool.coverage] of whatever folder the simulator runs in.
        self.cov = coverage.Coverage(
            data_file=str(data_file), branch=True, source=[str(FIRMWARE_DIR)], config_file=False
        )
        self.cov.erase()
        preimported = sorted(m for m in sys.modules if m == "firmware" or m.startswith("firmware."))
        if preimported:  # their module-level lines will count as not run
            print(f"fw_coverage: imported before measuring started: {', '.join(preimported)}", file=sys.stderr)
        self.cov.start()
        self._saved = False
        atexit.register(self.save)  # a simulator that ends without the test's finally

    def save(self) -> None:
        """Stop measuring and write the data file (once; later calls do nothing)."""
        if self._saved:
            return
        self._saved = True
        self.cov.stop()
        self.cov.save()
        data = self.cov.get_data()
        if not any(data.lines(f) for f in data.measured_files()):
            print(
                f"fw_coverage: nothing of {FIRMWARE_DIR} was measured (firmware imported from elsewhere?)",
                file=sys.stderr,
            )


def start_from_environment() -> FirmwareCoverage | None:
    """Start measuring when this simulator's run (``LWKT_RUN_CONFIG``) asks for ``fw_coverage``;
    None otherwise, and when there is no readable run.json (the test itself reports that)."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return None
    try:
        config = RunConfig.read(Path(path))
    except UsageError:
        return None
    if not config.fw_coverage:
        return None
    return FirmwareCoverage(Path(config.out) / DATA_FILE)
