"""The IPI mailbox matrix: one FIFO per ordered pair of distinct CPUs.

FIFO[s][d] has exactly one producer (CPU s, through its IPI_TX slot d) and one
consumer (CPU d, through its IPI_RX slot s), so no access to it ever contends.
"""
from amaranth.hdl import Module, Signal, Cat, Mux
from amaranth.lib import data, wiring, memory
from amaranth.lib.wiring import In, Out

from . import memory_map as mm
from .bus import RegisterSignature, pack_fields, prefix_member_names

__all__ = ["IpiFifo", "IpiMatrix", "SLOT_WORDS", "FIFO_STATE"]

#: Words per slot in the IPI_TX and IPI_RX blocks (0x20 bytes).
SLOT_WORDS = mm.IPI_TX.slot_stride // 4
_SLOT_BITS = (SLOT_WORDS - 1).bit_length()

#: A FIFO's registers: its free-running indices, the latched TX_FUNC and the sticky flags.
FIFO_STATE = data.StructLayout({"windex": 32, "rindex": 32, "func": 32, "wof": 1, "roe": 1})


class IpiFifo(wiring.Component):
    """One mailbox FIFO of (function, argument) entries.

    Both indices run free over 32 bits; the level is their difference. A push
    and a pop in the same cycle both see the state before that cycle.

    Parameters
    ----------
    depth : int
        Entries, a power of two.

    Attributes
    ----------
    tx : In(RegisterSignature(3))  the producer's registers (IPI_TX slot)
    rx : In(RegisterSignature(3))  the consumer's registers (IPI_RX slot)
    nonempty : Out(1)
    mutant : str   a planted bug of hdl.mutants for mutation testing, "" for none
    """

    def __init__(self, depth: int, *, name: str | None = None, mutant: str = ""):
        self.depth, self.mutant = depth, mutant
        super().__init__({
            "tx": In(RegisterSignature(_SLOT_BITS)), "rx": In(RegisterSignature(_SLOT_BITS)),
            "nonempty": Out(1),
        })
        prefix_member_names(self, name)

    def elaborate(self, platform):
        m = Module()
        tx, rx = self.tx, self.rx
        aw = (self.depth - 1).bit_length()
        m.submodules.storage = storage = memory.Memory(shape=64, depth=self.depth, init=[])
        push_port = storage.write_port()
        head_port = storage.read_port(domain="comb")

        # The FIFO's registers in one signal: one clocked process per FIFO instead of five, which
        # matters to an event-driven simulator at n(n-1) FIFOs.
        # The names below are views of it, kept for waveforms and probes.
        state = Signal(FIFO_STATE)
        windex = Signal(32)
        rindex = Signal(32)
        func = Signal(32)
        wof = Signal()
        roe = Signal()
        m.d.comb += [windex.eq(state.windex), rindex.eq(state.rindex), func.eq(state.func),
                     wof.eq(state.wof), roe.eq(state.roe)]
        level = Signal(32)
        full = Signal()
        empty = Signal()
        m.d.comb += [
            level.eq(windex - rindex),
            full.eq(level == self.depth),
            empty.eq(level == 0),
            self.nonempty.eq(~empty),
            push_port.addr.eq(windex[:aw]),
            push_port.data.eq(Cat(tx.wdata, func)),
            head_port.addr.eq(rindex[:aw]),
            tx.gnt.eq(tx.req),
            rx.gnt.eq(rx.req),
        ]
        head_arg = Signal(32)
        head_func = Signal(32)
        m.d.comb += [head_arg.eq(Mux(empty, 0, head_port.data[:32])),
                     head_func.eq(Mux(empty, 0, head_port.data[32:]))]

        tx_write = tx.req & tx.we
        tw = mm.IPI_TX.word
        tx_status = pack_fields(mm.IPI_TX.register("TX_STATUS"),
                                {"FULL": full, "EMPTY": empty, "WOF": wof, "LEVEL": level})
        with m.Switch(tx.addr):
            with m.Case(tw("TX_FUNC")):
                m.d.comb += tx.rdata.eq(func)
                with m.If(tx_write):
                    m.d.sync += state.func.eq(tx.wdata)
            with m.Case(tw("TX_ARG")):
                with m.If(tx_write):
                    with m.If(full):
                        # Bug "fifo-wof-never": the dropped push leaves no trace.
                        if self.mutant != "fifo-wof-never":
                            m.d.sync += state.wof.eq(1)
                    if self.mutant == "fifo-drop-last":
                        # Bug: the push into the last free entry is dropped, without WOF.
                        with m.Elif(level == self.depth - 1):
                            pass
                    with m.Else():
                        m.d.comb += push_port.en.eq(1)
                        m.d.sync += state.windex.eq(windex + 1)
            with m.Case(tw("TX_WINDEX")):
                m.d.comb += tx.rdata.eq(windex)
            with m.Case(tw("TX_RINDEX")):
                m.d.comb += tx.rdata.eq(rindex)
            with m.Case(tw("TX_STATUS")):
                m.d.comb += tx.rdata.eq(tx_status)
                with m.If(tx_write & tx.wdata[mm.IPI_TX.register("TX_STATUS").field("WOF").lsb]):
                    m.d.sync += state.wof.eq(0)

        rx_write = rx.req & rx.we
        rw = mm.IPI_RX.word
        if self.mutant == "fifo-roe-not-sticky":
            # Bug: ROE clears itself the cycle after it is set (statements below still set it).
            m.d.sync += state.roe.eq(0)
        rx_status = pack_fields(mm.IPI_RX.register("RX_STATUS"), {"VALID": ~empty, "ROE": roe})
        with m.Switch(rx.addr):
            with m.Case(rw("RX_FUNC")):
                m.d.comb += rx.rdata.eq(head_func)
            with m.Case(rw("RX_ARG")):
                m.d.comb += rx.rdata.eq(head_arg)
            with m.Case(rw("RX_POP")):
                with m.If(rx_write):
                    with m.If(empty):
                        m.d.sync += state.roe.eq(1)
                    with m.Else():
                        m.d.sync += state.rindex.eq(rindex + 1)
            with m.Case(rw("RX_LEVEL")):
                m.d.comb += rx.rdata.eq(level)
            with m.Case(rw("RX_STATUS")):
                m.d.comb += rx.rdata.eq(rx_status)
                with m.If(rx_write & rx.wdata[mm.IPI_RX.register("RX_STATUS").field("ROE").lsb]):
                    m.d.sync += state.roe.eq(0)
        return m


