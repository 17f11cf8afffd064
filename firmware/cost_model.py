"""The cost model: cycles each kernel operation spends computing, off the bus.

Kernel code charges these cycles to its core (``Core.charge``/``Core.spend``);
they are spent as interruptible computation, so interrupts land inside kernel
functions as on a real CPU. Bus accesses are not in the table: each costs the
cycles the RTL takes to answer it.

Tables (``--cost-model``):

- ``zero``: kernel work takes no cycles (only its bus accesses do).
- ``default``: :data:`DEFAULT_SMP` for the smp build (seed v1.18) and
  :data:`DEFAULT_UP` for the up build (v1.12), at one instruction per cycle. For the
  seed's own functions the figure is the number of instructions the function
  body executes on its common path (callees excluded), measured by compiling
  the seed against stub headers and counting with valgrind's callgrind
  (``python -m bench.seed_cost``, ``bench/seed_cost/README.md``). The
  machine-dependent pieces (the context switch, the interrupt vector, splz, the
  MP-lock primitives) are counted from the i386 assembly of the same date, and
  the allocators from their fast paths; each entry says which.
- a JSON file: ``{"base": "default" or "zero", "cycles": {"operation": cycles, ...}}``;
  operations it does not name keep the base tables' figures (in both builds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from collections.abc import Mapping

from .builds import MODES

__all__ = [
    "CostModel",
    "ZERO",
    "DEFAULT",
    "DEFAULT_SMP",
    "DEFAULT_UP",
    "OPERATIONS",
    "load_cost_model",
    "CostModelError",
    "COST_MODEL_NAMES",
    "DEFAULT_COST_MODEL",
]

#: Every operation the kernel charges, with what it stands for.
OPERATIONS: Mapping[str, str] = MappingProxyType(
    {
        # thread2.h and the run queues
        "crit_enter": "td_pri += TDPRI_CRIT (also crit_exit_noyield)",
        "crit_exit": "td_pri -= TDPRI_CRIT, the negative check and the gd_reqpri compare",
        "_lwkt_enqueue": "insert at the tail of the priority's run queue, set the mask bit",
        "_lwkt_dequeue": "remove from the run queue",
        # scheduling
        "lwkt_switch": "lwkt_switch's body on its shortest path (to the idle thread, or resuming a preempted one)",
        "lwkt_switch_scan": "one run queue looked at by lwkt_switch (bsrl, TAILQ_FIRST, mask clean-up)",
        "lwkt_switch_pick": "the thread picked: its rotation to the tail of its queue",
        "td_switch": "the machine switch: cpu_lwkt_switch and cpu_lwkt_restore",
        "lwkt_preempt": "lwkt_preempt's tests up to a miss",
        "lwkt_preempt_hit": "what a successful preemption adds (MP-count lending, flags)",
        "lwkt_yield_quick": "lwkt_yield_quick with nothing to do",
        "lwkt_yield": "lwkt_yield's body",
        "lwkt_schedule_self": "lwkt_schedule_self's body",
        "lwkt_schedule": "lwkt_schedule's body",
        "lwkt_deschedule_self": "lwkt_deschedule_self's body",
        "lwkt_deschedule": "lwkt_deschedule's body",
        "lwkt_setpri": "lwkt_setpri's body",
        "lwkt_block": "lwkt_block's body",
        "lwkt_signal": "lwkt_signal's body",
        "lwkt_signal_wake": "one thread taken off the wait queue by lwkt_signal",
        # tokens
        "lwkt_gettoken": "lwkt_gettoken's body, token already here",
        "lwkt_gettoken_request": "one round of asking the token's owner (the IPI functions excluded)",
        "lwkt_trytoken": "lwkt_trytoken's body",
        "lwkt_reltoken": "lwkt_reltoken's body",
        "lwkt_regettoken": "lwkt_regettoken's body",
        "lwkt_gettoken_remote": "lwkt_gettoken_remote's body",
        "lwkt_inittoken": "lwkt_inittoken's body",
        # threads
        "lwkt_alloc_thread": "lwkt_alloc_thread's body",
        "lwkt_init_thread": "lwkt_init_thread's body without the bzero",
        "bzero_thread": "bzero of a struct thread",
        "lwkt_free_thread": "lwkt_free_thread's body",
        "zalloc": "the zone allocator's fast path (a thread structure)",
        "kmem_alloc": "a kernel stack from kmem_alloc",
        "lwkt_create": "lwkt_create's body (the name formatting excluded)",
        "lwkt_exit": "lwkt_exit's body",
        "lwkt_acquire": "lwkt_acquire's body",
        "lwkt_hold": "lwkt_hold or lwkt_rele",
        # IPIs
        "lwkt_send_ipiq": "lwkt_send_ipiq's body",
        "lwkt_wait_ipiq": "lwkt_wait_ipiq's body",
        "lwkt_wait_ipiq_poll": "one more poll of lwkt_wait_ipiq",
        "lwkt_process_ipiq": "lwkt_process_ipiq's body",
        "lwkt_process_ipiq_source": "one other CPU's queue looked at by lwkt_process_ipiq",
        "lwkt_process_ipiq_message": "one message run by lwkt_process_ipiq (its function excluded)",
        # the MP lock (mplock.s)
        "get_mplock": "get_mplock",
        "rel_mplock": "rel_mplock",
        "cpu_try_mplock": "cpu_try_mplock",
        # interrupts (the vector code, splz, hardclock)
        "intr_entry": "the interrupt vector: frame, critical-section test, gd_reqpri",
        "intr_dispatch": "claiming and dispatching one source",
        "splz": "splz's test of pending work",
        "hardclock": "hardclock's own work",
        "sched_ithd": "sched_ithd",
    }
)

COST_MODEL_NAMES = ("zero", "default")
#: The cost model of a run that names none.
DEFAULT_COST_MODEL = "default"


class CostModelError(ValueError):
    """A cost table that cannot be used (unknown operation, bad number, unreadable file)."""


@dataclass(frozen=True)
class CostModel:
    """A named cost model: cycles per operation for each build (``up``: seed v1.12, ``smp``: v1.18)."""

    name: str
    tables: Mapping[str, Mapping[str, int]]

    def cycles(self, mode: str) -> Mapping[str, int]:
        """The table of build ``mode``."""
        return self.tables[mode]


def _table(**cycles: int) -> Mapping[str, int]:
    missing = set(OPERATIONS) - set(cycles)
    assert not missing and set(cycles) <= set(OPERATIONS), missing or set(cycles) - set(OPERATIONS)
    return MappingProxyType(cycles)


# Instructions per call (i386, gcc -O2), measured on the seeds by bench/seed_cost.py (see
# bench/seed_cost/README.md for the harness and bench/seed_cost.json for every case), except:
#   td_switch: cpu_lwkt_switch (13 instructions) and cpu_lwkt_restore (6), swtch.s of 2003, plus the call;
#   get_mplock, rel_mplock, cpu_try_mplock: their paths through mplock.s v1.6 (the seed's companion,
#     2003/07/10), INVARIANTS checks included;
#   bzero_thread: the word stores of i386 bzero (rep stosl) over sizeof(struct thread), 144 bytes in
#     v1.18 and 116 in v1.12, plus 10 of set-up;
#   intr_entry, intr_dispatch, splz, hardclock, sched_ithd: estimates of the instruction sequences of
#     the era (the vector's PUSH_FRAME, crit test and POP_FRAME; the claim and a table call; splz's
#     pending test; the clock tick's bookkeeping; an ithread wake-up), not measured;
#   zalloc, kmem_alloc: 0. The allocators are VM code outside the LWKT core and nothing here measures
#     them; a JSON table can give them a figure (a kernel stack from kmem_alloc is thousands of
#     instructions, so a fresh thread would dominate every short run).
# Split entries come from differences of measured cases: lwkt_switch 53 (to idle) with 12 per queue
# looked at and 13 for the rotation of the one picked (78 = 53 + 12 + 13 when one queue holds a
# thread); lwkt_preempt 25 up to a miss and 87 for a hit; lwkt_gettoken 26 when the token is here
# and 48 with one request round; lwkt_wait_ipiq 25 and 8 per poll; lwkt_process_ipiq 26, 17 per
# source, 10 per message.
DEFAULT_SMP = _table(
    crit_enter=4,
    crit_exit=13,
    _lwkt_enqueue=25,
    _lwkt_dequeue=22,
    lwkt_switch=53,
    lwkt_switch_scan=12,
    lwkt_switch_pick=13,
    td_switch=20,
    lwkt_preempt=25,
    lwkt_preempt_hit=62,
    lwkt_yield_quick=7,
    lwkt_yield=7,
    lwkt_schedule_self=19,
    lwkt_schedule=39,
    lwkt_deschedule_self=14,
    lwkt_deschedule=16,
    lwkt_setpri=25,
    lwkt_block=43,
    lwkt_signal=26,
    lwkt_signal_wake=27,
    lwkt_gettoken=26,
    lwkt_gettoken_request=22,
    lwkt_trytoken=14,
    lwkt_reltoken=13,
    lwkt_regettoken=20,
    lwkt_gettoken_remote=13,
    lwkt_inittoken=9,
    lwkt_alloc_thread=44,
    lwkt_init_thread=35,
    bzero_thread=46,
    lwkt_free_thread=36,
    zalloc=0,
    kmem_alloc=0,
    lwkt_create=44,
    lwkt_exit=29,
    lwkt_acquire=34,
    lwkt_hold=8,
    lwkt_send_ipiq=51,
    lwkt_wait_ipiq=25,
    lwkt_wait_ipiq_poll=8,
    lwkt_process_ipiq=26,
    lwkt_process_ipiq_source=17,
    lwkt_process_ipiq_message=10,
    get_mplock=12,
    rel_mplock=13,
    cpu_try_mplock=6,
    intr_entry=30,
    intr_dispatch=10,
    splz=15,
    hardclock=20,
    sched_ithd=15,
)
# v1.12 where it differs (smaller structures, no MP code); the SMP-only operations never run there.
DEFAULT_UP = _table(
    **{
        **DEFAULT_SMP,
        "_lwkt_dequeue": 20,
        "lwkt_switch": 41,
        "lwkt_switch_scan": 11,
        "lwkt_switch_pick": 5,
        "lwkt_preempt": 40,
        "lwkt_preempt_hit": 15,
        "lwkt_schedule": 28,
        "lwkt_setpri": 21,
        "lwkt_signal_wake": 19,
        "lwkt_gettoken": 6,
        "lwkt_regettoken": 2,
        "lwkt_init_thread": 21,
        "bzero_thread": 39,
        "lwkt_free_thread": 29,
        "lwkt_create": 38,
    }
)

ZERO = CostModel("zero", MappingProxyType({mode: MappingProxyType({op: 0 for op in OPERATIONS}) for mode in MODES}))
DEFAULT = CostModel("default", MappingProxyType({"up": DEFAULT_UP, "smp": DEFAULT_SMP}))


def load_cost_model(spec: str) -> CostModel:
    """``zero``, ``default`` or the path of a JSON table; raises :class:`CostModelError` with one line."""
    if spec in (None, "", "zero"):
        return ZERO
    if spec == "default":
        return DEFAULT
    path = Path(spec)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CostModelError(f"cost model {spec!r}: no such file (use zero, default or a JSON file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CostModelError(f"cost model {spec}: cannot read it ({exc})") from None
    except json.JSONDecodeError as exc:
        raise CostModelError(f"cost model {spec}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cycles", {}), dict):
        raise CostModelError(f'cost model {spec}: expected an object with "cycles": {{operation: cycles}}')
    unknown_keys = set(data) - {"base", "cycles", "name"}
    if unknown_keys:
        raise CostModelError(f"cost model {spec}: unknown key {sorted(unknown_keys)[0]!r} (keys: base, cycles, name)")
    base = data.get("base", "default")
    if base not in COST_MODEL_NAMES:
        raise CostModelError(f"cost model {spec}: base must be zero or default, not {base!r}")
    changes = {}
    for operation, value in data.get("cycles", {}).items():
        if operation not in OPERATIONS:
            raise CostModelError(f"cost model {spec}: unknown operation {operation!r} (known: {', '.join(OPERATIONS)})")
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1_000_000:
            raise CostModelError(
                f"cost model {spec}: {operation} must be a whole number of cycles in 0..1000000, not {value!r}"
            )
        changes[operation] = value
    name = data.get("name") or path.name
    if not isinstance(name, str):
        raise CostModelError(f"cost model {spec}: name must be a string")
    tables = (ZERO if base == "zero" else DEFAULT).tables
    return CostModel(
        name, MappingProxyType({mode: MappingProxyType({**table, **changes}) for mode, table in tables.items()})
    )
