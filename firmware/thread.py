"""Thread, wait-queue and token structures of the LWKT kernel, and their constants.

Priority values and flag meanings follow DragonFly BSD's ``sys/thread.h`` of
mid-2003 (the header that goes with the seeds): the low five bits of
``td_pri`` are the scheduling priority and every critical section adds
``TDPRI_CRIT`` on top, so ``td_pri >= TDPRI_CRIT`` means "in a critical section".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

__all__ = [
    "TDPRI_IDLE_THREAD",
    "TDPRI_USER_IDLE",
    "TDPRI_USER_NORM",
    "TDPRI_USER_REAL",
    "TDPRI_KERN_USER",
    "TDPRI_KERN_DAEMON",
    "TDPRI_SOFT_TIMER",
    "TDPRI_SOFT_NORM",
    "TDPRI_INT_SUPPORT",
    "TDPRI_INT_LOW",
    "TDPRI_INT_MED",
    "TDPRI_INT_HIGH",
    "TDPRI_MAX",
    "TDPRI_MASK",
    "TDPRI_CRIT",
    "NQS",
    "CACHE_NTHREADS",
    "TDF",
    "SHARED_TDF",
    "Thread",
    "SmpThread",
    "SharedFieldError",
    "WaitQueue",
    "Token",
]

TDPRI_IDLE_THREAD = 0
TDPRI_USER_IDLE = 4
TDPRI_USER_NORM = 6
TDPRI_USER_REAL = 8
TDPRI_KERN_USER = 10
TDPRI_KERN_DAEMON = 12
TDPRI_SOFT_TIMER = 14
TDPRI_SOFT_NORM = 15
TDPRI_INT_SUPPORT = 20
TDPRI_INT_LOW = 27
TDPRI_INT_MED = 28
TDPRI_INT_HIGH = 29
TDPRI_MAX = 31
TDPRI_MASK = 31
TDPRI_CRIT = 32
#: One run queue per priority.
NQS = 32
#: Exited threads kept per CPU for reuse (DragonFly's globaldata.h: 6).
CACHE_NTHREADS = 6


class TDF(enum.IntFlag):
    """Thread flags (td_flags)."""

    RUNNING = 0x0001  # the thread's context is live on its CPU
    RUNQ = 0x0002  # on its CPU's run queue
    PREEMPT_LOCK = 0x0004  # preempted, waiting to be resumed
    PREEMPT_DONE = 0x0008  # the preempting thread gave the CPU back
    IDLE_NOHLT = 0x0010  # idle thread: poll instead of halting (SMP)
    EXITED = 0x0020  # lwkt_exit ran; the structure may be reused
    ALLOCATED_THREAD = 0x0200  # the structure came from the allocator (not static)
    ALLOCATED_STACK = 0x0400  # the stack came from the allocator
    VERBOSE = 0x0800  # say so on exit
    DEADLKTREAT = 0x1000
    STOPREQ = 0x2000  # created stopped: lwkt_create does not schedule it
    WAKEREQ = 0x4000
    TIMEOUT = 0x8000


#: No thread flags (lwkt_create's default).
NO_TDF = TDF(0)


#: The flags other CPUs test (lwkt_acquire); the SMP build mirrors them in the thread's shared record.
SHARED_TDF = TDF.RUNQ | TDF.RUNNING | TDF.PREEMPT_LOCK


class SharedFieldError(AttributeError):
    """Firmware touched, as a Python attribute, a thread field that the SMP build keeps in shared RAM."""


class Thread:
    """An LWKT thread (struct thread).

    Only the CPU in ``td_gd`` may change its scheduling state; the kernel
    asserts that on every access.
    """

    def __init__(self, tid: int):
        self.td_id = tid  # a stable number for traces and waveforms (unique within a run)
        self.td_generation = 0
        self.td_rec = 0  # SMP: first word of the shared record in RAM (the thread's "pointer"); 0 in UP
        self.reset()

    def reset(self):
        """Zero the structure, as lwkt_init_thread's bzero does (the id stays)."""
        self.td_pri = 0
        self.td_flags = TDF(0)
        self.td_gd = None
        self.td_cpu = -1
        self.td_wait: WaitQueue | None = None
        self.td_wmesg: str | None = None
        self.td_preempted: Thread | None = None
        self.td_comm = ""
        self.td_kstack: object | None = None
        self.td_proc: Any = None
        self.td_func: Callable | None = None
        self.td_arg: Any = None
        self.td_context = None  # the CPU model's execution context
        self.td_mpcount = 0  # SMP: MP-lock recursion count
        self.td_refs = 0  # SMP: lwkt_hold references
        self.td_release = None  # SMP: hook run when the thread switches away (passive release)
        self.td_preemptable = None  # SMP: hook lwkt_schedule calls to let the thread preempt
        self.td_kframes: list[str] = []  # kernel functions on the thread's stack (firmware/frames.py)
        self.td_intr_off = 0  # interrupts disabled (saved with the thread, as EFLAGS.IF is)
        self.td_written: dict[str, int] = {}  # SMP: the record's words as the owner last wrote them

    @property
    def k(self):
        """The kernel (per-CPU Lwkt) that owns this thread now."""
        return self.td_gd

    @property
    def pri(self) -> int:
        """Scheduling priority (td_pri & TDPRI_MASK)."""
        return self.td_pri & TDPRI_MASK

    @property
    def crit_count(self) -> int:
        return self.td_pri // TDPRI_CRIT

    def __repr__(self):
        return f"<td {self.td_id} {self.td_comm or '?'} pri={self.pri} crit={self.crit_count}>"


def _shared_field(name: str, default):
    """A field the SMP build keeps only in shared RAM: the Python attribute cannot be read, and only
    its reset value can be written (Thread.reset)."""

    def get(self):
        raise SharedFieldError(f"{name} of td #{self.td_id} lives in shared RAM: read it over the bus (LwktSmp.td_get)")

    def put(self, value):
        if value != default:
            raise SharedFieldError(
                f"{name} of td #{self.td_id} lives in shared RAM: write it over the bus (LwktSmp.td_set)"
            )

    return property(get, put)


class SmpThread(Thread):
    """A thread of the SMP build: td_cpu, td_wait, td_wmesg and td_refs (what other CPUs read or
    write) exist only in its shared record (``firmware/ram_layout.py``)."""

    td_cpu = _shared_field("td_cpu", -1)
    td_wait = _shared_field("td_wait", None)
    td_wmesg = _shared_field("td_wmesg", None)
    td_refs = _shared_field("td_refs", 0)


@dataclass(eq=False)
class Token:
    """A serializing token (lwkt_token).

    In the UP build a token is a critical section and its fields live here. In
    the SMP build ``t_cpu``, ``t_reqcpu`` and ``t_gen`` live in three words of
    the shared RAM starting at word ``ram_word`` (the Python fields are unused).
    """

    t_cpu: int = 0
    t_reqcpu: int = 0
    t_gen: int = 0
    name: str = ""
    ram_word: int | None = None


@dataclass(eq=False)
class WaitQueue:
    """A wait structure (lwkt_wait): threads blocked on it and a generation number.

    In the SMP build the queue (head, tail, count, generation) and its token are
    words of the shared RAM from ``ram_word`` on; the Python fields are unused.
    """

    name: str = ""
    wa_token: Token = field(default_factory=Token)
    wa_waitq: list = field(default_factory=list)
    wa_count: int = 0
    wa_gen: int = 0
    ram_word: int | None = None
