"""The GTKWave save file and thread-name translate file written next to a run's waveform."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sim.contract.config import RunConfig
from sim.reports import gtkwave
from sim.reports.gtkwave import open_command, viewer_available, write_gtkwave_files
from sim.host.run import run_scenario
from sim.tb.testbench import CLOCK_PERIOD_NS
from tests.conftest import require_simulator

pywellen = pytest.importorskip("pywellen")

EXTRA = ("tests.scenarios_extra",)
_UNITS = {"fs": 1e-15, "ps": 1e-12, "ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def _run(tmp_path_factory, name, **kwargs) -> Path:
    require_simulator("verilator")
    out = tmp_path_factory.mktemp(name)
    run_scenario(RunConfig(name, sim="verilator", out=out, waves=True, **kwargs), quiet=True)
    assert (out / "counters.json").exists(), (out / "sim.log").read_text()[-3000:]
    files = write_gtkwave_files(out)
    assert files == {"gtkwave_save": out.resolve() / "waves.gtkw", "thread_names": out.resolve() / "threads.txt"}
    return out


@pytest.fixture(scope="module")
def up_run(tmp_path_factory):
    return _run(tmp_path_factory, "up-preempt")


@pytest.fixture(scope="module")
def smp_run(tmp_path_factory):
    return _run(tmp_path_factory, "smp-pingpong", cpus=2)


@pytest.fixture(scope="module")
def panic_run(tmp_path_factory):
    return _run(tmp_path_factory, "test-crit-underflow", scenario_modules=EXTRA)


# -- reading the files back, independently of sim/reports/gtkwave.py -------------------------------------------


def parse_save_file(path: Path) -> dict:
    """The parts of a .gtkw file: dumpfile, markers, and the traces in order with their flags and filter."""
    parsed = {"dumpfile": None, "marker": None, "named": [], "marker_names": {}, "traces": [], "groups": []}
    flags, translate = 0, None
    stack = []
    for line in path.read_text().splitlines():
        if not line or line.startswith("[*]"):
            continue
        if line.startswith("[dumpfile]"):
            parsed["dumpfile"] = re.fullmatch(r'\[dumpfile\] "(.*)"', line)[1]
        elif line.startswith("[markername]"):
            text = line[len("[markername] ") :]
            parsed["marker_names"][text[0]] = text[1:]
        elif line.startswith("["):
            continue
        elif line.startswith("*"):
            fields = line[1:].split()
            parsed["marker"] = int(fields[1])
            parsed["named"] = [int(t) for t in fields[2:]]
        elif line.startswith("@"):
            flags = int(line[1:], 16)
        elif line.startswith("^"):
            translate = line.split(None, 1)[1]
        elif line.startswith("-"):
            if flags & gtkwave.TR_GRP_BEGIN:
                stack.append(len(parsed["groups"]))
                parsed["groups"].append((line[1:], []))
            elif flags & gtkwave.TR_GRP_END:
                assert stack and parsed["groups"][stack.pop()][0] == line[1:], f"group {line[1:]} not open"
        else:
            parsed["traces"].append(
                {"name": line, "flags": flags, "translate": translate if flags & gtkwave.TR_FTRANSLATED else None}
            )
            for group in stack:  # a member of every enclosing group
                parsed["groups"][group][1].append(line)
            translate = None
    assert not stack, f"groups left open: {stack}"
    return parsed


def read_translate_file(path: Path) -> dict[int, str]:
    table = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            value, name = line.split(None, 1)
            table[int(value, 16)] = name.strip()
    return table


def waveform_vars(run_dir: Path) -> tuple[dict, object]:
    [wave] = [p for p in (run_dir / "waves.fst", run_dir / "waves.vcd") if p.exists()]
    waveform = pywellen.Waveform(str(wave))
    return {var.full_name: var for var in waveform.all_vars()}, waveform


def split_range(name: str) -> tuple[str, int]:
    """``a.b[31:0]`` -> (``a.b``, 32); a name without a range has width 1."""
    match = re.fullmatch(r"(.*)\[(\d+):(\d+)\]", name)
    return (match[1], int(match[2]) - int(match[3]) + 1) if match else (name, 1)


# -- the save file -------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", ["up_run", "smp_run"])
def test_every_signal_of_the_save_file_is_in_the_waveform(run, request):
    run_dir = request.getfixturevalue(run)
    parsed = parse_save_file(run_dir / "waves.gtkw")
    names, _ = waveform_vars(run_dir)
    assert parsed["traces"]
    for trace in parsed["traces"]:
        name, width = split_range(trace["name"])
        assert name in names, f"{name} is not in the waveform"
        assert names[name].bitwidth == width, f"{trace['name']}: the waveform has {names[name].bitwidth} bits"
        assert not name.startswith("$rootio."), "the SoC's own names are preferred to Verilator's $rootio"


@pytest.mark.parametrize("run", ["up_run", "smp_run"])
def test_the_save_file_points_at_the_waveform(run, request):
    run_dir = request.getfixturevalue(run).resolve()
    parsed = parse_save_file(run_dir / "waves.gtkw")
    dumpfile = Path(parsed["dumpfile"])
    assert dumpfile.is_absolute() and dumpfile.exists()
    assert dumpfile.parent == run_dir and dumpfile.name in ("waves.fst", "waves.vcd")


@pytest.mark.parametrize("run, cpus", [("up_run", 1), ("smp_run", 2)])
def test_one_group_per_core_then_the_shared_blocks(run, cpus, request):
    run_dir = request.getfixturevalue(run)
    parsed = parse_save_file(run_dir / "waves.gtkw")
    groups = dict(parsed["groups"])
    assert [g for g, _ in parsed["groups"]][:cpus] == [f"cpu{c}" for c in range(cpus)]
    for cpu in range(cpus):
        members = {split_range(n)[0] for n in groups[f"cpu{cpu}"]}
        expected = {f"lwkt_soc.cpu{cpu}.debug.{r}" for r in ("curthread", "pri", "critdepth", "event")}
        expected |= {
            f"lwkt_soc.cpu{cpu}__{p}" for p in ("cyc", "stb", "we", "adr", "dat_w", "dat_r", "ack", "err", "irq")
        }
        expected |= {f"lwkt_soc.cpu{cpu}.intc.irq", f"lwkt_soc.cpu{cpu}.timer.pending"}
        assert expected <= members, expected - members
    assert {"lwkt_soc.mplock.held", "lwkt_soc.mplock.owner"} <= {split_range(n)[0] for n in groups["mplock"]}
    if cpus > 1:  # a group per CPU's IPI ports shown, inside "ipi"
        ports = [g for g in groups if g.startswith("ipi_cpu")]
        assert ports and all(set(groups[g]) <= set(groups["ipi"]) for g in ports)
        for group in ports:
            c = group[len("ipi_cpu") :]
            assert {f"lwkt_soc.ipi.pending_{c}", f"lwkt_soc.ipi.tx{c}_windex", f"lwkt_soc.ipi.rx{c}_rindex"} <= {
                split_range(n)[0] for n in groups[group]
            }, groups[group]
    # Bus addresses and data in hexadecimal.
    adr = next(t for t in parsed["traces"] if split_range(t["name"])[0] == "lwkt_soc.cpu0__adr")
    assert adr["flags"] & gtkwave.TR_HEX


@pytest.mark.parametrize("run", ["up_run", "smp_run"])
def test_curthread_shows_thread_names_through_the_translate_file(run, request):
    run_dir = request.getfixturevalue(run).resolve()
    parsed = parse_save_file(run_dir / "waves.gtkw")
    table = read_translate_file(run_dir / "threads.txt")
    names, _ = waveform_vars(run_dir)
    curthreads = [t for t in parsed["traces"] if split_range(t["name"])[0].endswith(".debug.curthread")]
    assert curthreads
    for trace in curthreads:
        assert trace["flags"] & gtkwave.TR_HEX and trace["flags"] & gtkwave.TR_FTRANSLATED
        assert Path(trace["translate"]) == run_dir / "threads.txt"
        # GTKWave shows a 32-bit value in hexadecimal as 8 digits: the file's values are written so.
        values = {int(v) for _, v in names[split_range(trace["name"])[0]].tv if isinstance(v, int)}
        missing = values - set(table)
        assert not missing, f"thread ids without a name: {missing}"
    for line in (run_dir / "threads.txt").read_text().splitlines():
        if not line.startswith("#"):
            assert re.fullmatch(r"[0-9a-f]{8} \S.*", line), line
    # The names are the trace's.
    for record in map(json.loads, (run_dir / "trace.jsonl").read_text().splitlines()):
        if record["event"] == "switch":
            assert record["to_thread"] in table[record["to"]].split("/")
        if record["tid"]:
            assert record["thread"] in table[record["tid"]].split("/")


def test_no_markers_when_the_run_passed(up_run):
    parsed = parse_save_file(up_run / "waves.gtkw")
    assert parsed["marker"] == -1 and set(parsed["named"]) == {-1} and not parsed["marker_names"]


def test_markers_at_the_panic_and_the_failed_check(panic_run):
    counters = json.loads((panic_run / "counters.json").read_text())
    panic = counters["panic"]
    assert panic and any(not c["ok"] for c in counters["checks"])
    parsed = parse_save_file(panic_run / "waves.gtkw")
    _, waveform = waveform_vars(panic_run)
    unit = _UNITS[str(waveform.timescale.unit)]
    at_panic = round(panic["cycle"] * CLOCK_PERIOD_NS * 1e-9 / unit)
    assert parsed["marker"] == at_panic
    assert parsed["named"][0] == at_panic
    assert "panic" in parsed["marker_names"]["A"] and panic["message"] in parsed["marker_names"]["A"]
    # The failed check ("no panic") is at the end of the run, here the panic: on the same marker.
    first_failed = next(c for c in counters["checks"] if not c["ok"])
    assert f"failed check: {first_failed['name']}" in parsed["marker_names"]["A"]


def test_a_failed_check_without_panic_marks_the_end_of_the_run(tmp_path_factory):
    run_dir = _run(tmp_path_factory, "test-failing-check", scenario_modules=EXTRA)
    counters = json.loads((run_dir / "counters.json").read_text())
    parsed = parse_save_file(run_dir / "waves.gtkw")
    _, waveform = waveform_vars(run_dir)
    unit = _UNITS[str(waveform.timescale.unit)]
    assert counters["panic"] is None
    last_event = json.loads((run_dir / "trace.jsonl").read_text().splitlines()[-1])["cycle"]
    end = max(t for var in waveform.all_vars() for t, _ in var.tv)
    assert parsed["marker"] == parsed["named"][0] == end >= round(last_event * CLOCK_PERIOD_NS * 1e-9 / unit)
    assert parsed["marker_names"] == {"A": "failed check: deliberately false (end of run)"}


# -- GTKWave itself ------------------------------------------------------------------------------------

_TCL = """
set fp [open {report} w]
puts $fp "traces [gtkwave::getTotalNumTraces]"
puts $fp "marker [gtkwave::getMarker]"
puts $fp "curthread [gtkwave::getTraceValueAtMarkerFromName {curthread}]"
close $fp
gtkwave::/File/Quit
"""


def _gtkwave_report(run_dir: Path, tmp_path: Path) -> dict[str, str]:
    if not (shutil.which("gtkwave") and shutil.which("xvfb-run")):
        pytest.skip("needs gtkwave and xvfb-run (apt-get install gtkwave xvfb)")
    report = tmp_path / "report.txt"
    script = tmp_path / "check.tcl"
    script.write_text(_TCL.format(report=report, curthread="lwkt_soc.cpu0.debug.curthread\\[31:0\\]"))
    subprocess.run(
        ["xvfb-run", "-a", "gtkwave", "-R", str(script), "-P", "1000", str(run_dir / "waves.gtkw")],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert report.exists(), "gtkwave did not run the script"
    return dict(line.split(" ", 1) if " " in line else (line, "") for line in report.read_text().splitlines())


@pytest.mark.parametrize("run", ["smp_run", "panic_run"])
def test_gtkwave_loads_every_trace(run, request, tmp_path):
    run_dir = request.getfixturevalue(run)
    parsed = parse_save_file(run_dir / "waves.gtkw")
    report = _gtkwave_report(run_dir, tmp_path)
    # GTKWave drops a name it does not know: every signal and both ends of every group are there.
    assert int(report["traces"]) == len(parsed["traces"]) + 2 * len(parsed["groups"])
    assert int(report["marker"]) == parsed["marker"]


def test_gtkwave_shows_the_thread_name_at_the_panic(panic_run, tmp_path):
    report = _gtkwave_report(panic_run, tmp_path)
    assert report["curthread"] == json.loads((panic_run / "counters.json").read_text())["panic"]["thread"]


# -- opening it ----------------------------------------------------------------------------------------


def test_open_command_prefers_gtkwave(monkeypatch, tmp_path):
    (tmp_path / "waves.fst").write_bytes(b"")
    installed = {"gtkwave", "surfer"}
    monkeypatch.setattr(gtkwave.shutil, "which", lambda name: f"/usr/bin/{name}" if name in installed else None)
    assert viewer_available() == "gtkwave"
    assert open_command(tmp_path) == ["gtkwave", str(tmp_path.resolve() / "waves.gtkw")]
    installed = {"surfer"}
    assert viewer_available() == "surfer"
    assert open_command(tmp_path) == ["surfer", str(tmp_path.resolve() / "waves.fst")]
    installed = set()
    assert viewer_available() is None
    assert open_command(tmp_path)[0] == "gtkwave"


def test_no_waveform_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="--waves"):
        write_gtkwave_files(tmp_path)
