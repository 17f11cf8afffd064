"""What users do to a run: bad paths, bad specs, bad files, wrong combinations, two runs in one
folder, signals, a damaged build. Each case: the command, its exit code (sim/contract/errors.py), a fragment
of its one-line message, no traceback, and the previous run's outputs intact where they should be."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware.ram_layout import required_words
from sim.cli import main
from sim.host.interrupt import child_processes

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "sim" / "contract" / "report-schema.json").read_text())
LONG_RUN = (
    "import os, sys; sys.path.insert(0, os.getcwd()); from sim.host.run import run_scenario; "
    "from sim.contract.config import RunConfig; "
    "sys.exit(run_scenario(RunConfig('test-forever', sim=sys.argv[2], out=sys.argv[1], "
    "scenario_modules=['tests.scenarios_extra'])))"
)


def _spec(tmp_path, name, data) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def _cases(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    bad_report = tmp_path / "bad-report"
    bad_report.mkdir()
    (bad_report / "report.json").write_text('{"schema": "lwkt')
    wrong_report = tmp_path / "wrong-report"
    wrong_report.mkdir()
    (wrong_report / "report.json").write_text("[1, 2]")
    foreign = tmp_path / "foreign-report"
    foreign.mkdir()
    (foreign / "report.json").write_text('{"schema": "something-else/9"}')
    garbage = tmp_path / "garbage-waves"
    garbage.mkdir()
    (garbage / "waves.vcd").write_text("not a waveform")
    good = {"ncpu": 4, "threads": [{"cpu": 0, "pri": 6, "ops": [["work", 5]]}], "devices": []}
    run = ["run", "--sim", "verilator"]
    return [
        (run + ["--scenario", "up-basic", "--out", str(afile)], 2, "is a file, not a folder"),
        (run + ["--scenario", "up-basic", "--out", str(afile / "sub")], 3, "cannot create or write the folder"),
        (run + ["--scenario", "up-basic", "--out", "/proc/lwkt-soc-test"], 3, "cannot create or write"),
        (["regs", "--out", str(tmp_path)], 2, "is a folder, not a file"),
        (["report", str(bad_report)], 2, "is not valid JSON"),
        (["report", str(wrong_report)], 2, "is not a JSON object"),
        (["report", str(foreign)], 2, "is not a lwkt-soc-report/1 report"),
        (["report", str(tmp_path / "nothing")], 2, "no such run folder"),
        (["check", str(bad_report)], 2, "is not valid JSON"),
        (["waves", str(garbage), "--print-only"], 2, "cannot be read"),
        (run + ["--scenario", "smp-pingpong", "--cpus", "1"], 2, "needs at least 2 CPUs"),
        (run + ["--scenario", "up-basic", "--faults", "all,bogus"], 2, "unknown fault 'bogus'"),
        (run + ["--scenario", "smp-mixed", "--faults", "cpu-stop"], 2, "fault cpu-stop cannot act in smp-mixed"),
        (run + ["--scenario", "up-basic", "--faults", "spurious"], 2, "fault spurious cannot act in up-basic"),
        (run + ["--scenario", "random", "--cpus", "1", "--faults", "all"], 2, "cannot act in random on 1 CPU"),
        (run + ["--scenario", "up-basic", "--spec", _spec(tmp_path, "ok.json", good)], 2, "takes none"),
        (run + ["--scenario", "random", "--spec", str(tmp_path / "missing.json")], 2, "cannot be read"),
        (run + ["--scenario", "random", "--spec", _spec(tmp_path, "nojson.json", "{")], 2, "not valid JSON"),
        (
            run
            + [
                "--scenario",
                "random",
                "--spec",
                _spec(tmp_path, "cpu7.json", {**good, "threads": [{"cpu": 7, "pri": 6, "ops": [["work", 5]]}]}),
            ],
            2,
            "threads[0].cpu is 7, but the run has CPUs 0..3",
        ),
        (
            run
            + [
                "--scenario",
                "random",
                "--spec",
                _spec(tmp_path, "neg.json", {**good, "threads": [{"cpu": 0, "pri": 6, "ops": [["work", -5]]}]}),
            ],
            2,
            "an operation is one of",
        ),
        (
            run
            + [
                "--scenario",
                "random",
                "--spec",
                _spec(
                    tmp_path, "huge.json", {**good, "threads": [{"cpu": 0, "pri": 6, "ops": [["work", 5]]}] * 10_000}
                ),
            ],
            2,
            "is too long",
        ),
        (
            run
            + [
                "--scenario",
                "random",
                "--spec",
                _spec(
                    tmp_path,
                    "late.json",  # a bad operation after repeats of good ones: named where it is written
                    {**good, "threads": [{"cpu": 0, "pri": 6, "ops": [["work", 5], ["yield"]] * 3 + [["crit", 0]]}]},
                ),
            ],
            2,
            "at .threads[0].ops[6]:",
        ),
        (
            run
            + [
                "--scenario",
                "random",
                "--spec",
                _spec(tmp_path, "long.json", {**good, "threads": [{"cpu": 0, "pri": 6, "ops": [["yield"]] * 16_385}]}),
            ],
            2,
            "at .threads[0].ops: 16385 operations: at most 16384",
        ),
        (
            run + ["--scenario", "random", "--spec", _spec(tmp_path, "shape.json", {"ncpu": 4})],
            2,
            "'threads' is a required property",
        ),
        (
            run + ["--scenario", "random", "--cpus", "2", "--spec", _spec(tmp_path, "for4.json", good)],
            2,
            "the spec is for 4 CPUs; run it with --cpus 4",
        ),
        (
            run
            + [
                "--scenario",
                "random",
                "--spec",
                _spec(tmp_path, "starve.json", {**good, "threads": [{"cpu": 0, "pri": 6, "ops": [["p", 1]]}]}),
            ],
            2,
            "would wait forever",
        ),
        (run + ["--scenario", "up-basic", "--plant-bug", "nope"], 2, "unknown planted bug"),
        (run + ["--scenario", "smp-pingpong", "--ram-words", "256"], 2, f"needs {required_words(4)}"),
    ]


def test_bad_input_is_one_line_and_its_exit_code(tmp_path, capsys):
    for argv, code, fragment in _cases(tmp_path):
        out = [] if "--out" in argv or argv[0] != "run" else ["--out", str(tmp_path / "out")]
        assert main(argv + out) == code, argv
        err = capsys.readouterr().err.strip()
        assert fragment in err and len(err.splitlines()) == 1 and "Traceback" not in err, (argv, err)


def test_files_go_into_missing_folders(tmp_path):
    assert main(["regs", "--out", str(tmp_path / "new" / "regs.md")]) == 0
    assert main(["ram-layout", "--out", str(tmp_path / "new2" / "ram.md")]) == 0
    assert (tmp_path / "new" / "regs.md").read_text().startswith("#")
    assert (tmp_path / "new2" / "ram.md").read_text().startswith("#")


def test_a_run_that_cannot_start_keeps_the_previous_outputs(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("report.json", "trace.jsonl", "dump.vcd"):
        (out / name).write_text("previous run")
    assert main(["run", "--scenario", "random", "--spec", str(tmp_path / "missing.json"), "--out", str(out)]) == 2
    assert all((out / name).read_text() == "previous run" for name in ("report.json", "trace.jsonl", "dump.vcd"))
    # A run that starts clears them all, leftovers included, and records what ran.
    assert main(["run", "--scenario", "up-basic", "--sim", "verilator", "--out", str(out)]) == 0
    assert not (out / "dump.vcd").exists() and (out / "report.json").read_text() != "previous run"
    config = json.loads((out / "run.json").read_text())
    assert config["scenario"] == "up-basic" and config["sim"] == "verilator" and config["versions"]["cocotb"]
    jsonschema = pytest.importorskip("jsonschema")
    counters_schema = json.loads((ROOT / "sim" / "contract" / "counters-schema.json").read_text())
    jsonschema.validate(json.loads((out / "counters.json").read_text()), counters_schema)
    jsonschema.validate(json.loads((out / "report.json").read_text()), SCHEMA)


def test_report_reads_without_rewriting_unless_asked(tmp_path):
    out = tmp_path / "run"
    assert main(["run", "--scenario", "up-basic", "--sim", "verilator", "--out", str(out)]) == 0
    (out / "report.txt").write_text("mine")
    assert main(["report", str(out)]) == 0 and (out / "report.txt").read_text() == "mine"
    assert main(["report", str(out), "--write"]) == 0 and (out / "report.txt").read_text() != "mine"


def test_faults_are_in_the_report_and_empty_checks_are_na(tmp_path):
    out = tmp_path / "run"
    assert (
        main(["run", "--scenario", "random", "--seed", "3", "--sim", "verilator", "--faults", "all", "--out", str(out)])
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    faults = report["faults"]
    assert faults["enabled"] == ["cpu-stop", "delayed-complete", "fifo-full", "spurious", "wait-states"]
    assert faults["injected"]["wait_states"] > 0 and faults["injected"]["wait_state_cycles"] > 0
    assert faults["stopped_cpus"] and faults["stopped_cpus"][0]["cpu"] == 3
    assert "faults: cpu-stop" in (out / "report.txt").read_text()
    quiet = tmp_path / "quiet"
    assert main(["run", "--scenario", "smp-mplock", "--sim", "verilator", "--out", str(quiet)]) == 0
    checks = {c["name"]: c for c in json.loads((quiet / "report.json").read_text())["checks"]}
    ipi = checks["every IPI delivered exactly once, in order"]
    assert ipi["ok"] and not ipi["evaluated"] and ipi["detail"] == "0 of 0 delivered"
    assert "[n/a   ] every IPI delivered exactly once" in (quiet / "report.txt").read_text()


def _start_long_run(out: Path, sim: str = "verilator", *, cli: bool = False) -> subprocess.Popen:
    """The never-ending scenario, through run_scenario or (``cli``) through lwkt-soc run."""
    command = [sys.executable, "-c", LONG_RUN, str(out), sim]
    if cli:
        command = [sys.executable, "-m", "sim.cli", "run", "--scenario-module", "tests.scenarios_extra"]
        command += ["--scenario", "test-forever", "--sim", sim, "--out", str(out)]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not (out / "progress").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    time.sleep(1.0)
    return proc


@pytest.mark.parametrize(
    "sig, code, sim, group",
    [
        (signal.SIGTERM, 143, "verilator", False),
        (signal.SIGINT, 130, "verilator", False),
        (signal.SIGTERM, 143, "icarus", False),
        (signal.SIGINT, 130, "icarus", False),
        (signal.SIGINT, 130, "icarus", True),
    ],
    ids=["verilator-SIGTERM", "verilator-SIGINT", "icarus-SIGTERM", "icarus-SIGINT", "icarus-SIGINT-to-the-group"],
)
def test_a_signal_stops_the_simulator_and_keeps_the_run(sig, code, sim, group, tmp_path):
    """The signal goes to the parent alone (as CI and IDEs send it), or to the whole process group (as a
    terminal's Ctrl-C does, so the simulator gets it too): either way the simulator side ends the run."""
    from tests.conftest import require_simulator

    require_simulator(sim)
    out = tmp_path / "long"
    proc = _start_long_run(out, sim)
    descendants = child_processes(proc.pid)
    assert descendants
    if sig == signal.SIGTERM and sim == "verilator":
        # Meanwhile a second run into the same folder is refused at once, naming the first.
        second = subprocess.run(
            [sys.executable, "-m", "sim.cli", "run", "--scenario", "up-basic", "--out", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2 and "is in use by a run still going" in second.stderr
        assert "test-forever" in second.stderr
    if group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err[-2000:]
    assert "Traceback" not in err
    time.sleep(0.5)
    assert not [pid for pid in descendants if Path(f"/proc/{pid}").exists()]
    report = json.loads((out / "report.json").read_text())
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(report, SCHEMA)
    assert report["outcome"] == "interrupted" and not report["ok"] and report["cycles"] > 0
    records = [json.loads(line) for line in (out / "trace.jsonl").read_text().splitlines()]
    assert records and records[-1]["cycle"] <= report["cycles"] + 100


def _snapshot_cycles(out: Path) -> int:
    from sim.contract.outdir import SNAPSHOT_FILE

    try:
        return json.loads((out / SNAPSHOT_FILE).read_text())["cycles"]
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.parametrize("sim", ["verilator", "icarus"])
def test_a_simulator_killed_mid_run_is_a_crash_not_a_broken_build(sim, tmp_path):
    """SIGKILL of the simulator's own process (as the OOM killer would) once the run is going: exit 3 with
    one line naming the signal and the cycle reached, a report with outcome ``crashed`` over the trace and
    counters the simulator had written; no rebuild, no second attempt."""
    from tests.conftest import require_simulator

    require_simulator(sim)
    out = tmp_path / "long"
    proc = _start_long_run(out, sim, cli=True)
    deadline = time.monotonic() + 60
    while _snapshot_cycles(out) == 0:  # a snapshot of some cycles (the first is of cycle 0)
        assert time.monotonic() < deadline
        time.sleep(0.2)
    simulators = child_processes(proc.pid)
    assert simulators
    for pid in simulators:
        os.kill(pid, signal.SIGKILL)
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, stdout[-2000:] + err[-2000:]
    assert "crashed during the run (killed by SIGKILL) after cycle" in err and "Not retried" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "rebuilding" not in stdout and "did not start" not in stdout
    report = json.loads((out / "report.json").read_text())
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(report, SCHEMA)
    crash = report["crash"]
    assert report["outcome"] == "crashed" and not report["ok"] and crash["how"] == "killed by SIGKILL"
    assert f"after cycle {crash['last_cycle']:,}" in err and crash["last_lines"]
    assert f"crashed: killed by SIGKILL after cycle {crash['last_cycle']}" in stdout
    assert [c["name"] for c in report["checks"] if not c["ok"]] == ["the simulator ran to the end"]
    # What the simulator had written by its last snapshot: counters of some thousands of cycles, and the
    # trace, sorted and whole, up to about then.
    assert 0 < report["cycles"] <= crash["last_cycle"]
    assert sum(c["switch_count"] for c in report["per_cpu"]) > 0
    records = [json.loads(line) for line in (out / "trace.jsonl").read_text().splitlines()]
    assert records and records == sorted(records, key=lambda r: (r["cycle"], r["cpu"]))
    assert report["cycles"] - 50_000 <= records[-1]["cycle"] <= crash["last_cycle"]
    left = {p.name for p in out.iterdir()}
    assert {"timeline.png", "report.txt", "report.md"} <= left
    assert not [n for n in left if ".spool" in n or ".snapshot" in n]


@pytest.mark.parametrize("sim", ["verilator", "icarus"])
def test_a_file_size_limit_while_the_simulator_writes_is_one_line_and_nothing_half_written(sim, tmp_path):
    """``ulimit -f`` below the size of the trace (the simulator side writes it): exit 3, one line naming
    the file and the errno, no output under a final name, and the folder's lock released for the next run."""
    import resource

    from tests.conftest import require_simulator

    require_simulator(sim)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "sim.cli", "run", "--scenario", "up-basic", "--sim", sim, "--out", str(out)]
    first = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)  # builds, if needed
    assert first.returncode == 0, first.stderr[-2000:]
    assert (out / "trace.jsonl").stat().st_size > 20 * 1024

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20 * 1024, 20 * 1024))

    # As a user runs it: cocotb's runner logs more when it sees it is under pytest.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    limited = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, preexec_fn=limit)
    assert limited.returncode == 3, limited.stdout[-2000:] + limited.stderr[-2000:]
    assert limited.stderr.strip().splitlines() == [
        f"lwkt-soc: error: the simulator could not write {out / 'trace.jsonl'}: File too large (EFBIG); "
        f"see {out / 'sim.log'}"
    ]
    left = sorted(p.name for p in out.iterdir())
    assert "trace.jsonl" not in left and "counters.json" not in left
    assert not [n for n in left if ".tmp" in n or ".spool" in n or ".snapshot" in n], left
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]


