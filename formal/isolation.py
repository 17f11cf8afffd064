"""Formal harness for CPU isolation in the whole SoC (hdl/soc.py, LwktSoc).

Every core port is a free input, with no protocol assumption at all: whatever the other
CPUs do (legal or not, held or not), a CPU that presents no request in a cycle keeps its
per-CPU state in that cycle. "Presents a request" is the contract's "a request is seen":
cyc and stb high, the port not answering (ack, err) and not stalled.

CPU j's per-CPU state, the state a request of j may write:
* its tile: INTC ENABLE, PRIO[k], in-service bits and the soft source; TIMER COMPARE,
  PERIOD, CTRL.ENABLE, ARMED, PENDING; DEBUG CURTHREAD, CRITDEPTH, PRI and the EVENT
  pulse; the CYCLE_HI word SYS latches on a CYCLE_LO read;
* the producer side of the FIFOs it sends on, ``FIFO[j][d]``: the write index and latched
  TX_FUNC (its ``send`` row in the IPI matrix, as CPU j and CPU d read it through their
  valid bits), WOF, and its ``entries`` rows (no write port writes them);
* the consumer side of the FIFOs it receives on, ``FIFO[s][j]``: the read index (its ``recv``
  row, as CPU j and CPU s read it) and ROE.

Changes the contract makes without a request, stated exactly rather than left out:
the timer firing (PENDING set; COMPARE advanced by PERIOD when periodic, ARMED cleared
when one-shot) and the DEBUG EVENT pulse falling back to 0 the cycle after it.
Raw pending lines (INTC PENDING, RX_PENDING, FULL/EMPTY/LEVEL) are functions of other
state, not state, and are not listed.

Each property is a one-cycle implication that holds from any state, so k-induction closes
without strengthening invariants. The timer firing case is proven but not covered: a
firing needs three register writes after reset (CTRL, COMPARE_HI, COMPARE_LO), six
cycles, twice the depth that keeps this proof fast; the timer harness covers it.
The proof runs bitwuzla by default: the IPI rows come from SMT arrays, which z3 is slow on.

These properties speak of the cycles where CPU j is idle only: a leak that lands in a cycle
where j also makes a request (two CPUs writing PERIOD at once, say) passes them.
formal/noninterference.py states j's next state in every cycle, on two copies of the SoC.
"""

from amaranth.hdl import Fragment, Mux, Signal

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.soc import LwktSoc

from .harness import Harness, internal
from .ipi import pair_state

__all__ = ["IsolationHarness", "cpu_state"]


def cpu_state(m, frag: Fragment, cfg: SocConfig, j: int, pairs: dict, *, rows: bool = False, tag: str = "") -> dict:
    """CPU ``j``'s per-CPU state, by name: the only place that reaches inside the SoC.

    The IPI FIFOs' state sits in the matrix's memories; formal.ipi.pair_state (the one place
    that knows the matrix's internals) reads a pair's rows through extra read ports, masked by
    the valid bits as each end's port reads them. ``pairs`` caches one probe per FIFO. With
    ``rows``, the entries rows of the FIFOs j sends on too (``tx<d>.row<k>``); ``tag`` names the
    probes' signals apart when several SoCs are read.
    """
    tile = f"cpu{j}"
    st = {f"intc.{name}": internal(frag, name, (tile, "intc")) for name in ("enable", "in_service", "soft")}
    st.update({f"intc.prio{k}": internal(frag, f"prio{k}", (tile, "intc")) for k in range(cfg.n_sources)})
    st.update(
        {
            f"timer.{name}": internal(frag, name, (tile, "timer"))
            for name in ("compare", "period", "enable", "armed", "pending", "fire")
        }
    )
    st.update(
        {
            f"debug.{name}": internal(frag, name, (tile, "debug"))
            for name in ("curthread", "critdepth", "pri", "event", "event_valid")
        }
    )
    st["sys.cycle_hi"] = internal(frag, "cycle_hi", (tile, "sys"))
    ipi = next(f for f, name, _ in frag.subfragments if name == "ipi")

    def fifo(src, dst):
        if (src, dst) not in pairs:
            pairs[src, dst] = pair_state(
                m, ipi, cfg.ncpu, cfg.fifo_depth, src, dst, tag=f"{tag}_{src}_{dst}", rows=rows
            )
        return pairs[src, dst]

    for other in range(cfg.ncpu):
        if other == j:
            continue
        tx, rx = fifo(j, other), fifo(other, j)  # j produces, j consumes
        # "@dst"/"@src": the same row as the other end's port reads it (its own valid bits).
        # tx.rindex, tx.roe and rx.windex are the other end's state: only the covers use them.
        st.update(
            {
                f"tx{other}.windex": tx["windex"],
                f"tx{other}.windex@dst": tx["rx_windex"],
                f"tx{other}.func": tx["func"],
                f"tx{other}.wof": tx["wof"],
                f"tx{other}.rindex": tx["rx_rindex"],
                f"tx{other}.roe": tx["roe"],
                f"tx{other}.write": tx["entry_write"],
            }
        )
        if rows:
            st.update({f"tx{other}.row{k}": row for k, row in enumerate(tx["rows"])})
        st.update(
            {
                f"rx{other}.rindex": rx["rx_rindex"],
                f"rx{other}.rindex@src": rx["rindex"],
                f"rx{other}.roe": rx["roe"],
                f"rx{other}.windex": rx["rx_windex"],
            }
        )
    return st


