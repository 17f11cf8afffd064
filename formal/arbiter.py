"""Formal harness for hdl/bus.py: the round-robin arbiter and the SharedBus built on it.

One free request vector drives both a bare RoundRobinArbiter and the initiators of a SharedBus
(whose initiators' we/addr/wdata and target read data are free too). The arbitration properties
are proven on the RoundRobinArbiter; ``bus-grant`` proves that the SharedBus grants exactly the
same initiator for the same requests in every cycle, so they hold for it as well. (Checking two
independent copies instead makes z3's induction ten times slower at 32 requesters.)

Fairness is stated with one counter per requester: the grants to others while it waits (it
requests and is not granted). The counter restarts whenever the requester is granted or drops
its request, so no assumption on the requesters is needed: the tile decoder holds a request
until it is answered, and a request it drops (stall) starts a new wait. The claim: the counter
never passes n-1, and a requester whose counter reached n-1 is granted now. As someone is
granted in every cycle someone requests (some-grant), the count is also the cycles waited: a
held request is granted at the latest in its n-th cycle, the bound the tile decoder relies on.

Induction needs the arbiter's state: ``after_last`` (requesters strictly after the last grant)
is always an upper mask (bits q..n-1; q = 0 before the first grant, else one past the last
grant). Let d(i) be the number of requesters strictly between the last grant and i in circular
order; a grant to another while i waits goes to one of those and moves the pointer past it, so
d(i) drops by at least one per grant to another and cnt(i) + d(i) <= n-1 is inductive.
"""

from amaranth.hdl import Cat, Const, Fragment, Mux, Signal

from hdl import memory_map as mm
from hdl.bus import RoundRobinArbiter, SharedBus
from hdl.config import SocConfig

from .harness import Harness, internal

__all__ = ["ArbiterHarness"]


