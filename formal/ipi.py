"""Formal harnesses for hdl/ipi.py: the register contract of every IPI FIFO, end to end through the
matrix's ports.

The matrix (IpiMatrix) keeps the state of the n(n-1) FIFOs in three memories addressed by the
pair, plus bit words per CPU (flags, pending bits, "row written since reset" bits). Both
harnesses drive all 2n register buses (CPU c's IPI_TX and IPI_RX) from free inputs, each
constrained only to what the tile decoder (hdl/tile.py) lets through: a legal register of CPU
c's window, in a slot below the CPU count that is not c's own. A FIFO's producer and consumer
have separate buses, so a push and a pop may share a cycle, and every other CPU may access any
of its own slots in the same cycle.

The solver picks a pair (s, d), two free constants with s != d. The register contract of one FIFO
(``_fifo_contract``: a reference model of indices, latched function and sticky flags, and the
usual symbolic entry: the solver picks a push number k, the harness records what the k-th
accepted push carried, and whenever entry k is the head RX_FUNC/RX_ARG must show exactly it) is
applied to CPU s's accesses to its TX slot d and CPU d's accesses to its RX slot s, with
rx_pending[d] bit s as its nonempty. As s, d and k are arbitrary, this holds for every pair and
every entry; as the other 2n-2 buses and the other slots of s and d are free, it holds whatever
the rest of the SoC does: no other CPU or slot can disturb ``FIFO[s][d]``.

ipi-fifo is that proof at 2 CPUs (two FIFOs: the FIFO-level proof, at depths 2 and 4); ipi-matrix
at 3 and 4 CPUs (depth 2), with covers that show third parties and other slots at work beside
``FIFO[s][d]``. Both run bitwuzla by default (``SOLVER``): z3 needs minutes on the arrays.

The only references to hdl/ipi.py internals are in the two functions marked below.
"""

from amaranth.hdl import Array, Assume, Cat, Const, Fragment, MemoryInstance, Mux, Signal, Value
from amaranth.lib import data
from amaranth.utils import ceil_log2

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.ipi import IpiMatrix, SEND_ROW, SLOT_WORDS, pair_address

from .harness import Harness, internal, internal_memory

__all__ = ["IpiFifoHarness", "IpiMatrixHarness", "pair_state"]

_SLOT_BITS = (SLOT_WORDS - 1).bit_length()  # register offset inside a slot
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
        word = word | (value[: min(f.width, len(value))] << f.lsb)
    return word[:32]


# -- the only references to hdl/ipi.py internals ---------------------------------------------------


def _memory(frag: Fragment, name: str) -> MemoryInstance:
    """The matrix's memory ``name`` (send, recv or entries), as elaborated."""
    return internal_memory(frag, name)


def pair_state(m, frag: Fragment, n: int, depth: int, s, d, entry=None, tag: str = "", rows: bool = False) -> dict:
    """``FIFO[s][d]``'s state inside the IpiMatrix elaborated as ``frag`` (``s``, ``d``: ints or
    values), as the contract sees it. Rows are read through combinational read ports added here
    to the matrix's memories: they drive nothing in the design, so its behaviour is unchanged.

    - ``windex``, ``func``, ``rindex``: the pair's send and recv rows as CPU s's port reads them
      (masked by ``sent_<s>`` bit d and ``got_from_<s>`` bit d: a row never written reads 0);
    - ``rx_windex``, ``rx_rindex``: the same rows as CPU d's port reads them (masked by the
      other copies, ``sent_to_<d>`` bit s and ``got_<d>`` bit s);
    - ``agree``: the two copies of each valid bit are equal;
    - ``wof`` (``wof_<s>`` bit d), ``roe`` (``roe_<d>`` bit s);
    - ``row``: the ``entries`` row of the pair's slot ``entry`` (when given), as Cat(arg, func);
    - ``rows``: with ``rows``, every ``entries`` row of the pair, slot 0 first;
    - ``entry_write``: some write port of ``entries`` writes one of the pair's rows this cycle.
    """
    eb = (depth - 1).bit_length()  # entries row = Cat(index[:eb], pair)

    def bit(word: str, row, col):
        words = [internal(frag, f"{word}_{c}") for c in range(n)]
        w = words[row] if isinstance(row, int) else Array(words)[row]
        return w[col] if isinstance(col, int) else w.bit_select(col, 1)

    def probe(mem: str, addr, width: int, name: str) -> Signal:
        inst = _memory(frag, mem)
        a = Signal(ceil_log2(inst._data.depth), name=f"i{tag}_{name}_addr")
        out = Signal(width, name=f"i{tag}_{name}")
        m.d.comb += a.eq(addr)
        inst.read_port(domain="comb", addr=a, data=out, en=Const(1, 1), transparent_for=())
        return out

    pair = Signal(ceil_log2(_memory(frag, "send")._data.depth), name=f"i{tag}_pair")
    m.d.comb += pair.eq(pair_address(n, s, d))
    send = data.View(SEND_ROW, probe("send", pair, 64, "send"))
    recv = probe("recv", pair, 32, "recv")
    sent, sent_to = bit("sent", s, d), bit("sent_to", d, s)
    got_from, got = bit("got_from", s, d), bit("got", d, s)
    st = {
        "windex": Mux(sent, send.windex, mm.IPI_INDEX_RESET),
        "func": Mux(sent, send.func, 0),
        "rindex": Mux(got_from, recv, mm.IPI_INDEX_RESET),
        "rx_windex": Mux(sent_to, send.windex, mm.IPI_INDEX_RESET),
        "rx_rindex": Mux(got, recv, mm.IPI_INDEX_RESET),
        "agree": (sent == sent_to) & (got == got_from),
        "wof": bit("wof", s, d),
        "roe": bit("roe", d, s),
    }
    if entry is not None:
        st["row"] = probe("entries", Cat(entry[:eb], pair), 64, "row")
    if rows:
        st["rows"] = [probe("entries", Cat(Const(k, eb), pair), 64, f"row{k}") for k in range(depth)]
    writes = Const(0, 1)
    for port in _memory(frag, "entries")._write_ports:  # one per producer port
        writes = writes | (port._en.any() & (port._addr[eb:] == pair))
    st["entry_write"] = writes
    return st


