"""Formal harness for hdl/mplock.py: free bus inputs, protocol assumptions, contract assertions.

The MP lock sits behind SharedBus (hdl/bus.py): the round-robin arbiter passes at most one
access per cycle, so "simultaneous TRYs" never reach the block together. Property (b) is
therefore proven at the block's real interface: a TRY on a free lock wins and makes the
requester owner, and any TRY on a lock held by another CPU (e.g. the one the arbiter serialised
after it) returns 0.
"""

from amaranth.hdl import Mux, Fragment, Assume

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.mplock import MpLock

from .harness import Harness, internal

__all__ = ["MpLockHarness"]


class MpLockHarness(Harness):
    NAME = "mplock"
    TITLE = "the MP lock register (hdl/mplock.py) behind its arbiter"
    PROPERTIES = {
        "one-owner": "at most one owner: the owner is a real CPU, and a TRY on a held lock returns 1 only to it",
        "try-free-wins": "a TRY on a free lock returns 1, makes the requester owner and counts one ACQUIRE",
        "try-owner-noop": "a TRY by the owner returns 1 and changes nothing",
        "try-other-fails": "a TRY on a lock held by another CPU returns 0 and counts one FAILED_TRY",
        "release": "RELEASE by the owner frees the lock; by a non-owner or of a free lock it changes only ERR",
        "bust": "BUST Q frees a held lock exactly when its owner has been quiet for Q cycles or more (Q = 0: "
        "always), counts it in BUSTS, and changes nothing else",
        "quiet": "OWNER_QUIET is 0 while the lock is free and at each cycle after the owner had a request up; "
        "otherwise it counts the owner's cycles without one, saturating",
        "busts": "BUSTS counts exactly the BUST writes that freed the lock",
        "acquires": "ACQUIRES counts exactly the free-to-owned transitions",
        "failed-tries": "FAILED_TRIES counts exactly the TRY reads that returned 0",
        "err-w1c": "ERR.NONOWNER is cleared only by writing 1 to it",
        "reads": "OWNER, ERR, ACQUIRES, FAILED_TRIES, OWNER_QUIET and BUSTS read the state; every access "
        "completes in its cycle",
        "no-access": "idle cycles and reads other than TRY change nothing but OWNER_QUIET",
    }
    SIZES = ({"ncpu": 2}, {"ncpu": 3}, {"ncpu": 4})
    QUICK = ({"ncpu": 2},)
    DEPTH = 8
    MUTANTS = ("mplock-two-winners", "mplock-release-any", "mplock-err-clear-any")

    def build(self, m, platform):
        n = self.ncpu = self.params["ncpu"]
        cfg = SocConfig(ncpu=max(n, 2))
        self.win = next(w for w in mm.windows(cfg, 0) if w.block is mm.MPLOCK)
        dut = MpLock(n, self.win.span_log2, mutant=self.mutant)
        aw = len(dut.bus.addr)
        # Free inputs: the solver picks them every cycle.
        self.req, self.we = self.input(1, "req"), self.input(1, "we")
        self.addr, self.wdata = self.input(aw, "addr"), self.input(32, "wdata")
        self.initiator = self.input(len(dut.initiator), "initiator")
        self.active = self.input(len(dut.active), "active")
        w = mm.MPLOCK.word
        frag = Fragment.get(dut, platform)
        m.submodules.dut = frag
        acq, failed = internal(frag, "acquires"), internal(frag, "failed_tries")
        err = internal(frag, "err_nonowner")
        quiet, busts = internal(frag, "quiet"), internal(frag, "busts")
        bus = dut.bus
        m.d.comb += [
            bus.req.eq(self.req),
            bus.we.eq(self.we),
            bus.addr.eq(self.addr),
            bus.wdata.eq(self.wdata),
            dut.initiator.eq(self.initiator),
            dut.active.eq(self.active),
        ]

        # Bus protocol, as the decoder and SharedBus guarantee: a granted access is legal
        # (offset readable for a read, writable for a write) and comes from a real CPU.
        self.assume_legal(m, self.win, self.req, self.we, self.addr)
        with m.If(self.req):
            m.d.comb += Assume(self.initiator < n)

        # Previous-cycle copies (Amaranth has no Past()).
        past = self.past_valid
        p_held, p_owner = self.past(m, dut.held, "held"), self.past(m, dut.owner, "owner")
        p_acq, p_failed, p_err = self.past(m, acq, "acq"), self.past(m, failed, "failed"), self.past(m, err, "err")
        p_req, p_we = self.past(m, self.req, "req"), self.past(m, self.we, "we")
        p_addr, p_wdata = self.past(m, self.addr, "addr"), self.past(m, self.wdata, "wdata")
        p_init, p_rdata = self.past(m, self.initiator, "init"), self.past(m, bus.rdata, "rdata")
        p_quiet, p_busts = self.past(m, quiet, "quiet"), self.past(m, busts, "busts")
        p_owner_active = self.past(m, self.active.bit_select(dut.owner, 1), "owner_active")

        held, owner = dut.held, dut.owner
        p_mine = p_held & (p_owner == p_init)

        def acc(reg, write):
            return p_req & (p_we == write) & (p_addr == w(reg))

        same_lock = (held == p_held) & (~held | (owner == p_owner))
        same_cnt = (acq == p_acq) & (failed == p_failed)

        # (a) one owner: the owner is a real CPU, and a TRY on a held lock wins only for it.
        self.check(m, "one-owner", ~held | (owner < n))
        with m.If(self.req & ~self.we & (self.addr == w("TRY")) & held & (self.initiator != owner)):
            self.check(m, "one-owner", bus.rdata == 0)

        with m.If(past):
            # (b) TRY on a free lock: returns 1, requester owns it, ACQUIRES+1, nothing else.
            with m.If(acc("TRY", 0) & ~p_held):
                self.check(
                    m,
                    "try-free-wins",
                    (p_rdata == 1)
                    & held
                    & (owner == p_init)
                    & (acq == (p_acq + 1)[:32])
                    & (failed == p_failed)
                    & (err == p_err),
                )
            # (c) TRY by the owner: returns 1, changes nothing.
            with m.If(acc("TRY", 0) & p_mine):
                self.check(m, "try-owner-noop", (p_rdata == 1) & same_lock & same_cnt & (err == p_err))
            # TRY on a lock held by another CPU: returns 0, only FAILED_TRIES+1.
            with m.If(acc("TRY", 0) & p_held & ~p_mine):
                self.check(
                    m,
                    "try-other-fails",
                    (p_rdata == 0) & same_lock & (acq == p_acq) & (failed == (p_failed + 1)[:32]) & (err == p_err),
                )
            # (d) RELEASE: by the owner frees; by a non-owner / of a free lock changes only ERR.
            with m.If(acc("RELEASE", 1) & p_mine):
                self.check(m, "release", ~held & same_cnt & (err == p_err))
            with m.If(acc("RELEASE", 1) & ~p_mine):
                self.check(m, "release", same_lock & same_cnt & err)
            # (e) BUST frees a held lock whose owner was quiet long enough, changes nothing else.
            with m.If(acc("BUST", 1) & p_held & (p_quiet >= p_wdata)):
                self.check(m, "bust", ~held & same_cnt & (err == p_err) & (busts == (p_busts + 1)[:32]))
            with m.If(acc("BUST", 1) & ~(p_held & (p_quiet >= p_wdata))):
                self.check(m, "bust", same_lock & same_cnt & (err == p_err) & (busts == p_busts))
            # The owner's quiet count.
            self.check(
                m,
                "quiet",
                quiet == Mux(~p_held | p_owner_active, 0, Mux(p_quiet == 0xFFFF_FFFF, p_quiet, (p_quiet + 1)[:32])),
            )
            self.check(m, "busts", busts == (p_busts + (acc("BUST", 1) & p_held & ~held))[:32])
            # (f) ACQUIRES increments exactly on free->owned transitions.
            self.check(m, "acquires", acq == (p_acq + (~p_held & held))[:32])  # 32-bit wrap
            # FAILED_TRIES counts TRY reads that returned 0.
            self.check(m, "failed-tries", failed == (p_failed + (acc("TRY", 0) & (p_rdata == 0)))[:32])
            # ERR is write-1-to-clear and touches nothing else.
            with m.If(acc("ERR", 1)):
                self.check(m, "err-w1c", (err == (p_err & ~p_wdata[0])) & same_lock & same_cnt)
            # Reads other than TRY, and idle cycles, change nothing.
            with m.If((p_req & ~p_we & (p_addr != w("TRY"))) | ~p_req):
                self.check(m, "no-access", same_lock & same_cnt & (err == p_err) & (busts == p_busts))

        # Reads return the state; the block completes every access in its cycle.
        self.check(m, "reads", bus.gnt == bus.req)
        with m.If(self.req & ~self.we):
            with m.Switch(self.addr):
                with m.Case(w("OWNER")):
                    self.check(m, "reads", bus.rdata == Mux(held, owner, mm.OWNER_FREE))
                with m.Case(w("ERR")):
                    self.check(m, "reads", bus.rdata == err)
                with m.Case(w("ACQUIRES")):
                    self.check(m, "reads", bus.rdata == acq)
                with m.Case(w("FAILED_TRIES")):
                    self.check(m, "reads", bus.rdata == failed)
                with m.Case(w("OWNER_QUIET")):
                    self.check(m, "reads", bus.rdata == quiet)
                with m.Case(w("BUSTS")):
                    self.check(m, "reads", bus.rdata == busts)

        # Non-vacuity: each interesting event is reachable.
        self.cover(m, past & acc("TRY", 0) & ~p_held & held, "an acquire")
        self.cover(m, past & acc("RELEASE", 1) & p_mine & ~held, "a release by the owner")
        self.cover(m, past & acc("BUST", 1) & p_held & ~held & (p_wdata != 0), "a bust of a quiet owner")
        self.cover(m, past & acc("BUST", 1) & p_held & held, "a BUST refused: the owner was not quiet long enough")
        self.cover(m, past & acc("TRY", 0) & (p_rdata == 0), "a failed TRY")
        self.cover(m, past & acc("RELEASE", 1) & ~p_mine & err & ~p_err, "a RELEASE by a non-owner")
        self.cover(m, past & acc("ERR", 1) & p_err & ~err, "ERR cleared")
