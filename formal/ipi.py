"""Formal harnesses for hdl/ipi.py: one IPI FIFO, and the FIFO matrix end to end.

Both harnesses drive the blocks' register buses from free inputs, constrained to what the tile
decoder (hdl/tile.py) lets through: a legal offset of the CPU's window, never its own slot. The
producer and the consumer of a FIFO have separate buses, so a push and a pop may share a cycle.

The contract is stated at the ports against a reference model kept in the harness (indices,
latched function, sticky flags), and the data path with the usual symbolic-entry argument: the
solver picks one push number ``k``; the harness records what the k-th accepted push carried, and
whenever entry k is the head, RX_FUNC/RX_ARG must show exactly it. As k is arbitrary, every entry
comes out once, in push order, unchanged.

The only references to the blocks' internals (for the strengthening invariants and for the
matrix's routing property) are in ``_fifo_state`` and ``IpiMatrixHarness._pair_state``: a
restructuring of the storage behind the same register contract only has to update those.
"""
from amaranth.hdl import Array, Assume, Cat, Const, Fragment, Signal, Value

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


def _legal(win: mm.Window, addr, we):
    """The tile decoder passes only these: a legal offset of ``win`` for the access's direction."""
    ok = 0
    for off in range(1 << len(addr)):
        if win.legal(off, False):
            ok = ok | (~we & (addr == off))
        if win.legal(off, True):
            ok = ok | (we & (addr == off))
    return ok


# -- the only references to hdl/ipi.py internals ---------------------------------------------------

def _fifo_state(frag: Fragment, path: tuple[str, ...], row_addr) -> dict:
    """The abstract state of the IpiFifo elaborated into ``frag`` at ``path``.

    Its registers (windex, rindex, func, wof, roe) and ``row``: the storage word at ``row_addr``
    as Cat(arg, func), read through a read port this function adds to the FIFO's memory (it
    drives nothing of the design, so behaviour is unchanged).
    """
    state = {name: internal(frag, name, path) for name in ("windex", "rindex", "func", "wof", "roe")}
    for sub in path:
        frag = next(f for f, n, _ in frag.subfragments if n == sub)
    storage = next(f for f, n, _ in frag.subfragments if n == "storage")     # a MemoryInstance
    row = Signal(64, name=f"i_row_{'_'.join(path) or 'fifo'}")
    storage.read_port(domain="comb", addr=row_addr, data=row, en=Const(1, 1), transparent_for=())
    state["row"] = row
    return state

# ---------------------------------------------------------------------------------------------------


_PROPERTIES = {
    "order": "no loss, duplication or reordering: while the k-th accepted push (k free) is the "
             "head, RX_FUNC/RX_ARG read exactly its (TX_FUNC, TX_ARG)",
    "empty-head": "RX_FUNC and RX_ARG read 0 while the FIFO is empty",
    "indices": "TX_WINDEX reads the number of accepted pushes (TX_ARG writes on a non-full FIFO), "
               "TX_RINDEX the number of accepted pops (RX_POP writes on a non-empty FIFO), mod 2^32",
    "level": "RX_LEVEL and TX_STATUS.LEVEL read TX_WINDEX - TX_RINDEX; FULL, EMPTY and VALID match "
             "it; the other status bits read 0",
    "wof": "TX_STATUS.WOF is set exactly by a push on a full FIFO and stays set until a "
           "TX_STATUS write with bit 2 set",
    "roe": "RX_STATUS.ROE is set exactly by a pop on an empty FIFO and stays set until an "
           "RX_STATUS write with bit 1 set",
    "func": "TX_FUNC reads the last value written to it",
    "gnt": "every access is granted in its cycle",
    "inv-state": "invariant: the FIFO's registers equal the reference model's",
    "inv-level": "invariant: 0 <= TX_WINDEX - TX_RINDEX <= depth",
    "inv-entry": "invariant: while entry k is in the FIFO, its storage row holds what its push carried",
}
_INVARIANTS = ("inv-state", "inv-level", "inv-entry")


