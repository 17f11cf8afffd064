"""Formal harness for the round-robin arbiter (hdl/bus.py): SharedBus, and RoundRobinArbiter beside it.

Both use the same ``round_robin`` function; the harness drives a SharedBus (what sits in front
of the MP lock, ROUTE, DEVICE and the RAM) and a RoundRobinArbiter with the same requests, and
proves the second grants exactly as the first.

Fairness is stated with a counter per requester: the grants to others since it began waiting.
A waiting requester keeps its request up until granted (a core holds its bus request until it
is answered, and the decoder keeps ``req`` up while the core does), which the harness assumes.
"""
from amaranth.hdl import Assume, Cat, Fragment, Signal

from hdl.bus import RoundRobinArbiter, SharedBus

from .harness import Harness, internal

__all__ = ["ArbiterHarness"]

_AW = 3      # register offset width: arbitrary, the arbiter only passes it through


def _popcount(value, width):
    total = 0
    for k in range(width):
        total = total + value[k]
    return total


class ArbiterHarness(Harness):
    NAME = "arbiter"
    TITLE = "the round-robin arbiter and shared bus in front of each shared block (hdl/bus.py)"
    PROPERTIES = {
        "one-grant": "at most one grant per cycle, and only to a requester",
        "work-conserving": "whenever some initiator requests, one is granted",
        "fair": "a waiting requester is granted within N-1 grants to others",
        "pass-through": "the target sees exactly the granted initiator's we, addr and wdata, initiator "
                        "names it, and every initiator sees the target's rdata",
        "same-arbiter": "RoundRobinArbiter grants exactly as the SharedBus with the same requests",
        "pointer": "the round-robin pointer (the mask of positions after the last grant) is all ones or "
                   "the positions above one grant, the same in both arbiters",
        "progress": "for a waiting requester, the grants to others plus the positions strictly between "
                    "the last grant and it (in circular order) stay at most N-1",
    }
    INVARIANTS = ("pointer", "progress")
    SIZES = ({"n": 2}, {"n": 3}, {"n": 4}, {"n": 8}, {"n": 16}, {"n": 32})
    QUICK = ({"n": 3},)
    DEPTH = 4
    MUTANTS = ("arbiter-starve",)

    def build(self, m, platform):
        n = self.params["n"]
        bus = SharedBus(n, _AW, mutant=self.mutant)
        frag = Fragment.get(bus, platform)
        m.submodules.bus = frag
        rr = RoundRobinArbiter(n, mutant=self.mutant)
        rr_frag = Fragment.get(rr, platform)
        m.submodules.rr = rr_frag
        after_last = internal(frag, "after_last")

        req = self.input(n, "req")
        we, addr, wdata = self.input(n, "we"), [self.input(_AW, f"addr{i}") for i in range(n)], \
            [self.input(32, f"wdata{i}") for i in range(n)]
        rdata = self.input(32, "rdata")
        for i, ini in enumerate(bus.initiators):
            m.d.comb += [ini.req.eq(req[i]), ini.we.eq(we[i]), ini.addr.eq(addr[i]), ini.wdata.eq(wdata[i])]
        m.d.comb += [bus.target.gnt.eq(bus.target.req), bus.target.rdata.eq(rdata), rr.requests.eq(req)]
        grant = Signal(n, name="grant")
        m.d.comb += grant.eq(Cat(ini.gnt for ini in bus.initiators))

        # A requester not granted keeps asking.
        p_req, p_grant = self.past(m, req, "req"), self.past(m, grant, "grant")
        with m.If(self.past_valid):
            for i in range(n):
                with m.If(p_req[i] & ~p_grant[i]):
                    m.d.comb += Assume(req[i])

        # Grants to others while waiting, per requester (saturating at n).
        waited = [Signal(range(n + 1), name=f"waited{i}") for i in range(n)]
        for i in range(n):
            with m.If(req[i] & ~grant[i]):
                with m.If(grant.any() & (waited[i] < n)):
                    m.d.sync += waited[i].eq(waited[i] + 1)
            with m.Else():
                m.d.sync += waited[i].eq(0)

        self.check(m, "one-grant", ((grant & (grant - 1)[:n]) == 0) & ((grant & ~req) == 0))
        self.check(m, "work-conserving", ~req.any() | grant.any())
        for i in range(n):
            self.check(m, "fair", waited[i] <= n - 1)

        self.check(m, "pass-through", bus.target.req == grant.any())
        for i, ini in enumerate(bus.initiators):
            self.check(m, "pass-through", ini.rdata == rdata)
            with m.If(grant[i]):
                self.check(m, "pass-through", (bus.target.we == we[i]) & (bus.target.addr == addr[i])
                           & (bus.target.wdata == wdata[i]) & (bus.initiator == i))
        self.check(m, "same-arbiter", (rr.grant == grant) & (~grant.any() | (rr.index == bus.initiator)))

        # Invariants: the pointer's shape, and the distance argument behind fairness.
        shapes = [after_last == (1 << n) - 1] + [after_last == ((1 << n) - 1) & ~((1 << (g + 1)) - 1)
                                                 for g in range(n)]
        ok = 0
        for s in shapes:
            ok = ok | s
        self.check(m, "pointer", ok & (internal(rr_frag, "after_last") == after_last))
        for i in range(n):
            below = _popcount(after_last & ((1 << i) - 1), n)
            between = Signal(range(2 * n + 1), name=f"between{i}")
            # Positions strictly between the last grant and i, going round.
            with m.If(after_last[i]):
                m.d.comb += between.eq(below)
            with m.Else():
                m.d.comb += between.eq(_popcount(after_last, n) + i)
            with m.If(req[i] & ~grant[i] | (waited[i] != 0)):
                self.check(m, "progress", waited[i] + between <= n - 1)

        # The longest wait the depth can show: N-1 grants to others (up to DEPTH-1 of them).
        longest = min(n - 1, self.DEPTH - 1)
        self.cover(m, (waited[n - 1] == longest) & grant[n - 1], "the last requester granted after the longest "
                   "wait the depth shows")
        self.cover(m, self.past_valid & req.all() & p_req.all(), "every initiator requesting, two cycles running")
        self.cover(m, self.past_valid & (p_grant != 0) & (grant != 0) & (grant != p_grant), "two grants in a row "
                   "to different initiators")
        self.cover(m, ~req.any(), "an idle cycle")
        for i in range(n):
            self.cover(m, grant[i] & we[i], f"a write of initiator {i} passed through")