class ArbiterHarness(Harness):
    NAME = "arbiter"
    TITLE = "the round-robin arbiter and SharedBus (hdl/bus.py)"
    PROPERTIES = {
        "one-grant": "at most one grant per cycle",
        "grant-requester": "a grant goes only to a requester",
        "some-grant": "someone is granted whenever someone requests",
        "index": "the arbiter's index names the granted requester",
        "fair": "a waiting requester is granted within n-1 grants to others",
        "bus-grant": "SharedBus grants as the round-robin arbiter does: each initiator's gnt is its "
        "grant bit and ``initiator`` names the granted one",
        "bus-forward": "the target sees exactly the granted initiator's access (req, we, addr, wdata)",
        "bus-rdata": "every initiator sees the target's read data",
        "rr-mask": "after_last is an upper mask: its set bits are those from some position up",
        "rr-wait": "for each requester, the grants to others while it waits plus the requesters "
        "strictly between the last grant and it (circularly) are at most n-1",
        "bus-state": "SharedBus's after_last equals the arbiter's",
    }
    # rr-mask is not needed by induction (rr-wait at a zero count already implies it), but it is
    # the shape of after_last that the rr-wait formula reads, so it is stated and proven too.
    INVARIANTS = ("rr-wait", "bus-state")
    SIZES = ({"ncpu": 2}, {"ncpu": 3}, {"ncpu": 4}, {"ncpu": 8}, {"ncpu": 16}, {"ncpu": 32})
    QUICK = ({"ncpu": 2}, {"ncpu": 3})
    DEPTH = 4  # enough to show a full n-1 wait up to n = 4; induction closes at 1
    MUTANTS = ("arbiter-starve",)

    def build(self, m, platform):
        n = self.params["ncpu"]
        cfg = SocConfig(ncpu=n)
        # The widest address of an arbitrated block (the shared RAM's window).
        aw = max(w.span_log2 for w in mm.windows(cfg, 0) if w.block.arbitrated)
        req = self.input(n, "req")

        rr = RoundRobinArbiter(n, mutant=self.mutant)
        rr_frag = Fragment.get(rr, platform)
        m.submodules.rr = rr_frag
        m.d.comb += rr.requests.eq(req)
        grant, index, after = rr.grant, rr.index, internal(rr_frag, "after_last")

        sb = SharedBus(n, aw, mutant=self.mutant)
        sb_frag = Fragment.get(sb, platform)
        m.submodules.bus = sb_frag
        ini, t = sb.initiators, sb.target
        we = self.input(n, "we")
        addr = [self.input(aw, f"addr{k}") for k in range(n)]
        wdata = [self.input(32, f"wdata{k}") for k in range(n)]
        rdata = self.input(32, "target_rdata")
        for k in range(n):
            m.d.comb += [ini[k].req.eq(req[k]), ini[k].we.eq(we[k]), ini[k].addr.eq(addr[k]), ini[k].wdata.eq(wdata[k])]
        # target.gnt is an input SharedBus does not use; the blocks behind it answer at once.
        m.d.comb += [t.rdata.eq(rdata), t.gnt.eq(t.req)]
        gnt = Signal(n, name="s_bus_gnt")
        m.d.comb += gnt.eq(Cat(ini[k].gnt for k in range(n)))

        # Arbitration, combinationally in each cycle.
        self.check(m, "one-grant", (grant & (grant - 1)[:n]) == 0)
        self.check(m, "grant-requester", (grant & ~req) == 0)
        self.check(m, "some-grant", grant.any() == req.any())
        with m.If(grant.any()):
            self.check(m, "index", (index < n) & grant.bit_select(index, 1))

        # after_last: bit k set implies bit k+1 set; q counts its clear (low) bits.
        self.check(m, "rr-mask", (after[: n - 1] & ~after[1:]) == 0)
        q = Signal(range(n + 1), name="rr_q")
        m.d.comb += q.eq(sum((~after[k] for k in range(n)), Const(0, 1)))

        # Per requester: grants to others while it waits (saturating at n, "more than n-1").
        wait = min(n - 1, self.DEPTH - 1)  # the longest wait a cover can show within DEPTH
        waited = []
        for i in range(n):
            cnt = Signal(range(n + 1), name=f"cnt{i}")
            m.d.sync += cnt.eq(Mux(req[i] & ~grant[i], Mux(cnt == n, n, cnt + grant.any()), 0))
            self.check(m, "fair", cnt <= n - 1)
            with m.If(req[i] & (cnt == n - 1)):
                self.check(m, "fair", grant[i])
            # cnt + d(i) <= n-1 where d(i) = i - q if after_last[i], else n - q + i (kept unsigned).
            self.check(m, "rr-wait", Mux(after[i], cnt + i <= q + n - 1, cnt + i + 1 <= q))
            waited.append(grant[i] & (cnt == wait))

        # SharedBus: the same grants, the granted access forwarded, read data to everyone.
        self.check(m, "bus-state", internal(sb_frag, "after_last") == after)
        self.check(m, "bus-grant", gnt == grant)
        with m.If(grant.any()):
            self.check(m, "bus-grant", sb.initiator == index)
        self.check(m, "bus-forward", t.req == gnt.any())
        for k in range(n):
            with m.If(gnt[k]):
                self.check(m, "bus-forward", (t.we == we[k]) & (t.addr == addr[k]) & (t.wdata == wdata[k]))
            self.check(m, "bus-rdata", ini[k].rdata == rdata)

        # Non-vacuity.
        self.cover(m, (req & (req - 1)[:n]) != 0, "two requesters at once")
        self.cover(m, Cat(grant[k] & req[:k].any() for k in range(1, n)).any(), "a grant passes over a lower requester")
        self.cover(m, grant[n - 1] & (index == n - 1), "the last requester granted")
        self.cover(m, Cat(waited).any(), f"a requester granted after {wait} grants to others")
        self.cover(m, (after != (1 << n) - 1) & (after != 0), "after_last moved off the start")
        self.cover(
            m,
            Cat(req[i] & ~grant[i] & ~after[i] for i in range(n)).any(),
            "a requester at or before the last grant waits (the wrap-around)",
        )
        self.cover(
            m, gnt[n - 1] & req[0] & t.we & (t.wdata != 0), "the last initiator's write passes while the first waits"
        )
        self.cover(m, t.req & ~t.we & (ini[0].rdata != 0), "a granted read returns data")
