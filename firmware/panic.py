"""Kernel panics: a KASSERT or panic() stops the run with the message, CPU, thread and cycle."""
from __future__ import annotations

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
    """

    def __init__(self, message: str, cpu: int, thread: str, tid: int, cycle: int):
        self.message, self.cpu, self.thread, self.tid, self.cycle = message, cpu, thread, tid, cycle
        super().__init__(f"panic: {message} (cpu {cpu}, thread {thread!r} #{tid}, cycle {cycle})")

    def as_dict(self) -> dict:
        return {"message": self.message, "cpu": self.cpu, "thread": self.thread, "tid": self.tid,
                "cycle": self.cycle}