class IpiMatrix(wiring.Component):
    """All FIFOs of the SoC, with each CPU's send and receive views.

    The address of CPU c's ``tx[c]`` bus is ``slot * 8 + register`` (slot d
    is FIFO[c][d]); of ``rx[c]``, slot s is FIFO[s][c]. The port decoder
    already refuses slot c itself and slots beyond the CPU count.

    Attributes
    ----------
    tx, rx : In(RegisterSignature).array(ncpu)
    rx_pending : Out(ncpu).array(ncpu)
        ``rx_pending[d]`` bit s: FIFO[s][d] holds an entry.
    mutant : str   a planted bug of hdl.mutants for mutation testing, "" for none
    """

    def __init__(self, ncpu: int, depth: int, addr_width: int, *, mutant: str = ""):
        self.ncpu, self.depth, self.mutant = ncpu, depth, mutant
        super().__init__({
            "tx": In(RegisterSignature(addr_width)).array(ncpu),
            "rx": In(RegisterSignature(addr_width)).array(ncpu),
            "rx_pending": Out(ncpu).array(ncpu),
        })
        prefix_member_names(self, "ipi")

    def elaborate(self, platform):
        m = Module()
        n = self.ncpu
        tx_rdata = [[] for _ in range(n)]
        rx_rdata = [[] for _ in range(n)]
        for s in range(n):
            for d in range(n):
                if s == d:
                    continue
                fifo = IpiFifo(self.depth, name=f"fifo_{s}_{d}", mutant=self.mutant)
                m.submodules[f"fifo_{s}_{d}"] = fifo
                for view, cpu, slot, rdata in ((fifo.tx, s, d, tx_rdata), (fifo.rx, d, s, rx_rdata)):
                    bus = (self.tx if view is fifo.tx else self.rx)[cpu]
                    hit = Signal(name=f"{'tx' if view is fifo.tx else 'rx'}_hit_{s}_{d}")
                    selected = Signal(name=f"{'tx' if view is fifo.tx else 'rx'}_slot_{s}_{d}")
                    m.d.comb += [
                        selected.eq(bus.addr[_SLOT_BITS:] == slot),
                        hit.eq(bus.req & selected),
                        view.req.eq(hit),
                        # Only the addressed FIFO's inputs move (as in the tile decoder).
                        view.we.eq(bus.we & selected),
                        view.addr.eq(Mux(selected, bus.addr[:_SLOT_BITS], 0)),
                        view.wdata.eq(Mux(selected, bus.wdata, 0)),
                    ]
                    rdata[cpu].append((hit, view.rdata))
                if self.mutant == "ipi-pending-transposed":
                    # Bug: the matrix is transposed; CPU s sees bit d for its own outgoing FIFO.
                    m.d.comb += self.rx_pending[s][d].eq(fifo.nonempty)
                else:
                    m.d.comb += self.rx_pending[d][s].eq(fifo.nonempty)
        for views, rdata in ((self.tx, tx_rdata), (self.rx, rx_rdata)):
            for cpu in range(n):
                bus = views[cpu]
                m.d.comb += bus.gnt.eq(bus.req)
                # AND-OR mux: only the addressed FIFO drives its data.
                value = 0
                for hit, data in rdata[cpu]:
                    value = value | Mux(hit, data, 0)
                m.d.comb += bus.rdata.eq(value)
        return m
