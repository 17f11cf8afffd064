"""Formal harness for the SoC's reset (hdl/soc.py, LwktSoc): from any state, one cycle of reset
returns every register of the contract to its reset value.

``rst`` (the sync domain's synchronous reset) is a free input here, as are every port, stall
bit, external line and device input: the solver may reset in any cycle, held or not, with
requests up. The IPI memories start with any contents and a reset leaves them as they are; the
valid bits, indices and flags that say what a FIFO holds are registers, so every FIFO reads
empty after it. The RAM is a memory too and keeps its contents: it is not a register and is not
stated here.

The reset values are the contract's table, hdl/memory_map.py ``reset_reads`` (value and the bits
a reset fixes, per CPU and address); the harness checks them through the ports, as a core reads
them: a read presented in the first cycle after a reset and answered ack in the next cycle
returns the table's value under its mask. The address is free, so this holds for every readable
register; a read of a shared block that loses arbitration in that cycle is answered later, from
a state other requests may have moved, and is not stated.

Each property is a one-step implication from the cycle of reset, whatever the state before it:
k-induction closes with no invariant, so the reset works from every state, reachable or not
(FIFOs non-empty or overflowed, the MP lock held, sources in service, timers armed, ...). The
covers show such states reset within the depth.
"""

from amaranth.hdl import Fragment, ResetSignal, Signal

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.soc import LwktSoc

from .harness import Harness, internal, submodule

__all__ = ["ResetHarness"]


class ResetHarness(Harness):
    NAME = "reset"
    TITLE = "one cycle of reset, from any state, returns every register to its reset value (hdl/soc.py)"
    PROPERTIES = {
        "reset-reads": "a read presented in the first cycle after a reset and answered ack returns the "
        "register's reset value (hdl/memory_map.py reset_reads: every readable register of every "
        "CPU's windows, the RAM excepted)",
        "reset-quiet": "in the first cycle after a reset no port is answered (ack, err low), no irq is "
        "raised, no EVENT pulse is shown and the cycle counter reads 0",
    }
    SIZES = ({"ncpu": 2}, {"ncpu": 3})
    QUICK = ({"ncpu": 2},)
    # The covers: a push (step 0) makes a FIFO non-empty at the reset (step 1); a read in the first
    # cycle after it (step 2) is answered at step 3.
    DEPTH = 4
    # The FIFOs' memories keep their rows over a reset; only the valid bits make the FIFOs empty.
    MUTANTS = ("ipi-valid-kept-on-reset",)
    SOLVER = "bitwuzla"  # the IPI rows are SMT arrays (formal/isolation.py)
    FREE_MEMORIES = True
    FREE_RESET = True

    def build(self, m, platform):
        n = self.params["ncpu"]
        cfg = SocConfig(ncpu=n, fifo_depth=2, ram_words=16, ext_lines=1, mutant=self.mutant)
        soc = LwktSoc(cfg)
        frag = Fragment.get(soc, platform)
        m.submodules.soc = frag
        rst = ResetSignal()
        seen = []
        for i in range(n):
            port = soc.port(i)
            m.d.comb += [
                port.cyc.eq(self.input(1, f"cyc{i}")),
                port.stb.eq(self.input(1, f"stb{i}")),
                port.we.eq(self.input(1, f"we{i}")),
                port.adr.eq(self.input(len(port.adr), f"adr{i}")),
                port.dat_w.eq(self.input(32, f"dat_w{i}")),
            ]
            seen.append(port.cyc & port.stb & ~port.ack & ~port.err & ~soc.stall[i])
        m.d.comb += [
            soc.stall.eq(self.input(n, "stall")),
            soc.ext_irq.eq(self.input(len(soc.ext_irq), "ext_irq")),
            soc.dev_post.eq(self.input(len(soc.dev_post), "dev_post")),
            soc.dev_data.eq(self.input(32, "dev_data")),
        ]

        # The first cycle after a reset: rst was high in the cycle before and is low now.
        after = Signal(name="after_reset")
        m.d.comb += after.eq(self.past_valid & self.past(m, rst, "rst") & ~rst)
        for i in range(n):
            port = soc.port(i)
            tile = submodule(frag, f"cpu{i}")
            with m.If(after):
                self.check(
                    m,
                    "reset-quiet",
                    ~port.ack
                    & ~port.err
                    & ~port.irq
                    & ~internal(frag, "event_valid", (f"cpu{i}", "debug"))
                    & (tile.cycle == 0),
                )
            # The reset value of the address read, from the contract's table.
            value, mask, known = Signal(32, name=f"reset_value{i}"), Signal(32, name=f"reset_mask{i}"), Signal()
            read = self.past(m, after & seen[i] & ~port.we, f"read{i}")
            adr = self.past(m, port.adr, f"adr{i}")
            with m.Switch(adr):
                for address, (v, msk) in mm.reset_reads(cfg, i).items():
                    with m.Case(address >> 2):
                        m.d.comb += [value.eq(v), mask.eq(msk), known.eq(1)]
            with m.If(self.past_valid & read & port.ack & known):
                self.check(m, "reset-reads", (port.dat_r & mask) == value)
            if i == 0:
                self._covers(m, frag, soc, rst, read, adr)

    def _covers(self, m, frag, soc, rst, read, adr):
        """Non-vacuity: resets in states far from the reset state, and answered reads after them (CPU 0)."""
        port = soc.port(0)
        held = internal(frag, "held", ("mplock",))
        pending = [internal(frag, f"pending_{c}", ("ipi",)) for c in range(len(soc.stall))]
        roe = [internal(frag, f"roe_{c}", ("ipi",)) for c in range(len(soc.stall))]
        armed = internal(frag, "armed", ("cpu0", "timer"))
        busy = pending[0].any()
        for word in pending[1:]:
            busy = busy | word.any()
        flags = roe[0].any()
        for word in roe[1:]:
            flags = flags | word.any()
        self.cover(m, rst & held, "a reset while the MP lock is held")
        self.cover(m, rst & busy, "a reset while a FIFO holds an entry")
        self.cover(m, rst & flags, "a reset while an ROE flag is set")
        self.cover(m, rst & armed, "a reset while CPU 0's timer is armed")
        self.cover(m, rst & port.cyc & port.stb, "a reset while CPU 0 presents a request")

        def answered(address):
            return self.past_valid & read & port.ack & (adr == address >> 2)

        rx_arg = mm.IPI_RX.addr("RX_ARG", slot=1)
        p_busy = self.past(m, self.past(m, busy, "busy"), "busy2")
        self.cover(m, answered(rx_arg) & p_busy, "RX_ARG read after a reset that emptied a FIFO")
        self.cover(m, answered(mm.MPLOCK.OWNER), "OWNER read in the first cycle after a reset")
        self.cover(m, answered(mm.TIMER.COMPARE_HI), "COMPARE_HI read in the first cycle after a reset")
        self.cover(m, answered(mm.IPI_TX.addr("TX_STATUS", slot=1)), "TX_STATUS read in the first cycle after a reset")
