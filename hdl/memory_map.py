"""The SoC's memory map: the only place where an address is written.

The hardware decoder, the firmware, the bus driver, the tests and the generated
``docs/registers.md`` all read this module. It is pure Python.

Addresses here are byte addresses. The core port carries word addresses
(``byte >> 2``); :func:`windows` gives the word-level view the decoder needs.

Usage from firmware or a test::

    from hdl import memory_map as mm
    mm.SYS.CPUID                      # 0x0000
    mm.IPI_TX.addr("TX_ARG", slot=2)  # ``FIFO[me][2]`` push register
    mm.INTC.addr("PRIO", index=1)     # PRIO[1]
"""

from __future__ import annotations

from .config import SocConfig
from .register_model import Access, Block, Field, LocalRegion, Register, Window

R, W, RW = Access.R, Access.W, Access.RW

__all__ = [
    "Access",
    "Field",
    "Register",
    "Block",
    "Window",
    "BLOCKS",
    "SYS",
    "MPLOCK",
    "IPI_TX",
    "IPI_RX",
    "IPI_PENDING",
    "INTC",
    "ROUTE",
    "TIMER",
    "DEBUG",
    "DEVICE",
    "RAM",
    "LocalRegion",
    "CORE_LOCAL",
    "SOC_ID",
    "OWNER_FREE",
    "CLAIM_NONE",
    "IPI_INDEX_RESET",
    "SOURCE_IPI",
    "SOURCE_TIMER",
    "SOURCE_SOFT",
    "SOURCE_EXT0",
    "windows",
    "reset_reads",
    "block_at",
    "describe",
]

#: Value of SYS.ID: "LW" and the register-contract version 1.
SOC_ID = 0x4C57_0001
#: MPLOCK.OWNER when nobody owns the lock.
OWNER_FREE = 0xFFFF_FFFF
#: INTC.CLAIM when no source can be claimed.
CLAIM_NONE = 0xFFFF_FFFF
#: TX_WINDEX and TX_RINDEX of every FIFO after reset: eight messages before the 2**32 wrap, so that
#: every run that sends more than eight messages to one CPU crosses it (as Linux starts jiffies
#: shortly before they wrap). Index arithmetic that is not modulo 2**32 then fails in ordinary runs.
IPI_INDEX_RESET = 0xFFFF_FFF8

SOURCE_IPI = 0
SOURCE_TIMER = 1
SOURCE_SOFT = 2
SOURCE_EXT0 = 3


SYS = Block(
    "sys",
    0x0000,
    0x1000,
    "cpu",
    "System identification and the cycle counter.",
    (
        Register("CPUID", 0x00, R, "Number of the requesting CPU (the port the request arrives on)."),
        Register("NCPU", 0x04, R, "Number of CPUs."),
        Register("FIFO_DEPTH", 0x08, R, "Entries of each IPI FIFO."),
        Register("ID", 0x0C, R, f"SoC identification and version: {SOC_ID:#010x} ('LW', contract version 1)."),
        Register(
            "CYCLE_LO", 0x10, R, "Low word of the 64-bit cycle counter; reading it latches the high word for this CPU."
        ),
        Register("CYCLE_HI", 0x14, R, "High word of the cycle counter as latched by this CPU's last CYCLE_LO read."),
    ),
)