def _fifo_contract(h: Harness, m, depth: int, tx: _View, rx: _View, nonempty, state_at) -> dict:
    """Model one FIFO from the accesses at its two sides and check its ports against the model.

    ``state_at(row_addr)`` gives the FIFO's abstract state (``_fifo_state``). Returns the model's
    signals and the abstract state, for the harness's own properties and covers.
    """
    aw = (depth - 1).bit_length()
    k = h.stable(m, 32, "k")                      # the symbolic entry: the k-th accepted push
    st = state_at(k[:aw])

    # The reference model: what the register contract says the FIFO holds.
    w, r, func = Signal(32, name="m_windex"), Signal(32, name="m_rindex"), Signal(32, name="m_func")
    wof, roe = Signal(name="m_wof"), Signal(name="m_roe")
    entry = Signal(64, name="m_entry")            # Cat(arg, func) of the k-th accepted push
    level = Signal(32, name="m_level")
    full, empty = Signal(name="m_full"), Signal(name="m_empty")
    m.d.comb += [level.eq(w - r), full.eq(level == depth), empty.eq(level == 0)]

    tw, rw = mm.IPI_TX.word, mm.IPI_RX.word
    tx_wr, rx_wr = tx.req & tx.we, rx.req & rx.we
    push_try, pop_try = Signal(name="m_push_try"), Signal(name="m_pop_try")
    push, pop = Signal(name="m_push"), Signal(name="m_pop")
    m.d.comb += [push_try.eq(tx_wr & (tx.reg == tw("TX_ARG"))), push.eq(push_try & ~full),
                 pop_try.eq(rx_wr & (rx.reg == rw("RX_POP"))), pop.eq(pop_try & ~empty)]
    # Both sides see the state before the cycle: a push on full is dropped even with a pop beside it.
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

    # Strengthening invariants: the block's state is the model's, and entry k sits in its row.
    h.check(m, "inv-state", (st["windex"] == w) & (st["rindex"] == r) & (st["func"] == func)
            & (st["wof"] == wof) & (st["roe"] == roe))
    h.check(m, "inv-level", level <= depth)
    in_flight = Signal(name="m_k_in_flight")
    m.d.comb += in_flight.eq((k - r)[:32] < level)
    with m.If(in_flight):
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
            with m.Case(rw("RX_FUNC")):
                with m.If(head):
                    h.check(m, "order", rx.rdata == entry[32:])
                with m.If(empty):
                    h.check(m, "empty-head", rx.rdata == 0)
            with m.Case(rw("RX_ARG")):
                with m.If(head):
                    h.check(m, "order", rx.rdata == entry[:32])
                with m.If(empty):
                    h.check(m, "empty-head", rx.rdata == 0)
            with m.Case(rw("RX_LEVEL")):
                h.check(m, "level", rx.rdata == level)
            with m.Case(rw("RX_STATUS")):
                h.check(m, "roe", rx.rdata[_ROE.lsb] == roe)
                h.check(m, "level", (rx.rdata & ~Const(_ROE.mask, 32)) == _pack(_RX_STATUS, VALID=~empty))
    h.check(m, "pending", nonempty == ~empty)

    # Non-vacuity.
    rd = lambda view, reg, word: view.req & ~view.we & (view.reg == word(reg))
    wr = lambda view, reg, word: view.req & view.we & (view.reg == word(reg))
    h.cover(m, rd(rx, "RX_ARG", rw) & head & (k != 0) & (level >= 2), "entry k>0 read at the head, another behind it")
    h.cover(m, rd(rx, "RX_FUNC", rw) & head & (entry[32:] != 0), "entry k's function read at the head")
    h.cover(m, pop & head & push, "entry k popped while another is pushed")
    h.cover(m, in_flight & ~head, "entry k stored behind the head")
    h.cover(m, rd(rx, "RX_FUNC", rw) & empty & (r != 0), "the head read on a drained FIFO")
    h.cover(m, rd(tx, "TX_RINDEX", tw) & (r >= 2), "TX_RINDEX read after two pops")
    h.cover(m, rd(tx, "TX_WINDEX", tw) & (w >= 2), "TX_WINDEX read after two pushes")
    h.cover(m, rd(tx, "TX_STATUS", tw) & full, "TX_STATUS read on a full FIFO")
    h.cover(m, rd(rx, "RX_LEVEL", rw) & (level >= 2), "RX_LEVEL read with two entries")
    h.cover(m, rd(rx, "RX_STATUS", rw) & ~empty, "RX_STATUS read on a non-empty FIFO")
    h.cover(m, push_try & full & pop, "a push on full beside a pop (dropped)")
    h.cover(m, pop_try & empty & push, "a pop on empty beside a push (ignored)")
    h.cover(m, rd(tx, "TX_STATUS", tw) & wof, "WOF read set")
    h.cover(m, wr(tx, "TX_STATUS", tw) & tx.wdata[_WOF.lsb] & wof, "WOF cleared by writing 1")
    h.cover(m, wr(tx, "TX_STATUS", tw) & ~tx.wdata[_WOF.lsb] & wof, "WOF kept by writing 0")
    h.cover(m, rd(rx, "RX_STATUS", rw) & roe, "ROE read set")
    h.cover(m, wr(rx, "RX_STATUS", rw) & rx.wdata[_ROE.lsb] & roe, "ROE cleared by writing 1")
    h.cover(m, wr(rx, "RX_STATUS", rw) & ~rx.wdata[_ROE.lsb] & roe, "ROE kept by writing 0")
    h.cover(m, rd(tx, "TX_FUNC", tw) & (func != 0), "TX_FUNC read back")
    h.cover(m, pop & (level == 1), "the last entry popped (pending drops)")
    h.cover(m, tx.req & rx.req, "both sides accessed in one cycle")
    return {"k": k, "state": st, "windex": w, "rindex": r, "empty": empty, "push": push, "pop": pop}


