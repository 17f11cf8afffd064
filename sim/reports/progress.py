"""How far a long job is, on the terminal: one display for a run's cycles and a campaign's runs.

On a terminal it redraws one bar in place; elsewhere (a log, CI) it prints a line each time another
tenth is done, at most one every ``min_gap`` seconds, and always the final one.
"""

from __future__ import annotations

import sys
import time

__all__ = ["ProgressDisplay", "duration"]

_WIDTH = 30


class ProgressDisplay:
    def __init__(self, total: int, *, enabled: bool = True, stream=None, min_gap: float = 1.0):
        self.total = total
        self.enabled = enabled and total > 0
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.min_gap = min_gap
        self.start = time.monotonic()
        self._tenth = -1
        self._last = 0.0

    def show(self, done: int, bar_text: str, line_text: str, *, final: bool = False) -> None:
        """``done`` of ``total``: ``bar_text`` after the bar on a terminal, ``line_text`` as a line
        (``  progress: ...``) elsewhere."""
        if not self.enabled:
            return
        fraction = min(1.0, max(0.0, done / self.total))
        if self.tty:
            filled = int(_WIDTH * fraction)
            self.stream.write(f"\r  [{'#' * filled}{'.' * (_WIDTH - filled)}] {bar_text}\033[K")
            if final:
                self.stream.write("\n")
            self.stream.flush()
            return
        tenth = int(10 * fraction)
        if final or tenth > self._tenth and time.monotonic() - self._last > self.min_gap:
            self._tenth, self._last = tenth, time.monotonic()
            print(f"  progress: {line_text}", file=self.stream, flush=True)

    def end(self) -> None:
        """Leave the terminal's line to what follows."""
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def eta(self, done: int) -> str:
        """The time left at the rate so far (``?`` before anything is done)."""
        if not done:
            return "?"
        return duration((time.monotonic() - self.start) / done * (self.total - done))


def duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02}:{seconds % 60:02}"