MPLOCK = Block(
    "mplock",
    0x1000,
    0x1000,
    "global",
    "The hardware MP lock: one owner CPU at a time. Accesses are arbitrated round-robin.",
    (
        Register(
            "TRY",
            0x00,
            R,
            "Read to claim: returns 1 and makes the requesting CPU owner when the lock is free "
            "or already its own; otherwise returns 0 and changes nothing but FAILED_TRIES.",
        ),
        Register(
            "RELEASE",
            0x04,
            W,
            "Write (any value): frees the lock when the requesting CPU owns it; otherwise "
            "ignored and ERR.NONOWNER set.",
        ),
        Register("OWNER", 0x08, R, f"Owner CPU, {OWNER_FREE:#x} when free."),
        Register(
            "ERR",
            0x0C,
            RW,
            "Sticky error flags; write 1 to a bit to clear it.",
            (Field("NONOWNER", 0, 1, "A RELEASE came from a CPU that did not own the lock."),),
        ),
        Register(
            "BUST",
            0x10,
            W,
            "Write Q: fault recovery. Frees a held lock when its owner has been quiet for at "
            "least Q cycles (OWNER_QUIET >= Q, compared in the cycle of the write) and counts it in BUSTS; "
            "otherwise changes nothing. Q = 0 frees the lock whatever its owner does.",
        ),
        Register("ACQUIRES", 0x14, R, "Count of free-to-owned transitions (32-bit, wrapping)."),
        Register("FAILED_TRIES", 0x18, R, "Count of TRY reads that returned 0 (32-bit, wrapping)."),
        Register(
            "OWNER_QUIET",
            0x1C,
            R,
            "Cycles since the owner CPU's port last had a request up (cyc & stb), "
            "saturating at 0xffffffff; 0 while the lock is free. A stopped CPU's count only grows; a live "
            "one's returns to 0 at its next bus access.",
        ),
        Register("BUSTS", 0x20, R, "Count of BUST writes that freed the lock (32-bit, wrapping)."),
    ),
    arbitrated=True,
)

_TX_STATUS_FIELDS = (
    Field("FULL", 0, 1, "The FIFO holds FIFO_DEPTH entries."),
    Field("EMPTY", 1, 1, "The FIFO holds no entry."),
    Field("WOF", 2, 1, "Sticky: a push was dropped because the FIFO was full. Write 1 to clear."),
    Field("LEVEL", 16, 16, "Entries in the FIFO."),
)

IPI_TX = Block(
    "ipi_tx",
    0x2000,
    0x1000,
    "cpu",
    "Send side of the IPI FIFO matrix: slot d is FIFO[me][d]. Slot me is a bus error.",
    (
        Register("TX_FUNC", 0x00, RW, "Function word latched for the next push."),
        Register(
            "TX_ARG",
            0x04,
            W,
            "Write: push (TX_FUNC, value) as one entry. When the FIFO is full the entry is "
            "dropped and TX_STATUS.WOF set.",
        ),
        Register(
            "TX_WINDEX",
            0x08,
            R,
            f"Accepted pushes, free-running 32-bit; {IPI_INDEX_RESET:#x} after reset (IPI_INDEX_RESET), "
            "so that runs cross the 2^32 wrap.",
        ),
        Register(
            "TX_RINDEX",
            0x0C,
            R,
            f"Pops by the receiver, free-running 32-bit; {IPI_INDEX_RESET:#x} after reset (IPI_INDEX_RESET).",
        ),
        Register("TX_STATUS", 0x10, RW, "FIFO status; write 1 to WOF to clear it.", _TX_STATUS_FIELDS),
    ),
    slot_stride=0x20,
    self_slot_error=True,
)

IPI_RX = Block(
    "ipi_rx",
    0x3000,
    0x800,
    "cpu",
    "Receive side of the IPI FIFO matrix: slot s is FIFO[s][me]. Slot me is a bus error.",
    (
        Register("RX_FUNC", 0x00, R, "Function word of the head entry, 0 when empty."),
        Register("RX_ARG", 0x04, R, "Argument word of the head entry, 0 when empty."),
        Register(
            "RX_POP", 0x08, W, "Write (any value): drop the head entry. On an empty FIFO ignored and RX_STATUS.ROE set."
        ),
        Register("RX_LEVEL", 0x0C, R, "Entries in the FIFO."),
        Register(
            "RX_STATUS",
            0x10,
            RW,
            "FIFO status; write 1 to ROE to clear it.",
            (
                Field("VALID", 0, 1, "The FIFO holds an entry."),
                Field("ROE", 1, 1, "Sticky: RX_POP on an empty FIFO. Write 1 to clear."),
            ),
        ),
    ),
    slot_stride=0x20,
    self_slot_error=True,
)

IPI_PENDING = Block(
    "ipi_pending",
    0x3800,
    0x800,
    "cpu",
    "Summary of the receive side.",
    (Register("RX_PENDING", 0x00, R, "Bit s is set while FIFO[s][me] holds an entry."),),
)

