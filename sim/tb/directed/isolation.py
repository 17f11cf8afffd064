"""Isolation between CPUs on the integrated SoC, run on Icarus and Verilator.

For each victim CPU v (one cocotb test per victim) v is put into a known, non-reset
state through its own port: sources in service, ENABLE/PRIO, a timer that has fired
(PENDING, not acknowledged) and is re-armed far in the future with a PERIOD, its
DEBUG registers, the MP lock, entries in ``FIFO[v][x]`` (one full with WOF set) and in
``FIFO[x][v]`` (one empty with ROE set), SOFT raised, external lines routed to it.
Then every other CPU a, in turn, attacks it:

1. ``release``: MPLOCK.RELEASE of the lock v owns (ignored, ERR.NONOWNER set, then
   cleared by a) and a TRY (returns 0);
2. ``complete``: INTC.COMPLETE of every source id and of ids beyond them;
3. ``write``: every legal writable address of every per-CPU window (SYS, IPI_TX,
   IPI_RX, IPI_PENDING, INTC, TIMER, DEBUG; addresses from ``mm.windows``) and
   MPLOCK.RELEASE/ERR, each with 0, all ones and 0xA5A5A5A5; after each write a's own
   register is read back (or its effect checked) so the write is known to have landed;
4. ``read``: every legal readable address (CLAIM, CYCLE_LO and TRY included);
5. ``errors``: every illegal (word, direction) of every block window: every word
   of the register span, aliases of every register above the span and the window's
   last word; for one attacker per victim test (rotating, so every CPU does it once)
   every word of each window (the RAM window always sampled). Each must end in
   ``err``, and this phase must change nothing of a either.

After each phase every CPU but a (for ``errors``: every CPU) reads back all its
readable state (SYS except CYCLE_LO, IPI_TX/IPI_RX of every slot, RX_PENDING,
INTC except CLAIM, TIMER, DEBUG, MPLOCK OWNER/ERR/ACQUIRES, ROUTE) and its RTL
state is probed (INTC enable/in_service/soft/prio, TIMER compare/period/enable/
armed/pending, SYS cycle_hi, DEBUG curthread/critdepth/pri, MP lock, FIFO indices
and flags); it must be identical to before. The only designed cross-CPU paths
are the FIFOs between a and v (a pushes into ``FIFO[a][v]`` through IPI_TX slot v and
pops ``FIFO[v][a]`` through IPI_RX slot v): those registers are compared against a
reference model of every FIFO fed with the accesses made, so v must see exactly
the pushes and pops a made there and nothing else. v's ``irq`` must not change and
v's ``debug.event`` must not pulse during the whole attack. At the end every FIFO
is drained and its entries compared with the model.

MPLOCK.BUST is the documented fault-recovery path that frees a lock another CPU
owns: ``mplock_bust_is_the_only_cross_cpu_release`` shows that BUST from any CPU
frees v's lock and changes nothing else of v.

The configuration comes from the run's run.json (its CPUs, FIFO depth, RAM words and external lines).
"""

from __future__ import annotations

import time

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge

from hdl import memory_map as mm
from sim.tb.testbench import SocBench
from sim.tb.directed.isolation_model import (
    ATTACK_CYCLE_HI,
    ATTACK_GLOBAL_WRITES,
    CONFIG,
    CTRL_ARMED,
    CTRL_ENABLE,
    CTRL_PENDING,
    MASK32,
    NONOWNER,
    PATTERNS,
    UNMAPPED,
    VICTIM_COMPARE_HI,
    VICTIM_CYCLE_HI,
    VICTIM_PRIO,
    ChangeMonitor,
    EventMonitor,
    Soc,
)


# -- the victim's state -----------------------------------------------------------------------------


def _others(soc: Soc, cpu: int) -> list[int]:
    return [x for x in range(soc.n) if x != cpu]


async def _push(soc: Soc, s: int, d: int, count: int, tag: int) -> None:
    for k in range(count):
        await soc.write(s, mm.IPI_TX.addr("TX_FUNC", slot=d), 0xF000_0000 | tag << 16 | s << 8 | d << 4 | k)
        await soc.write(s, mm.IPI_TX.addr("TX_ARG", slot=d), 0xA000_0000 | tag << 16 | s << 8 | d << 4 | k)


