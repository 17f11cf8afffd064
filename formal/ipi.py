"""Formal harnesses for hdl/ipi.py: one IPI FIFO, and the matrix that routes the CPUs to the FIFOs.

Both harnesses drive the register buses from free inputs, constrained to what the tile decoder
(hdl/tile.py) lets through: a legal register of the CPU's window, never the CPU's own slot. A
FIFO's producer and consumer have separate buses, so a push and a pop may share a cycle.

ipi-fifo states the register contract at the FIFO's two ports against a reference model kept in
the harness (indices, latched function, sticky flags), and the data path with the usual symbolic
entry: the solver picks a push number k, the harness records what the k-th accepted push
carried, and whenever entry k is the head RX_FUNC/RX_ARG must show exactly it. As k is arbitrary,
every entry comes out once, in push order, unchanged.

ipi-matrix proves, for a FIFO[s][d] the solver picks (s, d free constants), that the matrix is a
transparent router: FIFO[s][d] sees exactly CPU s's accesses to its TX slot d and CPU d's accesses
to its RX slot s and nothing else, only legal ones (the assumption of ipi-fifo), their answers go
back to those CPUs, and rx_pending[d] bit s is its nonempty. With ipi-fifo this gives the register
contract end to end for every pair (docs/formal.md says why the proof is split in two).

The only references to hdl/ipi.py internals are in the two functions marked below.
"""
from amaranth.hdl import Array, Assume, Cat, Const, Fragment, Mux, Signal, Value

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.ipi import IpiFifo, IpiMatrix, SLOT_WORDS

from .harness import Harness, internal

__all__ = ["IpiFifoHarness", "IpiMatrixHarness"]

_SLOT_BITS = (SLOT_WORDS - 1).bit_length()      # register offset inside a slot
_TX_STATUS = mm.IPI_TX.register("TX_STATUS")
_RX_STATUS = mm.IPI_RX.register("RX_STATUS")
_WOF, _ROE = _TX_STATUS.field("WOF"), _RX_STATUS.field("ROE")


class _View:
    """One side of one FIFO as its single user drives it: a decoded access to its slot."""

    def __init__(self, req, we, reg, wdata, rdata):
        self.req, self.we, self.reg, self.wdata, self.rdata = req, we, reg, wdata, rdata


def _pack(reg: mm.Register, **values) -> Value:
    """The register word with each named field set to ``values[name]`` and the rest 0."""
    word = Const(0, 32)
    for name, value in values.items():
        f = reg.field(name)
        value = Value.cast(value)
        word = word | (value[:min(f.width, len(value))] << f.lsb)
    return word[:32]


def _slot_legal(side: str, reg, we):
    """A legal access to one slot of IPI_TX (``side`` "tx") or IPI_RX ("rx"): what ipi-fifo
    assumes and ipi-matrix proves. Taken from slot 1 as CPU 0 of two sees it (every slot
    repeats the same registers)."""
    win = next(w for w in mm.windows(SocConfig(ncpu=2), 0) if w.block.name == f"ipi_{side}")
    ok = {wr: Const(sum(1 << off for off in range(SLOT_WORDS) if win.legal(SLOT_WORDS + off, wr)), SLOT_WORDS)
          for wr in (False, True)}
    return Mux(we, ok[True].bit_select(reg, 1), ok[False].bit_select(reg, 1))


# -- the only references to hdl/ipi.py internals ---------------------------------------------------

def _fifo_state(frag: Fragment, row_addr) -> dict:
    """The state of the IpiFifo elaborated as ``frag``, for the invariants of ipi-fifo.

    Its registers (windex, rindex, func, wof, roe) and ``row``: the storage word at ``row_addr``
    as Cat(arg, func), read through a read port added here to the FIFO's memory (it drives
    nothing in the design, so the behaviour is unchanged).
    """
    state = {name: internal(frag, name) for name in ("windex", "rindex", "func", "wof", "roe")}
    storage = next(f for f, n, _ in frag.subfragments if n == "storage")     # a MemoryInstance
    row = Signal(64, name="i_row")
    storage.read_port(domain="comb", addr=row_addr, data=row, en=Const(1, 1), transparent_for=())
    state["row"] = row
    return state