INTC = Block(
    "intc",
    0x4000,
    0x1000,
    "cpu",
    "Per-CPU interrupt controller. Sources: 0 IPI (level: RX_PENDING != 0), 1 timer, 2 soft, "
    "3.. external lines routed to this CPU. Larger PRIO wins, ties go to the lowest source; "
    "PRIO 0 disables a source.",
    (
        Register("PENDING", 0x00, R, "Raw pending bit per source."),
        Register("ENABLE", 0x04, RW, "Enable bit per source (reset 0)."),
        Register(
            "CLAIM",
            0x08,
            R,
            f"Read: the highest-priority enabled pending source not in service, now marked "
            f"in service; {CLAIM_NONE:#x} when none.",
        ),
        Register("COMPLETE", 0x0C, W, "Write a source id: end its service. Ignored for a source not in service."),
        Register("SOFT_SET", 0x10, W, "Write (any value): raise the soft source."),
        Register("SOFT_CLR", 0x14, W, "Write (any value): lower the soft source."),
        Register("INSERVICE", 0x18, R, "In-service bit per source (claimed, not yet completed)."),
        Register(
            "PRIO",
            0x40,
            RW,
            "Priority of source k (reset 0: disabled); only the low PRIO-width bits are kept.",
            count=lambda c: c.n_sources,
            count_doc="one per source (3 + external lines)",
        ),
    ),
)

ROUTE = Block(
    "route",
    0x5000,
    0x1000,
    "global",
    "Routing of external interrupt lines to CPUs. Accesses are arbitrated round-robin.",
    (
        Register(
            "ROUTE",
            0x00,
            RW,
            "CPU that external line k interrupts (reset 0); a value >= NCPU routes it nowhere.",
            count=lambda c: c.ext_lines,
            count_doc="one per external line",
        ),
    ),
    arbitrated=True,
)

TIMER = Block(
    "timer",
    0x6000,
    0x1000,
    "cpu",
    "Per-CPU timer. It fires once when CYCLE >= COMPARE while enabled and armed; writing COMPARE_LO, "
    "COMPARE_HI or CTRL arms it; with PERIOD != 0 it advances COMPARE by PERIOD and stays armed. "
    "The timer source stays pending until ACK.",
    (
        Register("COMPARE_LO", 0x00, RW, "Low word of the compare value (reset all ones)."),
        Register("COMPARE_HI", 0x04, RW, "High word of the compare value (reset all ones)."),
        Register("PERIOD", 0x08, RW, "Auto-reload period in cycles, 0 for one-shot (the hardclock)."),
        Register(
            "CTRL",
            0x0C,
            RW,
            "Control and state.",
            (
                Field("ENABLE", 0, 1, "The timer may fire."),
                Field("ARMED", 1, 1, "Read-only: the timer will fire when CYCLE reaches COMPARE."),
                Field("PENDING", 2, 1, "Read-only: the timer source is pending."),
            ),
        ),
        Register("ACK", 0x10, W, "Write (any value): clear the pending timer source."),
    ),
)

DEBUG = Block(
    "debug",
    0x7000,
    0x1000,
    "cpu",
    "Per-CPU debug registers written by the firmware so that waveforms show what runs.",
    (
        Register("CURTHREAD", 0x00, RW, "Id of the running thread."),
        Register("CRITDEPTH", 0x04, RW, "Critical-section depth of the running thread."),
        Register("EVENT", 0x08, W, "Event code, shown on the debug.event signal for one cycle."),
        Register("PRI", 0x0C, RW, "Priority of the running thread."),
    ),
)

_DEVICE_STATUS_FIELDS = (
    Field("REQUEST", 0, 1, "A request is pending; device k's interrupt line is high while it is set."),
    Field(
        "OVERRUN",
        1,
        1,
        "Sticky: a request was posted while one was pending (it is counted in POSTED, "
        "its data word is dropped). Cleared by an ACK write with bit 1 set.",
    ),
)


def _per_line(c: SocConfig) -> int:
    return c.ext_lines


