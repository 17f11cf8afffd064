"""The shared-RAM layout: where every kernel object that more than one CPU touches lives.

One module allocates all of it, as ``hdl/memory_map.py`` places every
register: tokens, wait queues, the shared
part of each thread record, and the words workloads share. Each region says
what guards it, so the RAM race detector (``sim/tb/race.py``) can check every
bus access against the lock that must be held:

- ``token``: the CPU that owns the token (its ``t_cpu`` word) may access it;
- ``mplock``: the CPU that owns the MP lock may access it;
- ``writer``: only one CPU writes it (a per-CPU word); anyone reads;
- ``free``: the synchronisation words themselves (token words), unchecked.

A guard may cover writes only (``reads_guarded=False``): a word the seed reads
without a lock on purpose (``td_cpu``, read to pick an IPI's destination).

The layout is static for a configuration: fixed pools sized from the CPU
count, checked against the RAM size when a run is configured
(:func:`required_words`), so a RAM too small is a usage error before anything
runs. ``docs/ram-layout.md`` is generated from it (``lwkt-soc ram-layout``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hdl import memory_map as mm

__all__ = [
    "Guard",
    "Region",
    "RamLayout",
    "LayoutError",
    "TOKEN_FIELDS",
    "WAITQ_FIELDS",
    "THREAD_FIELDS",
    "required_words",
    "FREE",
    "MPLOCK",
]

#: Word offsets of a token (lwkt_token).
TOKEN_FIELDS = {"t_cpu": 0, "t_reqcpu": 1, "t_gen": 2}
#: Word offsets of a wait queue (lwkt_wait): its token first, as in C, then the queue.
WAITQ_FIELDS = {"t_cpu": 0, "t_reqcpu": 1, "t_gen": 2, "wa_head": 3, "wa_tail": 4, "wa_count": 5, "wa_gen": 6}
#: Word offsets of the shared part of a thread record. Links hold record numbers + 1 (0 is NULL).
THREAD_FIELDS = {
    "td_cpu": 0,
    "td_flags": 1,
    "td_wait": 2,
    "td_wmesg": 3,
    "td_refs": 4,
    "td_wnext": 5,
    "td_wprev": 6,
    "td_pri": 7,
    "td_mpcount": 8,
}
TOKEN_WORDS = len(TOKEN_FIELDS)
WAITQ_WORDS = len(WAITQ_FIELDS)
THREAD_WORDS = len(THREAD_FIELDS)

#: Pool sizes per configuration (tokens and wait queues are objects a workload creates at boot).
TOKENS = 32
DATA_WORDS = 128


def waitqueues(ncpu: int) -> int:
    """Wait queues: a few shared ones and one per CPU (the random workload gives each reaping CPU
    its own exit queue), 16 at least, so that configurations up to 12 CPUs keep their layout."""
    return max(16, ncpu + 4)


def thread_records(ncpu: int) -> int:
    """Thread records: idle threads, interrupt threads and a workload's threads, with room to spare."""
    return 16 + 12 * ncpu


def required_words(ncpu: int) -> int:
    """RAM words the SMP kernel's layout needs on ``ncpu`` CPUs."""
    return TOKENS * TOKEN_WORDS + waitqueues(ncpu) * WAITQ_WORDS + thread_records(ncpu) * THREAD_WORDS + DATA_WORDS


class LayoutError(Exception):
    """The RAM is too small for the configuration, or a pool ran out."""


@dataclass(frozen=True)
class Guard:
    """What a CPU must hold to access a region: ``kind`` token/mplock/writer/free, ``arg`` the
    token's first word or the writer's CPU."""

    kind: str
    arg: int | None = None
    reads_guarded: bool = True

    def describe(self) -> str:
        text = {
            "token": f"token at word {self.arg}",
            "mplock": "MP lock",
            "writer": f"written by cpu {self.arg}",
            "free": "none (synchronisation words)",
        }[self.kind]
        return text if self.reads_guarded or self.kind in ("free", "writer") else text + " (writes)"


FREE = Guard("free")
MPLOCK = Guard("mplock")


@dataclass(frozen=True)
class Region:
    name: str
    base: int
    words: int
    guard: Guard
    doc: str = ""

    def contains(self, word: int) -> bool:
        return self.base <= word < self.base + self.words


@dataclass
class _Pool:
    name: str
    base: int
    count: int
    size: int
    used: int = 0
    doc: str = ""
    names: list[str] = field(default_factory=list)

    def take(self, what: str) -> int:
        if self.used >= self.count:
            raise LayoutError(f"out of {self.name}: all {self.count} are in use")
        word = self.base + self.used * self.size
        self.used += 1
        self.names.append(what)
        return word