def _matrix_fifo_ports(m, frag: Fragment, n: int, s, d) -> dict:
    """The ports of the matrix's FIFO[s][d] (an IpiFifo), picked by the free constants s, d:
    ``{"tx": _View, "rx": _View, "nonempty": Signal}``, for ipi-matrix."""
    def pick(name, width, output: bool):
        cells = []
        for a in range(n):
            for b in range(n):
                if a == b:
                    cells.append(Const(0, width))
                else:
                    # The matrix drives a FIFO's inputs; the FIFO its outputs.
                    path = (f"fifo_{a}_{b}",) if output else ()
                    cells.append(internal(frag, f"fifo_{a}_{b}__{name}", path))
        sig = Signal(width, name=f"i_fifo__{name}")
        m.d.comb += sig.eq(Array(cells)[s * n + d])
        return sig

    ports = {side: _View(pick(f"{side}__req", 1, False), pick(f"{side}__we", 1, False),
                         pick(f"{side}__addr", _SLOT_BITS, False), pick(f"{side}__wdata", 32, False),
                         pick(f"{side}__rdata", 32, True))
             for side in ("tx", "rx")}
    ports["nonempty"] = pick("nonempty", 1, True)
    return ports

# ---------------------------------------------------------------------------------------------------


def _fifo_contract(h: Harness, m, depth: int, tx: _View, rx: _View, nonempty, state_at) -> None:
    """The register contract of one FIFO at its two sides, against a reference model driven by the
    same accesses. ``state_at(row_addr)`` gives the FIFO's internal state (``_fifo_state``), for
    the invariants. Kept apart from the harness so that an end-to-end proof through another
    block (a matrix) can apply it to that block's views of one FIFO."""
    aw = (depth - 1).bit_length()
    k = h.stable(m, 32, "k")                   # the symbolic entry: the k-th accepted push
    st = state_at(k[:aw])

    # The reference model: what the register contract says the FIFO holds.
    w, r, func = Signal(32, name="m_windex"), Signal(32, name="m_rindex"), Signal(32, name="m_func")
    wof, roe = Signal(name="m_wof"), Signal(name="m_roe")
    entry = Signal(64, name="m_entry")         # Cat(arg, func) of the k-th accepted push
    level, full, empty = Signal(32, name="m_level"), Signal(name="m_full"), Signal(name="m_empty")
    m.d.comb += [level.eq(w - r), full.eq(level == depth), empty.eq(level == 0)]

    tw, rw = mm.IPI_TX.word, mm.IPI_RX.word
    tx_wr, rx_wr = tx.req & tx.we, rx.req & rx.we
    push_try, pop_try = Signal(name="m_push_try"), Signal(name="m_pop_try")
    push, pop = Signal(name="m_push"), Signal(name="m_pop")
    m.d.comb += [push_try.eq(tx_wr & (tx.reg == tw("TX_ARG"))), push.eq(push_try & ~full),
                 pop_try.eq(rx_wr & (rx.reg == rw("RX_POP"))), pop.eq(pop_try & ~empty)]
    # Both sides see the state before the cycle: a push to a full FIFO is dropped even
    # with a pop beside it, and a pop of an empty one fails even with a push beside it.
    with m.If(push):
        m.d.sync += w.eq(w + 1)
        with m.If(w == k):
            m.d.sync += entry.eq(Cat(tx.wdata, func))
    with m.If(pop):
        m.d.sync += r.eq(r + 1)
    with m.If(tx_wr & (tx.reg == tw("TX_FUNC"))):
        m.d.sync += func.eq(tx.wdata)
    with m.If(push_try & full):
        m.d.sync += wof.eq(1)
    with m.If(tx_wr & (tx.reg == tw("TX_STATUS")) & tx.wdata[_WOF.lsb]):
        m.d.sync += wof.eq(0)
    with m.If(pop_try & empty):
        m.d.sync += roe.eq(1)
    with m.If(rx_wr & (rx.reg == rw("RX_STATUS")) & rx.wdata[_ROE.lsb]):
        m.d.sync += roe.eq(0)

    # Strengthening invariants: the block's registers are the model's, the level is in range
    # (so a push never lands on a stored entry), and entry k sits in its row while stored.
    h.check(m, "inv-state", (st["windex"] == w) & (st["rindex"] == r) & (st["func"] == func)
               & (st["wof"] == wof) & (st["roe"] == roe))
    h.check(m, "inv-level", level <= depth)
    stored = Signal(name="m_k_stored")
    m.d.comb += stored.eq((k - r)[:32] < level)        # r <= k < w, indices mod 2^32
    with m.If(stored):
        h.check(m, "inv-entry", st["row"] == entry)

    # The send side's reads.
    with m.If(tx.req & ~tx.we):
        with m.Switch(tx.reg):
            with m.Case(tw("TX_FUNC")):
                h.check(m, "func", tx.rdata == func)
            with m.Case(tw("TX_WINDEX")):
                h.check(m, "indices", tx.rdata == w)
            with m.Case(tw("TX_RINDEX")):
                h.check(m, "indices", tx.rdata == r)
            with m.Case(tw("TX_STATUS")):
                h.check(m, "wof", tx.rdata[_WOF.lsb] == wof)
                h.check(m, "level", (tx.rdata & ~Const(_WOF.mask, 32))
                           == _pack(_TX_STATUS, FULL=full, EMPTY=empty, LEVEL=level))
    # The receive side's reads.
    head = Signal(name="m_k_at_head")
    m.d.comb += head.eq(~empty & (r == k))
    with m.If(rx.req & ~rx.we):
        with m.Switch(rx.reg):
            for reg, half in (("RX_FUNC", entry[32:]), ("RX_ARG", entry[:32])):
                with m.Case(rw(reg)):
                    with m.If(head):
                        h.check(m, "order", rx.rdata == half)
                    with m.If(empty):
                        h.check(m, "empty-head", rx.rdata == 0)
            with m.Case(rw("RX_LEVEL")):
                h.check(m, "level", rx.rdata == level)
            with m.Case(rw("RX_STATUS")):
                h.check(m, "roe", rx.rdata[_ROE.lsb] == roe)
                h.check(m, "level", (rx.rdata & ~Const(_ROE.mask, 32)) == _pack(_RX_STATUS, VALID=~empty))
    h.check(m, "pending", nonempty == ~empty)

    # Non-vacuity.
    def rd(view, reg, word):
        return view.req & ~view.we & (view.reg == word(reg))

    def wr(view, reg, word):
        return view.req & view.we & (view.reg == word(reg))

    h.cover(m, rd(rx, "RX_ARG", rw) & head & (k != 0) & (level >= 2),
            "entry k>0 read at the head, another behind it")
    h.cover(m, rd(rx, "RX_FUNC", rw) & head & (entry[32:] != 0), "entry k's function read at the head")
    h.cover(m, pop & head & push, "entry k popped while another is pushed")
    h.cover(m, stored & ~head, "entry k stored behind the head")
    h.cover(m, rd(rx, "RX_FUNC", rw) & empty & (r != 0), "the head read on a drained FIFO")
    h.cover(m, rd(tx, "TX_RINDEX", tw) & (r >= 2), "TX_RINDEX read after two pops")
    h.cover(m, rd(tx, "TX_WINDEX", tw) & (w >= 2), "TX_WINDEX read after two pushes")
    h.cover(m, rd(tx, "TX_STATUS", tw) & full, "TX_STATUS read on a full FIFO")
    h.cover(m, rd(rx, "RX_LEVEL", rw) & (level >= 2), "RX_LEVEL read with two entries")
    h.cover(m, rd(rx, "RX_STATUS", rw) & ~empty, "RX_STATUS read on a non-empty FIFO")
    h.cover(m, push_try & full & pop, "a push to a full FIFO beside a pop (dropped)")
    h.cover(m, pop_try & empty & push, "a pop of an empty FIFO beside a push (fails)")
    h.cover(m, rd(tx, "TX_STATUS", tw) & wof, "WOF read set")
    h.cover(m, wr(tx, "TX_STATUS", tw) & tx.wdata[_WOF.lsb] & wof, "WOF cleared by writing 1")
    h.cover(m, wr(tx, "TX_STATUS", tw) & ~tx.wdata[_WOF.lsb] & wof, "WOF kept by writing 0")
    h.cover(m, rd(rx, "RX_STATUS", rw) & roe, "ROE read set")
    h.cover(m, wr(rx, "RX_STATUS", rw) & rx.wdata[_ROE.lsb] & roe, "ROE cleared by writing 1")
    h.cover(m, wr(rx, "RX_STATUS", rw) & ~rx.wdata[_ROE.lsb] & roe, "ROE kept by writing 0")
    h.cover(m, rd(tx, "TX_FUNC", tw) & (func != 0), "TX_FUNC read back")
    h.cover(m, pop & (level == 1), "the last entry popped (nonempty falls)")
    h.cover(m, tx.req & rx.req, "both sides accessed in one cycle")