class IsolationHarness(Harness):
    NAME = "isolation"
    TITLE = "no CPU's request changes another CPU's per-CPU state (hdl/soc.py)"
    PROPERTIES = {
        "intc-isolated": "CPU j's INTC ENABLE, PRIO, in-service bits and soft source change only in a "
        "cycle where j presents a request",
        "timer-isolated": "without a request of CPU j its TIMER PERIOD and ENABLE keep their values, and "
        "COMPARE, ARMED and PENDING change only by a firing (PENDING set; COMPARE += PERIOD "
        "when periodic, ARMED cleared when one-shot)",
        "debug-isolated": "without a request of CPU j its DEBUG CURTHREAD, CRITDEPTH and PRI keep their "
        "values and the EVENT pulse is 0 the next cycle",
        "sys-isolated": "without a request of CPU j its latched CYCLE_HI keeps its value",
        "tx-isolated": "without a request of CPU j the FIFOs it sends on (FIFO[j][d]) keep their write "
        "index (as CPU j's TX_WINDEX and CPU d's RX_LEVEL read it), TX_FUNC and WOF, and no "
        "entries row of theirs is written",
        "rx-isolated": "without a request of CPU j the FIFOs it receives on (FIFO[s][j]) keep their read "
        "index (as CPU j's RX_LEVEL and CPU s's TX_RINDEX read it) and ROE",
    }
    SIZES = ({"ncpu": 2}, {"ncpu": 3})
    QUICK = ({"ncpu": 2},)
    DEPTH = 3
    # ROE clearing itself is a change of CPU j's state in a cycle it makes no request; so is ROE set by
    # another CPU's pop (a leak into an idle victim: noninterference catches it too).
    MUTANTS = ("fifo-roe-not-sticky", "fifo-roe-mirrored")
    # The IPI rows are read from SMT arrays: z3 takes 4-5 min at 3 CPUs, bitwuzla 11 s.
    SOLVER = "bitwuzla"
    FREE_MEMORIES = True  # the SoC's IPI memories start with any contents

    def build(self, m, platform):
        n = self.params["ncpu"]
        cfg = SocConfig(ncpu=n, fifo_depth=2, ram_words=16, ext_lines=1, mutant=self.mutant)
        soc = LwktSoc(cfg)
        frag = Fragment.get(soc, platform)
        m.submodules.soc = frag

        # Free ports: no Wishbone assumption, the other CPUs may do anything.
        seen = []
        for i in range(n):
            port = soc.port(i)
            cyc, stb = self.input(1, f"cyc{i}"), self.input(1, f"stb{i}")
            m.d.comb += [
                port.cyc.eq(cyc),
                port.stb.eq(stb),
                port.we.eq(self.input(1, f"we{i}")),
                port.adr.eq(self.input(len(port.adr), f"adr{i}")),
                port.dat_w.eq(self.input(32, f"dat_w{i}")),
            ]
            seen.append(cyc & stb & ~port.ack & ~port.err & ~soc.stall[i])
        stall = self.input(n, "stall")
        m.d.comb += [
            soc.stall.eq(stall),
            soc.ext_irq.eq(self.input(len(soc.ext_irq), "ext_irq")),
            soc.dev_post.eq(self.input(len(soc.dev_post), "dev_post")),
            soc.dev_data.eq(self.input(32, "dev_data")),
        ]

        past = self.past_valid
        pairs = {}
        for j in range(n):
            st = cpu_state(m, frag, cfg, j, pairs)
            idle = Signal(name=f"idle{j}")
            m.d.comb += idle.eq(~seen[j])
            p_idle = self.past(m, idle, f"idle{j}")
            # Last cycle's values (the entries writes are checked in their own cycle).
            p = {
                k: self.past(m, v, f"{k}_{j}".replace(".", "_").replace("@", "_at_"))
                for k, v in st.items()
                if not k.endswith(".write")
            }

            def same(*names, st=st, p=p):
                out = 1
                for name in names:
                    out = out & (st[name] == p[name])
                return out

            with m.If(past & p_idle):
                self.check(
                    m,
                    "intc-isolated",
                    same(
                        "intc.enable", "intc.in_service", "intc.soft", *(f"intc.prio{k}" for k in range(cfg.n_sources))
                    ),
                )
                fire, period = p["timer.fire"], p["timer.period"]
                self.check(
                    m,
                    "timer-isolated",
                    same("timer.period", "timer.enable")
                    & (st["timer.pending"] == (p["timer.pending"] | fire))
                    & (
                        st["timer.compare"]
                        == Mux(fire & (period != 0), (p["timer.compare"] + period)[:64], p["timer.compare"])
                    )
                    & (st["timer.armed"] == (p["timer.armed"] & ~(fire & (period == 0)))),
                )
                self.check(
                    m,
                    "debug-isolated",
                    same("debug.curthread", "debug.critdepth", "debug.pri")
                    & (st["debug.event"] == 0)
                    & ~st["debug.event_valid"],
                )
                self.check(m, "sys-isolated", same("sys.cycle_hi"))
                for other in range(n):
                    if other == j:
                        continue
                    tx = (f"tx{other}.{k}" for k in ("windex", "windex@dst", "func", "wof"))
                    rx = (f"rx{other}.{k}" for k in ("rindex", "rindex@src", "roe"))
                    self.check(m, "tx-isolated", same(*tx))
                    self.check(m, "rx-isolated", same(*rx))
            with m.If(idle):
                for other in range(n):
                    if other != j:
                        self.check(m, "tx-isolated", ~st[f"tx{other}.write"])
            if j == n - 1:
                self._covers(m, st, p, p_idle, soc, seen)

    def _covers(self, m, st, p, p_idle, soc, seen):
        """Non-vacuity for CPU j = the last one, with CPU 0 busy beside it; one call per cover."""
        past = self.past_valid
        j_idle = past & p_idle
        p_seen0 = self.past(m, seen[0], "seen0")
        j, cpu0 = soc.port(len(seen) - 1), soc.port(0)

        def changed(name):
            return st[name] != p[name]

        # j's own requests do reach the registers looked up (the lookups are not dead signals).
        self.cover(m, past & changed("intc.enable"), "CPU j writes its ENABLE")
        self.cover(m, past & changed("timer.period"), "CPU j writes its PERIOD")
        self.cover(m, past & changed("debug.curthread"), "CPU j writes its CURTHREAD")
        self.cover(m, past & st["timer.armed"] & ~p["timer.armed"], "CPU j arms its timer")
        self.cover(m, past & changed("tx0.windex"), "CPU j pushes to FIFO[j][0]")
        self.cover(m, past & changed("rx0.rindex"), "CPU j pops FIFO[0][j]")
        self.cover(m, past & st["rx0.roe"] & ~p["rx0.roe"], "CPU j sets ROE of FIFO[0][j]")
        # The counter's high word stays 0 for 2**32 cycles, so the latch is shown written, not changed.
        self.cover(m, seen[-1] & ~j.we & (j.adr == mm.SYS.CYCLE_LO // 4), "CPU j reads CYCLE_LO")
        # ... and the idle cycles the properties speak of come with CPU 0 at work.
        self.cover(m, j_idle & p_seen0 & changed("rx0.windex"), "CPU 0 pushes to FIFO[0][j] while j is idle")
        self.cover(m, j_idle & p_seen0 & changed("tx0.rindex"), "CPU 0 pops FIFO[j][0] while j is idle")
        self.cover(m, j_idle & p_seen0 & st["tx0.roe"] & ~p["tx0.roe"], "CPU 0 sets ROE of FIFO[j][0] while j is idle")
        self.cover(
            m,
            ~seen[-1]
            & seen[0]
            & cpu0.we
            & (cpu0.adr >= mm.TIMER.base // 4)
            & (cpu0.adr < (mm.TIMER.base + mm.TIMER.size) // 4),
            "CPU 0 writes its TIMER while j is idle",
        )
        self.cover(
            m,
            ~seen[-1] & seen[0] & ~cpu0.we & (cpu0.adr == mm.SYS.CYCLE_LO // 4),
            "CPU 0 reads CYCLE_LO while j is idle",
        )
        self.cover(m, j_idle & p["debug.event_valid"], "CPU j's EVENT pulse ends while j is idle")
