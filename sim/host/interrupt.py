"""SIGINT and SIGTERM during a run: the simulator stops cleanly and the run keeps what it has.

The parent (``lwkt-soc run``) passes the signal on to its child processes (the
simulator), whatever process group they are in, so a SIGTERM sent to the parent
alone leaves no orphan. The simulator side (``sim/tb/run_program.py``) takes it as a
request to end the run: at its next progress tick it finishes the run with
outcome ``interrupted``, and writes the trace, counters and waveform so far. If
the simulator has not ended ``GRACE_SECONDS`` later, or a second signal comes,
it is killed. The run then exits 130 (SIGINT) or 143 (SIGTERM).
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from sim.contract.errors import EXIT_SIGINT, EXIT_SIGTERM

__all__ = ["Interruption", "child_processes", "GRACE_SECONDS"]

GRACE_SECONDS = 30.0
_SIGNALS = {signal.SIGINT: EXIT_SIGINT, signal.SIGTERM: EXIT_SIGTERM}


def child_processes(pid: int | None = None) -> list[int]:
    """Every descendant of ``pid`` (default: this process), from /proc."""
    found, todo = [], [pid or os.getpid()]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


class Interruption:
    """Catches SIGINT/SIGTERM for the life of a run (a context manager; the main thread only)."""

    def __init__(self):
        self.signal: int | None = None
        self._previous = {}
        self._killer: threading.Timer | None = None

    @property
    def exit_code(self) -> int:
        return _SIGNALS.get(self.signal, EXIT_SIGINT)

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name if self.signal else ""

    def _handle(self, signum, frame) -> None:
        children = child_processes()
        if self.signal is not None:  # a second signal: no more waiting
            _signal_all(children, signal.SIGKILL)
            return
        self.signal = signum
        print(
            f"\ninterrupted ({signal.Signals(signum).name}): stopping the simulator and keeping what it has ...",
            flush=True,
        )
        _signal_all(children, signal.SIGTERM)
        self._killer = threading.Timer(GRACE_SECONDS, lambda: _signal_all(child_processes(), signal.SIGKILL))
        self._killer.daemon = True
        self._killer.start()

    def __enter__(self) -> Interruption:
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        if self._killer is not None:
            self._killer.cancel()
