"""One CPU's corner of the SoC: its port decoder and its own blocks.

The port decoder turns a core-bus request into a register-bus access of one
block, or into a bus error when the request is illegal for this CPU (unmapped,
a write to a read-only register, a read of a write-only one, the CPU's own IPI
slot). Errors are decided here from the address alone and never wait for an
arbiter. ``ack``, ``err`` and ``dat_r`` are registered and last one cycle.
"""

from amaranth.hdl import Module, Signal, Const, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import memory_map as mm
from .bus import CoreBusSignature, RegisterSignature, prefix_member_names
from .config import SocConfig
from .debug import DebugRegisters
from .intc import InterruptController
from .probe import private
from .sysinfo import SysInfo
from .timer import Timer

__all__ = ["CpuTile", "EXTERNAL_BLOCKS"]

#: Blocks that live outside the tile: shared ones and the IPI matrix.
EXTERNAL_BLOCKS = ("mplock", "route", "device", "ram", "ipi_tx", "ipi_rx")


class CpuTile(wiring.Component):
    """Port decoder, SYS view, interrupt controller, timer and debug registers of one CPU.

    Parameters
    ----------
    config : SocConfig
    cpu : int

    Attributes
    ----------
    bus : In(CoreBusSignature)   the core's port (``irq`` included)
    cycle : In(64)
    rx_pending : In(ncpu)        RX_PENDING of this CPU
    ext : In(ext_lines)          external lines routed to this CPU
    stall : In(1)                wait-state injection: while high, no request is accepted
    mplock, route, device, ram, ipi_tx, ipi_rx : Out(RegisterSignature)
        Decoded accesses to blocks outside the tile.
    """

    # The RX_PENDING word's register bus, served in the tile: the decoder proof checks it as a block's.
    PROBES = tuple(
        private(f"ipi_pending__{member}", "formal: the decoder proof") for member in RegisterSignature(1).members
    )

    def __init__(self, config: SocConfig, cpu: int):
        self.config, self.cpu = config, cpu
        self.windows = {w.block.name: w for w in mm.windows(config, cpu)}
        members = {
            "bus": In(CoreBusSignature()),
            "cycle": In(64),
            "rx_pending": In(config.ncpu),
            "ext": In(max(config.ext_lines, 1)),
            "stall": In(1),
        }
        for name in EXTERNAL_BLOCKS:
            members[name] = Out(RegisterSignature(self.windows[name].span_log2))
        super().__init__(members)
        prefix_member_names(self, f"cpu{cpu}")

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        aw = {name: win.span_log2 for name, win in self.windows.items()}
        m.submodules.sys = sysinfo = SysInfo(self.cpu, cfg.ncpu, cfg.fifo_depth, aw["sys"], mutant=cfg.mutant)
        m.submodules.intc = intc = InterruptController(cfg.n_sources, cfg.prio_bits, aw["intc"], mutant=cfg.mutant)
        m.submodules.timer = timer = Timer(aw["timer"], mutant=cfg.mutant)
        m.submodules.debug = debug = DebugRegisters(aw["debug"])

        # RX_PENDING is a single read-only word: served here, no block of its own.
        pending_bus = RegisterSignature(aw["ipi_pending"]).flip().create(path=("ipi_pending",))
        m.d.comb += [pending_bus.gnt.eq(pending_bus.req), pending_bus.rdata.eq(self.rx_pending)]

        m.d.comb += [
            sysinfo.cycle.eq(self.cycle),
            timer.cycle.eq(self.cycle),
            intc.src_ipi.eq(self.rx_pending.any()),
            intc.src_timer.eq(timer.pending),
            intc.src_ext.eq(self.ext),
            self.bus.irq.eq(intc.irq),
        ]

        targets = {
            "sys": sysinfo.bus,
            "ipi_pending": pending_bus,
            "intc": intc.bus,
            "timer": timer.bus,
            "debug": debug.bus,
        }
        targets.update({name: getattr(self, name) for name in EXTERNAL_BLOCKS})

        bus = self.bus
        seen = Signal()
        m.d.comb += seen.eq(bus.cyc & bus.stb & ~(bus.ack | bus.err) & ~self.stall)
        legal = Signal()
        done = Signal()
        rdata = Signal(32)
        legal_terms, done_terms, rdata_terms, hit_terms = [], [], [], []
        for name, target in targets.items():
            win = self.windows[name]
            hit = Signal(name=f"hit_{name}")
            ok = Signal(name=f"ok_{name}")
            offset = bus.adr[: win.span_log2]
            in_span = bus.adr[win.span_log2 : win.size_log2] == 0 if win.span_log2 < win.size_log2 else 1
            m.d.comb += [
                hit.eq(bus.adr[win.size_log2 :] == win.base_word >> win.size_log2),
                ok.eq(
                    in_span
                    & Mux(bus.we, self._mask_bit(win.writable, win, offset), self._mask_bit(win.readable, win, offset))
                ),
                target.req.eq(seen & hit & ok),
                # A block's inputs move only when it is addressed: the hardware needs no more,
                # and an event-driven simulator then re-evaluates only that block's logic.
                target.we.eq(bus.we & hit),
                target.addr.eq(Mux(hit, offset, 0)),
                target.wdata.eq(Mux(hit, bus.dat_w, 0)),
            ]
            legal_terms.append(hit & ok)
            hit_terms.append(hit)
            granted = target.req & target.gnt
            done_terms.append(granted)
            rdata_terms.append(Mux(granted, target.rdata, 0))

        def any_of(terms):
            value = 0
            for t in terms:
                value = value | t
            return value

        m.d.comb += [legal.eq(any_of(legal_terms)), done.eq(any_of(done_terms)), rdata.eq(any_of(rdata_terms))]
        m.d.sync += [
            bus.ack.eq(done),
            bus.err.eq(seen & ~legal),
            bus.dat_r.eq(Mux(done & ~bus.we, rdata, 0)),
        ]
        if cfg.mutant == "decoder-accepts-unmapped":
            # Bug: a request outside every block's window is acked (reading 0), not refused.
            unmapped = seen & ~any_of(hit_terms)
            m.d.sync += [bus.ack.eq(done | unmapped), bus.err.eq(seen & ~legal & ~unmapped)]
        return m

    @staticmethod
    def _mask_bit(mask, win, offset):
        full = (1 << win.span) - 1
        if mask == 0:
            return Const(0, 1)
        if mask == full:
            return Const(1, 1)
        return Const(mask, win.span).bit_select(offset, 1)
