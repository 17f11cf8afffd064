"""The SMP kernel's shared records in RAM: thread records and wait queues, reached only by bus accesses.

What another CPU may read or write of a thread (its owner CPU, its flags, its
wait queue and the links on it, its wait message, its hold count, and the
priority and MP count lwkt_acquire takes over) lives in the thread's record in shared RAM
(``firmware/ram_layout.py``); so does each wait queue (head, tail, count,
generation, after its token). A wait queue is a doubly linked list through
the records' ``td_wnext``/``td_wprev`` words; a link is a record's first word
(0 is NULL), the way C links thread pointers.

The Python ``Thread`` is the owner's private copy (run-queue links,
critical-section count, MP count, context): only its CPU touches it. The
owner writes the record's copy whenever the thread may move (publish_state);
lwkt_acquire reads it back on the new CPU (load_state). The execution context
(the thread's stack and registers, which the seed's new CPU also finds in
memory) stays the simulation's coroutine.
"""

from __future__ import annotations

from .bugs import Bug
from .frames import kernel_function
from .ram_layout import THREAD_FIELDS, WAITQ_FIELDS, RamLayout
from .thread import SHARED_TDF, TDF, TDPRI_CRIT, SmpThread, Thread, WaitQueue

__all__ = ["SharedRecordsMixin"]


