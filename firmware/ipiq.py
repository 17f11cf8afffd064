"""IPI queues over the SoC's mailbox matrix (seed v1.18: lwkt_send_ipiq, lwkt_wait_ipiq,
lwkt_process_ipiq).

A message is a function id and a one-word argument pushed into ``FIFO[me][d]``
(TX_FUNC, then TX_ARG). The function id names a kernel function (or one a
scenario registered); the argument is a word, for the kernel's own messages
the first word of an object in shared RAM (a thread record, a token), the way
a pointer names shared memory: no Python object travels with a message.
The receiving CPU runs the function and only then pops the entry, so the
sender's TX_RINDEX tells it that its request has been carried out.
"""

from __future__ import annotations

from hdl import memory_map as mm
from .bugs import Bug
from .frames import kernel_function
from .intr import EVENT_IPI_SEND
from .thread import TDPRI_CRIT

__all__ = ["IpiqMixin", "KERNEL_IPI_FUNCS", "SMP_COUNTERS", "WAIT_IPIQ_WARN", "WAIT_IPIQ_PANIC"]

#: The sysctl counters v1.18 adds (lwkt.*).
SMP_COUNTERS = ("ipiq_count", "ipiq_fifofull")

#: Function ids the kernel itself sends; 0 means "empty" (RX_FUNC of an empty FIFO).
KERNEL_IPI_FUNCS = {"lwkt_schedule": 1, "lwkt_deschedule": 2, "lwkt_gettoken_remote": 3}
#: The IPI loops' watchdog, in polls: a warning, then a panic. The seed's lwkt_wait_ipiq warns
#: after 10**8 polls of its read index and panics 10**6 polls later, seconds on the hardware of
#: its day. A poll here (a TX_RINDEX read and one lwkt_process_ipiq) costs 55 cycles on 2 CPUs and
#: 89 on 4 under the default cost model, and a scenario's budget is 10**5 to 10**6 cycles, so
#: both figures are scaled down by WAIT_IPIQ_SCALE: the warning comes after 2,000 polls (110,000
#: cycles on 2 CPUs, 178,000 on 4; the longest wait a correct run makes is a few thousand
#: cycles), the panic one percent of the wait after it, as in the seed. lwkt_send_ipiq's drain
#: loop has the same watchdog (the seed's has none; see docs/kernel.md, "nested IPIs").
WAIT_IPIQ_SCALE = 50_000
WAIT_IPIQ_WARN = 100_000_000 // WAIT_IPIQ_SCALE
WAIT_IPIQ_PANIC = (100_000_000 + 1_000_000) // WAIT_IPIQ_SCALE
_MASK32 = 0xFFFF_FFFF


def _signed32(value: int) -> int:
    value &= _MASK32
    return value - (1 << 32) if value & 0x8000_0000 else value