class IpiFifoHarness(Harness):
    NAME = "ipi-fifo"
    TITLE = "one IPI mailbox FIFO (hdl/ipi.py IpiFifo) between its producer and its consumer"
    PROPERTIES = {
        "order": "no loss, duplication or reordering: while the k-th accepted push (k free) is the head, "
                 "RX_FUNC/RX_ARG read exactly its (TX_FUNC, TX_ARG)",
        "empty-head": "RX_FUNC and RX_ARG read 0 while the FIFO is empty",
        "indices": "TX_WINDEX reads the number of accepted pushes (TX_ARG writes to a non-full FIFO), "
                   "TX_RINDEX the number of accepted pops (RX_POP writes to a non-empty FIFO), mod 2^32",
        "level": "RX_LEVEL and TX_STATUS.LEVEL read TX_WINDEX - TX_RINDEX; FULL, EMPTY and VALID match it; "
                 "the other status bits read 0",
        "wof": "TX_STATUS.WOF is set exactly by a push to a full FIFO (the entry is dropped) and stays set "
               "until a TX_STATUS write with bit 2 set",
        "roe": "RX_STATUS.ROE is set exactly by a pop of an empty FIFO and stays set until an RX_STATUS "
               "write with bit 1 set",
        "func": "TX_FUNC reads the last value written to it",
        "pending": "nonempty (the source of RX_PENDING) is high exactly while the FIFO holds an entry",
        "gnt": "every access is granted in its cycle",
        "inv-state": "invariant: the FIFO's registers equal the reference model's",
        "inv-level": "invariant: TX_WINDEX - TX_RINDEX <= depth",
        "inv-entry": "invariant: while entry k is in the FIFO, its storage row holds what its push carried",
    }
    INVARIANTS = ("inv-state", "inv-level", "inv-entry")
    SIZES = ({"depth": 2}, {"depth": 4})
    QUICK = ({"depth": 4},)
    DEPTH = 6          # covers at depth 4: 4 pushes fill the FIFO, a 5th sets WOF, a 6th clears it
    MUTANTS = ("fifo-drop-last", "fifo-roe-not-sticky", "fifo-wof-never")

    def build(self, m, platform):
        depth = self.params["depth"]
        dut = IpiFifo(depth, mutant=self.mutant)
        frag = Fragment.get(dut, platform)
        m.submodules.dut = frag
        views = {}
        for side, bus in (("tx", dut.tx), ("rx", dut.rx)):
            req, we = self.input(1, f"{side}_req"), self.input(1, f"{side}_we")
            reg, wdata = self.input(_SLOT_BITS, f"{side}_addr"), self.input(32, f"{side}_wdata")
            m.d.comb += [bus.req.eq(req), bus.we.eq(we), bus.addr.eq(reg), bus.wdata.eq(wdata)]
            with m.If(req):
                m.d.comb += Assume(_slot_legal(side, reg, we))
            self.check(m, "gnt", bus.gnt == req)
            views[side] = _View(req, we, reg, wdata, bus.rdata)
        _fifo_contract(self, m, depth, views["tx"], views["rx"], dut.nonempty,
                       lambda row_addr: _fifo_state(frag, row_addr))


