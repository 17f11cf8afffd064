"""Which kernel function a thread is in, and where interrupts land.

Each thread keeps the names of the kernel functions on its stack
(``Thread.td_kframes``), pushed and popped by :func:`kernel_function`, which
also charges the function's body to the core from the cost model. When an
interrupt reaches the kernel's entry, :class:`Landings` counts it for every
kernel function on the interrupted thread's stack: taken there, or deferred
to the end of the critical section it landed in.
"""

from __future__ import annotations

import functools

__all__ = ["kernel_function", "Landings", "landed_in", "THREAD_CODE", "IDLE", "SETTLE_AT"]

#: A kernel function that returns owing more cycles than this spends them first: blocks of kernel
#: computation (each an interrupt boundary only at its end) stay short.
SETTLE_AT = 64

#: Where an interrupt landed when no kernel function was on the stack.
THREAD_CODE = "(thread code)"
IDLE = "(idle)"


def kernel_function(fn=None, *, cost: str | None = None):
    """Decorate an ``async`` kernel method: track it on the thread's stack of kernel frames
    and charge ``cost`` (an operation of the cost model; default: the function's name, when
    the model has it; ``""`` charges nothing: the function charges its body itself) at entry."""

    def wrap(fn):
        name = fn.__name__
        operation = name if cost is None else cost

        @functools.wraps(fn)
        async def entered(self, *args, **kwargs):
            td = self.curthread
            frames = td.td_kframes
            frames.append(name)
            cycles = self.costs.get(operation)
            if cycles:
                self.cpu.charge(cycles)
            try:
                result = await fn(self, *args, **kwargs)
                core = td.td_gd.cpu  # the thread may have moved to another CPU meanwhile
                if core.debt > SETTLE_AT:
                    await core.spend(0)
                return result
            finally:
                frames.pop()

        return entered

    return wrap(fn) if fn is not None else wrap


def landed_in(frames: list[str], idle: bool) -> str:
    """Where an interrupt landed: the innermost kernel function, else idle or thread code."""
    return frames[-1] if frames else IDLE if idle else THREAD_CODE


class Landings:
    """Interrupts that landed on one CPU, per kernel function: taken or deferred."""

    def __init__(self):
        self.taken: dict[str, int] = {}
        self.deferred: dict[str, int] = {}

    def record(self, frames: list[str], idle: bool, deferred: bool) -> None:
        counts = self.deferred if deferred else self.taken
        places = set(frames) if frames else {landed_in(frames, idle)}
        for place in places:
            counts[place] = counts.get(place, 0) + 1

    def as_dict(self) -> dict:
        return {"taken": dict(sorted(self.taken.items())), "deferred": dict(sorted(self.deferred.items()))}