async def setup_victim(soc: Soc, v: int) -> None:
    """Put v (and, lightly, every other CPU) into a known, non-reset state through their own ports."""
    dut = soc.dut
    prio_mask = (1 << soc.cfg.prio_bits) - 1
    others = _others(soc, v)
    # The cycle counter jumps to a non-zero high word, so that CYCLE_HI latches mean something.
    soc.bench.probe("cycle").value = VICTIM_CYCLE_HI << 32
    await FallingEdge(dut.clk)
    # DEBUG
    await soc.write(v, mm.DEBUG.CURTHREAD, 0xC0DE_0000 | v)
    await soc.write(v, mm.DEBUG.CRITDEPTH, 3 + v)
    await soc.write(v, mm.DEBUG.PRI, 0x40 + v)
    await soc.write(v, mm.DEBUG.EVENT, 0xE000 + v)
    # TIMER: fire once (PENDING stays until ACK), then re-arm far in the future with a period.
    await soc.write(v, mm.TIMER.PERIOD, 0)
    await soc.write(v, mm.TIMER.COMPARE_HI, 0)
    await soc.write(v, mm.TIMER.COMPARE_LO, 0)
    await soc.write(v, mm.TIMER.CTRL, CTRL_ENABLE)
    for _ in range(10):
        if await soc.read(v, mm.TIMER.CTRL) & CTRL_PENDING:
            break
    else:
        raise AssertionError(f"CPU {v}: timer did not fire")
    await soc.write(v, mm.TIMER.COMPARE_HI, VICTIM_COMPARE_HI + v)
    await soc.write(v, mm.TIMER.COMPARE_LO, 0x1234_5000 + v)
    await soc.write(v, mm.TIMER.PERIOD, 0x777 + v)
    # The MP lock.
    assert await soc.read(v, mm.MPLOCK.TRY) == 1
    # FIFOs: v sends to everybody (the first one full and overflowed: WOF), everybody sends to v
    # (the second one empty, v pops it: ROE), and one entry between every two other CPUs.
    tx_counts = [soc.depth + 1, 1, 2, 3]
    rx_counts = [2, 0, soc.depth, 1]
    for i, x in enumerate(others):
        await _push(soc, v, x, tx_counts[i % 4], 1)
        await _push(soc, x, v, rx_counts[i % 4], 2)
        if rx_counts[i % 4] == 0:
            await soc.write(v, mm.IPI_RX.addr("RX_POP", slot=x), 0)
        await soc.write(v, mm.IPI_TX.addr("TX_FUNC", slot=x), 0xFEED_0000 | v << 8 | x)
    for s in others:
        for d in others:
            if s != d:
                await _push(soc, s, d, 1, 3)
    # External lines all routed to v and raised.
    for k in range(soc.cfg.ext_lines):
        await soc.write(v, mm.ROUTE.addr("ROUTE", index=k), v)
    if soc.cfg.ext_lines:
        dut.ext_irq.value = (1 << soc.cfg.ext_lines) - 1
    # INTC: priorities, sources 0..3 enabled (ext1.. pending but disabled), SOFT raised,
    # then claim twice: soft (7) and timer (5) end in service, IPI and ext0 stay candidates.
    prio = {k: VICTIM_PRIO.get(k, 0x10 + k) & prio_mask for k in range(soc.n_src)}
    for k, p in prio.items():
        await soc.write(v, mm.INTC.addr("PRIO", index=k), p)
    enable = (1 << min(4, soc.n_src)) - 1
    await soc.write(v, mm.INTC.ENABLE, enable)
    await soc.write(v, mm.INTC.SOFT_SET, 1)
    assert await soc.read(v, mm.INTC.CLAIM) == mm.SOURCE_SOFT
    assert await soc.read(v, mm.INTC.CLAIM) == mm.SOURCE_TIMER
    await soc.read(v, mm.SYS.CYCLE_LO)
    # From now on every CYCLE_LO read (the attackers') latches another high word than v's.
    soc.bench.probe("cycle").value = ATTACK_CYCLE_HI << 32
    await FallingEdge(dut.clk)
    # Check what v now reads.
    state = await soc.snapshot(v)
    pending = (1 << soc.n_src) - 1 if soc.cfg.ext_lines else 0b111
    expect = {
        "debug.CURTHREAD": 0xC0DE_0000 | v,
        "debug.CRITDEPTH": 3 + v,
        "debug.PRI": 0x40 + v,
        "timer.COMPARE_HI": VICTIM_COMPARE_HI + v,
        "timer.COMPARE_LO": 0x1234_5000 + v,
        "timer.PERIOD": 0x777 + v,
        "sys.CYCLE_HI": VICTIM_CYCLE_HI,
        "timer.CTRL": CTRL_ENABLE | CTRL_ARMED | CTRL_PENDING,
        "intc.ENABLE": enable,
        "intc.INSERVICE": 1 << mm.SOURCE_SOFT | 1 << mm.SOURCE_TIMER,
        "intc.PENDING": pending,
        "mplock.OWNER": v,
        "mplock.ERR": 0,
        "sys.CPUID": v,
        "rtl.irq": 1,
        "rtl.intc.soft": 1,
        "rtl.debug.curthread": 0xC0DE_0000 | v,
    }
    expect.update({f"intc.PRIO[{k}]": p for k, p in prio.items()})
    expect.update(soc.model_view(v))
    problems = soc.diff(expect, state)
    assert not problems, f"victim {v} setup:\n  " + "\n  ".join(problems)


