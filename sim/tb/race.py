"""A race detector on the shared-RAM bus traffic: a lockset check per access.

It watches what the cores' ports carry (``BusMaster.add_monitor``), never the
firmware's Python, and checks each access to shared RAM against the guard the
layout (``firmware/ram_layout.py``) gives the word:

- a region guarded by a token: the accessing CPU must own the token, as the
  last write of the token's ``t_cpu`` word on the bus says (RAM starts zeroed:
  every token starts on CPU 0);
- a region guarded by the MP lock: the CPU must own it (``mplock_owner``, a probe
  of the RTL register);
- a ``writer`` region: only that CPU writes it;
- a thread record: each field by its own rule (:meth:`RaceDetector._thread_field`),
  from the record's ``td_cpu`` and ``td_wait`` as last written on the bus.

A word no region holds is never accessed (a stray pointer), and only a token's owner moves its
``t_cpu`` to another CPU (the hand-off).

Ownership is per CPU, as in the seed, and holds are per context: a context is a
thread at an interrupt nesting level (the thread itself at 0; an interrupt frame or
an IPI drain on its stack above it), told by ``context_of``. When a context of a CPU
holds a token (``entered`` it through lwkt_gettoken or lwkt_trytoken and has not
``left``), another context of the same CPU that touches what the token guards
without a hold of its own races with it, though the CPU owns the token: an interrupt
handler in the middle of a thread's update. A token given away (``given_away``)
drops the holds its CPU had on it; lwkt_regettoken (``reheld``) gives the running
context its hold back, whichever thread of the CPU fetched the token meanwhile
(two threads of a CPU may both hold a token across their switches: each one
re-gets it after it blocked).

Each violation becomes a race record (``races``) and goes to ``on_race``; the
machine turns it into a panic with :func:`describe`'s message.
"""

from __future__ import annotations

from collections.abc import Callable

from firmware.ram_layout import RamLayout, Region

__all__ = ["RaceDetector", "describe"]


def _cpu(cpu: int | None) -> str:
    return "nobody" if cpu is None else f"cpu {cpu}"


def describe(race: dict) -> str:
    """The one-line message of a race (the machine's panic message follows ``check failed: ``)."""
    verb = "wrote" if race["access"] == "write" else "read"
    return (
        f"race: cycle {race['cycle']}: cpu {race['cpu']} {verb} {race['address']:#010x} "
        f"(word {race['word']}, {race['region']}) without {race['guard']}, held by {race['holder']}"
    )


