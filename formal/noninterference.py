"""Formal harness for non-interference between CPUs: two copies of the whole SoC (hdl/soc.py).

The isolation harness (formal/isolation.py) states what a CPU's state does in a cycle where the
CPU makes no request. This one states it for every cycle: CPU j's per-CPU state next cycle is a
function of its state and its own request, whatever the other CPUs do. It is proven as a miter
(a two-copy, or non-interference, check): copies A and B of the SoC run side by side, with

* CPU j's port driven alike in both (cyc, stb, we, adr, dat_w and its stall bit: the same free
  inputs) and j's request seen alike: presented in A exactly when it is in B. (An answer of a
  shared block may come a cycle apart in the two copies, as the arbiter serves the others; the
  same port inputs are then a new request in one copy and an answered one in the other, which no
  real core does: such cycles are left out of the proof);
* every other CPU's port, its stall bit, the external lines and the devices' inputs free in each
  copy on their own: the copies' other CPUs, MP locks, RAMs, routes and devices part at will;
* j symbolic (a free constant the solver picks), so one proof covers every victim CPU.

What j may legitimately learn of the rest of the SoC is held equal in both copies by assumption,
each exactly what CPU j's tile or IPI ports read of it:

* the cycle counter (its timer compares against it, CYCLE_LO latches its high word);
* RX_PENDING of j (its INTC's IPI source) and the external lines routed to j (ROUTE, DEVICE and the
  raw lines, its INTC's sources 3..): a CLAIM marks what these make pending;
* for every other CPU x, the write index of ``FIFO[x][j]`` as j's port reads it (whether j's pop finds
  the FIFO empty, and sets ROE) and the read index of ``FIFO[j][x]`` as j's port reads it (whether j's
  push finds it full, and sets WOF).

Then CPU j's per-CPU state, as the isolation harness names it, is equal in the two copies in every
cycle: INTC ENABLE, PRIO, in-service bits, soft source; TIMER COMPARE, PERIOD, ENABLE, ARMED,
PENDING; DEBUG CURTHREAD, CRITDEPTH, PRI and the EVENT pulse; the latched CYCLE_HI; the send rows
of ``FIFO[j][d]`` (write index, TX_FUNC, as both ends read them), WOF and every entries row of them;
the recv rows of ``FIFO[s][j]`` (read index, as both ends read it) and ROE. So are j's answers: err
in every cycle, irq, and ack and dat_r after every request not to a shared, arbitrated block
(MPLOCK, ROUTE, DEVICE, RAM) and not an RX_FUNC/RX_ARG read (the other side's entries).

Both copies start from reset, the IPI memories from any contents, the entries rows of j's FIFOs
alike. Each property is one-step: from any two states that agree on j's state, j's next states
agree; k-induction closes with no invariant, so the statement holds from every state, reachable
or not. A leak through a declared channel (RX_PENDING wrong, say) is that channel's contract,
proven in its own harness (ipi-matrix's ``pending``), and not seen here.
"""

from amaranth.hdl import Assume, Const, Fragment, Mux, Signal

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.ipi import SLOT_WORDS
from hdl.soc import LwktSoc

from .harness import Harness, internal, submodule
from .isolation import cpu_state

__all__ = ["NonInterferenceHarness"]

_COPIES = ("a", "b")
#: Blocks whose accesses wait for an arbiter: their answers may come in different cycles in the copies.
_ARBITRATED = tuple(b.name for b in mm.BLOCKS if b.arbitrated)


def _group(key: str) -> str | None:
    """The property a state key of cpu_state belongs to (None: the other end's, not compared)."""
    for prop in ("intc", "timer", "debug", "sys"):
        if key.startswith(f"{prop}."):
            return None if key == "timer.fire" else prop  # fire is a function of the rest
    side, _, name = key.partition(".")
    if side.startswith("tx") and (name in ("windex", "windex@dst", "func", "wof") or name.startswith("row")):
        return "tx"
    if side.startswith("rx") and name in ("rindex", "rindex@src", "roe"):
        return "rx"
    return None  # tx<d>.rindex, tx<d>.roe, rx<s>.windex: the other end's; tx<d>.write: a strobe


