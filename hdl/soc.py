"""The whole SoC: CPU tiles, the IPI matrix, the shared blocks and the cycle counter."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, connect, flipped

from . import memory_map as mm
from .bus import CoreBusSignature, SharedBus
from .config import TOPLEVEL, SocConfig
from .device import ExternalDevices
from .ipi import IpiMatrix
from .mplock import MpLock
from .probe import public
from .ram import SharedRam
from .route import ExternalRouting
from .tile import CpuTile

__all__ = ["LwktSoc", "TOPLEVEL"]


class LwktSoc(wiring.Component):
    """The multicore SoC of DESIGN.md §2.

    Parameters
    ----------
    config : SocConfig

    Attributes
    ----------
    cpu0 .. cpuN-1 : In(CoreBusSignature)
        One port per core; in Verilog ``cpu0__cyc``, ``cpu0__ack``, ``cpu0__irq`` ...
    ext_irq : In(ext_lines)
        Raw external level interrupt lines, ORed with the devices' lines (one bit wide
        and unused when there are none). Fault injection pulses them (spurious interrupts).
    dev_post : In(ext_lines)
        Testbench side of the DEVICE block: a one-cycle strobe on bit k posts a request
        on device k (one bit wide and unused when there are no external lines).
    dev_data : In(32)
        Data word of the requests posted in that cycle (DEVICE.DATA).
    stall : In(ncpu)
        Wait-state injection for fault testing: while bit i is high, CPU i's port
        accepts no request (the access waits). Tie to 0 in normal use.
    """

    # The ports (clk and rst are the sync domain's, added by the Verilog writer) and the cycle counter.
    # Without a mark Verilator's VPI does not show even the ports to cocotb.
    PROBES = (
        public("clk", "the testbench's clock"),
        public("rst", "the testbench's reset"),
        public("ext_irq", "the testbench's external lines (spurious pulses)"),
        public("dev_post", "the testbench's device model (sim/tb/scenarios/base.py)"),
        public("dev_data", "as dev_post"),
        public("stall", "wait-state injection (sim/tb/faults.py)"),
        *(
            public(f"cpu{{c}}__{member}", "the core's bus master (sim/tb/bus.py); waveforms")
            for member in CoreBusSignature().members
        ),
        public("cycle", "the cycle counter sim/tb/directed/isolation.py moves forward; waveforms"),
    )

    def __init__(self, config: SocConfig):
        self.config = config
        members = {f"cpu{i}": In(CoreBusSignature()) for i in range(config.ncpu)}
        members["ext_irq"] = In(max(config.ext_lines, 1))
        members["dev_post"] = In(max(config.ext_lines, 1))
        members["dev_data"] = In(32)
        members["stall"] = In(config.ncpu)
        super().__init__(members)

    def port(self, cpu: int):
        return getattr(self, f"cpu{cpu}")

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        n = cfg.ncpu

        cycle = Signal(64)
        m.d.sync += cycle.eq(cycle + 1)

        tiles = []
        for i in range(n):
            tile = CpuTile(cfg, i)
            m.submodules[f"cpu{i}"] = tile
            tiles.append(tile)
            connect(m, flipped(self.port(i)), tile.bus)
            m.d.comb += tile.cycle.eq(cycle)
        aw = {name: win.span_log2 for name, win in tiles[0].windows.items()}

        mutant = cfg.mutant  # "" unless a planted bug is asked for (hdl/mutants.py)
        if mutant == "soc-period-crosstalk":
            # Bug: neighbouring tiles share a write-data wire: when CPUs i and i+1 both write their
            # TIMER PERIOD in one cycle, CPU i+1's tile takes CPU i's word.
            period = mm.TIMER.PERIOD >> 2
            for i in range(n - 1):
                a, b = self.port(i), self.port(i + 1)
                with m.If(a.cyc & a.stb & a.we & (a.adr == period) & b.cyc & b.stb & b.we & (b.adr == period)):
                    m.d.comb += tiles[i + 1].bus.dat_w.eq(a.dat_w)
        m.submodules.ipi = ipi = IpiMatrix(n, cfg.fifo_depth, aw["ipi_tx"], mutant=mutant)
        m.submodules.mplock = mplock = MpLock(n, aw["mplock"], mutant=mutant)
        m.submodules.route = route = ExternalRouting(n, cfg.ext_lines, aw["route"], mutant=mutant)
        m.submodules.device = device = ExternalDevices(cfg.ext_lines, aw["device"], mutant=mutant)
        m.submodules.ram = ram = SharedRam(cfg.ram_words, mutant=mutant)
        m.d.comb += [
            device.post.eq(self.dev_post),
            device.post_data.eq(self.dev_data),
            route.lines.eq(self.ext_irq | device.irq),
        ]

        shared = {}
        for name, block in (("mplock", mplock), ("route", route), ("device", device), ("ram", ram)):
            arbiter = SharedBus(n, aw[name], name=f"{name}_arbiter", mutant=mutant)
            m.submodules[f"{name}_arbiter"] = arbiter
            connect(m, arbiter.target, block.bus)
            shared[name] = arbiter
        m.d.comb += mplock.initiator.eq(shared["mplock"].initiator)
        # What the MP lock's OWNER_QUIET watches: a request up on a core's own port.
        # (One vector operation, not a Cat of per-CPU bits: that would split the block's port into
        # anonymous one-bit ports in the Verilog.)
        ports = [self.port(i) for i in range(n)]
        m.d.comb += mplock.active.eq(Cat(*(p.cyc for p in ports)) & Cat(*(p.stb for p in ports)))

        for i, tile in enumerate(tiles):
            for name, arbiter in shared.items():
                connect(m, getattr(tile, name), arbiter.initiators[i])
            connect(m, tile.ipi_tx, ipi.tx[i])
            connect(m, tile.ipi_rx, ipi.rx[i])
            m.d.comb += [
                tile.rx_pending.eq(ipi.rx_pending[i]),
                tile.ext.eq(route.to_cpu[i]),
                tile.stall.eq(self.stall[i]),
            ]
        return m
