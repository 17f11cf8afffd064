"""The IPI mailbox matrix: one FIFO per ordered pair of distinct CPUs, held in three memories.

``FIFO[s][d]`` has exactly one producer (CPU s, through its IPI_TX slot d) and one consumer
(CPU d, through its IPI_RX slot s). Instead of n(n-1) FIFO blocks, each with its own indices,
flags and read multiplexers, the state of every FIFO sits in memories addressed by the pair,
and each CPU's two ports read and write only the row of the pair they address. The logic is
per port (2n of them); what grows as n^2 is memory rows and a few bit matrices, so a
simulator's cost per cycle grows with the ports, not with the pairs.

- ``send``: per pair, the producer's row {windex, func} (written only by CPU s);
- ``recv``: per pair, the consumer's rindex (written only by CPU d);
- ``entries``: per pair, ``depth`` rows of Cat(arg, func), written by CPU s at windex and read
  by CPU d at rindex.

The sticky flags, the pending bits and the "written since reset" bits are registers: bit
matrices held as one n-bit word per CPU, so that a reset clears them (memories keep their
contents over a reset; a row whose valid bit is clear reads as after reset). Every register of the
contract behaves as in docs/registers.md: a push and a pop in the same cycle both see the
state before that cycle, and both indices run free over 32 bits.
"""

from amaranth.hdl import Module, Signal, Cat, Const, Mux
from amaranth.utils import ceil_log2
from amaranth.lib import data, wiring, memory
from amaranth.lib.wiring import In, Out

from . import memory_map as mm
from .bus import RegisterSignature, pack_fields, prefix_member_names
from .probe import private, public

__all__ = ["IpiMatrix", "SLOT_WORDS", "SEND_ROW", "cpu_bits", "pair_address"]

#: Words per slot in the IPI_TX and IPI_RX blocks (0x20 bytes).
SLOT_WORDS = mm.IPI_TX.slot_stride // 4
_SLOT_BITS = (SLOT_WORDS - 1).bit_length()

#: The producer's row of one FIFO in the ``send`` memory.
SEND_ROW = data.StructLayout({"windex": 32, "func": 32})


def cpu_bits(ncpu: int) -> int:
    """Bits of a CPU number in a pair address."""
    return max((ncpu - 1).bit_length(), 1)


def pair_address(ncpu: int, src: int, dst: int) -> int:
    """The row of ``FIFO[src][dst]`` in ``send`` and ``recv`` (its entries start at this times depth)."""
    return (src << cpu_bits(ncpu)) | dst


def _read_port(mem: memory.Memory, name: str) -> memory.ReadPort:
    """An asynchronous read port of ``mem`` whose signals are called ``name__addr``, ``name__data``."""
    signature = memory.ReadPort.Signature(shape=mem.shape, addr_width=ceil_log2(mem.depth))
    return memory.ReadPort(signature, memory=mem, domain="comb", path=(name,))


def _write_port(mem: memory.Memory, name: str) -> memory.WritePort:
    """A write port of ``mem`` whose signals are called ``name__addr``, ``name__data``, ``name__en``."""
    signature = memory.WritePort.Signature(shape=mem.shape, addr_width=ceil_log2(mem.depth))
    return memory.WritePort(signature, memory=mem, domain="sync", path=(name,))


