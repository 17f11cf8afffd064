"""The SMP build's cross-CPU synchronisation: tokens in shared RAM and the MP lock register.

Tokens (seed v1.18): a token is owned by a CPU. Its ``t_cpu``, ``t_reqcpu`` and
``t_gen`` are three words of the shared RAM. A CPU that wants a token it does
not own asks the owner by IPI (``lwkt_gettoken_remote`` runs there and hands
the token over) and waits for that IPI to be carried out.

The MP lock: ``td_mpcount`` counts a thread's holds; the hardware MPLOCK
register is the lock itself (TRY to claim, OWNER to check, RELEASE to free).
``get_mplock`` and ``rel_mplock`` change the count and the register with
interrupts off, as ``mplock.s`` of the seed's date does (``pushfl; cli`` ...
``popfl``): an interrupt that found the lock held with a count of 0 would make
``lwkt_preempt`` panic ("held and no count").
"""

from __future__ import annotations

from hdl import memory_map as mm
from .bugs import Bug
from .frames import kernel_function
from .ram_layout import TOKEN_FIELDS
from .thread import TDPRI_CRIT, Token

__all__ = ["TokenMixin", "MpLockMixin"]


class TokenMixin:
    """Tokens of :class:`firmware.smp.LwktSmp`, kept in shared RAM."""

    def _token_word(self, tok: Token, field: str) -> int:
        if tok.ram_word is None:
            self.panic(
                f"token {tok.name or '?'} has no shared-RAM words: the SMP build needs tokens "
                f"from System.new_token / new_waitqueue"
            )
        return mm.RAM.addr("WORD", index=tok.ram_word + TOKEN_FIELDS[field])

    async def tok_get(self, tok: Token, field: str) -> int:
        return await self.cpu.read(self._token_word(tok, field))

    async def tok_set(self, tok: Token, field: str, value: int) -> None:
        await self.cpu.write(self._token_word(tok, field), value)

    async def lwkt_inittoken(self, tok: Token) -> None:
        """Zero the token: CPU 0 owns it."""
        self.cpu.charge(self.costs["lwkt_inittoken"])
        for field in TOKEN_FIELDS:
            await self.tok_set(tok, field, 0)

    async def _token_fetch(self, tok: Token) -> bool:
        """Ask the owner for ``tok`` until this CPU owns it; True when it had to ask."""
        asked = False
        start = self.exec_cycle
        while (owner := await self.tok_get(tok, "t_cpu")) != self.gd_cpuid:
            self.kassert(0 <= owner < self.system.ncpu, f"token {tok.name}: bad owner {owner}")
            if self.system.token_debug:
                self.event("token_request", token=tok.name, owner=owner)
            self.count("token_requests")
            self.cpu.charge(self.costs["lwkt_gettoken_request"])
            asked = True
            self.tracepoint("lwkt_gettoken:request")
            # The message is the token's address; the owner learns who asks from the FIFO it came on.
            seq = await self.lwkt_send_ipiq(owner, "lwkt_gettoken_remote", tok.ram_word)
            await self.lwkt_wait_ipiq(owner, seq)
        if asked:
            self.tracepoint("token:handoff", cycles=self.cycle - start)
            self.event("token_acquired", token=tok.name, cycles=self.cycle - start)
        return asked

    @kernel_function
    async def lwkt_gettoken(self, tok: Token) -> int:
        """Own ``tok`` (asking its owner by IPI); returns with a critical section held and
        the token's new generation."""
        self.crit_enter()
        td = self.curthread
        if td.td_pri > 2000:  # the seed's INVARIANTS check: runaway critical-section nesting
            td.td_pri = 1000
            self.panic("too HIGH!")
        if not self.system.bug(Bug.TOKEN_SKIP_FETCH) and not await self._token_fetch(tok):
            self.count("token_fast")  # already this CPU's: no message
        gen = (await self.tok_get(tok, "t_gen") + 1) & 0xFFFF_FFFF
        await self.tok_set(tok, "t_gen", gen)
        self.tracepoint("token:enter", tok=tok)
        return gen

    @kernel_function
    async def lwkt_trytoken(self, tok: Token) -> int:
        """Take ``tok`` if this CPU owns it (1, critical section held), else 0.

        (The seed returns 0 still inside the critical section it entered; this
        leaves it, since no caller ever releases it on failure.)
        """
        self.crit_enter()
        if await self.tok_get(tok, "t_cpu") != self.gd_cpuid:
            self.count("trytoken_failed")
            await self.crit_exit()
            return 0
        await self.tok_set(tok, "t_gen", (await self.tok_get(tok, "t_gen") + 1) & 0xFFFF_FFFF)
        self.tracepoint("token:enter", tok=tok)
        return 1

    @kernel_function
    async def lwkt_reltoken(self, tok: Token) -> None:
        if await self.tok_get(tok, "t_cpu") == self.gd_cpuid:
            await self.tok_set(tok, "t_cpu", await self.tok_get(tok, "t_reqcpu"))
        self.tracepoint("token:leave", tok=tok)
        await self.crit_exit()

    @kernel_function
    async def lwkt_regettoken(self, tok: Token) -> int:
        """Own ``tok`` again if it was lost; returns its generation (bumped when it was lost)."""
        self.kassert(self.curthread.td_pri >= TDPRI_CRIT, "lwkt_regettoken outside a critical section")
        if await self.tok_get(tok, "t_cpu") != self.gd_cpuid:
            self.count("regettoken_lost")  # lost while blocked: the caller's generation is stale
            await self._token_fetch(tok)
            await self.tok_set(tok, "t_gen", (await self.tok_get(tok, "t_gen") + 1) & 0xFFFF_FFFF)
            self.tracepoint("token:enter", tok=tok)
        # The CPU owns it; so does this thread again, whichever thread of the CPU fetched it
        # while this one was switched out (tokens belong to CPUs).
        self.tracepoint("token:reheld", tok=tok)
        return await self.tok_get(tok, "t_gen")

    async def lwkt_gentoken(self, tok: Token, gen: int) -> tuple[int, int]:
        """Re-own ``tok``; returns (0, gen) when nobody took it since ``gen``, else (-1, new gen).

        (C updates ``*gen``; here the new generation is returned.)
        """
        current = await self.lwkt_regettoken(tok)
        if current == gen:
            return 0, gen
        return -1, current

    @kernel_function
    async def lwkt_gettoken_remote(self, tok: Token, cpu: int) -> None:
        """Runs on the owner by IPI from ``cpu``: hand the token to it."""
        if await self.tok_get(tok, "t_cpu") == self.gd_cpuid:
            if self.system.token_debug:
                self.event("token_give", token=tok.name, to=cpu)
            await self.tok_set(tok, "t_cpu", cpu)
            await self.tok_set(tok, "t_reqcpu", cpu)
            self.tracepoint("token:given_away", tok=tok)


