"""The kernel side of a run: the kernel instances, what they share that is not kernel state
(trace, sysctl settings, thread ids, IPI function ids, tracepoints), and the outcome.

The machine (``sim/tb/machine.py``) builds the cores, hands them to a
:class:`System`, boots each kernel and writes the outputs; this module knows
only the core protocol (``firmware/core.py``). The kernel checks nothing of the
run's correctness beyond its own KASSERTs: it emits trace records and passes
tracepoints, and the run-time checkers (``sim/checks``) subscribe to both.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING
from collections.abc import Awaitable, Callable

from hdl.config import SocConfig

from .bugs import BUGS, Bug
from .builds import MODES
from .cost_model import DEFAULT, CostModel
from .ipiq import KERNEL_IPI_FUNCS, SMP_COUNTERS
from .lwkt import COUNTERS, Lwkt
from .panic import KernelPanic
from .ram_layout import FREE, MPLOCK, Guard, RamLayout
from .thread import Thread, Token, WaitQueue

if TYPE_CHECKING:
    from .core import Core, Hardware

__all__ = ["System", "MODES", "TRACEPOINTS", "INTERLEAVING_POINTS", "CHECK_POINTS"]

#: Points in the kernel where the interleavings the seed's comments worry about open: directed
#: tests raise a device line there (sim/tb/directed/interleavings.py).
INTERLEAVING_POINTS = {
    "crit_exit:window": "crit_exit left the last section; its gd_reqpri test is still ahead",
    "get_mplock:counted": "get_mplock counted the hold; reading OWNER and the TRY follow (interrupts off)",
    "rel_mplock:dropped": "rel_mplock dropped the last hold; reading OWNER and the RELEASE follow (interrupts off)",
    "lwkt_gettoken:request": "lwkt_gettoken is about to ask the token's owner by IPI",
    "lwkt_send_ipiq:drain": "lwkt_send_ipiq found the FIFO over half full and starts draining its own queues",
    "lwkt_switch:mplock": "lwkt_switch chose the next thread and is about to hand the MP lock over",
}

#: Points where the kernel tells the run-time checkers (sim/checks) what it just did; the fields a
#: callback receives follow the name. The kernel never learns what a checker made of it.
CHECK_POINTS = {
    "ipi:sent": "lwkt_send_ipiq is about to push a message (dest, fid, arg, called: the cycle it was entered)",
    "ipi:received": "lwkt_process_ipiq read a message's function and argument (source, fid, arg)",
    "ipi:finished": "the function of the oldest message from a source returned (source)",
    "ipi:waited": "lwkt_wait_ipiq saw the destination's read index pass a message (dest, seq)",
    "token:enter": "this CPU entered a token's protected region (tok)",
    "token:leave": "a thread of this CPU released a token (tok)",
    "token:given_away": "this CPU handed a token it held to another (tok)",
    "token:reheld": "the running thread owns a token again after lwkt_regettoken (tok), lost or not",
    "token:handoff": "a token asked for by IPI arrived (cycles: since the request)",
    "mplock:acquired": "a TRY of the MP lock succeeded",
    "mplock:try_failed": "a TRY of the MP lock failed: another CPU holds it",
    "mplock:released": "the RELEASE of the MP lock was acknowledged",
    "mplock:busted": "the MP-lock watchdog freed a stopped CPU's lock with BUST (cpu)",
    "thread:woken": "a thread was taken off a wait queue (td)",
    "thread:blocking": "a thread is about to block on a wait queue (td)",
    "thread:resumed": "a thread runs again after a switch (td)",
    "td_switch:entered": "lwkt_switch, entered at a cycle, hands the core to a thread (td, cycle)",
    "td_switch:next": "the SMP machine switch is about to run a thread, the MP lock already handed over (td)",
    "hardclock:tick": "an SMP hardclock interrupt ran",
}

#: Every tracepoint a callback may be put on.
TRACEPOINTS = {**INTERLEAVING_POINTS, **CHECK_POINTS}


class System:
    """The kernel instances of a run and the services they share.

    Parameters
    ----------
    cores : list of Core
        One per kernel instance: ``up`` runs seed v1.12 on the first core alone,
        ``smp`` runs v1.18 on every core given.
    mode : "up" or "smp"
    fifo_depth : int
        Depth of the SoC's IPI FIFOs (the seed's MAXCPUFIFO).
    trace : object with ``emit(cycle, cpu, tid, thread, event, **fields)``
        Where kernel events go (``sim/contract/trace.py``).
    hardware : Hardware or None
        Probes that read hardware without a bus cycle: the MP-lock owner the trace records.
    hardclock_period : int
        Cycles between timer interrupts; 0 leaves the timer off.
    untimely_switch : int
        Initial value of the sysctl ``lwkt.untimely_switch``.
    faults : set of fault names (see ``sim/contract/catalogue.py``)
        Fault injection switched on for this run; the kernel consults it where a
        fault acts inside firmware (``delayed-complete``).
    seed : int
        Seeds the per-CPU random streams of fault injection.
    cost_model : CostModel
        Cycles of kernel execution (``firmware/cost_model.py``): DEFAULT, or ZERO to spend none.
    ram_words : int
        The shared RAM's size (SMP: the layout of ``firmware/ram_layout.py`` must fit).
    bugs : set of planted-bug names (BUGS)
        Known scheduling bugs switched on, for the tests that show the scoreboard catches them.
    """

    def __init__(
        self,
        cores: list[Core],
        *,
        mode: str = "up",
        fifo_depth: int = SocConfig.fifo_depth,
        trace,
        hardware: Hardware | None = None,
        hardclock_period: int = 0,
        untimely_switch: int = 0,
        faults: frozenset[str] = frozenset(),
        seed: int = 1,
        cost_model: CostModel = DEFAULT,
        ram_words: int = SocConfig.ram_words,
        bugs: frozenset[str] = frozenset(),
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        unknown = set(map(str, bugs)) - set(BUGS)
        if unknown:
            raise ValueError(f"unknown planted bug {sorted(unknown)[0]!r}; known: {', '.join(BUGS)}")
        self.bugs = frozenset(Bug(name) for name in bugs)
        self.mode = mode
        self.faults = frozenset(faults)
        self.seed = seed
        self.cost_model = cost_model
        self.hardware = hardware
        self._fault_rngs: dict[int, random.Random] = {}
        self.uses_ipi = mode == "smp"
        self.hardclock_period = hardclock_period
        self.hardclock_hooks: list[Callable[[Lwkt], Awaitable[None]]] = []
        #: Tracepoints: name -> callbacks run (synchronously, taking the kernel and the point's
        #: fields) when a kernel passes that point. Names: TRACEPOINTS.
        self.tracepoints: dict[str, list[Callable[..., None]]] = {}
        #: Called with (kernel, record) for every trace record a kernel emits.
        self.record_observers: list[Callable[[Lwkt, dict], None]] = []
        # debug.mplock_cli 0 opens the interrupts-off stretches of get_mplock/rel_mplock (for tests
        # that show why they are there).
        self.settings = {"lwkt.untimely_switch": int(untimely_switch), "lwkt.token_debug": 0, "debug.mplock_cli": 1}
        self.trace = trace
        self.panic: KernelPanic | None = None
        self.outcome: str | None = None
        #: Called once when the run ends (finish or panic); the machine sets it.
        self.on_finish: Callable[[], None] | None = None
        self._tid = 0
        cores = list(cores[:1] if mode == "up" else cores)
        self.ncpu = len(cores)
        self.fifo_depth = fifo_depth
        #: The shared RAM's layout (SMP): every object more than one CPU touches lives there.
        self.ram = RamLayout(self.ncpu, ram_words) if mode == "smp" else None
        #: Thread structures by the first word of their shared record: the pointer an IPI carries.
        self.thread_records: dict[int, Thread] = {}
        self._token_names: dict[int, str] = {}
        #: The kernel's wait-message strings, numbered as the words td_wmesg holds (0 is NULL).
        self.wmesgs: dict[str, int] = {}
        self._waitq_names: dict[int, str] = {}
        self._ipi_names = dict(KERNEL_IPI_FUNCS)
        self._ipi_user: dict[str, Callable] = {}
        if mode == "smp":
            from .smp import LwktSmp

            self.kernels = [LwktSmp(self, core) for core in cores]
        else:
            self.kernels = [Lwkt(self, core) for core in cores]

    # -- shared bookkeeping --------------------------------------------------------------------

    def fault_rng(self, cpu: int) -> random.Random:
        """CPU ``cpu``'s random stream for fault injection (independent of the others)."""
        if cpu not in self._fault_rngs:
            self._fault_rngs[cpu] = random.Random(self.seed * 7919 + cpu)
        return self._fault_rngs[cpu]

    def next_tid(self) -> int:
        self._tid += 1
        return self._tid

    @property
    def untimely_switch(self) -> int:
        return self.settings["lwkt.untimely_switch"]

    @property
    def token_debug(self) -> int:
        return self.settings["lwkt.token_debug"]

    # -- shared memory and IPI function ids ------------------------------------------------------

    def bug(self, bug: Bug) -> bool:
        """Planted bug ``bug`` is switched on (the verification's own tests only)."""
        if not isinstance(bug, Bug):
            raise TypeError(f"system.bug takes a Bug, not {bug!r}")
        return bug in self.bugs

    def new_token(self, name: str = "") -> Token:
        """A token; in the SMP build its fields get three words of shared RAM (zero: CPU 0 owns it)."""
        if self.mode == "up":
            return Token(name=name)
        word = self.ram.new_token(name)
        self._token_names[word] = name
        return Token(name=name, ram_word=word)

    def new_waitqueue(self, name: str) -> WaitQueue:
        """A wait queue; in the SMP build its token and queue live in shared RAM."""
        if self.mode == "up":
            w = WaitQueue(name=name, wa_token=self.new_token(f"{name}.token"))
            Lwkt.lwkt_init_wait(w)
            return w
        base = self.ram.new_waitqueue(name)
        self._waitq_names[base] = name
        self._token_names[base] = f"{name}.token"
        return WaitQueue(name=name, wa_token=Token(name=f"{name}.token", ram_word=base), ram_word=base)

    def new_data(self, name: str, words: int = 1, guard=None) -> int:
        """Shared-RAM words for a workload (SMP), guarded by a token, "mplock" or nothing; returns
        the bus address of the first."""
        if isinstance(guard, Token):
            guard = Guard("token", guard.ram_word)
        elif guard == "mplock":
            guard = MPLOCK
        return self.ram.address(self.ram.new_data(name, words, guard or FREE))

    def waitqueue_at(self, word: int) -> WaitQueue:
        """The wait queue whose shared words start at ``word`` (a td_wait value): a pointer, as in C."""
        return WaitQueue(name=self._waitq_names.get(word, f"wq@{word}"), wa_token=self.token_at(word), ram_word=word)

    def token_at(self, word: int) -> Token:
        return Token(name=self._token_names.get(word, f"tok@{word}"), ram_word=word)

    def thread_at(self, record: int) -> Thread:
        """The thread structure whose shared record starts at ``record``."""
        return self.thread_records[record]

    def register_ipi(self, name: str, func: Callable) -> int:
        """Make ``async func(kernel, arg)`` callable by ``lwkt_send_ipiq(cpu, name, arg)``."""
        if name not in self._ipi_names:
            self._ipi_names[name] = max(self._ipi_names.values()) + 1
        self._ipi_user[name] = func
        return self._ipi_names[name]

    def ipi_func_id(self, name: str) -> int:
        return self._ipi_names[name]

    def ipi_func_name(self, fid: int) -> str:
        for name, value in self._ipi_names.items():
            if value == fid:
                return name
        raise KeyError(f"unknown IPI function id {fid}")

    def ipi_user_func(self, name: str) -> Callable:
        return self._ipi_user[name]

    def on_tracepoint(self, name: str, callback: Callable[..., None]) -> None:
        """Run ``callback(kernel, **fields)`` each time a kernel passes tracepoint ``name``."""
        if name not in TRACEPOINTS:
            raise KeyError(f"unknown tracepoint {name!r}; known: {', '.join(TRACEPOINTS)}")
        self.tracepoints.setdefault(name, []).append(callback)

    def sysctl(self, name: str) -> int:
        """Read a sysctl by name: ``lwkt.switch_count`` (summed over CPUs), ``lwkt.untimely_switch``."""
        if name in self.settings:
            return self.settings[name]
        prefix, _, counter = name.partition(".")
        if prefix == "lwkt" and counter in self.kernels[0].counters:
            return sum(k.counters[counter] for k in self.kernels)
        raise KeyError(f"unknown sysctl {name!r}; known: {', '.join(self.sysctl_names())}")

    def sysctl_set(self, name: str, value: int) -> None:
        if name not in self.settings:
            raise KeyError(f"sysctl {name!r} is read-only or unknown")
        self.settings[name] = int(value)

    def sysctl_names(self) -> list[str]:
        names = set(self.settings) | {f"lwkt.{c}" for k in self.kernels for c in k.counters}
        return sorted(names)

    def counters(self) -> dict:
        """Every counter, per CPU and in total."""
        per_cpu = []
        for k in self.kernels:
            entry = {
                "cpu": k.gd_cpuid,
                **k.counters,
                "hardclock_ticks": k.hardclock_ticks,
                "interrupts": k.interrupts_taken,
                "interrupts_deferred": k.interrupts_deferred,
                "threads_allocated": k.threads_allocated,
                "threads_freed": k.threads_freed,
                "free_cache": k.gd_tdfreecount,
                "work_cycles": k.cpu.work_cycles,
                "kernel_cycles": k.cpu.kernel_cycles,
                "idle_cycles": k.cpu.idle_cycles,
            }
            per_cpu.append(entry)
        total = {}
        for entry in per_cpu:
            for key, value in entry.items():
                if key != "cpu":
                    total[key] = total.get(key, 0) + value
        result = {
            "mode": self.mode,
            "settings": dict(self.settings),
            "cost_model": self.cost_model.name,
            "sysctl": {
                f"lwkt.{c}": self.sysctl(f"lwkt.{c}") for c in COUNTERS + (SMP_COUNTERS if self.mode == "smp" else ())
            },
            "per_cpu": per_cpu,
            "total": total,
            "interrupt_landings": [k.landings.as_dict() for k in self.kernels],
        }
        return result

    # -- outcome -------------------------------------------------------------------------------

    def on_panic(self, panic: KernelPanic) -> None:
        if self.panic is None:
            self.panic = panic
            e = panic.exception
            fields = {"exception": f"{e['type']} at {e['file']}:{e['line']}"} if e else {}
            self.trace.emit(panic.cycle, panic.cpu, panic.tid, panic.thread, "panic", message=panic.message, **fields)
            self.finish("panic")

    def finish(self, outcome: str = "done") -> None:
        if self.outcome is None:
            self.outcome = outcome
            if self.on_finish is not None:
                self.on_finish()