class IpiMatrix(wiring.Component):
    """All FIFOs of the SoC, with each CPU's send and receive views.

    The address of CPU c's ``tx[c]`` bus is ``slot * 8 + register`` (slot d is ``FIFO[c][d]``);
    of ``rx[c]``, slot s is ``FIFO[s][c]``. The port decoder already refuses slot c itself and
    slots beyond the CPU count.

    Attributes
    ----------
    tx, rx : In(RegisterSignature).array(ncpu)
    rx_pending : Out(ncpu).array(ncpu)
        ``rx_pending[d]`` bit s: ``FIFO[s][d]`` holds an entry.
    mutant : str   a planted bug of hdl.mutants for mutation testing, "" for none

    Probes (registers, one n-bit word per CPU; bit k is the FIFO to or from CPU k):
    ``wof_<s>`` bit d is ``FIFO[s][d]``'s WOF, ``roe_<d>`` bit s is ``FIFO[s][d]``'s ROE,
    ``pending_<d>`` bit s is rx_pending; ``sent_<s>`` bit d (``got_<d>`` bit s): ``FIFO[s][d]``'s
    ``send`` (``recv``) row was written since reset, else it reads as 0.
    """

    PROBES = (
        public("wof_{c}", "the run's sticky-flag check (SocBench.ipi_error_flags); isolation probes; formal"),
        public("roe_{c}", "as wof_{c}"),
        public("sent_{c}", "isolation probes (SocBench.ipi_fifo_state): a send row's valid bits; formal"),
        public("got_{c}", "as sent_{c}, for recv rows"),
        # Public because Verilator's "sent_*" and "got_*" have always taken them along; no testbench reads them.
        public("sent_to_{c}", "formal: sent_{c}'s copy by destination"),
        public("got_from_{c}", "formal: got_{c}'s copy by source"),
        public("send", "isolation probes: the memory of the producers' rows"),
        public("recv", "isolation probes: the memory of the consumers' rows"),
        private("entries", "formal: the FIFOs' entries, read through extra read ports"),
        private("pending_{c}", "waveforms: RX_PENDING of each CPU"),
        private("tx{c}_slot", "waveforms: the FIFO a CPU's TX port addresses"),
        private("tx{c}_windex", "waveforms: its write index"),
        private("tx{c}_rindex", "waveforms: its read index"),
        private("rx{c}_slot", "waveforms: the FIFO a CPU's RX port addresses"),
        private("rx{c}_windex", "waveforms: its write index"),
        private("rx{c}_rindex", "waveforms: its read index"),
    )

    def __init__(self, ncpu: int, depth: int, addr_width: int, *, mutant: str = ""):
        self.ncpu, self.depth, self.mutant = ncpu, depth, mutant
        super().__init__(
            {
                "tx": In(RegisterSignature(addr_width)).array(ncpu),
                "rx": In(RegisterSignature(addr_width)).array(ncpu),
                "rx_pending": Out(ncpu).array(ncpu),
            }
        )
        prefix_member_names(self, "ipi")

    def elaborate(self, platform):
        m = Module()
        n = self.ncpu
        for c in range(n):
            m.d.comb += [self.tx[c].gnt.eq(self.tx[c].req), self.rx[c].gnt.eq(self.rx[c].req)]
        if n == 1:
            return m  # no pair: every read is 0, nothing is pending

        cb, eb = cpu_bits(n), (self.depth - 1).bit_length()
        rows = 1 << (2 * cb)
        m.submodules.send = send = memory.Memory(shape=SEND_ROW, depth=rows, init=[])
        m.submodules.recv = recv = memory.Memory(shape=32, depth=rows, init=[])
        m.submodules.entries = entries = memory.Memory(shape=64, depth=rows << eb, init=[])

        def matrix(name, reset_less=False):
            return [Signal(n, name=f"{name}_{c}", reset_less=reset_less) for c in range(n)]

        wof, roe, pending = matrix("wof"), matrix("roe"), matrix("pending")
        # The valid bits in both orientations: a port tests the bit of the pair it addresses
        # with one bit select on its own CPU's word, never a select across CPUs.
        # Bug "ipi-valid-kept-on-reset": the valid bits survive a reset, so the rows' old indices show.
        kept = self.mutant == "ipi-valid-kept-on-reset"
        sent_by_src, sent_by_dst = matrix("sent", kept), matrix("sent_to", kept)
        got_by_dst, got_by_src = matrix("got", kept), matrix("got_from", kept)

        # One-hot requests per port, gathered into the other orientation below.
        push_hot, sent_hot, got_hot, clear_hot = (
            matrix("push_hot"),
            matrix("send_hot"),
            matrix("recv_hot"),
            matrix("pop_last_hot"),
        )

        # For the planted bugs at the end (the correct design elaborates neither).
        send_ports, roe_set = [], matrix("roe_set") if self.mutant == "fifo-roe-mirrored" else None

        tw, rw = mm.IPI_TX.word, mm.IPI_RX.word
        wof_bit = mm.IPI_TX.register("TX_STATUS").field("WOF").lsb
        roe_bit = mm.IPI_RX.register("RX_STATUS").field("ROE").lsb
        for c in range(n):
            # -- CPU c as producer: its TX slot d is FIFO[c][d] ------------------------------------
            tx = self.tx[c]
            d = Signal(cb, name=f"tx{c}_slot")
            pair = Signal(2 * cb, name=f"tx{c}_pair")
            m.d.comb += [d.eq(tx.addr[_SLOT_BITS:]), pair.eq(Cat(d, Const(c, cb)))]
            # Ports named per CPU, so that every signal has its own name in waveforms.
            w_rd, r_rd = _read_port(send, f"tx{c}_send_rd"), _read_port(recv, f"tx{c}_recv_rd")
            windex, func, rindex = (
                Signal(32, name=f"tx{c}_windex"),
                Signal(32, name=f"tx{c}_func"),
                Signal(32, name=f"tx{c}_rindex"),
            )
            level = Signal(32, name=f"tx{c}_level")
            full, empty = Signal(name=f"tx{c}_full"), Signal(name=f"tx{c}_empty")
            sent_valid = sent_by_src[c].bit_select(d, 1)
            m.d.comb += [
                w_rd.addr.eq(pair),
                r_rd.addr.eq(pair),
                windex.eq(Mux(sent_valid, w_rd.data.windex, mm.IPI_INDEX_RESET)),
                func.eq(Mux(sent_valid, w_rd.data.func, 0)),
                rindex.eq(Mux(got_by_src[c].bit_select(d, 1), r_rd.data, mm.IPI_INDEX_RESET)),
                level.eq(windex - rindex),
                full.eq(level == self.depth),
                empty.eq(level == 0),
            ]
            w_wr, e_wr = _write_port(send, f"tx{c}_send_wr"), _write_port(entries, f"tx{c}_entry_wr")
            send_ports.append(w_wr)
            m.d.comb += [
                w_wr.addr.eq(pair),
                w_wr.data.windex.eq(windex),
                w_wr.data.func.eq(func),
                e_wr.addr.eq(Cat(windex[:eb], pair)),
                e_wr.data.eq(Cat(tx.wdata, func)),
            ]
            one_hot = Const(1, n) << d
            m.d.comb += sent_hot[c].eq(Mux(w_wr.en, one_hot, 0))
            tx_write = tx.req & tx.we
            wof_c = wof[c].bit_select(d, 1)
            with m.Switch(tx.addr[:_SLOT_BITS]):
                with m.Case(tw("TX_FUNC")):
                    m.d.comb += tx.rdata.eq(func)
                    with m.If(tx_write):
                        m.d.comb += [w_wr.en.eq(1), w_wr.data.func.eq(tx.wdata)]
                with m.Case(tw("TX_ARG")):
                    with m.If(tx_write):
                        with m.If(full):
                            # Bug "fifo-wof-never": the dropped push leaves no trace.
                            if self.mutant != "fifo-wof-never":
                                m.d.sync += wof[c].eq(wof[c] | one_hot)
                        if self.mutant == "fifo-drop-last":
                            # Bug: the push into the last free entry is dropped, without WOF.
                            with m.Elif(level == self.depth - 1):
                                pass
                        with m.Else():
                            m.d.comb += [
                                e_wr.en.eq(1),
                                w_wr.en.eq(1),
                                w_wr.data.windex.eq(windex + 1),
                                push_hot[c].eq(one_hot),
                            ]
                with m.Case(tw("TX_WINDEX")):
                    m.d.comb += tx.rdata.eq(windex)
                with m.Case(tw("TX_RINDEX")):
                    m.d.comb += tx.rdata.eq(rindex)
                with m.Case(tw("TX_STATUS")):
                    m.d.comb += tx.rdata.eq(
                        pack_fields(
                            mm.IPI_TX.register("TX_STATUS"),
                            {"FULL": full, "EMPTY": empty, "WOF": wof_c, "LEVEL": level},
                        )
                    )
                    with m.If(tx_write & tx.wdata[wof_bit]):
                        m.d.sync += wof[c].eq(wof[c] & ~one_hot)

            # -- CPU c as consumer: its RX slot s is FIFO[s][c] ------------------------------------
            rx = self.rx[c]
            s = Signal(cb, name=f"rx{c}_slot")
            rpair = Signal(2 * cb, name=f"rx{c}_pair")
            m.d.comb += [s.eq(rx.addr[_SLOT_BITS:]), rpair.eq(Cat(Const(c, cb), s))]
            rw_rd, rr_rd = _read_port(send, f"rx{c}_send_rd"), _read_port(recv, f"rx{c}_recv_rd")
            e_rd = _read_port(entries, f"rx{c}_entry_rd")
            rwindex, rrindex = Signal(32, name=f"rx{c}_windex"), Signal(32, name=f"rx{c}_rindex")
            rlevel, rempty = Signal(32, name=f"rx{c}_level"), Signal(name=f"rx{c}_empty")
            m.d.comb += [
                rw_rd.addr.eq(rpair),
                rr_rd.addr.eq(rpair),
                rwindex.eq(Mux(sent_by_dst[c].bit_select(s, 1), rw_rd.data.windex, mm.IPI_INDEX_RESET)),
                rrindex.eq(Mux(got_by_dst[c].bit_select(s, 1), rr_rd.data, mm.IPI_INDEX_RESET)),
                rlevel.eq(rwindex - rrindex),
                rempty.eq(rlevel == 0),
                e_rd.addr.eq(Cat(rrindex[:eb], rpair)),
            ]
            r_wr = _write_port(recv, f"rx{c}_recv_wr")
            m.d.comb += [r_wr.addr.eq(rpair), r_wr.data.eq(rrindex + 1)]
            r_hot = Const(1, n) << s
            m.d.comb += got_hot[c].eq(Mux(r_wr.en, r_hot, 0))
            rx_write = rx.req & rx.we
            if self.mutant == "fifo-roe-not-sticky":
                # Bug: ROE clears itself the cycle after it is set (statements below still set it).
                m.d.sync += roe[c].eq(0)
            with m.Switch(rx.addr[:_SLOT_BITS]):
                with m.Case(rw("RX_FUNC")):
                    m.d.comb += rx.rdata.eq(Mux(rempty, 0, e_rd.data[32:]))
                with m.Case(rw("RX_ARG")):
                    m.d.comb += rx.rdata.eq(Mux(rempty, 0, e_rd.data[:32]))
                with m.Case(rw("RX_POP")):
                    with m.If(rx_write):
                        with m.If(rempty):
                            m.d.sync += roe[c].eq(roe[c] | r_hot)
                            if roe_set:
                                m.d.comb += roe_set[c].eq(r_hot)
                        with m.Else():
                            m.d.comb += r_wr.en.eq(1)
                            with m.If(rlevel == 1):
                                m.d.comb += clear_hot[c].eq(r_hot)
                with m.Case(rw("RX_LEVEL")):
                    m.d.comb += rx.rdata.eq(rlevel)
                with m.Case(rw("RX_STATUS")):
                    m.d.comb += rx.rdata.eq(
                        pack_fields(mm.IPI_RX.register("RX_STATUS"), {"VALID": ~rempty, "ROE": roe[c].bit_select(s, 1)})
                    )
                    with m.If(rx_write & rx.wdata[roe_bit]):
                        m.d.sync += roe[c].eq(roe[c] & ~r_hot)

        if self.mutant == "ipi-send-data-shared":
            # Bug: one data bus for every producer's send row: several writers in a cycle all write the
            # lowest one's row (applied from the highest lower writer down, so the lowest is assigned last).
            for c in range(1, n):
                for lower in reversed(range(c)):
                    with m.If(send_ports[lower].en & send_ports[c].en):
                        m.d.comb += send_ports[c].data.eq(send_ports[lower].data)
        if self.mutant == "fifo-roe-mirrored":
            # Bug: the ROE strobe also lands at the mirrored place of the bit matrix: a pop of an empty
            # FIFO[s][c] sets ROE of FIFO[c][s] too (roe_<s> bit c), the flag of CPU s's receive side.
            for d in range(n):
                mirrored = Cat(Const(0, 1) if c == d else roe_set[c][d] for c in range(n))
                with m.If(mirrored.any()):
                    m.d.sync += roe[d].eq(roe[d] | mirrored)

        # -- the bit matrices: a row is one CPU's word, a column gathers one bit of every CPU's ----
        def column(hot, k):
            return Cat(Const(0, 1) if j == k else hot[j][k] for j in range(n))

        for c in range(n):
            pushed_in = column(push_hot, c)  # bit s: CPU s pushed to CPU c this cycle
            # A push beside the pop of the last entry leaves the FIFO non-empty.
            m.d.sync += [
                pending[c].eq((pending[c] & ~clear_hot[c]) | pushed_in),
                sent_by_src[c].eq(sent_by_src[c] | sent_hot[c]),
                sent_by_dst[c].eq(sent_by_dst[c] | column(sent_hot, c)),
                got_by_dst[c].eq(got_by_dst[c] | got_hot[c]),
                got_by_src[c].eq(got_by_src[c] | column(got_hot, c)),
            ]
            if self.mutant == "ipi-pending-transposed":
                # Bug: the matrix is transposed; CPU s sees bit d for its own outgoing FIFO.
                m.d.comb += self.rx_pending[c].eq(column(pending, c))
            else:
                m.d.comb += self.rx_pending[c].eq(pending[c])
        return m