class NonInterferenceHarness(Harness):
    NAME = "noninterference"
    TITLE = "CPU j's next state is a function of its state and its own request, in every cycle (two SoCs)"
    PROPERTIES = {
        "intc-own": "CPU j's INTC ENABLE, PRIO, in-service bits and soft source are equal in two SoCs where j "
        "makes the same requests and reads the same shared inputs (the cycle counter, its RX_PENDING and "
        "routed lines, the other ends' FIFO indices), whatever the other CPUs do",
        "timer-own": "likewise CPU j's TIMER COMPARE, PERIOD, ENABLE, ARMED and PENDING",
        "debug-own": "likewise CPU j's DEBUG CURTHREAD, CRITDEPTH, PRI and the EVENT pulse",
        "sys-own": "likewise CPU j's latched CYCLE_HI",
        "tx-own": "likewise the FIFOs j sends on (FIFO[j][d]): the write index and TX_FUNC as CPU j and "
        "CPU d read them, WOF and every entries row",
        "rx-own": "likewise the FIFOs j receives on (FIFO[s][j]): the read index as CPU j and CPU s read it, and ROE",
        "answers-own": "likewise j's err in every cycle, its irq line, and its ack and dat_r after each "
        "request that is not to an arbitrated block nor an RX_FUNC/RX_ARG read",
    }
    # 2, 3 and 4 CPUs: about 10 s, 35 s and 2 min (bitwuzla, 2026-12-07); CI runs 2.
    SIZES = ({"ncpu": 2}, {"ncpu": 3}, {"ncpu": 4})
    QUICK = ({"ncpu": 2},)
    DEPTH = 3
    MUTANTS = ("ipi-send-data-shared", "soc-period-crosstalk", "fifo-roe-mirrored")
    SOLVER = "bitwuzla"  # the IPI rows are read from SMT arrays (formal/isolation.py)
    FREE_MEMORIES = True

    def build(self, m, platform):
        n = self.params["ncpu"]
        cfg = SocConfig(ncpu=n, fifo_depth=2, ram_words=16, ext_lines=1, mutant=self.mutant)
        j = self.stable(m, range(n), "victim")
        m.d.comb += Assume(j < n)
        past = self.past_valid

        socs, frags, seen = {}, {}, {}
        for copy in _COPIES:
            soc = socs[copy] = LwktSoc(cfg)
            frag = frags[copy] = Fragment.get(soc, platform)
            m.submodules[f"soc_{copy}"] = frag
            m.d.comb += [
                soc.ext_irq.eq(self.input(len(soc.ext_irq), f"ext_irq_{copy}")),
                soc.dev_post.eq(self.input(len(soc.dev_post), f"dev_post_{copy}")),
                soc.dev_data.eq(self.input(32, f"dev_data_{copy}")),
            ]
        # Port inputs: copy A's free; copy B's free too, except CPU j's, which are copy A's.
        drive = {}
        for i in range(n):
            for copy in _COPIES:
                drive[copy, i] = {
                    "cyc": self.input(1, f"cyc{i}_{copy}"),
                    "stb": self.input(1, f"stb{i}_{copy}"),
                    "we": self.input(1, f"we{i}_{copy}"),
                    "adr": self.input(len(socs[copy].port(i).adr), f"adr{i}_{copy}"),
                    "dat_w": self.input(32, f"dat_w{i}_{copy}"),
                    "stall": self.input(1, f"stall{i}_{copy}"),
                }
        for copy in _COPIES:
            soc, stalls = socs[copy], []
            for i in range(n):
                own = drive[copy, i]
                src = {k: Mux(j == i, drive["a", i][k], v) for k, v in own.items()} if copy == "b" else own
                port = soc.port(i)
                m.d.comb += [getattr(port, k).eq(src[k]) for k in ("cyc", "stb", "we", "adr", "dat_w")]
                stalls.append(src["stall"])
                seen[copy, i] = port.cyc & port.stb & ~port.ack & ~port.err & ~src["stall"]
            for i, stall in enumerate(stalls):
                m.d.comb += soc.stall[i].eq(stall)

        pairs = {copy: {} for copy in _COPIES}
        states = {
            (copy, i): cpu_state(m, frags[copy], cfg, i, pairs[copy], rows=True, tag=f"_{copy}")
            for copy in _COPIES
            for i in range(n)
        }
        tiles = {(copy, i): submodule(frags[copy], f"cpu{i}") for copy in _COPIES for i in range(n)}

        for i in range(n):
            victim = Signal(name=f"victim_is_{i}")
            m.d.comb += victim.eq(j == i)
            a, b = states["a", i], states["b", i]
            with m.If(victim):
                # j's request is seen alike in both copies (the inputs are already the same).
                m.d.comb += Assume(seen["a", i] == seen["b", i])
                # What j legitimately reads of the rest of the SoC is the same in both copies.
                shared = [tiles[c, i].cycle for c in _COPIES]
                shared += [tiles[c, i].rx_pending for c in _COPIES]
                shared += [tiles[c, i].ext for c in _COPIES]
                for x in range(n):
                    if x != i:
                        shared += [pairs[c][x, i]["rx_windex"] for c in _COPIES]  # FIFO[x][j] as j reads it
                        shared += [pairs[c][i, x]["rindex"] for c in _COPIES]  # FIFO[j][x] as j reads it
                for va, vb in zip(shared[0::2], shared[1::2], strict=True):
                    m.d.comb += Assume(va == vb)
                # The entries rows of j's FIFOs start alike (the memories start with any contents).
                with m.If(~past):
                    for key in a:
                        if ".row" in key:
                            m.d.comb += Assume(a[key] == b[key])
                for key in a:
                    prop = _group(key)
                    if prop is not None:
                        self.check(m, f"{prop}-own", a[key] == b[key])
            self._answers(m, socs, cfg, i, seen, victim)
        self._covers(m, socs, frags, states, seen, j, n)

    def _answers(self, m, socs, cfg, i, seen, victim):
        """CPU i's answers alike in both copies, when it is the victim."""
        pa, pb = socs["a"].port(i), socs["b"].port(i)
        with m.If(victim):
            self.check(m, "answers-own", (pa.err == pb.err) & (pa.irq == pb.irq))
        windows = {w.block.name: w for w in mm.windows(cfg, i)}

        def hit(name):
            w = windows[name]
            return pa.adr[w.size_log2 :] == w.base_word >> w.size_log2

        arbitrated = Const(0, 1)
        for name in _ARBITRATED:
            arbitrated = arbitrated | hit(name)
        slot_reg = pa.adr[: (SLOT_WORDS - 1).bit_length()]
        heads = (slot_reg == mm.IPI_RX.word("RX_FUNC")) | (slot_reg == mm.IPI_RX.word("RX_ARG"))
        alike = seen["a", i] & ~arbitrated & ~(hit("ipi_rx") & ~pa.we & heads)
        p_alike = self.past(m, alike, f"alike{i}")
        with m.If(victim & self.past_valid & p_alike):
            self.check(m, "answers-own", (pa.ack == pb.ack) & (pa.dat_r == pb.dat_r))

    def _covers(self, m, socs, frags, states, seen, j, n):
        """Non-vacuity, for j = the last CPU: the copies part outside j while j works."""
        last = n - 1
        past = self.past_valid
        is_last = j == last
        port = {c: socs[c].port(0) for c in _COPIES}
        jport = socs["a"].port(last)

        def writes(c, i, address):
            p = socs[c].port(i)
            return seen[c, i] & p.we & (p.adr == address >> 2)

        def differ(key, i=0):
            return states["a", i][key] != states["b", i][key]

        enable, period = mm.INTC.ENABLE, mm.TIMER.PERIOD
        push0 = mm.IPI_TX.addr("TX_ARG", slot=0)
        self.cover(
            m,
            is_last & writes("a", last, enable) & writes("a", 0, enable) & ~seen["b", 0],
            "j and copy A's CPU 0 write ENABLE in one cycle, copy B's CPU 0 idle",
        )
        self.cover(
            m,
            is_last
            & writes("a", last, period)
            & writes("a", 0, period)
            & writes("b", 0, period)
            & (port["a"].dat_w != port["b"].dat_w),
            "j writes PERIOD beside CPU 0 writing other words in the two copies",
        )
        tx_func = mm.IPI_TX.addr("TX_FUNC", slot=last)
        self.cover(
            m,
            is_last & writes("a", last, push0) & writes("a", 0, tx_func) & ~seen["b", 0],
            "j pushes to CPU 0 while copy A's CPU 0 writes its TX_FUNC, copy B's idle",
        )
        self.cover(m, past & is_last & differ("intc.enable"), "CPU 0's ENABLE differs between the copies")
        self.cover(m, past & is_last & differ(f"tx{last}.func"), "CPU 0's TX_FUNC to j differs between the copies")
        self.cover(
            m,
            past & is_last & (internal(frags["a"], "held", ("mplock",)) != internal(frags["b"], "held", ("mplock",))),
            "the MP lock is held in one copy only",
        )
        rx_arg = mm.IPI_RX.addr("RX_ARG", slot=0) >> 2
        p_head = self.past(m, seen["a", last] & ~jport.we & (jport.adr == rx_arg), "head_read")
        self.cover(
            m,
            past & is_last & p_head & (socs["a"].port(last).dat_r != socs["b"].port(last).dat_r),
            "j's RX_ARG answer differs between the copies (CPU 0 pushed other words)",
        )
        pop = mm.IPI_RX.addr("RX_POP", slot=0)
        self.cover(
            m,
            is_last
            & writes("a", last, pop)
            & (states["a", last]["rx0.windex"] != 0)
            & (states["a", 0][f"tx{last}.row0"] != states["b", 0][f"tx{last}.row0"]),
            "j pops FIFO[0][j], whose entry differs between the copies",
        )
