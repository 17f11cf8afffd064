"""Kernel panics: a KASSERT or panic() stops the run with the message, CPU, thread and cycle."""

from __future__ import annotations

import traceback

__all__ = ["KernelPanic"]


class KernelPanic(Exception):
    """A firmware panic.

    Attributes
    ----------
    message : str
    cpu : int
    thread : str   name (td_comm) of the thread that panicked
    tid : int
    cycle : int
    exception : dict or None
        For a panic caused by a Python exception in firmware (a bug, a bus error):
        its type, message, the file, line and function where it was raised, and
        the formatted traceback.
    """

    def __init__(self, message: str, cpu: int, thread: str, tid: int, cycle: int, exception: dict | None = None):
        self.message, self.cpu, self.thread, self.tid, self.cycle = message, cpu, thread, tid, cycle
        self.exception = exception
        super().__init__(f"panic: {message} (cpu {cpu}, thread {thread!r} #{tid}, cycle {cycle})")

    @classmethod
    def from_exception(cls, exc: BaseException, cpu: int, thread: str, tid: int, cycle: int) -> KernelPanic:
        """The panic a Python exception raised in firmware turns into, keeping where it came from."""
        frames = traceback.extract_tb(exc.__traceback__)
        where = frames[-1] if frames else None
        exception = {
            "type": type(exc).__name__,
            "message": str(exc),
            "file": where.filename if where else None,
            "line": where.lineno if where else None,
            "function": where.name if where else None,
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        }
        return cls(f"{type(exc).__name__}: {exc}", cpu, thread, tid, cycle, exception)

    def as_dict(self) -> dict:
        result = {"message": self.message, "cpu": self.cpu, "thread": self.thread, "tid": self.tid, "cycle": self.cycle}
        if self.exception is not None:
            result["exception"] = dict(self.exception)
        return result