class RaceDetector:
    """Checks every shared-RAM access it is given against the layout's guards.

    Parameters
    ----------
    layout : RamLayout
        The run's layout; regions allocated after the detector was made are seen too.
    mplock_owner : callable returning the MP lock's owner CPU or None (free)
        ``SocBench.mplock_owner``; without it nobody holds the MP lock.
    on_race : callable taking a race record, or None

    Attributes
    ----------
    races : list of dict
        ``cycle, cpu, address, word, region, access, guard, holder`` per violation.
    accesses : int   shared-RAM accesses seen
    checked : int    those that had a guard to check (free words excluded)
    """

    def __init__(
        self,
        layout: RamLayout,
        mplock_owner: Callable[[], int | None] | None = None,
        on_race: Callable[[dict], None] | None = None,
    ):
        self.layout = layout
        self.mplock_owner = mplock_owner or (lambda: None)
        self.on_race = on_race
        self.races: list[dict] = []
        self.accesses = 0
        self.checked = 0
        self.token_owner: dict[int, int] = {}  # token's first word -> CPU (absent: 0)
        self.td_owner: dict[int, int] = {}  # record's first word -> td_cpu (absent: never written)
        self.td_wait: dict[int, int] = {}  # record's first word -> td_wait (absent: 0)
        self.td_refs: dict[int, int] = {}  # record's first word -> td_refs (absent: 0)
        #: Who may tell contexts apart: cpu -> (thread id, nesting level), or None (per CPU only).
        self.context_of: Callable[[int], tuple[int, int]] | None = None
        #: token's first word -> {(cpu, thread id, level): holds}
        self.holds: dict[int, dict[tuple[int, int, int], int]] = {}
        self._regions: dict[int, Region] = {}
        self._indexed = 0

    # -- wiring ------------------------------------------------------------------------------------

    def attach(self, masters) -> RaceDetector:
        """Watch the ports of ``masters`` (``SocBench.masters``)."""
        for master in masters:
            master.add_monitor(self)
        return self

    def detach(self, masters) -> None:
        for master in masters:
            master.remove_monitor(self)

    # -- the check ---------------------------------------------------------------------------------

    def __call__(self, cycle: int, cpu: int, address: int, write: bool, value: int) -> None:
        """One access answered with ack (the ``BusMaster`` monitor signature)."""
        self.accesses += 1
        word = RamLayout.word_of(address)
        record = self.layout.thread_record_at(word)
        if record is not None:
            self.checked += 1
            base, field = record
            problem = self._thread_field(cpu, base, field, write, value)
            region = f"td record {(base - self.layout.threads.base) // self.layout.threads.size} {field}"
        else:
            region_obj = self._region_at(word)
            if region_obj is None:
                # No layout region holds the word: nothing of the kernel's or a workload's lives
                # there, so any access is a stray pointer.
                self.checked += 1
                problem, region = ("an allocated region", "nobody"), "unallocated"
            else:
                problem = self._region(cpu, region_obj.guard, write)
                if region_obj.guard.kind != "free":
                    self.checked += 1
                region = region_obj.name
            if write and self._is_token_word(word):
                # Only the owner hands a token over (lwkt_gettoken_remote runs on it): a write that
                # moves t_cpu from another CPU would be adopted as a hand-off it could not make.
                owner = self.owner_of_token(word)
                if problem is None and value != owner and cpu != owner:
                    problem = ("ownership of the token (t_cpu)", f"cpu {owner}")
                self.token_owner[word] = value
        if problem is not None:
            guard, holder = problem
            race = {
                "cycle": cycle,
                "cpu": cpu,
                "address": address,
                "word": word,
                "region": region,
                "access": "write" if write else "read",
                "guard": guard,
                "holder": holder,
            }
            self.races.append(race)
            if self.on_race is not None:
                self.on_race(race)

    def owner_of_token(self, token_word: int) -> int:
        return self.token_owner.get(token_word, 0)

    # -- holds per context ---------------------------------------------------------------------------

    def _context(self, cpu: int) -> tuple[int, int, int]:
        """(cpu, thread id, nesting level): the context running on ``cpu`` now."""
        return (cpu, *self.context_of(cpu))

    def entered(self, cpu: int, token_word: int) -> None:
        """The current context of ``cpu`` holds the token at ``token_word`` (once more)."""
        if self.context_of is not None:
            key = self._context(cpu)
            holders = self.holds.setdefault(token_word, {})
            holders[key] = holders.get(key, 0) + 1

    def left(self, cpu: int, token_word: int) -> None:
        if self.context_of is not None:
            key = self._context(cpu)
            holders = self.holds.get(token_word, {})
            if holders.get(key, 0) > 1:
                holders[key] -= 1
            else:
                holders.pop(key, None)

    def reheld(self, cpu: int, token_word: int) -> None:
        """lwkt_regettoken: the current context of ``cpu`` holds the token again (once, if its hold
        was lost with a hand-over; another thread of the CPU may have fetched it back meanwhile)."""
        if self.context_of is not None:
            key = self._context(cpu)
            holders = self.holds.setdefault(token_word, {})
            holders[key] = max(holders.get(key, 0), 1)

    def given_away(self, cpu: int, token_word: int) -> None:
        """``cpu`` handed the token over: none of its contexts holds it any more."""
        holders = self.holds.get(token_word, {})
        for key in [k for k in holders if k[0] == cpu]:
            del holders[key]

    def _other_context(self, cpu: int, token_word: int) -> tuple[str, str] | None:
        """A race when another context of ``cpu`` holds the token and the current one does not."""
        holders = self.holds.get(token_word)
        if not holders or self.context_of is None:
            return None
        me = self._context(cpu)
        if holders.get(me):
            return None
        others = sorted(k for k in holders if k[0] == cpu)
        if not others:
            return None
        _, tid, level = others[0]
        _, my_tid, my_level = me
        where = "thread" if level == 0 else f"interrupt level {level}"
        return (
            f"a hold of the token at word {token_word} in this context (td {my_tid}, level {my_level})",
            f"cpu {cpu} td {tid} at {where}",
        )

    # -- regions -----------------------------------------------------------------------------------

    def _region_at(self, word: int) -> Region | None:
        regions = self.layout.regions
        if len(regions) != self._indexed:
            # Regions are only ever appended: index the new ones (the first region wins, as region_at).
            for region in regions[self._indexed :]:
                for w in range(region.base, region.base + region.words):
                    self._regions.setdefault(w, region)
            self._indexed = len(regions)
        return self._regions.get(word)

    def _is_token_word(self, word: int) -> bool:
        """A t_cpu word: a token of the tokens pool, or the token at the head of a wait queue."""
        for pool in (self.layout.tokens, self.layout.waitqueues):
            offset = word - pool.base
            if 0 <= offset < pool.count * pool.size and offset % pool.size == 0:
                return True
        return False

    def _region(self, cpu: int, guard, write: bool) -> tuple[str, str] | None:
        """(guard text, holder) when ``cpu`` may not make this access, else None."""
        kind = guard.kind
        if kind == "free" or (not write and not guard.reads_guarded):
            return None
        if kind == "token":
            return self._need_token(cpu, guard.arg)
        if kind == "mplock":
            return self._need_mplock(cpu)
        if kind == "writer":
            return None if not write or cpu == guard.arg else (guard.describe(), f"cpu {guard.arg}")
        raise ValueError(f"unknown guard kind {kind!r}")

    def _need_token(self, cpu: int, token_word: int, why: str = "") -> tuple[str, str] | None:
        owner = self.owner_of_token(token_word)
        if owner != cpu:
            return (f"token at word {token_word}{why}", f"cpu {owner}")
        return self._other_context(cpu, token_word)

    def _need_mplock(self, cpu: int) -> tuple[str, str] | None:
        owner = self.mplock_owner()
        return None if owner == cpu else ("MP lock", _cpu(owner))

    # -- thread records ----------------------------------------------------------------------------

    def _thread_field(self, cpu: int, base: int, field: str, write: bool, value: int) -> tuple[str, str] | None:
        """The rule of one thread-record field ("owner": the CPU td_cpu names); a write updates the
        state after it is checked.

        td_cpu: written by the owner or the MP-lock owner (lwkt_acquire); td_flags, td_pri,
        td_mpcount: written by the owner, read by it or the MP-lock owner (lwkt_acquire); td_wait:
        see :meth:`_td_wait`; td_wnext, td_wprev, td_wmesg: under the token of the queue td_wait
        names, by the owner while it names none; td_refs: written under the MP lock. Other reads are
        free.
        """
        owner = self.td_owner.get(base)
        wait = self.td_wait.get(base, 0)
        problem = None
        if owner is None:
            # td_cpu never written: the creator is still filling in a record no one else knows.
            pass
        elif field == "td_cpu":
            if write and cpu != owner:
                # lwkt_acquire moves another CPU's thread under the MP lock.
                mp = self.mplock_owner()
                if mp != cpu:
                    problem = ("td_cpu's owner or the MP lock", f"td_cpu cpu {owner}, MP lock {_cpu(mp)}")
        elif field in ("td_flags", "td_pri", "td_mpcount") and cpu != owner:
            if write:
                problem = ("ownership of the thread (td_cpu)", f"td_cpu cpu {owner}")
            elif (mp := self.mplock_owner()) != cpu:
                # Another CPU may read them only under the MP lock (lwkt_acquire).
                problem = ("td_cpu's owner or the MP lock", f"td_cpu cpu {owner}, MP lock {_cpu(mp)}")
        elif field == "td_wait":
            problem = self._td_wait(cpu, owner, wait, write, value)
        elif field in ("td_wnext", "td_wprev", "td_wmesg"):
            if wait:
                problem = self._need_token(cpu, wait, " (td_wait)")
            elif cpu != owner:
                problem = ("ownership of the thread (td_cpu; td_wait is 0)", f"td_cpu cpu {owner}")
        elif field == "td_refs":
            # lwkt_init_thread's bzero of a thread from the owner's free cache stores 0 over 0
            # without the MP lock; a write that changes nothing loses no lwkt_hold.
            reinit = cpu == owner and value == 0 and self.td_refs.get(base, 0) == 0
            problem = self._need_mplock(cpu) if write and not reinit else None
        if write:
            if field == "td_cpu":
                self.td_owner[base] = value
            elif field == "td_wait":
                self.td_wait[base] = value
            elif field == "td_refs":
                self.td_refs[base] = value
        return problem

    def _td_wait(self, cpu: int, owner: int, wait: int, write: bool, value: int) -> tuple[str, str] | None:
        """td_wait: set under the new queue's token, cleared under the old one's; read by anyone."""
        if write:
            if value:
                return self._need_token(cpu, value, " (the queue td_wait is set to)")
            if wait:
                return self._need_token(cpu, wait, " (the queue td_wait is cleared from)")
            # Clearing an already clear td_wait: only the owner may, or it races with a block.
            return None if cpu == owner else ("ownership of the thread (td_cpu; td_wait is 0)", f"td_cpu cpu {owner}")
        # Reads are free: lwkt_schedule reads td_wait without the token to learn which token to try
        # (as the seed does) and reads it again under the token before it acts on it.
        return None