# ---------------------------------------------------------------------------------------------------


def _fifo_contract(h: Harness, m, depth: int, tx: _View, rx: _View, nonempty, state_at) -> None:
    """The register contract of one FIFO at its two sides, against a reference model driven by the
    same accesses. ``tx``/``rx`` are the accesses of its producer to its TX slot and of its consumer
    to its RX slot; ``nonempty`` is its pending bit. ``state_at(row)`` gives the FIFO's internal
    state (``pair_state``: windex, rindex, func, wof, roe, and ``row``, its entries row ``row``),
    for the invariants."""
    aw = (depth - 1).bit_length()
    k = h.stable(m, 32, "k")  # the symbolic entry: the push accepted at write index k
    st = state_at(k[:aw])

    # The reference model: what the register contract says the FIFO holds.
    w, r = Signal(32, name="m_windex", init=mm.IPI_INDEX_RESET), Signal(32, name="m_rindex", init=mm.IPI_INDEX_RESET)
    func = Signal(32, name="m_func")
    wof, roe = Signal(name="m_wof"), Signal(name="m_roe")
    entry = Signal(64, name="m_entry")  # Cat(arg, func) of the k-th accepted push
    level, full, empty = Signal(32, name="m_level"), Signal(name="m_full"), Signal(name="m_empty")
    m.d.comb += [level.eq(w - r), full.eq(level == depth), empty.eq(level == 0)]

    tw, rw = mm.IPI_TX.word, mm.IPI_RX.word
    tx_wr, rx_wr = tx.req & tx.we, rx.req & rx.we
    push_try, pop_try = Signal(name="m_push_try"), Signal(name="m_pop_try")
    push, pop = Signal(name="m_push"), Signal(name="m_pop")
    m.d.comb += [
        push_try.eq(tx_wr & (tx.reg == tw("TX_ARG"))),
        push.eq(push_try & ~full),
        pop_try.eq(rx_wr & (rx.reg == rw("RX_POP"))),
        pop.eq(pop_try & ~empty),
    ]
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
    h.check(
        m,
        "inv-state",
        (st["windex"] == w) & (st["rindex"] == r) & (st["func"] == func) & (st["wof"] == wof) & (st["roe"] == roe),
    )
    h.check(m, "inv-level", level <= depth)
    stored = Signal(name="m_k_stored")
    m.d.comb += stored.eq((k - r)[:32] < level)  # r <= k < w, indices mod 2^32
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
                h.check(
                    m,
                    "level",
                    (tx.rdata & ~Const(_WOF.mask, 32)) == _pack(_TX_STATUS, FULL=full, EMPTY=empty, LEVEL=level),
                )
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

    first = k == mm.IPI_INDEX_RESET  # the first push after reset
    h.cover(
        m, rd(rx, "RX_ARG", rw) & head & ~first & (level >= 2), "a later entry k read at the head, another behind it"
    )
    h.cover(m, rd(rx, "RX_FUNC", rw) & head & (entry[32:] != 0), "entry k's function read at the head")
    h.cover(m, pop & head & push, "entry k popped while another is pushed")
    h.cover(m, stored & ~head, "entry k stored behind the head")
    h.cover(m, rd(rx, "RX_FUNC", rw) & empty & (r != mm.IPI_INDEX_RESET), "the head read on a drained FIFO")
    h.cover(m, rd(tx, "TX_RINDEX", tw) & ((r - mm.IPI_INDEX_RESET)[:32] >= 2), "TX_RINDEX read after two pops")
    h.cover(m, rd(tx, "TX_WINDEX", tw) & ((w - mm.IPI_INDEX_RESET)[:32] >= 2), "TX_WINDEX read after two pushes")
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


