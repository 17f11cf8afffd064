"""The one lock, the one atomic writer and the one progress display the run folder, the build cache,
campaigns, traces and reports share (sim/contract/outdir.py, sim/reports/progress.py)."""

import io
import subprocess
import sys
import time

import pytest

from sim.contract.errors import EnvironmentProblem
from sim.contract.outdir import FileLock, atomic_write
from sim.reports.progress import ProgressDisplay

_HOLD = """
import sys, time
from sim.contract.outdir import FileLock
lock = FileLock(sys.argv[1])
assert lock.acquire("the other one") is None
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _holder(path, seconds):
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_held_lock_is_refused_naming_its_holder_and_freed_when_the_holder_ends(tmp_path):
    path = tmp_path / ".lock"
    other = _holder(path, 30)
    try:
        assert FileLock(path).acquire("me") == "the other one"
    finally:
        other.kill()
        other.wait()
    lock = FileLock(path)
    assert lock.acquire("me") is None and path.read_text() == "me\n"
    lock.release()


def test_waiting_for_a_lock_says_so_once_and_gets_it(tmp_path):
    path = tmp_path / ".lock"
    other = _holder(path, 1.5)
    waits = []
    start = time.monotonic()
    lock = FileLock(path)
    assert lock.acquire("me", wait=True, on_wait=lambda: waits.append(1)) is None
    assert waits == [1] and time.monotonic() - start > 0.5
    lock.release()
    other.wait()


def test_atomic_write_streams_chunks_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "out.jsonl"
    atomic_write(path, (f"{n}\n" for n in range(1000)))
    assert path.read_text().splitlines()[-1] == "999"

    def failing():
        yield "half"
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(path, failing())
    assert path.read_text().splitlines()[-1] == "999"  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_a_file_size_limit_is_one_line_naming_the_file_and_leaves_nothing_half_written(tmp_path):
    """``ulimit -f`` (RLIMIT_FSIZE) below the size of the register reference: exit 3, one line with the
    file and the errno, no file under the final name and no temporary file left."""
    import resource

    from sim.contract.paths import PROJECT_ROOT

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    out = tmp_path / "regs.md"
    result = subprocess.run(
        [sys.executable, "-m", "sim.cli", "regs", "--out", str(out)],
        cwd=PROJECT_ROOT,
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip() == f"lwkt-soc: error: --out {out}: cannot write it (File too large (EFBIG))"
    assert list(tmp_path.iterdir()) == []


def test_progress_lines_off_a_terminal_at_each_tenth_and_the_end():
    stream = io.StringIO()
    display = ProgressDisplay(100, stream=stream, min_gap=0)
    for done in range(0, 101, 5):
        display.show(done, "bar", f"{done} of 100", final=done == 100)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "  progress: 0 of 100" and lines[-1] == "  progress: 100 of 100"
    assert len(lines) == 11


def test_campaigns_without_dask_say_how_to_get_it(monkeypatch):
    import importlib.util

    from sim.campaigns import engine

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    with pytest.raises(EnvironmentProblem, match=r"pip install 'lwkt-soc\[campaigns\]'"):
        engine.require_dask()