class IpiFifoHarness(Harness):
    NAME = "ipi-fifo"
    TITLE = "one IPI mailbox FIFO (hdl/ipi.py IpiFifo) between its producer and its consumer"
    PROPERTIES = dict(_PROPERTIES, pending="nonempty is high exactly while the FIFO holds an entry")
    INVARIANTS = _INVARIANTS
    SIZES = ({"depth": 2}, {"depth": 4})
    QUICK = ({"depth": 4},)
    DEPTH = 6          # covers: 4 pushes fill the FIFO, one more sets WOF, one clears it
    MUTANTS = ("fifo-drop-last", "fifo-roe-not-sticky", "fifo-wof-never")

    def build(self, m, platform):
        depth = self.params["depth"]
        dut = IpiFifo(depth, mutant=self.mutant)
        frag = Fragment.get(dut, platform)
        m.submodules.dut = frag
        # The FIFO sits in slot 1 of CPU 0's windows (and slot 0 of CPU 1's): same offsets.
        cfg = SocConfig(ncpu=2, fifo_depth=depth)
        wins = {w.block.name: w for w in mm.windows(cfg, 0)}
        views = {}
        for side, bus in (("tx", dut.tx), ("rx", dut.rx)):
            req, we = self.input(1, f"{side}_req"), self.input(1, f"{side}_we")
            reg, wdata = self.input(_SLOT_BITS, f"{side}_addr"), self.input(32, f"{side}_wdata")
            m.d.comb += [bus.req.eq(req), bus.we.eq(we), bus.addr.eq(reg), bus.wdata.eq(wdata)]
            win = wins["ipi_" + side]
            with m.If(req):
                m.d.comb += Assume(_legal(win, Cat(reg, Const(1, win.span_log2 - _SLOT_BITS)), we))
            views[side] = _View(req, we, reg, wdata, bus.rdata)
            self.check(m, "gnt", bus.gnt == req)
            self.cover(m, req & (bus.gnt == 1), f"a {side} access granted")
        _fifo_contract(self, m, depth, views["tx"], views["rx"], dut.nonempty,
                       lambda row_addr: _fifo_state(frag, (), row_addr))


