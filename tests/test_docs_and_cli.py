"""The generated register reference is current, and the command line behaves."""

import subprocess
import sys
from pathlib import Path

import pytest

from firmware.ram_layout import required_words
from hdl import memory_map as mm
from hdl.config import ConfigError, SocConfig
from sim.reports.regdoc import render_markdown
from sim.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_register_reference_is_current():
    current = (ROOT / "docs" / "registers.md").read_text()
    assert current == render_markdown(), "docs/registers.md is stale: run `make docs`"


def test_register_reference_names_every_register():
    text = render_markdown()
    for block in mm.BLOCKS:
        for reg in block.registers:
            assert f"| {reg.name} |" in text, f"{block.name}.{reg.name} missing from the reference"


def test_addresses_follow_the_contract():
    # A few fixed points of DESIGN.md §2, so that a slip in the map cannot go unnoticed.
    assert mm.SYS.CYCLE_HI == 0x0014
    assert mm.MPLOCK.FAILED_TRIES == 0x1018
    assert mm.IPI_TX.addr("TX_STATUS", slot=3) == 0x2000 + 0x20 * 3 + 0x10
    assert mm.IPI_RX.addr("RX_POP", slot=1) == 0x3028
    assert mm.IPI_PENDING.RX_PENDING == 0x3800
    assert mm.INTC.addr("PRIO", index=2) == 0x4048
    assert mm.ROUTE.addr("ROUTE", index=1) == 0x5004
    assert mm.TIMER.ACK == 0x6010
    assert mm.DEBUG.PRI == 0x700C
    assert mm.RAM.addr("WORD", index=5) == 0x1000_0014
    assert mm.describe(0x2044) == "ipi_tx[2].TX_ARG"
    assert mm.describe(0x4048) == "intc.PRIO[2]"
    assert mm.describe(0x9000) == "unmapped"


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"ncpu": 0}, "CPU count must be 1..32"),
        ({"ncpu": 33}, "CPU count must be 1..32"),
        ({"fifo_depth": 12}, "power of two"),
        ({"ram_words": 100}, "power of two"),
        ({"ext_lines": 30}, "0..29"),
    ],
)
def test_config_ranges_are_named(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        SocConfig(**kwargs)


def test_cli_verilog_writes_a_top_module(tmp_path):
    out = tmp_path / "soc.v"
    assert main(["verilog", "--cpus", "2", "--fifo-depth", "4", "--out", str(out)]) == 0
    text = out.read_text()
    assert "module lwkt_soc(" in text and "cpu1__irq" in text and "cpu2__" not in text


def test_cli_bad_numbers_exit_2_with_the_range(capsys):
    assert main(["verilog", "--cpus", "99"]) == 2
    assert "CPU count must be 1..32" in capsys.readouterr().err


def test_cli_usage_errors_exit_2():
    for argv in (["verilog", "--cpus", "many"], ["nonsense"], ["smoke", "--sim", "modelsim"]):
        proc = subprocess.run([sys.executable, "-m", "sim.cli", *argv], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert "usage:" in proc.stderr


def test_ram_layout_doc_is_current():
    from sim.reports.ramdoc import render_layout

    current = (ROOT / "docs" / "ram-layout.md").read_text()
    assert current == render_layout(), "docs/ram-layout.md is stale: run `make docs`"


def test_ram_too_small_is_a_usage_error(tmp_path):
    """A RAM too small for the SMP kernel's layout is refused before anything is built (exit 2, one line)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.cli",
            "run",
            "--scenario",
            "smp-pingpong",
            "--cpus",
            "4",
            "--ram-words",
            "256",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"needs {required_words(4)}" in lines[0] and "Traceback" not in result.stderr


def test_unknown_planted_bug_is_a_usage_error(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.cli",
            "run",
            "--scenario",
            "smp-pingpong",
            "--plant-bug",
            "nonsense",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2 and "unknown planted bug" in result.stderr and "Traceback" not in result.stderr