DEVICE = Block(
    "device",
    0xA000,
    0x1000,
    "global",
    "External devices, one behind each external line k. A device posts a request with a data "
    "word (in simulation the testbench does, through the SoC's dev_post and dev_data inputs); "
    "REQUEST then stays set, and line k high, until an ACK. Line k reaches the CPU that ROUTE[k] "
    "names (ORed with the raw ext_irq input k). Each register is an array over the lines, one "
    "array every 0x80 bytes. Accesses are arbitrated round-robin.",
    (
        Register(
            "STATUS",
            0x000,
            R,
            "State of device k.",
            _DEVICE_STATUS_FIELDS,
            count=_per_line,
            count_doc="one per external line",
        ),
        Register(
            "DATA",
            0x080,
            R,
            "Data word captured when the pending request was posted; kept after the ACK "
            "until the next request is captured (an overrunning request does not replace it).",
            count=_per_line,
            count_doc="one per external line",
        ),
        Register(
            "ACK",
            0x100,
            W,
            "Write: bit 0 acknowledges the pending request (REQUEST clears and the line "
            "drops; SERVICED counts it when one was pending); bit 1 clears OVERRUN; other bits are ignored. "
            "A request posted in the same cycle as the ACK becomes the pending one (REQUEST stays set, "
            "DATA takes its word).",
            (
                Field("REQUEST", 0, 1, "Acknowledge the pending request."),
                Field("OVERRUN", 1, 1, "Clear STATUS.OVERRUN (unless a request overruns in the same cycle)."),
            ),
            count=_per_line,
            count_doc="one per external line",
        ),
        Register(
            "POSTED",
            0x180,
            R,
            "Requests posted to device k, overrunning ones included (32-bit, wrapping).",
            count=_per_line,
            count_doc="one per external line",
        ),
        Register(
            "SERVICED",
            0x200,
            R,
            "ACK writes with bit 0 set that found a request pending (32-bit, wrapping).",
            count=_per_line,
            count_doc="one per external line",
        ),
    ),
    arbitrated=True,
)

RAM = Block(
    "ram",
    0x1000_0000,
    0x1000_0000,
    "global",
    "Shared RAM, 32-bit words, for cross-CPU kernel data. Accesses are arbitrated round-robin.",
    (
        Register(
            "WORD", 0x00, RW, "Word k of the shared RAM.", count=lambda c: c.ram_words, count_doc="RAM size in words"
        ),
    ),
    arbitrated=True,
)


CORE_LOCAL = LocalRegion(
    "core_local",
    0x8000_0000,
    0x1000_0000,
    "Each RV32 core's local memory: its code and private data, byte-writable, loaded with the program "
    "before reset; the core fetches only from here. One cycle per access, no arbitration.",
)

#: Every block, in address order.
BLOCKS: tuple[Block, ...] = (SYS, MPLOCK, IPI_TX, IPI_RX, IPI_PENDING, INTC, ROUTE, TIMER, DEBUG, DEVICE, RAM)


def _log2_ceil(n: int) -> int:
    return max(0, (n - 1).bit_length())


