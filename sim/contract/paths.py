"""Where the project's files are, computed once."""
from __future__ import annotations

from pathlib import Path

__all__ = ["PROJECT_ROOT", "FIRMWARE_DIR", "DOCS_DIR", "TESTS_DIR", "DEFAULT_SEEDS", "REPORT_SCHEMA"]

#: The folder that holds hdl/, firmware/, sim/ (sim/contract/paths.py is two levels below it).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = PROJECT_ROOT / "firmware"
DOCS_DIR = PROJECT_ROOT / "docs"
TESTS_DIR = PROJECT_ROOT / "tests"
#: The JSON schema of report.json.
REPORT_SCHEMA = DOCS_DIR / "report-schema.json"
#: The seed sources beside the project (``../shared/seeds``: lwkt_thread.c v1.12 and v1.18).
DEFAULT_SEEDS = PROJECT_ROOT.parent / "shared" / "seeds"