class IpiMatrixHarness(Harness):
    NAME = "ipi-matrix"
    TITLE = "the IPI mailbox matrix (hdl/ipi.py IpiMatrix): one arbitrary FIFO[s][d] end to end, and routing"
    PROPERTIES = dict(
        _PROPERTIES,
        pending="rx_pending[d] bit s is high exactly while FIFO[s][d] holds an entry; bit d is 0",
        routing="FIFO[s][d] changes only in the cycle after CPU s writes its TX slot d or CPU d "
                "writes its RX slot s: every other CPU, slot and read leaves it alone",
    )
    INVARIANTS = _INVARIANTS
    SIZES = ({"ncpu": 2, "depth": 4},)
    QUICK = ({"ncpu": 2, "depth": 4},)
    DEPTH = 6          # covers: 4 pushes fill FIFO[s][d], one more sets WOF, one clears it
    MUTANTS = ("fifo-drop-last", "fifo-roe-not-sticky", "fifo-wof-never", "ipi-pending-transposed")

    def _pair_state(self, m, frag: Fragment, s, d, row_addr) -> dict:
        """FIFO[s][d]'s abstract state (``_fifo_state``), selected by the free constants s, d.
        Internals of hdl/ipi.py are reached only from here and from ``_fifo_state``."""
        n = self.ncpu
        states = [[_fifo_state(frag, (f"fifo_{a}_{b}",), row_addr) if a != b else None
                   for b in range(n)] for a in range(n)]
        pick = {}
        for name in ("windex", "rindex", "func", "wof", "roe", "row"):
            width = 64 if name == "row" else len(states[0][1][name])
            cells = [states[a][b][name] if a != b else Const(0, width) for a in range(n) for b in range(n)]
            sig = Signal(width, name=f"i_pair_{name}")
            m.d.comb += sig.eq(Array(cells)[s * n + d])
            pick[name] = sig
        return pick

    def build(self, m, platform):
        n = self.ncpu = self.params["ncpu"]
        depth = self.params["depth"]
        cfg = SocConfig(ncpu=n, fifo_depth=depth)
        wins = [{w.block.name: w for w in mm.windows(cfg, c)} for c in range(n)]
        aw = wins[0]["ipi_tx"].span_log2
        assert wins[0]["ipi_rx"].span_log2 == aw      # the SoC gives both sides one width
        dut = IpiMatrix(n, depth, aw, mutant=self.mutant)
        frag = Fragment.get(dut, platform)
        m.submodules.dut = frag

        bus_in = {}
        for side in ("tx", "rx"):
            fields = {"req": [], "we": [], "addr": [], "wdata": [], "rdata": []}
            for c in range(n):
                bus = getattr(dut, side)[c]
                req, we = self.input(1, f"{side}{c}_req"), self.input(1, f"{side}{c}_we")
                addr, wdata = self.input(aw, f"{side}{c}_addr"), self.input(32, f"{side}{c}_wdata")
                m.d.comb += [bus.req.eq(req), bus.we.eq(we), bus.addr.eq(addr), bus.wdata.eq(wdata)]
                # The tile decoder passes only legal offsets: slot < ncpu, not the CPU's own slot.
                with m.If(req):
                    m.d.comb += Assume(_legal(wins[c]["ipi_" + side], addr, we))
                self.check(m, "gnt", bus.gnt == req)
                for key, val in (("req", req), ("we", we), ("addr", addr), ("wdata", wdata), ("rdata", bus.rdata)):
                    fields[key].append(val)
            bus_in[side] = {key: Array(vals) for key, vals in fields.items()}

        # The pair under proof: free constants, a real FIFO.
        s, d = self.stable(m, range(n), "s"), self.stable(m, range(n), "d")
        m.d.comb += [Assume(s < n), Assume(d < n), Assume(s != d)]

        def view(side, cpu, slot):
            b = bus_in[side]
            req, we, reg = Signal(name=f"v_{side}_req"), Signal(name=f"v_{side}_we"), Signal(_SLOT_BITS, name=f"v_{side}_reg")
            wdata, rdata = Signal(32, name=f"v_{side}_wdata"), Signal(32, name=f"v_{side}_rdata")
            addr = b["addr"][cpu]
            m.d.comb += [req.eq(b["req"][cpu] & (addr[_SLOT_BITS:] == slot)), we.eq(b["we"][cpu]),
                         reg.eq(addr[:_SLOT_BITS]), wdata.eq(b["wdata"][cpu]), rdata.eq(b["rdata"][cpu])]
            return _View(req, we, reg, wdata, rdata)

        tx, rx = view("tx", s, d), view("rx", d, s)     # CPU s's TX slot d, CPU d's RX slot s
        pending = Signal(name="v_pending")
        m.d.comb += pending.eq(Array(dut.rx_pending)[d].bit_select(s, 1))
        model = _fifo_contract(self, m, depth, tx, rx, pending,
                               lambda row_addr: self._pair_state(m, frag, s, d, row_addr))
        self.check(m, "pending", Array(dut.rx_pending)[d].bit_select(d, 1) == 0)

        # Routing: without a write by its producer (at slot d) or its consumer (at slot s),
        # FIFO[s][d], its storage row of entry k included, keeps its state.
        st = model["state"]
        touched = self.past(m, (tx.req & tx.we) | (rx.req & rx.we), "touched")
        before = {name: self.past(m, value, f"pair_{name}") for name, value in st.items()}
        with m.If(self.past_valid & ~touched):
            for name, value in st.items():
                self.check(m, "routing", value == before[name])

        # Non-vacuity of routing: the pair is left alone while others write around it.
        tx_w = [bus_in["tx"]["req"][c] & bus_in["tx"]["we"][c] for c in range(n)]
        rx_w = [bus_in["rx"]["req"][c] & bus_in["rx"]["we"][c] for c in range(n)]
        others = 0
        for c in range(n):
            others = others | tx_w[c] | rx_w[c]
        self.cover(m, ~model["empty"] & others & ~(tx.req & tx.we) & ~(rx.req & rx.we),
                   "other writes while FIFO[s][d] holds an entry")
        rev = Signal(name="v_reverse_push")
        m.d.comb += rev.eq(bus_in["tx"]["req"][d] & bus_in["tx"]["we"][d]
                           & (bus_in["tx"]["addr"][d] == s * SLOT_WORDS + mm.IPI_TX.word("TX_ARG")))
        self.cover(m, ~model["empty"] & rev, "CPU d pushes to CPU s while FIFO[s][d] holds an entry")
        if n >= 3:
            sib = Signal(name="v_sibling_push")
            m.d.comb += sib.eq(bus_in["tx"]["req"][s] & bus_in["tx"]["we"][s]
                               & (bus_in["tx"]["addr"][s][:_SLOT_BITS] == mm.IPI_TX.word("TX_ARG"))
                               & (bus_in["tx"]["addr"][s][_SLOT_BITS:] != d))
            self.cover(m, ~model["empty"] & sib, "CPU s pushes to another CPU while FIFO[s][d] holds an entry")
        self.cover(m, pending & (s != 0) & (d != 0) if n >= 3 else pending, "rx_pending[d] bit s high")