def test_a_damaged_build_is_rebuilt_once(tmp_path):
    """A cached model that does not start (here Icarus's compiled design, overwritten) is built again."""
    from tests.conftest import require_simulator

    require_simulator("icarus")
    env = dict(os.environ, LWKT_SOC_BUILD_DIR=str(tmp_path / "build"))
    cmd = [sys.executable, "-m", "sim.cli", "run", "--scenario", "up-basic", "--sim", "icarus"]
    first = subprocess.run(cmd + ["--out", str(tmp_path / "a")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    (vvp,) = (tmp_path / "build").glob("icarus-*/sim.vvp")
    vvp.write_text("damaged\n")
    second = subprocess.run(cmd + ["--out", str(tmp_path / "b")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "rebuilding" in second.stdout and "the cached build did not start" in second.stdout


def test_other_commands_refuse_bad_input_in_one_line(tmp_path):
    for argv, fragment in [
        (["-m", "sim.campaigns.stress", "--faults", "bogus"], "unknown fault 'bogus'"),
        (["-m", "sim.campaigns.stress", "--cpus", "2", "--faults", "all"], "need 3 CPUs"),
        (["-m", "sim.campaigns.stress", "--cpus", "2,x"], "--cpus: '2,x' is not"),
        (["-m", "sim.campaigns.shrink", "--seed", "1", "--cpus", "0"], "CPU count must be 1..32"),
        (["-m", "sim.campaigns.shrink", "--seed", "1", "--spec", str(tmp_path / "no.json")], "cannot be read"),
    ]:
        result = subprocess.run([sys.executable] + argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and fragment in result.stderr and "Traceback" not in result.stderr, (
            argv,
            result.stderr,
        )