class IpiMatrixHarness(Harness):
    NAME = "ipi-matrix"
    TITLE = (
        "the IPI mailbox matrix (hdl/ipi.py IpiMatrix): every FIFO[s][d] keeps the register contract "
        "at CPU s's TX slot d and CPU d's RX slot s, whatever the other CPUs and slots do"
    )
    PROPERTIES = {
        "order": "no loss, duplication or reordering: while the k-th accepted push (k free) is the head, "
        "RX_FUNC/RX_ARG read exactly its (TX_FUNC, TX_ARG)",
        "empty-head": "RX_FUNC and RX_ARG read 0 while the FIFO is empty",
        "indices": "TX_WINDEX reads IPI_INDEX_RESET plus the number of accepted pushes (TX_ARG writes to a "
        "non-full FIFO), TX_RINDEX IPI_INDEX_RESET plus the number of accepted pops (RX_POP writes to a "
        "non-empty FIFO), mod 2^32",
        "level": "RX_LEVEL and TX_STATUS.LEVEL read TX_WINDEX - TX_RINDEX; FULL, EMPTY and VALID match it; "
        "the other status bits read 0",
        "wof": "TX_STATUS.WOF is set exactly by a push to a full FIFO (the entry is dropped) and stays set "
        "until a TX_STATUS write with bit 2 set",
        "roe": "RX_STATUS.ROE is set exactly by a pop of an empty FIFO and stays set until an RX_STATUS "
        "write with bit 1 set",
        "func": "TX_FUNC reads the last value written to it",
        "pending": "rx_pending[d] bit s is high exactly while FIFO[s][d] holds an entry; rx_pending[d] bit d is 0",
        "gnt": "every access of every CPU is granted in its cycle",
        "inv-state": "invariant: FIFO[s][d]'s send and recv rows (as CPU s's port reads them through the valid "
        "bits), WOF and ROE equal the reference model's",
        "inv-level": "invariant: TX_WINDEX - TX_RINDEX <= depth",
        "inv-entry": "invariant: while entry k is in FIFO[s][d], its entries row holds what its push carried",
        "inv-valid": "invariant: the two copies of FIFO[s][d]'s valid bits agree (sent_<s> bit d = sent_to_<d> "
        "bit s, got_<d> bit s = got_from_<s> bit d), so both ends read the same indices",
    }
    INVARIANTS = ("inv-state", "inv-level", "inv-entry", "inv-valid")
    # FIFO depth 2: the covers fit in 4 cycles (2 pushes fill a FIFO, a 3rd sets WOF, the 4th cycle
    # reads or clears it), so BMC and the induction unroll 4 steps; ipi-fifo proves depth 4.
    SIZES = ({"ncpu": 3, "depth": 2}, {"ncpu": 4, "depth": 2})
    QUICK = ({"ncpu": 3, "depth": 2},)
    DEPTH = 4
    MUTANTS = ("ipi-pending-transposed",)
    # z3 takes minutes where bitwuzla takes seconds: the indices are read from the send/recv
    # arrays and address the entries array, and z3's array reasoning (kept as SMT arrays by the
    # flow) gets lost in those chains (docs/formal.md, "Solvers").
    SOLVER = "bitwuzla"
    FREE_MEMORIES = True  # the SoC's IPI memories start with any contents

    def size(self) -> tuple[int, int]:
        return self.params["ncpu"], self.params["depth"]

    def build(self, m, platform):
        n, depth = self.size()
        cfg = SocConfig(ncpu=n, fifo_depth=depth)
        wins = [{w.block.name: w for w in mm.windows(cfg, c)} for c in range(n)]
        aw = wins[0]["ipi_tx"].span_log2
        assert wins[0]["ipi_rx"].span_log2 == aw  # the SoC gives both sides one width
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

        def user(side, cpu, slot):
            """What ``cpu`` does on ``side`` when it addresses ``slot`` (req is low otherwise)."""
            b = buses[side]
            addr = Array(x.reg for x in b)[cpu]
            view = _View(
                Signal(name=f"u_{side}_req"),
                Signal(name=f"u_{side}_we"),
                Signal(_SLOT_BITS, name=f"u_{side}_reg"),
                Signal(32, name=f"u_{side}_wdata"),
                Signal(32, name=f"u_{side}_rdata"),
            )
            m.d.comb += [
                view.req.eq(Array(x.req for x in b)[cpu] & (addr[_SLOT_BITS:] == slot)),
                view.we.eq(Array(x.we for x in b)[cpu]),
                view.reg.eq(addr[:_SLOT_BITS]),
                view.wdata.eq(Array(x.wdata for x in b)[cpu]),
                view.rdata.eq(Array(x.rdata for x in b)[cpu]),
            ]
            return view

        tx, rx = user("tx", s, d), user("rx", d, s)
        pending = Array(dut.rx_pending)[d]
        nonempty = Signal(name="u_nonempty")
        m.d.comb += nonempty.eq(pending.bit_select(s, 1))
        st = {}

        def state_at(row):
            st.update(pair_state(m, frag, n, depth, s, d, entry=row))
            return st

        _fifo_contract(self, m, depth, tx, rx, nonempty, state_at)
        self.check(m, "pending", pending.bit_select(d, 1) == 0)
        self.check(m, "inv-valid", st["agree"])
        self._covers(m, n, buses, dut.rx_pending, s, d, tx, rx, nonempty)

    def _covers(self, m, n, buses, rx_pending, s, d, tx, rx, nonempty):
        """Non-vacuity of "whatever the others do": traffic beside ``FIFO[s][d]``'s own."""
        tw, rw = mm.IPI_TX.word, mm.IPI_RX.word

        def writes(side, cpu, slot, reg):
            """``cpu`` (an int or a value) writes register ``reg`` of its slot ``slot`` on ``side``."""
            b, word = buses[side], (tw if side == "tx" else rw)
            return Array(x.req & x.we for x in b)[cpu] & (Array(x.reg for x in b)[cpu] == slot * SLOT_WORDS + word(reg))

        def any_of(cells):
            out = Const(0, 1)
            for cell in cells:
                out = out | cell
            return out

        push = tx.req & tx.we & (tx.reg == tw("TX_ARG"))
        self.cover(m, writes("tx", d, s, "TX_ARG") & push, "CPU d pushes to CPU s while CPU s pushes to CPU d")
        others = any_of(b.req for side in ("tx", "rx") for b in buses[side])
        self.cover(
            m, others & ~tx.req & ~rx.req & nonempty, "accesses elsewhere, none to FIFO[s][d], while it holds an entry"
        )
        if n < 3:
            return
        busy_s, busy_d = Array(x.req for x in buses["tx"])[s], Array(x.req for x in buses["rx"])[d]
        self.cover(m, busy_s & ~tx.req & nonempty, "CPU s at another TX slot while FIFO[s][d] holds an entry")
        self.cover(m, busy_d & ~rx.req & nonempty, "CPU d at another RX slot while FIFO[s][d] holds an entry")
        # A third CPU t (neither s nor d) using the FIFOs that share an end with FIFO[s][d].
        thirds = [(s != t) & (d != t) for t in range(n)]
        self.cover(
            m,
            any_of(thirds[t] & writes("tx", t, d, "TX_ARG") for t in range(n)) & push,
            "a third CPU and CPU s push to CPU d in one cycle",
        )
        self.cover(
            m,
            any_of(thirds[t] & writes("rx", t, s, "RX_POP") & rx_pending[t].bit_select(s, 1) for t in range(n))
            & nonempty,
            "a third CPU pops its FIFO from CPU s while FIFO[s][d] holds an entry",
        )


class IpiFifoHarness(IpiMatrixHarness):
    NAME = "ipi-fifo"
    TITLE = (
        "one IPI mailbox FIFO between its producer and its consumer: the contract of ipi-matrix at "
        "2 CPUs (FIFO[0][1] or FIFO[1][0]) and depths 2 and 4"
    )
    SIZES = ({"depth": 2}, {"depth": 4})
    QUICK = ({"depth": 4},)
    DEPTH = 6  # covers at depth 4: 4 pushes fill the FIFO, a 5th sets WOF, a 6th clears it
    MUTANTS = ("fifo-drop-last", "fifo-roe-not-sticky", "fifo-wof-never", "ipi-pending-transposed")

    def size(self) -> tuple[int, int]:
        return 2, self.params["depth"]
