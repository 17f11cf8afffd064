"""Formal harness for hdl/intc.py: one CPU's interrupt controller with free sources and bus.

The sources are level inputs the solver picks in every cycle (IPI, timer, the external lines);
the soft source is the controller's own register. The register bus comes from the tile's port
decoder, which passes only legal accesses (a readable offset for a read, a writable one for a
write), so that is assumed and nothing else.

Every property is a one-step relation between the registers (ENABLE, PRIO[k], INSERVICE, the
soft source) before and after an access, or a combinational fact about ``irq`` and the read
data, so k-induction closes at k = 1 with no strengthening invariant; DEPTH is what the longest
cover (and the COMPLETE mutant) needs: ENABLE, PRIO, CLAIM, COMPLETE, then the effect. The
registers are read from the block because the register contract makes each of them readable
(ENABLE, PRIO[k], INSERVICE, PENDING bit 2), and properties tie those reads to them.
"""

from amaranth.hdl import Array, Cat, Const, Fragment, Mux, Signal

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.intc import InterruptController

from .harness import Harness, internal

__all__ = ["IntcHarness"]


def _zext32(value):
    """``value`` widened with zeros to a full bus word."""
    return Cat(value, Const(0, 32 - len(value))) if len(value) < 32 else value


class IntcHarness(Harness):
    NAME = "intc"
    TITLE = "the per-CPU interrupt controller (hdl/intc.py): irq, CLAIM/COMPLETE and its registers"
    PROPERTIES = {
        "irq": "irq is high exactly when some source is pending, enabled, of PRIO > 0 and not in service",
        "claim-pick": "a CLAIM read returns the candidate of highest PRIO, lowest id on ties, "
        "or CLAIM_NONE (0xFFFFFFFF) when there is none",
        "claim-marks": "a CLAIM read sets exactly the returned source's in-service bit (none for CLAIM_NONE)",
        "complete-clears": "a COMPLETE write of an in-service source's id clears exactly its in-service bit",
        "complete-ignored": "a COMPLETE write of any other 32-bit value (a source not in service, "
        "or no source at all) leaves every in-service bit as it was",
        "inservice": "INSERVICE reads the in-service bits; only CLAIM and COMPLETE change them",
        "enable": "ENABLE changes only by an ENABLE write, which keeps one bit per source; a read returns them",
        "prio": "PRIO[k] changes only by a write to PRIO[k], which keeps the low PRIO-width bits; a read returns them",
        "soft": "the soft source changes only by SOFT_SET (raises it) and SOFT_CLR (lowers it)",
        "pending": "PENDING reads the live levels: IPI, timer, soft, then the external lines",
        "reset": "ENABLE, PRIO, INSERVICE and the soft source reset to 0",
        "gnt": "every access completes in its cycle (gnt = req)",
    }
    # ext_lines=4, prio_bits=8 is SocConfig()'s default (7 sources); 0 lines with 1-bit PRIO is the
    # smallest legal size; 29 lines is the contract's maximum (MAX_SOURCES = 32 sources). Wide PRIO
    # at many sources makes z3's BMC slow (a minute at 32 sources x 2 bits, minutes at 16 x 8), so
    # the large sizes keep PRIO narrow: the comparison logic is the same at every source.
    SIZES = (
        {"ext_lines": 1, "prio_bits": 2},
        {"ext_lines": 4, "prio_bits": 8},
        {"ext_lines": 0, "prio_bits": 1},
        {"ext_lines": 13, "prio_bits": 2},
        {"ext_lines": 29, "prio_bits": 1},
    )
    QUICK = ({"ext_lines": 1, "prio_bits": 2}, {"ext_lines": 4, "prio_bits": 8})
    DEPTH = 5
    MUTANTS = ("claim-no-inservice", "intc-prio-inverted", "intc-complete-low-bits")

    def build(self, m, platform):
        cfg = SocConfig(ext_lines=self.params["ext_lines"], prio_bits=self.params["prio_bits"])
        n, pb = cfg.n_sources, cfg.prio_bits
        idw = max(n - 1, 1).bit_length()  # bits of a source id
        self.win = next(w for w in mm.windows(cfg, 0) if w.block is mm.INTC)
        dut = InterruptController(n, pb, self.win.span_log2, mutant=self.mutant)
        frag = Fragment.get(dut, platform)
        m.submodules.dut = frag
        bus = dut.bus

        # Free inputs: the bus access and the source levels, new in every cycle.
        req, we, addr, wdata = self.drive_bus(m, bus)
        ipi, timer = self.input(1, "src_ipi"), self.input(1, "src_timer")
        ext = self.input(len(dut.src_ext), "src_ext")
        m.d.comb += [dut.src_ipi.eq(ipi), dut.src_timer.eq(timer), dut.src_ext.eq(ext)]

        # The port decoder passes only legal accesses (as in hdl/tile.py).
        self.assume_legal(m, self.win, req, we, addr)

        # The registers (each readable through the contract).
        enable, in_service = internal(frag, "enable"), internal(frag, "in_service")
        soft = internal(frag, "soft")
        prio = [internal(frag, f"prio{k}") for k in range(n)]
        prio_arr = Array(prio)

        # The specification's own view of the sources. Named signals, not expressions: an
        # expression is emitted again at every use, which swamps the solver at 32 sources.
        pending, cand = Signal(n, name="s_pending"), Signal(n, name="s_cand")
        m.d.comb += [
            pending.eq(Cat(ipi, timer, soft, ext[: n - mm.SOURCE_EXT0])),
            cand.eq(Cat(pending[k] & enable[k] & ~in_service[k] & (prio[k] != 0) for k in range(n))),
        ]

        w = mm.INTC.word
        past = self.past_valid
        p_enable, p_in_service = self.past(m, enable, "enable"), self.past(m, in_service, "in_service")
        p_soft = self.past(m, soft, "soft")
        p_prio = [self.past(m, prio[k], f"prio{k}") for k in range(n)]
        p_req, p_we = self.past(m, req, "req"), self.past(m, we, "we")
        p_addr, p_wdata = self.past(m, addr, "addr"), self.past(m, wdata, "wdata")
        p_rdata = self.past(m, bus.rdata, "rdata")

        def acc(reg, write, index=0):  # last cycle's access to ``reg``
            return p_req & (p_we == write) & (p_addr == w(reg) + index)

        def now(reg, write, index=0):  # this cycle's access to ``reg``
            return req & (we == write) & (addr == w(reg) + index)

        # irq: a combinational function of the registers and the levels.
        self.check(m, "irq", dut.irq == cand.any())

        # CLAIM read: the best candidate, stated as "no candidate beats it".
        claim = bus.rdata
        won = Signal(pb, name="s_won")  # PRIO of the returned source
        m.d.comb += won.eq(prio_arr[claim[:idw]])
        with m.If(now("CLAIM", 0)):
            with m.If(cand == 0):
                self.check(m, "claim-pick", claim == mm.CLAIM_NONE)
            with m.Else():
                self.check(m, "claim-pick", (claim < n) & cand.bit_select(claim[:idw], 1))
                for k in range(n):
                    self.check(m, "claim-pick", ~cand[k] | (prio[k] < won) | ((prio[k] == won) & (claim <= k)))

        # Register reads return the state, zero-extended; every access completes in its cycle.
        self.check(m, "gnt", bus.gnt == req)
        with m.If(now("PENDING", 0)):
            self.check(m, "pending", bus.rdata == _zext32(pending))
        with m.If(now("ENABLE", 0)):
            self.check(m, "enable", bus.rdata == _zext32(enable))
        with m.If(now("INSERVICE", 0)):
            self.check(m, "inservice", bus.rdata == _zext32(in_service))
        for k in range(n):
            with m.If(now("PRIO", 0, k)):
                self.check(m, "prio", bus.rdata == _zext32(prio[k]))

        # Reset values: checked in the first cycle (BMC), vacuous later.
        with m.If(~past):
            self.check(
                m, "reset", (enable == 0) & (in_service == 0) & ~soft & Cat(prio[k] == 0 for k in range(n)).all()
            )

        # Next state, one register at a time: each changes only by its own accesses, so
        # together they also say that an access leaves every other register alone.
        one = Const(1, n)
        done = Signal(name="s_done")  # last cycle's COMPLETE names an in-service source
        m.d.comb += done.eq((p_wdata < n) & p_in_service.bit_select(p_wdata[:idw], 1))
        with m.If(past):
            self.check(m, "enable", enable == Mux(acc("ENABLE", 1), p_wdata[:n], p_enable))
            for k in range(n):
                self.check(m, "prio", prio[k] == Mux(acc("PRIO", 1, k), p_wdata[:pb], p_prio[k]))
            self.check(m, "soft", soft == Mux(acc("SOFT_SET", 1), 1, Mux(acc("SOFT_CLR", 1), 0, p_soft)))
            # CLAIM marks what it returned; CLAIM_NONE marks nothing.
            with m.If(acc("CLAIM", 0)):
                with m.If(p_rdata == mm.CLAIM_NONE):
                    self.check(m, "claim-marks", in_service == p_in_service)
                with m.Else():
                    self.check(
                        m, "claim-marks", (p_rdata < n) & (in_service == (p_in_service | (one << p_rdata[:idw])[:n]))
                    )
            # COMPLETE: the whole written word is the id.
            with m.If(acc("COMPLETE", 1) & done):
                self.check(m, "complete-clears", in_service == (p_in_service & ~(one << p_wdata[:idw])[:n]))
            with m.If(acc("COMPLETE", 1) & ~done):
                self.check(m, "complete-ignored", in_service == p_in_service)
            with m.If(~acc("CLAIM", 0) & ~acc("COMPLETE", 1)):
                self.check(m, "inservice", in_service == p_in_service)

        # Non-vacuity: every trigger above is reachable.
        self.cover(m, dut.irq, "irq raised")
        self.cover(m, ~dut.irq & (pending & enable & in_service).any(), "an enabled pending source held off by service")
        lower = Cat(cand[k] & (claim > k) for k in range(n)).any()
        tied = Cat(cand[k] & (claim < k) & (prio[k] == won) for k in range(n)).any()
        if pb > 1:  # with 1-bit PRIO every candidate ties
            self.cover(m, now("CLAIM", 0) & (claim < n) & lower, "CLAIM: priority beats a lower id")
        self.cover(m, now("CLAIM", 0) & (claim < n) & tied, "CLAIM: a priority tie goes to the lower id")
        self.cover(
            m,
            now("CLAIM", 0) & (claim == mm.CLAIM_NONE) & (pending & enable).any(),
            "CLAIM_NONE with an enabled source pending",
        )
        self.cover(m, past & acc("CLAIM", 0) & (p_rdata < n) & (in_service != p_in_service), "CLAIM marks a source")
        self.cover(m, past & acc("COMPLETE", 1) & done & (in_service != p_in_service), "COMPLETE ends a service")
        self.cover(
            m,
            past & acc("COMPLETE", 1) & (p_wdata[5:] != 0) & _zext32(p_in_service).bit_select(p_wdata[:5], 1),
            "COMPLETE of id >= 32 whose low 5 bits name an in-service source",
        )
        self.cover(m, past & acc("ENABLE", 1) & (enable != p_enable), "ENABLE written")
        self.cover(m, now("ENABLE", 0) & (bus.rdata != 0), "ENABLE read back")
        self.cover(
            m,
            past & Cat(acc("PRIO", 1, k) & (p_wdata[pb:] != 0) & (prio[k] != 0) for k in range(n)).any(),
            "PRIO written with bits to drop",
        )
        self.cover(m, Cat(now("PRIO", 0, k) & (bus.rdata != 0) for k in range(n)).any(), "PRIO read back")
        self.cover(m, past & acc("SOFT_SET", 1) & ~p_soft & soft, "soft source raised")
        self.cover(m, past & acc("SOFT_CLR", 1) & p_soft & ~soft, "soft source lowered")
        self.cover(
            m,
            now("PENDING", 0)
            & bus.rdata[mm.SOURCE_SOFT]
            & (bus.rdata[mm.SOURCE_IPI] if n == mm.SOURCE_EXT0 else bus.rdata[n - 1]),
            "PENDING read with soft and a line high",
        )
        self.cover(m, now("INSERVICE", 0) & (bus.rdata != 0), "INSERVICE read while a source is in service")
        self.cover(
            m,
            past & ~acc("CLAIM", 0) & ~acc("COMPLETE", 1) & p_req & (p_in_service != 0),
            "another access while a source is in service",
        )
        self.cover(m, ~past, "the reset state")
        self.cover(m, req & we, "a write completes")