def windows(config: SocConfig, cpu: int) -> list[Window]:
    """The decode windows of every block as seen from ``cpu`` in ``config``."""
    if not 0 <= cpu < config.ncpu:
        raise ValueError(f"cpu {cpu} outside 0..{config.ncpu - 1}")
    result = []
    for block in BLOCKS:
        words: dict[int, Access] = {}
        slots = range(config.ncpu) if block.slot_stride else [None]
        for slot in slots:
            if slot is not None and block.self_slot_error and slot == cpu:
                continue
            for reg in block.registers:
                for index in range(reg.count(config)) if reg.count else [None]:
                    byte = block.addr(reg.name, slot=slot, index=index) - block.base
                    words[byte // 4] = reg.access
        top = max(words, default=0) + 1
        if block.slot_stride:
            top = max(top, config.ncpu * block.slot_stride // 4)
        span_log2 = _log2_ceil(top)
        readable = sum(1 << w for w, a in words.items() if a.readable)
        writable = sum(1 << w for w, a in words.items() if a.writable)
        size_log2 = _log2_ceil(block.size // 4)
        assert block.base % block.size == 0 and span_log2 <= size_log2, block.name
        result.append(Window(block, block.base // 4, size_log2, span_log2, readable, writable))
    return result


def reset_reads(config: SocConfig, cpu: int) -> dict[int, tuple[int, int]]:
    """What ``cpu`` reads from each readable register right after a reset: byte address ->
    ``(value, mask)``, the bits under ``mask`` being the ones a reset fixes.

    Every register of the contract is a register of the hardware and returns to its reset value;
    the IPI FIFOs are empty (their memories keep old words, which no register shows). Not fixed:
    CYCLE_LO (the counter restarts at 0 and runs on) and INTC PENDING's external bits (the lines'
    live levels; the IPI, timer and soft sources read 0). The RAM is a memory and keeps its contents:
    it is not listed. MPLOCK.TRY reads 1 (the lock is free), and makes the reader its owner.
    """
    full = 0xFFFF_FFFF
    out: dict[int, tuple[int, int]] = {}

    def put(address: int, value: int, mask: int = full) -> None:
        out[address] = (value & mask, mask)

    for name, value in (("CPUID", cpu), ("NCPU", config.ncpu), ("FIFO_DEPTH", config.fifo_depth), ("ID", SOC_ID)):
        put(SYS.addr(name), value)
    put(SYS.CYCLE_LO, 0, 0)
    put(SYS.CYCLE_HI, 0)
    put(MPLOCK.TRY, 1)
    put(MPLOCK.OWNER, OWNER_FREE)
    for name in ("ERR", "ACQUIRES", "FAILED_TRIES", "OWNER_QUIET", "BUSTS"):
        put(MPLOCK.addr(name), 0)
    for other in range(config.ncpu):
        if other == cpu:
            continue
        put(IPI_TX.addr("TX_FUNC", slot=other), 0)
        for name in ("TX_WINDEX", "TX_RINDEX"):
            put(IPI_TX.addr(name, slot=other), IPI_INDEX_RESET)
        put(IPI_TX.addr("TX_STATUS", slot=other), IPI_TX.register("TX_STATUS").field("EMPTY").mask)
        for name in ("RX_FUNC", "RX_ARG", "RX_LEVEL", "RX_STATUS"):
            put(IPI_RX.addr(name, slot=other), 0)
    put(IPI_PENDING.RX_PENDING, 0)
    put(INTC.PENDING, 0, (1 << SOURCE_EXT0) - 1)
    put(INTC.ENABLE, 0)
    put(INTC.CLAIM, CLAIM_NONE)
    put(INTC.INSERVICE, 0)
    for k in range(config.n_sources):
        put(INTC.addr("PRIO", index=k), 0)
    for k in range(config.ext_lines):
        put(ROUTE.addr("ROUTE", index=k), 0)
        for name in ("STATUS", "DATA", "POSTED", "SERVICED"):
            put(DEVICE.addr(name, index=k), 0)
    put(TIMER.COMPARE_LO, full)
    put(TIMER.COMPARE_HI, full)
    put(TIMER.PERIOD, 0)
    put(TIMER.CTRL, 0)
    for name in ("CURTHREAD", "CRITDEPTH", "PRI"):
        put(DEBUG.addr(name), 0)
    return out


def block_at(address: int) -> Block | None:
    """The block whose window holds byte ``address``, or None."""
    for block in BLOCKS:
        if block.base <= address < block.base + block.size:
            return block
    return None


def describe(address: int) -> str:
    """A readable name for byte ``address``: ``"sys.CPUID"``, ``"ipi_tx[2].TX_ARG"``,
    ``"intc.PRIO[3]"``, ``"ram.WORD[17]"``, or ``"unmapped"``."""
    block = block_at(address)
    if block is None:
        return "unmapped"
    offset = address - block.base
    slot = ""
    if block.slot_stride:
        slot = f"[{offset // block.slot_stride}]"
        offset %= block.slot_stride
    for reg in block.registers:
        if reg.count is None and offset == reg.offset:
            return f"{block.name}{slot}.{reg.name}"
    # With several arrays in a block the element belongs to the nearest array below it.
    for reg in sorted(block.registers, key=lambda r: r.offset, reverse=True):
        if reg.count is not None and offset >= reg.offset and (offset - reg.offset) % 4 == 0:
            return f"{block.name}{slot}.{reg.name}[{(offset - reg.offset) // 4}]"
    return f"{block.name}{slot}+{offset:#x}"