class IpiMatrixHarness(Harness):
    NAME = "ipi-matrix"
    TITLE = ("the IPI mailbox matrix (hdl/ipi.py IpiMatrix): an arbitrary FIFO[s][d] sees exactly "
             "its own producer's and consumer's accesses")
    PROPERTIES = {
        "tx-routing": "FIFO[s][d]'s send side is accessed exactly when CPU s accesses its TX slot d, "
                      "with that access's direction, register and data (no other CPU or slot reaches it)",
        "rx-routing": "FIFO[s][d]'s receive side is accessed exactly when CPU d accesses its RX slot s, "
                      "with that access's direction, register and data (no other CPU or slot reaches it)",
        "read-data": "a read by CPU s of its TX slot d returns FIFO[s][d]'s send-side answer; a read by "
                     "CPU d of its RX slot s its receive-side answer",
        "legal": "FIFO[s][d] is only accessed at a register its side may read (for a read) or write "
                 "(for a write): the assumption of ipi-fifo holds inside the matrix",
        "pending": "rx_pending[d] bit s is FIFO[s][d]'s nonempty; bit d is 0",
        "gnt": "every access is granted in its cycle",
    }
    SIZES = ({"ncpu": 2, "depth": 4}, {"ncpu": 3, "depth": 4}, {"ncpu": 4, "depth": 4})
    QUICK = ({"ncpu": 3, "depth": 4},)
    DEPTH = 2          # covers: a push, then the pending bit and the entry read back
    MUTANTS = ("ipi-pending-transposed",)

    def build(self, m, platform):
        n, depth = self.params["ncpu"], self.params["depth"]
        cfg = SocConfig(ncpu=n, fifo_depth=depth)
        wins = [{w.block.name: w for w in mm.windows(cfg, c)} for c in range(n)]
        aw = wins[0]["ipi_tx"].span_log2
        assert wins[0]["ipi_rx"].span_log2 == aw      # the SoC gives both sides one width
        dut = IpiMatrix(n, depth, aw, mutant=self.mutant)
        frag = Fragment.get(dut, platform)
        m.submodules.dut = frag

        buses = {"tx": [], "rx": []}
        for side in ("tx", "rx"):
            for c in range(n):
                port = getattr(dut, side)[c]
                req, we = self.input(1, f"{side}{c}_req"), self.input(1, f"{side}{c}_we")
                addr, wdata = self.input(aw, f"{side}{c}_addr"), self.input(32, f"{side}{c}_wdata")
                m.d.comb += [port.req.eq(req), port.we.eq(we), port.addr.eq(addr), port.wdata.eq(wdata)]
                # The tile decoder passes only legal offsets: slot < ncpu, not the CPU's own slot.
                self.assume_legal(m, wins[c]["ipi_" + side], req, we, addr)
                self.check(m, "gnt", port.gnt == req)
                buses[side].append(_View(req, we, addr, wdata, port.rdata))

        # The FIFO under proof: FIFO[s][d] for any two distinct CPUs.
        s, d = self.stable(m, range(n), "s"), self.stable(m, range(n), "d")
        m.d.comb += [Assume(s < n), Assume(d < n), Assume(s != d)]
        fifo = _matrix_fifo_ports(m, frag, n, s, d)

        def user(side, cpu, slot):
            """What ``cpu`` does on ``side`` when it addresses ``slot`` (req is low otherwise)."""
            b = buses[side]
            addr = Array(x.reg for x in b)[cpu]
            view = _View(Signal(name=f"u_{side}_req"), Signal(name=f"u_{side}_we"),
                         Signal(_SLOT_BITS, name=f"u_{side}_reg"), Signal(32, name=f"u_{side}_wdata"),
                         Signal(32, name=f"u_{side}_rdata"))
            m.d.comb += [view.req.eq(Array(x.req for x in b)[cpu] & (addr[_SLOT_BITS:] == slot)),
                         view.we.eq(Array(x.we for x in b)[cpu]), view.reg.eq(addr[:_SLOT_BITS]),
                         view.wdata.eq(Array(x.wdata for x in b)[cpu]),
                         view.rdata.eq(Array(x.rdata for x in b)[cpu])]
            return view

        for side, (cpu, slot) in (("tx", (s, d)), ("rx", (d, s))):
            mine, got = user(side, cpu, slot), fifo[side]
            self.check(m, f"{side}-routing", got.req == mine.req)
            with m.If(got.req):
                self.check(m, f"{side}-routing", (got.we == mine.we) & (got.reg == mine.reg)
                           & (got.wdata == mine.wdata))
                self.check(m, "legal", _slot_legal(side, got.reg, got.we))
            with m.If(mine.req & ~mine.we):
                self.check(m, "read-data", mine.rdata == got.rdata)
        pending = Array(dut.rx_pending)[d]
        self.check(m, "pending", (pending.bit_select(s, 1) == fifo["nonempty"]) & (pending.bit_select(d, 1) == 0))

        # Non-vacuity.
        tx, rx = fifo["tx"], fifo["rx"]
        tw, rw = mm.IPI_TX.word, mm.IPI_RX.word
        push = tx.req & tx.we & (tx.reg == tw("TX_ARG"))
        self.cover(m, push, "CPU s pushes to CPU d")
        self.cover(m, rx.req & ~rx.we & (rx.reg == rw("RX_ARG")) & (rx.rdata != 0),
                   "CPU d reads a pushed argument from CPU s")
        self.cover(m, tx.req & ~tx.we & (tx.reg == tw("TX_WINDEX")) & (tx.rdata != 0),
                   "CPU s reads a non-zero TX_WINDEX")
        self.cover(m, pending.bit_select(s, 1), "rx_pending[d] bit s high")
        self.cover(m, rx.req & rx.we & (rx.reg == rw("RX_POP")) & push,
                   "a pop by CPU d and a push by CPU s in one cycle")
        # Accesses that must not reach FIFO[s][d] (CPU s at another TX slot, CPU d at another RX
        # slot, the reverse FIFO's users, any other CPU), beside FIFO[s][d]'s own.
        if n >= 3:
            busy_s, busy_d = Array(x.req for x in buses["tx"])[s], Array(x.req for x in buses["rx"])[d]
            self.cover(m, busy_s & ~tx.req & fifo["nonempty"],
                       "CPU s at another TX slot while FIFO[s][d] holds an entry")
            self.cover(m, busy_d & ~rx.req & fifo["nonempty"],
                       "CPU d at another RX slot while FIFO[s][d] holds an entry")
        others = 0
        for c in range(n):
            others = others | buses["tx"][c].req | buses["rx"][c].req
        self.cover(m, others & ~tx.req & ~rx.req, "accesses elsewhere, none to FIFO[s][d]")
        reverse = (Array(x.req & x.we for x in buses["tx"])[d]
                   & (Array(x.reg for x in buses["tx"])[d] == s * SLOT_WORDS + tw("TX_ARG")))
        self.cover(m, reverse & push, "CPU d pushes to CPU s while CPU s pushes to CPU d")
