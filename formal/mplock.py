"""Formal harness for hdl/mplock.py: free bus inputs, protocol assumptions, contract assertions.

The MP lock sits behind SharedBus (hdl/bus.py): the round-robin arbiter passes at most one
access per cycle, so "simultaneous TRYs" never reach the block together. Property (b) is
therefore proven at the block's real interface: a TRY on a free lock wins and makes the
requester owner, and any TRY on a lock held by another CPU (e.g. the one the arbiter serialised
after it) returns 0.
"""
import inspect

from amaranth.hdl import Module, Signal, Mux, ResetSignal, Elaboratable, Fragment, Assert, Assume, Cover

from hdl import memory_map as mm
from hdl.config import SocConfig
from hdl.mplock import MpLock

__all__ = ["MpLockHarness", "GROUPS"]

GROUPS = ("one-owner", "try-free-wins", "try-owner-noop", "try-other-fails", "release",
          "bust", "acquires", "failed-tries", "err-w1c", "reads", "no-access")


def _internal(frag, name):
    """The signal named ``name`` driven inside the block's fragment (a local of elaborate())."""
    for stmts in frag.statements.values():
        for s in stmts:
            for sig in s._lhs_signals():
                if sig.name == name:
                    return sig
    raise LookupError(name)


class MpLockHarness(Elaboratable):
    def __init__(self, ncpu, mutant=""):
        self.ncpu, self.mutant = ncpu, mutant
        cfg = SocConfig(ncpu=max(ncpu, 2))
        self.win = next(w for w in mm.windows(cfg, 0) if w.block is mm.MPLOCK)
        self.dut = MpLock(ncpu, self.win.span_log2, mutant=mutant)
        aw = len(self.dut.bus.addr)
        # Free inputs: the solver picks them every cycle.
        self.req, self.we = Signal(name="f_req"), Signal(name="f_we")
        self.addr, self.wdata = Signal(aw, name="f_addr"), Signal(32, name="f_wdata")
        self.initiator = Signal(len(self.dut.initiator), name="f_initiator")
        self.groups = {}   # source line of an Assert -> property group

    def ports(self):
        return [self.req, self.we, self.addr, self.wdata, self.initiator]

    def _check(self, m, group, cond):
        line = inspect.stack()[1].lineno
        self.groups[line] = group
        m.d.comb += Assert(cond, src_loc_at=1)

    def elaborate(self, platform):
        m = Module()
        n, dut, w = self.ncpu, self.dut, mm.MPLOCK.word
        frag = Fragment.get(dut, platform)
        m.submodules.dut = frag
        acq, failed = _internal(frag, "acquires"), _internal(frag, "failed_tries")
        err = _internal(frag, "err_nonowner")
        bus = dut.bus
        m.d.comb += [bus.req.eq(self.req), bus.we.eq(self.we), bus.addr.eq(self.addr),
                     bus.wdata.eq(self.wdata), dut.initiator.eq(self.initiator)]

        # Bus protocol, as the decoder and SharedBus guarantee: a granted access is legal
        # (offset readable for a read, writable for a write) and comes from a real CPU.
        ok = 0
        for off in range(1 << len(self.addr)):
            if self.win.legal(off, False):
                ok = ok | (~self.we & (self.addr == off))
            if self.win.legal(off, True):
                ok = ok | (self.we & (self.addr == off))
        m.d.comb += Assume(~ResetSignal())   # reset is not exercised: registers start at init
        with m.If(self.req):
            m.d.comb += [Assume(ok), Assume(self.initiator < n)]

        # Previous-cycle copies (Amaranth has no Past()).
        past = Signal(name="past_valid")
        p_held, p_owner = Signal(name="p_held"), Signal.like(dut.owner, name="p_owner")
        p_acq, p_failed, p_err = Signal(32, name="p_acq"), Signal(32, name="p_failed"), Signal(name="p_err")
        p_req, p_we = Signal(name="p_req"), Signal(name="p_we")
        p_addr, p_wdata = Signal.like(self.addr, name="p_addr"), Signal(32, name="p_wdata")
        p_init, p_rdata = Signal.like(self.initiator, name="p_init"), Signal(32, name="p_rdata")
        m.d.sync += [past.eq(1), p_held.eq(dut.held), p_owner.eq(dut.owner), p_acq.eq(acq),
                     p_failed.eq(failed), p_err.eq(err), p_req.eq(self.req), p_we.eq(self.we),
                     p_addr.eq(self.addr), p_wdata.eq(self.wdata), p_init.eq(self.initiator),
                     p_rdata.eq(bus.rdata)]

        held, owner = dut.held, dut.owner
        p_mine = p_held & (p_owner == p_init)
        acc = lambda reg, write: p_req & (p_we == write) & (p_addr == w(reg))
        same_lock = (held == p_held) & (~held | (owner == p_owner))
        same_cnt = (acq == p_acq) & (failed == p_failed)

        # (a) one owner: the owner is a real CPU, and a TRY on a held lock wins only for it.
        self._check(m, "one-owner", ~held | (owner < n))
        with m.If(self.req & ~self.we & (self.addr == w("TRY")) & held & (self.initiator != owner)):
            self._check(m, "one-owner", bus.rdata == 0)

        with m.If(past):
            # (b) TRY on a free lock: returns 1, requester owns it, ACQUIRES+1, nothing else.
            with m.If(acc("TRY", 0) & ~p_held):
                self._check(m, "try-free-wins", (p_rdata == 1) & held & (owner == p_init)
                            & (acq == (p_acq + 1)[:32]) & (failed == p_failed) & (err == p_err))
            # (c) TRY by the owner: returns 1, changes nothing.
            with m.If(acc("TRY", 0) & p_mine):
                self._check(m, "try-owner-noop", (p_rdata == 1) & same_lock & same_cnt & (err == p_err))
            # TRY on a lock held by another CPU: returns 0, only FAILED_TRIES+1.
            with m.If(acc("TRY", 0) & p_held & ~p_mine):
                self._check(m, "try-other-fails", (p_rdata == 0) & same_lock & (acq == p_acq)
                            & (failed == (p_failed + 1)[:32]) & (err == p_err))
            # (d) RELEASE: by the owner frees; by a non-owner / of a free lock changes only ERR.
            with m.If(acc("RELEASE", 1) & p_mine):
                self._check(m, "release", ~held & same_cnt & (err == p_err))
            with m.If(acc("RELEASE", 1) & ~p_mine):
                self._check(m, "release", same_lock & same_cnt & err)
            # (e) BUST frees, changes nothing else.
            with m.If(acc("BUST", 1)):
                self._check(m, "bust", ~held & same_cnt & (err == p_err))
            # (f) ACQUIRES increments exactly on free->owned transitions.
            self._check(m, "acquires", acq == (p_acq + (~p_held & held))[:32])  # 32-bit wrap
            # FAILED_TRIES counts TRY reads that returned 0.
            self._check(m, "failed-tries", failed == (p_failed + (acc("TRY", 0) & (p_rdata == 0)))[:32])
            # ERR is write-1-to-clear and touches nothing else.
            with m.If(acc("ERR", 1)):
                self._check(m, "err-w1c", (err == (p_err & ~p_wdata[0])) & same_lock & same_cnt)
            # Reads other than TRY, and idle cycles, change nothing.
            with m.If((p_req & ~p_we & (p_addr != w("TRY"))) | ~p_req):
                self._check(m, "no-access", same_lock & same_cnt & (err == p_err))

        # Reads return the state; the block completes every access in its cycle.
        self._check(m, "reads", bus.gnt == bus.req)
        with m.If(self.req & ~self.we):
            with m.Switch(self.addr):
                with m.Case(w("OWNER")):
                    self._check(m, "reads", bus.rdata == Mux(held, owner, mm.OWNER_FREE))
                with m.Case(w("ERR")):
                    self._check(m, "reads", bus.rdata == err)
                with m.Case(w("ACQUIRES")):
                    self._check(m, "reads", bus.rdata == acq)
                with m.Case(w("FAILED_TRIES")):
                    self._check(m, "reads", bus.rdata == failed)

        # Non-vacuity: each interesting event is reachable.
        covers = [
            Cover(past & acc("TRY", 0) & ~p_held & held),                 # an acquire
            Cover(past & acc("RELEASE", 1) & p_mine & ~held),             # a release by the owner
            Cover(past & acc("BUST", 1) & p_held & ~held),                # a bust of a held lock
            Cover(past & acc("TRY", 0) & (p_rdata == 0)),                 # a failed TRY
            Cover(past & acc("RELEASE", 1) & ~p_mine & err & ~p_err),     # a non-owner RELEASE
            Cover(past & acc("ERR", 1) & p_err & ~err),                   # ERR cleared
        ]
        self.ncovers = len(covers)
        m.d.comb += covers
        return m