class IpiqMixin:
    """The IPI queue functions of :class:`firmware.smp.LwktSmp`."""

    def init_ipiq(self) -> None:
        ncpu = self.system.ncpu
        # Our write index per destination (we are the only producer), read from TX_WINDEX at boot:
        # the hardware does not start it at 0 (hdl/memory_map.py IPI_INDEX_RESET).
        self.ipiq_windex: list[int | None] = [None] * ncpu
        self.ipiq_busy: set[int] = set()  # sources being drained by an outer lwkt_process_ipiq
        self.counters.update({"ipiq_count": 0, "ipiq_fifofull": 0, "ipiq_received": 0})

    async def read_ipiq_indices(self) -> None:
        """Take our write index towards every other CPU from the hardware, before the first send."""
        for dcpu in range(self.system.ncpu):
            if dcpu != self.gd_cpuid:
                self.ipiq_windex[dcpu] = await self.cpu.read(mm.IPI_TX.addr("TX_WINDEX", slot=dcpu))

    @kernel_function(cost="")
    async def lwkt_send_ipiq(self, dcpu: int, func: str, arg: int = 0) -> int:
        """Ask CPU ``dcpu`` to run ``func(arg)``; returns the sequence number to wait for.

        To this CPU itself the function runs directly. While ``FIFO[me][dcpu]`` is over
        half full this CPU drains its own incoming queues, so that two CPUs filling
        FIFOs towards each other never deadlock.
        """
        self.kassert(
            isinstance(arg, int) and 0 <= arg <= _MASK32,
            f"lwkt_send_ipiq: the argument of {func} must be a 32-bit word, not {arg!r}",
        )
        if dcpu == self.gd_cpuid:
            await self.ipi_call(func, arg, dcpu)
            return 0
        called = self.exec_cycle  # the IPI latency runs from the call, FIFO-full draining included
        self.cpu.charge(self.costs["lwkt_send_ipiq"])
        self.gd_intr_nesting_level += 1
        if self.gd_intr_nesting_level > 20:
            self.panic("lwkt_send_ipiq: TOO HEAVILY NESTED!")
        self.kassert(self.curthread.td_pri >= TDPRI_CRIT, "lwkt_send_ipiq outside a critical section")
        self.kassert(0 <= dcpu < self.system.ncpu, f"lwkt_send_ipiq: bad cpu {dcpu}")
        self.count("ipiq_count")
        depth = self.system.fifo_depth
        windex = self.ipiq_windex[dcpu]
        rindex = await self.cpu.read(mm.IPI_TX.addr("TX_RINDEX", slot=dcpu))
        threshold = depth if self.system.bug(Bug.FIFO_DRAIN_THRESHOLD) else depth // 2
        if (windex - rindex) & _MASK32 > threshold:
            self.count("ipiq_fifofull")
            self.event("ipiq_fifofull", dest=dcpu, level=(windex - rindex) & _MASK32)
            self.tracepoint("lwkt_send_ipiq:drain")
            # The seed enables interrupts while it drains (it may be called from an interrupt).
            saved = self.intr_enable()
            polls = 0
            while (windex - rindex) & _MASK32 > threshold:
                await self.lwkt_process_ipiq()
                rindex = await self.cpu.read(mm.IPI_TX.addr("TX_RINDEX", slot=dcpu))
                polls += 1
                self._ipiq_watchdog("LWKT_SEND_IPIQ", polls, dest=dcpu, level=(windex - rindex) & _MASK32)
            self.intr_restore(saved)
        # The seed asserts the level never reaches MAXCPUFIFO - 1, which its half-full rule
        # guarantees for its depth of 32; for any depth the hard limit is a full FIFO (WOF).
        self.kassert((windex - rindex) & _MASK32 < depth, "lwkt_send_ipiq: FIFO overrun")
        fid = self.system.ipi_func_id(func)
        # Recorded before the push: the receiver may run the message before our write returns.
        self.tracepoint("ipi:sent", dest=dcpu, fid=fid, arg=arg, called=called)
        await self.cpu.write(mm.IPI_TX.addr("TX_FUNC", slot=dcpu), fid)
        await self.cpu.write(mm.IPI_TX.addr("TX_ARG", slot=dcpu), arg)
        windex = (windex + 1) & _MASK32
        self.ipiq_windex[dcpu] = windex
        await self.cpu.write(mm.DEBUG.EVENT, EVENT_IPI_SEND | dcpu)
        self.event("ipi_send", dest=dcpu, func=func, seq=windex)
        self.gd_intr_nesting_level -= 1
        return windex

    @kernel_function
    async def lwkt_wait_ipiq(self, dcpu: int, seq: int) -> None:
        """Wait until CPU ``dcpu`` has carried out our message ``seq``, serving our own queues."""
        if dcpu == self.gd_cpuid:
            return
        self.kassert(0 <= dcpu < self.system.ncpu, f"lwkt_wait_ipiq: bad cpu {dcpu}")
        polls = 0
        unsigned = self.system.bug(Bug.IPI_WAIT_UNSIGNED)

        async def done() -> bool:
            rindex = await self.cpu.read(mm.IPI_TX.addr("TX_RINDEX", slot=dcpu))
            return (rindex >= seq) if unsigned else _signed32(rindex - seq) >= 0

        if not await done():
            # As in the seed, interrupts are on while it polls (it may be called from an
            # interrupt), and only once it knows it must wait.
            saved = self.intr_enable()
            while True:
                await self.lwkt_process_ipiq()
                self.cpu.charge(self.costs["lwkt_wait_ipiq_poll"])
                polls += 1
                self._ipiq_watchdog("LWKT_WAIT_IPIQ", polls, dest=dcpu, seq=seq)
                if await done():
                    break
            self.intr_restore(saved)
            self.count("wait_ipiq_polled")
        self.tracepoint("ipi:waited", dest=dcpu, seq=seq)

    def _ipiq_watchdog(self, loop: str, polls: int, **what: int) -> None:
        """A loop waiting on another CPU's FIFO has polled ``polls`` times: warn once, then panic."""
        if polls == WAIT_IPIQ_WARN:
            self.event("ipiq_wait_warning", loop=loop, polls=polls, **what)
        if polls >= WAIT_IPIQ_PANIC:
            detail = ", ".join(
                f"{name} {value:#x}" if name == "seq" else f"{name} {value}" for name, value in what.items()
            )
            self.panic(f"{loop}: cpu {self.gd_cpuid} polled {polls} times ({detail})")

    @kernel_function
    async def lwkt_process_ipiq(self) -> None:
        """Run every message waiting for this CPU, source by source, in order."""
        pending = await self.cpu.read(mm.IPI_PENDING.RX_PENDING)
        per_source = self.costs["lwkt_process_ipiq_source"]
        for source in range(self.system.ncpu):
            if source == self.gd_cpuid:
                continue
            self.cpu.charge(per_source)
            if not pending >> source & 1:
                continue
            if source in self.ipiq_busy:
                self.count("ipiq_nested_skip")  # an outer call is running this queue's head
                continue
            # A message's function may send IPIs and so drain queues again: never run the
            # head of a queue twice (the outer loop pops it when its function returns).
            self.ipiq_busy.add(source)
            try:
                while True:
                    fid = await self.cpu.read(mm.IPI_RX.addr("RX_FUNC", slot=source))
                    if fid == 0:
                        break
                    self.cpu.charge(self.costs["lwkt_process_ipiq_message"])
                    arg = await self.cpu.read(mm.IPI_RX.addr("RX_ARG", slot=source))
                    self.tracepoint("ipi:received", source=source, fid=fid, arg=arg)
                    self.count("ipiq_received")
                    name = self.system.ipi_func_name(fid)
                    self.event("ipi_receive", source=source, func=name)
                    early = self.system.bug(Bug.IPI_POP_BEFORE_RUN)
                    if early:
                        await self.cpu.write(mm.IPI_RX.addr("RX_POP", slot=source), 0)
                    await self.ipi_call(name, arg, source)
                    self.tracepoint("ipi:finished", source=source)
                    if not early:
                        await self.cpu.write(mm.IPI_RX.addr("RX_POP", slot=source), 0)
            finally:
                self.ipiq_busy.discard(source)

    async def ipi_call(self, func: str, arg: int, source: int) -> None:
        """Run an IPI function on this CPU; ``arg`` is the message's word, ``source`` its sender."""
        if func == "lwkt_schedule":
            await self.lwkt_schedule(self.system.thread_at(arg))
        elif func == "lwkt_deschedule":
            await self.lwkt_deschedule(self.system.thread_at(arg))
        elif func == "lwkt_gettoken_remote":
            await self.lwkt_gettoken_remote(self.system.token_at(arg), source)
        else:
            await self.system.ipi_user_func(func)(self, arg)

    async def ipi_interrupt(self) -> None:
        await self.lwkt_process_ipiq()
