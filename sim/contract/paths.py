"""Where the project's files are, computed once."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "PROJECT_ROOT",
    "IN_CHECKOUT",
    "BUILD_ROOT",
    "FIRMWARE_DIR",
    "DOCS_DIR",
    "TESTS_DIR",
    "DEFAULT_SEEDS",
    "REPORT_SCHEMA",
    "COUNTERS_SCHEMA",
]

#: The folder that holds hdl/, firmware/, sim/ (sim/contract/paths.py is two levels below it): the
#: checkout, or site-packages when the wheel is installed.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: A checkout (pyproject.toml beside the packages), as opposed to an installed wheel.
IN_CHECKOUT = (PROJECT_ROOT / "pyproject.toml").is_file()
FIRMWARE_DIR = PROJECT_ROOT / "firmware"
DOCS_DIR = PROJECT_ROOT / "docs"
TESTS_DIR = PROJECT_ROOT / "tests"
#: The JSON schemas of report.json and counters.json (package data, beside this file).
REPORT_SCHEMA = Path(__file__).resolve().with_name("report-schema.json")
COUNTERS_SCHEMA = Path(__file__).resolve().with_name("counters-schema.json")
#: The seed sources beside the project (``../shared/seeds``: lwkt_thread.c v1.12 and v1.18).
DEFAULT_SEEDS = PROJECT_ROOT.parent / "shared" / "seeds"
#: Where SoC builds are cached: ``LWKT_SOC_BUILD_DIR``, else build/ of the checkout, else (an installed
#: wheel) the user's cache folder.
BUILD_ROOT = Path(
    os.environ.get("LWKT_SOC_BUILD_DIR")
    or (
        PROJECT_ROOT / "build"
        if IN_CHECKOUT
        else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lwkt-soc" / "build"
    )
)