class RamLayout:
    """The shared RAM of one run: static pools, and the regions allocated from them so far.

    Parameters
    ----------
    ncpu : int
    ram_words : int   the SoC's RAM size (checked: at least :func:`required_words`)
    """

    def __init__(self, ncpu: int, ram_words: int):
        need = required_words(ncpu)
        if ram_words < need:
            raise LayoutError(
                f"the shared RAM has {ram_words} words; the SMP kernel on {ncpu} CPUs needs "
                f"{need} (use --ram-words {1 << (need - 1).bit_length()})"
            )
        self.ncpu = ncpu
        self.ram_words = ram_words
        word = 0
        self.tokens = _Pool("tokens", word, TOKENS, TOKEN_WORDS, doc="t_cpu, t_reqcpu, t_gen")
        word += TOKENS * TOKEN_WORDS
        self.waitqueues = _Pool(
            "wait queues",
            word,
            waitqueues(ncpu),
            WAITQ_WORDS,
            doc="its token (3 words), then head, tail, count, generation",
        )
        word += self.waitqueues.count * WAITQ_WORDS
        self.threads = _Pool("thread records", word, thread_records(ncpu), THREAD_WORDS, doc=", ".join(THREAD_FIELDS))
        word += self.threads.count * THREAD_WORDS
        self.data = _Pool("data words", word, DATA_WORDS, 1, doc="workload and scenario words")
        word += DATA_WORDS
        self.end = word
        self.regions: list[Region] = []

    # -- allocation --------------------------------------------------------------------------------

    def new_token(self, name: str) -> int:
        """A token's first word; its words are the protocol itself (unguarded)."""
        base = self.tokens.take(name)
        self.regions.append(Region(f"token {name}", base, TOKEN_WORDS, FREE, "t_cpu, t_reqcpu, t_gen"))
        return base

    def new_waitqueue(self, name: str) -> int:
        """A wait queue's first word: its token, then the queue words the token guards."""
        base = self.waitqueues.take(name)
        self.regions.append(Region(f"waitqueue {name}.token", base, TOKEN_WORDS, FREE, "t_cpu, t_reqcpu, t_gen"))
        self.regions.append(
            Region(
                f"waitqueue {name}",
                base + TOKEN_WORDS,
                WAITQ_WORDS - TOKEN_WORDS - 1,
                Guard("token", base),
                "head, tail, count",
            )
        )
        # The seed reads the generation after blocking, when the token may be lost ("doesn't
        # matter for gen update"): only its writes need the token.
        self.regions.append(
            Region(
                f"waitqueue {name}.gen",
                base + WAITQ_FIELDS["wa_gen"],
                1,
                Guard("token", base, reads_guarded=False),
                "generation",
            )
        )
        return base

    def new_thread_record(self, tid: int) -> int:
        """A thread record's first word (the record is not a region of its own: its fields' guards
        depend on the thread's state; see :meth:`thread_field_guard`)."""
        return self.threads.take(f"td {tid}")

    def new_data(self, name: str, words: int = 1, guard: Guard = FREE) -> int:
        """``words`` consecutive words of workload data guarded by ``guard``; returns the first."""
        first = None
        for i in range(words):
            word = self.data.take(f"{name}[{i}]")
            first = word if first is None else first
        self.regions.append(Region(name, first, words, guard))
        return first

    # -- lookups -----------------------------------------------------------------------------------

    @staticmethod
    def address(word: int) -> int:
        return mm.RAM.addr("WORD", index=word)

    @staticmethod
    def word_of(address: int) -> int:
        return (address - mm.RAM.base) >> 2

    def region_at(self, word: int) -> Region | None:
        for region in self.regions:
            if region.contains(word):
                return region
        return None

    def thread_record_at(self, word: int) -> tuple[int, str] | None:
        """(record's first word, field name) when ``word`` is in the thread-record pool."""
        pool = self.threads
        if not pool.base <= word < pool.base + pool.count * pool.size:
            return None
        offset = (word - pool.base) % pool.size
        return word - offset, next(name for name, o in THREAD_FIELDS.items() if o == offset)

    def waitqueue_at(self, word: int) -> int | None:
        """A wait queue's first word when ``word`` is a wait queue's base."""
        pool = self.waitqueues
        if pool.base <= word < pool.base + pool.used * pool.size and (word - pool.base) % pool.size == 0:
            return word
        return None

    def pools(self) -> list[_Pool]:
        return [self.tokens, self.waitqueues, self.threads, self.data]