# -- the attack -------------------------------------------------------------------------------------


class Attack:
    def __init__(self, soc: Soc, v: int, a: int, full_window: bool):
        self.soc, self.v, self.a, self.full_window = soc, v, a, full_window
        self.failures: list[str] = []
        self.tries = 0
        self.events_written: list[int] = []
        self.writes = 0
        self.reads = 0

    async def rd(self, addr: int) -> int:
        self.reads += 1
        return await self.soc.read(self.a, addr)

    async def wr(self, addr: int, value: int) -> None:
        self.writes += 1
        await self.soc.write(self.a, addr, value)

    def expect(self, ok: bool, text: str) -> None:
        if not ok:
            self.failures.append(f"CPU {self.a} (attacker of {self.v}): {text}")

    async def phase_release(self) -> None:
        v = self.v
        await self.wr(mm.MPLOCK.RELEASE, 0)
        self.expect(await self.rd(mm.MPLOCK.OWNER) == v, "RELEASE of v's lock changed OWNER")
        self.expect(await self.rd(mm.MPLOCK.ERR) == NONOWNER, "RELEASE by a non-owner did not set ERR.NONOWNER")
        await self.wr(mm.MPLOCK.ERR, NONOWNER)
        self.expect(await self.rd(mm.MPLOCK.ERR) == 0, "ERR.NONOWNER did not clear on writing 1")
        self.tries += 1
        self.expect(await self.rd(mm.MPLOCK.TRY) == 0, "TRY of a lock v owns returned 1")
        self.expect(await self.rd(mm.MPLOCK.OWNER) == v, "TRY by a changed OWNER")

    async def phase_complete(self) -> None:
        """COMPLETE of every source id and beyond; a has its own soft source in service meanwhile."""
        n = self.soc.n_src
        await self.wr(mm.INTC.addr("PRIO", index=mm.SOURCE_SOFT), 1)
        await self.wr(mm.INTC.ENABLE, 1 << mm.SOURCE_SOFT)
        await self.wr(mm.INTC.SOFT_SET, 1)
        self.expect(await self.rd(mm.INTC.CLAIM) == mm.SOURCE_SOFT, "could not claim its own soft source")
        beyond = [n, n + 1, 31, 32, 0x100 | mm.SOURCE_SOFT, 0x8000_0000 | mm.SOURCE_SOFT, MASK32]
        for ident in beyond:
            await self.wr(mm.INTC.COMPLETE, ident)
        self.expect(
            await self.rd(mm.INTC.INSERVICE) == 1 << mm.SOURCE_SOFT,
            "COMPLETE of an id that is no source ended its own soft source",
        )
        for ident in range(n):
            await self.wr(mm.INTC.COMPLETE, ident)
        self.expect(await self.rd(mm.INTC.INSERVICE) == 0, "COMPLETE 0..n-1 left its own sources in service")

    def legal_writes(self):
        """(name, address) of every legal write of a's per-CPU windows plus MPLOCK RELEASE/ERR."""
        out = []
        for win in self.soc.windows[self.a]:
            for word in range(win.span):
                if win.legal(word, write=True):
                    addr = win.block.base + 4 * word
                    name = mm.describe(addr)
                    if win.block.scope == "cpu" or name in ATTACK_GLOBAL_WRITES:
                        out.append((name, addr))
        return out

    async def phase_write(self) -> None:
        soc = self.soc
        err_before = 0
        # Make a's timer pending, so that ACK has something to clear.
        await self.wr(mm.TIMER.COMPARE_HI, 0)
        await self.wr(mm.TIMER.COMPARE_LO, 0)
        await self.wr(mm.TIMER.PERIOD, 0)
        await self.wr(mm.TIMER.CTRL, CTRL_ENABLE)
        await ClockCycles(soc.dut.clk, 2)
        self.expect(await self.rd(mm.TIMER.CTRL) & CTRL_PENDING, "own timer did not fire")
        writes = self.legal_writes()
        prio_mask = (1 << soc.cfg.prio_bits) - 1
        for p in PATTERNS:
            for name, addr in writes:
                if name == "mplock.ERR":
                    err_before = await self.rd(mm.MPLOCK.ERR)
                await self.wr(addr, p)
                if name == "debug.EVENT":
                    self.events_written.append(p)
                await self.own_effect(name, addr, p, prio_mask, err_before)
        await self.wr(mm.MPLOCK.ERR, NONOWNER)
        self.expect(await self.rd(mm.MPLOCK.ERR) == 0, "could not clear ERR")

    async def own_effect(self, name: str, addr: int, p: int, prio_mask: int, err_before) -> None:
        """The write of ``p`` to ``name`` did what it does to a's own state."""
        soc = self.soc
        block, _, reg = name.partition(".")
        view = soc.model_view(self.a)
        if block.startswith("ipi_tx["):
            slot = block[len("ipi_tx") :]
            for r in ("TX_FUNC", "TX_WINDEX", "TX_STATUS"):
                got = await self.rd(mm.IPI_TX.addr(r, slot=int(slot[1:-1])))
                self.expect(
                    got == view[f"ipi_tx{slot}.{r}"],
                    f"after {name} <- {p:#x}: ipi_tx{slot}.{r} = {got:#x}, model {view[f'ipi_tx{slot}.{r}']:#x}",
                )
        elif block.startswith("ipi_rx["):
            slot = block[len("ipi_rx") :]
            for r in ("RX_LEVEL", "RX_STATUS", "RX_ARG"):
                got = await self.rd(mm.IPI_RX.addr(r, slot=int(slot[1:-1])))
                self.expect(
                    got == view[f"ipi_rx{slot}.{r}"],
                    f"after {name} <- {p:#x}: ipi_rx{slot}.{r} = {got:#x}, model {view[f'ipi_rx{slot}.{r}']:#x}",
                )
        elif name == "intc.ENABLE":
            self.expect(await self.rd(addr) == p & ((1 << soc.n_src) - 1), f"{name} <- {p:#x} not read back")
        elif reg.startswith("PRIO["):
            self.expect(await self.rd(addr) == p & prio_mask, f"{name} <- {p:#x} not read back")
        elif name == "intc.COMPLETE":
            inservice = await self.rd(mm.INTC.INSERVICE)
            self.expect(p >= soc.n_src or not inservice >> p & 1, f"COMPLETE {p:#x} left its source in service")
        elif name in ("intc.SOFT_SET", "intc.SOFT_CLR"):
            bit = await self.rd(mm.INTC.PENDING) >> mm.SOURCE_SOFT & 1
            self.expect(bit == (name == "intc.SOFT_SET"), f"{name} did not change its own soft source")
        elif name in ("timer.COMPARE_LO", "timer.COMPARE_HI", "timer.PERIOD") or name in (
            "debug.CURTHREAD",
            "debug.CRITDEPTH",
            "debug.PRI",
        ):
            self.expect(await self.rd(addr) == p, f"{name} <- {p:#x} not read back")
        elif name == "timer.CTRL":
            self.expect(await self.rd(addr) & CTRL_ENABLE == p & CTRL_ENABLE, f"{name} <- {p:#x}: ENABLE not read back")
        elif name == "timer.ACK":
            self.expect(not await self.rd(mm.TIMER.CTRL) & CTRL_PENDING, "ACK left its own timer pending")
        elif name == "mplock.RELEASE":
            self.expect(await self.rd(mm.MPLOCK.ERR) == NONOWNER, "RELEASE by a non-owner did not set ERR")
            self.expect(await self.rd(mm.MPLOCK.OWNER) == self.v, "RELEASE by a non-owner changed OWNER")
        elif name == "mplock.ERR":
            want = 0 if p & NONOWNER else err_before
            self.expect(await self.rd(addr) == want, f"ERR <- {p:#x}: reads wrong")
        elif name == "debug.EVENT":
            pass  # checked through the event monitor
        else:
            self.expect(False, f"no own-effect check for {name}")

    async def phase_read(self) -> None:
        soc, a = self.soc, self.a
        for win in soc.windows[a]:
            words = range(win.span)
            if win.block is mm.RAM:
                words = sorted({0, 1, win.span // 2, win.span - 1})
            for word in words:
                if win.legal(word, write=False):
                    addr = win.block.base + 4 * word
                    value = await self.rd(addr)
                    name = mm.describe(addr)
                    if name == "mplock.TRY":
                        self.tries += 1
                        self.expect(value == 0, "TRY of v's lock returned 1")
                    elif name == "sys.CPUID":
                        self.expect(value == a, f"CPUID reads {value}")
                    elif name == "sys.CYCLE_HI":
                        self.expect(value == ATTACK_CYCLE_HI, f"CYCLE_HI after its CYCLE_LO read is {value:#x}")
                    elif name == "mplock.OWNER":
                        self.expect(value == self.v, f"OWNER reads {value:#x}")

    def error_words(self, win: mm.Window) -> list[int]:
        size = 1 << win.size_log2
        if self.full_window and win.block is not mm.RAM:
            return list(range(size))
        words = set(range(win.span))
        legal = [w for w in range(win.span) if win.legal(w, False) or win.legal(w, True)]
        if win.block is mm.RAM:
            legal = [0, 1, win.span - 1]
        for b in range(win.span_log2, win.size_log2):
            words.update({1 << b, (1 << b) + win.span - 1})
            words.update(w | 1 << b for w in legal)
        words.add(size - 1)
        return sorted(words)

    async def phase_errors(self) -> int:
        soc, a = self.soc, self.a
        tried = 0
        for win in soc.windows[a]:
            for word in self.error_words(win):
                addr = win.block.base + 4 * word
                for write in (False, True):
                    if not win.legal(word, write):
                        tried += 1
                        problem = await soc.expect_error(a, addr, write, PATTERNS[word % 3])
                        if problem:
                            self.failures.append(problem)
        for addr in UNMAPPED:
            assert mm.block_at(addr) is None, hex(addr)
            for write in (False, True):
                tried += 1
                problem = await soc.expect_error(a, addr, write)
                if problem:
                    self.failures.append(problem)
        return tried


async def run_round(soc: Soc, v: int, a: int, full_window: bool, log) -> dict:
    """Attacker ``a`` against every other CPU (``v`` being the prepared victim)."""
    watched = [c for c in range(soc.n) if c != a]
    attack = Attack(soc, v, a, full_window)
    failed_tries_before = await soc.read(v, mm.MPLOCK.FAILED_TRIES)
    before = {c: await soc.snapshot(c) for c in watched}
    soc.phase_counter = "attack_ok"
    start_ok = soc.counts["attack_ok"]
    for phase in ("release", "complete", "write", "read"):
        await getattr(attack, f"phase_{phase}")()
        assert not attack.failures, f"phase {phase}:\n  " + "\n  ".join(attack.failures[:20])
        for c in watched:
            before[c] = await soc.check(c, before[c], f"attacker {a}, phase {phase}")
    # Illegal accesses change nothing, a's own state included.
    before[a] = await soc.snapshot(a)
    errors = await attack.phase_errors()
    assert not attack.failures, "phase errors:\n  " + "\n  ".join(attack.failures[:20])
    for c in range(soc.n):
        await soc.check(c, before[c], f"attacker {a}, phase errors")
    soc.phase_counter = "setup"
    failed_tries = (await soc.read(v, mm.MPLOCK.FAILED_TRIES) - failed_tries_before) & MASK32
    assert failed_tries == attack.tries, f"FAILED_TRIES grew by {failed_tries}, a made {attack.tries} TRYs"
    ok = soc.counts["attack_ok"] - start_ok
    log.info(
        "attacker %d vs victim %d: %d legal accesses (%d writes, %d reads), %d illegal accesses%s",
        a,
        v,
        ok,
        attack.writes,
        attack.reads,
        errors,
        " (every word of every window)" if full_window else "",
    )
    return {"events": attack.events_written}


@cocotb.test()
@cocotb.parametrize(victim=list(range(CONFIG.ncpu)))
async def attackers_change_nothing_of_the_victim(dut, victim):
    """Every other CPU tries every access on the prepared victim; nothing of it changes."""
    t0 = time.perf_counter()
    bench = await SocBench(dut).start()
    soc = Soc(dut, bench)
    v = victim
    await setup_victim(soc, v)
    setup_accesses = soc.counts["setup"]
    irq_watch = ChangeMonitor(bench.masters[v].irq)
    events = {c: EventMonitor(dut, c) for c in range(soc.n)}
    full = (v + 1) % soc.n
    for a in _others(soc, v):
        result = await run_round(soc, v, a, a == full, dut._log)
        await FallingEdge(dut.clk)
        assert events[a].events == result["events"], (
            f"CPU {a}: EVENT writes {result['events']} showed as {events[a].events}"
        )
        for c in range(soc.n):
            if c != a:
                assert not events[c].events, f"CPU {c}: debug.event pulsed {events[c].events} during CPU {a}'s attack"
        events[a].events.clear()
    assert irq_watch.changes == 0, f"victim {v}: irq changed {irq_watch.changes} times during the attacks"
    assert bench.masters[v].irq.value == 1
    irq_watch.stop()
    for mon in events.values():
        mon.stop()
    # Every FIFO holds exactly what the model says (the attackers' pushes included).
    expected = {key: list(f.entries) for key, f in soc.fifo.items()}
    for s, d in soc.fifo:
        got = []
        for _ in range(soc.depth + 1):
            if not await soc.read(d, mm.IPI_RX.addr("RX_LEVEL", slot=s)):
                break
            got.append(
                (
                    await soc.read(d, mm.IPI_RX.addr("RX_FUNC", slot=s)),
                    await soc.read(d, mm.IPI_RX.addr("RX_ARG", slot=s)),
                )
            )
            await soc.write(d, mm.IPI_RX.addr("RX_POP", slot=s), 0)
        assert got == expected[(s, d)], f"FIFO[{s}][{d}] held {got}, model {expected[(s, d)]}"
    total = sum(m.transactions for m in bench.masters)
    wall = time.perf_counter() - t0
    dut._log.info(
        "ISOLATION victim %d: %d bus accesses (setup %d, snapshots %d, attack %d legal + %d illegal) in %.1f s wall",
        v,
        total,
        setup_accesses,
        soc.counts["snapshot"],
        soc.counts["attack_ok"],
        soc.counts["attack_err"],
        wall,
    )


@cocotb.test()
@cocotb.parametrize(victim=list(range(CONFIG.ncpu)))
async def mplock_bust_is_the_only_cross_cpu_release(dut, victim):
    """BUST (fault recovery, DESIGN.md §2) from any CPU frees v's lock and changes nothing else of v."""
    t0 = time.perf_counter()
    bench = await SocBench(dut).start()
    soc = Soc(dut, bench)
    v = victim
    await setup_victim(soc, v)
    for a in _others(soc, v):
        assert await soc.read(v, mm.MPLOCK.TRY) == 1
        acquires = await soc.read(v, mm.MPLOCK.ACQUIRES)
        before = {c: await soc.snapshot(c) for c in range(soc.n)}
        # Q = 0: whatever the owner does (a larger Q is refused here, v having just made a request).
        await soc.write(a, mm.MPLOCK.BUST, 0)
        for c in range(soc.n):
            allowed = dict(before[c])
            allowed.update(
                {
                    "mplock.OWNER": mm.OWNER_FREE,
                    "rtl.mplock.held": 0,
                    "rtl.mplock.owner": None,
                    "mplock.BUSTS": before[c]["mplock.BUSTS"] + 1,
                }
            )
            await soc.check(c, allowed, f"BUST by CPU {a} of CPU {v}'s lock")
        # v's RELEASE now finds the lock free: ERR.NONOWNER, as for any RELEASE of a free lock.
        await soc.write(v, mm.MPLOCK.RELEASE, 0)
        assert await soc.read(v, mm.MPLOCK.ERR) == NONOWNER
        await soc.write(v, mm.MPLOCK.ERR, NONOWNER)
        # BUST of a free lock changes nothing.
        await soc.write(a, mm.MPLOCK.BUST, 0)
        assert await soc.read(a, mm.MPLOCK.OWNER) == mm.OWNER_FREE
        assert await soc.read(a, mm.MPLOCK.ERR) == 0
        assert await soc.read(a, mm.MPLOCK.ACQUIRES) == acquires
    dut._log.info(
        "ISOLATION bust victim %d: %d bus accesses in %.1f s wall",
        v,
        sum(m.transactions for m in bench.masters),
        time.perf_counter() - t0,
    )
