"""`lwkt-soc run/report/waves/list` end to end: outputs, schema, bad input, exit codes."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.contract.config import RunConfig
from sim.host import run as run_module
from sim.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "sim" / "contract" / "report-schema.json").read_text())
EXTRA = "tests.scenarios_extra"


def _validate(report: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(report, SCHEMA)


def _gtkw_signals(path: Path) -> list[str]:
    """Signal names listed in a GTKWave save file, without their ``[hi:lo]`` bit ranges."""
    names = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "[@*-^#!":
            continue
        names.append(re.sub(r"\[\d+:\d+\]$", "", line))
    return names


@pytest.fixture(scope="module")
def smp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    code = main(
        [
            "run",
            "--scenario",
            "smp-pingpong",
            "--cpus",
            "2",
            "--sim",
            "verilator",
            "--seed",
            "3",
            "--waves",
            "--out",
            str(out),
        ]
    )
    return code, out


def test_run_writes_every_output(smp_run):
    code, out = smp_run
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    _validate(report)
    assert report["ok"] and report["outcome"] == "done" and report["cpus"] == 2 and report["mode"] == "smp"
    assert report["latency"]["token_handoff"]["count"] > 0
    assert report["latency"]["ipi"]["median"] <= report["latency"]["ipi"]["p99"] <= report["latency"]["ipi"]["max"]
    assert report["latency"]["switch"]["count"] > 0 and report["latency"]["switch"]["median"] >= 3
    records = [json.loads(line) for line in (out / "trace.jsonl").read_text().splitlines()]
    assert records and all({"cycle", "cpu", "tid", "thread", "event"} <= set(r) for r in records)
    text = (out / "report.txt").read_text()
    assert "lwkt.switch_count" in text and "cpu0" in text and "cpu1" in text and "token hand-off" in text
    assert "MP lock hand-off" in text and "context switch" in text
    assert (out / "report.md").read_text().startswith("# smp-pingpong: passed")
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in report["files"].values():
        assert (out / name).exists(), name


def test_gtkwave_save_file_names_signals_of_the_waveform(smp_run):
    pywellen = pytest.importorskip("pywellen")
    _, out = smp_run
    wave = next(out.glob("waves.*[dt]"))
    names = {v.full_name for v in pywellen.Waveform(str(wave)).all_vars()}
    listed = _gtkw_signals(out / "waves.gtkw")
    assert listed, "the save file lists no signals"
    missing = [n for n in listed if n not in names]
    assert not missing, f"signals in waves.gtkw but not in {wave.name}: {missing[:5]}"
    assert str(wave) in (out / "waves.gtkw").read_text()


def test_report_renders_a_finished_run_again(smp_run, capsys):
    _, out = smp_run
    (out / "report.txt").unlink()
    assert main(["report", str(out)]) == 0
    assert "PASSED: smp-pingpong" in capsys.readouterr().out
    assert not (out / "report.txt").exists()  # reading rewrites nothing ...
    assert main(["report", str(out), "--write"]) == 0
    assert (out / "report.txt").exists()  # ... unless asked
    capsys.readouterr()
    assert main(["report", str(out), "--markdown"]) == 0
    assert capsys.readouterr().out.startswith("# smp-pingpong")


def test_waves_prints_how_to_open(smp_run, capsys):
    _, out = smp_run
    assert main(["waves", str(out), "--print-only"]) == 0
    assert "waves.gtkw" in capsys.readouterr().out


def test_panic_keeps_trace_report_and_waveform(tmp_path):
    out = tmp_path / "panic"
    code = run_module.run_scenario(
        RunConfig("test-crit-underflow", sim="verilator", out=out, waves=True, scenario_modules=(EXTRA,)), quiet=True
    )
    assert code == 1
    report = json.loads((out / "report.json").read_text())
    _validate(report)
    assert report["outcome"] == "panic" and not report["ok"]
    assert "td_pri is/would-go negative" in report["panic"]["message"]
    assert (out / "trace.jsonl").read_text().strip().splitlines()[-1].find('"panic"') > 0
    assert any((out / f"waves.{ext}").exists() for ext in ("fst", "vcd"))
    assert "panic" in (out / "report.txt").read_text()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--scenario", "nope"], r"unknown scenario 'nope'; valid scenarios: .*smp-mixed"),
        (["run", "--scenario", "smp-mixed", "--cpus", "99"], r"CPU count must be 1\.\.32"),
        (["run", "--scenario", "smp-mixed", "--fifo-depth", "3"], r"power of two in 2\.\.1024"),
        (["run", "--scenario", "up-basic", "--seed", "-1"], r"seed=-1: must be >= 0"),
        (["run", "--scenario", "up-basic", "--cycles", "0"], r"cycles=0: must be > 0"),
        (["run", "--scenario", "smp-mixed", "--mode", "up"], r"needs the smp build"),
        (["run", "--scenario", "up-basic", "--cpus", "4"], r"needs --mode smp"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(argv, message, capsys, tmp_path):
    assert main(argv + ["--out", str(tmp_path / "x")]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_missing_simulator_says_how_to_install(monkeypatch, capsys, tmp_path):
    import shutil
    from sim.host import toolchain

    real_which = shutil.which
    monkeypatch.setattr(
        toolchain.shutil, "which", lambda name: None if name in ("iverilog", "vvp") else real_which(name)
    )
    assert main(["run", "--scenario", "up-basic", "--sim", "icarus", "--out", str(tmp_path)]) == 3
    assert "apt-get install iverilog" in capsys.readouterr().err


def test_report_and_waves_of_a_folder_that_is_no_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no report.json" in capsys.readouterr().err
    assert main(["waves", str(tmp_path)]) == 2
    assert "no waveform" in capsys.readouterr().err


def test_help_documents_exit_codes():
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "0 every check held" in text and "1 a kernel check failed or the firmware panicked" in text
    assert "2 usage error" in text and "3 environment error" in text and "130/143 interrupted" in text
    run_help = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", "--help"], capture_output=True, text=True, cwd=ROOT
    ).stdout
    assert "smp-mp-fallback" in run_help and "wait-states" in run_help and "fifo-full" in run_help


def test_progress_lines_without_a_terminal(tmp_path, capsys):
    progress = tmp_path / "progress"

    def job():
        for cycle in (10_000, 50_000, 90_000):
            progress.write_text(f"{cycle} 100000\n")
            time.sleep(1.2)
        return "finished"

    assert run_module._with_progress(job, progress, 100_000, enabled=True) == "finished"
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("progress:")]
    assert lines and "cycles" in lines[0]
