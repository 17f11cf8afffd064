"""Formal harness for hdl/timer.py: one CPU's compare timer against its register contract.

The cycle counter is an input of the block; in the SoC (hdl/soc.py) it is one free-running
64-bit register, so the harness lets the solver pick its first value and then assumes it
counts up by one per cycle, wrapping at 2**64. The timer's whole state (COMPARE, PERIOD,
ENABLE, ARMED, PENDING) is visible through CTRL and the other registers, so every property is
an exact one-cycle next-state rule and k-induction closes with no extra invariant.
"""

from amaranth.hdl import Cat, Fragment, Mux

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.timer import Timer

from .harness import Harness, internal

__all__ = ["TimerHarness"]


class TimerHarness(Harness):
    NAME = "timer"
    TITLE = "one CPU's timer (hdl/timer.py): COMPARE/PERIOD/CTRL/ACK, firing, auto-reload"
    PROPERTIES = {
        "reads": "COMPARE_LO, COMPARE_HI, PERIOD and CTRL (ENABLE, ARMED, PENDING) read the state; "
        "every access completes in its cycle",
        "reset": "out of reset COMPARE is all ones, PERIOD is 0, and the timer is disabled, unarmed, not pending",
        "compare": "a write to COMPARE_LO/HI replaces that word only; a periodic firing that no COMPARE/CTRL "
        "write re-arms adds PERIOD (64-bit wrap); nothing else changes COMPARE",
        "period": "PERIOD changes only by a write to it, to the written word",
        "enable": "CTRL.ENABLE changes only by a CTRL write, to the written ENABLE bit",
        "armed": "a COMPARE_LO/HI or CTRL write arms the timer; a one-shot firing (PERIOD 0) without such a "
        "write disarms it; a periodic firing keeps it armed; nothing else changes ARMED",
        "fire": "when enabled, armed and CYCLE >= COMPARE the timer fires: PENDING is set next cycle, even "
        "with an ACK written in the same cycle; PENDING rises only by a firing",
        "ack": "an ACK write in a cycle without a firing clears PENDING; without an ACK PENDING holds",
    }
    # The timer has no parameter of its own: its window and logic are the same in every SocConfig.
    # It is proven in the default 4-CPU SoC; any valid ncpu gives the same block.
    SIZES = ({"ncpu": 4},)
    QUICK = ({"ncpu": 4},)
    DEPTH = 4  # covers: PERIOD write, CTRL write (arms), the firing, its effect
    MUTANTS = ("timer-no-rearm", "timer-ack-beats-fire")

    def build(self, m, platform):
        self.win = next(w for w in mm.windows(SocConfig(ncpu=self.params["ncpu"]), 0) if w.block is mm.TIMER)
        dut = Timer(self.win.span_log2, mutant=self.mutant)
        bus = dut.bus
        req, we, addr, wdata = self.drive_bus(m, bus)
        cycle = self.cycle_counter(m)  # the SoC's counter: any start value, then +1 per cycle
        frag = Fragment.get(dut, platform)
        m.submodules.dut = frag
        m.d.comb += [dut.cycle.eq(cycle)]
        compare, period = internal(frag, "compare"), internal(frag, "period")
        enable, armed, pending = internal(frag, "enable"), internal(frag, "armed"), dut.pending

        # The port decoder passes only legal accesses (its own proof covers the rest).
        self.assume_legal(m, self.win, req, we, addr)

        w = mm.TIMER.word
        ctrl = mm.TIMER.register("CTRL")
        fire = enable & armed & (cycle >= compare)  # the contract's firing condition

        past = self.past_valid
        p_compare, p_period = self.past(m, compare, "compare"), self.past(m, period, "period")
        p_enable, p_armed = self.past(m, enable, "enable"), self.past(m, armed, "armed")
        p_pending, p_fire = self.past(m, pending, "pending"), self.past(m, fire, "fire")
        p_req, p_we = self.past(m, req, "req"), self.past(m, we, "we")
        p_addr, p_wdata = self.past(m, addr, "addr"), self.past(m, wdata, "wdata")

        def wrote(reg):
            return p_req & p_we & (p_addr == w(reg))

        rearm = wrote("COMPARE_LO") | wrote("COMPARE_HI") | wrote("CTRL")
        periodic = p_fire & (p_period != 0) & ~rearm

        with m.If(~past):
            self.check(m, "reset", (compare == (1 << 64) - 1) & (period == 0) & ~enable & ~armed & ~pending)

        with m.If(past):
            with m.If(wrote("COMPARE_LO")):
                self.check(m, "compare", compare == Cat(p_wdata, p_compare[32:]))
            with m.Elif(wrote("COMPARE_HI")):
                self.check(m, "compare", compare == Cat(p_compare[:32], p_wdata))
            with m.Elif(periodic):
                self.check(m, "compare", compare == (p_compare + p_period)[:64])
            with m.Else():
                self.check(m, "compare", compare == p_compare)

            self.check(m, "period", period == Mux(wrote("PERIOD"), p_wdata, p_period))
            self.check(m, "enable", enable == Mux(wrote("CTRL"), p_wdata[ctrl.field("ENABLE").lsb], p_enable))

            with m.If(rearm):
                self.check(m, "armed", armed)
            with m.Elif(p_fire & (p_period == 0)):
                self.check(m, "armed", ~armed)
            with m.Else():
                self.check(m, "armed", armed == p_armed)

            with m.If(p_fire):
                self.check(m, "fire", pending)
            with m.If(~p_pending & pending):
                self.check(m, "fire", p_fire)
            with m.If(wrote("ACK") & ~p_fire):
                self.check(m, "ack", ~pending)
            with m.If(~wrote("ACK") & p_pending):
                self.check(m, "ack", pending)

        # Register reads.
        self.check(m, "reads", bus.gnt == bus.req)
        with m.If(req & ~we):
            with m.Switch(addr):
                with m.Case(w("COMPARE_LO")):
                    self.check(m, "reads", bus.rdata == compare[:32])
                with m.Case(w("COMPARE_HI")):
                    self.check(m, "reads", bus.rdata == compare[32:])
                with m.Case(w("PERIOD")):
                    self.check(m, "reads", bus.rdata == period)
                with m.Case(w("CTRL")):

                    def bit(name, v):
                        return v.as_unsigned() << ctrl.field(name).lsb

                    expect = bit("ENABLE", enable) | bit("ARMED", armed) | bit("PENDING", pending)
                    self.check(m, "reads", bus.rdata == expect)  # reserved bits read 0

        # Non-vacuity.
        self.cover(m, past & periodic & (compare != p_compare) & armed, "a periodic firing advances COMPARE")
        self.cover(m, past & p_fire & (p_period == 0) & ~rearm & ~armed, "a one-shot firing disarms")
        self.cover(m, past & p_fire & wrote("ACK") & pending, "a firing wins over an ACK in its cycle")
        self.cover(m, past & ~p_fire & wrote("ACK") & p_pending & ~pending, "an ACK clears PENDING")
        self.cover(
            m,
            past & p_fire & rearm & (p_period != 0) & (compare != (p_compare + p_period)[:64]),
            "a write in the firing cycle re-arms instead of advancing",
        )
        self.cover(m, past & ~p_armed & armed, "a write arms the timer")
        self.cover(m, past & wrote("PERIOD") & (period != p_period), "PERIOD written")
        self.cover(m, past & wrote("CTRL") & p_enable & ~enable, "the timer disabled")
        self.cover(m, req & ~we & (addr == w("CTRL")) & (bus.rdata == 0b111), "CTRL reads enabled, armed, pending")