class MpLockMixin:
    """The MP lock of :class:`firmware.smp.LwktSmp` over the MPLOCK register."""

    async def mp_lock_held(self) -> bool:
        """MP_LOCK_HELD(): this CPU owns the lock (OWNER register)."""
        return await self.cpu.read(mm.MPLOCK.OWNER) == self.gd_cpuid

    def _mplock_owner(self) -> int | None:
        """The lock's owner for the trace, read by the checker probe (no bus cycle: the run is unchanged)."""
        hardware = self.system.hardware
        return hardware.mplock_owner() if hardware is not None else None

    async def cpu_try_mplock(self) -> bool:
        self.cpu.charge(self.costs["cpu_try_mplock"])
        if await self.cpu.read(mm.MPLOCK.TRY) == 1:
            self._tried = True
            self.event("mplock_try", ok=True, owner=self._mplock_owner())
            self.count("mplock_acquires")
            self.tracepoint("mplock:acquired")
            return True
        self._tried = False
        self.event("mplock_try", ok=False, owner=self._mplock_owner())
        self.count("mplock_contended")
        self.tracepoint("mplock:try_failed")
        return False

    async def cpu_rel_mplock(self) -> None:
        await self.cpu.write(mm.MPLOCK.RELEASE, 0)
        self.event("mplock_release", owner=self._mplock_owner())
        # Here the write is acknowledged: the hand-off to a waiting CPU starts.
        self.tracepoint("mplock:released")

    @kernel_function
    async def get_mplock(self) -> None:
        """Take the MP lock for the current thread (recursively); switch away while it is busy.

        The count goes up before the lock is tried (lwkt_switch relies on it) and both
        happen with interrupts off."""
        td = self.curthread
        saved = self._mplock_cli()
        td.td_mpcount += 1
        self.event("mp_count", op="get", mpcount=td.td_mpcount)
        self.tracepoint("get_mplock:counted")
        if await self.mp_lock_held():
            self.intr_restore(saved)
            await self.cpu.boundary()
            return
        got = await self.cpu_try_mplock()
        self.intr_restore(saved)
        await self.cpu.boundary()
        if not got:
            self.event("mplock_wait")
            # lwkt_switch only runs this thread again once it has the lock for it.
            k = await self.lwkt_switch()
            k.kassert(await k.mp_lock_held(), "get_mplock: resumed without the MP lock")
            k.count("mplock_handoff")  # handed over after waiting for another CPU

    def _mplock_cli(self) -> int:
        """Interrupts off for an MP-lock transition (unless the debug.mplock_cli setting is 0)."""
        if self.system.settings["debug.mplock_cli"]:
            return self.intr_disable()
        return self.curthread.td_intr_off

    @kernel_function
    async def rel_mplock(self) -> None:
        """Drop one hold; the last one frees the lock, with interrupts off from the count to the
        RELEASE (never the lock held with a count of 0 at an interrupt boundary)."""
        td = self.curthread
        self.kassert(td.td_mpcount > 0, f"rel_mplock: td #{td.td_id} does not hold the MP lock")
        saved = self._mplock_cli()
        td.td_mpcount -= 1
        self.event("mp_count", op="rel", mpcount=td.td_mpcount)
        if td.td_mpcount == (1 if self.system.bug(Bug.MPLOCK_RELEASE_EARLY) else 0):
            self.tracepoint("rel_mplock:dropped")
            if await self.mp_lock_held():
                await self.cpu_rel_mplock()
        self.intr_restore(saved)
        await self.cpu.boundary()