class SharedRecordsMixin:
    """Thread records and wait queues in shared RAM, for :class:`firmware.smp.LwktSmp`."""

    thread_class = SmpThread

    def _new_thread(self) -> Thread:
        td = super()._new_thread()
        td.td_rec = self.system.ram.new_thread_record(td.td_id)
        self.system.thread_records[td.td_rec] = td
        return td

    # -- field access ------------------------------------------------------------------------------

    @staticmethod
    def _record(td: Thread | int) -> int:
        return td if isinstance(td, int) else td.td_rec

    async def td_get(self, td: Thread | int, field: str) -> int:
        """Read a field of a thread's shared record (a bus read)."""
        return await self.cpu.read(RamLayout.address(self._record(td) + THREAD_FIELDS[field]))

    async def td_set(self, td: Thread | int, field: str, value: int) -> None:
        await self.cpu.write(RamLayout.address(self._record(td) + THREAD_FIELDS[field]), value)

    async def wq_get(self, w: WaitQueue | int, field: str) -> int:
        base = w if isinstance(w, int) else w.ram_word
        return await self.cpu.read(RamLayout.address(base + WAITQ_FIELDS[field]))

    async def wq_set(self, w: WaitQueue | int, field: str, value: int) -> None:
        base = w if isinstance(w, int) else w.ram_word
        await self.cpu.write(RamLayout.address(base + WAITQ_FIELDS[field]), value & 0xFFFF_FFFF)

    def own(self, record: int) -> Thread:
        """The thread structure of ``record``, which must belong to this CPU (a loud bug otherwise)."""
        td = self.system.thread_at(record)
        self._mine(td, "own")
        return td

    # -- publishing the owner's state ---------------------------------------------------------------

    async def publish_thread(self, td: Thread) -> None:
        """A thread (re)initialised on this CPU: its whole shared record, as lwkt_init_thread's bzero."""
        for field in ("td_wait", "td_wmesg", "td_refs", "td_wnext", "td_wprev", "td_pri", "td_mpcount"):
            await self.td_set(td, field, 0)
        await self.td_set(td, "td_cpu", self.gd_cpuid)
        td.td_written = {"td_pri": 0, "td_mpcount": 0}
        await self.publish_state(td)

    async def _write_back(self, td: Thread, field: str, value: int) -> None:
        """Write a word of the owner's state into the record when it differs from what this CPU
        last wrote there (``td_written``)."""
        if td.td_written.get(field) != value:
            td.td_written[field] = value
            await self.td_set(td, field, value)

    async def publish_state(self, td: Thread) -> None:
        """Write the thread's flags when they changed; and while it is on no run queue, not running
        and not preempted (so lwkt_acquire may take it), its priority and MP count as well: the
        record is all the acquiring CPU reads of it (the seed's new CPU reads ``struct thread``)."""
        await self._write_back(td, "td_flags", int(td.td_flags))
        if td.td_flags & SHARED_TDF:
            return
        await self._write_back(td, "td_pri", td.td_pri)
        if not self.system.bug(Bug.SAVE_SKIPS_MPCOUNT):
            await self._write_back(td, "td_mpcount", td.td_mpcount)

    async def load_state(self, td: Thread, flags: int) -> None:
        """lwkt_acquire's half of :meth:`publish_state`: this CPU takes ``td`` over (the caller holds
        the MP lock) and makes its private part what the record says; nothing of the old owner's is
        read. A thread off its CPU sits inside lwkt_switch's critical section (a new one inside
        lwkt_init_thread's), so a record without one was never written."""
        pri = await self.td_get(td, "td_pri")
        mpcount = await self.td_get(td, "td_mpcount")
        self.kassert(pri >= TDPRI_CRIT, f"lwkt_acquire: td #{td.td_id}'s record holds td_pri {pri}: never saved")
        td.td_gd = self
        td.td_flags = TDF(flags)
        td.td_pri = pri
        td.td_mpcount = mpcount
        td.td_written = {"td_flags": flags, "td_pri": pri, "td_mpcount": mpcount}

    def not_waiting(self, td: Thread) -> bool:
        """The seed's KASSERT(td->td_wait == NULL), a debug build's check: it reads the record's
        td_wait through the checkers' probe (no bus cycle, so runs keep their timing; a bus read
        would cost one per yield). Without the probe it cannot tell, and passes."""
        hardware = self.system.hardware
        if hardware is None:
            return True
        return hardware.ram_peek(RamLayout.address(td.td_rec + THREAD_FIELDS["td_wait"])) == 0

    def wmesg_id(self, wmesg: str | None) -> int:
        """A wait message as a word: an index in the kernel's string table (0 is NULL)."""
        if wmesg is None:
            return 0
        table = self.system.wmesgs
        if wmesg not in table:
            table[wmesg] = len(table) + 1
        return table[wmesg]

    # -- wait queues ----------------------------------------------------------------------------------

    async def waitq_append(self, w: WaitQueue, record: int) -> None:
        """TAILQ_INSERT_TAIL (the caller holds the queue's token)."""
        tail = await self.wq_get(w, "wa_tail")
        await self.td_set(record, "td_wprev", tail)
        await self.td_set(record, "td_wnext", 0)
        if tail:
            await self.td_set(tail, "td_wnext", record)
        else:
            await self.wq_set(w, "wa_head", record)
        await self.wq_set(w, "wa_tail", record)
        await self.wq_set(w, "wa_count", await self.wq_get(w, "wa_count") + 1)

    async def waitq_remove(self, w: WaitQueue, record: int) -> None:
        """TAILQ_REMOVE and --wa_count (the caller holds the queue's token)."""
        prev = await self.td_get(record, "td_wprev")
        nxt = await self.td_get(record, "td_wnext")
        if prev:
            await self.td_set(prev, "td_wnext", nxt)
        else:
            await self.wq_set(w, "wa_head", nxt)
        if nxt:
            await self.td_set(nxt, "td_wprev", prev)
        else:
            await self.wq_set(w, "wa_tail", prev)
        count = await self.wq_get(w, "wa_count")
        self.kassert(count > 0, f"wait queue {w.name}: removing from an empty queue")
        await self.wq_set(w, "wa_count", count - 1)

    def waitq_view(self, w: WaitQueue) -> dict:
        """What ``w`` holds in shared RAM now, for its trace records: ``count`` and the thread ids
        ``queued`` from the head along ``td_wnext``, read by the checkers' probe (the RAM as the bus
        traffic left it: no bus cycle, the run is unchanged). Empty without the probe."""
        hardware = self.system.hardware
        if hardware is None:
            return {}

        def peek(word: int) -> int:
            return hardware.ram_peek(RamLayout.address(word))

        queued: list[int | str] = []
        record = peek(w.ram_word + WAITQ_FIELDS["wa_head"])
        while record and len(queued) <= len(self.system.thread_records):
            td = self.system.thread_records.get(record)
            if td is None:  # a link to no thread record: shown as the raw word, and the walk ends
                queued.append(f"record {record}")
                break
            queued.append(td.td_id)
            record = peek(record + THREAD_FIELDS["td_wnext"])
        return {"count": peek(w.ram_word + WAITQ_FIELDS["wa_count"]), "queued": queued}

    async def waitq_records(self, w: WaitQueue) -> list[int]:
        """The records on a wait queue, head first (the caller holds its token)."""
        records = []
        record = await self.wq_get(w, "wa_head")
        while record:
            records.append(record)
            record = await self.td_get(record, "td_wnext")
        return records

    # -- holds ----------------------------------------------------------------------------------------

    async def _assert_mplock(self, what: str) -> None:
        """``what`` changes a thread other CPUs share: the MP lock (the seed's BGL) must be held."""
        if self.curthread.td_mpcount == 0 or not await self.mp_lock_held():
            self.panic(f"{what} without the MP lock")

    @kernel_function(cost="lwkt_hold")
    async def lwkt_hold(self, td: Thread) -> None:
        await self._assert_mplock("lwkt_hold")
        await self.td_set(td, "td_refs", await self.td_get(td, "td_refs") + 1)

    @kernel_function(cost="lwkt_hold")
    async def lwkt_rele(self, td: Thread) -> None:
        await self._assert_mplock("lwkt_rele")
        refs = await self.td_get(td, "td_refs")
        self.kassert(refs > 0, f"lwkt_rele: td #{td.td_id} has no references")
        await self.td_set(td, "td_refs", refs - 1)

    async def shared_flags(self, td: Thread | int) -> TDF:
        """The thread's flags as its owner last published them."""
        return TDF(await self.td_get(td, "td_flags"))
